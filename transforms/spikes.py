"""Burst statistics: which series an article counts in, its time bucket, and surge detection.

Pure functions over numbers; connectors/counts.py keeps the counts in Redis
and runs them. Everything works on 15-minute buckets of *event time* (the
article's published time; for a feed item without one, its fetch time).

    >>> series_of({"topics": [{"id": "sanctions"}],
    ...            "entities": [{"canonical": "Gazprom", "label": "ORG", "count": 3},
    ...                         {"canonical": "Moscow", "label": "GPE", "count": 1}]},
    ...           {"moscow": "RU"})  # doctest: +NORMALIZE_WHITESPACE
    ['all', 'topic:sanctions', 'entity:Gazprom', 'entity:Moscow', 'topic:sanctions|entity:Gazprom',
     'topic:sanctions|entity:Moscow', 'country:RU']

The method (see ARCHITECTURE.md, "Surges"): for each series, the counts of
the last 15, 30, 60 and 120 minutes are compared with what its own history
predicts for that time of day and day of week. The prediction is

    expected = level (articles a day over the last 28 days, weekday-adjusted)
             x weekday factor x share of the day falling in those minutes

with the weekday factors and the time-of-day shares of the series shrunk
towards those of all articles when the series has few articles. The test is
the upper tail of a negative binomial whose dispersion comes from the
series' day-to-day variation plus the uncertainty of the estimate itself; a
window is a surge when that tail is below ``alpha`` (corrected for the four
windows), the count and the ratio reach their minimums, and the articles come
from at least ``min_sources`` sources and the window is still a surge
without its biggest source. Levels grade the ratio and the count; a
series alerts again only after ``cooldown`` unless its level rises or its
count doubles (an escalation).
"""

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import numpy as np
from scipy.stats import nbinom

__all__ = [
    "BUCKET_SECONDS",
    "DAY_SECONDS",
    "BUCKETS_PER_DAY",
    "Baselines",
    "LEVELS",
    "SpikeSettings",
    "Surge",
    "WINDOWS",
    "bucket_label",
    "cooldown_decision",
    "country_codes",
    "day_label",
    "detect_span",
    "event_time",
    "fit_baselines",
    "history_inputs",
    "judge_surges",
    "level_rank",
    "parse_bucket_label",
    "parse_day_label",
    "place_event",
    "series_kind",
    "series_name",
    "series_of",
    "spike_subscribers",
    "validate_spike_rule",
    "window_tests",
    "week_label",
    "week_of_day",
    "weekday_of_day",
]

DAY_SECONDS = 24 * 3600
BUCKET_SECONDS = 15 * 60
BUCKETS_PER_DAY = DAY_SECONDS // BUCKET_SECONDS
BUCKETS_PER_HOUR = 4
WINDOWS = (1, 2, 4, 8)  # buckets: 15, 30, 60 and 120 minutes ending at the tick
RECENT_BUCKETS = max(WINDOWS)
BASELINE_DAYS = 28
BASELINE_WEEKS = 4
MIN_HISTORY_DAYS = 7
LEVELS = ("low", "medium", "high")
ALL_SERIES = "all"

# Which entities become series: the labels a story is "about", the most mentioned first.
COUNTED_LABELS = frozenset("PERSON NORP FAC ORG GPE LOC PRODUCT EVENT LAW".split())
MAX_ENTITIES = 10
MAX_TOPIC_ENTITIES = 5
_MAX_NAME_CHARS = 80


# --- series ----------------------------------------------------------------


def _clean_name(name):
    name = " ".join(str(name).replace("|", "/").split())
    return "".join(ch for ch in name if ch.isprintable())[:_MAX_NAME_CHARS]


def country_codes(table):
    """``{"RU": ["Russia", "Moscow"], ...}`` (seeds/countries.yaml) -> ``{"russia": "RU", "moscow": "RU"}``."""
    lookup = {}
    for code, names in (table or {}).items():
        for name in names or ():
            lookup.setdefault(" ".join(str(name).lower().split()), str(code).upper())
    return lookup


def series_of(article, countries=None):
    """The series a tagged article counts in, without repeats.

    ``all``; ``topic:<id>`` per topic; ``entity:<canonical name>`` for its
    ten most mentioned entities of a counted label; ``topic:<id>|entity:<name>``
    for each topic with its five most mentioned; ``country:<ISO code>`` for
    every place (GPE) that names a country or its capital.
    """
    topics = [str(t["id"]) for t in article.get("topics", ()) if t.get("id")]
    names = []
    places = []
    for entity in article.get("entities", ()):
        label = entity.get("label")
        name = _clean_name(entity.get("canonical") or entity.get("text") or "")
        if not name or label not in COUNTED_LABELS:
            continue
        if name not in names:
            names.append(name)
        if label == "GPE":
            places.append(name.lower())
    series = [ALL_SERIES]
    series.extend(f"topic:{t}" for t in topics)
    series.extend(f"entity:{n}" for n in names[:MAX_ENTITIES])
    series.extend(f"topic:{t}|entity:{n}" for t in topics for n in names[:MAX_TOPIC_ENTITIES])
    lookup = countries or {}
    series.extend(f"country:{code}" for code in dict.fromkeys(lookup[p] for p in places if p in lookup))
    return list(dict.fromkeys(series))


def series_kind(series):
    """``topic``, ``entity``, ``topic_entity``, ``country`` or ``all``."""
    if series == ALL_SERIES:
        return "all"
    if "|" in series:
        return "topic_entity"
    return series.split(":", 1)[0]


def series_name(series):
    """A person's name for a series: ``topic:sanctions|entity:Gazprom`` -> ``Gazprom in sanctions``."""
    kind = series_kind(series)
    if kind == "topic_entity":
        topic, entity = series.split("|", 1)
        return f"{entity.split(':', 1)[1]} in {topic.split(':', 1)[1]}"
    if kind == "all":
        return "all articles"
    return series.split(":", 1)[1]


# --- time ------------------------------------------------------------------


def event_time(article):
    """Epoch seconds of the article's event time (published, else the fetch time the feed
    connector put there with ``published_estimated``); None when it has no date."""
    published = article.get("published")
    if not published:
        return None
    try:
        moment = datetime.fromisoformat(str(published).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def place_event(moment, reference, *, retention_days, future_slack_seconds=DAY_SECONDS,
                clamp_seconds=BUCKET_SECONDS):
    """Where an event time is counted, relative to ``reference`` (now, or a replay's latest date).

    ``("counted", t)`` with the time to count at; ``("undated", None)``;
    ``("too_old", None)`` before the retained window; ``("future", None)`` more than
    ``future_slack_seconds`` ahead. A time a little ahead (a feed's clock or zone
    off by hours) is counted at ``reference``.
    """
    if moment is None or not math.isfinite(moment):
        return "undated", None
    if moment < reference - retention_days * DAY_SECONDS:
        return "too_old", None
    if moment > reference + future_slack_seconds:
        return "future", None
    if moment > reference + clamp_seconds:
        return "counted", reference
    return "counted", moment


def _utc(seconds):
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def bucket_label(bucket):
    """Bucket index (epoch seconds // 900) -> ``"20210518T0930"`` (its UTC start)."""
    return _utc(bucket * BUCKET_SECONDS).strftime("%Y%m%dT%H%M")


def parse_bucket_label(label):
    moment = datetime.strptime(label, "%Y%m%dT%H%M").replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) // BUCKET_SECONDS


def day_label(day):
    """Day index (epoch seconds // 86400) -> ``"20210518"``."""
    return _utc(day * DAY_SECONDS).strftime("%Y%m%d")


def parse_day_label(label):
    moment = datetime.strptime(label, "%Y%m%d").replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) // DAY_SECONDS


def weekday_of_day(day):
    """0 = Monday ... 6 = Sunday (day 0, 1970-01-01, was a Thursday)."""
    return (int(day) + 3) % 7


def week_of_day(day):
    """Index of the Monday-to-Sunday week a day falls in."""
    return (int(day) + 3) // 7


def week_label(week):
    """Week index -> its Monday, ``"20210517"``."""
    return day_label(week * 7 - 3)


# --- baselines -------------------------------------------------------------


@dataclass(frozen=True)
class SpikeSettings:
    """What counts as a surge. The defaults were tuned on the generator's tuning seeds
    (transforms/spike_evaluation.py) and are reported on other seeds."""

    alpha: float = 1e-6  # tail probability, after multiplying by the number of windows
    min_count: int = 5
    min_ratio: float = 2.5
    min_sources: int = 3
    # (name, minimum ratio, minimum count): the highest level whose both minimums are met
    levels: tuple = (("low", 2.5, 5), ("medium", 4.0, 10), ("high", 8.0, 20))
    cooldown_seconds: int = 6 * 3600
    growth_factor: float = 2.0  # count doubled since the last alert: an escalation
    # Baseline fitting
    prior_dispersion: float = 0.05  # squared coefficient of day-to-day variation, before data
    min_dispersion: float = 0.01
    dispersion_days: float = 14.0  # days of history that weigh as much as the prior
    weekday_pseudo_articles: float = 30.0
    hour_pseudo_articles: float = 60.0
    estimate_pooling: float = 3.0  # hours pooled into the time-of-day estimate (smoothing)
    smoothing_articles: float = 50.0  # articles per hour of day in the history at which smoothing halves
    prior_articles: float = 0.5  # a new series: as if half an article had been seen
    prior_bucket_dispersion: float = 0.05
    bucket_dispersion_articles: float = 200.0  # articles in a day that weigh as much as the prior

    def level_thresholds(self):
        return self.levels


def level_rank(level):
    return LEVELS.index(level) if level in LEVELS else -1


@dataclass
class Baselines:
    """Per series, for one day: expected count per 15-minute bucket, dispersion, support.

    ``expected[s, b]``: articles expected in bucket b (0..95) of the day;
    ``dispersion[s]``: squared coefficient of day-to-day variation;
    ``history_days``: days of history behind it (0 while warming up);
    ``support[s]``: articles in the series' history (how much the estimate rests on).
    """

    expected: np.ndarray
    dispersion: np.ndarray
    support: np.ndarray
    history_days: int
    bucket_dispersion: np.ndarray = None  # [s]: within-day variation of one 15-minute bucket

    @property
    def ready(self):
        return self.history_days >= MIN_HISTORY_DAYS

    def rows(self, index):
        return Baselines(self.expected[index], self.dispersion[index], self.support[index], self.history_days,
                         self.bucket_dispersion[index])


def _shrunk_weekday_factors(daily, valid, weekdays, prior, pseudo):
    """Weekday factors (mean 1 over the valid days) of each row, shrunk towards ``prior``."""
    rows = daily.shape[0]
    days = valid.sum()
    level = daily[:, valid].sum(axis=1) / max(days, 1)  # articles a day
    factors = np.ones((rows, 7))
    for weekday in range(7):
        mask = valid & (weekdays == weekday)
        n = mask.sum()
        prior_w = prior[:, weekday] if prior.ndim == 2 else prior[weekday]
        if n == 0:
            factors[:, weekday] = prior_w
            continue
        own = daily[:, mask].sum(axis=1)
        # ``pseudo`` articles' worth of the prior: a busy series speaks for itself.
        factors[:, weekday] = (own + pseudo * prior_w) / (n * level + pseudo)
    # Normalise so that the valid days average 1: the level stays articles per average day.
    mean = factors[:, weekdays[valid]].mean(axis=1, keepdims=True) if days else 1.0
    return factors / np.where(mean > 0, mean, 1.0)


def _smooth_hours(hours, width):
    """Circular smoothing of hour-of-day counts over about ``width`` hours."""
    if width <= 1:
        return hours
    half = width / 2.0
    offsets = np.arange(-int(math.ceil(half)), int(math.ceil(half)) + 1)
    weights = np.clip(half + 0.5 - np.abs(offsets), 0.0, 1.0)
    weights = weights / weights.sum()
    out = np.zeros_like(hours, dtype=float)
    for offset, weight in zip(offsets, weights):
        out += weight * np.roll(hours, offset, axis=-1)
    return out


def _quarter_hour_shares(share):
    """Hourly shares of a day -> shares of its 96 quarter hours, interpolated linearly between
    hour midpoints (a rising morning is not a staircase); the day still sums to 1."""
    rows = share.shape[0]
    quarters = (np.arange(BUCKETS_PER_DAY) + 0.5) / BUCKETS_PER_HOUR - 0.5  # in hours from 00:30
    low = np.floor(quarters).astype(int)
    weight = quarters - low
    values = share[:, low % 24] * (1 - weight) + share[:, (low + 1) % 24] * weight
    total = values.sum(axis=1, keepdims=True)
    return values / np.where(total > 0, total, 1.0).reshape(rows, 1)


def fit_baselines(daily, hours, *, valid, weekdays, target_weekday, global_daily, global_hours,
                  yesterday=None, settings=SpikeSettings()):
    """Baselines of S series for one day, from their history.

    ``daily[s, j]``: articles on each of the previous days (oldest first; 28 of them);
    ``valid[j]``: the day lies within the counted history (else it is ignored, not zero);
    ``weekdays[j]``: 0 = Monday; ``target_weekday``: the weekday of the day being judged;
    ``hours[s, h]``: articles per hour of day over the previous weeks;
    ``global_daily``, ``global_hours``: the same for all articles (the ``all`` series),
    towards which sparse series are shrunk;
    ``yesterday[s, 96]``: the 15-minute counts of the day before (the last of ``daily``),
    for the variation within a day (bursty arrivals); without it, a prior.
    """
    daily = np.asarray(daily, dtype=float).reshape(-1, len(valid))
    hours = np.asarray(hours, dtype=float).reshape(-1, 24)
    valid = np.asarray(valid, dtype=bool)
    weekdays = np.asarray(weekdays)
    rows = daily.shape[0]
    days = int(valid.sum())
    if days == 0:
        empty = np.zeros((rows, BUCKETS_PER_DAY))
        return Baselines(empty, np.full(rows, settings.prior_dispersion), np.zeros(rows), 0,
                         np.full(rows, settings.prior_bucket_dispersion))

    global_daily = np.asarray(global_daily, dtype=float).reshape(1, -1)
    global_week = _shrunk_weekday_factors(global_daily, valid, weekdays, np.ones(7), pseudo=1.0 * max(
        global_daily[:, valid].mean(), 1.0))[0]
    weekday = _shrunk_weekday_factors(daily, valid, weekdays, global_week, settings.weekday_pseudo_articles)

    # Level: articles on a day of weekday factor 1, with a small prior for new series.
    own_factors = weekday[:, weekdays[valid]]
    total = daily[:, valid].sum(axis=1)
    level = (total + settings.prior_articles) / own_factors.sum(axis=1)

    # Time-of-day shares: the series' own (smoothed), shrunk towards all articles'.
    global_hours = np.asarray(global_hours, dtype=float).reshape(24)
    global_share = global_hours / global_hours.sum() if global_hours.sum() > 0 else np.full(24, 1 / 24)
    # A busy series keeps its own hours; a sparse one is smoothed over neighbouring hours.
    per_hour = hours.sum(axis=1, keepdims=True) / 24
    sharp = per_hour / (per_hour + settings.smoothing_articles)
    own_hours = sharp * hours + (1 - sharp) * _smooth_hours(hours, settings.estimate_pooling)
    share = (own_hours + settings.hour_pseudo_articles * global_share) / (
        own_hours.sum(axis=1, keepdims=True) + settings.hour_pseudo_articles)

    day_expected = level * weekday[:, target_weekday]
    expected = day_expected[:, None] * _quarter_hour_shares(share)

    # Dispersion: day-to-day variation beyond Poisson, by the method of moments, shrunk to a prior.
    fitted = level[:, None] * own_factors
    observed = daily[:, valid]
    excess = ((observed - fitted) ** 2 - fitted).sum(axis=1)
    scale = (fitted ** 2).sum(axis=1)
    raw = np.where(scale > 0, excess / np.where(scale > 0, scale, 1.0), settings.prior_dispersion)
    raw = np.clip(raw, 0.0, 4.0)
    dispersion = (raw * days + settings.prior_dispersion * settings.dispersion_days) / (
        days + settings.dispersion_days)
    dispersion = np.maximum(dispersion, settings.min_dispersion)
    bucket_dispersion = _bucket_dispersion(yesterday, level * weekday[:, weekdays[-1]], share, valid[-1], settings)
    return Baselines(expected, dispersion, total, days, bucket_dispersion)


def _bucket_dispersion(yesterday, day_expected, share, usable, settings):
    """Variation between the 15-minute buckets of a day beyond Poisson, once the day's own
    level is accounted for (method of moments on yesterday's buckets), shrunk to a prior."""
    rows = len(day_expected)
    prior = np.full(rows, settings.prior_bucket_dispersion)
    if yesterday is None or not usable:
        return prior
    counts = np.asarray(yesterday, dtype=float).reshape(rows, BUCKETS_PER_DAY)
    shape = _quarter_hour_shares(share)
    total = counts.sum(axis=1, keepdims=True)
    fitted = shape * total  # yesterday's own level, today's time-of-day shape
    scale = (fitted ** 2).sum(axis=1)
    raw = np.where(scale > 0, ((counts - fitted) ** 2 - fitted).sum(axis=1) / np.where(scale > 0, scale, 1), 0)
    raw = np.clip(raw, 0.0, 4.0)
    weight = total[:, 0] / (total[:, 0] + settings.bucket_dispersion_articles)
    return np.maximum(weight * raw + (1 - weight) * prior, settings.min_dispersion)


# --- tests -----------------------------------------------------------------


@dataclass
class WindowTests:
    """Per series and window (15, 30, 60, 120 minutes): observed, expected, tail probability."""

    observed: np.ndarray  # [S, W]
    expected: np.ndarray  # [S, W]
    p_value: np.ndarray  # [S, W]
    size: np.ndarray = None  # [S, W]: the negative binomial's size (1 / its squared variation)

    def tail(self, s, w, count):
        """The tail probability of ``count`` articles in window w of series s."""
        if count <= 0:
            return 1.0
        size = self.size[s, w]
        return float(nbinom.sf(count - 1, size, size / (size + self.expected[s, w])))

    @property
    def ratio(self):
        return self.observed / np.maximum(self.expected, 1e-9)


def window_tests(recent, expected_recent, dispersion, history_days, *, bucket_dispersion=None,
                 today_observed=None, today_expected=None, windows=WINDOWS, settings=SpikeSettings()):
    """Tail probabilities of the last windows of S series.

    ``recent[s, i]``: counts of the last buckets, oldest first (the newest may be a
    bucket still filling); ``expected_recent[s, i]``: what the baselines expect for
    the same buckets (scaled down for a bucket still filling); ``dispersion[s]`` and
    ``bucket_dispersion[s]`` from the baselines; ``today_observed[s]`` and
    ``today_expected[s]``: articles counted and expected earlier today, before the
    windows. A day running above or below its baseline moves the expectation (the
    conjugate gamma-Poisson update of the day's level, its prior the day-to-day
    variation), so a busy news day is not a surge, a sudden change is.
    """
    recent = np.asarray(recent, dtype=float)
    expected_recent = np.asarray(expected_recent, dtype=float)
    observed = np.stack([recent[:, -w:].sum(axis=1) for w in windows], axis=1)
    expected = np.stack([expected_recent[:, -w:].sum(axis=1) for w in windows], axis=1)
    expected = np.maximum(expected, 1e-6)
    day_variation = np.asarray(dispersion, dtype=float)
    if today_observed is not None:
        prior = 1.0 / day_variation
        seen = np.asarray(today_observed, dtype=float)
        level = (prior + seen) / (prior + np.asarray(today_expected, dtype=float))
        expected = expected * level[:, None]
        day_variation = 1.0 / (prior + seen)
    # The estimate's own uncertainty: the history holds ~days x expected articles for this
    # window, pooled over a few neighbouring hours; plus day-to-day variation.
    pooled = max(history_days, 1) * expected * settings.estimate_pooling * BUCKETS_PER_HOUR / np.array(
        windows, dtype=float)[None, :]
    estimate = 1.0 / (pooled + 1.0)
    if bucket_dispersion is None:
        bucket_dispersion = np.full(len(recent), settings.prior_bucket_dispersion)
    within_day = np.asarray(bucket_dispersion, dtype=float)[:, None] / np.array(windows, dtype=float)[None, :]
    inv_size = (day_variation[:, None] + np.asarray(dispersion, dtype=float)[:, None] / max(history_days, 1)
                + within_day + estimate)
    size = 1.0 / inv_size
    p_value = nbinom.sf(observed - 1, size, size / (size + expected))
    return WindowTests(observed, expected, np.where(observed > 0, p_value, 1.0), size)


@dataclass
class Surge:
    """A series whose last window is a surge (before the cooldown is applied)."""

    series: str
    level: str
    window_minutes: int
    observed: int
    expected: float
    p_value: float
    sources: int = 0
    top_source_share: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self):
        return self.observed / max(self.expected, 1e-9)


def _level_of(ratio, count, settings):
    level = None
    for name, min_ratio, min_count in settings.levels:
        if ratio >= min_ratio and count >= min_count:
            level = name
    return level


def judge_surges(series, tests, sources_of, *, windows=WINDOWS, settings=SpikeSettings()):
    """The surges among S series' window tests.

    ``sources_of(s, buckets)`` -> ``{source: articles}`` over the last ``buckets``
    buckets of series s; it is asked only for series that pass the statistics.
    """
    corrected = tests.p_value * len(windows)
    ratio = tests.ratio
    passing = (corrected < settings.alpha) & (tests.observed >= settings.min_count) & (
        ratio >= settings.min_ratio)
    surges = []
    for s in np.flatnonzero(passing.any(axis=1)):
        best = None
        for w in np.flatnonzero(passing[s]):
            level = _level_of(ratio[s, w], tests.observed[s, w], settings)
            if level is None:
                continue
            counts = sources_of(s, windows[w]) or {}
            total = sum(counts.values())
            biggest = max(counts.values()) if counts else 0
            top = biggest / total if total else 1.0
            if len(counts) < settings.min_sources:
                continue
            # The surge must stand without its biggest source: one outlet's updates are no surge.
            without = tests.observed[s, w] - biggest
            if tests.tail(s, w, without) * len(windows) >= settings.alpha or without < settings.min_count - 1:
                continue
            key = (level_rank(level), -corrected[s, w])
            if best is None or key > best[0]:
                best = (key, Surge(series[s], level, windows[w] * BUCKET_SECONDS // 60,
                                   int(tests.observed[s, w]), float(tests.expected[s, w]),
                                   float(min(1.0, corrected[s, w])), len(counts), round(top, 3)))
        if best is not None:
            surges.append(best[1])
    return surges


# --- cooldown --------------------------------------------------------------


def cooldown_decision(previous, surge, at, settings=SpikeSettings()):
    """``(kind, state)``: whether a surge at ``at`` (epoch s) is announced, and the state to keep.

    kind is ``"new"`` (no alert for the series within the cooldown), ``"escalated"``
    (level rose), ``"grew"`` (count at least ``growth_factor`` times the last alert's),
    or None (suppressed). ``previous`` is the state returned for the series' last alert
    (``{"at", "level", "observed"}``) or None. A tick earlier than the last alert (a
    clock that went back) is always suppressed.
    """
    state = {"at": at, "level": surge.level, "observed": surge.observed}
    if not previous:
        return "new", state
    since = at - float(previous["at"])
    if since < 0:
        return None, previous
    if since >= settings.cooldown_seconds:
        return "new", state
    if level_rank(surge.level) > level_rank(previous["level"]):
        return "escalated", {**state, "observed": max(surge.observed, int(previous["observed"]))}
    if surge.observed >= settings.growth_factor * max(int(previous["observed"]), 1):
        return "grew", {**state, "level": previous["level"]}
    return None, previous


def with_settings(settings, **changes):
    """A copy of settings with some fields changed (for tuning)."""
    return replace(settings, **changes)


# --- a span of history -------------------------------------------------------


def history_inputs(counts, first_bucket, day, *, history_start_day):
    """Daily and hour-of-day counts before ``day``, from a matrix of 15-minute counts.

    ``counts[s, i]`` is bucket ``first_bucket + i``. Returns ``(daily[s, 28], valid[28],
    weekdays[28], hours[s, 24], yesterday[s, 96])``: the 28 days before ``day`` (days before
    ``history_start_day`` or before the matrix are not valid), the hour-of-day
    counts of the four weeks before ``day``'s week, and the buckets of the day before.
    """
    rows = counts.shape[0]
    first_day = -(-first_bucket // BUCKETS_PER_DAY)  # the first whole day of the matrix
    offset = first_day * BUCKETS_PER_DAY - first_bucket
    whole_days = (counts.shape[1] - offset) // BUCKETS_PER_DAY
    by_day = counts[:, offset:offset + whole_days * BUCKETS_PER_DAY].reshape(
        rows, whole_days, BUCKETS_PER_DAY)
    days = np.arange(day - BASELINE_DAYS, day)
    valid = (days >= max(history_start_day, first_day)) & (days < first_day + whole_days)
    daily = np.zeros((rows, BASELINE_DAYS))
    index = days[valid] - first_day
    daily[:, valid] = by_day[:, index, :].sum(axis=2)
    week_start = week_of_day(day) * 7 - 3
    hour_days = np.arange(week_start - 7 * BASELINE_WEEKS, week_start)
    usable = (hour_days >= max(history_start_day, first_day)) & (hour_days < first_day + whole_days)
    hours = np.zeros((rows, 24))
    if usable.any():
        chosen = by_day[:, hour_days[usable] - first_day, :]
        hours = chosen.reshape(rows, -1, 24, BUCKETS_PER_HOUR).sum(axis=(1, 3))
    yesterday = np.zeros((rows, BUCKETS_PER_DAY))
    if valid[-1]:
        yesterday = by_day[:, day - 1 - first_day, :]
    return daily, valid, np.array([weekday_of_day(d) for d in days]), hours, yesterday


def detect_span(series, counts, first_bucket, ticks, *, global_row, sources_of, history_start_day,
                settings=SpikeSettings(), state=None, alert_series=None):
    """Run the detector over a span of history, tick by tick, as it would have run live.

    ``counts[s, i]``: 15-minute counts of ``series[s]`` in bucket ``first_bucket + i``;
    ``ticks``: bucket indices, each judged when it has closed (windows end with it);
    ``global_row``: the row of all articles (shrinkage target, never alerted);
    ``sources_of(s, first, last)`` -> ``{source: articles}`` in buckets first..last;
    ``state``: cooldown state per series, updated in place.
    Returns ``[(tick bucket, Surge, kind)]`` in time order; kind as in ``cooldown_decision``.
    """
    counts = np.asarray(counts, dtype=float)
    state = {} if state is None else state
    alertable = np.array([(i != global_row) and (alert_series is None or alert_series(name))
                          for i, name in enumerate(series)])
    baselines = {}

    def baseline_of(day):
        if day not in baselines:
            daily, valid, weekdays, hours, yesterday = history_inputs(
                counts, first_bucket, day, history_start_day=history_start_day)
            baselines[day] = fit_baselines(
                daily, hours, valid=valid, weekdays=weekdays, target_weekday=weekday_of_day(day),
                global_daily=daily[global_row], global_hours=hours[global_row], yesterday=yesterday,
                settings=settings)
        return baselines[day]

    cumulative = np.concatenate([np.zeros((counts.shape[0], 1)), np.cumsum(counts, axis=1)], axis=1)
    found = []
    for tick in ticks:
        end = tick - first_bucket + 1
        start = end - RECENT_BUCKETS
        if start < 0 or end > counts.shape[1]:
            continue
        in_window = cumulative[:, end] - cumulative[:, start]
        candidates = np.flatnonzero(alertable & (in_window >= settings.min_count))
        if not len(candidates):
            continue
        buckets = np.arange(tick - RECENT_BUCKETS + 1, tick + 1)
        day_of_bucket = buckets // BUCKETS_PER_DAY
        today = baseline_of(int(day_of_bucket[-1]))
        if not today.ready:
            continue
        expected = np.empty((len(candidates), RECENT_BUCKETS))
        for day in np.unique(day_of_bucket):
            columns = day_of_bucket == day
            expected[:, columns] = baseline_of(int(day)).expected[candidates][:, buckets[columns] % BUCKETS_PER_DAY]
        # Earlier today, before the windows: how the day is running against its baseline.
        midnight = int(day_of_bucket[-1]) * BUCKETS_PER_DAY
        since = max(midnight, first_bucket)
        before = max(tick - RECENT_BUCKETS + 1, since)
        today_observed = cumulative[candidates, before - first_bucket] - cumulative[candidates, since - first_bucket]
        today_expected = today.expected[candidates][:, since - midnight:before - midnight].sum(axis=1)
        tests = window_tests(counts[candidates, start:end], expected, today.dispersion[candidates],
                             today.history_days, bucket_dispersion=today.bucket_dispersion[candidates],
                             today_observed=today_observed, today_expected=today_expected, settings=settings)
        surges = judge_surges(
            [series[c] for c in candidates], tests,
            lambda s, width, rows=candidates, end=tick: sources_of(rows[s], end - width + 1, end),
            settings=settings)
        for surge in surges:
            at = (tick + 1) * BUCKET_SECONDS
            kind, state[surge.series] = cooldown_decision(state.get(surge.series), surge, at, settings)
            if kind:
                found.append((tick, surge, kind))
    return found


# --- subscriptions to surges ---------------------------------------------------------------


_SERIES_KINDS = ("topic", "entity", "country")


def validate_spike_rule(name, rule):
    """A subscription to surges: ``{"on_spike": "topic:arctic_militarization", "level": "high"}``.

    ``on_spike`` names a series (``topic:ID``, ``entity:NAME``, ``country:CODE``,
    ``topic:ID|entity:NAME``) or a kind with ``*`` (``entity:*``: any entity).
    ``level`` is the lowest level that alerts (default low). Returns the rule
    normalised; ValueError names the problem.
    """
    target = rule.get("on_spike")
    if not isinstance(target, str) or not target.strip():
        raise ValueError(f"subscription {name!r}: on_spike needs a series such as topic:sanctions")
    target = target.strip()
    parts = target.split("|")
    if len(parts) > 2 or any(p.split(":", 1)[0] not in _SERIES_KINDS or ":" not in p or not p.split(":", 1)[1]
                             for p in parts):
        raise ValueError(f"subscription {name!r}: on_spike {target!r}: use topic:ID, entity:NAME, country:CODE,"
                         " topic:ID|entity:NAME, or KIND:* for any")
    level = rule.get("level", "low")
    if level not in LEVELS:
        raise ValueError(f"subscription {name!r}: level {level!r}: use one of {', '.join(LEVELS)}")
    extra = set(rule) - {"on_spike", "level", "description", "paused", "created"}
    if extra:
        raise ValueError(f"subscription {name!r}: a surge subscription takes on_spike and level,"
                         f" not {sorted(extra)[0]!r}")
    if target.startswith("country:"):
        target = target.upper().replace("COUNTRY:", "country:")
    return {**rule, "on_spike": target, "level": level}


def _matches(target, series):
    if target.endswith(":*") and "|" not in target:
        kind = target[:-2]
        return series_kind(series) == kind
    return target.casefold() == series.casefold()


def spike_subscribers(subscriptions, surge_series, level):
    """Names of the active surge subscriptions a surge of ``surge_series`` at ``level`` alerts."""
    names = []
    for name, rule in sorted(subscriptions.items()):
        if not isinstance(rule, dict) or "on_spike" not in rule or rule.get("paused"):
            continue
        if _matches(str(rule["on_spike"]), surge_series) and level_rank(level) >= level_rank(rule.get("level", "low")):
            names.append(name)
    return names
