"""The Atom feed of a subscription's alerts, parsed back with feedparser; ``alerts feed`` on a real Redis."""

import json

import feedparser

from connectors.atom_feed import alerts_feed, entry_atom_id, feed_etag, subscription_feed
from connectors.redis_streams import RedisKeys
from pipeline.cli import main

STREAM = "newsmon:alerts:ns2"


def story_alert(**extra):
    return {"subscription": "ns2", "id": "a1", "title": "Germany halts Nord Stream 2 <approval> & more",
            "url": "https://news.example/ns2?a=1&b=2", "source": "Reuters", "published": "2021-05-18T07:30:00Z",
            "alert": "new", "story": "3f2a9c", "story_sources": "4", "story_articles": "5",
            "topics": json.dumps([{"id": "sanctions", "evidence": ["x"]}]),
            "terms": json.dumps(["nord stream", "sanctions"]),
            "evidence": json.dumps(["The US imposed sanctions on Nord Stream 2 AG on Wednesday."]), **extra}


def article_alert(i):
    return {"subscription": "ns2", "id": f"b{i}", "title": f"Gazprom note {i}", "url": f"https://news.example/{i}",
            "source": "", "alert": "article", "topics": "[]", "terms": json.dumps(["gazprom"]),
            "evidence": json.dumps([f"Gazprom said {i}."])}


def test_feed_is_valid_atom_with_alert_ids_story_and_evidence(redis_db):
    first = redis_db.xadd(STREAM, story_alert())
    second = redis_db.xadd(STREAM, article_alert(2))
    body = subscription_feed(redis_db, RedisKeys(), "ns2", self_url="https://desk.example/feeds/ns2.atom")
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.id == "urn:newsmon:subscription:ns2"
    assert any(link.rel == "self" and link.href == "https://desk.example/feeds/ns2.atom" for link in parsed.feed.links)
    newest, oldest = parsed.entries
    assert newest.id == entry_atom_id("ns2", second) == f"urn:newsmon:alert:ns2:{second}"
    assert oldest.id == f"urn:newsmon:alert:ns2:{first}"
    assert oldest.title == "New story: Germany halts Nord Stream 2 <approval> & more"
    assert oldest.link == "https://news.example/ns2?a=1&b=2"
    assert "“The US imposed sanctions on Nord Stream 2 AG on Wednesday.”" in oldest.summary
    assert "(matched: nord stream, sanctions)" in oldest.summary
    assert "source: Reuters" in oldest.summary and "story 3f2a9c: 4 sources, 5 articles" in oldest.summary
    assert [t.term for t in oldest.tags] == ["sanctions"]
    assert oldest.published_parsed[:5] == (2021, 5, 18, 7, 30)
    assert "<b>Nord Stream</b>" in oldest.content[0].value  # the HTML content marks the matched terms
    assert "story" not in newest.summary and newest.title == "Gazprom note 2"
    # The feed's updated time is the newest alert's, not the time it was built.
    assert parsed.feed.updated_parsed == newest.updated_parsed


def test_same_alerts_give_the_same_bytes_and_etag_a_new_alert_changes_both(redis_db):
    redis_db.xadd(STREAM, story_alert())
    keys = RedisKeys()
    body = subscription_feed(redis_db, keys, "ns2")
    assert subscription_feed(redis_db, keys, "ns2") == body
    assert feed_etag(subscription_feed(redis_db, keys, "ns2")) == feed_etag(body)
    redis_db.xadd(STREAM, article_alert(3))
    changed = subscription_feed(redis_db, keys, "ns2")
    assert changed != body and feed_etag(changed) != feed_etag(body)
    # The entry that was there keeps its id.
    assert feedparser.parse(body).entries[0].id == feedparser.parse(changed).entries[1].id


def test_count_keeps_the_newest_and_an_empty_feed_is_valid():
    entries = [(f"{1700000000000 + i}-0", article_alert(i)) for i in range(5)][::-1]
    parsed = feedparser.parse(alerts_feed("ns2", entries[:2]))
    assert [e.title for e in parsed.entries] == ["Gazprom note 4", "Gazprom note 3"]
    empty = feedparser.parse(alerts_feed("ns2", []))
    assert not empty.bozo and empty.entries == [] and empty.feed.id == "urn:newsmon:subscription:ns2"


def test_alerts_feed_command_prints_the_feed(redis_url, redis_db, capsysbinary):
    entry = redis_db.xadd(STREAM, story_alert())
    for i in range(3):
        redis_db.xadd(STREAM, article_alert(i))
    assert main(["alerts", "feed", "ns2", "-n", "2", "--redis", redis_url]) == 0
    out, _ = capsysbinary.readouterr()
    parsed = feedparser.parse(out)
    assert not parsed.bozo and len(parsed.entries) == 2
    assert main(["alerts", "feed", "ns2", "-n", "10", "--redis", redis_url]) == 0
    out, _ = capsysbinary.readouterr()
    assert feedparser.parse(out).entries[-1].id == f"urn:newsmon:alert:ns2:{entry}"


def test_alerts_feed_of_an_unknown_subscription_is_one_line_exit_2(redis_url, capsys):
    assert main(["alerts", "feed", "nope", "--redis", redis_url]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "no subscription 'nope'" in err
