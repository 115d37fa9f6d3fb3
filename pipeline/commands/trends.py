"""``newsmon trends`` and ``newsmon spikes``: coverage over time, and the surges detected in it.

    newsmon trends --since 7d                           the most counted topics, entities and countries
    newsmon trends --since 7d --topic sanctions         per hour or day, a sparkline, the expected band
    newsmon trends --since 48h --entity Gazprom --plot gazprom.png
    newsmon spikes --since 24h [--level medium] [--json]

Counts come from the time buckets the pipeline keeps in Redis
(connectors/counts.py), surges from ``newsmon:spikes`` (connectors/surges.py).
The data is built by ``trend_data`` / ``top_series``; this module only prints.
"""

import json
import re
import time
from datetime import datetime, timezone

from connectors.surges import SurgeWatch, top_series, trend_data
from pipeline.errors import UsageError
from pipeline.options import add_redis_arguments, connect_redis
from transforms.spikes import DAY_SECONDS, level_rank

__all__ = ["add_parser", "parse_duration", "parse_moment", "sparkline"]

_SPARKS = "▁▂▃▄▅▆▇█"
_UNITS = {"m": 60, "h": 3600, "d": DAY_SECONDS, "w": 7 * DAY_SECONDS}


def parse_duration(text):
    """``"90m"``, ``"24h"``, ``"7d"``, ``"2w"`` -> seconds; UsageError otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"--since {text!r}: use a number and a unit, e.g. 90m, 24h, 7d, 2w")
    return float(match.group(1)) * _UNITS[match.group(2)]


def sparkline(values, width=None):
    """``[0, 3, 9, 2]`` -> ``"▁▃█▂"``; longer series are summed down to ``width`` characters."""
    values = list(values)
    if width and len(values) > width:
        per = -(-len(values) // width)
        values = [sum(values[i:i + per]) for i in range(0, len(values), per)]
    top = max(values, default=0)
    if top <= 0:
        return _SPARKS[0] * len(values)
    return "".join(_SPARKS[min(len(_SPARKS) - 1, int(v / top * (len(_SPARKS) - 1) + 0.5))] for v in values)


def parse_moment(text):
    """``"2021-05-18"``, ``"2021-05-18T12:00"`` (UTC) or epoch seconds -> epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--until {text!r}: use a date such as 2021-05-18 or 2021-05-18T12:00 (UTC)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _iso(seconds):
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _series_of(args, store, since, until):
    parts = []
    if args.topic:
        parts.append(f"topic:{args.topic}")
    if args.entity:
        wanted = " ".join(args.entity.split()).casefold()
        known = store.series_in(since - 28 * DAY_SECONDS, until)
        names = [s for s in known if s.startswith("entity:") and s[7:].casefold() == wanted]
        parts.append(names[0] if names else f"entity:{' '.join(args.entity.split())}")
    if args.country:
        if args.topic or args.entity:
            raise UsageError("--country goes alone (topic x entity is the one pair counted)")
        parts.append(f"country:{args.country.upper()}")
    if args.topic and args.entity:
        return "|".join(parts)
    return parts[0] if parts else None


def _time(iso):
    return iso[5:16].replace("T", " ")


def _print_trend(trend):
    points = trend["points"]
    unit = trend["resolution"]
    print(f"{trend['name']} ({trend['series']}): {trend['total']} articles, {_time(trend['since'])} to"
          f" {_time(trend['until'])} UTC, per {unit}")
    print(f"  {sparkline([p['count'] for p in points], 96)}")
    if not trend["total"]:
        print("  no articles counted in this time (counts start when replay, poll or monitor runs)")
        return
    print(f"  {'from (UTC)':<12} {'articles':>8} {'expected':>9} {'90% band':>10}")
    for point in points:
        if unit == "hour" and not point["count"] and not point["expected"]:
            continue
        expected = f"{point['expected']:.1f}" if point["expected"] is not None else "-"
        band = f"{point['low']:.0f}-{point['high']:.0f}" if point["low"] is not None else "-"
        mark = "  <- above" if point["high"] is not None and point["count"] > point["high"] else ""
        print(f"  {_time(point['start']):<12} {point['count']:>8} {expected:>9} {band:>10}{mark}")
    for surge in trend["surges"]:
        print(f"  surge {surge['level']} at {_time(surge['at'])}: {surge['observed']} articles in"
              f" {surge['window_minutes']} min, {_ratio(surge)} (expected {surge['expected']})")


def run_trends(args, _beam_args):
    since_seconds = parse_duration(args.since)
    redis = connect_redis(args)
    client, keys = redis.client, redis.keys
    watch = SurgeWatch(client, keys.prefix)
    until = time.time() if args.until is None else parse_moment(args.until)
    since = until - since_seconds
    series = _series_of(args, watch.store, since, until)
    if series is None:
        if args.plot:
            raise UsageError("--plot draws one series: add --topic, --entity or --country")
        overview = top_series(watch, since, until, args.limit)
        if args.json:
            print(json.dumps(overview, ensure_ascii=False))
            return 0
        print(f"{overview['total']} articles counted, {_time(overview['since'])} to {_time(overview['until'])} UTC")
        if not overview["total"]:
            print("nothing counted yet: counts start when replay, poll or monitor runs")
        for kind, rows in overview["series"].items():
            print(f"{kind}:")
            for row in rows:
                days = trend_data(watch, row["series"], since, until, "day")
                print(f"  {row['name']:<40.40} {row['total']:>7}  {sparkline([p['count'] for p in days['points']])}")
        return 0
    resolution = args.by or ("hour" if since_seconds <= 2 * DAY_SECONDS else "day")
    trend = trend_data(watch, series, since, until, resolution)
    if args.plot:
        from connectors.trend_plot import write_trend_plot

        write_trend_plot(trend, args.plot)
    if args.json:
        print(json.dumps(trend, ensure_ascii=False))
    else:
        _print_trend(trend)
        if args.plot:
            print(f"picture written to {args.plot}")
    return 0


def run_spikes(args, _beam_args):
    until = time.time() if args.until is None else parse_moment(args.until)
    since = until - parse_duration(args.since)
    redis = connect_redis(args)
    client, keys = redis.client, redis.keys
    surges = [s for s in SurgeWatch(client, keys.prefix).recent(since)
              if level_rank(s["level"]) >= level_rank(args.level) and s["at"] <= _iso(until)]
    if args.json:
        for surge in surges:
            print(json.dumps(surge, ensure_ascii=False))
        return 0
    if not surges:
        print(f"no surges from {_time(_iso(since))} to {_time(_iso(until))} UTC")
        return 0
    # Series surging together on the same story are one event to a reader: one line each.
    groups = {}
    for surge in surges:
        story = surge["stories"][0]["story"] if surge["stories"] else surge["series"]
        groups.setdefault((surge["at"], surge["level"], story), []).append(surge)
    print(f"{'at (UTC)':<12} {'level':<18} {'articles':>8} {'expected':>8} {'ratio':>7} {'window':>6} {'sources':>7}"
          f"  what")
    for (_, level, _), group in groups.items():
        lead = max(group, key=lambda s: (s["kind"] == "topic", s["kind"] == "entity", int(s["observed"])))
        names = ", ".join(dict.fromkeys(_display(s) for s in sorted(
            group, key=lambda s: ("topic entity country topic_entity".split().index(s["kind"]), s["name"]))))
        note = "" if lead["alert"] == "new" else f" ({lead['alert']})"
        print(f"{_time(lead['at']):<12} {level + note:<18} {lead['observed']:>8} {lead['expected']:>8}"
              f" {_ratio(lead):>7} {lead['window_minutes'] + 'm':>6} {lead['sources']:>7}  {names}")
        for story in lead["stories"]:
            print(f"{'':<31} {story['articles']:>4} × {story['title'][:100]}")
    return 0


def _ratio(surge):
    """The ratio as a person reads it: against almost nothing expected, ">100x", not 5,000,000x."""
    ratio = float(surge["ratio"])
    return ">100x" if ratio > 100 else f"{ratio:.1f}x"


def _display(surge):
    kind = surge["kind"]
    if kind == "topic":
        return f"topic {surge['name']}"
    if kind == "country":
        return f"country {surge['name']}"
    return surge["name"]

def add_parser(commands):
    trends = commands.add_parser(
        "trends", help="coverage over time: articles per hour or day, expected band, surges",
        description="Articles per hour or day of a topic, an entity, a topic and an entity, or a country, "
                    "with a sparkline and the band its history expects; without a series, the most "
                    "counted ones. --plot draws a picture for a briefing.")
    trends.add_argument("--since", default="7d", metavar="DURATION", help="how far back: 90m, 24h, 7d (default: 7d)")
    trends.add_argument("--topic", metavar="TOPIC", help="a topic id, e.g. sanctions")
    trends.add_argument("--entity", metavar="NAME", help="a canonical entity name, e.g. Gazprom (any case)")
    trends.add_argument("--country", metavar="CC", help="an ISO country code, e.g. RU")
    trends.add_argument("--by", choices=("hour", "day"), help="resolution (default: hour up to 2 days, else day)")
    trends.add_argument("--plot", metavar="FILE", help="also draw the series to FILE.png or FILE.svg")
    trends.add_argument("--limit", type=int, default=10, help="series of each kind in the overview (default: 10)")
    trends.add_argument("--json", action="store_true", help="print the data as JSON")
    trends.add_argument("--until", metavar="DATE", help="end of the time shown, UTC (default: now), e.g. "
                        "2021-05-18T12:00 for a replayed archive")
    add_redis_arguments(trends)
    trends.set_defaults(func=run_trends)

    spikes = commands.add_parser(
        "spikes", help="surges detected: what, level, when, observed vs expected, top stories",
        description="The surges on newsmon:spikes, oldest first: a topic, entity, topic and entity, or "
                    "country whose count left its expected band (see ARCHITECTURE.md, Surges).")
    spikes.add_argument("--since", default="24h", metavar="DURATION", help="how far back (default: 24h)")
    spikes.add_argument("--level", choices=("low", "medium", "high"), default="low",
                        help="the lowest level shown (default: low)")
    spikes.add_argument("--until", metavar="DATE", help="end of the time shown, UTC (default: now)")
    spikes.add_argument("--json", action="store_true", help="one JSON object per surge and line")
    add_redis_arguments(spikes)
    spikes.set_defaults(func=run_spikes)

