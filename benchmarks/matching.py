"""What many subscriptions cost: start-up, memory, matching per article, and per alert.

    python -m benchmarks.matching [--articles 200]      (make bench)

One run, on the machine it runs on:

1. start-up and memory: ``newsmon replay`` of 20 articles as a subprocess, with 10
   and with 10,000 generated subscriptions that match nothing (YAML files),
   CPU seconds (the target: a busy machine stretches wall time), wall time and
   peak RSS of the process; the difference is what the 10,000 cost (each size
   twice, alternating; the smaller figure of each is kept);
2. matching per article: ``match_subscriptions`` over tagged articles of a
   10%-topical realistic stream (benchmarks/corpus.py), CPU µs per article
   with 10, 1,000 and 10,000 subscriptions that match nothing, garbage
   collector on, the sizes taking turns (best of 5 passes, after the
   rules were compiled the way a worker compiles them: transforms/ruleset.py);
3. per alert: the same with subscriptions that do match (each one word of the
   corpus), 10 / 1,000 / 10,000, "cold" (the first pass after compiling) and
   "hot" (best of 5): µs per alert beyond the non-matching figure, for
   matching and for making the alerts' stream entries (connectors/redis_streams.py).
"""

import argparse
import gc
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

from benchmarks.common import print_target_table, progress, quiet_logging, start_redis
from benchmarks.corpus import realistic_articles, write_jsonl

COUNTS = (10, 1_000, 10_000)
_SYLLABLES = "ka lo mi ra ve to zu ne pa si do gri bel tor vin sha que lum dex fa".split()
_COUNTRIES = ["Norway", "Russia", "Germany", "France", "Japan", "Canada", "Brazil", "Kenya"]


def silent_subscriptions(count, topic_ids, seed=17):
    """``count`` rules of varied shapes whose terms are made-up words (so they match nothing):
    any (50%), all within a sentence (20%), any + none (10%), topics + any (10%), entities + any (10%)."""
    rng = random.Random(seed)
    words = set()
    while len(words) < count * 3 + 10:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(3, 5))))
    pool = iter(sorted(words))
    rules = {}
    for index in range(count):
        shape = rng.random()
        if shape < 0.5:
            rule = {"any": [next(pool) for _ in range(rng.randint(1, 2))]}
        elif shape < 0.7:
            rule = {"all": [[next(pool)], [next(pool)]], "within": "sentence"}
        elif shape < 0.8:
            rule = {"any": [next(pool)], "none": [next(pool)]}
        elif shape < 0.9:
            rule = {"topics": [rng.choice(topic_ids)], "any": [next(pool)]}
        else:
            rule = {"entities": {"GPE": [rng.choice(_COUNTRIES)]}, "any": [next(pool)]}
        rules[f"sub-{index:05d}"] = rule
    return rules


def hitting_subscriptions(count, articles, seed=17):
    """``count`` rules of one word each, drawn from the words of ``articles`` (so they match)."""
    from transforms.text import analyze

    rng = random.Random(seed)
    words = {token for a in articles for token in analyze(f"{a['title']}\n{a['text']}").tokens}
    vocabulary = sorted(word for word in words if len(word) > 3)
    return {f"hit-{index:05d}": {"any": [rng.choice(vocabulary)]} for index in range(count)}


# --- start-up and memory --------------------------------------------------------------

def replay_process(archive, subscriptions_file, redis_url):
    """Wall seconds, CPU seconds and peak RSS (MB) of ``newsmon replay`` as a subprocess."""
    command = [sys.executable, "-m", "pipeline.cli", "replay", str(archive), "--subscriptions",
               str(subscriptions_file), "--redis", redis_url]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"newsmon replay failed: {process.stderr.read().decode()[-2000:]}")
    process.stderr.close()
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure_startup(directory, topic_ids, articles):
    archive = Path(directory) / "small.jsonl"
    write_jsonl(articles[:20], archive)
    files = {}
    for count in (10, 10_000):
        files[count] = Path(directory) / f"subscriptions-{count}.yaml"
        files[count].write_text(yaml.safe_dump({"subscriptions": silent_subscriptions(count, topic_ids)}),
                                encoding="utf-8")
    server = start_redis(directory)
    best = {count: (float("inf"),) * 3 for count in files}
    try:
        for _ in range(2):
            for count, path in files.items():
                server.client.flushall()
                figures = replay_process(archive, path, server.url)
                best[count] = tuple(min(old, new) for old, new in zip(best[count], figures))
    finally:
        server.stop()
    return best


# --- matching -------------------------------------------------------------------------

def tagged_articles(articles):
    """Articles as MatchSubscriptions sees them: analysed, with entities and topics (NER by the model)."""
    from transforms.entities import canonical_entities, load_aliases, load_ner_model, ner_text
    from transforms.rules import compile_rules
    from transforms.topics import load_taxonomy, tag_topics

    try:
        from transforms.text import with_analysis
    except ImportError:  # a checkout from before one analysis per article (for a "before" figure)
        def with_analysis(article):
            return article, None

    nlp, aliases = load_ner_model(), load_aliases()
    topics = compile_rules(load_taxonomy(), kind="topic")
    tagged = []
    for article, doc in zip(articles, nlp.pipe([ner_text(a) for a in articles], batch_size=32)):
        article, _ = with_analysis(article)
        entities = canonical_entities([(e.text, e.label_) for e in doc.ents], aliases)
        tagged.append(tag_topics({**article, "entities": entities, "id": str(len(tagged))}, topics))
    return tagged


def _pass(articles, matcher, entries=False):
    """CPU seconds of one pass (garbage collector on, as in a worker); alerts made."""
    from connectors.redis_streams import RedisKeys, article_entries
    from transforms.subscriptions import match_subscriptions

    keys, alerts = RedisKeys(), 0
    start = time.process_time()
    for article in articles:
        matched = match_subscriptions(article, matcher)
        alerts += len(matched["alerts"])
        if entries:
            article_entries(matched, keys)
    return time.process_time() - start, alerts


def _compiled(subscriptions, topic_ids):
    """The subscriptions' matcher, compiled as a worker compiles it."""
    import transforms.rules

    if not hasattr(transforms.rules, "find_terms"):  # a checkout from before RuleSet (a "before" figure)
        from transforms.subscriptions import compile_subscriptions

        return compile_subscriptions(subscriptions, topic_ids)
    from transforms.ruleset import RuleSet

    return RuleSet({}, subscriptions, known_topics=topic_ids).compiled().subscriptions


def measure_matching(articles, topic_ids, passes=5):
    """{(kind, count): [cold s, hot s, alerts per pass]} for kind in silent / hitting / hitting+entries."""
    matchers = {}
    results = {}
    for n in COUNTS:
        silent = _compiled(silent_subscriptions(n, topic_ids), topic_ids)
        hitting = _compiled(hitting_subscriptions(n, articles), topic_ids)
        matchers[n] = {"silent": silent, "hitting": hitting, "hitting+entries": hitting}
        for kind, matcher in matchers[n].items():
            gc.collect()
            cold, alerts = _pass(articles, matcher, kind == "hitting+entries")
            results[(kind, n)] = [cold, float("inf"), alerts]
    for _ in range(passes):  # sizes and kinds take turns, so a busy neighbour slows them alike
        for n in COUNTS:
            for kind, matcher in matchers[n].items():
                seconds, _ = _pass(articles, matcher, kind == "hitting+entries")
                results[(kind, n)][1] = min(results[(kind, n)][1], seconds)
    return results


def rows_for(startup, matching, article_count):
    rows = []
    (small_s, small_cpu, small_mb), (big_s, big_cpu, big_mb) = startup[10], startup[10_000]
    rows.append(("newsmon replay of 20 articles, 10 subscriptions: wall s / CPU s / peak MB",
                 f"{small_s:.2f} / {small_cpu:.2f} / {small_mb:.0f}", "", ""))
    rows.append(("newsmon replay of 20 articles, 10,000 subscriptions: wall s / CPU s / peak MB",
                 f"{big_s:.2f} / {big_cpu:.2f} / {big_mb:.0f}", "", ""))
    rows.append(("10,000 subscriptions add: start-up, CPU s (wall s)",
                 f"{big_cpu - small_cpu:+.2f} ({big_s - small_s:+.2f})", "<= 1.0",
                 "yes" if big_cpu - small_cpu <= 1.0 else "NO"))
    rows.append(("10,000 subscriptions add: memory (MB)", f"{big_mb - small_mb:+.0f}", "<= 30",
                 "yes" if big_mb - small_mb <= 30 else "NO"))

    def per_article(kind, n, which=1):
        return matching[(kind, n)][which] / article_count * 1e6

    for n in COUNTS:
        rows.append((f"matching, {n:,} subscriptions that match nothing: CPU µs/article (hot)",
                     f"{per_article('silent', n):,.0f}", "", ""))
    ratio = per_article("silent", 10_000) / per_article("silent", 10)
    rows.append(("ratio 10,000 / 10 subscriptions that match nothing", f"{ratio:.2f}", "<= 1.5",
                 "yes" if ratio <= 1.5 else "NO"))
    for n in COUNTS:
        alerts = matching[("hitting", n)][2]
        for which, label in ((0, "cold"), (1, "hot")):
            base = matching[("silent", n)][which]
            match_us = (matching[("hitting", n)][which] - base) / max(alerts, 1) * 1e6
            entries_us = (matching[("hitting+entries", n)][which] - matching[("hitting", n)][which]) \
                / max(alerts, 1) * 1e6
            rows.append((f"{n:,} matching subscriptions ({alerts / article_count:,.1f} alerts/article), {label}:"
                         " µs per alert, matching / stream entries", f"{match_us:,.1f} / {entries_us:,.1f}", "", ""))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.matching", description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=200, metavar="N",
                        help="articles matched per pass (default: %(default)s)")
    args = parser.parse_args(argv)
    quiet_logging()
    started = datetime.now().astimezone()
    command = " ".join(["python -m benchmarks.matching", *(sys.argv[1:] if argv is None else argv)])
    from transforms.topics import load_taxonomy

    topic_ids = sorted(load_taxonomy())
    articles = realistic_articles(max(args.articles, 20), 0.10, seed=2020)
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-") as directory:
        progress("start-up and memory: newsmon replay with 10 and 10,000 subscriptions")
        startup = measure_startup(directory, topic_ids, articles)
    progress("tagging the articles (NER)")
    tagged = tagged_articles(articles)
    progress("matching")
    matching = measure_matching(tagged, topic_ids)
    print_target_table("newsmon matching bench", f"{len(tagged)} articles", rows_for(startup, matching, len(tagged)),
                       command, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
