"""Draw a series' trend to a PNG or SVG file: counts, the band its baselines expect, surges marked.

    write_trend_plot(trend_data(watch, "topic:sanctions", since, until), "sanctions.png")

matplotlib with the Agg backend (no display needed); the format follows the
file's extension (.png or .svg).
"""

from datetime import datetime, timedelta

__all__ = ["band_steps", "write_trend_plot"]

_LEVEL_COLOURS = {"low": "#f2a900", "medium": "#e8590c", "high": "#c92a2a"}


def _time(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def band_steps(points, resolution):
    """The expected band as steps over whole hours or days: one ``(edges, low, high, expected)``
    per run of points that have an expectation; ``edges`` has one more item than the run (the
    end of its last hour or day), the other lists repeat their last value for it."""
    step = timedelta(hours=1) if resolution == "hour" else timedelta(days=1)
    runs, run = [], []
    for point in list(points) + [{"expected": None}]:
        if point["expected"] is not None:
            run.append(point)
            continue
        if run:
            edges = [_time(p["start"]) for p in run]
            runs.append((edges + [edges[-1] + step],
                         *([p[name] for p in run] + [run[-1][name]] for name in ("low", "high", "expected"))))
        run = []
    return runs


def _has(axes, gid):
    return any(artist.get_gid() == gid for artist in axes.get_children())


def _close_surges(surges, gap_seconds=6 * 3600):
    """Surges in time order, grouped when each follows the previous within ``gap_seconds``."""
    groups = []
    for surge in sorted(surges, key=lambda s: s["at"]):
        if groups and (_time(surge["at"]) - _time(groups[-1][-1]["at"])).total_seconds() < gap_seconds:
            groups[-1].append(surge)
        else:
            groups.append([surge])
    return groups


def write_trend_plot(trend, path):
    """Write ``trend`` (connectors.surges.trend_data) to ``path``; ValueError for another extension."""
    path = str(path)
    if not path.lower().endswith((".png", ".svg")):
        raise ValueError(f"{path}: the picture is written as .png or .svg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    points = trend["points"]
    times = [_time(p["start"]) for p in points]
    counts = [p["count"] for p in points]
    hourly = trend["resolution"] == "hour"
    width = (1 / 24 if hourly else 1.0) * 0.85
    figure, axes = plt.subplots(figsize=(11, 4.6), dpi=120)
    axes.bar(times, counts, width=width, align="edge", color="#4c6ef5", alpha=0.85,
             label=f"articles per {'hour' if hourly else 'day'}")
    # The band covers each bar's whole hour or day: drawn over the edges, a step per point.
    for edges, low, high, expected in band_steps(points, trend["resolution"]):
        axes.fill_between(edges, low, high, step="post", color="#868e96", alpha=0.25,
                          label="expected (90% band)" if not _has(axes, "band") else None, gid="band")
        axes.step(edges, expected, where="post", color="#495057", linewidth=1.2,
                  label="expected" if not _has(axes, "expected") else None, gid="expected")
    top = max(counts + [p["high"] or 0 for p in points] + [1])
    marked = set()
    for group in _close_surges(trend["surges"]):
        lines = []
        for surge in group:
            moment = _time(surge["at"])
            colour = _LEVEL_COLOURS.get(surge["level"], "#c92a2a")
            label = f"surge ({surge['level']})" if surge["level"] not in marked else None
            marked.add(surge["level"])
            axes.axvline(moment, color=colour, linewidth=1.6, linestyle="--", label=label)
            lines.append((f"{surge['at'][11:16]} {surge['level']}: {surge['observed']} in "
                          f"{surge['window_minutes']} min", colour))
        # Escalations follow within minutes: one block of labels right of the group's last line,
        # the latest on top, so no line crosses a label.
        last = _time(group[-1]["at"])
        for row, (text, colour) in enumerate(lines):
            axes.annotate(text, (last, top), xytext=(6, 4 + 11 * row), textcoords="offset points",
                          color=colour, fontsize=8, ha="left", va="bottom")
    axes.set_ylim(0, top * 1.45)
    axes.set_title(f"{trend['name']}: {trend['total']} articles, {trend['since'][:16].replace('T', ' ')}"
                   f" to {trend['until'][:16].replace('T', ' ')} UTC", fontsize=11, loc="left")
    axes.set_ylabel("articles")
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%d %b\n%H:%M" if hourly else "%d %b"))
    axes.grid(axis="y", color="#dee2e6", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    # Below the picture: surge lines reach the top, where a legend would hide them.
    axes.legend(loc="upper left", bbox_to_anchor=(0, -0.16), fontsize=8, frameon=False, ncol=6)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
