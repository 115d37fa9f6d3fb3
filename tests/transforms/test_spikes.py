"""Series, event time, baselines, window tests, guards and cooldown of transforms/spikes.py."""

import numpy as np
import pytest

from transforms.spikes import (
    BUCKET_SECONDS,
    BUCKETS_PER_DAY,
    DAY_SECONDS,
    SpikeSettings,
    Surge,
    bucket_label,
    cooldown_decision,
    country_codes,
    day_label,
    detect_span,
    event_time,
    fit_baselines,
    judge_surges,
    parse_bucket_label,
    parse_day_label,
    place_event,
    series_kind,
    series_name,
    series_of,
    week_label,
    week_of_day,
    weekday_of_day,
    window_tests,
)

COUNTRIES = country_codes({"RU": ["Russia", "Moscow"], "NO": ["Norway", "Oslo"]})


def _entity(name, label="ORG", count=1):
    return {"text": name, "canonical": name, "label": label, "count": count}


# --- series ----------------------------------------------------------------


def test_series_of_a_tagged_article():
    article = {"topics": [{"id": "sanctions"}, {"id": "energy_infrastructure"}],
               "entities": [_entity("Gazprom", count=4), _entity("Moscow", "GPE", 2),
                            _entity("Russia", "GPE"), _entity("Monday", "DATE"), _entity("Gazprom", "PERSON")]}
    series = series_of(article, COUNTRIES)
    assert series[0] == "all"
    assert {"topic:sanctions", "topic:energy_infrastructure", "entity:Gazprom", "entity:Moscow",
            "entity:Russia", "topic:sanctions|entity:Gazprom", "country:RU"} <= set(series)
    assert "entity:Monday" not in series  # dates are not actors
    assert series.count("country:RU") == 1 and series.count("entity:Gazprom") == 1
    assert len(series) == len(set(series))


def test_series_limits_and_odd_names():
    entities = [_entity(f"Org {i}", count=20 - i) for i in range(15)] + [_entity("A|B\x00 C  D")]
    series = series_of({"topics": [{"id": "t"}], "entities": entities}, COUNTRIES)
    assert sum(1 for s in series if series_kind(s) == "entity") == 10
    assert sum(1 for s in series if series_kind(s) == "topic_entity") == 5
    assert "entity:Org 0" in series and "entity:Org 14" not in series
    assert series_of({}, COUNTRIES) == ["all"]
    tricky = series_of({"entities": [_entity("A|B\x00 C  D")]}, {})
    assert tricky == ["all", "entity:A/B C D"]  # no separator or control character in a series name


def test_series_names_for_people():
    assert series_name("topic:sanctions|entity:Gazprom") == "Gazprom in sanctions"
    assert series_name("country:RU") == "RU" and series_kind("country:RU") == "country"
    assert series_kind("all") == "all"


# --- time ------------------------------------------------------------------


def test_event_time_and_placement():
    now = 1_800_000_000
    assert event_time({"published": "2027-01-15T08:00:00Z"}) == now
    assert event_time({"published": ""}) is None and event_time({}) is None
    assert event_time({"published": "not a date"}) is None
    assert place_event(None, now, retention_days=30) == ("undated", None)
    assert place_event(now - 3600, now, retention_days=30) == ("counted", now - 3600)
    assert place_event(now - 40 * DAY_SECONDS, now, retention_days=30) == ("too_old", None)
    assert place_event(now - 5 * 365 * DAY_SECONDS, now, retention_days=30) == ("too_old", None)
    assert place_event(now + 5 * 365 * DAY_SECONDS, now, retention_days=30) == ("future", None)
    # A feed whose clock or zone is hours ahead is counted now, not in the future.
    assert place_event(now + 3 * 3600, now, retention_days=30) == ("counted", now)


def test_bucket_day_and_week_labels():
    moment = 1_621_330_200  # 2021-05-18T09:30:00Z, a Tuesday
    bucket = moment // BUCKET_SECONDS
    assert bucket_label(bucket) == "20210518T0930" and parse_bucket_label("20210518T0930") == bucket
    day = moment // DAY_SECONDS
    assert day_label(day) == "20210518" and parse_day_label("20210518") == day
    assert weekday_of_day(day) == 1
    assert week_label(week_of_day(day)) == "20210517"  # its Monday
    assert week_of_day(day - 1) == week_of_day(day) != week_of_day(day - 2)


# --- baselines -------------------------------------------------------------


def _fit(daily, hours, *, days=28, yesterday=None, target_weekday=0, global_daily=None, global_hours=None):
    daily = np.atleast_2d(daily)
    hours = np.atleast_2d(hours)
    return fit_baselines(daily, hours, valid=np.ones(days, bool), weekdays=np.arange(days) % 7,
                         target_weekday=target_weekday,
                         global_daily=daily.sum(axis=0) if global_daily is None else global_daily,
                         global_hours=hours.sum(axis=0) if global_hours is None else global_hours,
                         yesterday=yesterday)


def test_baseline_of_a_steady_series_is_its_rate():
    rng = np.random.default_rng(1)
    daily = rng.poisson(96, size=28).astype(float)
    hours = np.full(24, 28 * 4.0)
    baseline = _fit(daily, hours)
    assert baseline.ready and baseline.history_days == 28
    assert baseline.expected.sum() == pytest.approx(daily.mean(), rel=0.1)
    assert baseline.expected[0].std() < 0.05  # flat day
    assert baseline.dispersion[0] < 0.05  # Poisson-like days


def test_baseline_learns_weekends_and_hours_of_a_busy_series():
    weekdays = np.arange(28) % 7
    daily = np.where(weekdays >= 5, 500.0, 1000.0)
    shape = np.exp(np.cos(2 * np.pi * (np.arange(24) - 15) / 24))
    hours = shape / shape.sum() * daily.sum()
    monday = _fit(daily, hours, target_weekday=0)
    sunday = _fit(daily, hours, target_weekday=6)
    assert monday.expected.sum() == pytest.approx(1000, rel=0.05)
    assert sunday.expected.sum() == pytest.approx(500, rel=0.08)
    by_hour = monday.expected[0].reshape(24, 4).sum(axis=1)
    assert by_hour.argmax() == 15 and by_hour.argmin() == 3


def test_a_sparse_series_borrows_the_shape_of_all_articles():
    shape = np.exp(np.cos(2 * np.pi * (np.arange(24) - 12) / 24))
    global_hours = shape / shape.sum() * 28_000
    sparse_hours = np.zeros(24)
    sparse_hours[2] = 3  # three articles in four weeks, all at 02:00
    baseline = _fit([np.r_[np.zeros(25), 1, 1, 1]], sparse_hours, global_daily=np.full(28, 1000.0),
                    global_hours=global_hours)
    by_hour = baseline.expected[0].reshape(24, 4).sum(axis=1)
    assert by_hour.argmax() in (11, 12, 13)  # mostly the global shape, not "always at 2 am"


def test_no_history_is_not_ready():
    baseline = fit_baselines(np.zeros((2, 28)), np.zeros((2, 24)), valid=np.zeros(28, bool),
                             weekdays=np.arange(28) % 7, target_weekday=0, global_daily=np.zeros(28),
                             global_hours=np.zeros(24))
    assert not baseline.ready and baseline.history_days == 0
    short = fit_baselines(np.ones((1, 28)), np.ones((1, 24)), valid=np.arange(28) >= 25,
                          weekdays=np.arange(28) % 7, target_weekday=0, global_daily=np.ones(28),
                          global_hours=np.ones(24))
    assert not short.ready and short.history_days == 3


# --- window tests and guards -------------------------------------------------


def _tests(recent, expected, dispersion=0.02, days=28):
    recent = np.atleast_2d(np.asarray(recent, float))
    expected = np.atleast_2d(np.asarray(expected, float))
    return window_tests(recent, expected, np.full(len(recent), dispersion), days)


def test_window_tests_tell_a_surge_from_noise():
    normal = _tests([[10, 12, 9, 11, 8, 10, 13, 10]], [[10] * 8])
    surge = _tests([[10, 12, 9, 11, 8, 10, 50, 55]], [[10] * 8])
    assert normal.p_value.min() > 0.01
    assert surge.p_value[0, 1] < 1e-9  # the last 30 minutes
    assert surge.ratio[0, 1] == pytest.approx(5.25)
    assert list(surge.observed[0]) == [55, 105, 123, 165]


def test_judge_needs_several_sources_and_no_dominant_one():
    tests = _tests([[1, 0, 1, 0, 1, 0, 12, 14]], [[1] * 8])
    many = judge_surges(["topic:t"], tests, lambda s, width: {f"outlet{i}": 2 for i in range(13)})
    assert len(many) == 1 and many[0].series == "topic:t" and many[0].level in ("medium", "high")
    one_outlet = judge_surges(["topic:t"], tests, lambda s, width: {"outlet": 24, "other": 1, "third": 1})
    two_outlets = judge_surges(["topic:t"], tests, lambda s, width: {"a": 13, "b": 13})
    assert one_outlet == [] and two_outlets == []


def test_judge_respects_minimum_count_and_ratio():
    sources = lambda s, width: {f"o{i}": 1 for i in range(10)}  # noqa: E731
    tiny = _tests([[0, 0, 0, 0, 0, 0, 0, 4]], [[0.01] * 8])
    assert judge_surges(["entity:x"], tiny, sources) == []  # 4 articles: below the minimum count
    mild = _tests([[100] * 6 + [180, 180]], [[100] * 8])
    assert judge_surges(["topic:t"], mild, sources) == []  # significant but only 1.8x
    new_name = _tests([[0, 0, 0, 0, 0, 3, 4, 5]], [[0.001] * 8])
    [surge] = judge_surges(["entity:x"], new_name, sources)
    assert surge.level == "medium" and surge.observed == 12  # a name never seen before, 12 articles


# --- cooldown --------------------------------------------------------------


def _surge(level="low", observed=10):
    return Surge("topic:t", level, 60, observed, 2.0, 1e-9)


def test_cooldown_suppresses_repeats_and_lets_escalations_through():
    settings = SpikeSettings(cooldown_seconds=6 * 3600)
    kind, state = cooldown_decision(None, _surge(), 1000, settings)
    assert kind == "new"
    assert cooldown_decision(state, _surge(), 1900, settings)[0] is None
    kind, escalated = cooldown_decision(state, _surge("medium", 12), 2800, settings)
    assert kind == "escalated" and escalated["level"] == "medium"
    kind, grew = cooldown_decision(escalated, _surge("low", 25), 3700, settings)
    assert kind == "grew" and grew["level"] == "medium" and grew["observed"] == 25
    assert cooldown_decision(grew, _surge("low", 30), 4600, settings)[0] is None
    assert cooldown_decision(grew, _surge(), 3700 + 6 * 3600, settings)[0] == "new"


def test_a_clock_that_goes_back_announces_nothing():
    _, state = cooldown_decision(None, _surge(), 100_000)
    assert cooldown_decision(state, _surge("high", 100), 50_000) == (None, state)


# --- a span of history ---------------------------------------------------------


FIRST_DAY = 20454  # a Thursday


def _steady(rng, series, days, per_bucket):
    return rng.poisson(per_bucket, size=(series, days * BUCKETS_PER_DAY)).astype(float)


def _run(counts, sources=None, ticks_from_day=30):
    names = [f"topic:s{i}" for i in range(len(counts))] + ["all"]
    matrix = np.vstack([counts, counts.sum(axis=0, keepdims=True)])
    first = FIRST_DAY * BUCKETS_PER_DAY
    ticks = range(first + ticks_from_day * BUCKETS_PER_DAY, first + counts.shape[1])
    sources = sources or (lambda s, a, b: {f"o{i}": 1 for i in range(int(matrix[s, a - first:b - first + 1].sum()))})
    return detect_span(names, matrix, first, ticks, global_row=len(counts), sources_of=sources,
                       history_start_day=FIRST_DAY)


def test_span_finds_an_injected_burst_once_and_nothing_else():
    rng = np.random.default_rng(7)
    counts = _steady(rng, 5, 35, 2.0)
    burst_start = 33 * BUCKETS_PER_DAY + 40
    counts[2, burst_start:burst_start + 8] += rng.poisson(8.0, size=8)  # 5x for two hours
    found = _run(counts)
    assert {surge.series for _, surge, _ in found} == {"topic:s2"}
    assert [kind for _, _, kind in found][0] == "new"  # then, at most, escalations as it grows
    assert {kind for _, _, kind in found[1:]} <= {"escalated", "grew"}
    tick, surge, _ = found[0]
    assert burst_start <= tick - FIRST_DAY * BUCKETS_PER_DAY < burst_start + 3  # within 45 minutes
    assert surge.ratio > 3


def test_span_with_one_article_ever_or_an_empty_history():
    counts = np.zeros((3, 35 * BUCKETS_PER_DAY))
    counts[0, 34 * BUCKETS_PER_DAY + 5] = 1  # one article in 35 days
    assert _run(counts) == []
    assert _run(np.zeros((2, 35 * BUCKETS_PER_DAY))) == []


def test_span_is_silent_while_the_history_is_too_short():
    rng = np.random.default_rng(3)
    counts = _steady(rng, 2, 6, 1.0)
    counts[0, -8:] += 20  # a burst on the sixth day: no baseline to judge it by yet
    assert _run(counts, ticks_from_day=1) == []


def test_one_outlet_repeating_itself_is_no_surge():
    rng = np.random.default_rng(5)
    counts = _steady(rng, 3, 35, 1.0)
    start = 33 * BUCKETS_PER_DAY + 50
    counts[1, start:start + 4] += 10
    first = FIRST_DAY * BUCKETS_PER_DAY

    def sources(s, a, b):
        extra = int(counts[1, max(a - first, start):min(b - first + 1, start + 4)].sum()) - 0
        background = {f"o{i}": 1 for i in range(3)}
        return {**background, "liveblog": extra} if s == 1 and extra else background

    assert [surge.series for _, surge, _ in _run(counts, sources)] == []
