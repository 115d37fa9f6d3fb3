"""What the dashboard shows, as plain data: alerts, evidence with matched terms marked, subscription
forms, trend pictures. Pure functions, no Redis, no HTTP; tested in tests/web/test_render.py.

    alert_view("1718000000000-0", fields)   -> {"entry", "title", "topics", "evidence": Markup, ...}
    highlight("Gazprom halts Nord Stream", ["nord stream"])  -> 'Gazprom halts <mark>Nord Stream</mark>'
    rule_from_form({"topic": "sanctions", "any": "nord stream\\ngazprom"})  -> {"topics": [...], "any": [...]}
    trend_svg(trend_data(...))              -> Markup('<svg ...>')

Every text that came from a feed is escaped here or by Jinja's autoescape; ``Markup`` is only
ever built from escaped pieces.
"""

import argparse
import json
import math
import re
from datetime import datetime, timezone

from markupsafe import Markup, escape

from pipeline.commands.subscribe import rule_from_args
from transforms.normalize import strip_control_chars

__all__ = ["FORM_FIELDS", "alert_view", "entry_time", "error_field", "form_from_rule", "highlight",
           "rule_from_form", "stream_id_key", "trend_svg"]


def stream_id_key(entry_id):
    """``"1718000000000-3"`` -> ``(1718000000000, 3)``: stream ids in time order across streams."""
    ms, _, seq = str(entry_id).partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0


def entry_time(entry_id):
    """The UTC time a stream entry was written, ``"2024-06-01 12:00:05"``."""
    return datetime.fromtimestamp(stream_id_key(entry_id)[0] / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _clean(text):
    return " ".join(strip_control_chars(str(text or "")).split())


def highlight(text, terms):
    """``text`` escaped, with each occurrence of a term (any case, whole words) in ``<mark>``."""
    text = _clean(text)
    words = sorted({" ".join(str(t).split()) for t in terms if str(t).strip()}, key=len, reverse=True)
    if not words:
        return Markup(escape(text))
    # Whole words; spaces inside a term match any run of spaces.
    pattern = re.compile(r"(?<!\w)(" + "|".join(r"\s+".join(map(re.escape, w.split())) for w in words) + r")(?!\w)",
                         re.IGNORECASE)
    pieces, last = [], 0
    for match in pattern.finditer(text):
        pieces.append(escape(text[last:match.start()]))
        pieces.append(Markup("<mark>") + escape(match.group(0)) + Markup("</mark>"))
        last = match.end()
    pieces.append(escape(text[last:]))
    return Markup("").join(pieces)


def _json_list(fields, name, problems):
    raw = fields.get(name)
    if raw in (None, ""):
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        problems.append(f"{name} is not JSON")
        return []
    if not isinstance(value, list):
        problems.append(f"{name} is not a list")
        return []
    return value


def alert_view(entry_id, fields, stream=""):
    """An alert stream entry as the page shows it. A malformed entry (fields that are not the
    JSON they should be, no title) still gives a view, with ``problems`` saying what is wrong."""
    problems = []
    topics = [t.get("id", "?") if isinstance(t, dict) else str(t) for t in _json_list(fields, "topics", problems)]
    terms = [str(t) for t in _json_list(fields, "terms", problems)]
    evidence = [str(e) for e in _json_list(fields, "evidence", problems)]
    if not evidence:  # a rule of topics only: its topics' evidence
        for topic in _json_list(fields, "topics", []):
            if isinstance(topic, dict):
                evidence.extend(str(e) for e in topic.get("evidence") or [])
    entities = [e.get("canonical", "") if isinstance(e, dict) else str(e)
                for e in _json_list(fields, "entities", problems)]
    if not fields.get("title") and not fields.get("series"):
        problems.append("no title")
    url = str(fields.get("url") or "")
    subscription = fields.get("subscription") or (stream.rsplit(":", 1)[-1] if stream else "")
    kind = fields.get("alert", "")
    if fields.get("series"):  # a surge alert (connectors/surges.py)
        title = f"surge {fields.get('level', '')}: {fields.get('name') or fields.get('series')}"
        evidence = evidence or [f"{fields.get('observed', '?')} articles, expected {fields.get('expected', '?')}"]
        kind = "surge"
    else:
        title = fields.get("title") or "(no title)"
    return {
        "entry": str(entry_id),
        "time": entry_time(entry_id),
        "subscription": _clean(subscription),
        "title": _clean(title),
        "url": url if url.startswith(("http://", "https://")) else "",  # no javascript: links
        "source": _clean(fields.get("source")),
        "published": _clean(fields.get("published")),
        "story": _clean(fields.get("story")),
        "kind": _clean(kind),
        "update_reason": _clean(fields.get("update")),
        "story_sources": _clean(fields.get("story_sources")),
        "topics": [_clean(t) for t in topics],
        "terms": [_clean(t) for t in terms],
        "entities": [_clean(e) for e in entities if e][:6],
        "evidence": [highlight(e, terms) for e in evidence[:2]],
        "score": _clean(fields.get("score")),
        "problems": problems,
        "raw": {_clean(k): _clean(v)[:300] for k, v in fields.items()} if problems else {},
    }


# --- subscriptions: the form and the CLI's rule ------------------------------------------------------

# Form field -> what the CLI option is called, in the form's order. Multi-valued fields take one value a line.
FORM_FIELDS = {
    "name": "NAME", "topic": "--topic", "any": "--any", "all": "--all", "none": "--none", "within": "--within",
    "entity": "--entity", "source": "--source", "min_score": "--min-score", "min_hits": "--min-hits",
    "per": "--per", "update_on": "--update-on", "on_spike": "--on-spike", "level": "--level",
}
_LISTS = ("topic", "any", "all", "none", "entity", "source", "update_on")


class FormError(ValueError):
    """A bad value in one field: ``field`` names it, the message is what the CLI says."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def _lines(value):
    """One value a line (commas also separate topics and sources)."""
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


def _number(form, field, kind):
    text = str(form.get(field) or "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        name = "int" if kind is int else "float"
        raise FormError(field, f"argument {FORM_FIELDS[field]}: invalid {name} value: {text!r}") from None


def form_arguments(form):
    """The form as the namespace ``newsmon subscribe add`` would parse from the same options."""
    values = {field: _lines(form.get(field)) or None for field in _LISTS}
    for field in ("topic", "source"):
        if values[field]:
            values[field] = [part.strip() for line in values[field] for part in line.split(",") if part.strip()]
    per = str(form.get("per") or "story").strip()
    if per not in ("story", "article"):
        raise FormError("per", f"argument --per: invalid choice: {per!r} (choose from 'story', 'article')")
    level = str(form.get("level") or "").strip() or None
    if level not in (None, "low", "medium", "high"):
        raise FormError("level", f"argument --level: invalid choice: {level!r} (choose from 'low', 'medium', 'high')")
    return argparse.Namespace(
        topic=values["topic"], any=values["any"], all=values["all"], none=values["none"],
        within=str(form.get("within") or "").strip() or None, entity=values["entity"], source=values["source"],
        min_score=_number(form, "min_score", float), min_hits=_number(form, "min_hits", int), per=per,
        update_on=values["update_on"], on_spike=str(form.get("on_spike") or "").strip() or None, level=level)


def rule_from_form(form):
    """The rule the form describes, by the CLI's own ``rule_from_args`` (so the same messages)."""
    from pipeline.errors import UsageError

    args = form_arguments(form)
    try:
        return rule_from_args(args)
    except UsageError as error:
        raise FormError(error_field(str(error)), str(error)) from error


_FIELD_OF_RULE = {"topics": "topic", "any": "any", "all": "all", "none": "none", "within": "within",
                  "entities": "entity", "sources": "source", "min_score": "min_score", "min_hits": "min_hits",
                  "per": "per", "update_on": "update_on", "on_spike": "on_spike", "level": "level"}


def error_field(message):
    """Which form field a CLI or rule error is about (``"name"``, ``"any"``, ...), or ``""`` for the form."""
    message = str(message)
    if "subscription name" in message:
        return "name"
    match = re.search(r"field '([a-z_]+)", message) or re.search(r"'([a-z_]+)' must", message)
    if match and match.group(1) in _FIELD_OF_RULE:
        return _FIELD_OF_RULE[match.group(1)]
    if "update_on" in message:
        return "update_on"
    match = re.match(r"--([a-z-]+)", message)
    if match and match.group(1).replace("-", "_") in FORM_FIELDS:
        return match.group(1).replace("-", "_")
    for option in ("on_spike", "level", "spike"):
        if option.replace("_", "-") in message or option in message:
            return "on_spike" if option == "spike" else option
    return ""


def form_from_rule(name, rule):
    """A stored rule as the form's values (the reverse of ``rule_from_form``)."""
    rule = rule or {}
    update_on = rule.get("update_on") or []
    if isinstance(update_on, dict):
        update_on = ([f"sources:{','.join(map(str, update_on['sources']))}"] if update_on.get("sources") else []) \
            + [k for k in ("countries", "entities") if update_on.get(k)]
    return {
        "name": name,
        "topic": "\n".join(_as_list(rule.get("topics"))),
        "any": "\n".join(_as_list(rule.get("any"))),
        "all": "\n".join(" | ".join(_as_list(group)) for group in rule.get("all") or []),
        "none": "\n".join(_as_list(rule.get("none"))),
        "within": str(rule.get("within") or ""),
        "entity": "\n".join(f"{label}:{n}" for label, names in (rule.get("entities") or {}).items()
                            for n in _as_list(names)),
        "source": "\n".join(_as_list(rule.get("sources"))),
        "min_score": "" if rule.get("min_score") is None else str(rule["min_score"]),
        "min_hits": "" if rule.get("min_hits") is None else str(rule["min_hits"]),
        "per": rule.get("per", "story"),
        "update_on": "\n".join(_as_list(update_on)),
        "on_spike": rule.get("on_spike", ""),
        "level": rule.get("level", "") if rule.get("on_spike") else "",
    }


def _as_list(value):
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


# --- trends ------------------------------------------------------------------------------------------


def trend_svg(trend, *, width=960, height=220):
    """One series (``connectors.surges.trend_data``) as an SVG bar chart: a bar per hour or day, the
    expected 90% band as a line above, bars over the band and surges in red. Sizes in the viewBox,
    so it scales to the page (phone or desk)."""
    points = trend["points"]
    if not points:
        return Markup("")
    top = max([p["count"] for p in points] + [p["high"] or 0 for p in points] + [1])
    left, bottom, right, top_pad = 36, 24, 6, 8
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    step = plot_w / len(points)
    surge_times = {s.get("at", "")[:13 if trend["resolution"] == "hour" else 10] for s in trend.get("surges", [])}

    def y(value):
        return top_pad + plot_h - plot_h * value / top

    parts = [f'<svg class="trend" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(trend["name"])}: {int(trend["total"])} articles" xmlns="http://www.w3.org/2000/svg">']
    for value in (0, top / 2, top):
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
                     f'<text class="axis" x="{left - 4}" y="{y(value) + 4:.1f}" text-anchor="end">{value:g}</text>')
    band = []
    for i, point in enumerate(points):
        x = left + i * step
        key = point["start"][:13 if trend["resolution"] == "hour" else 10]
        above = point["high"] is not None and point["count"] > point["high"]
        surged = key in surge_times
        css = "bar surge" if surged else ("bar above" if above else "bar")
        bar_h = plot_h * point["count"] / top
        tip = f"{point['start']}: {int(point['count'])} articles"
        if point["expected"] is not None:
            tip += f", expected {point['expected']:g}"
        if surged:
            tip += ", surge"
        parts.append(f'<rect class="{css}" x="{x + 0.5:.1f}" y="{y(point["count"]):.1f}" '
                     f'width="{max(step - 1, 0.5):.1f}" height="{bar_h:.1f}"><title>{escape(tip)}</title></rect>')
        if surged:
            parts.append(f'<text class="surge-mark" x="{x + step / 2:.1f}" y="{top_pad + 8}" '
                         f'text-anchor="middle">▲</text>')
        if point["high"] is not None and not math.isnan(point["high"]):
            band.append(f"{x + step / 2:.1f},{y(point['high']):.1f}")
    if len(band) > 1:
        parts.append(f'<polyline class="band" points="{" ".join(band)}"/>')
    for i in (0, len(points) // 2, len(points) - 1):
        label = points[i]["start"][5:16].replace("T", " ") if trend["resolution"] == "hour" else points[i]["start"][:10]
        anchor = "start" if i == 0 else ("end" if i == len(points) - 1 else "middle")
        parts.append(f'<text class="axis" x="{left + i * step + step / 2:.1f}" y="{height - 6}" '
                     f'text-anchor="{anchor}">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
