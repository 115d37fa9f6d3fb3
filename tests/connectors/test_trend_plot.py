"""The picture's expected band covers each hour or day it belongs to, and the file is written."""

from datetime import datetime, timezone

from connectors.trend_plot import band_steps, write_trend_plot


def _point(start, count, expected):
    band = (None, None) if expected is None else (max(expected - 2, 0), expected + 2)
    return {"start": start, "count": count, "expected": expected, "low": band[0], "high": band[1]}


def _utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_the_band_spans_whole_hours_from_the_first_to_the_end_of_the_last():
    points = [_point("2024-03-13T00:00:00Z", 0, None), _point("2024-03-13T01:00:00Z", 1, 0.5),
              _point("2024-03-13T02:00:00Z", 9, 0.7), _point("2024-03-13T03:00:00Z", 0, None),
              _point("2024-03-13T04:00:00Z", 2, 1.0)]
    runs = band_steps(points, "hour")
    assert [(r[0][0], r[0][-1]) for r in runs] == [
        (_utc("2024-03-13T01:00"), _utc("2024-03-13T03:00")),  # to the end of 02:00's hour
        (_utc("2024-03-13T04:00"), _utc("2024-03-13T05:00"))]
    edges, low, high, expected = runs[0]
    assert expected == [0.5, 0.7, 0.7] and high == [2.5, 2.7, 2.7] and low == [0, 0, 0]


def test_daily_band_and_the_files(tmp_path):
    points = [_point(f"2024-03-{d:02d}T00:00:00Z", 8, 8.1) for d in range(11, 14)]
    [(edges, *_)] = band_steps(points, "day")
    assert edges[0] == _utc("2024-03-11T00:00") and edges[-1] == _utc("2024-03-14T00:00")
    surges = [{"at": f"2024-03-13T{t}:00Z", "level": level, "observed": n, "window_minutes": w}
              for t, level, n, w in [("14:15", "low", "5", "15"), ("15:00", "high", "20", "60")]]
    trend = {"name": "sanctions", "total": 24, "since": "2024-03-11T00:00:00Z", "until": "2024-03-14T00:00:00Z",
             "resolution": "day", "points": points, "surges": surges}
    for name in ("t.png", "t.svg"):
        path = write_trend_plot(trend, tmp_path / name)
        assert (tmp_path / name).stat().st_size > 1000, path
    assert (tmp_path / "t.svg").read_text().count("15:00 high: 20 in 60 min") == 1
