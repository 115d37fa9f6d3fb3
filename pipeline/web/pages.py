"""What each page reads from Redis, through the same functions as the commands that print it.

    live_alerts(client, keys, streams, count=50)      the latest alerts of those streams, newest first
    story_list(client, keys, since, topic, sort)     as ``newsmon stories``; ``sort="size"``: most articles first
    feed_rows(client, keys, health, page)            as ``newsmon feeds status``, a page at a time
    trends_page(client, keys, since, until, series)  as ``newsmon trends`` (and ``spikes``)
    dead_letters(client, keys, stage, count)         as ``newsmon deadletters list``
    subscription_rows(client, keys, topics_file)     as ``newsmon subscribe list``

Plain functions of a redis-py client (the page handlers run them in a thread).
"""

import os
import time
from datetime import datetime, timezone

from connectors.feed_state import load_states
from connectors.story_index import StoryIndex
from connectors.subscription_store import SubscriptionStore, running_topics
from connectors.surges import SurgeWatch, top_series, trend_data
from pipeline.web.render import alert_view, entry_time, stream_id_key, trend_svg
from transforms.spikes import DAY_SECONDS, series_kind, series_name
from transforms.topics import DEFAULT_TAXONOMY, load_taxonomy

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


# KEYS[1]: the stories by time; ARGV: since, the story hash prefix, how many, a topic or "". The ids of the
# stories with most articles (then sources), largest first. (Story hashes are read by name: one Redis
# server, as the story index itself.)
_LARGEST_STORIES = """
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', ARGV[1])
local prefix, limit, topic = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local needle = '"' .. topic .. '"'
local found = {}
for _, id in ipairs(ids) do
  local v = redis.call('HMGET', prefix .. id, 'articles', 'sources', 'topics')
  if v[1] and (topic == '' or (v[3] and string.find(v[3], needle, 1, true))) then
    found[#found + 1] = {tonumber(v[1]) or 0, tonumber(v[2]) or 0, id}
  end
end
table.sort(found, function(a, b)
  if a[1] ~= b[1] then return a[1] > b[1] end
  if a[2] ~= b[2] then return a[2] > b[2] end
  return a[3] < b[3]
end)
local out = {}
for i = 1, math.min(limit, #found) do out[i] = found[i][3] end
return out
"""


def story_list(client, keys, since, topic=None, sort="recent", limit=50):
    """Stories with an article since ``since`` (epoch s): latest first, or with ``sort="size"`` the
    ones with most articles (then sources) first."""
    index = StoryIndex(client, prefix=keys.prefix)
    if sort == "size":
        # The largest, picked inside Redis (one round trip over 10,000 stories), then their summaries.
        ids = client.eval(_LARGEST_STORIES, 1, index.keys.by_time, since, index.keys.story(""), limit, topic or "")
        found = [story for story in index.summaries(ids) if not topic or topic in story["topics"]]
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


_URL_AND_HEALTH = """
local out = {}
for _, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'url', 'health')
  out[#out + 1] = v[1] or ''
  out[#out + 1] = v[2] or ''
end
return out
"""
_HEALTH_ORDER = {"dead": 0, "failing": 1, "throttled": 2, "new": 3, "ok": 4}


def feed_rows(client, keys, *, health=None, page=1, per_page=100, now=None):
    """As ``newsmon feeds status``, the feeds that need a look first (dead, failing, throttled, new,
    then ok; by URL within each), ``per_page`` at a time: ``(rows, {health: feeds}, pages)``. Only the
    URL and health of every feed are read; the full state only of the feeds shown."""
    now = time.time() if now is None else now
    prefix = keys.feed("")
    pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"
    ids = [key[len(prefix):] for key in client.scan_iter(match=pattern, count=10_000)]
    found = []
    for start in range(0, len(ids), 5000):  # one script call per 5,000 feeds, not one command per feed
        chunk = ids[start:start + 5000]
        found.extend(client.eval(_URL_AND_HEALTH, len(chunk), *(keys.feed(feed_id) for feed_id in chunk)))
    listed = [(feed_id, found[2 * i] or "", found[2 * i + 1] or "new") for i, feed_id in enumerate(ids)]
    counts = {}
    for _, _, state in listed:
        counts[state] = counts.get(state, 0) + 1
    if health:
        listed = [row for row in listed if row[2] == health]
    listed.sort(key=lambda row: (_HEALTH_ORDER.get(row[2], 5), row[1], row[0]))
    pages = max(1, -(-len(listed) // per_page))
    page = min(max(page, 1), pages)
    shown = [feed_id for feed_id, _, _ in listed[(page - 1) * per_page:page * per_page]]
    states = load_states(client, keys, shown)
    rows = []
    for feed_id in shown:
        state = states[feed_id]
        wait = state.next_poll - now
        rows.append({
            "state": state,
            "next_poll": "due" if wait <= 0 else f"in {int(wait // 60)}m{int(wait % 60):02d}s",
            "last_poll": _when(state.last_poll),
            "validators": "yes" if state.etag or state.last_modified else "no",
            "link": state.url if state.url.startswith(("http://", "https://")) else "",
        })
    return rows, dict(sorted(counts.items(), key=lambda kv: _HEALTH_ORDER.get(kv[0], 5))), pages, page


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


_TAXONOMIES = {}  # (path, mtime, size) -> topic ids: a taxonomy file is read again only when it changes


def _topic_ids(path):
    stat = os.stat(path)
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _TAXONOMIES:
        _TAXONOMIES.clear()
        _TAXONOMIES[key] = list(load_taxonomy(path))
    return _TAXONOMIES[key]


def topics_known(client, keys, topics_file=None):
    """``(topic ids, where from)`` as ``newsmon subscribe add`` checks them (``known_topics``), with the
    taxonomy file read once, not on every page."""
    if topics_file:
        return _topic_ids(topics_file), topics_file
    running = running_topics(client, keys)
    if running is not None:
        topics, source = running
        return topics, f"the taxonomy the monitor runs with ({source or 'published in Redis'})"
    return _topic_ids(DEFAULT_TAXONOMY), "the default taxonomy"


_CHECKED = {}  # the last (stored subscriptions, topics) -> (usable, unusable): compiling 20 rules takes ~100 ms


def _checked(client, keys, topics):
    raw = client.hgetall(keys.subscriptions)
    key = (tuple(sorted(raw.items())), tuple(topics))
    if key not in _CHECKED:
        _CHECKED.clear()
        _CHECKED[key] = SubscriptionStore(client, keys).checked(known_topics=topics)
    return _CHECKED[key]


def subscription_rows(client, keys, topics_file=None):
    """Every stored subscription with its state: paused, or invalid (and why), as ``subscribe list``."""
    store = SubscriptionStore(client, keys)
    usable, unusable = _checked(client, keys, topics_known(client, keys, topics_file)[0])
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
