"""A subscription's latest alerts as an Atom feed (feedgen), for feed readers.

    body = subscription_feed(client, keys, "ns2", count=50, self_url="https://desk.example/feeds/ns2.atom")
    etag = feed_etag(body)            # '"3b1f…"': answer If-None-Match with 304 when it matches

    newsmon alerts feed ns2 > ns2.atom

The feed is built from the alert stream alone, so the same alerts always give
the same bytes (and the same ETag): the feed's ``<updated>`` is the newest
alert's, not the time of the request.

- feed ``<id>``: ``urn:newsmon:subscription:<name>``
- entry ``<id>``: ``urn:newsmon:alert:<name>:<entry id>``, the alert id, the
  same however often the feed is built (a reader shows each alert once)
- entry ``<updated>``: when the alert was written (the stream entry id's time);
  ``<published>``: the article's publication time when it is known
- entry ``<summary>``: the evidence sentence and the terms that matched, the
  source and, for story alerts, the story with its source count; ``<content>``
  the same as HTML; ``<category>`` one per topic; ``<link>`` the article.
"""

import hashlib
from datetime import datetime, timezone

from dateutil import parser as date_parser
from feedgen.feed import FeedGenerator

from connectors.alert_message import AlertView

__all__ = ["DEFAULT_FEED_SIZE", "alerts_feed", "entry_atom_id", "feed_atom_id", "feed_etag", "subscription_feed"]

DEFAULT_FEED_SIZE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def feed_atom_id(subscription):
    return f"urn:newsmon:subscription:{subscription}"


def entry_atom_id(subscription, entry_id):
    return f"urn:newsmon:alert:{subscription}:{entry_id}"


def _published(text):
    if not text:
        return None
    try:
        when = date_parser.isoparse(text)
    except (ValueError, OverflowError):
        try:
            when = date_parser.parse(text)
        except (ValueError, OverflowError):
            return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _summary(view):
    parts = []
    if view.evidence_line:
        parts.append(view.evidence_line)
    parts.append(f"source: {view.source or '-'}")
    if view.story_line:
        parts.append(view.story_line)
    if view.topics:
        parts.append(f"topics: {', '.join(view.topics)}")
    return " — ".join(parts)


def alerts_feed(subscription, entries, *, self_url=None, site_url=None, title=None):
    """Atom XML (bytes) of alert stream ``entries`` (``[(entry id, fields)]``, newest first)."""
    feed = FeedGenerator()
    feed.id(feed_atom_id(subscription))
    feed.title(title or f"newsmon alerts: {subscription}")
    feed.subtitle(f"The latest alerts of the newsmon subscription {subscription!r}")
    feed.author({"name": "newsmon"})
    feed.generator("newsmon")
    if self_url:
        feed.link(href=self_url, rel="self", type="application/atom+xml")
    if site_url:
        feed.link(href=site_url, rel="alternate")
    views = [AlertView.from_entry(entry_id, fields, subscription=subscription) for entry_id, fields in entries]
    feed.updated(max((view.written for view in views), default=_EPOCH))
    for view in views:
        entry = feed.add_entry(order="append")
        entry.id(entry_atom_id(subscription, view.entry_id))
        entry.title(view.headline)
        entry.updated(view.written)
        published = _published(view.published)
        if published is not None:
            entry.published(published)
        if view.url:
            entry.link(href=view.url, rel="alternate")
        if view.source:
            entry.author({"name": view.source})
        entry.summary(_summary(view))
        entry.content(view.html(), type="html")
        for topic in view.topics:
            entry.category(term=topic)
    return feed.atom_str(pretty=True)


def subscription_feed(client, keys, subscription, *, count=DEFAULT_FEED_SIZE, self_url=None, site_url=None):
    """The Atom feed of the latest ``count`` alerts of ``subscription`` (read with one XREVRANGE)."""
    entries = client.xrevrange(keys.alerts(subscription), count=count)
    entries = [(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()}) for entry_id, fields in entries]
    return alerts_feed(subscription, entries, self_url=self_url, site_url=site_url)


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def feed_etag(body):
    """A strong ETag of a feed body: the same alerts give the same body, so the same tag."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
