"""Surge detection over real Redis counts: replay span, monitor tick, alerts, reruns, bad clocks."""

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from connectors.counts import ArticleCounter, CountOptions
from connectors.redis_streams import RedisKeys
from connectors.subscription_store import SubscriptionStore
from connectors.surges import SurgeWatch
from transforms.spikes import BUCKET_SECONDS, DAY_SECONDS

START = 1_799_971_200  # 2027-01-15T00:00:00Z
DAYS = 32
BURST_AT = START + 30 * DAY_SECONDS + 10 * 3600  # day 30, 10:00
OPTIONS = CountOptions(reference=START + DAYS * DAY_SECONDS, retention_days=60)


def _iso(seconds):
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _article(i, moment, *, source, entities=(), story=None, title="Background"):
    article = {"id": f"a{i}", "title": title, "published": _iso(moment), "source": source,
               "topics": [{"id": "sanctions"}],
               "entities": [{"canonical": e, "text": e, "label": "ORG", "count": 1} for e in entities]}
    if story:
        article["story"] = {"id": story}
    return article


def _history(burst=True):
    """A steady 'sanctions' topic (about 2 articles a quarter hour, 12 outlets), and a Gazprom
    burst of 8 a quarter hour for two hours on day 30, from 20 outlets, in two stories."""
    rng = np.random.default_rng(1)
    articles = []
    for bucket in range(DAYS * 96):
        moment = START + bucket * BUCKET_SECONDS
        for k in range(rng.poisson(2.0)):
            articles.append(_article(len(articles), moment + 60 * k, source=f"outlet{rng.integers(12)}",
                                     entities=["Gazprom"] if rng.random() < 0.05 else ["Ministry"]))
    if burst:
        for bucket in range(8):
            moment = BURST_AT + bucket * BUCKET_SECONDS
            for k in range(8):
                story = "gazprom-halts" if k % 3 else "gazprom-fine"
                title = "Gazprom halts gas to Europe" if k % 3 else "Gazprom fined"
                articles.append(_article(len(articles), moment + 60 * k, source=f"wire{(bucket * 8 + k) % 20}",
                                         entities=["Gazprom"], story=story, title=title))
    return articles


def _count(client, articles):
    for start in range(0, len(articles), 500):
        counter = ArticleCounter(OPTIONS)
        for article in articles[start:start + 500]:
            counter.add(article)
        pipe = client.pipeline(transaction=False)
        counter.write(pipe)
        pipe.execute()


@pytest.fixture(scope="module")
def history():
    return _history()


def test_a_replayed_history_yields_its_surge_once_with_its_stories(redis_db, history):
    _count(redis_db, history)
    SubscriptionStore(redis_db, RedisKeys()).add("gazprom-surge", {"on_spike": "entity:Gazprom", "level": "low"})
    SubscriptionStore(redis_db, RedisKeys()).add("only-high", {"on_spike": "topic:sanctions", "level": "high"})
    watch = SurgeWatch(redis_db)
    found = watch.detect_range(START + 8 * DAY_SECONDS, START + DAYS * DAY_SECONDS - 1)
    series = {f["series"] for f in found}
    # The burst's articles are sanctions news about Gazprom: the entity, the pair and the topic surge.
    assert {"entity:Gazprom", "topic:sanctions|entity:Gazprom"} <= series and "all" not in series
    assert "entity:Ministry" not in series
    first = next(f for f in found if f["series"] == "entity:Gazprom")
    assert first["alert"] == "new"
    moment = datetime.fromisoformat(first["at"].replace("Z", "+00:00")).timestamp()
    assert BURST_AT < moment <= BURST_AT + 45 * 60  # within 45 minutes of its start
    stories = json.loads(first["stories"])
    assert stories[0]["story"] == "gazprom-halts" and stories[0]["title"] == "Gazprom halts gas to Europe"
    assert int(first["sources"]) >= 3 and float(first["ratio"]) > 3
    on_stream = redis_db.xlen("newsmon:spikes")
    alerts = redis_db.xrange("newsmon:alerts:gazprom-surge")
    assert on_stream == len(found) and len(alerts) >= 1
    assert alerts[0][1]["title"].startswith("Gazprom surges:") and alerts[0][1]["subscription"] == "gazprom-surge"
    assert redis_db.xlen("newsmon:alerts:only-high") == 0
    # A rerun announces nothing twice.
    assert watch.detect_range(START + 8 * DAY_SECONDS, START + DAYS * DAY_SECONDS - 1) == []
    assert redis_db.xlen("newsmon:spikes") == on_stream
    assert [f["series"] for f in watch.recent(BURST_AT)] == [f["series"] for f in found if f["at"] >= _iso(BURST_AT)]


def test_the_monitor_tick_sees_a_burst_in_the_quarter_hour_still_filling(redis_db, history):
    _count(redis_db, [a for a in history if a["published"] < _iso(BURST_AT + 20 * 60)])
    watch = SurgeWatch(redis_db)
    assert watch.detect_now(BURST_AT - 60) == []  # before the burst: nothing
    found = watch.detect_now(BURST_AT + 20 * 60)
    assert "entity:Gazprom" in [f["series"] for f in found]
    assert watch.detect_now(BURST_AT + 21 * 60) == []  # cooldown
    # Baselines were cached for the day.
    assert redis_db.hlen(f"newsmon:baseline:{_iso(BURST_AT)[:10].replace('-', '')}") >= 1


def test_a_clock_set_back_or_forward_raises_nothing(redis_db, history):
    _count(redis_db, [a for a in history if a["published"] < _iso(BURST_AT - 3600)])
    watch = SurgeWatch(redis_db)
    assert watch.detect_now(BURST_AT - 3600) == []
    assert watch.detect_now(BURST_AT - 3 * DAY_SECONDS) == []  # set back three days
    assert watch.detect_now(BURST_AT + 400 * DAY_SECONDS) == []  # a year ahead: no counts, no surge
    assert redis_db.xlen("newsmon:spikes") == 0


def test_no_history_no_surge(redis_db):
    _count(redis_db, [_article(1, START, source="x")])  # one article ever
    watch = SurgeWatch(redis_db)
    assert watch.detect_range(START - DAY_SECONDS, START + DAY_SECONDS) == []
    assert watch.detect_now(START + 60) == []
