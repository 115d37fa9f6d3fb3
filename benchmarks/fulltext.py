"""Full text: extraction quality and cost, teaser vs full-text topic F1, and the monitor's latency
with ``fulltext: auto``.

    python -m benchmarks.fulltext [--minutes 3] [--interval 5] [--skip-monitor]

1. Extraction, on the 20 real article pages of tests/fixtures/pages: word-level
   F1 of the extracted main text against the hand-marked text (mean, lowest),
   the two pages served without a charset, and the CPU time of one page's
   extraction (decoding included) beside the CPU time of NER over the same
   text (``en_core_web_sm``, NER only: the step everything else should vanish
   next to).
2. Topic F1, teaser vs full text, with the shipped taxonomy and the real
   model: on the fixture pages (their feed teaser, their extracted text,
   their hand-marked text; labels from the manifest) and on the 84 articles
   of tests/fixtures/eval (teaser: the title and first sentence, as a feed
   description without one gives). And how many articles with a topic the
   prefilter would rule out on the teaser (why pages are fetched before it).
3. The page path over HTTP: PageService fetching the 20 pages from a local
   server on 127.0.0.1 (robots.txt, guarded fetch, extraction in a worker
   process, Redis cache): wall time per page, first fetch and cached.
4. Unless ``--skip-monitor``: ``newsmon monitor`` as a subprocess against a
   local feed whose items carry the pages' teasers and link to the pages
   (each item its own URL, so each is fetched and extracted), with a
   subscription on the items' titles: latency from an item's appearance to
   its alert, once with ``fulltext: never`` and once with ``fulltext: auto``
   (``--minutes`` each, an item every 0.4-1.6 intervals).

Prints one table of figures. Everything runs on 127.0.0.1 with a private
``redis-server`` on a free port.
"""

import argparse
import gzip
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.common import Figures, cpu_seconds, print_figures, progress, quiet_logging, start_redis

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "fixtures" / "pages"
EVAL_CORPUS = ROOT / "tests" / "fixtures" / "eval" / "corpus.jsonl"
SEED = 14
SUBSCRIPTION = "bench"
RULE = {"any": ["bulletin"], "per": "article"}  # every item alerts (items on one page are one story)


def _manifest():
    return json.loads((PAGES / "manifest.json").read_text(encoding="utf-8"))["pages"]


def _page_bytes(page):
    data = (PAGES / page["html"]).read_bytes()
    return gzip.decompress(data) if page["html"].endswith(".gz") else data


def _gold(page):
    return (PAGES / page["gold"]).read_text(encoding="utf-8")


def _ms(seconds):
    return f"{seconds * 1000:.0f} ms"


# --- 1. extraction ------------------------------------------------------------------------------


def extraction(figures, repeats):
    from transforms.entities import load_ner_model
    from transforms.page_text import extract_page, word_f1

    pages = [page for page in _manifest() if page["kind"] == "article"]
    nlp = load_ner_model()
    scores, costs, ner_costs, extracted = {}, [], [], {}
    for page in pages:
        body = _page_bytes(page)
        text, problem, _ = extract_page(body, "text/html; charset=utf-8", page["url"])  # warm
        extracted[page["id"]] = text
        scores[page["id"]] = word_f1(text, _gold(page))
        costs.append(cpu_seconds(lambda body=body, url=page["url"]: [
            extract_page(body, "text/html; charset=utf-8", url) for _ in range(repeats)]) / repeats)
        ner_text = f"{page['title']}\n\n{text}"
        ner_costs.append(cpu_seconds(lambda ner_text=ner_text: [
            list(nlp.pipe([ner_text])) for _ in range(repeats)]) / repeats)
    section = "extraction (20 real pages)"
    figures.add(section, "word F1 vs hand-marked text, mean", f"{statistics.mean(scores.values()):.3f}")
    worst = min(scores, key=scores.get)
    figures.add(section, f"word F1, lowest ({worst})", f"{scores[worst]:.3f}")
    figures.add(section, "pages with F1 >= 0.95", f"{sum(s >= 0.95 for s in scores.values())} of {len(scores)}")
    for page in _manifest():
        if page["id"].endswith("-no-charset"):
            text, _, note = extract_page(_page_bytes(page), "text/html", page["url"])
            figures.add(section, f"word F1, {page['id']} ({note.split('as ')[-1]})",
                        f"{word_f1(text, _gold(page)):.3f}")
    sizes = [len(_page_bytes(page)) for page in pages]
    figures.add(section, "page size, median / max",
                f"{statistics.median(sizes) / 1024:.0f} / {max(sizes) / 1024:.0f} KB")
    figures.add(section, "extraction CPU per page, median", _ms(statistics.median(costs)))
    figures.add(section, "extraction CPU per page, mean / max", f"{_ms(statistics.mean(costs))} / {_ms(max(costs))}")
    figures.add(section, "NER CPU on the same text, median (baseline)", _ms(statistics.median(ner_costs)))
    figures.add(section, "NER CPU on the same text, mean", _ms(statistics.mean(ner_costs)))
    return extracted


# --- 2. topic F1, teaser vs full text -----------------------------------------------------------------


def _tagged(articles, taxonomy):
    from pipeline.tag import tag_articles
    from transforms.entities import DEFAULT_ALIASES, DEFAULT_MODEL

    raws = [({"id": a["id"], "title": a["title"], "text": a["text"]}, None) for a in articles]
    results = tag_articles(raws, taxonomy, model=DEFAULT_MODEL, aliases_path=DEFAULT_ALIASES)
    # In order, one result per article; the corpus ids back in place of the hashed ones.
    return [{**tagged, "id": article["id"]} for article, (tagged, _) in zip(articles, results) if tagged is not None]


def _scores(labelled, variant, taxonomy):
    """(macro F1, micro F1, articles with a topic found) of the articles ``variant`` gives text to."""
    from transforms.evaluation import evaluate

    articles = [{**a, "text": variant(a)} for a in labelled]
    tagged = _tagged(articles, taxonomy)
    report = evaluate(labelled, tagged, topics=list(taxonomy))
    tp = sum(t.tp for t in report.topics)
    fp = sum(t.fp for t in report.topics)
    fn = sum(t.fn for t in report.topics)
    micro = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    found = sum(1 for article in tagged if article["topics"])
    return report.macro_f1, micro, found


def _first_sentence(text):
    import re

    found = re.match(r"(.+?[.!?])(\s|$)", " ".join(text.split()))
    return found.group(1) if found else text


def topics(figures, extracted):
    from transforms.entities import load_aliases
    from transforms.relevance import RelevanceFilter
    from transforms.rules import compile_rules
    from transforms.topics import load_taxonomy

    taxonomy = load_taxonomy()
    pages = [{**page, "text": page["teaser"], "entities": []} for page in _manifest() if page["kind"] == "article"]
    section = "topic F1 (20 pages)"
    positives = sum(1 for page in pages if page["topics"])
    for name, variant in (("feed teaser", lambda a: a["teaser"]),
                          ("extracted page text", lambda a: extracted[a["id"]]),
                          ("hand-marked text", _gold)):
        macro, micro, found = _scores(pages, variant, taxonomy)
        figures.add(section, f"{name}: macro / micro F1", f"{macro:.3f} / {micro:.3f}")
        figures.add(section, f"{name}: articles with a topic found ({positives} labelled)", f"{found}")
    relevance = RelevanceFilter(compile_rules(taxonomy, kind="topic"), {}, load_aliases())
    labelled = [page for page in pages if page["topics"]]
    kept_teaser = sum(relevance.relevant(f"{p['title']}\n\n{p['teaser']}") for p in labelled)
    kept_page = sum(relevance.relevant(f"{p['title']}\n\n{extracted[p['id']]}") for p in labelled)
    figures.add(section, f"labelled articles the prefilter keeps: on the teaser / on the page (of {len(labelled)})",
                f"{kept_teaser} / {kept_page}")

    from transforms.evaluation import load_corpus

    corpus = load_corpus(EVAL_CORPUS)
    section = f"topic F1 ({len(corpus)} eval articles)"
    for name, variant in (("teaser (title + first sentence)", lambda a: _first_sentence(a["text"])),
                          ("full text", lambda a: a["text"])):
        macro, micro, found = _scores(corpus, variant, taxonomy)
        figures.add(section, f"{name}: macro / micro F1", f"{macro:.3f} / {micro:.3f}")
    labelled = [a for a in corpus if a["topics"]]
    kept = sum(relevance.relevant(f"{a['title']}\n\n{_first_sentence(a['text'])}") for a in labelled)
    figures.add(section, f"labelled articles the prefilter keeps on the teaser (of {len(labelled)})", f"{kept}")


# --- 3. the page path over HTTP -------------------------------------------------------------------


def page_path(figures, redis_url):
    import redis

    from connectors.pages import PageOptions, PageService
    from connectors.redis_streams import RedisKeys
    from tests.servers import PageServer

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushall()
    server = PageServer().start()
    pages = [page for page in _manifest() if page["kind"] == "article"]
    try:
        with PageService(client, RedisKeys(), PageOptions(extract_workers=1), allow_private=["127.0.0.0/8"]) as service:
            started = time.perf_counter()
            service.get(server.url(pages[0]["id"]) + "?warm")  # starts the worker process, reads robots.txt
            warm = time.perf_counter() - started
            first, cached = [], []
            for page in pages:
                started = time.perf_counter()
                service.get(server.url(page["id"]))
                first.append(time.perf_counter() - started)
            for page in pages:
                started = time.perf_counter()
                service.get(server.url(page["id"]))
                cached.append(time.perf_counter() - started)
            started = time.perf_counter()
            futures = [service.fetch(server.url(page["id"]) + "?together") for page in pages]
            for future in futures:
                future.result()
            together = time.perf_counter() - started
    finally:
        server.stop()
        client.close()
    section = "page path (HTTP, 1 worker)"
    figures.add(section, "first page (worker start, robots.txt)", f"{warm:.2f} s")
    figures.add(section, "fetch + extract a page, median / max", f"{_ms(statistics.median(first))} / {_ms(max(first))}")
    figures.add(section, "cached page, median", f"{statistics.median(cached) * 1000:.2f} ms")
    figures.add(section, "20 pages at once, wall", f"{together:.2f} s")


# --- 4. the monitor ---------------------------------------------------------------------------------


def _monitor_latency(figures, mode, *, redis_server, directory, minutes, interval, rng):
    from benchmarks.monitor import AlertWatcher, Item, _monitor_args, _start, _stop_process, _tail, percentile
    from connectors.redis_streams import RedisKeys
    from connectors.subscription_store import SubscriptionStore
    from tests.servers import LiveFeed, PageServer

    redis_server.client.flushall()
    SubscriptionStore(redis_server.client, RedisKeys()).add(SUBSCRIPTION, RULE)
    pages = [page for page in _manifest() if page["kind"] == "article"]
    page_server = PageServer().start()
    feed = LiveFeed(window=20, title="Full-text wire")
    watcher = AlertWatcher(redis_server.url, f"newsmon:alerts:{SUBSCRIPTION}")
    feedlist = Path(directory) / f"feeds-{mode}.yaml"
    feedlist.write_text(f"- url: {feed.url}\n  fulltext: {mode}\n", encoding="utf-8")

    def item(number):
        page = pages[number % len(pages)]
        return Item(f"urn:newsmon-fulltext:{number}", f"{page['title']}, bulletin {number}", page["teaser"],
                    link=f"{page_server.url(page['id'])}?n={number}", number=number)

    log_path = Path(directory) / f"monitor-{mode}.log"
    items = [item(0)]
    feed.publish(items[0])
    process = _start([sys.executable, "-m", "pipeline.cli", *_monitor_args(feedlist, interval, redis_server.url)],
                     log_path)
    try:
        launched = time.time()
        if watcher.wait_for(0, 300) is None:
            raise RuntimeError(f"no first alert within 300 s:\n{_tail(log_path)}")
        progress(f"fulltext {mode}: first alert after {time.time() - launched:.1f} s; publishing for {minutes:g} min")
        t0 = time.time()
        next_at = t0 + rng.uniform(0.4 * interval, 1.6 * interval)
        while next_at < t0 + minutes * 60:
            time.sleep(max(0.0, next_at - time.time()))
            if process.poll() is not None:
                raise RuntimeError(f"the monitor exited with {process.returncode}:\n{_tail(log_path)}")
            items.append(item(len(items)))
            feed.publish(items[-1])
            next_at += rng.uniform(0.4 * interval, 1.6 * interval)
        settle_until = time.monotonic() + 3 * interval + 60  # the last items' alerts, at most this long
        for published in items[1:]:
            watcher.wait_for(published.number, max(0.0, settle_until - time.monotonic()))
        _stop_process(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        watcher.stop()
        feed.stop()
        page_server.stop()
    latencies = [watcher.alerts[i.number][0] - i.appeared for i in items[1:] if i.number in watcher.alerts]
    section = f"monitor, fulltext: {mode}"
    fetched = sum(page_server.hits(f"/pages/{page['id']}") for page in pages)
    figures.add(section, "items published / alerted", f"{len(items) - 1} / {len(latencies)}")
    figures.add(section, "article pages fetched", f"{fetched}")
    if latencies:
        figures.add(section, "latency item appeared -> alert, p50", f"{percentile(latencies, 0.5):.2f} s")
        figures.add(section, "latency item appeared -> alert, p95", f"{percentile(latencies, 0.95):.2f} s")
        figures.add(section, "latency item appeared -> alert, max", f"{max(latencies):.2f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fulltext", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="monitor run per mode (default: %(default)g)")
    parser.add_argument("--interval", type=float, default=5.0, help="monitor --interval (default: %(default)g)")
    parser.add_argument("--repeats", type=int, default=3, help="extractions timed per page (default: %(default)d)")
    parser.add_argument("--skip-monitor", action="store_true", help="leave out the monitor runs")
    args = parser.parse_args(argv)
    quiet_logging()
    started = datetime.now().astimezone()
    command = " ".join(["python -m benchmarks.fulltext", *(sys.argv[1:] if argv is None else argv)])
    figures = Figures()
    progress("extraction")
    extracted = extraction(figures, args.repeats)
    progress("topics")
    topics(figures, extracted)
    with tempfile.TemporaryDirectory() as directory:
        server = start_redis(directory)
        try:
            progress("page path")
            page_path(figures, server.url)
            if not args.skip_monitor:
                for mode in ("never", "auto"):
                    progress(f"monitor, fulltext: {mode}")
                    _monitor_latency(figures, mode, redis_server=server, directory=directory,
                                     minutes=args.minutes, interval=args.interval, rng=random.Random(SEED))
        finally:
            server.stop()
    import trafilatura

    print_figures("newsmon full-text bench", f"trafilatura {trafilatura.__version__}", figures, command, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
