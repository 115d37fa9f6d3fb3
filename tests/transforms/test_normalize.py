import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.normalize import (
    NormalizeArticles,
    article_id,
    canonical_url,
    clean_text,
    normalize_article,
    parse_date,
    strip_control_chars,
    to_utc_iso,
    web_url,
)


def test_clean_text_drops_scripts_styles_and_decodes_entities():
    html = ("<div><p>Sanctions &amp; export&nbsp;controls</p><script>alert('x')</script>"
            "<style>p {color: red}</style><p>Second   paragraph &#8212; here</p></div>")
    assert clean_text(html) == "Sanctions & export controls\nSecond paragraph — here"


def test_clean_text_folds_whitespace_but_keeps_paragraphs():
    assert clean_text("  One   line\n\n\n  two\tlines  ") == "One line\ntwo lines"


def test_clean_text_leaves_comparisons_alone():
    assert clean_text("if a < b and c > d") == "if a < b and c > d"


@pytest.mark.parametrize("dirty, clean", [
    ("Title\x1b]0;pwned\x07 here", "Title here"),                       # OSC window title, BEL
    ("Title\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", "Titlelink"),  # OSC 8 hyperlink, ST
    ("\x1b[31mred\x1b[0m and \x1b[1;4mbold\x1b[m", "red and bold"),      # CSI colours
    ("cursor\x1b[2J\x1b[H home", "cursor home"),                         # clear screen, home
    ("C1\x9b31m csi\x9d0;t\x9c", "C1 csi"),                              # 8-bit CSI and OSC
    ("bell\x07 nul\x00 bs\x08 del\x7f esc\x1b", "bell nul bs del esc"),
    ("unterminated \x1b]0;title\nnext line", "unterminated \nnext line"),
    ("keeps\ttabs\nand newlines", "keeps\ttabs\nand newlines"),
    ("Zürich — “quotes” €", "Zürich — “quotes” €"),
])
def test_strip_control_chars(dirty, clean):
    assert strip_control_chars(dirty) == clean


def test_clean_text_removes_escape_sequences_also_when_entity_encoded():
    # An encoded ESC decodes to nothing (HTML forbids it), so what followed it is plain text.
    assert clean_text("<p>Nord \x1b[5mStream</p><p>&#27;]0;x&#7;two&#x9b;</p>") == "Nord Stream\n]0;xtwo›"
    assert clean_text("a\x1b[31m\u0085b") == "ab"


def test_every_text_field_is_cleaned_and_only_web_urls_are_kept():
    article = normalize_article({
        "id": "g1", "title": "\x1b]0;hacked\x07Germany halts \x1b[31mNord Stream\x1b[0m",
        "text": "Berlin\x1b[2J said.", "url": "javascript:alert(1)", "source": "Wire\x1b[1m\x00",
        "author": "A.\x1b]0;t\x07 Writer", "origin": "https://feed.example/rss\x07", "published": "\x1b[1m?"})
    assert article["title"] == "Germany halts Nord Stream"
    assert article["text"] == "Berlin said."
    assert article["url"] == ""
    assert article["source"] == "Wire" and article["author"] == "A. Writer"
    assert article["origin"] == "https://feed.example/rss" and article["published_unparsed"] == "?"


@pytest.mark.parametrize("url, kept", [
    ("https://news.example/a?utm_source=x", "https://news.example/a"),
    ("HTTP://News.Example/a", "http://news.example/a"),
    ("javascript:alert(document.cookie)", ""),
    ("JavaScript:alert(1)", ""),
    ("data:text/html,<script>alert(1)</script>", ""),
    ("file:///etc/passwd", ""),
    ("vbscript:msgbox", ""),
    ("//news.example/a", ""),
    ("https:///no-host", ""),
    ("", ""),
])
def test_web_url(url, kept):
    assert web_url(url) == kept


def test_timestamps_become_utc():
    assert to_utc_iso("Tue, 18 May 2021 09:30:00 +0200") == "2021-05-18T07:30:00Z"
    assert to_utc_iso("2021-05-18T09:30:00-04:00") == "2021-05-18T13:30:00Z"
    assert to_utc_iso("2021-05-18 09:30") == "2021-05-18T09:30:00Z"
    assert to_utc_iso(0) == "1970-01-01T00:00:00Z"
    assert to_utc_iso("the day after tomorrow") is None
    assert to_utc_iso("") is None


def test_canonical_url_drops_tracking_and_fragment():
    assert (canonical_url("HTTPS://Example.COM/a/b?utm_source=x&id=3&fbclid=y#top")
            == "https://example.com/a/b?id=3")


def test_ids_are_stable_and_prefer_connector_id_then_url():
    by_id = article_id({"id": "guid-1", "url": "https://a.example/x"}, "t", "x")
    assert by_id == article_id({"id": "guid-1"}, "other", "other")
    by_url = article_id({"url": "https://a.example/x?utm_medium=rss"}, "t", "x")
    assert by_url == article_id({"url": "https://a.example/x"}, "changed title", "changed text")
    by_text = article_id({}, "t", "x")
    assert len({by_id, by_url, by_text}) == 3
    assert by_text != article_id({}, "t", "y")
    assert len(by_text) == 16 and int(by_text, 16) >= 0


def test_normalize_article():
    article = normalize_article({"title": " A <b>bold</b>  title ", "text": "<p>Body</p>",
                                 "published": "2021-05-18T09:30:00Z", "origin": "a.jsonl:1"})
    assert article["title"] == "A bold title"
    assert article["text"] == "Body"
    assert article["published"] == "2021-05-18T09:30:00Z"
    assert article["origin"] == "a.jsonl:1"


def test_unparseable_date_is_kept_aside():
    article = normalize_article({"title": "t", "published": "soonish"})
    assert article["published"] == "" and article["published_unparsed"] == "soonish"


def test_normalize_articles_sends_empty_articles_to_failed():
    with TestPipeline(runner=FnApiRunner()) as p:
        out = p | beam.Create([{"title": "ok", "text": "fine"}, {"title": " ", "origin": "x:2"}, "junk"]) \
            | NormalizeArticles()
        assert_that(out.articles | beam.Map(lambda a: a["title"]), equal_to(["ok"]), label="ok")
        assert_that(out.failed | beam.Map(lambda f: (f["stage"], f["origin"], f["error"].split(":")[0])),
                    equal_to([("normalize", "x:2", "ValueError"), ("normalize", "", "ValueError")]),
                    label="failed")


@pytest.mark.parametrize("text, expected", [
    ("Tue, 18 May 2021 09:30:00 CEST", "2021-05-18T07:30:00Z"),
    ("18 May 2021 09:30 CEST", "2021-05-18T07:30:00Z"),
    ("Tue, 18 May 2021 09:30:00 CET", "2021-05-18T08:30:00Z"),
    ("Tue, 18 May 2021 09:30:00 BST", "2021-05-18T08:30:00Z"),
    ("Tue, 18 May 2021 09:30:00 IST", "2021-05-18T04:00:00Z"),
    ("2021-05-18 09:30 EEST", "2021-05-18T06:30:00Z"),
    ("Tue, 18 May 2021 09:30:00 EDT", "2021-05-18T13:30:00Z"),
    ("Tue, 18 May 2021 09:30:00 GMT", "2021-05-18T09:30:00Z"),
])
def test_zone_abbreviations_resolve_to_their_offsets(text, expected):
    assert parse_date(text) == (expected, False)


@pytest.mark.parametrize("text, expected", [
    ("March 2024", ("2024-03-01T00:00:00Z", True)),
    ("2024-03", ("2024-03-01T00:00:00Z", True)),
    ("2024", ("2024-01-01T00:00:00Z", True)),
    ("March 5", (None, False)),  # no year: not taken from today
    ("5 March 2024", ("2024-03-05T00:00:00Z", False)),
])
def test_partial_dates_are_the_start_of_their_period_and_estimated(text, expected):
    assert parse_date(text) == expected


def test_a_partial_date_marks_the_article_estimated():
    article = normalize_article({"title": "t", "text": "x", "published": "March 2024"})
    assert article["published"] == "2024-03-01T00:00:00Z" and article["published_estimated"] is True
    assert "published_estimated" not in normalize_article({"title": "t", "text": "x", "published": "2024-03-05"})


@pytest.mark.parametrize("url, expected", [
    ("HTTPS://Example.COM:443/a/../b/./c?z=1&utm_source=x&a=2#top", "https://example.com/b/c?a=2&z=1"),
    ("http://example.com:80/x?b=2&a=1", "http://example.com/x?a=1&b=2"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
    ("https://example.com/x?fbclid=1&gclid=2&mc_cid=3&_ga=4&id=9", "https://example.com/x?id=9"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/caf%C3%A9?q=a b", "https://example.com/caf%C3%A9?q=a+b"),
    ("urn:uuid:1234", "urn:uuid:1234"),
])
def test_canonical_urls(url, expected):
    assert canonical_url(url) == expected
