"""``newsmon eval``: topic and entity quality, or story clustering, on a labelled corpus.

    newsmon eval tests/fixtures/eval/corpus.jsonl [--json]
    newsmon eval --stories tests/fixtures/stories/corpus.jsonl [--json]
    newsmon eval --spikes [--seeds report|tune] [--json]

Tags each article of a JSONL corpus (title, text, topics, entities) with the
steps ``newsmon tag`` runs and prints per-topic precision, recall and F1,
their macro average, key-entity recall, and every miss and false hit with the
sentences that caused it (transforms/evaluation.py).

With ``--stories`` it clusters a story corpus (title, text, url, source,
published, story, split) with the story assignment the pipeline runs, split
by split, in Redis under a throwaway prefix (pipeline/story_eval.py), and
prints pairwise and B-cubed precision, recall and F1, the near-duplicate
figures and every story split apart or merged, with a TF-IDF-cosine baseline
beside it whose threshold is tuned on the ``tune`` split only
(transforms/story_evaluation.py).

With ``--spikes`` it generates background series (daily and weekly rhythm,
over-dispersed counts; sparse, quiet and busy), injects bursts of known size,
length and start, runs surge detection as it runs live and prints recall by
burst size and length, median detection delay and false alarms per 1,000
series-days (transforms/spike_evaluation.py). Settings were tuned on the
``tune`` seeds; the default ``report`` seeds were not looked at while tuning.
"""

import json
import sys

from pipeline.commands.progress import progress
from pipeline.errors import EXIT_INPUTS_FAILED, EXIT_OK, UsageError
from pipeline.options import add_common_arguments, add_redis_arguments, connect_redis
from transforms.topics import load_taxonomy

__all__ = ["add_parser"]


def run(args, beam_args):
    if args.spikes:
        if args.stories or args.corpus:
            raise UsageError("--spikes measures surge detection on generated series; it takes no corpus")
        return run_spikes(args)
    if args.stories and args.corpus:
        raise UsageError("give either a topic corpus or --stories CORPUS, not both")
    if args.stories:
        return run_stories(args)
    if not args.corpus:
        raise UsageError("which corpus? newsmon eval CORPUS.jsonl, or newsmon eval --stories CORPUS.jsonl")
    from pipeline.tag import tag_articles
    from transforms.evaluation import evaluate, format_report, load_corpus

    taxonomy = load_taxonomy(args.topics)
    corpus = [a for a in load_corpus(args.corpus)
              if all(str(a.get(field, "")) == value for field, value in args.where)]
    if not corpus:
        raise UsageError(f"no article of {args.corpus} has {' and '.join(f'{f}={v}' for f, v in args.where)}")
    raw = (({"id": a["id"], "title": a["title"], "text": a["text"], "origin": a["id"]}, None) for a in corpus)
    tagged, failures = [], 0
    tagging = tag_articles(raw, taxonomy, model=args.model, aliases_path=args.aliases, places_path=args.places)
    for article, failed in progress(tagging, total=len(corpus), desc="eval"):
        if failed is not None:
            failures += 1
            print(f"newsmon: {failed['origin']}: {failed['error']}", file=sys.stderr)
            continue
        tagged.append({**article, "id": article["origin"]})
    report = evaluate(corpus, tagged, topics=list(taxonomy))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(format_report(report, details=not args.summary))
    return EXIT_INPUTS_FAILED if failures else EXIT_OK


def run_spikes(args):
    """Surge detection on generated series with injected bursts (transforms/spike_evaluation.py)."""
    from transforms.spike_evaluation import SEED_SETS, evaluate_spikes, format_spike_report, report_data

    sizes = (("sparse", args.series), ("quiet", args.series), ("busy", max(1, args.series // 2)))
    results = evaluate_spikes(args.seeds, series=sizes)
    if args.json:
        print(json.dumps({"seed_set": args.seeds, "seeds": list(SEED_SETS[args.seeds]),
                          "tiers": report_data(results)}, ensure_ascii=False))
    else:
        print(format_spike_report(results, args.seeds, SEED_SETS[args.seeds]))
    return 0


BASELINE_WINDOW_DAYS = 7


def run_stories(args):
    from pipeline.story_eval import cluster_split, splits_of, tag_story_corpus
    from transforms.story_evaluation import (
        best_baseline_threshold,
        cluster_scores,
        format_story_report,
        load_story_corpus,
        near_duplicate_scores,
        story_errors,
        tfidf_baseline,
    )

    taxonomy = load_taxonomy(args.topics)
    corpus = load_story_corpus(args.stories)
    tagged = tag_story_corpus(corpus, taxonomy, model=args.model, aliases_path=args.aliases, places_path=args.places,
                              on_failure=lambda f: print(f"newsmon: {f['origin']}: {f['error']}", file=sys.stderr))
    _url, _server, client, keys = connect_redis(args)
    splits = splits_of(corpus)
    tuning = splits.get("tune") or corpus  # the baseline's threshold is chosen on the tune half only
    thresholds = {window: best_baseline_threshold(tuning, window) for window in (None, BASELINE_WINDOW_DAYS)}
    rows, near, errors, report = [], {}, {}, {"splits": {}}
    tagged_splits = splits_of(tagged)
    for split, articles in splits.items():
        gold = {a["id"]: a["story"] for a in articles}
        outcome = cluster_split(tagged_splits.get(split, []), client, prefix=f"{keys.prefix}eval:")
        ours = cluster_scores(gold, outcome.predicted)
        plain = cluster_scores(gold, tfidf_baseline(articles, thresholds[None]))
        windowed = cluster_scores(gold, tfidf_baseline(articles, thresholds[BASELINE_WINDOW_DAYS],
                                                       BASELINE_WINDOW_DAYS))
        rows += [(split, "newsmon stories", ours),
                 (split, f"TF-IDF cosine >= {thresholds[None]:.2f}", plain),
                 (split, f"TF-IDF cosine >= {thresholds[BASELINE_WINDOW_DAYS]:.2f}, +-7 days", windowed)]
        near[split] = near_duplicate_scores(articles, outcome.predicted, outcome.how)
        errors[split] = story_errors(gold, outcome.predicted)
        report["splits"][split] = {
            "newsmon": ours.to_dict(), "near_duplicates": near[split].to_dict(),
            "baseline": {"threshold": thresholds[None], **plain.to_dict()},
            "baseline_7_days": {"threshold": thresholds[BASELINE_WINDOW_DAYS], **windowed.to_dict()},
            "split_apart": errors[split].split, "merged": errors[split].merged,
            "assignments": outcome.predicted, "how": outcome.how}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    titles = {a["id"]: a.get("title", "") for a in corpus}
    notes = [f"Baseline thresholds chosen on {'the tune split' if 'tune' in splits else 'the whole corpus'}"
             " (best pairwise F1 there)."]
    print(format_story_report(rows, near, errors, titles, notes))
    return 0


def _field_value(text):
    field, sep, value = text.partition("=")
    if not sep or not field.strip():
        raise ValueError(text)
    return field.strip(), value.strip()


_field_value.__name__ = "FIELD=VALUE"  # argparse names the type in its error


def add_parser(commands):
    evaluation = commands.add_parser(
        "eval", help="measure topic and entity quality on a labelled corpus",
        description="Tag a labelled JSONL corpus (title, text, topics, entities) and print per-topic "
                    "precision, recall and F1, macro F1, key-entity recall, and the misses and false "
                    "hits with their evidence.")
    evaluation.add_argument("corpus", metavar="CORPUS.jsonl", nargs="?", help="a topic and entity corpus")
    evaluation.add_argument("--stories", metavar="CORPUS.jsonl",
                            help="measure story clustering on a story corpus instead (uses Redis under a"
                                 " throwaway prefix, deleted afterwards)")
    evaluation.add_argument("--spikes", action="store_true",
                            help="measure surge detection instead: generated background series with injected "
                                 "bursts; recall by burst size, median delay, false alarms per 1,000 series-days")
    evaluation.add_argument("--seeds", choices=("report", "tune"), default="report",
                            help="with --spikes: the seed set (the settings were tuned on 'tune'; default: report)")
    evaluation.add_argument("--series", type=int, default=200, metavar="N",
                            help="with --spikes: series per tier (busy: N/2; default: %(default)s)")
    evaluation.add_argument("--where", metavar="FIELD=VALUE", type=_field_value, action="append", default=[],
                            help="only the articles whose FIELD is VALUE (repeat to narrow down), e.g."
                                 " --where split=heldout --where language=de")
    evaluation.add_argument("--summary", action="store_true",
                            help="the figures only, no misses or false hits (for a held-out half nobody"
                                 " should read)")
    evaluation.add_argument("--json", action="store_true", help="the report as one JSON object")
    add_common_arguments(evaluation)
    add_redis_arguments(evaluation)
    evaluation.set_defaults(func=run)
