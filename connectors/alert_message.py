"""One alert as people read it, whichever channel carries it (email, chat, Atom feed).

    view = AlertView.from_entry("1715680000000-0", fields)
    view.headline   # 'New story: Germany halts Nord Stream 2'
    view.text()     # plain text: headline, source, story, evidence with matched terms, link
    view.html()     # the same as an HTML fragment (every value escaped)

``fields`` is an alert stream entry (connectors/redis_streams.alert_fields):
flat strings, lists as JSON. ``alert_id`` is ``<subscription>:<entry id>``,
the id every channel derives its message ids from (connectors/webhook.py).
A story alert ("new" or "update") says how many sources and articles the
story has; an article alert has no story line.
"""

import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

__all__ = ["AlertView", "entry_time"]


def entry_time(entry_id):
    """The UTC time a stream entry was written (its id is ``<ms>-<seq>``)."""
    millis = int(str(entry_id).split("-", 1)[0])
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)


def _decoded(value, default):
    if isinstance(value, (list, dict)):
        return value
    try:
        return json.loads(value) if value else default
    except (TypeError, ValueError):
        return default


def _one_line(text):
    return " ".join(str(text or "").split())


@dataclass
class AlertView:
    """What a reader needs of one alert; built from a stream entry or a webhook-style payload."""

    entry_id: str
    subscription: str
    title: str
    url: str = ""
    source: str = ""
    published: str = ""
    kind: str = "article"  # "new" (a story's first alert), "update" (it grew), "article"
    update: str = ""
    story: str = ""
    story_sources: str = ""
    story_articles: str = ""
    evidence: list = field(default_factory=list)
    terms: list = field(default_factory=list)
    topics: list = field(default_factory=list)

    @classmethod
    def from_entry(cls, entry_id, fields, *, subscription=None):
        topics = [t["id"] for t in _decoded(fields.get("topics"), []) if isinstance(t, dict) and "id" in t]
        return cls(
            entry_id=str(entry_id),
            subscription=subscription or fields.get("subscription", ""),
            title=_one_line(fields.get("title")) or "(untitled)",
            url=_one_line(fields.get("url")),
            source=_one_line(fields.get("source")),
            published=_one_line(fields.get("published")),
            kind=fields.get("alert") or "article",
            update=_one_line(fields.get("update")),
            story=_one_line(fields.get("story")),
            story_sources=str(fields.get("story_sources", "") or ""),
            story_articles=str(fields.get("story_articles", "") or ""),
            evidence=[_one_line(e) for e in _decoded(fields.get("evidence"), []) if e],
            terms=[_one_line(t) for t in _decoded(fields.get("terms"), []) if t],
            topics=topics,
        )

    @property
    def alert_id(self):
        return f"{self.subscription}:{self.entry_id}"

    @property
    def written(self):
        return entry_time(self.entry_id)

    @property
    def headline(self):
        prefix = {"new": "New story: ", "update": f"Update ({self.update}): " if self.update else "Update: "}
        return prefix.get(self.kind, "") + self.title

    @property
    def story_line(self):
        """``story 3f2a…: 4 sources, 5 articles`` for story alerts, else empty."""
        if not self.story or self.kind not in ("new", "update"):
            return ""
        return f"story {self.story}: {self.story_sources or '?'} sources, {self.story_articles or '?'} articles"

    @property
    def evidence_line(self):
        """The first evidence sentence and the terms that matched in it."""
        sentence = self.evidence[0] if self.evidence else ""
        terms = f" (matched: {', '.join(self.terms)})" if self.terms else ""
        return (f"“{sentence}”" if sentence else "") + terms if sentence or terms else ""

    def text(self):
        lines = [self.headline, f"source: {self.source or '-'}"
                 + (f"  published: {self.published}" if self.published else "")]
        if self.topics:
            lines.append(f"topics: {', '.join(self.topics)}")
        if self.story_line:
            lines.append(self.story_line)
        if self.evidence_line:
            lines.append(f"evidence: {self.evidence_line}")
        if self.url:
            lines.append(self.url)
        return "\n".join(lines)

    def html(self):
        e = html.escape
        title = f'<a href="{e(self.url, quote=True)}">{e(self.headline)}</a>' if self.url else e(self.headline)
        parts = [f"<h3>{title}</h3>",
                 f"<p>source: {e(self.source or '-')}"
                 + (f" &middot; published: {e(self.published)}" if self.published else "")
                 + (f" &middot; topics: {e(', '.join(self.topics))}" if self.topics else "") + "</p>"]
        if self.story_line:
            parts.append(f"<p>{e(self.story_line)}</p>")
        if self.evidence:
            parts.append(f"<blockquote>{_marked(self.evidence[0], self.terms)}</blockquote>")
        if self.terms:
            parts.append(f"<p>matched: {e(', '.join(self.terms))}</p>")
        if self.url:
            parts.append(f'<p><a href="{e(self.url, quote=True)}">{e(self.url)}</a></p>')
        return "\n".join(parts)


def _marked(sentence, terms):
    """The sentence HTML-escaped, each occurrence of a matched term (any case) in <b>."""
    terms = sorted({t for t in terms if t}, key=len, reverse=True)
    if not terms:
        return html.escape(sentence)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out, start = [], 0
    for match in pattern.finditer(sentence):
        out.append(html.escape(sentence[start:match.start()]))
        out.append(f"<b>{html.escape(match.group(0))}</b>")
        start = match.end()
    out.append(html.escape(sentence[start:]))
    return "".join(out)
