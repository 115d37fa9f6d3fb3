"""Feed lists: which feeds to poll, from OPML, YAML or plain text.

Three formats, found by extension (``.opml``/``.xml``, ``.yaml``/``.yml``,
anything else is plain text) or, for text handed in directly, by content:

- OPML as feed readers export it: ``<outline>`` elements nested in folders;
  an outline with an ``xmlUrl`` is a feed, its parent outlines are its category.
- YAML: a list of URLs, or of ``{url, title, interval, fulltext}`` mappings
  (``interval`` in seconds or as ``30m``, ``2h``, ``1d``); optionally under a
  ``feeds:`` key.
- Plain text: one URL per line, optionally followed by ``fulltext=MODE``;
  ``#`` starts a comment.

``fulltext`` (``auto``, ``always`` or ``never``; an OPML outline's
``fulltext`` attribute) says whether the feed's article pages are fetched for
their full text (connectors/pages.py): ``auto`` when an item's text is a
teaser. A feed that names none follows the run's ``--fulltext``.

    load_feed_list("seeds/feeds.opml")
    -> [Feed(url="https://feeds.bbci.co.uk/news/world/rss.xml", title="BBC News – World",
             site_url="https://www.bbc.co.uk/news/world", category="World/Broadcasters"), ...]

A list that cannot be read raises ValueError saying where (line or entry) and why.
The same URL listed twice is one feed (the first listing wins).
"""

import hashlib
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

__all__ = ["FULLTEXT_MODES", "Feed", "feed_id", "load_feed_list", "parse_feed_list", "parse_fulltext",
           "parse_interval", "parse_opml", "parse_text_list", "parse_yaml_list"]

_INTERVAL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_INTERVAL_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_MIN_INTERVAL = 60  # polling a feed more than once a minute is never polite
FULLTEXT_MODES = ("auto", "always", "never")


def feed_id(url):
    """A short stable id for a feed: the first 12 hex digits of the SHA-256 of its URL."""
    return hashlib.sha256(url.strip().encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Feed:
    """One feed to poll. ``interval`` (seconds) overrides the poller's default when set;
    ``fulltext`` (auto, always, never) the run's full-text mode."""

    url: str
    title: str = ""
    site_url: str = ""
    category: str = ""
    interval: int | None = None
    fulltext: str | None = None

    @property
    def feed_id(self):
        return feed_id(self.url)

    @property
    def host(self):
        return (urlsplit(self.url).hostname or "").lower()


def _check_url(url, where):
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{where}: expected a feed URL, got {url!r}")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{where}: not an http(s) URL: {url!r}")
    return url


def parse_interval(value, where="interval"):
    """Seconds from ``900``, ``"900"``, ``"15m"``, ``"2h"`` or ``"1d"``; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{where}: not an interval: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _INTERVAL_RE.match(str(value))
        if not match:
            raise ValueError(f"{where}: not an interval: {value!r} (use seconds or 30m, 2h, 1d)")
        seconds = float(match.group(1)) * _INTERVAL_UNITS[match.group(2).lower()]
    if seconds < _MIN_INTERVAL:
        raise ValueError(f"{where}: interval {value!r} is shorter than {_MIN_INTERVAL} s")
    return int(seconds)


def parse_fulltext(value, where="fulltext"):
    """``auto``, ``always`` or ``never`` (any case); None and "" stay None."""
    if value is None or value == "":
        return None
    mode = str(value).strip().lower() if isinstance(value, str) else None
    if mode not in FULLTEXT_MODES:
        raise ValueError(f"{where}: fulltext must be one of {', '.join(FULLTEXT_MODES)}, got {value!r}")
    return mode


def _unique(feeds):
    seen = {}
    for feed in feeds:
        seen.setdefault(feed.url, feed)
    return list(seen.values())


def parse_opml(text):
    """Feeds of an OPML document (str or bytes); folders become ``category`` ("World/Europe")."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise ValueError(f"not valid OPML: {error}") from error
    if root.tag.lower() != "opml":
        raise ValueError(f"not OPML: the document element is <{root.tag}>, not <opml>")
    body = next((child for child in root if child.tag.lower() == "body"), None)
    if body is None:
        raise ValueError("not valid OPML: no <body> element")
    feeds = []

    def walk(element, folders):
        for number, outline in enumerate((c for c in element if c.tag.lower() == "outline"), start=1):
            # Exporters differ in attribute case (xmlUrl, xmlurl, XMLURL).
            attrs = {key.lower(): value.strip() for key, value in outline.attrib.items()}
            title = attrs.get("title") or attrs.get("text") or ""
            url = attrs.get("xmlurl")
            if url:
                where = f"outline {title or number!r}"
                # Folders, else OPML 2.0's category attribute ("/World/Europe,/News").
                category = "/".join(folders) or attrs.get("category", "").split(",")[0].strip().strip("/")
                feeds.append(Feed(url=_check_url(url, where), title=title, site_url=attrs.get("htmlurl", ""),
                                  category=category, interval=parse_interval(attrs.get("interval"), where),
                                  fulltext=parse_fulltext(attrs.get("fulltext"), where)))
            walk(outline, [*folders, title] if not url and title else folders)

    walk(body, [])
    return _unique(feeds)


def parse_yaml_list(text):
    """Feeds of a YAML list of URLs or ``{url, title, interval, fulltext}`` mappings."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"not valid YAML: {error}") from error
    if isinstance(data, dict) and "feeds" in data:
        data = data["feeds"]
    if not isinstance(data, list):
        raise ValueError(f"a YAML feed list is a list of URLs or mappings, got {type(data).__name__}")
    feeds = []
    for number, entry in enumerate(data, start=1):
        where = f"entry {number}"
        if isinstance(entry, str):
            feeds.append(Feed(url=_check_url(entry, where)))
        elif isinstance(entry, dict):
            unknown = set(entry) - {"url", "title", "interval", "category", "site_url", "fulltext"}
            if unknown:
                raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
            feeds.append(Feed(url=_check_url(entry.get("url"), where), title=str(entry.get("title") or ""),
                              site_url=str(entry.get("site_url") or ""), category=str(entry.get("category") or ""),
                              interval=parse_interval(entry.get("interval"), where),
                              fulltext=parse_fulltext(entry.get("fulltext"), where)))
        else:
            raise ValueError(f"{where}: expected a URL or a mapping with 'url', got {entry!r}")
    return _unique(feeds)


def parse_text_list(text):
    """Feeds of a plain list: one URL per line (then optionally ``fulltext=MODE``), ``#`` comments,
    blank lines ignored."""
    feeds = []
    for number, line in enumerate(text.splitlines(), start=1):
        # A comment starts a line or follows a space; a '#' inside a URL is a fragment.
        line = "" if line.lstrip().startswith("#") else re.sub(r"\s#.*$", "", line).strip()
        if not line:
            continue
        url, *options = line.split()
        where = f"line {number}"
        fulltext = None
        for option in options:
            name, equals, value = option.partition("=")
            if name.lower() != "fulltext" or not equals or fulltext is not None:
                raise ValueError(f"{where}: expected one URL, optionally followed by fulltext=auto|always|never,"
                                 f" got {line!r}")
            fulltext = parse_fulltext(value, where)
        feeds.append(Feed(url=_check_url(url, where), fulltext=fulltext))
    return _unique(feeds)


def parse_feed_list(text, kind=None):
    """Feeds of a list given as text; ``kind`` is ``opml``, ``yaml`` or ``text`` (guessed if None)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")
    if kind is None:
        stripped = text.lstrip("\ufeff \t\r\n")
        if stripped.startswith("<"):
            kind = "opml"
        elif stripped.startswith(("-", "feeds:")):
            kind = "yaml"
        else:
            kind = "text"
    parsers = {"opml": parse_opml, "yaml": parse_yaml_list, "text": parse_text_list}
    if kind not in parsers:
        raise ValueError(f"unknown feed list kind {kind!r}; expected one of {', '.join(parsers)}")
    return parsers[kind](text)


def load_feed_list(path):
    """Feeds of the list at ``path``; ValueError names the file when it cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    kind = {".opml": "opml", ".xml": "opml", ".yaml": "yaml", ".yml": "yaml"}.get(suffix, "text")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"{path}: cannot read feed list: {error.strerror}") from error
    try:
        if kind == "opml":
            feeds = parse_opml(data)
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as error:
                raise ValueError(f"not UTF-8 text (byte {error.start})") from error
            feeds = parse_feed_list(text, kind)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    if not feeds:
        raise ValueError(f"{path}: no feeds in this list")
    return feeds
