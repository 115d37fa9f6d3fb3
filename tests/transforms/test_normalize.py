import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.normalize import NormalizeArticles, article_id, canonical_url, clean_text, normalize_article, to_utc_iso


def test_clean_text_drops_scripts_styles_and_decodes_entities():
    html = ("<div><p>Sanctions &amp; export&nbsp;controls</p><script>alert('x')</script>"
            "<style>p {color: red}</style><p>Second   paragraph &#8212; here</p></div>")
    assert clean_text(html) == "Sanctions & export controls\nSecond paragraph — here"


def test_clean_text_folds_whitespace_but_keeps_paragraphs():
    assert clean_text("  One   line\n\n\n  two\tlines  ") == "One line\ntwo lines"


def test_clean_text_leaves_comparisons_alone():
    assert clean_text("if a < b and c > d") == "if a < b and c > d"


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
