"""NormalizeArticles: stable ids, clean text and UTC timestamps.

Input is a raw article dict from any connector; output is the article model
every later step relies on:

    {"id": "3f2a9c0d1e4b5a67", "title": "...", "text": "...", "url": "https://...",
     "published": "2021-05-18T09:30:00Z", "source": "example.com", "origin": "seeds/a.txt"}

The id is stable across runs: the connector's own id (feed GUID, archive
content hash), else the canonical URL, else a hash of title and text.
"""

import hashlib
import html
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import apache_beam as beam
from dateutil import parser as date_parser
from w3lib.url import canonicalize_url

from transforms.deadletter import FAILED, failure

__all__ = [
    "NormalizeArticles",
    "article_id",
    "canonical_url",
    "clean_text",
    "strip_control_chars",
    "normalize_article",
    "parse_date",
    "to_utc_iso",
    "web_url",
]

_TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "head", "iframe", "svg"})
_BLOCK_TAGS = frozenset(
    "p br div li ul ol h1 h2 h3 h4 h5 h6 blockquote tr table section article header footer "
    "figure figcaption pre hr".split()
)
# Query parameters that say how a reader arrived, not what they read (campaign, click and
# share trackers of the analytics, ad and mail platforms news links carry).
_TRACKING_PARAMS = re.compile(
    r"^(utm_\w*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|twclid|igshid|mc_cid|mc_eid|_ga|_gl|_hsenc|_hsmi"
    r"|mkt_tok|ref|ref_src|ref_url|referrer|cmpid|ocid|icid|ncid|sr_share|smid|smtyp|spm|s_cid|at_medium"
    r"|at_campaign|at_custom\d*|ns_mchannel|ns_source|ns_campaign|ns_linkname|ns_fee|wt\.mc_id|wt_mc|cmp"
    r"|oly_anon_id|oly_enc_id|vero_id|rss|feed|xtor|partner|taid|trk|trkcampaign|src)$", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Zone abbreviations dateutil and email.utils do not know (both would read the time as UTC).
# Where one abbreviation means several zones, the one news feeds use most: IST is India,
# CST is US Central, BST is British Summer Time.
_ZONE_HOURS = {
    "UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "IST": 5.5, "CET": 1, "CEST": 2,
    "MET": 1, "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "TRT": 3, "GST": 4, "PKT": 5, "NPT": 5.75, "ICT": 7,
    "WIB": 7, "HKT": 8, "SGT": 8, "PHT": 8, "AWST": 8, "JST": 9, "KST": 9, "ACST": 9.5, "AEST": 10, "AEDT": 11,
    "NZST": 12, "NZDT": 13, "SAST": 2, "WAT": 1, "CAT": 2, "EAT": 3, "EST": -5, "EDT": -4, "CST": -6,
    "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10,
}
_TZINFOS = {name: int(hours * 3600) for name, hours in _ZONE_HOURS.items()}
# Two different defaults: a field that comes out different under each was missing from the text.
_DEFAULT_A = datetime(2000, 1, 1)
_DEFAULT_B = datetime(2001, 2, 2)
_MAX_TEXT_CHARS = 200_000
# Terminal escape sequences: CSI (colours, cursor moves), OSC/DCS/SOS/PM/APC strings up to BEL or ST
# (window titles, hyperlinks; an unterminated one up to the end of its line), and two-byte escapes.
_ESCAPE_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]"
)
# C0 and C1 control characters but tab and newline, and DEL.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)


def strip_control_chars(value):
    """``value`` without terminal escape sequences and control characters (tab and newline stay):
    feed text must not retitle a terminal window, recolour it or hide a link when it is shown."""
    value = _ESCAPE_SEQUENCES.sub("", value)
    return _CONTROL_CHARS.sub("", value)


def _one_line(value, limit=200):
    return " ".join(strip_control_chars(str(value)).split())[:limit]


def web_url(url):
    """The canonical URL if ``url`` is an http(s) URL with a host, else "" (``javascript:``,
    ``data:``, ``file:`` and the like are no article URLs)."""
    url = strip_control_chars(str(url or "")).strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return canonical_url(url)


def clean_text(value):
    """Plain text from text or HTML: tags, scripts and styles dropped, entities decoded,
    terminal escape sequences and control characters removed (tab and newline are
    whitespace), runs of spaces folded, paragraphs kept as single line breaks."""
    if not value:
        return ""
    if _TAG_RE.search(value):
        extractor = _TextExtractor()
        extractor.feed(value)
        extractor.close()
        value = "".join(extractor.parts)
    else:
        value = html.unescape(value)
    value = strip_control_chars(value.replace("\u00a0", " ").replace("\r", "\n"))
    lines = (" ".join(line.split()) for line in value.split("\n"))
    return "\n".join(line for line in lines if line)[:_MAX_TEXT_CHARS]


def parse_date(value):
    """``(UTC ISO string, estimated)`` of a date, or ``(None, False)`` if it cannot be read.

        "Tue, 18 May 2021 09:30:00 +0200"  -> ("2021-05-18T07:30:00Z", False)
        "18 May 2021 09:30 CEST"           -> ("2021-05-18T07:30:00Z", False)   zone abbreviations
        "March 2024"                       -> ("2024-03-01T00:00:00Z", True)    the start of the period
        "March 5" (no year)                -> (None, False)                     never filled from today

    Dates without a zone are taken as UTC.
    """
    if value is None or value == "":
        return None, False
    estimated = False
    if isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, tz=timezone.utc)
    elif isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is None or moment.tzinfo is None:  # not RFC 822, or a zone it does not know
            try:
                moment = date_parser.parse(text, default=_DEFAULT_A, tzinfos=_TZINFOS)
                other = date_parser.parse(text, default=_DEFAULT_B, tzinfos=_TZINFOS)
            except (ValueError, OverflowError):
                return None, False
            if moment.year != other.year:
                return None, False  # no year: any guess would be wrong
            estimated = (moment.month, moment.day) != (other.month, other.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), estimated


def to_utc_iso(value):
    """``"Tue, 18 May 2021 09:30:00 +0200"`` -> ``"2021-05-18T07:30:00Z"``; None if unparseable
    (see parse_date; a partial date gives the start of its period)."""
    return parse_date(value)[0]


def canonical_url(url):
    """One spelling per page: ``HTTPS://Example.com:443/a/../b?z=1&utm_source=x&a=2#top`` ->
    ``https://example.com/b?a=2&z=1``.

    w3lib's canonicalize_url (percent-encoding, dot segments, sorted query, no
    fragment, lower-case host), then the default port and tracking parameters
    (utm_*, fbclid, gclid, ...) dropped. Other URLs come back as they are.
    """
    if not url:
        return ""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.netloc:
        return url
    try:
        parts = urlsplit(canonicalize_url(url))
        port = parts.port
    except ValueError:  # a port that is not a number, an unbalanced IPv6 bracket
        return url
    netloc = parts.netloc
    if port is not None and port == _DEFAULT_PORTS[parts.scheme]:
        netloc = netloc.rsplit(":", 1)[0]
    query = "&".join(pair for pair in parts.query.split("&")
                     if pair and not _TRACKING_PARAMS.match(unquote_plus(pair.split("=", 1)[0])))
    return urlunsplit((parts.scheme, netloc, parts.path or "/", query, ""))


def _digest(kind, value):
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:16]


def article_id(raw, title, text):
    """A 16-hex-digit id, stable across runs: connector id, else canonical URL, else content."""
    if raw.get("id"):
        return _digest("id", raw["id"])
    if raw.get("url"):
        return _digest("url", canonical_url(raw["url"]))
    return _digest("text", f"{title}\n{text}")


def normalize_article(raw):
    """The article model from a raw article dict; ValueError if it has neither title nor text."""
    if not isinstance(raw, dict):
        raise ValueError(f"expected an article mapping, got {type(raw).__name__}")
    title = " ".join(clean_text(str(raw.get("title") or "")).split())
    text = clean_text(str(raw.get("text") or ""))
    if not title and not text:
        raise ValueError("article has neither title nor text")
    published, partial = parse_date(raw.get("published"))
    article = {
        "id": article_id(raw, title, text),
        "title": title,
        "text": text,
        "url": web_url(raw.get("url")),
        "published": published or "",
        "source": _one_line(raw.get("source") or ""),
        "origin": _one_line(raw.get("origin") or "", 1000),
    }
    if raw.get("published") and not published:
        article["published_unparsed"] = _one_line(raw["published"], 100)
    if raw.get("published_estimated") or partial:
        # A feed item without a date (its fetch time), or a partial date ("March 2024": its first day).
        article["published_estimated"] = True
    if raw.get("author"):
        article["author"] = _one_line(raw["author"])
    if raw.get("fulltext") in ("auto", "always", "never"):
        article["fulltext"] = raw["fulltext"]  # its feed's full-text mode, for FetchFullText (connectors/pages.py)
    if raw.get("text_source") in ("feed", "teaser", "fulltext"):
        article["text_source"] = raw["text_source"]  # an HTML file's extracted text (connectors/archive.py)
    return article


class _NormalizeFn(beam.DoFn):
    def process(self, raw):
        try:
            yield normalize_article(raw)
        except Exception as error:  # noqa: BLE001 - any failure goes to the dead letters
            origin = raw.get("origin", "") if isinstance(raw, dict) else ""
            yield beam.pvalue.TaggedOutput(FAILED, failure("normalize", error, origin=origin, payload=raw))


class NormalizeArticles(beam.PTransform):
    """Raw article dicts -> article model; outputs ``articles`` and ``failed``."""

    def expand(self, raw_articles):
        return raw_articles | beam.ParDo(_NormalizeFn()).with_outputs(FAILED, main="articles")
