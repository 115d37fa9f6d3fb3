"""Feed lists: OPML as feed readers export it, YAML, plain text, and clear errors for bad lists."""

import re

import pytest

from connectors.feed_lists import (
    Feed,
    feed_id,
    load_feed_list,
    parse_feed_list,
    parse_interval,
    parse_opml,
    parse_text_list,
    parse_yaml_list,
)
from tests.conftest import FIXTURES, SEEDS

LISTS = FIXTURES / "feedlists"


def test_opml_export_with_nested_folders():
    feeds = load_feed_list(LISTS / "reader_export.opml")
    assert [(f.url, f.title, f.category) for f in feeds] == [
        ("https://wire.example.eu/rss", "Wire & Cable — Europe", "World/Europe"),
        ("http://nord.example.fr/rss.xml", "Nouvelles du Nord", "World/Europe"),
        ("https://news.example.com/world/rss.xml", "Northern Dispatch – World", "World"),
        ("https://security.example.org/feed.atom", "Security Ledger", "Security"),
        ("https://arctic.example.net/rss", "Arctic Observer", "Security/Arctic"),
        ("https://unfiled.example.com/feed/", "Unfiled feed", "Misc/Odds"),
    ]
    by_url = {f.url: f for f in feeds}
    assert by_url["https://wire.example.eu/rss"].site_url == "https://wire.example.eu/"
    assert by_url["https://security.example.org/feed.atom"].site_url == "https://security.example.org/"
    assert all(f.interval is None for f in feeds)


def test_the_same_url_twice_is_one_feed_and_the_first_listing_wins():
    feeds = load_feed_list(LISTS / "reader_export.opml")
    dispatch = [f for f in feeds if f.url == "https://news.example.com/world/rss.xml"]
    assert len(dispatch) == 1 and dispatch[0].title == "Northern Dispatch – World"


def test_feed_ids_are_short_stable_hashes_of_the_url():
    feed = Feed("https://news.example.com/world/rss.xml")
    assert re.fullmatch(r"[0-9a-f]{12}", feed.feed_id)
    assert feed.feed_id == feed_id("https://news.example.com/world/rss.xml") == Feed(feed.url, title="x").feed_id
    assert feed.feed_id != Feed("https://news.example.com/world/rss.xml?x=1").feed_id
    assert feed.host == "news.example.com"


def test_yaml_list_of_urls_and_mappings():
    feeds = load_feed_list(LISTS / "feeds.yaml")
    assert feeds == [
        Feed("https://news.example.com/world/rss.xml"),
        Feed("https://security.example.org/feed.atom", title="Security Ledger", interval=1800),
        Feed("https://arctic.example.net/rss", interval=7200, category="Arctic"),
    ]
    assert parse_yaml_list("- https://a.example/rss\n- url: https://b.example/rss\n") == [
        Feed("https://a.example/rss"), Feed("https://b.example/rss")]


def test_text_list_with_comments():
    feeds = load_feed_list(LISTS / "feeds.txt")
    assert [f.url for f in feeds] == ["https://news.example.com/world/rss.xml", "https://security.example.org/feed.atom",
                                      "https://arctic.example.net/rss#channel"]


def test_kind_is_guessed_from_content():
    opml = (LISTS / "reader_export.opml").read_text(encoding="utf-8")
    assert parse_feed_list(opml) == parse_opml(opml.encode())
    assert parse_feed_list("feeds:\n  - https://a.example/rss\n") == [Feed("https://a.example/rss")]
    assert parse_feed_list("- https://a.example/rss\n") == [Feed("https://a.example/rss")]
    assert parse_feed_list("https://a.example/rss\n") == [Feed("https://a.example/rss")]


def test_intervals():
    assert parse_interval(None) is None
    assert parse_interval(900) == 900
    assert parse_interval("900") == 900
    assert parse_interval("15m") == 900
    assert parse_interval("2h") == 7200
    assert parse_interval("1d") == 86400
    with pytest.raises(ValueError, match="shorter than 60 s"):
        parse_interval("10s")
    with pytest.raises(ValueError, match="not an interval: 'often'"):
        parse_interval("often")


def test_the_seed_feed_list():
    feeds = load_feed_list(SEEDS / "feeds.opml")
    assert len(feeds) >= 20
    assert all(f.url.startswith("https://") and f.title for f in feeds)
    categories = {f.category for f in feeds}
    assert {"World/Broadcasters", "Security/Defence", "Security/Cyber", "Arctic"} <= categories
    titles = {f.title for f in feeds}
    for expected in ("BBC News – World", "The Record by Recorded Future", "CISA – Cybersecurity advisories",
                     "Arctic Today", "High North News", "Krebs on Security"):
        assert expected in titles
    assert len({f.feed_id for f in feeds}) == len(feeds)


@pytest.mark.parametrize("text, message", [
    ("<opml><body><outline xmlUrl='https://a.example/rss'></body></opml>", "not valid OPML: mismatched tag"),
    ("<rss version='2.0'><channel/></rss>", "not OPML: the document element is <rss>, not <opml>"),
    ("<opml version='2.0'><head/></opml>", "not valid OPML: no <body> element"),
    ("<opml><body><outline text='Bad' xmlUrl='ftp://a.example/rss'/></body></opml>",
     "outline 'Bad': not an http(s) URL: 'ftp://a.example/rss'"),
    ("<opml><body><outline text='Fast' xmlUrl='https://a.example/rss' interval='5'/></body></opml>",
     "outline 'Fast': interval '5' is shorter than 60 s"),
])
def test_malformed_opml(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_opml(text)


@pytest.mark.parametrize("text, message", [
    ("feeds: [", "not valid YAML"),
    ("url: https://a.example/rss", "a YAML feed list is a list of URLs or mappings, got dict"),
    ("- https://a.example/rss\n- 42\n", "entry 2: expected a URL or a mapping with 'url', got 42"),
    ("- title: no url\n", "entry 1: expected a feed URL, got None"),
    ("- url: https://a.example/rss\n  intervall: 5m\n", "entry 1: unknown key(s) intervall"),
    ("- url: https://a.example/rss\n  interval: sometimes\n", "entry 1: not an interval: 'sometimes'"),
    ("- javascript:alert(1)\n", "entry 1: not an http(s) URL: 'javascript:alert(1)'"),
])
def test_malformed_yaml(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_yaml_list(text)


@pytest.mark.parametrize("text, message", [
    ("https://a.example/rss\nnot a url\n",
     "line 2: expected one URL, optionally followed by fulltext=auto|always|never, got 'not a url'"),
    ("# ok\nexample.com/rss\n", "line 2: not an http(s) URL: 'example.com/rss'"),
    ("https://\n", "line 1: not an http(s) URL: 'https://'"),
])
def test_malformed_text(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_text_list(text)


def test_load_names_the_file_in_errors(tmp_path):
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'missing.opml'}: cannot read feed list")):
        load_feed_list(tmp_path / "missing.opml")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n")
    with pytest.raises(ValueError, match=re.escape(f"{empty}: no feeds in this list")):
        load_feed_list(empty)
    broken = tmp_path / "broken.yaml"
    broken.write_text("- ftp://a.example/rss\n")
    with pytest.raises(ValueError, match=re.escape(f"{broken}: entry 1: not an http(s) URL")):
        load_feed_list(broken)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("https://a.example/caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=re.escape(f"{latin1}: not UTF-8 text")):
        load_feed_list(latin1)


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown feed list kind 'csv'"):
        parse_feed_list("https://a.example/rss", kind="csv")


def test_fulltext_mode_in_every_format():
    from connectors.feed_lists import parse_opml, parse_text_list, parse_yaml_list

    yaml_feeds = parse_yaml_list("- url: https://a.example/rss\n  fulltext: auto\n- https://b.example/rss\n"
                                 "- {url: 'https://c.example/rss', fulltext: Always}\n")
    assert [feed.fulltext for feed in yaml_feeds] == ["auto", None, "always"]
    opml_feeds = parse_opml('<opml><body><outline text="A" xmlUrl="https://a.example/rss" fullText="never"/>'
                            '<outline text="B" xmlUrl="https://b.example/rss"/></body></opml>')
    assert [feed.fulltext for feed in opml_feeds] == ["never", None]
    text_feeds = parse_text_list("https://a.example/rss fulltext=always  # a comment\nhttps://b.example/rss\n")
    assert [feed.fulltext for feed in text_feeds] == ["always", None]


@pytest.mark.parametrize("parse, text, message", [
    ("yaml", "- url: https://a.example/rss\n  fulltext: sometimes\n",
     "entry 1: fulltext must be one of auto, always, never, got 'sometimes'"),
    ("yaml", "- url: https://a.example/rss\n  fulltext: true\n",
     "entry 1: fulltext must be one of auto, always, never, got True"),
    ("opml", '<opml><body><outline xmlUrl="https://a.example/rss" fulltext="yes"/></body></opml>',
     "outline 1: fulltext must be one of auto, always, never, got 'yes'"),
    ("text", "https://a.example/rss fulltext=maybe\n",
     "line 1: fulltext must be one of auto, always, never, got 'maybe'"),
    ("text", "https://a.example/rss interval=5m\n",
     "line 1: expected one URL, optionally followed by fulltext=auto|always|never, got"
     " 'https://a.example/rss interval=5m'"),
])
def test_a_bad_fulltext_mode_says_where(parse, text, message):
    with pytest.raises(ValueError) as raised:
        parse_feed_list(text, parse)
    assert str(raised.value) == message
