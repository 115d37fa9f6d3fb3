"""``alerts tail --follow`` and ``deliver`` as real subprocesses: left idle, killed, taken over.

They run unattended for hours: each is left idle longer than the Redis client's
socket timeout (redis-py's default, 5 s), then must pick up a new alert; a
consumer SIGKILLed between reading an alert and acknowledging it loses nothing,
because another consumer of its group claims the alert.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import ROOT

STREAM = "newsmon:alerts:ns2"
IDLE_SECONDS = 6.5  # longer than redis-py's default socket timeout of 5 s


def newsmon(*argv, stdout=subprocess.PIPE):
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", *argv], cwd=ROOT, stdout=stdout,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_for(condition, what, timeout=120):  # generous: two processes importing Beam on a loaded machine
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stopped(process):
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    return process.stderr.read().decode()


class HoldingReceiver:
    """A webhook receiver; while ``hold`` is set, each POST waits (bounded) until it is cleared."""

    def __init__(self):
        self.bodies = []
        self.keys = []
        self.hold = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.bodies.append(body)
                receiver.keys.append(self.headers["Idempotency-Key"])
                if receiver.hold.is_set():
                    receiver.release.wait(timeout=30)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = HoldingReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(autouse=True)
def stored_subscription(redis_db):
    """ns2 is a stored subscription with no alert yet (consumers refuse names that are neither)."""
    redis_db.hset("newsmon:subscriptions", "ns2", json.dumps({"any": ["nord stream"]}))


def consumers_of(client, group):
    try:
        return {c["name"]: c for c in client.xinfo_consumers(STREAM, group)}
    except Exception:  # noqa: BLE001 - the group does not exist yet
        return {}


def test_tail_follow_and_deliver_left_idle_pick_up_the_next_alert(redis_url, redis_db, receiver):
    tail = newsmon("alerts", "tail", "ns2", "--follow", "--json", "--redis", redis_url)
    deliver = newsmon("deliver", "ns2", "--webhook", receiver.url, "--redis", redis_url)
    try:
        wait_for(lambda: consumers_of(redis_db, "tail") and len(redis_db.xinfo_groups(STREAM)) == 2,
                 "both consumers to be reading")
        idle_from = time.monotonic()
        wait_for(lambda: time.monotonic() - idle_from > IDLE_SECONDS, "the idle period", timeout=IDLE_SECONDS + 5)
        assert tail.poll() is None and deliver.poll() is None, "a consumer died while idle"
        written = time.monotonic()
        entry_id = redis_db.xadd(STREAM, {"subscription": "ns2", "title": "Nord Stream story", "id": "a1"})
        line = tail.stdout.readline()
        tail_latency = time.monotonic() - written
        assert json.loads(line)["title"] == "Nord Stream story"
        wait_for(lambda: receiver.bodies, "the webhook POST")
        deliver_latency = time.monotonic() - written
        assert receiver.bodies[0]["alert_id"] == receiver.keys[0] == f"ns2:{entry_id}"
        print(f"idle {IDLE_SECONDS} s, then picked up after: tail {tail_latency:.3f} s,"
              f" deliver {deliver_latency:.3f} s")
        # SIGTERM ends both cleanly.
        for process in (tail, deliver):
            process.send_signal(signal.SIGTERM)
        assert tail.wait(timeout=60) == 0 and deliver.wait(timeout=60) == 0
        assert redis_db.xpending(STREAM, "tail")["pending"] == 0
    finally:
        errors = stopped(tail) + stopped(deliver)
    assert "Traceback" not in errors, errors


def test_a_deliverer_killed_between_post_and_ack_is_taken_over(redis_url, redis_db, receiver):
    receiver.hold.set()
    first = newsmon("deliver", "ns2", "--webhook", receiver.url, "--group", "hook", "--consumer", "first",
                    "--redis", redis_url)
    try:
        wait_for(lambda: consumers_of(redis_db, "hook"), "the first deliverer to be reading")
        entry_id = redis_db.xadd(STREAM, {"subscription": "ns2", "title": "Nord Stream story", "id": "a1"})
        wait_for(lambda: receiver.bodies, "the first POST")  # read, POSTed, not acknowledged
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stopped(first)
    assert redis_db.xpending(STREAM, "hook")["pending"] == 1
    receiver.hold.clear()
    receiver.release.set()
    second = newsmon("deliver", "ns2", "--webhook", receiver.url, "--group", "hook", "--consumer", "second",
                     "--claim-idle", "1", "--redis", redis_url)
    try:
        wait_for(lambda: len(receiver.bodies) == 2, "the second deliverer to send the alert again")
        wait_for(lambda: redis_db.xpending(STREAM, "hook")["pending"] == 0, "the ack")
    finally:
        stopped(second)
    # The same alert twice (at least once), with one key a receiver can drop the repeat by.
    assert receiver.keys == [f"ns2:{entry_id}"] * 2


def test_a_tail_killed_between_read_and_ack_loses_no_alert(redis_url, redis_db):
    """The first consumer's output is a pipe nobody reads: it blocks printing, alerts read but not acked."""
    first = newsmon("alerts", "tail", "ns2", "--follow", "--json", "--group", "desk", "--consumer", "first",
                    "--redis", redis_url)
    try:
        wait_for(lambda: consumers_of(redis_db, "desk"), "the first consumer to be reading")
        titles = [f"Story {i} " + "x" * 20_000 for i in range(10)]  # 200 kB: more than a pipe holds
        for i, title in enumerate(titles):
            redis_db.xadd(STREAM, {"subscription": "ns2", "title": title, "id": str(i)})
        wait_for(lambda: consumers_of(redis_db, "desk").get("first", {}).get("pending", 0) > 0,
                 "alerts read but not acknowledged")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        printed_by_first = [json.loads(line)["title"] for line in first.stdout.read().decode().splitlines()
                            if line.endswith("}")]
    finally:
        stopped(first)
    left_pending = consumers_of(redis_db, "desk")["first"]["pending"]
    assert left_pending > 0
    second = newsmon("alerts", "tail", "ns2", "--json", "--group", "desk", "--consumer", "second",
                     "--claim-idle", "0", "--redis", redis_url)
    out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err.decode()
    printed_by_second = [json.loads(line)["title"] for line in out.decode().splitlines()]
    assert len(printed_by_second) >= left_pending
    assert set(printed_by_first) | set(printed_by_second) == set(titles)
    assert redis_db.xpending(STREAM, "desk")["pending"] == 0
