"""``newsmon monitor`` as a real subprocess: how it stops, and that one slow feed holds back no other.

- ``--max-polls N`` is N poll cycles: the feed server sees exactly N requests, then the monitor exits 0.
- A monitor started when no feed is due says when the first poll will be (it waits for it: not a
  hang); ``--force`` polls every feed at once, so ``--max-polls 1 --force`` ends after one poll.
- ``--duration`` and SIGTERM end it within a few seconds even while Redis is down.
- A feed trickling in at one byte a second does not delay the event of a good feed beside it.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import ROOT, RedisServer

STORY = ("<item><guid>urn:test:{name}</guid><title>EU agrees asset freeze on {name}</title>"
         "<link>https://news.example/{name}</link><description>The European Union agreed an asset freeze "
         "on {name} on Monday, officials said.</description></item>")


def rss(name):
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{name} wire</title>'
            f"{STORY.format(name=name)}</channel></rss>").encode()


class Feeds:
    """Feeds on 127.0.0.1: ``/<name>.xml`` at once, ``/slow.xml`` at one byte a second (until the
    test ends). Counts the requests per path."""

    def __init__(self):
        self.requests = {}
        self.release = threading.Event()
        self.trickling = threading.Event()
        self.trickle_done = threading.Event()
        self.lock = threading.Lock()
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - the name http.server calls
                with feeds.lock:
                    feeds.requests[self.path] = feeds.requests.get(self.path, 0) + 1
                name = self.path.strip("/").removesuffix(".xml")
                body = rss(name)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name != "slow":
                    self.wfile.write(body)
                    return
                feeds.trickling.set()
                try:
                    for byte in body:
                        if feeds.release.wait(1.0):
                            break
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                except OSError:
                    pass
                finally:
                    feeds.trickle_done.set()
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def count(self, path):
        with self.lock:
            return self.requests.get(path, 0)

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feeds():
    server = Feeds()
    yield server
    server.close()


def feed_list(tmp_path, feeds, *names):
    path = tmp_path / f"{'-'.join(names)}.txt"
    path.write_text("".join(f"{feeds.base}/{name}.xml\n" for name in names), encoding="utf-8")
    return path


def monitor(feedlist, redis_url, log_path, *extra):
    log = open(log_path, "w")
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "monitor", str(feedlist), "--interval", "1", "--allow-private",
         "--redis", redis_url, *extra], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def killed(process):
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def test_max_polls_means_poll_cycles(feeds, redis_url, tmp_path):
    log = tmp_path / "monitor.log"
    process = monitor(feed_list(tmp_path, feeds, "counted"), redis_url, log, "--max-polls", "3")
    try:
        assert process.wait(timeout=90) == 0, log.read_text()
    finally:
        killed(process)
    assert feeds.count("/counted.xml") == 3, log.read_text()
    assert log.read_text().count(" poll: ") >= 1


@pytest.fixture
def durable_redis(tmp_path):
    server = RedisServer(tmp_path, durable=True).start()
    yield server
    server.stop()


@pytest.mark.slow
def test_duration_and_sigterm_end_a_monitor_while_redis_is_down(feeds, durable_redis, tmp_path):
    timed_log, signalled_log = tmp_path / "timed.log", tmp_path / "signalled.log"
    duration = 90  # at load 15 a monitor's first poll comes up to ~60 s after its start line
    # The monitor without a duration starts first, so that the timed one's duration holds only
    # its own start-up-free run, both first polls and the outage (not a second start-up).
    signalled = monitor(feed_list(tmp_path, feeds, "signalled"), durable_redis.url, signalled_log)
    timed = None
    try:
        wait_for(lambda: "newsmon: monitoring" in signalled_log.read_text(), "the first monitor to start")
        timed = monitor(feed_list(tmp_path, feeds, "timed"), durable_redis.url, timed_log, "--duration",
                        str(duration))
        wait_for(lambda: "newsmon: monitoring" in timed_log.read_text(), "the monitor to start")
        started = time.monotonic()  # the duration counts from here (the command's start-up is before it)
        wait_for(lambda: feeds.count("/timed.xml") and feeds.count("/signalled.xml"), "both monitors to poll",
                 timeout=duration - 10)
        durable_redis.stop()
        assert time.monotonic() - started < duration, "Redis went down only after the duration was over"
        wait_for(lambda: "Redis unreachable" in signalled_log.read_text(), "the outage to be noticed")
        signalled.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        assert signalled.wait(timeout=30) == 0, signalled_log.read_text()
        after_signal = time.monotonic() - sent
        assert timed.wait(timeout=duration + 30) == 0, timed_log.read_text()
        ran = time.monotonic() - started
    finally:
        if timed is not None:
            killed(timed)
        killed(signalled)
    print(f"SIGTERM to exit with Redis down: {after_signal:.1f} s; --duration {duration} ran {ran:.1f} s")
    assert "Traceback" not in timed_log.read_text() + signalled_log.read_text()


def test_a_feed_trickling_one_byte_a_second_holds_back_no_other(feeds, redis_url, redis_db, tmp_path):
    log = tmp_path / "monitor.log"
    process = monitor(feed_list(tmp_path, feeds, "slow", "good"), redis_url, log)
    try:
        wait_for(lambda: redis_db.xlen("newsmon:events") == 1, "the good feed's event")
        # Written while the slow feed is still arriving, a byte a second.
        assert feeds.trickling.is_set() and not feeds.trickle_done.is_set()
        [(_, event)] = redis_db.xrange("newsmon:events")
        assert event["title"] == "EU agrees asset freeze on good"
        # The slow feed is fetched once, not started again by every tick while it trickles.
        assert feeds.count("/slow.xml") == 1 and feeds.count("/good.xml") >= 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        killed(process)


@pytest.mark.slow
def test_a_monitor_with_no_feed_due_says_so_and_force_polls_at_once(feeds, redis_url, tmp_path):
    feedlist = feed_list(tmp_path, feeds, "scheduled")
    first, waiting, forced = (tmp_path / f"{name}.log" for name in ("first", "waiting", "forced"))
    quarter_hour = ("--max-polls", "1", "--interval", "900")  # the last --interval wins over the helper's
    process = monitor(feedlist, redis_url, first, *quarter_hour)
    try:
        assert process.wait(timeout=120) == 0, first.read_text()
    finally:
        killed(process)
    assert feeds.count("/scheduled.xml") == 1, first.read_text()
    assert "no feed is due" not in first.read_text()
    # The feed is not due for 15 minutes: the same command waits for it, and says so at once.
    process = monitor(feedlist, redis_url, waiting, *quarter_hour)
    try:
        wait_for(lambda: "no feed is due yet: the first poll is at" in waiting.read_text(),
                 "the line saying when the first poll will be", timeout=120)
        assert "--force polls them now" in waiting.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, waiting.read_text()
    finally:
        killed(process)
    assert feeds.count("/scheduled.xml") == 1, waiting.read_text()
    # --force: polled at once, and --max-polls 1 ends the run after that one poll.
    process = monitor(feedlist, redis_url, forced, *quarter_hour, "--force")
    try:
        assert process.wait(timeout=120) == 0, forced.read_text()
    finally:
        killed(process)
    assert feeds.count("/scheduled.xml") == 2, forced.read_text()
    assert "Traceback" not in first.read_text() + waiting.read_text() + forced.read_text()
