"""Realistic article streams built from the sentences of the project's labelled articles.

    python -m benchmarks.corpus --articles 1000 --topical 0.10 > articles.jsonl

The labelled corpus (tests/fixtures/eval/corpus.jsonl, 84 articles written
like wire stories) has 60 articles about a taxonomy topic and 24 hard
negatives that share their words: Arctic science and tourism, "sanctions" in
sport and school, "attack" in football, a "pipeline" in software. Its
sentences are recombined into new articles of about 400-500 words:

- a topical article takes most sentences, in order, from one topical source
  article, with a few off-topic sentences mixed in;
- an off-topic article takes its sentences from all 84 at random, from the
  hard negatives above all, and keeps at least one word of some taxonomy
  rule (so the relevance prefilter cannot dismiss it by vocabulary alone).

Whether an article counts as topical is decided by the shipped topic rules,
not by the labels: candidates are drawn until the stream has the asked share
of articles with a topic (``topical``) and the rest have none. The result is
deterministic for a seed. Titles are unique (the sink alerts once per title).
"""

import argparse
import json
import random
import sys
from pathlib import Path

from transforms.rules import compile_rules
from transforms.text import analyze, term_tokens
from transforms.topics import load_taxonomy

__all__ = ["EVAL_CORPUS", "realistic_articles", "write_jsonl"]

EVAL_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "eval" / "corpus.jsonl"
_WORDS = (400, 500)
_SOURCES = ["wire.example", "dailynews.example", "globepost.example", "morningherald.example",
            "citytimes.example"]


def _labelled(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _taxonomy_terms(taxonomy):
    """Every term of every topic rule (what a prefilter by vocabulary would look for)."""
    terms = set()

    def lists(value):  # a list of terms, or a mapping of languages to lists (transforms/rules.py)
        value = value.values() if isinstance(value, dict) else [value]
        return [[terms] if isinstance(terms, str) else terms for terms in value]

    def collect(spec):
        for field in ("any", "terms", "none"):
            for terms_list in lists(spec.get(field, ())):
                terms.update(term_tokens(t) for t in terms_list)
        for group in spec.get("all", ()):
            for terms_list in lists(group):
                terms.update(term_tokens(t) for t in terms_list)
        for alternative in spec.get("anyof", ()):
            collect(alternative)

    for spec in taxonomy.values():
        collect(spec)
    return {" ".join(t) for t in terms if t}


def _paragraphs(sentences, rng):
    paragraphs, i = [], 0
    while i < len(sentences):
        size = rng.randint(2, 4)
        paragraphs.append(" ".join(sentences[i:i + size]))
        i += size
    return "\n\n".join(paragraphs)


def _title(sentence, rng, used):
    words = sentence.rstrip(".").split()
    for _ in range(50):
        start = rng.randint(0, max(0, len(words) - 8))
        title = " ".join(words[start:start + rng.randint(6, 11)]).strip(",;:\"“”")
        title = title[:1].upper() + title[1:]
        if title and title.lower() not in used:
            used.add(title.lower())
            return title
    title = f"{' '.join(words[:8])} ({len(used)})"
    used.add(title.lower())
    return title


def realistic_articles(count, topical, *, seed=1000, corpus=EVAL_CORPUS, taxonomy=None):
    """``count`` article dicts (title, text, source, published), ``round(count * topical)`` of
    which carry a topic of ``taxonomy`` (default: the shipped one) and the rest none."""
    taxonomy = taxonomy if taxonomy is not None else load_taxonomy()
    matcher = compile_rules(taxonomy, kind="topic")
    vocabulary = compile_rules({"words": {"any": sorted(_taxonomy_terms(taxonomy))}})
    rng = random.Random(seed)
    labelled = _labelled(corpus)
    sentences = {a["id"]: analyze(a["text"]).sentence_texts() for a in labelled}
    topical_sources = [a for a in labelled if a["topics"]]
    negative_sources = [a for a in labelled if not a["topics"]]
    negative_pool = [s for a in negative_sources for s in sentences[a["id"]]]
    every_sentence = [s for a in labelled for s in sentences[a["id"]]]
    wanted_topical = round(count * topical)
    articles, used_titles = [], set()
    kinds = [True] * wanted_topical + [False] * (count - wanted_topical)
    rng.shuffle(kinds)
    for index, is_topical in enumerate(kinds):
        for _attempt in range(1000):
            words, chosen = 0, []
            target = rng.randint(*_WORDS)
            if is_topical:
                source = rng.choice(topical_sources)
                own = list(sentences[source["id"]])
                while words < target:
                    pick = own.pop(0) if own and rng.random() < 0.8 else rng.choice(negative_pool)
                    chosen.append(pick)
                    words += len(pick.split())
            else:
                while words < target:
                    pool = negative_pool if rng.random() < 0.6 else every_sentence
                    pick = rng.choice(pool)
                    chosen.append(pick)
                    words += len(pick.split())
            title = _title(chosen[0], rng, set(used_titles))
            text = _paragraphs(chosen, rng)
            analyzed = analyze(f"{title}\n{text}")
            has_topic = bool(matcher.match(analyzed.text, analyzed=analyzed))
            if has_topic != is_topical:
                continue
            if not is_topical and not vocabulary.match(analyzed.text, analyzed=analyzed):
                continue
            used_titles.add(title.lower())
            articles.append({
                "title": title,
                "text": text,
                "source": _SOURCES[index % len(_SOURCES)],
                "published": f"2026-11-{1 + index % 28:02d}T{index % 24:02d}:00:00Z",
            })
            break
        else:
            raise RuntimeError("could not build an article of the asked kind from the corpus")
    return articles


def write_jsonl(articles, path):
    with open(path, "w", encoding="utf-8") as handle:
        for article in articles:
            handle.write(json.dumps(article, ensure_ascii=False) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.corpus", description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000, metavar="N")
    parser.add_argument("--topical", type=float, default=0.10, metavar="SHARE",
                        help="share of articles with a topic (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args(argv)
    for article in realistic_articles(args.articles, args.topical, seed=args.seed):
        sys.stdout.write(json.dumps(article, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
