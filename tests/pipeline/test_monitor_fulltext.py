"""``newsmon monitor`` with ``fulltext: auto`` as a real process: an item's page is fetched, its text
tagged; left idle, stopped and restarted, nothing is fetched or written twice."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.servers import FeedItem, LiveFeed, PageServer

PAGE_IDS = ["nytimes-nyc-underground-utilities", "wapo-us-israel-relations"]


def wait_for(condition, what, process, log, timeout=300):
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the monitor exited with {process.returncode} while waiting for {what}:\n"
                                 + log.read_text(errors="replace")[-3000:])
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n" + log.read_text(errors="replace")[-3000:])
        time.sleep(0.2)


def start(feedlist, redis_url, log):
    with open(log, "a") as out:
        return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "monitor", str(feedlist), "--interval", "1",
                                 "--allow-private", "--redis", redis_url], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def item(pages, page_id):
    page = pages.manifest[page_id]
    return FeedItem(f"urn:test:{page_id}", page["title"], page["teaser"], link=pages.url(page_id))


@pytest.mark.slow
def test_monitor_tags_the_page_and_fetches_it_once_across_a_restart(redis_url, redis_db, tmp_path):
    pages = PageServer().start()
    feed = LiveFeed()
    feedlist = tmp_path / "feeds.yaml"
    feedlist.write_text(f"- url: {feed.url}\n  fulltext: auto\n", encoding="utf-8")
    log = tmp_path / "monitor.log"
    process = None

    def events():
        return {fields["title"]: fields for _, fields in redis_db.xrange("newsmon:events")}

    try:
        feed.set_items([item(pages, PAGE_IDS[0])])
        process = start(feedlist, redis_url, log)
        first = pages.manifest[PAGE_IDS[0]]["title"]
        wait_for(lambda: first in events(), "the first item's event", process, log)
        assert events()[first]["text_source"] == "fulltext"
        assert "energy_infrastructure" in events()[first]["topics"]  # from the page: the teaser has no topic
        # Idle polls (304s) fetch nothing; a new item's page is fetched while it runs.
        feed.publish(item(pages, PAGE_IDS[1]))
        second = pages.manifest[PAGE_IDS[1]]["title"]
        wait_for(lambda: second in events(), "the second item's event", process, log)
        assert events()[second]["text_source"] == "fulltext"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        # Restarted: both items are in the feed again, processed already: no page fetched, nothing written twice.
        feed.etag = False  # a server that ignores conditional GETs: the restart sees every item again
        process = start(feedlist, redis_url, log)
        polls = feed.status_counts[200]
        wait_for(lambda: feed.status_counts[200] >= polls + 2, "two polls after the restart", process, log)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert redis_db.xlen("newsmon:events") == 2
        assert [pages.hits(f"/pages/{page_id}") for page_id in PAGE_IDS] == [1, 1]
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        feed.stop()
        pages.stop()
