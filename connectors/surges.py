"""Surge detection over the counts in Redis, and where surges go.

    watch = SurgeWatch(client)              # prefix and settings optional
    watch.detect_now()                      # the monitor, on its tick: the last two hours, now
    watch.detect_range(start, end)          # a replay, at the end: every quarter hour of its span
    watch.recent(since)                     # the surges on newsmon:spikes

The statistics are transforms/spikes.py; this module reads what they need
(connectors/counts.py), keeps the cooldown state per series, and writes each
surge once:

    newsmon:spikes                  stream: series, level, at, observed, expected, ratio, top stories ...
    newsmon:alerts:<subscription>   for every ``on_spike`` subscription the surge matches
    newsmon:spikes:state            hash: series -> last alert (cooldown and escalation)
    newsmon:baseline:<day>          hash: series -> that day's fitted baseline (cache, 2 days)
    newsmon:seen:spikes:<id>        markers: a rerun announces nothing twice

The monitor judges the quarter hour still filling too (its expectation
scaled by the minutes elapsed), so a burst can alert within minutes. A tick
whose clock is behind the last one judged (a clock set back) judges nothing.
"""

import hashlib
import json
import logging
import time
from datetime import datetime, timezone

import numpy as np

from connectors.counts import CountKeys, CountStore
from connectors.redis_streams import DEFAULT_MAXLEN, RedisKeys, append_once
from transforms.spikes import (
    BASELINE_DAYS,
    BUCKET_SECONDS,
    BUCKETS_PER_DAY,
    DAY_SECONDS,
    RECENT_BUCKETS,
    Baselines,
    SpikeSettings,
    cooldown_decision,
    detect_span,
    fit_baselines,
    judge_surges,
    series_kind,
    series_name,
    spike_subscribers,
    weekday_of_day,
    window_tests,
)

__all__ = ["SurgeWatch", "spike_fields", "top_series", "trend_data"]

_log = logging.getLogger(__name__)
_STATE_TTL = 14 * DAY_SECONDS
_BASELINE_TTL = 2 * DAY_SECONDS
_MARKER_TTL = 90 * DAY_SECONDS
_TOP_STORIES = 3


def _iso(seconds):
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def spike_fields(surge, at, kind, stories):
    """The flat fields of a surge entry on ``newsmon:spikes``."""
    return {
        "id": hashlib.sha256(f"{surge.series}\n{int(at)}".encode()).hexdigest()[:16],
        "series": surge.series,
        "kind": series_kind(surge.series),
        "name": series_name(surge.series),
        "level": surge.level,
        "alert": kind,  # new, escalated or grew
        "at": _iso(at),
        "window_minutes": str(surge.window_minutes),
        "observed": str(surge.observed),
        "expected": f"{surge.expected:.2f}",
        "ratio": f"{surge.ratio:.1f}",
        "p_value": f"{surge.p_value:.2e}",
        "sources": str(surge.sources),
        "top_source_share": f"{surge.top_source_share:.2f}",
        "stories": json.dumps(stories, ensure_ascii=False, separators=(",", ":")),
    }


def _alert_fields(subscription, fields):
    """A surge as an alert entry, readable by `alerts tail` and `deliver` like any other."""
    stories = json.loads(fields["stories"])
    kind = fields["kind"]
    verb = {"new": "surges", "escalated": "surge escalates", "grew": "surge grows"}[fields["alert"]]
    title = (f"{fields['name']} {verb}: {fields['observed']} articles in {fields['window_minutes']} min,"
             f" {fields['ratio']}x the usual {fields['expected']} ({fields['level']})")
    topics = []
    entities = []
    for part in fields["series"].split("|"):
        what, _, value = part.partition(":")
        if what == "topic":
            topics.append({"id": value, "evidence": []})
        elif what == "entity":
            entities.append({"canonical": value, "label": ""})
    return {
        "subscription": subscription,
        "id": fields["id"],
        "title": title,
        "url": "",
        "source": "newsmon surge detection",
        "published": fields["at"],
        "origin": f"spikes:{fields['series']}",
        "story": stories[0]["story"] if stories else "",
        "score": fields["ratio"],
        "terms": json.dumps([fields["series"]]),
        "evidence": json.dumps([f"{s['articles']} articles: {s['title']}" for s in stories], ensure_ascii=False),
        "topics": json.dumps(topics, ensure_ascii=False),
        "entities": json.dumps(entities if kind != "country" else [], ensure_ascii=False),
        **{f"spike_{k}": v for k, v in fields.items() if k not in ("id", "stories")},
    }


class SurgeWatch:
    """Runs detection over the counts and announces each surge once."""

    iso = staticmethod(_iso)

    def __init__(self, client, prefix="newsmon:", settings=None, *, maxlen=DEFAULT_MAXLEN):
        self.client = client
        self.store = CountStore(client, prefix)
        self.keys = CountKeys(prefix)
        self.streams = RedisKeys(prefix)
        self.settings = settings or SpikeSettings()
        self.maxlen = maxlen

    # --- baselines ---------------------------------------------------------------------------

    def baselines(self, day, series, history_start):
        """Baselines of ``series`` for ``day``: cached in Redis, fitted for those missing."""
        rows = len(series)
        key = self.keys.baseline(day)
        cached = self.client.hmget(key, series) if series else []
        expected = np.zeros((rows, BUCKETS_PER_DAY))
        dispersion = np.zeros(rows)
        bucket_dispersion = np.zeros(rows)
        missing = []
        history_days = None
        for i, raw in enumerate(cached):
            if raw is None:
                missing.append(i)
                continue
            values = json.loads(raw)
            history_days = values["days"]
            expected[i] = np.frombuffer(bytes.fromhex(values["e"]), dtype=np.float32)
            dispersion[i], bucket_dispersion[i] = values["d"], values["b"]
        if missing or history_days is None:
            fitted = self._fit(day, [series[i] for i in missing] or series[:1], history_start)
            history_days = fitted.history_days
            pipe = self.client.pipeline(transaction=False)
            for j, i in enumerate(missing):
                expected[i], dispersion[i], bucket_dispersion[i] = (
                    fitted.expected[j], fitted.dispersion[j], fitted.bucket_dispersion[j])
                pipe.hset(key, series[i], json.dumps({
                    "e": fitted.expected[j].astype(np.float32).tobytes().hex(), "d": float(fitted.dispersion[j]),
                    "b": float(fitted.bucket_dispersion[j]), "days": int(fitted.history_days)}))
            pipe.expire(key, _BASELINE_TTL)
            pipe.execute()
        return Baselines(expected, dispersion, np.zeros(rows), history_days, bucket_dispersion)

    def _fit(self, day, series, history_start):
        names = list(series) + ["all"]
        days = np.arange(day - BASELINE_DAYS, day)
        daily = self.store.days(names, day - BASELINE_DAYS, day - 1)
        valid = days >= history_start if history_start is not None else np.zeros(len(days), bool)
        daily[:, ~valid] = 0
        hours = self.store.week_hours(names, day)
        yesterday = self.store.buckets(names, (day - 1) * BUCKETS_PER_DAY, day * BUCKETS_PER_DAY - 1)
        weekdays = np.array([weekday_of_day(d) for d in days])
        return fit_baselines(daily[:-1], hours[:-1], valid=valid, weekdays=weekdays,
                             target_weekday=weekday_of_day(day), global_daily=daily[-1], global_hours=hours[-1],
                             yesterday=yesterday[:-1], settings=self.settings)

    # --- the monitor's tick ----------------------------------------------------------------------

    def detect_now(self, now=None):
        """Judge the last two hours as of ``now`` (the quarter hour still filling included);
        returns the surges announced, as their fields."""
        now = time.time() if now is None else float(now)
        last_tick = self.client.hget(self.keys.spike_state, "\x00last")
        if last_tick is not None and now < float(last_tick) - BUCKET_SECONDS:
            _log.warning("newsmon: the clock is behind the last surge check (%s); not judging", _iso(float(last_tick)))
            return []
        tick = int(now // BUCKET_SECONDS)
        first = tick - RECENT_BUCKETS + 1
        active = self.store.active(first, tick)
        candidates = sorted(s for s, n in active.items() if n >= self.settings.min_count and s != "all")
        self.client.hset(self.keys.spike_state, "\x00last", now)
        if not candidates:
            return []
        day = tick // BUCKETS_PER_DAY
        history_start = self.store.history_start_day(day)
        if history_start is None:
            return []
        recent = self.store.buckets(candidates, first, tick)
        buckets = np.arange(first, tick + 1)
        days_of = buckets // BUCKETS_PER_DAY
        today = self.baselines(day, candidates, history_start)
        if not today.ready:
            return []
        expected = np.empty_like(recent)
        for d in np.unique(days_of):
            columns = days_of == d
            base = today if d == day else self.baselines(int(d), candidates, history_start)
            expected[:, columns] = base.expected[:, buckets[columns] % BUCKETS_PER_DAY]
        filled = (now - tick * BUCKET_SECONDS) / BUCKET_SECONDS
        expected[:, -1] *= min(max(filled, 0.05), 1.0)
        midnight = day * BUCKETS_PER_DAY
        today_total = self.store.days(candidates, day, day)[:, 0]
        in_window_today = recent[:, days_of == day].sum(axis=1)
        before = max(first, midnight) - midnight
        tests = window_tests(recent, expected, today.dispersion, today.history_days,
                             bucket_dispersion=today.bucket_dispersion,
                             today_observed=np.maximum(today_total - in_window_today, 0),
                             today_expected=today.expected[:, :before].sum(axis=1), settings=self.settings)
        surges = judge_surges(candidates, tests, lambda s, width: self.store.sources(
            candidates[s], tick - width + 1, tick), settings=self.settings)
        return self._announce([(tick, surge, now) for surge in surges])

    # --- a replay's span ---------------------------------------------------------------------

    def detect_range(self, start, end):
        """Judge every quarter hour of [start, end] (epoch s) as it would have been judged live."""
        first_tick = int(start // BUCKET_SECONDS)
        last_tick = int(end // BUCKET_SECONDS)
        history_start = self.store.history_start_day(last_tick // BUCKETS_PER_DAY)
        if history_start is None:
            return []
        first_bucket = max(history_start * BUCKETS_PER_DAY,
                           (first_tick // BUCKETS_PER_DAY - BASELINE_DAYS - 7 * 5) * BUCKETS_PER_DAY)
        totals = self.store.active(first_tick - RECENT_BUCKETS, last_tick)
        series = sorted(s for s, n in totals.items() if n >= self.settings.min_count and s != "all") + ["all"]
        if len(series) == 1:
            return []
        counts = self.store.buckets(series, first_bucket, last_tick)
        state = self._state(series)
        found = detect_span(series, counts, first_bucket, range(max(first_tick, first_bucket), last_tick + 1),
                            global_row=len(series) - 1, history_start_day=history_start,
                            sources_of=lambda s, a, b: self.store.sources(series[s], a, b),
                            settings=self.settings, state=state)
        return self._announce([(tick, surge, (tick + 1) * BUCKET_SECONDS, kind) for tick, surge, kind in found],
                              decided=True, state=state)

    # --- announcing ----------------------------------------------------------------------------

    def _state(self, series):
        raw = self.client.hmget(self.keys.spike_state, series)
        return {s: json.loads(r) for s, r in zip(series, raw) if r}

    def _subscriptions(self):
        stored = {}
        for name, raw in self.client.hgetall(self.streams.subscriptions).items():
            try:
                rule = json.loads(raw)
            except ValueError:
                continue
            if isinstance(rule, dict) and "on_spike" in rule:
                stored[name] = rule
        return stored

    def _announce(self, found, *, decided=False, state=None):
        if not found:
            if state:
                self.client.hset(self.keys.spike_state, mapping={s: json.dumps(v) for s, v in state.items()})
            return []
        subscriptions = self._subscriptions()
        if state is None:
            state = self._state(sorted({item[1].series for item in found}))
        announced, entries = [], []
        for item in found:
            tick, surge, at = item[:3]
            if decided:
                kind = item[3]
            else:
                kind, state[surge.series] = cooldown_decision(state.get(surge.series), surge, at, self.settings)
                if kind is None:
                    continue
            stories = self.store.top_stories(surge.series, tick - surge.window_minutes // 15 + 1, tick,
                                             _TOP_STORIES)
            fields = spike_fields(surge, at, kind, stories)
            marker = self.keys.spike_marker(fields["id"])
            entries.append(("spikes", self.keys.spikes, (marker,), fields))
            for name in spike_subscribers(subscriptions, surge.series, surge.level):
                stream = self.streams.alerts(name)
                entries.append((f"alerts:{name}", stream, (self.streams.seen(stream, fields["id"]),),
                                _alert_fields(name, fields)))
            announced.append(fields)
        pipe = self.client.pipeline(transaction=False)
        append_once(pipe, entries, maxlen=self.maxlen, ttl=_MARKER_TTL)
        if state:
            pipe.hset(self.keys.spike_state, mapping={s: json.dumps(v) for s, v in state.items()})
            pipe.expire(self.keys.spike_state, _STATE_TTL)
        results = pipe.execute()[0] if entries else []
        new = {fields["id"] for (kind, _, _, fields), r in zip(entries, results) if kind == "spikes" and r}
        return [fields for fields in announced if fields["id"] in new]

    # --- reading ---------------------------------------------------------------------------------

    def recent(self, since=None, *, limit=1000):
        """Surges on ``newsmon:spikes`` whose time is at or after ``since`` (epoch s), oldest first."""
        out = []
        for _entry_id, fields in self.client.xrevrange(self.keys.spikes, count=limit):
            moment = datetime.fromisoformat(fields["at"].replace("Z", "+00:00")).timestamp()
            if since is not None and moment < since:
                continue
            out.append({**fields, "stories": json.loads(fields.get("stories") or "[]")})
        out.sort(key=lambda f: (f["at"], f["series"]))
        return out


# --- trends ------------------------------------------------------------------------------------


def _band(expected, inv_size, coverage=0.9):
    """The central ``coverage`` interval of a negative binomial of mean ``expected``."""
    from scipy.stats import nbinom

    if expected <= 0:
        return 0.0, 0.0
    size = 1.0 / max(inv_size, 1e-6)
    tail = (1 - coverage) / 2
    dist = nbinom(size, size / (size + expected))
    return float(dist.ppf(tail)), float(dist.ppf(1 - tail))


def trend_data(watch, series, since, until, resolution="hour"):
    """Counts of one series per hour or day over [since, until] (epoch s), with the band its
    baselines expect (90%) and its surges: ``{"series", "name", "points": [{"start", "count",
    "expected", "low", "high"}], "surges": [...]}``; what `newsmon trends --json` prints."""
    store = watch.store
    step = 3600 if resolution == "hour" else DAY_SECONDS
    first = int(since // step) * step
    points = []
    if resolution == "hour":
        counts = store.buckets([series], int(first // BUCKET_SECONDS), int(until // BUCKET_SECONDS))[0]
        per_point = [counts[i:i + 4].sum() for i in range(0, len(counts), 4)]
    else:
        per_point = list(store.days([series], int(first // DAY_SECONDS), int(until // DAY_SECONDS))[0])
    history_start = store.history_start_day(int(until // DAY_SECONDS))
    baselines = {}
    for i, count in enumerate(per_point):
        start = first + i * step
        day = int(start // DAY_SECONDS)
        point = {"start": _iso(start), "count": int(count), "expected": None, "low": None, "high": None}
        if history_start is not None:
            if day not in baselines:
                baselines[day] = watch.baselines(day, [series], history_start)
            base = baselines[day]
            if base.ready:
                if resolution == "hour":
                    hour = int(start % DAY_SECONDS // 3600)
                    expected = float(base.expected[0, hour * 4:hour * 4 + 4].sum())
                    inv_size = base.dispersion[0] + base.bucket_dispersion[0] / 4
                else:
                    expected = float(base.expected[0].sum())
                    inv_size = base.dispersion[0]
                low, high = _band(expected, inv_size)
                point.update(expected=round(expected, 2), low=low, high=high)
        points.append(point)
    surges = [s for s in watch.recent(since) if s["series"] == series and s["at"] <= _iso(until)]
    return {"series": series, "name": series_name(series), "kind": series_kind(series), "resolution": resolution,
            "since": _iso(since), "until": _iso(until), "total": int(sum(per_point)), "points": points,
            "surges": surges}


def top_series(watch, since, until, limit=10):
    """The most counted series of each kind over [since, until]: ``{"series": {kind: [...]}}``."""
    totals = watch.store.series_in(since, until, resolution="1d" if until - since > 2 * DAY_SECONDS else "15m")
    by_kind = {}
    for series, total in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])):
        kind = series_kind(series)
        if kind != "all" and len(by_kind.setdefault(kind, [])) < limit:
            by_kind[kind].append({"series": series, "name": series_name(series), "total": int(total)})
    return {"since": _iso(since), "until": _iso(until), "total": int(totals.get("all", 0)), "series": by_kind}
