"""Polling feeds from a local server: feeds/s when every feed answers 200, and when every feed answers 304.

    python -m benchmarks.feeds [--feeds 1000] [--hosts 1 50] [--items 25] [--repeats 3]

One run, on the machine it runs on, for each number of hosts (and of items per feed):

1. A feed server in its own process: a minimal asyncio HTTP/1.1 server with
   canned responses and keep-alive, listening on 127.0.0.1 ... 127.0.0.N of one
   free port, so that the feeds spread over N hosts (``FetchOptions.per_host``
   limits requests per host, so one host and many hosts differ). Every feed
   (``http://127.0.0.<h>:<port>/feed/<i>``) gets the same RSS 2.0 body with
   ``--items`` items of about 700 words of HTML each, and an ETag; a request
   whose ``If-None-Match`` carries that ETag gets ``304 Not Modified``.
2. A private ``redis-server`` on a free port of 127.0.0.1 (never 6379) holds the
   feed state, emptied before each repeat.
3. ``poll_feeds(feeds, client, RedisKeys(), allow_private=True, now=T)`` with the
   default FetchOptions, timed from call to return: with no state, every feed
   answers 200 and its body is parsed into articles (all 200); then at
   ``T + 15 min`` (every feed due again), every feed sends its ETag and gets a
   304 (all 304). Each poll's wall time and this process's CPU time (the feed
   server's CPU is not counted; it shares the cores).

Figures are the medians over ``--repeats``; a poll where a feed had another
outcome than expected (a failure) shows in the table. Prints one plain table
(figure, value, target, met?) with the command, the core count and the date.
"""

import argparse
import asyncio
import hashlib
import logging
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime

import redis

from benchmarks.common import free_port, print_target_table, start_redis

__all__ = ["feed_body", "feed_rows", "main", "measure_polls"]

HOSTS = (1, 50)
ITEMS = (25,)
TARGET_304_PER_SECOND = 200
START = 1_715_860_800  # 2024-05-16 12:00 UTC: the ``now`` of the first poll
ITEM_PARAGRAPH = ("<p>Officials said the naval exercise in the Barents Sea would continue through the week, "
                  "with allied ships joining from Norway &amp; Finland.</p>")


# --- the feed server -------------------------------------------------------------

def feed_body(items):
    """An RSS 2.0 feed of ``items`` items, each with a title, link, GUID, date, summary and HTML content."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
             'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Bench</title>'
             '<link>https://bench.example/</link><description>bench</description>']
    for i in range(items):
        parts.append(f"<item><title>Item {i} about sanctions and the Arctic</title>"
                     f"<link>https://bench.example/{i}</link><guid>https://bench.example/{i}</guid>"
                     f"<pubDate>Thu, 16 May 2024 10:{i % 60:02d}:00 GMT</pubDate>"
                     f"<description>Summary of item {i}.</description>"
                     f"<content:encoded><![CDATA[{ITEM_PARAGRAPH * 6}]]></content:encoded></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def _responses(body):
    """(ETag, the 200 response, the 304 response), as bytes."""
    etag = ('"' + hashlib.sha1(body).hexdigest()[:16] + '"').encode()
    ok = (b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: " + etag
          + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    not_modified = b"HTTP/1.1 304 Not Modified\r\nETag: " + etag + b"\r\nContent-Length: 0\r\n\r\n"
    return etag, ok, not_modified


def serve(port, hosts, body, ready):
    """Serve ``body`` on 127.0.0.1 ... 127.0.0.``hosts`` at ``port`` until killed (a process target)."""
    etag, ok, not_modified = _responses(body)
    match = b"if-none-match: " + etag

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, b""

        def data_received(self, data):
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
                self.transport.write(not_modified if match in head.lower() else ok)

    async def run():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Protocol, host=[f"127.0.0.{i}" for i in range(1, hosts + 1)],
                                          port=port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(run())


def start_feed_server(hosts, body):
    """The feed server process and its port."""
    port = free_port()
    ready = multiprocessing.Event()
    process = multiprocessing.Process(target=serve, args=(port, hosts, body, ready), daemon=True)
    process.start()
    if not ready.wait(10):
        process.terminate()
        raise RuntimeError("the feed server did not start")
    return process, port


# --- measuring ----------------------------------------------------------------------

def timed_poll(feeds, client, now):
    """One ``poll_feeds``: (wall seconds, CPU seconds of this process, PollResult)."""
    from connectors.feeds import poll_feeds
    from connectors.redis_streams import RedisKeys

    start, cpu = time.perf_counter(), time.process_time()
    polled = poll_feeds(feeds, client, RedisKeys(), allow_private=True, now=now)
    return time.perf_counter() - start, time.process_time() - cpu, polled


def unexpected(polled, expected):
    """Feeds whose outcome was not ``expected``: (how many, their commonest errors)."""
    others = [stat for stat in polled.stats.values() if stat["outcome"] != expected]
    errors = Counter(stat.get("error") or stat["outcome"] for stat in others)
    return len(others), [error for error, _ in errors.most_common(2)]


def measure_polls(feed_count, hosts, items, client, repeats):
    """Median feeds/s and CPU ms per feed of the all-200 and all-304 polls, with the surprises seen."""
    from connectors.feed_lists import Feed
    from connectors.feed_state import DEFAULT_INTERVAL

    body = feed_body(items)
    process, port = start_feed_server(hosts, body)
    feeds = [Feed(f"http://127.0.0.{i % hosts + 1}:{port}/feed/{i}") for i in range(feed_count)]
    runs = {"200": [], "304": []}
    surprises = {"200": [0, []], "304": [0, []]}
    try:
        for _ in range(repeats):
            client.flushall()
            for kind, now, expected in (("200", START, "ok"), ("304", START + DEFAULT_INTERVAL, "not modified")):
                seconds, cpu, polled = timed_poll(feeds, client, now)
                runs[kind].append((feed_count / seconds, cpu / feed_count * 1000))
                count, errors = unexpected(polled, expected)
                surprises[kind][0] += count
                surprises[kind][1] = surprises[kind][1] or errors
    finally:
        process.terminate()
        process.join()
    medians = {kind: (statistics.median(rate for rate, _ in values), statistics.median(ms for _, ms in values))
               for kind, values in runs.items()}
    return {"body": len(body), "medians": medians, "surprises": surprises}


def _surprise_row(label, surprises, repeats):
    count_200, errors_200 = surprises["200"]
    count_304, errors_304 = surprises["304"]
    value = f"{count_200} / {count_304}"
    if errors_200 or errors_304:
        value += f" ({'; '.join(errors_200 + errors_304)[:60]})"
    return (f"{label}: feeds not 200 / not 304 ({repeats} repeat{'s' if repeats > 1 else ''})", value, "0 / 0",
            "yes" if count_200 == count_304 == 0 else "NO")


def feed_rows(feeds=1000, hosts=HOSTS, items=ITEMS, repeats=3):
    """Every figure as (figure, value, target, met?), for each number of hosts and items per feed."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-feeds-") as directory:
        server = start_redis(directory)
        try:
            for item_count in items:
                for host_count in hosts:
                    _progress(f"{feeds} feeds on {host_count} host(s), {item_count} items/feed")
                    result = measure_polls(feeds, host_count, item_count, server.client, repeats)
                    rows.extend(_rows(feeds, host_count, item_count, result, repeats))
        finally:
            server.stop()
    return rows


def _rows(feeds, hosts, items, result, repeats):
    label = f"{feeds:,} feeds, {hosts} host{'s' if hosts > 1 else ''}, {items} items ({result['body'] // 1024} KiB)"
    (rate_200, cpu_200), (rate_304, cpu_304) = result["medians"]["200"], result["medians"]["304"]
    return [
        (f"{label}: all 200, feeds/s", f"{rate_200:,.1f}", "", ""),
        (f"{label}: all 200, CPU ms/feed", f"{cpu_200:.1f}", "", ""),
        (f"{label}: all 304, feeds/s", f"{rate_304:,.1f}", f">= {TARGET_304_PER_SECOND}",
         "yes" if rate_304 >= TARGET_304_PER_SECOND else "NO"),
        (f"{label}: all 304, CPU ms/feed", f"{cpu_304:.2f}", "", ""),
        _surprise_row(label, result["surprises"], repeats),
    ]


# --- the run ----------------------------------------------------------------------------

def print_table(rows, command, started):
    import httpx

    versions = f"httpx {httpx.__version__}, redis-py {redis.__version__}"
    print_target_table("newsmon feed bench", versions, rows, command, started)


def _quiet_logging():
    # Importing Beam (connectors.feeds does) logs a note about Google Cloud clients newsmon does not use.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())


def _progress(message):
    print(f"benchmarks.feeds {time.strftime('%H:%M:%S')}: {message}", file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.feeds", description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000, help="feeds per poll (default: 1000)")
    parser.add_argument("--hosts", type=int, nargs="+", default=list(HOSTS),
                        help="numbers of hosts the feeds spread over, at most 254 (default: 1 50)")
    parser.add_argument("--items", type=int, nargs="+", default=list(ITEMS),
                        help="items per feed (default: 25)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats; figures are medians (default: 3)")
    args = parser.parse_args(argv)
    if args.feeds < 1 or args.repeats < 1:
        parser.error("--feeds and --repeats must be at least 1")
    if not all(1 <= hosts <= 254 for hosts in args.hosts):
        parser.error("--hosts must be between 1 and 254")
    if not all(items >= 1 for items in args.items):
        parser.error("--items must be at least 1")
    _quiet_logging()
    started = datetime.now().astimezone()
    command = " ".join(["python -m benchmarks.feeds", *(sys.argv[1:] if argv is None else argv)])
    rows = feed_rows(args.feeds, args.hosts, args.items, args.repeats)
    print_table(rows, command, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
