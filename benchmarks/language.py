"""What languages cost per article: detection, the gazetteer step, and rules with terms per language.

    python -m benchmarks.language [--repeats 5]      (make bench)

One run, on the machine it runs on, CPU time of this process (the best of
``--repeats`` passes, garbage collector off, so a busy neighbour skews little):

1. language detection (transforms/language.py, py3langid) per article, over
   the 71 articles of tests/fixtures/multilingual (five languages, real and
   written) and over 200 English articles of the realistic stream
   (benchmarks/corpus.py), beside NER per English article, which it is meant
   to vanish next to; and the detector's load time, once per worker;
2. the gazetteer step (seeds/actors.yaml, the alias table and the places list
   as a span ruler after NER, transforms/entities.py) per English article:
   NER with and without it;
3. the topic rules and the relevance prefilter per article with the shipped
   taxonomy (German, French, Spanish and Russian terms beside the English
   ones), on English articles and on the corpus's other-language articles.
"""

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.common import Figures, cpu_seconds, print_figures, progress, quiet_logging
from benchmarks.corpus import realistic_articles

MULTILINGUAL = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "multilingual" / "corpus.jsonl"


def best_per_item(work, items, repeats):
    """The smallest CPU seconds per item of ``work(item)`` over every item, of ``repeats`` passes."""
    return min(cpu_seconds(lambda: [work(item) for item in items]) for _ in range(repeats)) / len(items)


def micro(seconds):
    return f"{seconds * 1e6:,.0f}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.language", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="passes per figure; the best is kept (default: 5)")
    parser.add_argument("--articles", type=int, default=200, help="English articles of the realistic stream")
    args = parser.parse_args(argv)
    quiet_logging()
    started = datetime.now(timezone.utc)
    import py3langid
    import spacy

    from transforms.entities import add_gazetteer, gazetteer_patterns, load_ner_model, ner_text
    from transforms.language import detect_language, language_sample, load_detector
    from transforms.relevance import RelevanceFilter
    from transforms.rules import compile_rules
    from transforms.text import analyze, article_text
    from transforms.topics import load_taxonomy

    figures = Figures()
    multilingual = [json.loads(line) for line in MULTILINGUAL.read_text(encoding="utf-8").splitlines()]
    english = realistic_articles(args.articles, 0.1)
    progress("loading the detector")
    start = time.process_time()
    detector = load_detector()
    figures.add("detection", "load the detector, CPU s (once per worker)", f"{time.process_time() - start:.2f}")
    wrong = sum(detect_language(language_sample(a), detector) != a["language"] for a in multilingual)
    figures.add("detection", "multilingual corpus: articles / wrongly detected",
                f"{len(multilingual)} / {wrong}")
    progress("detecting")
    detect = lambda article: detect_language(language_sample(article), detector)  # noqa: E731
    per_multilingual = best_per_item(detect, multilingual, args.repeats)
    per_english = best_per_item(detect, english, args.repeats)
    figures.add("detection", "per article, multilingual corpus (5 languages), CPU µs", micro(per_multilingual))
    figures.add("detection", f"per article, {len(english)} English stream articles, CPU µs", micro(per_english))

    progress("NER with and without the gazetteer")
    plain = load_ner_model()
    patterns = gazetteer_patterns()
    with_gazetteer = add_gazetteer(load_ner_model(), patterns)
    texts = [ner_text(a) for a in english]
    ner_repeats = max(1, args.repeats // 2)
    per_ner = min(cpu_seconds(lambda: list(plain.pipe(texts, batch_size=32))) for _ in range(ner_repeats)) / len(texts)
    per_ner_gazetteer = min(cpu_seconds(lambda: list(with_gazetteer.pipe(texts, batch_size=32)))
                            for _ in range(ner_repeats)) / len(texts)
    figures.add("NER", "NER per English article (batches of 32), CPU µs", micro(per_ner))
    figures.add("NER", "detection as a share of NER", f"{per_english / per_ner:.1%}")
    figures.add("gazetteer", "patterns (actors, aliases, places)", f"{len(patterns):,}")
    figures.add("gazetteer", "NER + gazetteer per English article, CPU µs", micro(per_ner_gazetteer))
    figures.add("gazetteer", "the gazetteer step per article, CPU µs (difference)",
                micro(per_ner_gazetteer - per_ner))

    progress("rules per language")
    taxonomy = load_taxonomy()
    topics = compile_rules(taxonomy, kind="topic")
    relevance = RelevanceFilter(topics, {})
    samples = {"en": [(analyze(article_text(a)), "en") for a in english],
               "de, fr, es, ru": [(analyze(article_text(a)), a["language"]) for a in multilingual
                                  if a["language"] != "en"]}
    for name, analyzed in samples.items():
        per_filter = best_per_item(lambda pair: relevance.relevant(pair[0], language=pair[1]), analyzed, args.repeats)
        per_match = best_per_item(lambda pair: topics.match(analyzed=pair[0], language=pair[1]), analyzed,
                                  args.repeats)
        figures.add("rules", f"{name}: relevance prefilter per article ({len(analyzed)} articles), CPU µs",
                    micro(per_filter))
        figures.add("rules", f"{name}: topic rules per article, CPU µs", micro(per_match))
    figures.add("rules", "topic rule variants (7 topics, 5 languages)", f"{len(topics)}")
    command = "python -m benchmarks.language" + (f" --repeats {args.repeats}" if args.repeats != 5 else "")
    print_figures("newsmon language bench", f"py3langid {getattr(py3langid, '__version__', '?')},"
                  f" spaCy {spacy.__version__}", figures, command, started)


if __name__ == "__main__":
    main()
