"""Feed bodies -> raw articles, against stored real-world shaped fixtures with their expected output.

Each ``tests/fixtures/feeds/<name>`` has ``<name stem>.expected.json`` beside it: the feed's title,
warning, error, articles and failure records as parse_feed gives them for
``https://feeds.example.test/feeds/<name>`` fetched at 2024-05-16T12:00:00Z.
"""

import json

import pytest

from tests.connectors.conftest import FEED_FIXTURES, _content_type
from transforms.feed_items import item_id, parse_feed
from transforms.normalize import normalize_article

FETCHED_AT = 1715860800  # 2024-05-16T12:00:00Z
FIXTURE_NAMES = sorted(p.name for p in FEED_FIXTURES.iterdir() if p.suffix in (".xml", ".html"))


def parse(name, **kwargs):
    kwargs.setdefault("feed_url", f"https://feeds.example.test/feeds/{name}")
    kwargs.setdefault("headers", {"Content-Type": _content_type(name)})
    return parse_feed((FEED_FIXTURES / name).read_bytes(), fetched_at=FETCHED_AT, **kwargs)


def by_title(parsed):
    return {article["title"]: article for article in parsed.articles}


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_gives_its_expected_output(name):
    expected = json.loads((FEED_FIXTURES / f"{name.rsplit('.', 1)[0]}.expected.json").read_text(encoding="utf-8"))
    parsed = parse(name)
    assert parsed.title == expected["title"]
    assert parsed.warning == expected["warning"]
    assert parsed.error == expected["error"]
    assert parsed.articles == expected["articles"]
    assert [{k: f[k] for k in ("stage", "origin", "error")} for f in parsed.failures] == expected["failures"]


def test_rss2_prefers_content_encoded_and_drops_scripts_styles_and_media():
    article = by_title(parse("rss2_content_encoded.xml"))[
        "Norway opens Arctic naval exercise as Russian bombers probe airspace"]
    assert article["text"].startswith("Norwegian frigates sailed into the Barents Sea on Tuesday")
    assert "teaser" not in article["text"]  # the description lost to content:encoded
    assert "trackPageView" not in article["text"] and "display: none" not in article["text"]
    assert "— “a familiar pattern,”" in article["text"]  # &mdash; &ldquo; &rdquo; decoded
    assert "frigate-small.jpg" not in article["text"] and "Reuters" not in article["text"]  # media: is not text
    assert article["author"] == "Ingrid Solberg"  # dc:creator
    assert article["id"] == "urn:uuid:6f1d2b1e-3c2a-4d0e-9a8f-1b2c3d4e5f60"


def test_rss2_author_email_form_and_site_local_guid():
    articles = by_title(parse("rss2_content_encoded.xml"))
    assert articles["EU agrees 14th sanctions package targeting LNG transshipment"]["author"] == "Marc Dubois"
    # "article-88213" is unique only on its site: scoped by the feed's host.
    assert articles["Ransomware gang claims attack on Baltic port operator"]["id"] == "feeds.example.test#article-88213"


def test_atom_resolves_xml_base_and_strips_markup_from_titles():
    articles = parse("atom.xml").articles
    assert [a["url"] for a in articles] == ["https://security.example.org/2024/05/cisa-kev-three-flaws",
                                            "https://security.example.org/2024/05/svalbard-cable"]
    assert articles[0]["title"] == "CISA adds three flaws to KEV catalog"
    assert articles[0]["published"] == "2024-05-14T11:15:00Z"  # published wins over updated
    assert articles[1]["published"] == "2024-05-13T21:40:00Z"  # only updated
    assert articles[1]["text"] == ("Police in Tromsø are investigating damage to a fibre cable linking Svalbard"
                                   " with the mainland.")  # xhtml content


def test_rss1_rdf_items_use_rdf_about_and_dc_date():
    articles = parse("rss1_rdf.xml").articles
    assert [a["id"] for a in articles] == ["https://arctic.example.net/2024/05/icebreaker",
                                           "https://arctic.example.net/2024/05/council"]
    assert [a["published"] for a in articles] == ["2024-05-10T09:00:00Z", "2024-05-09T00:00:00Z"]


def test_cdata_and_entities_decode_once():
    articles = parse("cdata_entities.xml").articles
    assert articles[0]["title"] == "Germany & France “agree” on export controls"
    assert articles[0]["text"] == ("Berlin & Paris reached a deal on dual‑use goods — officials said."
                                   " Café talks went late.")
    assert articles[1]["title"] == 'Minister’s "red line" on sanctions — explained'
    assert articles[1]["text"] == "The minister said the OFAC list & the EU list must match."
    assert "alert" not in articles[1]["text"]


def test_latin1_feed_is_decoded_from_its_declaration():
    raw = (FEED_FIXTURES / "latin1.xml").read_bytes()
    assert b"S\xe9curit\xe9" in raw and b'encoding="ISO-8859-1"' in raw  # really Latin-1 bytes
    parsed = parse("latin1.xml")  # served as text/xml without a charset
    assert parsed.warning == ""
    assert [a["title"] for a in parsed.articles] == ["Sécurité : la Suède renforce sa présence à Gotland",
                                                     "Größere Übung in der Ostsee, Dänemark beteiligt"]
    assert "(£ 900 000)" in parsed.articles[0]["text"]


def test_odd_dates_become_utc_or_the_flagged_fetch_time():
    articles = by_title(parse("dates.xml"))
    assert articles["Named US zone"]["published"] == "2024-03-05T15:00:00Z"
    assert articles["ISO date without zone in pubDate"]["published"] == "2024-03-05T10:00:00Z"
    assert articles["Only dc:date"]["published"] == "2024-03-04T22:15:00Z"
    assert articles["Single-digit day, no weekday"]["published"] == "2024-03-05T07:00:00Z"
    for title, original in [("No date at all", None), ("Garbage date", "yesterday afternoon"),
                            ("Date in the far future", "Fri, 01 Jan 2099 00:00:00 GMT")]:
        article = articles[title]
        assert article["published"] == "2024-05-16T12:00:00Z" and article["published_estimated"] is True
        assert article.get("published_original") == original
    assert "published_estimated" not in articles["Named US zone"]


def test_relative_links_resolve_against_the_feed_url():
    parsed = parse("relative_links.xml", feed_url="http://127.0.0.1:8000/feeds/relative_links.xml")
    urls = [a["url"] for a in parsed.articles]
    assert urls == ["http://127.0.0.1:8000/news/2024/05/harbour-wall", "http://127.0.0.1:8000/feeds/ferry-timetable.html",
                    "http://cdn.harbour.example/galleries/regatta", "",
                    "http://127.0.0.1:8000/news/2024/05/gales", "http://127.0.0.1:8000/news/2024/05/lifeboat"]


def test_relative_links_resolve_against_the_final_url_after_redirects():
    parsed = parse("relative_links.xml", feed_url="http://old.example/rss",
                   final_url="https://new.example/feeds/relative_links.xml")
    assert parsed.articles[0]["url"] == "https://new.example/news/2024/05/harbour-wall"
    assert all(a["origin"] == "http://old.example/rss" for a in parsed.articles)


def test_ids_fall_back_from_guid_to_link_to_content_hash():
    articles = by_title(parse("relative_links.xml"))
    assert articles["Council approves new harbour wall"]["id"] == "https://feeds.example.test/news/2024/05/harbour-wall"
    notice = articles["Notice to mariners"]
    assert notice["url"] == "" and notice["id"].startswith("sha256:")
    assert notice["id"] == item_id("", "", "Notice to mariners", "Buoy 14 is out of position until further notice.")
    # Two different items sharing one GUID: the GUID identifies neither, their links do.
    assert articles["Weather warning: gales"]["id"] == "https://feeds.example.test/news/2024/05/gales"
    assert articles["Lifeboat crew rescues kayakers"]["id"] == "https://feeds.example.test/news/2024/05/lifeboat"


def test_item_id_rules():
    assert item_id("urn:uuid:1", "https://a.example/x", "t", "x", "a.example") == "urn:uuid:1"
    assert item_id("https://a.example/x", "", "t", "x", "a.example") == "https://a.example/x"
    assert item_id("12345", "https://a.example/x", "t", "x", "a.example") == "a.example#12345"
    assert item_id("", "HTTPS://A.example/x?utm_source=rss#top", "t", "x") == "https://a.example/x"
    assert item_id("  ", "", "t", "x") == item_id("", "", "t", "x") != item_id("", "", "t", "y")


def test_ids_are_stable_across_polls_and_through_normalize():
    first = parse("rss2_content_encoded.xml").articles
    again = parse_feed((FEED_FIXTURES / "rss2_content_encoded.xml").read_bytes(), fetched_at=FETCHED_AT + 3600,
                       feed_url="https://feeds.example.test/feeds/rss2_content_encoded.xml")
    assert [a["id"] for a in first] == [a["id"] for a in again.articles]
    assert ([normalize_article(a)["id"] for a in first]
            == [normalize_article(a)["id"] for a in again.articles])
    assert len({normalize_article(a)["id"] for a in first}) == 3


def test_a_truncated_feed_yields_what_it_could_read():
    parsed = parse("truncated.xml")
    assert [a["title"] for a in parsed.articles] == ["First complete item", "Second complete item",
                                                     "Third item, cut off"]
    assert parsed.warning == "malformed XML: no element found at line 24" and parsed.failures == []


def test_a_feed_that_yields_nothing_is_a_failure_record():
    parsed = parse("truncated_head.xml")
    assert parsed.articles == []
    assert parsed.error == "the feed gave no entries: malformed XML: unclosed token at line 6"
    [failed] = parsed.failures
    assert failed["stage"] == "parse" and failed["error"] == parsed.error
    assert failed["origin"] == "https://feeds.example.test/feeds/truncated_head.xml"
    assert failed["payload"].startswith('<?xml version="1.0"')


def test_an_html_page_says_so_and_points_at_its_feed():
    parsed = parse("html_page.html", feed_url="https://news.example.com/world")
    assert parsed.articles == []
    assert parsed.error == "not a feed: got an HTML page (the page links to the feed https://news.example.com/world/rss.xml)"
    assert [f["error"] for f in parsed.failures] == [parsed.error]


def test_an_html_page_served_as_xml_is_still_an_html_page():
    parsed = parse("html_page.html", headers={"Content-Type": "application/rss+xml"})
    assert parsed.error.startswith("not a feed: got an HTML page")


def test_undefined_html_entities_in_xml_are_bozo_but_readable():
    parsed = parse("undefined_entities.xml")
    assert parsed.warning == "malformed XML: undefined entity at line 8"
    [article] = parsed.articles
    assert article["title"] == "Prime Minister’s visit to Tromsø"
    assert article["text"] == "Talks on defence spending & the Arctic…"


def test_an_empty_channel_is_fine():
    parsed = parse("empty_channel.xml")
    assert parsed.articles == [] and parsed.failures == [] and parsed.error == "" and parsed.title == "Quiet Desk"


@pytest.mark.parametrize("body, error", [
    (b"", "empty response body"),
    (b"   \n", "empty response body"),
    (b'<?xml version="1.0"?><config><value>1</value></config>', "not a feed: no RSS, Atom or RDF elements"),
    (b'{"version": "https://jsonfeed.org/version/1.1"}',
     "not a feed: got JSON (newsmon reads RSS, Atom and RDF feeds)"),
])
def test_bodies_that_are_not_feeds(body, error):
    parsed = parse_feed(body, feed_url="https://x.example/feed", fetched_at=FETCHED_AT)
    assert parsed.articles == [] and parsed.error == error
    assert [(f["stage"], f["origin"], f["error"]) for f in parsed.failures] == [
        ("parse", "https://x.example/feed", error)]


def test_a_cut_off_feed_whose_only_entry_is_unreadable_gave_nothing():
    parsed = parse_feed(b'<rss version="2.0"><channel><item><title>a</titl', feed_url="https://x.example/feed",
                        fetched_at=FETCHED_AT)
    assert parsed.articles == []
    # feedparser prepends an XML declaration, hence line 2.
    assert parsed.error == "the feed gave no entries: malformed XML: unclosed token at line 2"
    assert [(f["origin"], f["error"]) for f in parsed.failures] == [
        ("https://x.example/feed entry 1", "ValueError: entry has neither title nor text"),
        ("https://x.example/feed", parsed.error)]


def test_a_body_that_looks_like_a_path_is_not_opened_as_a_file(tmp_path):
    secret = tmp_path / "feed.xml"
    secret.write_bytes((FEED_FIXTURES / "atom.xml").read_bytes())
    parsed = parse_feed(str(secret).encode(), feed_url="https://x.example/feed", fetched_at=FETCHED_AT)
    assert parsed.articles == [] and parsed.error.startswith("not a feed")


def test_an_entry_without_title_or_text_is_a_failure_record():
    body = (b'<rss version="2.0"><channel><title>T</title>'
            b"<item><link>https://x.example/1</link></item>"
            b"<item><title>Kept</title><link>https://x.example/2</link></item></channel></rss>")
    parsed = parse_feed(body, feed_url="https://x.example/feed", fetched_at=FETCHED_AT)
    assert [a["title"] for a in parsed.articles] == ["Kept"]
    [failed] = parsed.failures
    assert (failed["stage"], failed["origin"], failed["error"]) == (
        "parse", "https://x.example/feed entry 1", "ValueError: entry has neither title nor text")
    assert "https://x.example/1" in failed["payload"]


def test_source_falls_back_to_the_list_title_then_the_host():
    body = b'<rss version="2.0"><channel><item><title>Untitled feed item</title></item></channel></rss>'
    listed = parse_feed(body, feed_url="https://www.x.example/feed", fetched_at=FETCHED_AT, list_title="X News")
    assert listed.articles[0]["source"] == "X News"
    unlisted = parse_feed(body, feed_url="https://www.x.example/feed", fetched_at=FETCHED_AT)
    assert unlisted.articles[0]["source"] == "www.x.example"
