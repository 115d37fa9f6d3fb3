"""Feed state: what one poll does to a feed's state (pure), and its home in Redis (real server)."""

from connectors.feed_fetch import FetchResult
from connectors.feed_state import (
    MAX_BACKOFF,
    FeedState,
    all_feed_states,
    backoff_delay,
    health_for,
    load_state,
    load_states,
    record_poll,
    save_state,
)
from connectors.redis_streams import RedisKeys

URL = "https://news.example.com/world/rss.xml"
NOW = 1_715_860_800
OK = FetchResult(URL, 200, b"<rss/>", {"etag": '"v1"', "last-modified": "Wed, 15 May 2024 12:00:00 GMT"}, URL)


def test_a_good_poll_stores_validators_and_schedules_the_next():
    state = record_poll(FeedState("f1"), URL, OK, now=NOW, interval=900, items=3, title="Dispatch")
    assert (state.etag, state.last_modified) == ('"v1"', "Wed, 15 May 2024 12:00:00 GMT")
    assert (state.last_status, state.items, state.failures, state.health) == (200, 3, 0, "ok")
    assert (state.next_poll, state.last_poll, state.url, state.title) == (NOW + 900, NOW, URL, "Dispatch")


def test_a_304_keeps_validators_and_items():
    before = record_poll(FeedState("f1"), URL, OK, now=NOW, interval=900, items=3)
    state = record_poll(before, URL, FetchResult(URL, 304, headers={}), now=NOW + 900, interval=900)
    assert (state.etag, state.items, state.last_status, state.health) == ('"v1"', 3, 304, "ok")
    assert state.next_poll == NOW + 1800


def test_a_200_without_validators_forgets_the_old_ones():
    before = record_poll(FeedState("f1"), URL, OK, now=NOW)
    state = record_poll(before, URL, FetchResult(URL, 200, b"<rss/>", {}, URL), now=NOW + 900)
    assert state.etag == "" and state.last_modified == ""


def test_failures_back_off_exponentially_and_a_feed_dies():
    state = FeedState("f1")
    waits = []
    for poll in range(4):
        now = NOW + poll
        state = record_poll(state, URL, FetchResult(URL, 500, error="HTTP 500 Internal Server Error"),
                            now=now, interval=900, dead_after=3)
        waits.append(state.next_poll - now)
        assert state.last_error == "HTTP 500 Internal Server Error" and state.last_status == 500
    assert waits == [1800, 3600, 7200, 14400]
    assert state.failures == 4 and state.health == "dead"
    recovered = record_poll(state, URL, OK, now=NOW + 20000, interval=900, dead_after=3)
    assert (recovered.failures, recovered.health, recovered.last_error) == (0, "ok", "")


def test_backoff_and_health_rules():
    assert [backoff_delay(n, 900) for n in (0, 1, 2, 3)] == [900, 1800, 3600, 7200]
    assert backoff_delay(30, 900) == backoff_delay(1000, 900) == MAX_BACKOFF
    assert [health_for(n, 3) for n in (0, 1, 2, 3, 4)] == ["ok", "failing", "failing", "dead", "dead"]


def test_retry_after_wins_when_longer_than_the_backoff():
    limited = FetchResult(URL, 429, error="HTTP 429 Too Many Requests", retry_after="7200")
    assert record_poll(FeedState("f1"), URL, limited, now=NOW, interval=900).next_poll == NOW + 7200
    short = FetchResult(URL, 503, error="HTTP 503 Service Unavailable", retry_after="60")
    assert record_poll(FeedState("f1"), URL, short, now=NOW, interval=900).next_poll == NOW + 1800
    dated = FetchResult(URL, 503, error="HTTP 503", retry_after="Thu, 16 May 2024 15:00:00 GMT")
    assert record_poll(FeedState("f1"), URL, dated, now=NOW, interval=900).next_poll == NOW + 3 * 3600


def test_a_body_that_could_not_be_read_is_a_failure_and_is_fetched_again_in_full():
    before = record_poll(FeedState("f1"), URL, OK, now=NOW, items=3)
    state = record_poll(before, URL, OK, now=NOW + 900, parse_error="not a feed: got an HTML page")
    assert (state.failures, state.health, state.last_error) == (1, "failing", "not a feed: got an HTML page")
    assert (state.etag, state.last_modified, state.items) == ("", "", 0)


def test_a_permanent_redirect_is_remembered_only_when_its_target_answered():
    moved = FetchResult(URL, 200, b"<rss/>", {}, "https://new.example/rss", permanent_url="https://new.example/rss")
    assert record_poll(FeedState("f1"), URL, moved, now=NOW).permanent_url == "https://new.example/rss"
    broken = FetchResult(URL, 500, final_url="https://new.example/rss", permanent_url="https://new.example/rss",
                         error="HTTP 500 Internal Server Error")
    assert record_poll(FeedState("f1"), URL, broken, now=NOW).permanent_url == ""


def test_state_round_trips_through_redis(redis_db):
    keys = RedisKeys("test:")
    state = record_poll(FeedState("abc123"), URL, OK, now=NOW, items=3, title="Dispatch")
    save_state(redis_db, keys, state)
    stored = redis_db.hgetall("test:feed:abc123")
    assert stored["etag"] == '"v1"' and stored["next_poll"] == str(NOW + 900) and stored["health"] == "ok"
    assert stored["url"] == URL and stored["items"] == "3" and stored["failures"] == "0"
    assert load_state(redis_db, keys, "abc123") == state
    assert load_states(redis_db, keys, ["abc123", "never"])["never"] == FeedState("never")


def test_a_hand_edited_field_does_not_break_loading(redis_db):
    keys = RedisKeys()
    redis_db.hset(keys.feed("f1"), mapping={"failures": "many", "next_poll": "1715860800.5", "url": URL})
    state = load_state(redis_db, keys, "f1")
    assert (state.failures, state.next_poll, state.url) == (0, 1715860800, URL)


def test_all_feed_states_lists_every_feed_under_the_prefix(redis_db):
    keys = RedisKeys("newsmon:")
    for feed_id, url in [("b2", "https://b.example/rss"), ("a1", "https://a.example/rss")]:
        save_state(redis_db, keys, record_poll(FeedState(feed_id), url, OK, now=NOW))
    redis_db.hset("other:feed:zz", "url", "https://z.example/rss")  # another prefix
    redis_db.set("newsmon:feeds-total", 2)  # a key that only starts like one
    states = all_feed_states(redis_db, keys)
    assert [(s.feed_id, s.url) for s in states] == [("a1", "https://a.example/rss"), ("b2", "https://b.example/rss")]
