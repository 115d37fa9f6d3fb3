"""Time-bucketed counts of articles per series in Redis: written by the sink, read by
surge detection and ``newsmon trends``.

Key layout (prefix configurable, default ``newsmon:``); one hash per time
bucket, its fields the series (transforms/spikes.py: ``all``, ``topic:<id>``,
``entity:<name>``, ``topic:<id>|entity:<name>``, ``country:<code>``):

    newsmon:count:15m:<20210518T0930>       series -> articles in that quarter hour (30 days)
    newsmon:count:1d:<20210518>             series -> articles that day (400 days)
    newsmon:count:hod:<monday>:<HH>         series -> articles in hour HH of that week (6 weeks)
    newsmon:count:src:<20210518T0930>       "series<US>source" -> articles (30 days)
    newsmon:count:story:<20210518T0930>     "series<US>story" -> articles (30 days)
    newsmon:count:title:<20210518T0930>     story -> the title it was first seen under (30 days)
    newsmon:count:stats                     counted, duplicate, undated, too_old, future
    newsmon:seen:count:<article id>         the article was counted (marker TTL)

One Lua script call per flush counts every article of it: the marker is set
with ``SET NX`` and only a new marker increments, so a replayed, retried or
re-fetched article counts once. Buckets are of event time (published, or the
fetch time for a feed item without a date); retention is measured from a
reference time: now while monitoring, the archive's latest date in a replay.
"""

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from transforms.spikes import (
    BASELINE_DAYS,
    BASELINE_WEEKS,
    BUCKET_SECONDS,
    DAY_SECONDS,
    bucket_label,
    country_codes,
    day_label,
    event_time,
    place_event,
    series_of,
    week_label,
    week_of_day,
)

__all__ = ["ArticleCounter", "COUNT_SCRIPT", "CountKeys", "CountOptions", "CountStore", "count_arguments",
           "archive_time_span", "count_once", "load_countries", "story_key"]

DEFAULT_COUNTRIES = Path(__file__).resolve().parent.parent / "seeds" / "countries.yaml"
SEPARATOR = "\x1f"
_MAX_SOURCE_CHARS = 100
_MAX_TITLE_CHARS = 300
_GRACE_SECONDS = DAY_SECONDS

COUNT_SCRIPT = """
-- Per counted article: KEYS marker, 15m, 1d, hour-of-week, sources, stories, titles;
-- per skipped article (no usable date): KEYS its marker; the last KEY: the stats hash.
-- ARGV: ttl15, ttl1d, ttlhod, marker ttl, then per counted article: n series, source, story,
-- title, series...; per skipped one: -1 and its outcome (undated, too_old, future).
-- Returns per article 1 (counted or skipped now) or 0 (seen before): a replayed, retried or
-- re-fetched article adds nothing, to the buckets or to the stats. Hashes: HINCRBY is O(1).
local ttl15, ttl1d, ttlhod, mttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local stats = KEYS[#KEYS]
local k, a, out, ttls = 1, 5, {}, {}
local counted, duplicate = 0, 0
while a <= #ARGV do
  local n = tonumber(ARGV[a])
  if n < 0 then
    if redis.call('SET', KEYS[k], '1', 'NX', 'EX', mttl) then
      redis.call('HINCRBY', stats, ARGV[a + 1], 1)
      out[#out + 1] = 1
    else
      duplicate = duplicate + 1
      out[#out + 1] = 0
    end
    k, a = k + 1, a + 2
  else
    local source, story, title = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
    if redis.call('SET', KEYS[k], '1', 'NX', 'EX', mttl) then
      for i = a + 4, a + 3 + n do
        local s = ARGV[i]
        redis.call('HINCRBY', KEYS[k + 1], s, 1)
        redis.call('HINCRBY', KEYS[k + 2], s, 1)
        redis.call('HINCRBY', KEYS[k + 3], s, 1)
        if s ~= 'all' then  -- never judged: its sources and stories are never asked for
          redis.call('HINCRBY', KEYS[k + 4], s .. '\\31' .. source, 1)
          redis.call('HINCRBY', KEYS[k + 5], s .. '\\31' .. story, 1)
        end
      end
      redis.call('HSETNX', KEYS[k + 6], story, title)
      -- Articles of a flush share their buckets: each key's TTL is set once, at the end.
      ttls[KEYS[k + 1]], ttls[KEYS[k + 2]], ttls[KEYS[k + 3]] = ttl15, ttl1d, ttlhod
      for j = k + 4, k + 6 do ttls[KEYS[j]] = ttl15 end
      counted = counted + 1
      out[#out + 1] = 1
    else
      duplicate = duplicate + 1
      out[#out + 1] = 0
    end
    k, a = k + 7, a + 4 + n
  end
end
for key, ttl in pairs(ttls) do redis.call('EXPIRE', key, ttl) end
redis.call('HINCRBY', stats, 'counted', counted)
redis.call('HINCRBY', stats, 'duplicate', duplicate)
return out
"""


class CountKeys:
    """The keys of the counts, under one prefix."""

    def __init__(self, prefix="newsmon:"):
        self.prefix = prefix
        self.stats = f"{prefix}count:stats"
        self.spikes = f"{prefix}spikes"
        self.spike_state = f"{prefix}spikes:state"

    def bucket(self, bucket):
        return f"{self.prefix}count:15m:{bucket_label(bucket)}"

    def day(self, day):
        return f"{self.prefix}count:1d:{day_label(day)}"

    def hours(self, week, hour):
        return f"{self.prefix}count:hod:{week_label(week)}:{hour:02d}"

    def sources(self, bucket):
        return f"{self.prefix}count:src:{bucket_label(bucket)}"

    def stories(self, bucket):
        return f"{self.prefix}count:story:{bucket_label(bucket)}"

    def titles(self, bucket):
        return f"{self.prefix}count:title:{bucket_label(bucket)}"

    def marker(self, article_id):
        return f"{self.prefix}seen:count:{article_id}"

    def skipped_marker(self, outcome, article_id):
        """The marker of an article skipped as ``outcome`` (undated, too_old, future): a
        future article counts once it is due, under its own marker."""
        return f"{self.prefix}seen:count:{outcome}:{article_id}"

    def baseline(self, day):
        return f"{self.prefix}baseline:{day_label(day)}"

    def spike_marker(self, spike_id):
        return f"{self.prefix}seen:spikes:{spike_id}"


@dataclass(frozen=True)
class CountOptions:
    """How the sink counts. ``reference``: the time retention is measured from (None: now);
    ``countries``: lower-cased place name -> ISO code (transforms.spikes.country_codes)."""

    reference: float = None
    retention_days: int = 30
    daily_retention_days: int = 400
    marker_ttl: int = 90 * 24 * 3600
    countries: dict = field(default_factory=dict, hash=False)

    @property
    def ttls(self):
        return (self.retention_days * DAY_SECONDS + _GRACE_SECONDS,
                self.daily_retention_days * DAY_SECONDS + _GRACE_SECONDS,
                (BASELINE_WEEKS + 2) * 7 * DAY_SECONDS)


def load_countries(path=DEFAULT_COUNTRIES):
    """Lower-cased country names and capitals -> ISO codes, from seeds/countries.yaml."""
    with open(path, encoding="utf-8") as handle:
        return country_codes(yaml.safe_load(handle))


def archive_time_span(files, *, now=None):
    """``(earliest, latest)`` dated article of an archive (epoch s), ignoring dates more than a
    day in the future; None when no article has a date. A replay measures retention from the
    latest and looks for surges over the span. Reads the archive once, dates only."""
    from connectors.archive import read_archive_file
    from transforms.normalize import to_utc_iso

    now = time.time() if now is None else now
    earliest = latest = None
    for path in files:
        for article, _failed in read_archive_file(path):
            if not article or not article.get("published"):
                continue
            moment = event_time({"published": to_utc_iso(article["published"])})
            if moment is None or moment > now + DAY_SECONDS:
                continue
            earliest = moment if earliest is None else min(earliest, moment)
            latest = moment if latest is None else max(latest, moment)
    return None if latest is None else (earliest, latest)


def story_key(article):
    """The story an article belongs to: its story id when stories are assigned, else its id."""
    story = article.get("story")
    if isinstance(story, dict) and story.get("id"):
        return str(story["id"])
    return str(article.get("id") or "")


def _clean(value, limit):
    text = " ".join(str(value or "").split())
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def count_arguments(article, keys, options, now=None):
    """``(outcome, keys, args)`` for one article, for the script: outcome ``counted``, else
    ``undated``, ``too_old`` or ``future`` (then only its marker and the outcome: the stats
    count a skipped article once too)."""
    reference = options.reference if options.reference is not None else (now or time.time())
    outcome, moment = place_event(event_time(article), reference, retention_days=options.daily_retention_days)
    if outcome != "counted":
        return outcome, [keys.skipped_marker(outcome, article.get("id") or "")], [-1, outcome]
    bucket = int(moment // BUCKET_SECONDS)
    day = int(moment // DAY_SECONDS)
    hour = int(moment % DAY_SECONDS // 3600)
    series = series_of(article, options.countries)
    keys_of_article = [keys.marker(article["id"]), keys.bucket(bucket), keys.day(day),
                       keys.hours(week_of_day(day), hour), keys.sources(bucket), keys.stories(bucket),
                       keys.titles(bucket)]
    args = [len(series), _clean(article.get("source"), _MAX_SOURCE_CHARS), story_key(article),
            _clean(article.get("title"), _MAX_TITLE_CHARS), *series]
    return outcome, keys_of_article, args


def count_once(client, prepared, options, keys_of):
    """Count prepared articles (``[(keys, args)]`` of count_arguments) in one script call;
    ``client`` may be a pipeline. Returns per article 1 (new) or 0 (seen before)."""
    if not prepared:
        return []
    keys, args = [], list(options.ttls) + [options.marker_ttl]
    for article_keys, article_args in prepared:
        keys.extend(article_keys)
        args.extend(article_args)
    keys.append(keys_of.stats)
    return client.register_script(COUNT_SCRIPT)(keys=keys, args=args, client=client)


class ArticleCounter:
    """What the sink holds to count a flush of articles in its own round trip.

        counter = ArticleCounter(options, prefix)
        counter.add(article)            # in process()
        counter.write(pipe)             # in the flush, beside the stream entries
    """

    def __init__(self, options, prefix="newsmon:"):
        self.options = options
        self.keys = CountKeys(prefix)
        self.prepared = []

    def add(self, article, now=None):
        outcome, keys, args = count_arguments(article, self.keys, self.options, now)
        self.prepared.append((keys, args))
        return outcome

    def write(self, pipe):
        """Queue the count of every article added since the last clear(): one script call.
        Idempotent: the sink retries a failed round trip with the same articles, and each
        article, counted or skipped, adds to the buckets and the stats once."""
        count_once(pipe, self.prepared, self.options, self.keys)

    def clear(self):
        self.prepared = []


def _score(value):
    return float(value) if value is not None else 0.0


class CountStore:
    """Reads the counts: series over time, the buckets detection needs, sources and stories."""

    def __init__(self, client, prefix="newsmon:"):
        self.client = client
        self.keys = CountKeys(prefix)

    # --- what is there ---------------------------------------------------------------------

    def stats(self):
        return {k: int(v) for k, v in self.client.hgetall(self.keys.stats).items()}

    def add_stats(self, outcomes):
        if outcomes:
            pipe = self.client.pipeline(transaction=False)
            for name, n in outcomes.items():
                pipe.hincrby(self.keys.stats, name, n)
            pipe.execute()

    def series_in(self, start, end, *, resolution="1d"):
        """``{series: articles}`` over [start, end) (epoch s), from daily or 15-minute buckets."""
        pipe = self.client.pipeline(transaction=False)
        for key in self._keys_between(start, end, resolution):
            pipe.hgetall(key)
        totals = {}
        for fields in pipe.execute():
            for member, value in fields.items():
                totals[member] = totals.get(member, 0) + int(value)
        return totals

    def _keys_between(self, start, end, resolution):
        if resolution == "1d":
            return [self.keys.day(d) for d in range(int(start // DAY_SECONDS), int(-(-end // DAY_SECONDS)))]
        return [self.keys.bucket(b) for b in range(int(start // BUCKET_SECONDS), int(-(-end // BUCKET_SECONDS)))]

    # --- matrices --------------------------------------------------------------------------

    def buckets(self, series, first, last):
        """``counts[s, i]``: articles of ``series[s]`` in 15-minute bucket ``first + i`` (first..last)."""
        return self._matrix(series, [self.keys.bucket(b) for b in range(first, last + 1)])

    def days(self, series, first, last):
        return self._matrix(series, [self.keys.day(d) for d in range(first, last + 1)])

    def week_hours(self, series, day):
        """Articles per hour of day over the four weeks before ``day``'s week: ``[s, 24]``."""
        week = week_of_day(day)
        keys = [self.keys.hours(w, h) for w in range(week - BASELINE_WEEKS, week) for h in range(24)]
        return self._matrix(series, keys).reshape(len(series), BASELINE_WEEKS, 24).sum(axis=1)

    def _matrix(self, series, keys):
        if not series or not keys:
            return np.zeros((len(series), len(keys)))
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, series)
        replies = pipe.execute()
        return np.array([[_score(v) for v in reply] for reply in replies], dtype=float).T.reshape(
            len(series), len(keys))

    def active(self, first, last):
        """``{series: articles}`` over 15-minute buckets first..last."""
        pipe = self.client.pipeline(transaction=False)
        for b in range(first, last + 1):
            pipe.hgetall(self.keys.bucket(b))
        totals = {}
        for fields in pipe.execute():
            for member, value in fields.items():
                totals[member] = totals.get(member, 0) + int(value)
        return totals

    def history_start_day(self, day, lookback=BASELINE_DAYS + 7 * BASELINE_WEEKS):
        """The first day with any article counted, looking back from ``day`` (None if none)."""
        counts = self.days(["all"], day - lookback, day)[0]
        nonzero = np.flatnonzero(counts)
        return int(day - lookback + nonzero[0]) if len(nonzero) else None

    # --- what a surge is made of -----------------------------------------------------------

    def _members(self, keys, series):
        """``{rest: articles}`` over the fields ``<series><US><rest>`` of the hashes ``keys``
        (HSCAN with a pattern: only surging series are looked up)."""
        prefix = f"{series}{SEPARATOR}"
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
        totals = {}
        for key in keys:
            for name, value in self.client.hscan_iter(key, match=pattern, count=1000):
                rest = name[len(prefix):]
                totals[rest] = totals.get(rest, 0) + int(value)
        return totals

    def sources(self, series, first, last):
        """``{source: articles}`` of a series in 15-minute buckets first..last."""
        return self._members([self.keys.sources(b) for b in range(first, last + 1)], series)

    def top_stories(self, series, first, last, limit=3):
        """The stories most of a series' articles in buckets first..last belong to:
        ``[{"story": id, "articles": n, "title": ...}]``."""
        stories = self._members([self.keys.stories(b) for b in range(first, last + 1)], series)
        top = sorted(stories.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        if not top:
            return []
        pipe = self.client.pipeline(transaction=False)
        for story, _ in top:
            for b in range(first, last + 1):
                pipe.hget(self.keys.titles(b), story)
        replies = pipe.execute()
        width = last - first + 1
        out = []
        for i, (story, n) in enumerate(top):
            titles = [t for t in replies[i * width:(i + 1) * width] if t]
            title = titles[0] if titles else ""
            out.append({"story": story, "articles": int(n), "title": title})
        return out
