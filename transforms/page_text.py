"""The main text of an article page, and whether it should replace a feed's teaser.

Pure functions over bytes and strings (no network, no Redis); connectors/pages.py
fetches the page and calls them.

    html, note = decode_html(body, "text/html")              # charset: header, BOM, meta, UTF-8, else guessed
    page = extract_main_text(html, url="https://…")          # trafilatura, precision-first
    page.text, page.problem                                  # main text, or "" and why there is none
    (metadata extraction is off: htmldate took 21 s on one Cyrillic fixture page, the text 0.2 s)
    choose_text(teaser, page.text, title=…)                  # ("fulltext", "") or ("teaser", "why")

Extraction is trafilatura's (see ARCHITECTURE.md for why): on the project's
fixture pages its word-level F1 against hand-marked main text is 0.96 (BENCHMARKS.md).
``favor_precision=True``: on a metered paywall page it returns the visible stub
rather than the related-links and comment blocks around it, which lets the
"no more than the teaser" rule below keep the teaser.

A page's text replaces the teaser only when it is an article's text:

- at least ``MIN_WORDS`` words and more words than the teaser;
- not a consent ("cookie") wall: several consent phrases in a short text;
- about the item: some of the title's and teaser's words occur in it (a login page,
  an error page or a consent wall shares none of them).

Otherwise the teaser stays and the reason is one short line.
"""

import codecs
import html as html_entities
import re
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser

__all__ = ["MIN_WORDS", "TEASER_WORDS", "ExtractedPage", "choose_text", "decode_html", "extract_main_text",
           "extract_page", "extraction_worker", "is_teaser", "looks_like_html", "page_metadata", "word_count",
           "word_f1"]

MIN_WORDS = 40  # fewer words than this is a stub, not an article
MAX_TEXT_CHARS = 200_000  # as NormalizeArticles caps a feed item's text
TEASER_WORDS = 120  # a feed item's text shorter than this is a teaser (fulltext: auto fetches its page)
_TEASER_ENDINGS = re.compile(r"(\.\.\.|…|\[…\]|\[\.\.\.\]|read more|continue reading|weiterlesen|lire la suite"
                             r"|leer más|seguir leyendo|читать далее)\W*$", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body|meta|title|div|p|article)\b",
                         re.IGNORECASE | re.DOTALL)
# Consent dialogs ("cookie walls") in the languages of the shipped taxonomy.
_CONSENT = re.compile(
    r"\b(cookies?|consent|partners|personal data|privacy|preferences|accept all|reject all|manage options"
    r"|zustimm\w*|einwillig\w*|datenschutz|alle akzeptieren|consentement|données personnelles|accepter"
    r"|tout accepter|consentimiento|datos personales|aceptar|согласи\w*|персональн\w* данн\w*)\b", re.IGNORECASE)
_CONSENT_PHRASES = 4  # distinct consent phrases that make a short text a consent wall
_CONSENT_MAX_WORDS = 400
_MIN_OVERLAP = 0.2  # share of the title's and teaser's longer words a page about the item contains


@dataclass(frozen=True)
class ExtractedPage:
    """What extraction gave: ``text`` (paragraphs separated by one newline), or ``text == ""``
    and ``problem`` saying why."""

    text: str = ""
    problem: str = ""


def word_count(text):
    return len(_WORD.findall(text or ""))


def word_f1(predicted, gold):
    """Word-level F1 of an extracted text against the hand-marked main text (bags of lower-cased
    words, as the extraction benchmarks of trafilatura and others count it)."""
    found, wanted = Counter(_WORD.findall(predicted.lower())), Counter(_WORD.findall(gold.lower()))
    overlap = sum((found & wanted).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(found.values()), overlap / sum(wanted.values())
    return 2 * precision * recall / (precision + recall)


def is_teaser(text):
    """True when a feed item's text is a teaser: short, or cut off ("…", "Read more")."""
    text = (text or "").strip()
    return word_count(text) < TEASER_WORDS or bool(_TEASER_ENDINGS.search(text[-40:]))


def _charset_of(content_type):
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip("\"'"):
            return value.strip().strip("\"'")
    return ""


def _known(encoding):
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return ""


def _guess_encoding(body):
    """The most likely encoding of bytes that are not UTF-8: of charset_normalizer's candidates with
    the least mess, the most coherent (its first pick alone takes the Le Monde page for cp1250)."""
    from charset_normalizer import from_bytes

    sample = body if len(body) <= 200_000 else body[:100_000] + body[-100_000:]
    matches = list(from_bytes(sample))
    if not matches:
        return ""
    least = min(match.chaos for match in matches)
    plausible = [match for match in matches if match.chaos <= least + 0.01]
    return max(plausible, key=lambda match: match.coherence).encoding


def looks_like_html(body, content_type=""):
    """True for an HTML (or untyped text) response; False for a PDF, an image, JSON, ..."""
    kind = content_type.split(";")[0].strip().lower()
    if body[:5] == b"%PDF-":
        return False
    if kind not in _HTML_TYPES:
        return False
    return bool(_HTML_START.match(body[:4096].lstrip(b"\xef\xbb\xbf")))


def decode_html(body, content_type=""):
    """``(text, note)``: the page decoded by its declared charset (header, byte order mark,
    ``<meta charset>``), else as UTF-8, else by the best guess (``note`` says which)."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if body.startswith(bom):
            return body[len(bom):].decode(encoding, "replace"), ""
    declared = _known(_charset_of(content_type))
    if not declared:
        found = _META_CHARSET.search(body[:8192])
        declared = _known(found.group(1).decode("ascii", "replace")) if found else ""
    if declared:
        return body.decode(declared, "replace"), ""
    try:
        return body.decode("utf-8"), ""
    except UnicodeDecodeError:
        pass
    guessed = _known(_guess_encoding(body))
    if guessed:
        return body.decode(guessed, "replace"), f"no charset declared; decoded as {guessed} (guessed)"
    return body.decode("windows-1252", "replace"), "no charset declared and none could be guessed; read as windows-1252"


def extract_main_text(html, *, url=""):
    """The main text of an HTML page (a str) as an ExtractedPage; never raises."""
    import trafilatura

    try:
        document = trafilatura.bare_extraction(html, url=url or None, fast=True, favor_precision=True,
                                               include_comments=False, include_tables=False,
                                               include_images=False, with_metadata=False)
    except RecursionError:
        return ExtractedPage(problem="the page nests too deeply to be read")
    except Exception as error:  # noqa: BLE001 - a broken page is a result, not a crash
        return ExtractedPage(problem=f"extraction failed: {type(error).__name__}: {str(error)[:200]}")
    if document is None:
        return ExtractedPage(problem="no article text found in the page")
    text = _paragraphs(getattr(document, "text", "") or "")
    if not text:
        return ExtractedPage(problem="no article text found in the page")
    return ExtractedPage(text=text)


def _paragraphs(text):
    """One paragraph a line, control characters and terminal escapes removed (as NormalizeArticles
    does for feed text: the page's text is shown in terminals too), at most MAX_TEXT_CHARS."""
    from transforms.normalize import strip_control_chars

    text = strip_control_chars(text.replace("\u00a0", " ").replace("\r", "\n"))
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)[:MAX_TEXT_CHARS]


def _consent_wall(text):
    if word_count(text) > _CONSENT_MAX_WORDS:
        return False
    return len({match.group(0).lower() for match in _CONSENT.finditer(text)}) >= _CONSENT_PHRASES


def _long_words(text):
    return {word for word in _WORD.findall((text or "").lower()) if len(word) > 3}


def choose_text(teaser, page_text, *, title=""):
    """``("fulltext", "")`` when ``page_text`` should replace ``teaser``, else ``("teaser", why)``."""
    words = word_count(page_text)
    if not words:
        return "teaser", "no article text found in the page"
    if _consent_wall(page_text):
        return "teaser", "a cookie or consent wall, no article text"
    if words <= word_count(teaser):
        return "teaser", f"the page gave no more text than the teaser ({words} words; a paywall or a stub?)"
    if words < MIN_WORDS:
        return "teaser", f"the page gave only {words} words (a paywall or a stub?)"
    expected = _long_words(f"{title} {teaser}")
    if len(expected) >= 4 and len(expected & _long_words(page_text)) < _MIN_OVERLAP * len(expected):
        return "teaser", "the page's text is not about the item (a login, error or consent page?)"
    return "fulltext", ""


def extract_page(body, content_type, url=""):
    """``(text, problem, note)`` of a fetched body: not HTML, or its decoded main text."""
    if not looks_like_html(body, content_type):
        kind = "a PDF" if body[:5] == b"%PDF-" else content_type.split(";")[0].strip() or "no content type"
        return "", f"not an HTML page ({kind})", ""
    html, note = decode_html(body, content_type)
    extracted = extract_main_text(html, url=url)
    return extracted.text, extracted.problem, note


def extraction_worker(connection):
    """The loop of an extraction process (connectors/pages.py): "ready" once trafilatura is
    imported, then one ``(text, problem, note)`` per ``(body, content_type, url)`` received."""
    import trafilatura  # noqa: F401 - imported before "ready", so a page's time cap is extraction only

    connection.send("ready")
    while True:
        try:
            body, content_type, url = connection.recv()
        except (EOFError, OSError):
            return
        try:
            result = extract_page(body, content_type, url)
        except Exception as error:  # noqa: BLE001 - a page that breaks the extractor is a result
            result = ("", f"extraction failed: {type(error).__name__}: {str(error)[:200]}", "")
        connection.send(result)


class _HeadParser(HTMLParser):
    """Title, canonical URL and publication time from a page's ``<head>`` (meta tags, og:, link)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = {}
        self._in_title = False
        self._title = []

    def handle_starttag(self, tag, attrs):
        attrs = {name.lower(): (value or "") for name, value in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "meta":
            name = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").lower()
            if name and attrs.get("content", "").strip():
                self.found.setdefault(name, attrs["content"].strip())
        elif tag == "link" and "canonical" in attrs.get("rel", "").lower().split() and attrs.get("href"):
            self.found.setdefault("canonical", attrs["href"].strip())
        elif tag == "body":
            raise StopIteration  # the head is read

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self._title.append(data)


def page_metadata(html):
    """``{"title", "url", "published"}`` of a page, from its head: og:title else ``<title>``; the
    canonical link else og:url; article:published_time (each "" when absent)."""
    parser = _HeadParser()
    try:
        parser.feed(html[:300_000])
        parser.close()
    except StopIteration:
        pass
    except Exception:  # noqa: BLE001 - a broken head gives what was read before it broke
        pass
    found = parser.found
    title = found.get("og:title") or "".join(parser._title) or found.get("twitter:title", "")
    return {"title": " ".join(html_entities.unescape(title).split()),
            "url": found.get("canonical") or found.get("og:url", ""),
            "published": found.get("article:published_time") or found.get("datepublished", "")}
