"""Draw a series' trend to a PNG or SVG file: counts, the band its baselines expect, surges marked.

    write_trend_plot(trend_data(watch, "topic:sanctions", since, until), "sanctions.png")

matplotlib with the Agg backend (no display needed); the format follows the
file's extension (.png or .svg).
"""

from datetime import datetime

__all__ = ["write_trend_plot"]

_LEVEL_COLOURS = {"low": "#f2a900", "medium": "#e8590c", "high": "#c92a2a"}


def _time(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


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
    figure, axes = plt.subplots(figsize=(11, 4.2), dpi=120)
    axes.bar(times, counts, width=width, align="edge", color="#4c6ef5", alpha=0.85,
             label=f"articles per {'hour' if hourly else 'day'}")
    with_band = [(t, p) for t, p in zip(times, points) if p["expected"] is not None]
    if with_band:
        shift = (width / 0.85) / 2
        from datetime import timedelta

        centres = [t + timedelta(days=shift) for t, _ in with_band]
        axes.fill_between(centres, [p["low"] for _, p in with_band], [p["high"] for _, p in with_band],
                          color="#868e96", alpha=0.25, step="mid", label="expected (90% band)")
        axes.plot(centres, [p["expected"] for _, p in with_band], color="#495057", linewidth=1.2,
                  drawstyle="steps-mid", label="expected")
    top = max(counts + [p["high"] or 0 for p in points] + [1])
    marked = set()
    previous, stack = None, 0
    for surge in trend["surges"]:
        moment = _time(surge["at"])
        colour = _LEVEL_COLOURS.get(surge["level"], "#c92a2a")
        label = f"surge ({surge['level']})" if surge["level"] not in marked else None
        marked.add(surge["level"])
        axes.axvline(moment, color=colour, linewidth=1.6, linestyle="--", label=label)
        # Escalations follow within minutes: stack their labels instead of printing them over each other.
        close = previous is not None and (moment - previous).total_seconds() < 6 * 3600
        stack = stack + 1 if close else 0
        previous = moment
        axes.annotate(f"{surge['level']}: {surge['observed']} in {surge['window_minutes']} min", (moment, top),
                      xytext=(4, 4 + 11 * stack), textcoords="offset points", color=colour, fontsize=8,
                      ha="left", va="bottom")
    axes.set_ylim(0, top * 1.35)
    axes.set_title(f"{trend['name']}: {trend['total']} articles, {trend['since'][:16].replace('T', ' ')}"
                   f" to {trend['until'][:16].replace('T', ' ')} UTC", fontsize=11, loc="left")
    axes.set_ylabel("articles")
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%d %b\n%H:%M" if hourly else "%d %b"))
    axes.grid(axis="y", color="#dee2e6", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper left", fontsize=8, frameon=False, ncol=4)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
