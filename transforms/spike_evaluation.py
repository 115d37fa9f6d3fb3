"""How well the surge detector works, measured on generated series with known bursts.

    newsmon eval --spikes                 # the report seeds; --seeds tune shows the tuning seeds

A generator makes background series the way news counts behave, then injects
bursts of known size, length and start:

- three tiers by volume: *sparse* (2-10 articles a day), *quiet* (20-60) and
  *busy* (300-1,500);
- a daily rhythm (peak in the local afternoon, in one of three time zones, so
  series peak at different UTC hours; night at 1/3 to 1/20 of the peak), a
  weekly one (weekends at 45-90%), a slow drift, and over-dispersion at two
  scales: a day effect (log-normal, 10-30%) and a bucket effect (gamma);
- natural bumps that are background, not surges: about one a day, 1.1-1.6x
  for 1-4 hours (a story that runs a while);
- a source for every article: each series draws from its own pool of outlets
  with Zipf-like weights;
- one single-source event per series in the evaluation days: one outlet
  posting 8-15 updates within 1-2 hours (must not alert);
- two injected bursts per series in the evaluation days: 2x, 3x, 5x or 10x
  the usual level at that time of day, lasting 1, 2 or 4 hours, starting at a
  random minute, their articles spread over the series' outlets.

The detector runs as it runs live (transforms.spikes.detect_span): a tick at
the end of every 15 minutes, baselines from the history before each day.
A burst counts as detected when an alert for its series falls between its
start and its end (the tick that closes its last bucket included); the delay
is from its start to that tick. Every other alert in the evaluation days is a
false alarm (alerts up to two hours after a burst count as that burst's).

Two seed sets: ``tune`` (what the settings were tuned on) and ``report``
(what the figures in the README come from). Tune on one, report on the other.
"""

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from transforms.spikes import (
    BUCKET_SECONDS,
    BUCKETS_PER_DAY,
    SpikeSettings,
    detect_span,
)

__all__ = ["SEED_SETS", "TIERS", "evaluate_spikes", "format_spike_report", "generate_tier"]

SEED_SETS = {"tune": (11, 12, 13), "report": (101, 102, 103)}
# tier: (articles a day, low / high), outlets in the pool
TIERS = {"sparse": ((2.0, 10.0), (5, 15)), "quiet": ((20.0, 60.0), (15, 40)), "busy": ((300.0, 1500.0), (40, 150))}
BURST_SIZES = (2.0, 3.0, 5.0, 10.0)
BURST_HOURS = (1.0, 2.0, 4.0)
HISTORY_DAYS = 35  # before the evaluation days: four weeks of baseline and a week more
EVAL_DAYS = 14
FIRST_DAY = 20454  # 2026-01-01 is day 20454; the series start on a Thursday like 1970
_GRACE_BUCKETS = 8  # alerts up to two hours after a burst belong to it
ADDED_BANDS = ((0, 10), (10, 20), (20, 40), (40, 10**6))  # articles a burst adds


@dataclass
class Burst:
    series: int
    start: float  # in buckets from the first bucket, fractional
    hours: float
    size: float
    added: int = 0  # articles the burst added (known once generated)

    @property
    def end(self):
        return self.start + self.hours * 4


@dataclass
class GeneratedTier:
    """Counts of S series over all days, split by cause, and what it takes to name sources."""

    name: str
    background: np.ndarray  # [S, B] articles of the background
    burst: np.ndarray  # [S, B] articles of injected bursts
    single: np.ndarray  # [S, B] articles of single-source events
    bursts: list
    single_events: list  # (series, first bucket, last bucket)
    pools: list  # per series: outlet weights
    single_outlet: list
    seed: int
    rates: np.ndarray  # articles a day, per series
    events: dict = field(default_factory=dict)

    @property
    def counts(self):
        return self.background + self.burst + self.single

    def sources(self, s, first, last):
        """``{outlet: articles}`` of series s in buckets first..last (drawn again, same every time)."""
        counts = Counter()
        weights = self.pools[s]
        for b in range(max(first, 0), last + 1):
            rng = np.random.default_rng((self.seed, s, b))
            n_back = int(self.background[s, b])
            if n_back:
                counts.update(rng.choice(len(weights), size=n_back, p=weights).tolist())
            n_burst = int(self.burst[s, b])
            if n_burst:
                counts.update(rng.integers(0, len(weights), size=n_burst).tolist())
            if self.single[s, b]:
                counts[self.single_outlet[s]] += int(self.single[s, b])
        return dict(counts)


def _rhythm(rng, buckets, first_bucket):
    """Expected relative volume per bucket: daily and weekly rhythm, drift, day effects, bumps."""
    days = buckets // BUCKETS_PER_DAY
    hours = np.arange(buckets) % BUCKETS_PER_DAY / 4.0
    zone = rng.choice([0.0, -5.0, 8.0], p=[0.5, 0.3, 0.2])  # Europe, Americas, East Asia (UTC offset)
    peak = (rng.uniform(11.0, 16.0) - zone) % 24
    sharpness = rng.uniform(0.4, 1.0)
    daily = np.exp(sharpness * np.cos(2 * np.pi * (hours - peak) / 24)
                   + 0.25 * sharpness * np.cos(4 * np.pi * (hours - peak + 3) / 24))
    weekday = (np.arange(days) + FIRST_DAY + 3) % 7
    weekend = rng.uniform(0.45, 0.9)
    week = np.where(weekday >= 5, weekend * np.where(weekday == 6, rng.uniform(0.85, 1.1), 1.0), 1.0)
    week = week * rng.uniform(0.93, 1.07, size=days)
    drift = np.exp(np.cumsum(rng.normal(0, 0.03, size=days)))
    day_effect = np.exp(rng.normal(0, rng.uniform(0.1, 0.3), size=days))
    per_day = np.repeat(week * drift * day_effect, BUCKETS_PER_DAY)
    bumps = np.ones(buckets)
    for _ in range(rng.poisson(days)):  # natural bumps: about one a day (overlapping ones do not stack)
        start = rng.integers(0, buckets)
        length = int(rng.uniform(1, 4) * 4)
        bumps[start:start + length] = np.maximum(bumps[start:start + length], rng.uniform(1.1, 1.6))
    return daily * per_day * bumps / daily.mean()


def generate_tier(name, series, seed, *, days=HISTORY_DAYS + EVAL_DAYS, eval_days=EVAL_DAYS):
    """``series`` background series of a tier, with bursts and single-source events in the last
    ``eval_days`` days."""
    (low, high), (pool_low, pool_high) = TIERS[name]
    rng = np.random.default_rng((seed, sorted(TIERS).index(name)))
    buckets = days * BUCKETS_PER_DAY
    eval_start = (days - eval_days) * BUCKETS_PER_DAY
    background = np.zeros((series, buckets))
    burst = np.zeros((series, buckets))
    single = np.zeros((series, buckets))
    bursts, singles, pools, outlets = [], [], [], []
    rates = np.exp(rng.uniform(math.log(low), math.log(high), size=series))
    for s in range(series):
        shape = _rhythm(rng, buckets, FIRST_DAY * BUCKETS_PER_DAY)
        mean = rates[s] / BUCKETS_PER_DAY * shape  # articles expected per bucket
        grain = rng.uniform(8.0, 25.0)  # gamma shape of bucket-level noise (CV 20-35%)
        background[s] = rng.poisson(mean * rng.gamma(grain, 1.0 / grain, size=buckets))
        size = int(rng.integers(pool_low, pool_high + 1))
        weights = 1.0 / np.arange(1, size + 1) ** rng.uniform(0.7, 1.1)
        pools.append(weights / weights.sum())
        # Two bursts, at least two days apart, then one single-source event away from both.
        starts = []
        while len(starts) < 2:
            start = rng.uniform(eval_start + 4, buckets - 20)
            if all(abs(start - other) > 2 * BUCKETS_PER_DAY for other in starts):
                starts.append(start)
        for start in starts:
            event = Burst(s, start, float(rng.choice(BURST_HOURS)), float(rng.choice(BURST_SIZES)))
            first, last = int(start), int(math.ceil(event.end))
            for b in range(first, min(last, buckets)):
                overlap = min(b + 1, event.end) - max(b, start)
                extra = (event.size - 1.0) * mean[b] * max(overlap, 0.0)
                burst[s, b] += rng.poisson(extra)
            bursts.append(event)
        while True:
            start = int(rng.uniform(eval_start + 4, buckets - 12))
            if all(abs(start - other) > 16 for other in starts):
                break
        length = int(rng.integers(4, 9))
        updates = int(rng.integers(8, 16))
        spots = rng.integers(start, start + length, size=updates)
        np.add.at(single[s], spots, 1)
        singles.append((s, start, start + length - 1))
        outlets.append(int(rng.integers(0, size)))
    return GeneratedTier(name, background, burst, single, bursts, singles, pools, outlets, seed, rates)


@dataclass
class TierResult:
    name: str
    series_days: float
    false_alarms: int
    single_source_alarms: int
    single_source_events: int
    detections: list  # (Burst, delay minutes or None, level or None)
    false_alarm_list: list = field(default_factory=list)  # (series, tick, Surge)

    def recall(self, size=None, hours=None):
        chosen = [d for d in self.detections
                  if (size is None or d[0].size == size) and (hours is None or d[0].hours == hours)]
        return (sum(1 for d in chosen if d[1] is not None) / len(chosen) if chosen else float("nan")), len(chosen)

    def median_delay(self, size=None, hours=None):
        delays = [d[1] for d in self.detections if d[1] is not None
                  and (size is None or d[0].size == size) and (hours is None or d[0].hours == hours)]
        return float(np.median(delays)) if delays else float("nan")

    @property
    def false_alarms_per_1000(self):
        return 1000.0 * self.false_alarms / self.series_days


def evaluate_tier(tier, settings=None, *, eval_days=EVAL_DAYS):
    settings = settings or SpikeSettings()
    counts = tier.counts
    rows, buckets = counts.shape
    series = [f"s{i}" for i in range(rows)] + ["all"]
    matrix = np.vstack([counts, counts.sum(axis=0, keepdims=True)])
    first_bucket = FIRST_DAY * BUCKETS_PER_DAY
    eval_start = buckets - eval_days * BUCKETS_PER_DAY
    ticks = range(first_bucket + eval_start, first_bucket + buckets)

    def sources_of(s, first, last):
        return tier.sources(s, first - first_bucket, last - first_bucket)

    found = detect_span(series, matrix, first_bucket, ticks, global_row=rows, sources_of=sources_of,
                        history_start_day=FIRST_DAY, settings=settings)
    by_series = defaultdict(list)
    for tick, surge, _kind in found:
        by_series[int(surge.series[1:])].append((tick - first_bucket, surge))
    detections, claimed = [], set()
    for event in tier.bursts:
        first_tick = int(math.floor(event.start))
        last_tick = int(math.ceil(event.end)) - 1
        hit = None
        for tick, surge in by_series[event.series]:
            if first_tick <= tick <= last_tick:
                hit = (tick, surge)
                break
        delay = (hit[0] + 1 - event.start) * BUCKET_SECONDS / 60 if hit else None
        detections.append((event, delay, hit[1].level if hit else None))
        event.added = int(tier.burst[event.series, first_tick:last_tick + 1].sum())
        for tick, _ in by_series[event.series]:
            if first_tick <= tick <= last_tick + _GRACE_BUCKETS:
                claimed.add((event.series, tick))
    false_alarm_list = [(s, tick, surge) for s, alerts in by_series.items() for tick, surge in alerts
                        if (s, tick) not in claimed]
    false_alarms = len(false_alarm_list)
    single_hits = 0
    for s, first, last in tier.single_events:
        if any(first <= tick <= last + 2 and (s, tick) not in claimed for tick, _ in by_series[s]):
            single_hits += 1
    return TierResult(tier.name, rows * eval_days, false_alarms, single_hits, len(tier.single_events), detections,
                      false_alarm_list)


def evaluate_spikes(seed_set="report", *, series=(("sparse", 200), ("quiet", 200), ("busy", 100)),
                    settings=None, seeds=None):
    """``{tier: [TierResult per seed]}`` over the seeds of a set."""
    settings = settings or SpikeSettings()
    seeds = seeds or SEED_SETS[seed_set]
    results = defaultdict(list)
    for name, count in series:
        for seed in seeds:
            results[name].append(evaluate_tier(generate_tier(name, count, seed), settings))
    return dict(results)


def merged(results):
    """One TierResult per tier, over all seeds."""
    out = {}
    for name, per_seed in results.items():
        out[name] = TierResult(
            name, sum(r.series_days for r in per_seed), sum(r.false_alarms for r in per_seed),
            sum(r.single_source_alarms for r in per_seed), sum(r.single_source_events for r in per_seed),
            [d for r in per_seed for d in r.detections])
    return out


def report_data(results):
    """The figures as plain data (for --json and the table)."""
    data = {}
    for name, tier in merged(results).items():
        rows = {}
        for size in BURST_SIZES:
            for hours in BURST_HOURS:
                recall, n = tier.recall(size, hours)
                rows[f"{size:g}x {hours:g}h"] = {"recall": recall, "bursts": n,
                                                 "median_delay_min": tier.median_delay(size, hours)}
        by_added = {}
        for low, high in ADDED_BANDS:
            chosen = [d for d in tier.detections if d[0].size == 5.0 and d[0].hours == 2.0
                      and low <= d[0].added < high]
            found = [d for d in chosen if d[1] is not None]
            by_added[_band(low, high)] = {
                "recall": len(found) / len(chosen) if chosen else float("nan"), "bursts": len(chosen),
                "median_delay_min": float(np.median([d[1] for d in found])) if found else float("nan")}
        data[name] = {
            "series_days": tier.series_days,
            "bursts_5x_2h_by_articles_added": by_added,
            "false_alarms": tier.false_alarms,
            "false_alarms_per_1000_series_days": tier.false_alarms_per_1000,
            "single_source_events_alerted": tier.single_source_alarms,
            "single_source_events": tier.single_source_events,
            "bursts": rows,
        }
    return data


def format_spike_report(results, seed_set, seeds):
    """The evaluation table a person reads."""
    data = report_data(results)
    tiers = list(data)
    lines = [f"Surge detection on generated series, seed set '{seed_set}' (seeds {', '.join(map(str, seeds))})",
             "recall (bursts) and median delay in minutes, by burst size and length:", ""]
    header = f"{'burst':<10}" + "".join(f"{t + ' (' + _rate_label(t) + ')':>30}" for t in tiers)
    lines.append(header)
    for key in data[tiers[0]]["bursts"]:
        cells = []
        for t in tiers:
            row = data[t]["bursts"][key]
            delay = row["median_delay_min"]
            delay_text = f"{delay:.0f} min" if not math.isnan(delay) else "-"
            cells.append(f"{row['recall']:.2f} ({row['bursts']:>3}) {delay_text:>8}")
        lines.append(f"{key:<10}" + "".join(f"{c:>30}" for c in cells))
    lines.append("")
    lines.append(f"{'false alarms per 1,000 series-days':<36}" + "".join(
        f"{data[t]['false_alarms_per_1000_series_days']:>12.2f}"
        f" ({data[t]['false_alarms']} in {data[t]['series_days']:.0f})" for t in tiers))
    lines.append(f"{'single-source events alerted':<36}" + "".join(
        f"{data[t]['single_source_events_alerted']:>12} of {data[t]['single_source_events']}" for t in tiers))
    lines.append("")
    lines.append("5x bursts lasting 2 h, by the articles they add: recall (bursts) and median delay")
    for band in data[tiers[0]]["bursts_5x_2h_by_articles_added"]:
        cells = []
        for t in tiers:
            row = data[t]["bursts_5x_2h_by_articles_added"][band]
            delay = row["median_delay_min"]
            delay_text = f"{delay:.0f} min" if not math.isnan(delay) else "-"
            recall = f"{row['recall']:.2f}" if row["bursts"] else "   -"
            cells.append(f"{recall} ({row['bursts']:>3}) {delay_text:>8}")
        lines.append(f"{band + ' added':<10}" + "".join(f"{c:>30}" for c in cells))
    lines.append("")
    lines.append("Targets: recall >= 0.9 for 5x bursts lasting 2 h, median delay <= 30 min,"
                 " <= 1 false alarm per 1,000 series-days (quiet and busy).")
    for t in ("quiet", "busy"):
        if t not in data:
            continue
        row = data[t]["bursts"]["5x 2h"]
        met = (row["recall"] >= 0.9 and row["median_delay_min"] <= 30
               and data[t]["false_alarms_per_1000_series_days"] <= 1.0)
        lines.append(f"  {t}: recall {row['recall']:.2f}, median delay {row['median_delay_min']:.0f} min,"
                     f" {data[t]['false_alarms_per_1000_series_days']:.2f} false alarms per 1,000 series-days:"
                     f" {'met' if met else 'NOT met'}")
    return "\n".join(lines)


def _band(low, high):
    return f"{low}-{high - 1}" if high < 10**6 else f"{low}+"


def _rate_label(tier):
    (low, high), _ = TIERS[tier]
    return f"{low:g}-{high:g}/day"
