"""Time-bucketed counts in a real Redis: buckets of event time, idempotency, TTLs, bad dates."""

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from connectors.counts import ArticleCounter, CountKeys, CountOptions, CountStore, load_countries
from connectors.redis_streams import WriteToRedisStreams
from transforms.spikes import BUCKET_SECONDS, DAY_SECONDS

NOW = 1_800_000_000  # 2027-01-15T08:00:00Z
OPTIONS = CountOptions(reference=NOW, countries=load_countries())


def _article(article_id, published, *, source="a.example", topics=("sanctions",), story=None, title=None):
    article = {"id": article_id, "title": title or f"Title {article_id}", "published": published,
               "source": source, "topics": [{"id": t, "score": 0.5, "terms": ["x"], "evidence": ["x"]} for t in topics],
               "entities": [{"text": "Gazprom", "canonical": "Gazprom", "label": "ORG", "count": 2},
                            {"text": "Moscow", "canonical": "Moscow", "label": "GPE", "count": 1}]}
    if story:
        article["story"] = {"id": story}
    return article


def _count(client, articles, options=OPTIONS):
    counter = ArticleCounter(options)
    outcomes = [counter.add(a) for a in articles]
    pipe = client.pipeline(transaction=False)
    counter.write(pipe)
    pipe.execute()
    return outcomes


def test_articles_count_in_their_event_time_buckets_once(redis_db):
    store = CountStore(redis_db)
    articles = [_article("a1", "2027-01-15T07:50:00Z"), _article("a2", "2027-01-15T07:47:00Z", source="b.example"),
                _article("a3", "2027-01-15T06:10:00Z", source="c.example")]
    assert _count(redis_db, articles) == ["counted"] * 3
    _count(redis_db, articles)  # a replay: nothing counts twice
    _count(redis_db, [_article("a1", "2027-01-15T07:50:00Z")])  # a re-fetch
    bucket = (NOW - 600) // BUCKET_SECONDS
    counts = store.buckets(["all", "topic:sanctions", "entity:Gazprom", "country:RU",
                            "topic:sanctions|entity:Gazprom"], bucket - 8, bucket)
    assert counts[:, -1].tolist() == [2, 2, 2, 2, 2]  # 07:45-08:00: a1 and a2
    assert counts[:, 1].tolist() == [1, 1, 1, 1, 1]  # 06:00-06:15: a3, out of order
    day = NOW // DAY_SECONDS
    assert store.days(["all"], day, day)[0].tolist() == [3]
    assert store.sources("topic:sanctions", bucket, bucket) == {"a.example": 1, "b.example": 1}
    assert store.stats()["counted"] == 3 and store.stats()["duplicate"] == 4


def test_every_count_key_expires(redis_db):
    _count(redis_db, [_article("a1", "2027-01-15T07:50:00Z", story="s1")])
    keys = redis_db.keys("newsmon:count:*")
    assert {k.split(":")[2] for k in keys} >= {"15m", "1d", "hod", "src", "story", "title"}
    for key in keys:
        if key != CountKeys().stats:
            assert 0 < redis_db.ttl(key) <= 400 * DAY_SECONDS + DAY_SECONDS
    assert 30 * DAY_SECONDS <= redis_db.ttl(CountKeys().bucket((NOW - 600) // BUCKET_SECONDS)) <= 31 * DAY_SECONDS
    assert redis_db.ttl("newsmon:seen:count:a1") > 0


def test_bad_dates_are_counted_as_such_and_skipped(redis_db):
    outcomes = _count(redis_db, [
        _article("old", "2019-03-01T00:00:00Z"), _article("future", "2035-01-01T00:00:00Z"),
        _article("undated", ""), _article("skewed", "2027-01-15T10:30:00Z"),  # a feed clock hours ahead
    ])
    assert outcomes == ["too_old", "future", "undated", "counted"]
    stats = CountStore(redis_db).stats()
    assert stats["too_old"] == stats["future"] == stats["undated"] == stats["counted"] == 1
    # The skewed one counts at the reference time, not in the future.
    bucket = NOW // BUCKET_SECONDS
    assert CountStore(redis_db).buckets(["all"], bucket, bucket + 12)[0].tolist() == [1] + [0] * 12


def test_top_stories_of_a_series(redis_db):
    articles = [_article(f"a{i}", "2027-01-15T07:50:00Z", story="s1" if i < 3 else "s2",
                         title="Gazprom halts supplies" if i < 3 else "Other") for i in range(4)]
    articles.append(_article("lone", "2027-01-15T07:51:00Z", title="Without a story"))
    _count(redis_db, articles)
    bucket = (NOW - 600) // BUCKET_SECONDS
    top = CountStore(redis_db).top_stories("entity:Gazprom", bucket - 3, bucket)
    assert top[0] == {"story": "s1", "articles": 3, "title": "Gazprom halts supplies"}
    assert {t["story"] for t in top} == {"s1", "s2", "lone"}  # without a story id, the article stands alone


def test_the_sink_counts_in_its_own_round_trip(redis_url, redis_db):
    articles = [_article("p1", "2027-01-15T07:50:00Z"), _article("p2", "2027-01-15T07:52:00Z")]
    for _ in range(2):  # twice: the second run writes and counts nothing
        with TestPipeline() as pipeline:
            (pipeline | beam.Create(articles)
             | WriteToRedisStreams(redis_url, counts=OPTIONS))
    bucket = (NOW - 600) // BUCKET_SECONDS
    assert CountStore(redis_db).buckets(["topic:sanctions"], bucket, bucket)[0].tolist() == [2]
    assert redis_db.xlen("newsmon:events") == 2


@pytest.mark.parametrize("prefix", ["other:"])
def test_prefix_is_respected(redis_db, prefix):
    counter = ArticleCounter(OPTIONS, prefix)
    counter.add(_article("x", "2027-01-15T07:50:00Z"))
    pipe = redis_db.pipeline(transaction=False)
    counter.write(pipe)
    pipe.execute()
    assert redis_db.keys("newsmon:*") == [] and redis_db.keys("other:count:15m:*")


def test_a_retried_flush_counts_each_article_once_skipped_ones_too(redis_db):
    """The sink retries a round trip that failed on the way back (call_with_retry runs the
    same flush again), and one bundle may carry the same article twice: the buckets and the
    stats, the skipped outcomes included, count each article once."""
    counter = ArticleCounter(OPTIONS)
    for article in [_article("a1", "2027-01-15T07:50:00Z"), _article("a1", "2027-01-15T07:50:00Z"),
                    _article("old", "2019-03-01T00:00:00Z"), _article("future", "2035-01-01T00:00:00Z"),
                    _article("undated", "")]:
        counter.add(article)
    for _ in range(2):  # the flush and its retry
        pipe = redis_db.pipeline(transaction=False)
        counter.write(pipe)
        pipe.execute()
    _count(redis_db, [_article("old", "2019-03-01T00:00:00Z"), _article("undated", "")])  # a replay
    stats = CountStore(redis_db).stats()
    assert (stats["counted"], stats["too_old"], stats["future"], stats["undated"]) == (1, 1, 1, 1)
    assert stats["duplicate"] == 1 + 5 + 2
    bucket = (NOW - 600) // BUCKET_SECONDS
    assert CountStore(redis_db).buckets(["all"], bucket, bucket)[0].tolist() == [1]


def test_a_future_article_counts_once_it_is_due(redis_db):
    article = _article("early", "2027-01-20T09:00:00Z")
    assert _count(redis_db, [article]) == ["future"]
    later = CountOptions(reference=NOW + 6 * DAY_SECONDS, countries=OPTIONS.countries)
    assert _count(redis_db, [article], later) == ["counted"]
    assert _count(redis_db, [article], later) == ["counted"]  # the outcome; the count stays one
    day = (NOW + 5 * DAY_SECONDS) // DAY_SECONDS
    assert CountStore(redis_db).days(["all"], day, day)[0].tolist() == [1]
