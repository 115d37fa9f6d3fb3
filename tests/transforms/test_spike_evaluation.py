"""The generator of background series with known bursts, and the evaluation over it."""

import math

import numpy as np

from transforms.spike_evaluation import (
    BUCKETS_PER_DAY,
    EVAL_DAYS,
    evaluate_spikes,
    evaluate_tier,
    format_spike_report,
    generate_tier,
    merged,
    report_data,
)


def test_generated_series_have_rhythm_overdispersion_and_known_events():
    tier = generate_tier("busy", 6, seed=1)
    rows, buckets = tier.counts.shape
    assert rows == 6 and buckets % BUCKETS_PER_DAY == 0
    daily = tier.background.reshape(rows, -1, BUCKETS_PER_DAY).sum(axis=2)
    assert (daily.mean(axis=1) > 200).all()
    assert (daily.var(axis=1) > 3 * daily.mean(axis=1)).all()  # over-dispersed, not Poisson
    by_hour = tier.background.reshape(rows, -1, 24, 4).sum(axis=(1, 3))
    assert (by_hour.max(axis=1) > 2.5 * by_hour.min(axis=1)).all()  # a daily rhythm
    eval_start = buckets - EVAL_DAYS * BUCKETS_PER_DAY
    assert len(tier.bursts) == 12 and all(b.start >= eval_start for b in tier.bursts)
    assert tier.burst[:, :eval_start].sum() == 0
    for s, first, last in tier.single_events:
        sources = tier.sources(s, first, last)
        assert max(sources.values()) >= tier.single[s, first:last + 1].sum() >= 8  # one outlet's updates
    assert tier.sources(0, 100, 110) == tier.sources(0, 100, 110)  # drawn the same every time


def test_evaluation_finds_big_bursts_and_scores_them():
    tier = generate_tier("busy", 12, seed=2)
    result = evaluate_tier(tier)
    big = [d for d in result.detections if d[0].size >= 5]
    assert big and sum(1 for d in big if d[1] is not None) / len(big) >= 0.8
    delays = [d[1] for d in big if d[1] is not None]
    assert all(0 < delay <= d.hours * 60 + 15 for d, delay, _ in big if delay is not None)
    assert np.median(delays) <= 60
    assert result.false_alarms_per_1000 < 50
    data = report_data({"busy": [result]})
    assert data["busy"]["series_days"] == 12 * EVAL_DAYS
    assert not math.isnan(data["busy"]["bursts"]["10x 2h"]["recall"]) or data["busy"]["bursts"]["10x 2h"]["bursts"] == 0
    text = format_spike_report({"busy": [result]}, "tune", (2,))
    assert "false alarms per 1,000 series-days" in text and "busy" in text


def test_busy_series_meet_the_targets_on_the_tune_seeds():
    """Issue 13's targets on the busy tier, on the seeds the settings were chosen on (the report
    seeds are for the README): recall >= 0.9 for 5x bursts of 2 h, median delay <= 30 min, at most
    one false alarm per 1,000 series-days (alpha 1e-5 raised 1.19 here; 1e-6 raises 0.24)."""
    [busy] = merged(evaluate_spikes("tune", series=(("busy", 100),))).values()
    recall, bursts = busy.recall(5.0, 2.0)
    assert bursts >= 40 and recall >= 0.9, (recall, bursts)
    assert busy.median_delay(5.0, 2.0) <= 30
    assert busy.false_alarms_per_1000 <= 1.0, busy.false_alarm_list
