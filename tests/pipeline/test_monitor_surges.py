"""``newsmon monitor`` as a real process looks for surges on its tick, and a restart repeats none."""

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from connectors.counts import ArticleCounter, CountOptions
from tests.conftest import ROOT
from tests.servers import LiveFeed


def _iso(seconds):
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _count(client, articles, now):
    counter = ArticleCounter(CountOptions(reference=now))
    for article in articles:
        counter.add(article, now=now)
    pipe = client.pipeline(transaction=False)
    counter.write(pipe)
    pipe.execute()


def _article(i, moment, source, entities):
    return {"id": f"m{i}", "title": f"Story {i}", "published": _iso(moment), "source": source,
            "topics": [{"id": "sanctions"}], "entities": [{"canonical": e, "label": "ORG"} for e in entities]}


def _history_and_burst(client, now):
    """Ten days of one sanctions article an hour; in the last 40 minutes, 24 about Gazprom from 12 outlets."""
    articles = [_article(i, now - 10 * 86400 + i * 3600 + 600, f"outlet{i % 4}", ["Ministry"])
                for i in range(10 * 24 - 2)]
    articles += [_article(10_000 + k, now - 40 * 60 + k * 100, f"wire{k % 12}", ["Gazprom"]) for k in range(24)]
    _count(client, articles, now)


def start_monitor(feedlist, redis_url, log_path):
    log = open(log_path, "w")
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "monitor", str(feedlist), "--interval", "30", "--allow-private",
         "--spike-every", "1", "--redis", redis_url], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_for(condition, what, timeout=90):
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


def test_monitor_announces_a_surge_on_its_tick_once_across_a_restart(redis_url, redis_db, feed_server, tmp_path):
    _history_and_burst(redis_db, time.time())
    feedlist = tmp_path / "feeds.txt"
    feedlist.write_text(feed_server.url + "\n", encoding="utf-8")
    log = tmp_path / "monitor.log"
    process = start_monitor(feedlist, redis_url, log)
    try:
        wait_for(lambda: redis_db.xlen("newsmon:spikes") > 0, "a surge on newsmon:spikes")
        wait_for(lambda: "surge " in log.read_text(), "the surge line")
        announced = redis_db.xlen("newsmon:spikes")
        series = {fields["series"] for _, fields in redis_db.xrange("newsmon:spikes")}
        assert "entity:Gazprom" in series and "entity:Ministry" not in series
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    # Restarted, idle for a few ticks: the same surge is not announced again.
    process = start_monitor(feedlist, redis_url, tmp_path / "again.log")
    try:
        last = float(redis_db.hget("newsmon:spikes:state", "\x00last") or 0)
        wait_for(lambda: float(redis_db.hget("newsmon:spikes:state", "\x00last") or 0) > last + 2,
                 "three more surge checks")
        assert redis_db.xlen("newsmon:spikes") == announced
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
