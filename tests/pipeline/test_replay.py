"""End to end: an archive through the whole graph into a real Redis, with the real model."""

import json
import shutil

import pytest

from pipeline.options import RunConfig
from pipeline.replay import run_replay
from tests.conftest import SEED_ARTICLE

SUBSCRIPTIONS = {
    "nord-stream": {"topics": ["sanctions"], "any": ["nord stream", "gazprom"]},
    "arctic-desk": {"topics": ["arctic_militarization"], "entities": {"GPE": ["Russia"]}},
    "football": {"any": ["football"]},
}


@pytest.fixture
def archive(tmp_path):
    shutil.copy(SEED_ARTICLE, tmp_path / SEED_ARTICLE.name)
    (tmp_path / "more.jsonl").write_text(
        json.dumps({"title": "Local bakery wins prize", "text": "The bakery on Main Street won a prize.",
                    "url": "https://news.example/bakery"}) + "\n"
        + '{"title": "broken\n', encoding="utf-8")
    return tmp_path


def replay(archive, redis_url, taxonomy):
    return run_replay([archive], RunConfig(redis_url=redis_url, taxonomy=taxonomy, subscriptions=SUBSCRIPTIONS))


def test_replay_writes_topics_alerts_and_dead_letters_once(archive, redis_url, redis_db, taxonomy):
    replay(archive, redis_url, taxonomy)
    [(_, event)] = redis_db.xrange("newsmon:events")
    assert event["title"].startswith("Antony Blinken and Sergey Lavrov")
    assert event["language"] == "en"
    assert {t["id"] for t in json.loads(event["topics"])} == set(taxonomy)
    for topic in taxonomy:
        assert redis_db.xlen(f"newsmon:topic:{topic}") == 1
    [(_, alert)] = redis_db.xrange("newsmon:alerts:nord-stream")
    assert alert["subscription"] == "nord-stream" and alert["language"] == "en"
    assert json.loads(alert["terms"]) == ["nord stream"]
    assert "Nord Stream 2 pipeline" in json.loads(alert["evidence"])[0]
    assert {"canonical": "Antony Blinken", "label": "PERSON"} in json.loads(alert["entities"])
    assert redis_db.xlen("newsmon:alerts:arctic-desk") == 1
    assert not redis_db.exists("newsmon:alerts:football")
    [(_, dead)] = redis_db.xrange("newsmon:deadletter")
    assert dead["stage"] == "read" and dead["origin"].endswith("more.jsonl:2") and "not JSON" in dead["error"]

    lengths = {key: redis_db.xlen(key) for key in redis_db.scan_iter(match="newsmon:*", _type="stream")}
    result = replay(archive, redis_url, taxonomy)
    assert {key: redis_db.xlen(key) for key in lengths} == lengths
    counters = {}
    for counter in result.metrics().query()["counters"]:  # one entry per step that counts
        if counter.key.metric.namespace == "newsmon":
            name = counter.key.metric.name
            counters[name] = counters.get(name, 0) + counter.committed
    assert counters["articles_read"] == 2 and counters["already_written"] == len(lengths)


def test_a_topic_and_entity_subscription_is_explained_by_its_topic(archive, redis_url, redis_db, taxonomy):
    replay(archive, redis_url, taxonomy)
    [(_, alert)] = redis_db.xrange("newsmon:alerts:arctic-desk")
    assert "militarization" in json.loads(alert["terms"])
    assert "militarization of the Arctic" in json.loads(alert["evidence"])[0]


def test_the_relevance_prefilter_changes_no_alert(archive, redis_url, redis_db, taxonomy):
    from pipeline.options import RunConfig

    def streams():
        return {key: [(f.get("id") or f["origin"], f.get("subscription", "")) for _, f in redis_db.xrange(key)]
                for key in sorted(redis_db.scan_iter(match="newsmon:*", _type="stream"))}

    result = run_replay([archive], RunConfig(redis_url=redis_url, taxonomy=taxonomy, subscriptions=SUBSCRIPTIONS))
    with_filter = streams()
    skipped = sum(c.committed for c in result.metrics().query()["counters"] if c.key.metric.name == "ner_skipped")
    assert skipped == 1  # the bakery story
    redis_db.flushall()
    run_replay([archive], RunConfig(redis_url=redis_url, taxonomy=taxonomy, subscriptions=SUBSCRIPTIONS,
                                    prefilter=False))
    assert streams() == with_filter
