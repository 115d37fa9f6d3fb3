"""Story-level alerts: once per story as "new", again only as an "update" on the growth asked for."""

import pytest

from connectors.redis_streams import RedisKeys, append_once, article_entries
from connectors.webhook import alert_payload
from pipeline.commands.alerts import format_alert
from transforms.rules import RuleError
from transforms.subscriptions import delivery_of

KEYS = RedisKeys()
STREAM = "newsmon:alerts:desk"


def article(number, story_id, *, sources, new_entities=(), title=None, per="story", update_on=None):
    delivery = delivery_of({"per": per, "update_on": update_on or ["sources:3,10", "countries"]}
                           if per == "story" else {"per": per})
    return {
        "id": f"article-{number}", "title": title or f"Report {number}", "url": f"https://x.example/{number}",
        "source": f"source{number}", "published": "", "origin": "", "topics": [], "entities": [],
        "story": {"id": story_id, "status": "joined", "articles": number, "sources": sources,
                  "new_entities": [list(e) for e in new_entities]},
        "alerts": [{"id": "desk", "score": 0.5, "terms": ["sanctions"], "evidence": ["..."], **delivery}],
    }


def write(redis_db, *articles):
    entries = [e for a in articles for e in article_entries(a, KEYS) if e[0].startswith("alerts:")]
    return [fields for (_, _, _, fields), written in zip(entries, append_once(redis_db, entries)) if written]


def alerts(redis_db):
    return [(f["alert"], f["story"], f.get("update", ""), f["story_sources"]) for _, f in redis_db.xrange(STREAM)]


def test_a_story_alerts_once_then_only_on_the_growth_asked_for(redis_db):
    write(redis_db, article(1, "s1", sources=1))
    write(redis_db, article(2, "s1", sources=2))
    write(redis_db, article(3, "s1", sources=3, new_entities=[("Norway", "GPE"), ("Equinor", "ORG")]))
    write(redis_db, article(4, "s1", sources=4, new_entities=[("Equinor", "ORG")]))
    write(redis_db, article(5, "s1", sources=11))
    assert alerts(redis_db) == [("new", "s1", "", "1"), ("update", "s1", "3 sources", "3"),
                                ("update", "s1", "new country: Norway", "3"), ("update", "s1", "11 sources", "11")]


def test_replaying_the_same_articles_writes_no_alert(redis_db):
    story = [article(1, "s1", sources=1), article(2, "s1", sources=3, new_entities=[("Norway", "GPE")])]
    assert len(write(redis_db, *story)) == 3
    assert write(redis_db, *story) == []


def test_a_story_first_matched_late_alerts_once_as_new_with_its_source_count(redis_db):
    write(redis_db, article(7, "s2", sources=5, new_entities=[("Norway", "GPE")]))
    write(redis_db, article(8, "s2", sources=6))
    assert alerts(redis_db) == [("new", "s2", "", "5")]


def test_two_stories_under_one_title_both_alert(redis_db):
    write(redis_db, article(1, "s1", sources=1, title="Explosion at refinery"),
          article(2, "s2", sources=1, title="Explosion at refinery"))
    assert [a[:2] for a in alerts(redis_db)] == [("new", "s1"), ("new", "s2")]


def test_per_article_alerts_every_matching_article(redis_db):
    write(redis_db, *(article(n, "s1", sources=n, per="article") for n in (1, 2, 3)))
    assert [f["alert"] for _, f in redis_db.xrange(STREAM)] == ["article"] * 3


def test_an_article_without_a_story_alerts_per_article(redis_db):
    lone = {**article(1, "s1", sources=1), "story": None}
    write(redis_db, lone, lone)
    assert [f["alert"] for _, f in redis_db.xrange(STREAM)] == ["article"]


def test_webhook_body_and_alerts_show_carry_the_story(redis_db):
    write(redis_db, article(1, "s1", sources=1), article(2, "s1", sources=3))
    (new_id, new), (update_id, update) = redis_db.xrange(STREAM)
    body = alert_payload(update_id, update)
    assert (body["alert"], body["story"], body["story_sources"], body["update"]) == ("update", "s1", 3, "3 sources")
    assert body["text"].startswith("[desk] Update (3 sources): Report 2")
    assert "story s1: 3 sources, 2 articles" in body["text"]
    assert alert_payload(new_id, new)["text"].startswith("[desk] New story: Report 1")
    assert "story: s1 (new story), 1 sources, 1 articles" in format_alert(new_id, new)
    assert "story: s1 (update: 3 sources)" in format_alert(update_id, update)


@pytest.mark.parametrize("subscription, message", [
    ({"per": "thread"}, "'per' must be story or article"),
    ({"update_on": ["sources:1"]}, "at least 2"),
    ({"update_on": ["sources:many"]}, "expected sources:N"),
    ({"update_on": ["weather"]}, "expected sources:N"),
    ({"per": "article", "update_on": ["countries"]}, "per: story only"),
])
def test_bad_delivery_options_are_refused(subscription, message):
    with pytest.raises(RuleError, match=message):
        delivery_of(subscription, "desk")


def test_delivery_defaults_and_forms():
    assert delivery_of({}) == {"per": "story", "update_on": {"sources": [], "countries": False, "entities": False}}
    assert delivery_of({"update_on": "sources:10,3"})["update_on"]["sources"] == [3, 10]
    stored = delivery_of({"update_on": ["sources:3", "entities"]})
    assert delivery_of(stored) == stored
