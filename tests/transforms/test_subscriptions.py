import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from connectors.redis_streams import RedisKeys
from connectors.subscription_store import LiveSubscriptions, SubscriptionStore
from transforms.ruleset import RuleSet
from transforms.subscriptions import (
    MatchSubscriptions,
    _MatchSubscriptionsFn,
    compile_subscriptions,
    match_subscriptions,
)

ARTICLE = {"id": "a", "title": "Gazprom and Nord Stream", "text": "Germany halted Nord Stream 2 over sanctions.",
           "entities": [{"label": "GPE", "canonical": "Germany"}],
           "topics": [{"id": "sanctions", "score": 0.4, "terms": ["sanctions"],
                       "evidence": ["Germany halted Nord Stream 2 over sanctions."]}]}


def alert_ids(article, subscriptions):
    matcher = compile_subscriptions(subscriptions, ["sanctions"])
    return [a["id"] for a in match_subscriptions(article, matcher)["alerts"]]


def test_match_by_terms_topics_and_entities():
    assert alert_ids(ARTICLE, {
        "terms": {"any": ["nord stream"]},
        "topic-and-entity": {"topics": ["sanctions"], "entities": {"GPE": ["germany"]}},
        "wrong-entity": {"topics": ["sanctions"], "entities": {"GPE": ["France"]}},
        "vetoed": {"any": ["gazprom"], "none": ["germany"]},
        "paused": {"any": ["gazprom"], "paused": True},
    }) == ["terms", "topic-and-entity"]


def test_a_topic_only_alert_is_explained_by_the_topic():
    [alert] = match_subscriptions(ARTICLE, compile_subscriptions({"s": {"topics": ["sanctions"]}}))["alerts"]
    assert alert["terms"] == ["sanctions"] and alert["evidence"] == ["Germany halted Nord Stream 2 over sanctions."]


def test_bad_subscriptions_fail_at_construction():
    with pytest.raises(ValueError, match="unknown topic"):
        MatchSubscriptions({"x": {"topics": ["nope"]}}, known_topics=["sanctions"])


def test_match_subscriptions_in_a_pipeline():
    with TestPipeline(runner=FnApiRunner()) as p:
        out = p | beam.Create([ARTICLE]) | MatchSubscriptions({"ns": {"any": ["nord stream"]}})
        assert_that(out.articles | beam.Map(lambda a: [x["id"] for x in a["alerts"]]), equal_to([["ns"]]))


def test_live_subscriptions_are_picked_up_paused_and_removed(redis_url, redis_db):
    store = SubscriptionStore(redis_db, RedisKeys())
    fn = _MatchSubscriptionsFn(RuleSet({}, {}, known_topics=["sanctions"]),
                               LiveSubscriptions(redis_url, refresh_seconds=0))
    fn.setup()

    def alerts():
        return [a["id"] for a in next(iter(fn.process(ARTICLE)))["alerts"]]

    assert alerts() == []
    store.add("ns2", {"any": ["nord stream"]}, ["sanctions"])
    assert alerts() == ["ns2"]
    store.set_paused("ns2", True)
    assert alerts() == []
    store.set_paused("ns2", False)
    assert alerts() == ["ns2"]
    store.remove("ns2")
    assert alerts() == []
