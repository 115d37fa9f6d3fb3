import json
import logging

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from connectors.redis_streams import RedisKeys
from connectors.subscription_store import (
    LiveSubscriptions,
    SubscriptionStore,
    publish_topics,
    running_topics,
)
from transforms.subscriptions import MatchSubscriptions

KEYS = RedisKeys()
TOPICS = ["sanctions", "cyberattack"]


def article(i):
    return {"id": f"a{i}", "title": f"Gazprom story {i}", "text": "Gazprom cut flows through Nord Stream.",
            "source": "wire", "entities": [], "topics": [{"id": "sanctions", "score": 0.5, "terms": ["sanctions"],
                                                        "evidence": ["Sanctions."]}]}


def store_with_a_stale_subscription(redis_db):
    store = SubscriptionStore(redis_db, KEYS)
    # Valid when it was added (another taxonomy), unusable with the one running now.
    store.add("piracy-desk", {"topics": ["piracy"]}, known_topics=["piracy"])
    return store


def test_checked_sorts_usable_from_unusable_with_a_reason(redis_db):
    store = store_with_a_stale_subscription(redis_db)
    store.add("ns2", {"any": ["gazprom"], "topics": ["sanctions"]}, known_topics=TOPICS)
    redis_db.hset(KEYS.subscriptions, "hand-edited", "{not json")
    redis_db.hset(KEYS.subscriptions, "a-list", json.dumps(["gazprom"]))
    usable, unusable = store.checked(known_topics=TOPICS)
    assert list(usable) == ["ns2"]
    assert unusable == {"a-list": "not a rule: expected a mapping of fields",
                        "hand-edited": "not valid JSON",
                        "piracy-desk": "field 'topics': unknown topic 'piracy' (topics: cyberattack, sanctions)"}
    assert list(store.all()) == ["ns2", "piracy-desk"]


def test_live_subscriptions_skip_an_unusable_one_and_keep_loading_the_others(redis_url, redis_db, caplog,
                                                                             monkeypatch):
    monkeypatch.setattr("connectors.subscription_store._LOGGED", {})
    store = store_with_a_stale_subscription(redis_db)
    live = LiveSubscriptions(redis_url, refresh_seconds=0, known_topics=TOPICS)()
    with caplog.at_level(logging.WARNING):
        assert live.changes() == {}
        store.add("ns2", {"any": ["gazprom"]}, known_topics=TOPICS)
        assert list(live.changes()) == ["ns2"]
        store.add("cyber", {"topics": ["cyberattack"]}, known_topics=TOPICS)
        assert list(live.changes()) == ["cyber", "ns2"]
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert skipped == ["newsmon: subscription piracy-desk skipped: field 'topics': unknown topic 'piracy'"
                       " (topics: cyberattack, sanctions)"]  # once, not on every refresh


def test_a_subscription_added_after_an_unusable_one_gets_its_alerts(redis_url, redis_db):
    store = store_with_a_stale_subscription(redis_db)
    store.add("ns2", {"any": ["gazprom"]}, known_topics=TOPICS)
    live = LiveSubscriptions(redis_url, refresh_seconds=0, known_topics=TOPICS)
    with TestPipeline(runner=FnApiRunner()) as p:
        matched = (p | beam.Create([article(i) for i in range(10)])
                   | MatchSubscriptions({}, known_topics=TOPICS, live_source=live))
        alerts = matched.articles | beam.FlatMap(lambda a: [alert["id"] for alert in a["alerts"]])
        assert_that(alerts, equal_to(["ns2"] * 10))


def test_the_running_taxonomy_is_published(redis_db):
    assert running_topics(redis_db, KEYS) is None
    publish_topics(redis_db, KEYS, {"sanctions": {}, "cyberattack": {}}, source="my-topics.yaml")
    assert running_topics(redis_db, KEYS) == (["cyberattack", "sanctions"], "my-topics.yaml")
