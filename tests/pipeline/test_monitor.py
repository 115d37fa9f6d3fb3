"""End to end: ``newsmon monitor`` against a local feed server whose content changes.

One long test (marked slow): new items alert, repeats do not, a subscription
added mid-run is picked up, SIGTERM then restart neither duplicates nor misses,
and a Redis outage mid-run loses nothing.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from connectors.redis_streams import RedisKeys
from connectors.subscription_store import SubscriptionStore
from tests.conftest import ROOT
from tests.servers import FeedItem, LiveFeed, RedisServer

STORIES = {
    "ns-1": ("Germany halts Nord Stream 2 certification",
             "Berlin said on Tuesday it had halted the certification of the Nord Stream 2 gas pipeline."),
    "ns-2": ("Gazprom cuts flows through Nord Stream",
             "Gazprom cut gas flows through the Nord Stream pipeline to a fifth of capacity."),
    "arctic-1": ("Russia moves bombers to Arctic air base",
                 "Russia deployed strategic bombers and fighter jets to an air base in the Arctic, "
                 "its Northern Fleet said."),
    "ns-3": ("Nord Stream repairs stall",
             "Repairs to the Nord Stream pipeline have stalled, the operator said on Friday."),
    "ns-4": ("EU weighs Nord Stream sanctions",
             "The European Union weighed sanctions linked to Nord Stream on Monday."),
}


def show(feed, guids):
    """The feed lists these stories from now on."""
    feed.set_items([FeedItem(f"urn:test:{guid}", *STORIES[guid], link=f"https://news.example/{guid}",
                             published=1700000000 + i * 60) for i, guid in enumerate(guids)])


def wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def feed_server():
    server = LiveFeed()
    yield server
    server.stop()


@pytest.fixture
def durable_redis(tmp_path):
    server = RedisServer(tmp_path, durable=True).start()
    yield server
    server.stop()


def start_monitor(feedlist, redis_url, tmp_path, name):
    log = open(tmp_path / f"{name}.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "monitor", str(feedlist), "--interval", "1", "--allow-private",
         "--redis", redis_url], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    return process, tmp_path / f"{name}.log"


def alert_ids(client, subscription):
    return [fields["id"] for _, fields in client.xrange(f"newsmon:alerts:{subscription}")]


def last_poll(client, feed_id):
    return int(client.hget(f"newsmon:feed:{feed_id}", "last_poll") or 0)


@pytest.mark.slow
def test_monitor_alerts_new_items_once_across_restarts_and_a_redis_outage(feed_server, durable_redis, tmp_path):
    from connectors.feed_lists import feed_id

    client = redis.Redis.from_url(durable_redis.url, decode_responses=True)
    store = SubscriptionStore(client, RedisKeys())
    store.add("ns2", {"any": ["nord stream"]})
    feedlist = tmp_path / "feeds.txt"
    feedlist.write_text(feed_server.url + "\n", encoding="utf-8")
    fid = feed_id(feed_server.url)

    def ns2_titles():
        return [fields["title"] for _, fields in client.xrange("newsmon:alerts:ns2")]

    show(feed_server, ["ns-1"])
    monitor, log = start_monitor(feedlist, durable_redis.url, tmp_path, "first")
    try:
        wait_for(lambda: len(ns2_titles()) == 1, "the first alert")
        show(feed_server, ["ns-1", "ns-2"])
        wait_for(lambda: len(ns2_titles()) == 2, "the alert of a new item")
        # The same items polled again write nothing new.
        polled = last_poll(client, fid)
        wait_for(lambda: last_poll(client, fid) >= polled + 2, "two more polls")
        assert len(ns2_titles()) == 2
        # A subscription added while the monitor runs is picked up.
        store.add("arctic-desk", {"any": ["arctic"], "entities": {"GPE": ["Russia"]}})
        show(feed_server, ["ns-1", "ns-2", "arctic-1"])
        wait_for(lambda: client.xlen("newsmon:alerts:arctic-desk") == 1, "the new subscription's alert")
        # SIGTERM: exit 0 within a few seconds.
        monitor.send_signal(signal.SIGTERM)
        assert monitor.wait(timeout=15) == 0, log.read_text()
    finally:
        if monitor.poll() is None:
            monitor.kill()

    # An item that appears while the monitor is down is alerted after the restart, and nothing twice.
    show(feed_server, ["ns-1", "ns-2", "arctic-1", "ns-3"])
    monitor, log = start_monitor(feedlist, durable_redis.url, tmp_path, "second")
    try:
        wait_for(lambda: len(ns2_titles()) == 3, "the alert of the item that appeared while down")
        # Redis goes away mid-run and comes back: the item published meanwhile is alerted once.
        durable_redis.stop()
        show(feed_server, ["ns-1", "ns-2", "arctic-1", "ns-3", "ns-4"])
        wait_for(lambda: "Redis unreachable" in log.read_text(), "the monitor to notice the outage")
        durable_redis.start()
        wait_for(lambda: len(ns2_titles()) == 4, "the alert of the item published during the outage")
        polled = last_poll(client, fid)
        wait_for(lambda: last_poll(client, fid) >= polled + 2, "two more polls")
        monitor.send_signal(signal.SIGINT)
        assert monitor.wait(timeout=15) == 0, log.read_text()
    finally:
        if monitor.poll() is None:
            monitor.kill()
    assert ns2_titles() == [STORIES[g][0] for g in ("ns-1", "ns-2", "ns-3", "ns-4")]
    assert client.xlen("newsmon:alerts:arctic-desk") == 1
    output = log.read_text()
    assert "poll:" in output and "Redis unreachable" in output and "is back" in output
    json.dumps(output)  # the log is text
