"""The dashboard with real volumes: each page's server time, the alerts page's requests per second,
and how fast a new alert reaches 100 open live pages (and a real browser).

    python -m benchmarks.web [--alerts 100000] [--stories 10000] [--feeds 2000] [--listeners 100]

One run, with a private ``redis-server`` on a free port of 127.0.0.1 and a real ``newsmon web``
process on another:

1. Volumes, written straight into Redis as the pipeline leaves them: ``--alerts`` alerts over 20
   subscriptions' streams (with their idempotency markers), ``--stories`` stories of 3 articles,
   ``--feeds`` feed states, 1,000 dead letters.
2. Server time: each page requested ``--requests`` times one after the other over keep-alive
   HTTP on 127.0.0.1; p50 and p95 of the time to the whole answer. Target: p95 < 200 ms.
3. Requests per second of the live alerts page (the latest 50 alerts of every stream, merged and
   rendered) with 8 concurrent clients for ``--seconds``.
4. Live: ``--listeners`` open event streams (/events), then ``--pushes`` alerts written with XADD one
   at a time; for each, the time until every listener has it (the slowest of them), p50 and max.
   Target: < 1 s. Then the same alert path into a page in Debian's headless chromium (XADD to
   the alert shown in the DOM), p50 and max, when chromium is installed.
"""

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

from benchmarks.common import print_target_table, progress, start_redis

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIPTIONS = 20
PAGES = ["/", "/stories", "/stories?sort=size", "/stories/{story}", "/trends", "/feeds", "/subscriptions",
         "/deadletters"]


def fill(client, alerts, stories, feeds):
    """Alerts, stories, feeds and dead letters as the pipeline and the poller leave them."""
    prefix = "newsmon:"
    pipe = client.pipeline(transaction=False)
    for n in range(SUBSCRIPTIONS):
        pipe.hset(f"{prefix}subscriptions", f"desk-{n}", json.dumps({"topics": ["sanctions"], "any": [f"term{n}"]}))
    evidence = json.dumps(["Germany halted the certification of the Nord Stream 2 pipeline, citing sanctions "
                           "on Russia, officials said on Tuesday."])
    topics = json.dumps([{"id": "sanctions", "evidence": []}, {"id": "energy_infrastructure", "evidence": []}])
    entities = json.dumps([{"canonical": name, "label": "GPE"} for name in ("Germany", "Russia", "Ukraine")])
    for i in range(alerts):
        sub = f"desk-{i % SUBSCRIPTIONS}"
        pipe.xadd(f"{prefix}alerts:{sub}", {
            "subscription": sub, "id": f"a{i}", "title": f"Article {i}: Germany halts Nord Stream 2 certification",
            "url": f"https://news.example/{i}", "source": f"Source {i % 300}", "published": "2026-11-30T07:30:00Z",
            "origin": "feed", "language": "en", "story": f"s{i % max(stories, 1)}", "score": "0.64",
            "terms": json.dumps(["nord stream", "sanctions"]), "evidence": evidence, "topics": topics,
            "entities": entities, "alert": "new", "story_articles": "3", "story_sources": "2"})
        pipe.set(f"{prefix}seen:alerts:{sub}:a{i}", "1")
        if i % 1000 == 999:
            pipe.execute()
    now = time.time()
    for s in range(stories):
        last = now - (s % 86400)
        pipe.hset(f"{prefix}story:s{s}", mapping={
            "headline": f"Story {s}: pipeline certification halted", "url": f"https://news.example/s{s}",
            "first": last - 3600, "last": last, "articles": 1 + s % 7, "sources": 1 + s % 4,
            "topics": json.dumps({"sanctions": 3}),
            "entities": json.dumps({"germany": ["Germany", "GPE", 3], "russia": ["Russia", "GPE", 2]})})
        pipe.hset(f"{prefix}story:s{s}:articles", mapping={
            f"a{s}-{k}": json.dumps({"time": last - 600 * k, "source": f"Source {k}", "title": f"Report {k}",
                                     "url": f"https://news.example/s{s}/{k}", "how": "same_event"})
            for k in range(3)})
        pipe.zadd(f"{prefix}stories:by_time", {f"s{s}": last})
        if s % 500 == 499:
            pipe.execute()
    for f in range(feeds):
        pipe.hset(f"{prefix}feed:f{f:05d}", mapping={
            "url": f"https://feeds{f % 50}.example/{f}.xml", "title": f"Feed {f}",
            "health": "ok" if f % 10 else "failing",
            "last_status": "200" if f % 10 else "503", "items": str(f % 40), "failures": "0" if f % 10 else "2",
            "next_poll": str(int(now) + f % 900), "last_poll": str(int(now) - 60), "etag": '"x"',
            "last_error": "" if f % 10 else "HTTP 503 Service Unavailable"})
        if f % 500 == 499:
            pipe.execute()
    for d in range(1000):
        pipe.xadd(f"{prefix}deadletter", {"stage": "fetch" if d % 2 else "deliver", "origin": f"https://feed.example/{d}",
                                          "error": "timeout", "article_id": ""})
    pipe.execute()
    return client.dbsize()


class WebProcess:
    def __init__(self, redis_url):
        self.process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "web", "--port", "0", "--redis",
                                         redis_url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        self.url = None
        for line in self.process.stdout:
            found = re.search(r"serving (http://\S+/) ", line)
            if found:
                self.url = found.group(1)
                break
        if not self.url:
            raise SystemExit("newsmon web did not start")
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def page_times(url, path, requests):
    times = []
    with httpx.Client(base_url=url, timeout=60) as client:
        client.get(path)  # warm: templates compiled, connections open
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def requests_per_second(url, path, clients, seconds):
    done = []
    deadline = time.perf_counter() + seconds

    failed = []

    def work():
        count = 0
        try:
            with httpx.Client(base_url=url, timeout=60) as client:
                while time.perf_counter() < deadline:
                    client.get(path).raise_for_status()
                    count += 1
        except Exception as error:  # noqa: BLE001 - said below, in the main thread
            failed.append(error)
        done.append(count)

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise SystemExit(f"{path}: {failed[0]!r}")
    return sum(done) / (time.perf_counter() - started)


async def live_latency(url, redis_client, listeners, pushes):
    """For each pushed alert: seconds from XADD until the slowest of ``listeners`` streams has it."""
    ready = asyncio.Event()
    connected = []
    arrivals = {}  # title -> [arrival times]

    async def listen(client):
        async with client.stream("GET", url + "events") as stream:
            async for line in stream.aiter_lines():
                if line == "data: ok":
                    connected.append(1)
                    if len(connected) == listeners:
                        ready.set()
                found = re.search(r"Pushed (\d+)</", line)
                if found:
                    arrivals.setdefault(found.group(1), []).append(time.perf_counter())

    limits = httpx.Limits(max_connections=listeners + 10)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, read=None), limits=limits) as client:
        tasks = [asyncio.create_task(listen(client)) for _ in range(listeners)]
        await asyncio.wait_for(ready.wait(), 120)
        latencies = []
        for n in range(pushes):
            written = time.perf_counter()
            redis_client.xadd("newsmon:alerts:desk-0", {"subscription": "desk-0", "title": f"Pushed {n}",
                                                        "terms": "[]", "evidence": "[]", "topics": "[]"})
            deadline = time.perf_counter() + 30
            while len(arrivals.get(str(n), [])) < listeners and time.perf_counter() < deadline:
                await asyncio.sleep(0.002)
            got = arrivals.get(str(n), [])
            if len(got) < listeners:
                raise SystemExit(f"alert {n} reached {len(got)} of {listeners} listeners in 30 s")
            latencies.append(max(got) - written)
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return latencies


def browser_latency(url, redis_client, pushes):
    """Seconds from XADD until the alert is in the DOM of a page open in Debian's chromium."""
    import shutil

    chromium = shutil.which("chromium")
    if not chromium:
        return None
    from playwright.sync_api import sync_playwright

    latencies = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("document.getElementById('live-status').textContent.startsWith('live')")
        for n in range(pushes):
            written = time.perf_counter()
            redis_client.xadd("newsmon:alerts:desk-0", {"subscription": "desk-0", "title": f"Browser {n}",
                                                        "terms": "[]", "evidence": "[]", "topics": "[]"})
            page.locator("#alerts h2", has_text=f"Browser {n}").first.wait_for(timeout=30_000)
            latencies.append(time.perf_counter() - written)
        browser.close()
    return latencies


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.web", description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--feeds", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=40, help="requests per page for the server times")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the requests/s run lasts")
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--pushes", type=int, default=20)
    args = parser.parse_args(argv)
    started = datetime.now().astimezone()
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        redis = start_redis(directory)
        web = None
        try:
            progress(f"filling Redis: {args.alerts} alerts, {args.stories} stories, {args.feeds} feeds")
            keys = fill(redis.client, args.alerts, args.stories, args.feeds)
            rows.append(("volumes: keys in Redis", f"{keys:,}", "", ""))
            web = WebProcess(redis.url)
            for path in PAGES:
                path = path.format(story=f"s{args.stories // 2}")
                progress(f"server time of {path}")
                p50, p95 = page_times(web.url, path, args.requests)
                rows.append((f"server time {path}: p50 / p95 ms", f"{p50 * 1000:.0f} / {p95 * 1000:.0f}",
                             "p95 < 200 ms", "yes" if p95 < 0.2 else "no"))
            progress("requests/s of the live alerts page")
            rate = requests_per_second(web.url, "/", 8, args.seconds)
            rows.append(("live alerts page, 8 clients: requests/s", f"{rate:.0f}", "", ""))
            progress(f"{args.listeners} live listeners, {args.pushes} alerts")
            latencies = asyncio.run(live_latency(web.url, redis.client, args.listeners, args.pushes))
            rows.append((f"XADD -> all {args.listeners} event streams: p50 / max ms",
                         f"{statistics.median(latencies) * 1000:.0f} / {max(latencies) * 1000:.0f}", "max < 1000 ms",
                         "yes" if max(latencies) < 1.0 else "no"))
            progress("XADD to the DOM of a page in chromium")
            shown = browser_latency(web.url, redis.client, min(args.pushes, 10))
            if shown:
                rows.append(("XADD -> alert in chromium's DOM: p50 / max ms",
                             f"{statistics.median(shown) * 1000:.0f} / {max(shown) * 1000:.0f}", "", ""))
        finally:
            if web is not None:
                web.stop()
            redis.stop()
    import redis as redis_py
    import starlette
    import uvicorn

    versions = f"starlette {starlette.__version__}, uvicorn {uvicorn.__version__}, redis-py {redis_py.__version__}"
    command = "python -m benchmarks.web " + " ".join(argv if argv is not None else sys.argv[1:])
    print_target_table("newsmon web bench", versions, rows, command.strip(), started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
