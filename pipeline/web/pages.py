"""What each page reads from Redis, through the same functions as the commands that print it.

    live_alerts(client, keys, streams, count=50)      the latest alerts of those streams, newest first
    story_list(client, keys, since, topic, sort)     as ``newsmon stories``; ``sort="size"``: most articles first
    feed_rows(client, keys)                          as ``newsmon feeds status``
    trends_page(client, keys, since, until, series)  as ``newsmon trends`` (and ``spikes``)
    dead_letters(client, keys, stage, count)         as ``newsmon deadletters list``
    subscription_rows(client, keys, topics_file)     as ``newsmon subscribe list``

Plain functions of a redis-py client (the page handlers run them in a thread).
"""

import argparse
import time
from datetime import datetime, timezone

from connectors.feed_state import all_feed_states
from connectors.story_index import StoryIndex
from connectors.subscription_store import SubscriptionStore
from connectors.surges import SurgeWatch, top_series, trend_data
from pipeline.commands.subscribe import known_topics
from pipeline.web.render import alert_view, entry_time, stream_id_key, trend_svg
from transforms.spikes import DAY_SECONDS, series_kind, series_name

__all__ = ["dead_letters", "feed_rows", "latest_entries", "live_alerts", "story_list", "story_page",
           "subscription_rows", "topics_known", "trends_page"]


def latest_entries(client, streams, count):
    """The ``count`` newest entries of all ``streams`` together, ``[(stream, entry id, fields)]``
    newest first. Reads a few entries of each stream, and more only from a stream whose oldest
    read entry is still among the newest ``count`` (20 streams of 5,000 alerts: ~60 entries read,
    not 1,000)."""
    streams = sorted(set(streams))
    if not streams or count <= 0:
        return []
    per = -(-count // len(streams)) + 1
    cursors = dict.fromkeys(streams, "+")
    merged = []
    while cursors:
        pipe = client.pipeline(transaction=False)
        for stream, newest in cursors.items():
            pipe.xrevrange(stream, max=newest, count=per)
        more = {}
        for stream, entries in zip(cursors, pipe.execute()):
            merged.extend((stream_id_key(entry_id), stream, entry_id, fields) for entry_id, fields in entries)
            if len(entries) == per:
                more[stream] = (stream_id_key(entries[-1][0]), "(" + entries[-1][0])
        merged.sort(key=lambda e: e[0], reverse=True)
        del merged[count:]
        cutoff = merged[-1][0] if len(merged) == count else None
        cursors = {stream: start for stream, (oldest, start) in more.items() if cutoff is None or oldest > cutoff}
        per *= 2
    return [(stream, entry_id, fields) for _, stream, entry_id, fields in merged]


def live_alerts(client, keys, streams, count=50, subscription=None):
    """``[alert_view]``, newest first, from the streams given."""
    if subscription:
        streams = [keys.alerts(subscription)]
    return [alert_view(entry_id, fields, stream) for stream, entry_id, fields in latest_entries(client, streams, count)]


def _when(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M") if epoch else "-"


def story_list(client, keys, since, topic=None, sort="recent", limit=50):
    """Stories with an article since ``since`` (epoch s): latest first, or with ``sort="size"`` the
    ones with most articles (then sources) first."""
    index = StoryIndex(client, prefix=keys.prefix)
    if sort == "size":
        # The sizes alone first (one HMGET a story, pipelined), the summaries of the largest only.
        ids = client.zrevrangebyscore(index.keys.by_time, "+inf", since)
        pipe = client.pipeline(transaction=False)
        for story_id in ids:
            pipe.hmget(index.keys.story(story_id), "articles", "sources", "topics")
        sizes = []
        for story_id, (articles, sources, topics) in zip(ids, pipe.execute() if ids else []):
            if articles is None or (topic and f'"{topic}"' not in (topics or "")):
                continue
            sizes.append((-int(articles or 0), -int(sources or 0), story_id))
        found = [index.story(story_id) for _, _, story_id in sorted(sizes)[:limit]]
        found = [story for story in found if story is not None and (not topic or topic in story["topics"])]
    else:
        found = index.stories(since=since, topic=topic, limit=limit)
    for story in found:
        story["first_text"], story["last_text"] = _when(story["first"]), _when(story["last"])
        story["entity_names"] = [e["name"] for e in story["entities"][:5]]
    return found


def story_page(client, keys, story_id):
    """A story with its articles in time order (``newsmon stories show``), or None."""
    story = StoryIndex(client, prefix=keys.prefix).story(story_id)
    if story is None:
        return None
    story["first_text"], story["last_text"] = _when(story["first"]), _when(story["last"])
    for item in story["items"]:
        item["time_text"] = _when(item.get("time"))
        url = str(item.get("url") or "")
        item["url"] = url if url.startswith(("http://", "https://")) else ""
    return story


def feed_rows(client, keys, now=None):
    """Every feed's state, as ``newsmon feeds status`` shows it."""
    now = time.time() if now is None else now
    rows = []
    for state in all_feed_states(client, keys):
        wait = state.next_poll - now
        rows.append({
            "state": state,
            "next_poll": "due" if wait <= 0 else f"in {int(wait // 60)}m{int(wait % 60):02d}s",
            "last_poll": _when(state.last_poll),
            "validators": "yes" if state.etag or state.last_modified else "no",
            "link": state.url if state.url.startswith(("http://", "https://")) else "",
        })
    return rows


def _iso(seconds):
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def trends_page(client, keys, since, until, series=None, limit=10):
    """The most counted series of each kind, the surges since ``since``, and with ``series`` that
    series per hour (up to 2 days) or day with its band and surges, as an SVG."""
    watch = SurgeWatch(client, keys.prefix)
    overview = top_series(watch, since, until, limit)
    surges = [s for s in watch.recent(since) if s["at"] <= _iso(until)]
    chosen = None
    if series:
        resolution = "hour" if until - since <= 2 * DAY_SECONDS else "day"
        chosen = trend_data(watch, series, since, until, resolution)
        chosen["svg"] = trend_svg(chosen)
    return {"overview": overview, "surges": surges[::-1], "trend": chosen,
            "series_name": series_name(series) if series else "", "series_kind": series_kind(series) if series else ""}


def dead_letters(client, keys, stage=None, count=50):
    """The newest dead letters (of ``stage``), ``[{"entry", "time", **record}]``."""
    entries = client.xrevrange(keys.deadletter, count=count if not stage else max(count * 20, 1000))
    rows = [{"entry": entry_id, "time": entry_time(entry_id), **record} for entry_id, record in entries
            if not stage or record.get("stage") == stage]
    return rows[:count], client.xlen(keys.deadletter)


def topics_known(client, keys, topics_file=None):
    """``(topic ids, where from)`` as ``newsmon subscribe add`` checks them."""
    return known_topics(argparse.Namespace(topics=topics_file), client, keys)


def subscription_rows(client, keys, topics_file=None):
    """Every stored subscription with its state: paused, or invalid (and why), as ``subscribe list``."""
    store = SubscriptionStore(client, keys)
    usable, unusable = store.checked(known_topics=topics_known(client, keys, topics_file)[0])
    stored = store.all()
    streams = sorted({**usable, **unusable})
    pipe = client.pipeline(transaction=False)
    for name in streams:
        pipe.xlen(keys.alerts(name))
    lengths = pipe.execute() if streams else []
    rows = []
    for name, alerts in zip(streams, lengths):
        rule = stored.get(name, {})
        rows.append({"name": name, "paused": bool(rule.get("paused")), "invalid": unusable.get(name, ""),
                     "rule": {k: v for k, v in rule.items() if k != "paused"}, "alerts": alerts})
    return rows
