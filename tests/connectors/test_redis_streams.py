import json

import apache_beam as beam
import pytest
import redis
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline

from connectors.redis_streams import (
    RedisKeys,
    WriteDeadLetters,
    WriteToRedisStreams,
    append_once,
    article_entries,
)
from transforms.feed_items import parse_feed
from transforms.normalize import normalize_article

KEYS = RedisKeys()


def tagged(article_id, topics=("sanctions",), alerts=()):
    return {
        "id": article_id, "title": f"Title {article_id}", "text": "…", "url": f"https://a.example/{article_id}",
        "source": "test", "published": "2021-05-18T07:30:00Z", "origin": "t.jsonl:1",
        "entities": [{"text": "Russia", "label": "GPE", "canonical": "Russia", "count": 2}],
        "topics": [{"id": t, "score": 0.4, "terms": [t], "evidence": [f"About {t}."]} for t in topics],
        "alerts": [{"id": s, "score": 0.4, "terms": ["nord stream"], "evidence": ["Nord Stream."]} for s in alerts],
    }


def test_article_entries_layout():
    entries = article_entries(tagged("a1", topics=("sanctions", "diplomacy"), alerts=("ns2",)), KEYS)
    assert [(kind, stream, markers) for kind, stream, markers, _ in entries] == [
        ("events", "newsmon:events", ("newsmon:seen:events:a1",)),
        ("topic:sanctions", "newsmon:topic:sanctions", ("newsmon:seen:topic:sanctions:a1",)),
        ("topic:diplomacy", "newsmon:topic:diplomacy", ("newsmon:seen:topic:diplomacy:a1",)),
        ("alerts:ns2", "newsmon:alerts:ns2", ("newsmon:seen:alerts:ns2:a1",)),
    ]
    for _, _, _, fields in entries:
        assert all(isinstance(value, str) for value in fields.values())
    alert = entries[-1][3]
    assert alert["subscription"] == "ns2" and json.loads(alert["evidence"]) == ["Nord Stream."]
    assert json.loads(alert["entities"]) == [{"canonical": "Russia", "label": "GPE"}]


def test_an_article_without_topics_or_alerts_writes_nothing():
    assert article_entries(tagged("a2", topics=()), KEYS) == []


def test_append_once_is_idempotent_and_marks_with_ttl(redis_db):
    entries = article_entries(tagged("a3"), KEYS)
    first = append_once(redis_db, entries, ttl=600)
    second = append_once(redis_db, entries, ttl=600)
    assert all(first) and second == [None, None]
    assert redis_db.xlen("newsmon:events") == 1
    assert 0 < redis_db.ttl("newsmon:seen:events:a3") <= 600


def test_streams_are_capped(redis_db):
    entries = [e for i in range(300) for e in article_entries(tagged(f"c{i}"), KEYS)]
    append_once(redis_db, entries, maxlen=100)
    # MAXLEN ~ trims whole macro nodes: about the cap, never the full 300.
    assert 100 <= redis_db.xlen("newsmon:events") < 300


def write(articles, redis_url, prefix="newsmon:"):
    with TestPipeline(runner=FnApiRunner()) as p:
        p | beam.Create(articles) | WriteToRedisStreams(redis_url, prefix=prefix)


def test_write_to_redis_streams_twice_adds_nothing(redis_url, redis_db):
    articles = [tagged(f"w{i}", alerts=("ns2",) if i % 2 else ()) for i in range(10)]
    write(articles, redis_url)
    write(articles, redis_url)
    assert redis_db.xlen("newsmon:events") == 10
    assert redis_db.xlen("newsmon:topic:sanctions") == 10
    assert redis_db.xlen("newsmon:alerts:ns2") == 5
    titles = [fields["title"] for _, fields in redis_db.xrange("newsmon:alerts:ns2")]
    assert titles == [f"Title w{i}" for i in (1, 3, 5, 7, 9)]


def test_different_articles_with_the_same_title_both_alert(redis_url, redis_db):
    title = "Russia-Ukraine war: live updates"
    monday = {**tagged("live-monday", alerts=("ns2",)), "title": title}
    tuesday = {**tagged("live-tuesday", alerts=("ns2",)), "title": title}
    write([monday, tuesday], redis_url)
    assert [f["id"] for _, f in redis_db.xrange("newsmon:alerts:ns2")] == ["live-monday", "live-tuesday"]


def _feed(link):
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title><item>'
            f"<title>Germany halts Nord Stream 2 certification</title><link>{link}</link>"
            f"<description>Berlin halted it.</description></item></channel></rss>").encode()


def test_a_refetch_with_other_tracking_parameters_alerts_once(redis_url, redis_db):
    """An item without a GUID is known by its link without tracking parameters."""
    fetched = []
    for link in ("https://news.example/ns2?id=7&amp;utm_source=rss&amp;utm_medium=feed",
                 "https://news.example/ns2?utm_campaign=morning&amp;id=7&amp;fbclid=abc#top"):
        [raw] = parse_feed(_feed(link), feed_url="https://news.example/rss", fetched_at=1715680000).articles
        article = normalize_article(raw)
        fetched.append({**tagged(article["id"], alerts=("ns2",)), **article})
    write(fetched[:1], redis_url)
    write(fetched[1:], redis_url)
    [(_, alert)] = redis_db.xrange("newsmon:alerts:ns2")
    assert alert["url"] == "https://news.example/ns2?id=7"


def test_prefix_is_configurable(redis_url, redis_db):
    write([tagged("p1")], redis_url, prefix="desk2:")
    assert redis_db.xlen("desk2:events") == 1 and not redis_db.exists("newsmon:events")


def test_dead_letters_keep_error_and_origin_once(redis_url, redis_db):
    failure = {"stage": "read", "origin": "a.jsonl:3", "error": "not JSON", "article_id": "", "payload": "{x"}
    for _ in range(2):
        with TestPipeline(runner=FnApiRunner()) as p:
            p | beam.Create([failure]) | WriteDeadLetters(redis_url)
    [(_, fields)] = redis_db.xrange("newsmon:deadletter")
    assert fields == failure


def test_sink_fails_after_retrying_when_redis_is_unreachable():
    from tests.conftest import free_port

    with pytest.raises(Exception) as raised:
        with TestPipeline(runner=FnApiRunner()) as p:
            (p | beam.Create([tagged("x")])
             | WriteToRedisStreams(f"redis://127.0.0.1:{free_port()}/0", retry_seconds=0.3))
    assert "Connection" in repr(raised.value) or isinstance(raised.value, redis.ConnectionError)


def test_bad_configuration_fails_at_construction():
    with pytest.raises(ValueError):
        WriteToRedisStreams("")
    with pytest.raises(ValueError):
        WriteToRedisStreams("redis://x", maxlen=0)


def test_the_sink_writes_on_after_the_server_lost_its_scripts(redis_url, redis_db):
    from connectors.redis_streams import _AppendToStreamsFn

    fn = _AppendToStreamsFn(*WriteToRedisStreams(redis_url, stats_key="newsmon:run:t")._args)
    fn.setup()
    for batch in (["s1", "s2"], ["s3"]):
        fn.start_bundle()
        for article_id in batch:
            fn.process(tagged(article_id, alerts=("ns2",)))
        fn.finish_bundle()
        redis_db.script_flush()  # as a restarted server has no scripts
    fn.teardown()
    assert redis_db.xlen("newsmon:events") == 3 and redis_db.xlen("newsmon:alerts:ns2") == 3
    assert redis_db.hgetall("newsmon:run:t") == {"articles": "3", "alerts": "3"}
