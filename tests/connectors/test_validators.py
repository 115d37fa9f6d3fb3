"""The validator protocol: a feed's ETag and Last-Modified are sent only while every item of its
last full fetch carries a processed marker; otherwise the feed is fetched in full again, so items
a stopped monitor never finished are not lost behind a 304. Against a server that sends both."""

from connectors.feed_state import load_state
from tests.connectors.conftest import LAST_MODIFIED
from tests.connectors.test_feeds import INTERVAL, KEYS, NOW, feed, poll
from transforms.normalize import normalize_article

PATH = "/feeds/atom.xml"


def validators_sent(feed_server):
    headers = feed_server.requests_for(PATH)[-1]
    return headers.get("if-none-match"), headers.get("if-modified-since")


def test_validators_wait_until_every_item_of_the_last_full_fetch_is_processed(feed_server, redis_db):
    listed = feed(feed_server, PATH)
    first = poll([listed], redis_db, verify_processed=True)
    state = load_state(redis_db, KEYS, listed.feed_id)
    assert first.articles and state.etag and state.last_modified == LAST_MODIFIED  # the server sends both

    # Nothing processed yet (no sink ran): the next poll sends no validators and gets everything.
    second = poll([listed], redis_db, now=NOW + INTERVAL, verify_processed=True)
    assert validators_sent(feed_server) == (None, None)
    assert second.stats[listed.feed_id]["outcome"] == "ok" and len(second.articles) == len(first.articles)

    # Every item processed (what the sink marks after writing): both validators go, and a 304 comes back.
    ids = [normalize_article(article)["id"] for article in second.articles]
    for article_id in ids:
        redis_db.set(KEYS.processed(article_id), "1")
    third = poll([listed], redis_db, now=NOW + 2 * INTERVAL, verify_processed=True)
    assert validators_sent(feed_server) == (state.etag, LAST_MODIFIED)
    assert third.stats[listed.feed_id]["outcome"] == "not modified" and third.articles == []

    # One marker gone (expired, or a stop before the sink wrote it): validators dropped again.
    redis_db.delete(KEYS.processed(ids[0]))
    fourth = poll([listed], redis_db, now=NOW + 3 * INTERVAL, verify_processed=True)
    assert validators_sent(feed_server) == (None, None)
    assert fourth.stats[listed.feed_id]["outcome"] == "ok" and len(fourth.articles) == len(first.articles)
