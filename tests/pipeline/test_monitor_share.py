"""Three real ``newsmon monitor`` processes on one feed list and one Redis divide the feeds between
them; when one is killed, the others poll its feeds within one lease period; no alert is written twice."""

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import pytest

from connectors.feed_lists import load_feed_list
from connectors.feed_state import FeedShare, feed_group, rendezvous_owner
from pipeline.monitor import share_lease, tick_seconds
from tests.conftest import ROOT
from tests.servers import RedisServer

FEEDS = 30  # enough that each of three monitors owns some (all to one: ~1e-5)
INTERVAL = 3.0


class FeedFarm:
    """Many RSS feeds on one local server, ``/f<n>.xml``, each its own items; logs each request's time."""

    def __init__(self, count):
        self.items = {f"/f{n}.xml": [] for n in range(count)}
        self.requests = {path: [] for path in self.items}
        self.lock = threading.Lock()
        farm = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with farm.lock:
                    if self.path not in farm.items:
                        self.send_error(404)
                        return
                    farm.requests[self.path].append(time.monotonic())
                    body = farm.render(self.path)
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def urls(self):
        return [self.base + path for path in self.items]

    def publish(self, path, guid):
        with self.lock:
            self.items[path].insert(0, guid)

    def render(self, path):
        entries = "".join(
            f"<item><guid isPermaLink=\"false\">{escape(guid)}</guid>"
            f"<title>Pipeline watch {escape(guid)}</title><link>https://news.example/{escape(guid)}</link>"
            f"<description>Engineers inspected the pipeline section {escape(guid)} on Tuesday.</description>"
            f"<pubDate>{formatdate(1_700_000_000 + i)}</pubDate></item>"
            for i, guid in enumerate(self.items[path]))
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{path}</title>'
                f"<link>https://news.example/</link><description>d</description>{entries}</channel></rss>").encode()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_for(condition, what, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def test_rendezvous_moves_only_the_leaving_members_feeds():
    feeds = [f"feed{n}" for n in range(300)]
    three = {f: rendezvous_owner(f, ["a", "b", "c"]) for f in feeds}
    two = {f: rendezvous_owner(f, ["a", "c"]) for f in feeds}
    assert all(two[f] == three[f] for f in feeds if three[f] != "b")
    assert all(60 < list(three.values()).count(m) < 140 for m in "abc")
    assert rendezvous_owner("feed1", []) is None


def test_a_share_is_every_feed_of_a_lone_member_and_a_lapsed_lease_drops_out(redis_db):
    feeds = [f"feed{n}" for n in range(20)]
    alone = FeedShare(redis_db, "t:", feed_group(feeds), "a", lease=10)
    alone.heartbeat(now=1000)
    assert alone.mine(feeds, now=1001) == feeds
    other = FeedShare(redis_db, "t:", feed_group(feeds), "b", lease=10)
    other.heartbeat(now=1002)
    split = alone.mine(feeds, now=1005), other.mine(feeds, now=1005)
    assert sorted(split[0] + split[1]) == sorted(feeds) and not set(split[0]) & set(split[1])
    assert other.mine(feeds, now=1011) == feeds  # a's lease ran out at 1010
    other.leave()
    assert other.members(now=1005) == ["a"]


@pytest.fixture
def farm():
    farm = FeedFarm(FEEDS)
    yield farm
    farm.stop()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def start_monitor(feedlist, subscriptions, redis_url, tmp_path, name):
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - the process writes it until it ends
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "monitor", str(feedlist), "--interval", str(INTERVAL),
         "--allow-private", "--redis", redis_url, "--subscriptions", str(subscriptions)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_three_monitors_divide_the_feeds_and_take_over_a_killed_ones(farm, redis_server, tmp_path):
    feedlist = tmp_path / "feeds.txt"
    feedlist.write_text("\n".join(farm.urls()) + "\n", encoding="utf-8")
    subscriptions = tmp_path / "subscriptions.yaml"
    subscriptions.write_text("subscriptions:\n  pipelines:\n    any: [pipeline]\n    per: article\n", encoding="utf-8")
    feeds = load_feed_list(feedlist)
    feed_ids = {feed.url: feed.feed_id for feed in feeds}
    for path in farm.items:
        farm.publish(path, f"{path[1:-4]}-1")
    client = redis_server.client
    members_key = f"newsmon:monitors:{feed_group(feed_ids.values())}"
    lease = share_lease(tick_seconds(INTERVAL))

    def alerts():
        return [fields["id"] for _, fields in client.xrange("newsmon:alerts:pipelines")]

    def pollers():
        return {url: client.hget(f"newsmon:feed:{feed_id}", "poller") or "" for url, feed_id in feed_ids.items()}

    monitors = [start_monitor(feedlist, subscriptions, redis_server.url, tmp_path, f"m{n}") for n in range(3)]
    try:
        wait_for(lambda: client.zcard(members_key) == 3, "three monitors in the feed list's group", 300)
        members = sorted(client.zrange(members_key, 0, -1))
        joined = time.monotonic()
        # Every feed polled after all three joined, each by its owner: three shares.
        wait_for(lambda: all(times and times[-1] > joined for times in farm.requests.values()),
                 "a poll of every feed after all joined", 120)
        wait_for(lambda: set(pollers().values()) == set(members)
                 and all(rendezvous_owner(feed_ids[u], members) == p for u, p in pollers().items()),
                 "each feed polled by its owner", 60)
        wait_for(lambda: len(alerts()) == FEEDS, "an alert per item", 120)

        # Kill one: its feeds, with a new item each, are polled by the others within a lease.
        victim = monitors[1]
        victim_name = next(m for m in members if f"-{victim.pid}-" in f"{m}-")
        orphaned = [url for url, p in pollers().items() if p == victim_name]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        killed = time.monotonic()
        for url in orphaned:
            farm.publish(url[len(farm.base):], f"{url[len(farm.base) + 1:-4]}-2")
        wait_for(lambda: all(pollers()[url] not in ("", victim_name) for url in orphaned),
                 "the killed monitor's feeds polled by the others", lease + 4 * INTERVAL + 60)
        takeover = time.monotonic() - killed
        wait_for(lambda: len(alerts()) == FEEDS + len(orphaned), "an alert per new item", 120)
        assert client.zcount(members_key, time.time(), "+inf") == 2  # live members
    finally:
        for process in monitors:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in monitors:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    ids = alerts()
    assert len(ids) == len(set(ids)) == FEEDS + len(orphaned)  # no alert twice
    # Each feed fetched once per due time: a feed is due INTERVAL after its last poll started, and a
    # poll starts only after an atomic claim of that due time, whatever the members believe. So poll
    # starts are at least INTERVAL apart; a request reaches the server up to a poll's start-up later
    # (on this loaded 2-core machine, up to two intervals), hence at most two requests more. Monitors
    # fetching one due time each would double or triple the count.
    for path, times in farm.requests.items():
        assert len(times) <= (times[-1] - times[0]) / INTERVAL + 3, (path, len(times), times[-1] - times[0])
    print(f"takeover of {len(orphaned)} feeds after the kill: {takeover:.1f} s (lease {lease:g} s)")
