"""Feed items -> raw articles: feedparser over bytes we fetched (it does no HTTP here).

RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom all come out as the raw article dicts
every connector produces (transforms.normalize takes it from there):

    parse_feed(body, feed_url="https://news.example.com/world/rss.xml", fetched_at=1715680000).articles
    -> [{"id": "urn:uuid:6f1d…", "title": "Norway opens Arctic naval exercise …",
         "text": "Norwegian frigates sailed into the Barents Sea …",
         "url": "https://news.example.com/world/2024/05/14/arctic-exercise?utm_source=rss…",
         "published": "2024-05-14T06:30:00Z", "source": "Northern Dispatch – World",
         "author": "Ingrid Solberg", "origin": "https://news.example.com/world/rss.xml"}, …]

- id: the GUID (a GUID without a URI scheme, like ``article-88213``, is only
  unique within its site, so it is prefixed with the host of the feed's listed
  URL, whatever it redirects to; a GUID that is an http(s) URL is made
  canonical like links, tracking parameters dropped); else the canonical link;
  else a hash of title and text. A GUID that several different entries of one
  feed share is no id at all, and the link is used instead.
- text: ``content:encoded`` (or Atom content), else the summary, reduced to
  text by transforms.normalize.clean_text (scripts and styles dropped,
  entities decoded).
- url: the link, relative links resolved against the feed's URL (after redirects);
  tracking parameters stay until NormalizeArticles.
- published: published, else updated, in UTC (zone abbreviations such as CEST
  or IST read by transforms.normalize.parse_date, which feedparser reads as
  UTC). Missing, unreadable or more than a day in the future -> the fetch time,
  with ``published_estimated: True``; a partial date ("March 2024") -> its
  first day, also estimated.

A malformed ("bozo") feed still gives the entries feedparser could read; the
problem is kept as ``warning``. A body that gives no entries at all is a
failure record (stage ``parse``) saying why, e.g. "not a feed: got an HTML page".
"""

import calendar
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import feedparser

from transforms.deadletter import failure
from transforms.normalize import canonical_url, clean_text, parse_date, to_utc_iso

__all__ = ["ParsedFeed", "entry_article", "item_id", "parse_feed"]

_URI_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S")
_FUTURE_SLACK = 24 * 3600
_PAYLOAD_BYTES = 2000
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")


@dataclass
class ParsedFeed:
    """What one fetched body gave: articles, failure records, the feed's title, and
    ``error`` (why it gave nothing) or ``warning`` (why it was bozo but still readable)."""

    articles: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    title: str = ""
    error: str = ""
    warning: str = ""


def item_id(guid, link, title, text, host=""):
    """The stable id of a feed item: GUID, else canonical link, else a hash of title and text."""
    guid = (guid or "").strip()
    if guid:
        if guid.lower().startswith(("http://", "https://")):
            return canonical_url(guid)
        return guid if _URI_SCHEME_RE.match(guid) or not host else f"{host}#{guid}"
    if link:
        return canonical_url(link)
    return "sha256:" + hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()


def _entry_link(entry, base_url):
    link = entry.get("link") or ""
    if not link:
        for candidate in entry.get("links", ()):
            if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
                link = candidate["href"]
                break
    return urljoin(base_url, link.strip()) if link.strip() else ""


def _entry_text(entry):
    for content in entry.get("content", ()):
        text = clean_text(content.get("value") or "")
        if text:
            return text
    return clean_text(entry.get("summary") or "")


def _entry_author(entry):
    detail = entry.get("author_detail") or {}
    return clean_text(detail.get("name") or entry.get("author") or "")


def _entry_published(entry, fetched_at):
    """``(iso, estimated, "")`` with the entry's UTC time, or ``(None, False, the raw date we could not use)``.

    The raw text is read first (feedparser reads "09:30 CEST" as 09:30 UTC); feedparser's own
    reading is the fallback for forms only it knows.
    """
    raw = ""
    for key in ("published", "updated", "created"):
        value = entry.get(key) or ""
        parsed = entry.get(f"{key}_parsed")
        if not value and not parsed:
            continue
        raw = raw or value
        iso, estimated = parse_date(value)
        if iso is not None:
            seconds = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
        elif parsed:
            seconds, estimated = calendar.timegm(parsed), False
        else:
            continue
        # A date far in the future is a wrong zone or a CMS default, not news from tomorrow.
        if seconds <= fetched_at + _FUTURE_SLACK:
            return to_utc_iso(seconds), estimated, ""
    return None, False, raw


def entry_article(entry, *, feed_url, base_url, source, fetched_at, host=""):
    """The raw article dict of one feedparser entry; ValueError when it has neither title nor text."""
    title = " ".join(clean_text(entry.get("title") or "").split())
    text = _entry_text(entry)
    if not title and not text:
        raise ValueError("entry has neither title nor text")
    link = _entry_link(entry, base_url)
    article = {
        "id": item_id(entry.get("id"), link, title, text, host),
        "title": title,
        "text": text,
        "url": link,
        "source": source,
        "author": _entry_author(entry),
        "origin": feed_url,
    }
    published, estimated, raw = _entry_published(entry, fetched_at)
    if published:
        article["published"] = published
        if estimated:
            article["published_estimated"] = True
    else:
        article["published"] = to_utc_iso(fetched_at)
        article["published_estimated"] = True
        if raw:
            article["published_original"] = raw[:100]
    return article


class _AlternateFeedLinks(HTMLParser):
    """The ``<link rel="alternate" type="application/rss+xml" href=…>`` of an HTML page."""

    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        attrs = {name: (value or "") for name, value in attrs}
        if (tag == "link" and "alternate" in attrs.get("rel", "").lower().split()
                and attrs.get("type", "").lower() in _FEED_TYPES and attrs.get("href")):
            self.hrefs.append(attrs["href"])


def _looks_like_html(body, content_type):
    if content_type.split(";")[0].strip() in ("text/html", "application/xhtml+xml"):
        return True
    return body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith((b"<!doctype html", b"<html"))


def _not_a_feed_reason(body, content_type, base_url, parsed):
    if not body.strip():
        return "empty response body"
    if _looks_like_html(body, content_type):
        finder = _AlternateFeedLinks()
        try:
            finder.feed(body[:200_000].decode(parsed.get("encoding") or "utf-8", "replace"))
        except Exception:  # noqa: BLE001 - the hint is optional
            pass
        hint = f" (the page links to the feed {urljoin(base_url, finder.hrefs[0])})" if finder.hrefs else ""
        return f"not a feed: got an HTML page{hint}"
    if body.lstrip()[:1] in (b"{", b"["):
        return "not a feed: got JSON (newsmon reads RSS, Atom and RDF feeds)"
    error = parsed.get("bozo_exception") if parsed.get("bozo") else None
    malformed = error is not None and hasattr(error, "getLineNumber")  # an XML syntax error
    if parsed.get("version"):
        return f"the feed gave no entries: {_bozo_reason(error)}" if malformed else ""
    return f"not a feed: {_bozo_reason(error)}" if malformed else "not a feed: no RSS, Atom or RDF elements"


def _bozo_reason(error):
    if error is None:
        return "malformed"
    if hasattr(error, "getMessage") and hasattr(error, "getLineNumber"):
        return f"malformed XML: {error.getMessage()} at line {error.getLineNumber()}"
    return f"{type(error).__name__}: {error}"


def _unique_ids(articles, host):
    """Entries of one fetch that share a GUID but differ get their link (or content hash) as id."""
    seen = {}
    for article in articles:
        seen.setdefault(article["id"], set()).add((article["url"], article["title"]))
    for article in articles:
        if len(seen[article["id"]]) > 1:
            article["id"] = item_id("", article["url"], article["title"], article["text"], host)


def parse_feed(body, *, feed_url, fetched_at, headers=None, final_url="", list_title=""):
    """Articles and failure records from a fetched feed body (bytes).

    ``headers`` are the response headers (their charset is used), ``final_url`` the URL the body
    came from after redirects (relative links resolve against it), ``list_title`` the feed's title
    in the feed list, used as source when the feed has none.
    """
    headers = {key.lower(): value for key, value in (headers or {}).items()}
    base_url = final_url or feed_url
    # GUIDs are scoped by the host of the listed URL, which redirects do not change.
    host = (urlsplit(feed_url).hostname or "").lower()
    # No content-location for feedparser: it would resolve a bare GUID ("article-88213", which
    # RSS takes for a permalink) against the URL the body came from, so a redirect would change
    # every id. Links are resolved against that URL here (_entry_link); xml:base still applies.
    response_headers = {}
    for name in ("content-type", "content-language"):
        if headers.get(name):
            response_headers[name] = headers[name]
    content_type = headers.get("content-type", "").lower()
    if content_type.startswith("text/") and "xml" in content_type and "charset" not in content_type:
        # RFC 7303: without a charset the XML declaration decides; feedparser still follows
        # RFC 3023's us-ascii default for text/xml and flags every such feed as bozo.
        response_headers["content-type"] = "application/xml"
    # A file object, never bytes: feedparser would take a body that looks like a path for a file to open.
    # Its HTML sanitizer and relative-URI rewriting are off: we keep no HTML (clean_text reduces it to
    # text and drops scripts and styles), and they cost over a third of the parsing time.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=response_headers, sanitize_html=False,
                              resolve_relative_uris=False)
    title = " ".join(clean_text(parsed.feed.get("title") or "").split())
    result = ParsedFeed(title=title)
    source = title or list_title or host
    for number, entry in enumerate(parsed.entries, start=1):
        try:
            result.articles.append(entry_article(entry, feed_url=feed_url, base_url=base_url, source=source,
                                                 fetched_at=fetched_at, host=host))
        except ValueError as error:
            result.failures.append(failure("parse", error, origin=f"{feed_url} entry {number}",
                                           payload={key: str(value)[:500] for key, value in entry.items()}))
    _unique_ids(result.articles, host)
    if result.articles:
        if parsed.get("bozo"):
            result.warning = _bozo_reason(parsed.get("bozo_exception"))
        return result
    result.error = _not_a_feed_reason(body, content_type, base_url, parsed)
    if result.error:
        result.failures.append(failure("parse", result.error, origin=feed_url,
                                       payload=body[:_PAYLOAD_BYTES].decode("utf-8", "replace")))
    return result
