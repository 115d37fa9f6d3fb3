"""``--json`` is typed JSON, one object per line, and one article shape in tag, rules test and alerts."""

import json

from connectors.feed_state import FeedState, save_state
from connectors.redis_streams import RedisKeys
from pipeline.cli import main
from pipeline.commands.json_lines import ARTICLE_KEYS
from tests.conftest import SEED_ARTICLE

SHAPE = {*ARTICLE_KEYS, "topics", "entities", "alerts"}


def json_lines(capsys, *argv):
    assert main([str(arg) for arg in argv]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def check_typed(article):
    assert all(isinstance(article[key], str) for key in ARTICLE_KEYS)
    for hit in article["alerts"]:
        assert isinstance(hit["score"], float) and isinstance(hit["terms"], list) and isinstance(hit["evidence"], list)
    for topic in article["topics"]:  # an alert entry keeps each topic's id and first evidence only
        assert isinstance(topic["id"], str) and isinstance(topic["evidence"], list)
        assert isinstance(topic.get("score", 0.0), float)
    assert all(isinstance(entity, dict) and entity["label"] for entity in article["entities"])


def test_tag_rules_test_and_alerts_print_one_typed_shape(capsys, redis_url):
    assert main(["subscribe", "add", "ns2", "--any", "nord stream", "--redis", redis_url]) == 0
    assert main(["replay", str(SEED_ARTICLE), "--redis", redis_url, "--no-progress", "--show", "0"]) == 0
    capsys.readouterr()
    [tagged] = json_lines(capsys, "tag", SEED_ARTICLE, "--json")
    [tested] = json_lines(capsys, "rules", "test", "ns2", "--archive", SEED_ARTICLE, "--json", "--redis", redis_url)
    [shown] = json_lines(capsys, "alerts", "show", "ns2", "--json", "--redis", redis_url)
    [tailed] = json_lines(capsys, "alerts", "tail", "ns2", "--json", "--from-start", "--redis", redis_url)
    assert set(tagged) == set(tested) == SHAPE
    assert set(shown) == set(tailed) == SHAPE | {"entry", "subscription"}
    for article in (tagged, tested, shown, tailed):
        check_typed(article)
    assert tagged["id"] == tested["id"] == shown["id"]
    assert tagged["alerts"] == []
    assert [a["id"] for a in tested["alerts"]] == [a["id"] for a in shown["alerts"]] == ["ns2"]
    assert shown["alerts"][0]["score"] == tested["alerts"][0]["score"]
    assert shown["alerts"][0]["terms"] == tested["alerts"][0]["terms"] == ["nord stream"]
    assert {t["id"] for t in shown["topics"]} == {t["id"] for t in tagged["topics"]}


def test_feeds_status_json_keeps_numbers_numbers(capsys, redis_url, redis_db):
    save_state(redis_db, RedisKeys(), FeedState("f1", url="https://news.example/rss", last_status=200, items=12,
                                                failures=1, next_poll=1_715_860_800, pending="a,b"))
    [state] = json_lines(capsys, "feeds", "status", "--json", "--redis", redis_url)
    assert state["feed_id"] == "f1" and state["last_status"] == 200 and state["items"] == 12
    assert state["failures"] == 1 and state["next_poll"] == 1_715_860_800 and state["pending"] == ["a", "b"]
