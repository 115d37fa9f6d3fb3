"""Events/s through WriteToRedisStreams in a Beam pipeline, against raw pipelined XADD from redis-py.

    python -m benchmarks.sink [--events 20000] [--repeats 3]

An event is one stream entry written. One run, on the machine it runs on, with
a private ``redis-server`` on a free port of 127.0.0.1 (never 6379), emptied
(FLUSHALL) before each measurement, after one small warm-up run of each kind
(so that no figure pays for first imports):

1. The articles are tagged articles as the sink receives them, made by
   ``article_batch`` from their number alone (no randomness): a unique title,
   URL, source and date, a paragraph of text, eight entities, one topic (odd
   numbers: two) and, for every third article, one subscription's alert.
   ``article_entries`` makes 1 + topics + alerts entries of each (17 per 6
   articles); enough articles are made for ``--events`` entries.
2. raw: in this process, batches of ARTICLES_PER_BATCH articles made by
   ``article_batch``, their entries by ``article_entries``, and each entry
   written with ``XADD stream MAXLEN ~ <maxlen> * field value ...`` on
   ``client.pipeline(transaction=False)``, executed every XADD_BATCH (500)
   entries, with the client ``redis_client`` gives the sink too. The time spent
   making the articles and entries is reported apart.
3. sink: a Beam pipeline on the FnApiRunner (``pipeline.options.make_pipeline``)
   that makes the same articles itself, ``Create(range(batches)) |
   FlatMap(article_batch) | WriteToRedisStreams(url)``; wall time from
   building the pipeline to ``wait_until_finish``, so the runner's start is in it.
4. no sink: that pipeline with ``Map(len)`` in place of the sink: the runner's
   start and the article making, which the sink's figure includes.

Both writers get the same MAXLEN (above the event count: nothing is trimmed).
Events are counted as the sum of XLEN over every stream after each write, and
must equal what ``article_entries`` says. Each measurement also takes the CPU
seconds of this process (the FnApiRunner runs its worker in it) and of the
redis-server (INFO cpu). Each repeat runs raw, sink and no sink in turn; the
ratio is the median of the repeats' ratios (a raw run and a sink run seconds
apart share the load from elsewhere), the other figures are medians. Prints
one plain table (figure, value, target, met?) with the command, the core count
and the date.
"""

import argparse
import logging
import statistics
import sys
import tempfile
import time
from datetime import datetime
from typing import NamedTuple

import redis

from benchmarks.common import print_target_table, start_redis

__all__ = ["article_batch", "articles_for", "main", "measure", "sink_rows", "write_raw", "write_with_sink"]

ARTICLES_PER_BATCH = 100
XADD_BATCH = 500
TARGET_RATIO = 0.5
TOPICS = ("sanctions", "arctic-military", "cyberattacks", "energy-security", "elections")
ENTITIES = [("Russia", "GPE"), ("Norway", "GPE"), ("European Union", "ORG"), ("Antony Blinken", "PERSON"),
            ("Gazprom", "ORG"), ("Barents Sea", "LOC"), ("NATO", "ORG"), ("Finland", "GPE")]
SENTENCE = ("Officials said the naval exercise in the Barents Sea would continue through the week, "
            "with allied ships joining from Norway and Finland. ")


# --- the articles ------------------------------------------------------------------

def entries_of(number):
    """Stream entries article ``number`` makes: events, its topics, its alerts."""
    return 1 + (1 + number % 2) + int(number % 3 == 0)


def articles_for(events):
    """How many articles make at least ``events`` entries, and how many entries they make."""
    count = total = 0
    while total < events:
        total += entries_of(count)
        count += 1
    return count, total


def _article(number):
    topics = [{"id": TOPICS[(number + k) % len(TOPICS)], "score": 0.5 + (number % 7) / 20,
               "terms": ["sanctions", "barents sea"], "evidence": [SENTENCE.strip()]}
              for k in range(1 + number % 2)]
    alert = {"id": f"sub-{number % 10}", "score": 0.4, "terms": ["barents sea"], "evidence": [SENTENCE.strip()]}
    return {
        "id": f"bench-{number:08d}",
        "title": f"Story {number} on the naval exercise in the Barents Sea",
        "url": f"https://news.example/{number}",
        "source": f"source{number % 5}.example",
        "published": f"2024-05-16T{number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}Z",
        "origin": f"https://source{number % 5}.example/rss",
        "text": SENTENCE * 8,
        "entities": [{"text": name, "label": label, "canonical": name, "count": 1 + (number + i) % 4}
                     for i, (name, label) in enumerate(ENTITIES)],
        "topics": topics,
        "alerts": [alert] if number % 3 == 0 else [],
    }


def article_batch(batch, articles):
    """Articles ``batch * ARTICLES_PER_BATCH`` ... (fewer in the last batch), of ``articles`` in all."""
    first = batch * ARTICLES_PER_BATCH
    return [_article(number) for number in range(first, min(first + ARTICLES_PER_BATCH, articles))]


def _batches(articles):
    return -(-articles // ARTICLES_PER_BATCH)


def stream_entries(client):
    """Entries in all the streams of the database: the events written."""
    return sum(client.xlen(key) for key in client.scan_iter(_type="STREAM", count=1000))


# --- measuring ----------------------------------------------------------------------

class Timing(NamedTuple):
    """Wall seconds, CPU seconds of this process (the FnApiRunner runs its worker in it), of the redis-server."""

    wall: float
    cpu: float
    redis_cpu: float


def _redis_cpu(admin):
    info = admin.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def timed(work, admin):
    """``work()``'s result and its Timing; ``admin`` is a client of the redis-server written to."""
    redis_cpu, cpu, start = _redis_cpu(admin), time.process_time(), time.perf_counter()
    result = work()
    return result, Timing(time.perf_counter() - start, time.process_time() - cpu, _redis_cpu(admin) - redis_cpu)


def all_articles(articles):
    return [article for batch in range(_batches(articles)) for article in article_batch(batch, articles)]


def all_entries(articles):
    from connectors.redis_streams import RedisKeys, article_entries

    keys = RedisKeys()
    return [entry for article in all_articles(articles) for entry in article_entries(article, keys)]


def write_raw(url, entries, maxlen):
    """Pipelined XADD of prebuilt entries, XADD_BATCH at a time."""
    from connectors.redis_connection import redis_client

    client = redis_client(url)
    for start in range(0, len(entries), XADD_BATCH):
        _xadd(client, entries[start:start + XADD_BATCH], maxlen)
    client.close()


def write_with_dofn(url, articles, maxlen):
    """The sink's DoFn alone, driven as a runner drives it (setup, one bundle, teardown), over
    prebuilt articles: it makes their entries and appends each once."""
    from connectors.redis_streams import WriteToRedisStreams, _AppendToStreamsFn

    fn = _AppendToStreamsFn(*WriteToRedisStreams(url, maxlen=maxlen)._args)  # noqa: SLF001
    fn.setup()
    fn.start_bundle()
    for article in articles:
        fn.process(article)
    fn.finish_bundle()
    fn.teardown()


def write_once_prebuilt(url, entries, maxlen):
    """The idempotent script alone over prebuilt entries, in the sink's flush size."""
    import connectors.redis_streams as streams
    from connectors.redis_connection import redis_client
    from connectors.redis_streams import append_once

    flush_every = getattr(streams, "FLUSH_EVERY", None) or streams._FLUSH_EVERY  # noqa: SLF001 - older checkouts

    client = redis_client(url)
    for start in range(0, len(entries), flush_every):
        pipe = client.pipeline(transaction=False)
        append_once(pipe, entries[start:start + flush_every], maxlen=maxlen)
        pipe.execute()
    client.close()


def _xadd(client, entries, maxlen):
    if not entries:
        return
    pipe = client.pipeline(transaction=False)
    for _, stream, _, fields in entries:
        pipe.xadd(stream, fields, maxlen=maxlen, approximate=True)
    pipe.execute()


def _run_pipeline(articles, sink):
    """``Create(range(batches)) | FlatMap(article_batch) | sink`` on the FnApiRunner, built and run."""
    import apache_beam as beam

    from pipeline.options import make_pipeline

    pipeline = make_pipeline(())
    _ = (pipeline
         | "Batches" >> beam.Create(range(_batches(articles)))
         | "Articles" >> beam.FlatMap(article_batch, articles)
         | "Sink" >> sink)
    pipeline.run().wait_until_finish()


def write_with_sink(url, articles, maxlen):
    """The pipeline that writes with WriteToRedisStreams."""
    from connectors.redis_streams import WriteToRedisStreams

    _run_pipeline(articles, WriteToRedisStreams(url, maxlen=maxlen))


def run_without_sink(articles):
    """The same pipeline with ``Map(len)`` in place of the sink."""
    import apache_beam as beam

    _run_pipeline(articles, beam.Map(len))


def _checked(admin, expected, what):
    written = stream_entries(admin)
    if written != expected:
        raise RuntimeError(f"{what} wrote {written} stream entries, expected {expected}")


def measure(admin, url, articles, expected, maxlen):
    """One repeat: Timings of raw XADD, the sink's DoFn, the script alone, making entries,
    the sink pipeline and that pipeline without the sink."""
    from connectors.redis_streams import RedisKeys, article_entries

    prebuilt_articles, entries = all_articles(articles), all_entries(articles)
    keys = RedisKeys()
    times = {}
    admin.flushall()
    _, times["raw"] = timed(lambda: write_raw(url, entries, maxlen), admin)
    _checked(admin, expected, "raw XADD")
    admin.flushall()
    _, times["dofn"] = timed(lambda: write_with_dofn(url, prebuilt_articles, maxlen), admin)
    _checked(admin, expected, "the sink's DoFn")
    admin.flushall()
    _, times["script"] = timed(lambda: write_once_prebuilt(url, entries, maxlen), admin)
    _checked(admin, expected, "append_once")
    _, times["entries"] = timed(lambda: [article_entries(a, keys) for a in prebuilt_articles], admin)
    admin.flushall()
    _, times["pipeline"] = timed(lambda: write_with_sink(url, articles, maxlen), admin)
    _checked(admin, expected, "WriteToRedisStreams")
    admin.flushall()
    _, times["no sink"] = timed(lambda: run_without_sink(articles), admin)
    return times


def warm_up(admin, url):
    """One small run of each, so that no measurement pays for first imports and first pipeline set-up."""
    write_raw(url, all_entries(ARTICLES_PER_BATCH), 1000)
    write_with_dofn(url, all_articles(ARTICLES_PER_BATCH), 1000)
    write_with_sink(url, ARTICLES_PER_BATCH, 1000)
    run_without_sink(ARTICLES_PER_BATCH)
    admin.flushall()


def sink_rows(events=20_000, repeats=3):
    """Every figure as (figure, value, target, met?); medians over ``repeats``."""
    from connectors.redis_streams import DEFAULT_MAXLEN

    articles, expected = articles_for(events)
    maxlen = max(expected * 2, DEFAULT_MAXLEN)  # nothing trimmed
    repeats_seen = []
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-sink-") as directory:
        server = start_redis(directory)
        try:
            _progress("warming up")
            warm_up(server.client, server.url)
            for repeat in range(repeats):
                _progress(f"repeat {repeat + 1} of {repeats}: raw XADD, WriteToRedisStreams, no sink")
                repeats_seen.append(measure(server.client, server.url, articles, expected, maxlen))
        finally:
            server.stop()
    # Each repeat's ratio compares runs made seconds apart, under about the same load from elsewhere.
    ratio = statistics.median(t["raw"].wall / t["dofn"].wall for t in repeats_seen)
    times = {name: Timing(*(statistics.median(getattr(t[name], f) for t in repeats_seen) for f in Timing._fields))
             for name in repeats_seen[0]}
    return _rows(articles, expected, times, ratio)


def _rows(articles, events, t, ratio):
    def rate(name):
        return f"{events / t[name].wall:,.0f}"

    def cpu(name):
        return f"{t[name].cpu:.2f} / {t[name].redis_cpu:.2f}"

    runner = t["pipeline"].wall - t["no sink"].wall
    return [
        ("articles / events (stream entries) per run", f"{articles:,} / {events:,}", "", ""),
        ("raw: pipelined XADD of the prebuilt entries, events/s", rate("raw"), "", ""),
        ("sink: WriteToRedisStreams' DoFn over the prebuilt articles, events/s", rate("dofn"), "", ""),
        ("ratio sink / raw XADD (events/s, median of repeats)", f"{ratio:.2f}", f">= {TARGET_RATIO}",
         "yes" if ratio >= TARGET_RATIO else "NO"),
        ("what separates them: making the entries (s)", f"{t['entries'].wall:.2f}", "", ""),
        ("what separates them: idempotent script over prebuilt entries (s) vs raw XADD (s)",
         f"{t['script'].wall:.2f} vs {t['raw'].wall:.2f}", "", ""),
        ("CPU s, client / redis-server: raw", cpu("raw"), "", ""),
        ("CPU s, client / redis-server: sink", cpu("dofn"), "", ""),
        ("CPU s, client / redis-server: script alone", cpu("script"), "", ""),
        ("ratio of CPU s (client + server), raw / sink: what a busy machine leaves comparable",
         f"{(t['raw'].cpu + t['raw'].redis_cpu) / (t['dofn'].cpu + t['dofn'].redis_cpu):.2f}", "", ""),
        ("whole pipeline (Create | FlatMap(articles) | sink), wall incl. runner start (s)",
         f"{t['pipeline'].wall:.2f}", "", ""),
        ("same pipeline with Map(len) for the sink (s); the sink's share", f"{t['no sink'].wall:.2f}; "
         f"{runner:.2f}", "", ""),
    ]


# --- the run ----------------------------------------------------------------------------

def print_table(rows, command, started):
    import apache_beam

    versions = f"apache-beam {apache_beam.__version__}, redis-py {redis.__version__}"
    print_target_table("newsmon sink bench", versions, rows, command, started)


def _quiet_logging():
    # Importing Beam logs a note about Google Cloud clients that newsmon does not use,
    # and the runner logs at INFO and WARNING per stage.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())
    logging.getLogger("apache_beam").setLevel(logging.ERROR)


def _progress(message):
    print(f"benchmarks.sink {time.strftime('%H:%M:%S')}: {message}", file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sink", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="stream entries per run (default: 20000)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats; figures are medians (default: 3)")
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeats < 1:
        parser.error("--events and --repeats must be at least 1")
    _quiet_logging()
    started = datetime.now().astimezone()
    command = " ".join(["python -m benchmarks.sink", *(sys.argv[1:] if argv is None else argv)])
    rows = sink_rows(args.events, args.repeats)
    print_table(rows, command, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
