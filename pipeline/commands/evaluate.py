"""``newsmon eval``: topic and entity quality on a labelled corpus.

    newsmon eval tests/fixtures/eval/corpus.jsonl [--json]

Tags each article of a JSONL corpus (title, text, topics, entities) with the
steps ``newsmon tag`` runs and prints per-topic precision, recall and F1,
their macro average, key-entity recall, and every miss and false hit with the
sentences that caused it (transforms/evaluation.py).
"""

import json
import sys

from pipeline.errors import EXIT_INPUTS_FAILED, EXIT_OK
from pipeline.options import add_common_arguments
from transforms.topics import load_taxonomy

__all__ = ["add_parser"]


def run(args, _beam_args):
    from pipeline.tag import tag_articles
    from transforms.evaluation import evaluate, format_report, load_corpus

    taxonomy = load_taxonomy(args.topics)
    corpus = load_corpus(args.corpus)
    raw = (({"id": a["id"], "title": a["title"], "text": a["text"], "origin": a["id"]}, None) for a in corpus)
    tagged, failures = [], 0
    for article, failed in tag_articles(raw, taxonomy, model=args.model, aliases_path=args.aliases):
        if failed is not None:
            failures += 1
            print(f"newsmon: {failed['origin']}: {failed['error']}", file=sys.stderr)
            continue
        tagged.append({**article, "id": article["origin"]})
    report = evaluate(corpus, tagged, topics=list(taxonomy))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(format_report(report))
    return EXIT_INPUTS_FAILED if failures else EXIT_OK


def add_parser(commands):
    evaluation = commands.add_parser(
        "eval", help="measure topic and entity quality on a labelled corpus",
        description="Tag a labelled JSONL corpus (title, text, topics, entities) and print per-topic "
                    "precision, recall and F1, macro F1, key-entity recall, and the misses and false "
                    "hits with their evidence.")
    evaluation.add_argument("corpus", metavar="CORPUS.jsonl")
    evaluation.add_argument("--json", action="store_true", help="the report as one JSON object")
    add_common_arguments(evaluation)
    evaluation.set_defaults(func=run)
