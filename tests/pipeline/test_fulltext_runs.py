"""``newsmon poll`` with full text: a local feed whose items carry teasers and link to real
article pages on a local server. With ``fulltext: auto`` the topics come from the page; with
``never`` (the default) from the teaser, which hides them."""

import pytest

from pipeline.cli import main
from tests.servers import FeedItem, LiveFeed, PageServer

# Two real pages whose feed teaser matches no topic but whose text does (tests/fixtures/pages).
PAGES = {"nytimes-nyc-underground-utilities": "energy_infrastructure", "wapo-us-israel-relations": "diplomacy"}


@pytest.fixture(scope="module")
def page_server():
    server = PageServer().start()
    yield server
    server.stop()


@pytest.fixture
def feed(page_server):
    server = LiveFeed(etag=False)
    server.set_items([FeedItem(f"urn:test:{page_id}", page_server.manifest[page_id]["title"],
                               page_server.manifest[page_id]["teaser"], link=page_server.url(page_id))
                      for page_id in PAGES])
    yield server
    server.stop()
    server.httpd.server_close()


def poll(capsys, feedlist, redis_url, *extra):
    status = main(["poll", str(feedlist), "--once", "--allow-private", "--redis", redis_url, *extra])
    out, _ = capsys.readouterr()
    return status, out


def events(redis_db):
    return {fields["title"]: fields for _, fields in redis_db.xrange("newsmon:events")}


@pytest.mark.parametrize("listing", ["yaml", "opml", "text"])
def test_fulltext_auto_in_the_feed_list_tags_the_page_not_the_teaser(capsys, redis_url, redis_db, tmp_path, feed,
                                                                     page_server, listing):
    if listing == "yaml":
        feedlist = tmp_path / "feeds.yaml"
        feedlist.write_text(f"- url: {feed.url}\n  fulltext: auto\n", encoding="utf-8")
    elif listing == "opml":
        feedlist = tmp_path / "feeds.opml"
        feedlist.write_text(f'<opml version="2.0"><body><outline text="t" xmlUrl="{feed.url}" fulltext="auto"/>'
                            "</body></opml>", encoding="utf-8")
    else:
        feedlist = tmp_path / "feeds.txt"
        feedlist.write_text(f"{feed.url} fulltext=auto\n", encoding="utf-8")
    status, out = poll(capsys, feedlist, redis_url)
    assert status == 0, out
    found = events(redis_db)
    for page_id, topic in PAGES.items():
        entry = found[page_server.manifest[page_id]["title"]]
        assert entry["text_source"] == "fulltext"
        assert topic in entry["topics"]
    assert redis_db.keys("newsmon:page:*")  # cached for the next poll, other feeds and workers


def test_without_fulltext_the_teasers_hide_the_topics(capsys, redis_url, redis_db, tmp_path, feed):
    feedlist = tmp_path / "feeds.txt"
    feedlist.write_text(f"{feed.url}\n", encoding="utf-8")
    status, out = poll(capsys, feedlist, redis_url)
    assert status == 0, out
    assert "2 articles read" in out
    assert events(redis_db) == {}  # the teasers match no topic
    assert redis_db.keys("newsmon:page:*") == []  # no page was fetched: full text is opt-in


def test_the_cli_default_applies_to_feeds_that_name_no_mode(capsys, redis_url, redis_db, tmp_path, feed,
                                                            page_server):
    feedlist = tmp_path / "feeds.txt"
    feedlist.write_text(f"{feed.url}\n", encoding="utf-8")
    status, out = poll(capsys, feedlist, redis_url, "--fulltext", "always")
    assert status == 0, out
    assert {entry["text_source"] for entry in events(redis_db).values()} == {"fulltext"}
    assert len(events(redis_db)) == 2


def test_a_feed_that_says_never_wins_over_the_cli_default(capsys, redis_url, redis_db, tmp_path, feed):
    feedlist = tmp_path / "feeds.yaml"
    feedlist.write_text(f"- url: {feed.url}\n  fulltext: never\n", encoding="utf-8")
    status, out = poll(capsys, feedlist, redis_url, "--fulltext", "auto")
    assert status == 0, out
    assert events(redis_db) == {} and redis_db.keys("newsmon:page:*") == []


def test_a_bad_fulltext_mode_is_one_line_and_exit_2(capsys, redis_url, tmp_path):
    feedlist = tmp_path / "feeds.yaml"
    feedlist.write_text("- url: https://example.org/rss\n  fulltext: sometimes\n", encoding="utf-8")
    status = main(["poll", str(feedlist), "--once", "--redis", redis_url])
    _, err = capsys.readouterr()
    assert status == 2
    assert err.strip().splitlines() == [
        f"newsmon: {feedlist}: entry 1: fulltext must be one of auto, always, never, got 'sometimes'"]


def test_a_cookie_wall_keeps_the_teaser_with_one_warning(capsys, redis_url, redis_db, tmp_path, page_server, caplog):
    wall = page_server.manifest["bad-cookie-wall"]
    server = LiveFeed(etag=False)
    link = page_server.url("bad-cookie-wall")
    server.set_items([FeedItem("urn:test:wall", wall["title"], wall["teaser"], link=link)])
    try:
        feedlist = tmp_path / "feeds.yaml"
        feedlist.write_text(f"- url: {server.url}\n  fulltext: always\n", encoding="utf-8")
        with caplog.at_level("WARNING"):
            status, out = poll(capsys, feedlist, redis_url)
    finally:
        server.stop()
        server.httpd.server_close()
    assert status == 0, out  # the teaser stays: nothing failed, nothing lost
    assert ("Full text: 1 pages fetched and 0 from the cache; 0 articles got their page's text, 1 kept the teaser"
            in out)
    warnings = [r.getMessage() for r in caplog.records if "bad-cookie-wall" in r.getMessage()]
    assert warnings == [f"newsmon: page {page_server.url('bad-cookie-wall')}: a cookie or consent wall,"
                        " no article text; the teaser stays"]
