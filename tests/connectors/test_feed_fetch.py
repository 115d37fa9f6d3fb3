"""Fetching against a local server: limits, redirects, conditional GET, politeness, refusals."""

import asyncio
import re
from urllib.parse import quote

import pytest

from connectors.feed_fetch import (
    USER_AGENT,
    FeedFetcher,
    FetchOptions,
    fetch_feed,
    parse_retry_after,
)
from tests.conftest import free_port
from tests.connectors.conftest import FEED_FIXTURES, LAST_MODIFIED

SMALL = FetchOptions(connect_timeout=2, read_timeout=2, total_timeout=10, max_body_bytes=256 * 1024)


def fetch(url, **kwargs):
    kwargs.setdefault("options", SMALL)
    kwargs.setdefault("allow_private", True)
    return fetch_feed(url, **kwargs)


def test_fetches_a_feed_with_an_honest_user_agent(feed_server):
    url = feed_server.url("/feeds/rss2_content_encoded.xml")
    result = fetch(url)
    assert result.ok and result.status == 200 and not result.error
    assert result.body == (FEED_FIXTURES / "rss2_content_encoded.xml").read_bytes()
    assert result.final_url == url and result.permanent_url == ""
    assert result.headers["etag"].startswith('"') and result.headers["last-modified"] == LAST_MODIFIED
    sent = feed_server.requests_for("/feeds/rss2_content_encoded.xml")[-1]
    assert sent["user-agent"] == USER_AGENT == "newsmon/0.1 (+https://github.com/newsmon/newsmon)"
    assert "application/rss+xml" in sent["accept"] and sent["accept-encoding"] == "gzip, deflate"


def test_conditional_get_sends_the_stored_validators_and_a_304_has_no_body(feed_server):
    url = feed_server.url("/feeds/atom.xml")
    first = fetch(url)
    second = fetch(url, etag=first.headers["etag"], last_modified=first.headers["last-modified"])
    assert second.status == 304 and second.not_modified and not second.ok
    assert second.body == b"" and second.error == ""
    sent = feed_server.requests_for("/feeds/atom.xml")[-1]
    assert sent["if-none-match"] == first.headers["etag"] and sent["if-modified-since"] == LAST_MODIFIED


def test_if_modified_since_alone_also_gives_304(feed_server):
    result = fetch(feed_server.url("/feeds/rss1_rdf.xml"), last_modified=LAST_MODIFIED)
    assert result.not_modified


def test_a_server_that_ignores_validators_answers_200(feed_server):
    result = fetch(feed_server.url("/plain/atom.xml"), etag='"whatever"', last_modified=LAST_MODIFIED)
    assert result.status == 200 and result.body == (FEED_FIXTURES / "atom.xml").read_bytes()


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_are_decompressed(feed_server, encoding):
    result = fetch(feed_server.url(f"/{encoding}/latin1.xml"))
    assert result.ok, result.error
    assert result.headers["content-encoding"] == encoding
    assert result.body == (FEED_FIXTURES / "latin1.xml").read_bytes()


def test_a_declared_oversized_body_is_refused(feed_server):
    result = fetch(feed_server.url("/big"))
    assert not result.ok and result.body == b""
    assert result.error == f"body over the {256 * 1024}-byte cap (Content-Length is {1024 * 1024 + 11} bytes)"


def test_an_undeclared_oversized_body_stops_at_the_cap(feed_server):
    result = fetch(feed_server.url("/big-chunked"))
    assert not result.ok and result.body == b""
    assert result.error == f"body over the {256 * 1024}-byte cap (bytes received)"


def test_a_gzip_bomb_stops_at_the_decompressed_cap(feed_server):
    assert len(feed_server.gzip_bomb) < SMALL.max_body_bytes  # small on the wire: only decompression can catch it
    result = fetch(feed_server.url("/gzip-bomb"))
    assert not result.ok and result.body == b""
    assert result.error == f"body over the {256 * 1024}-byte cap (decompressed bytes)"


def test_the_cap_also_counts_compressed_bytes(feed_server):
    options = FetchOptions(max_body_bytes=4096)
    result = fetch(feed_server.url("/gzip-bomb"), options=options)
    assert result.error == f"body over the 4096-byte cap (Content-Length is {len(feed_server.gzip_bomb)} bytes)"


def test_a_slow_server_times_out(feed_server):
    options = FetchOptions(connect_timeout=1, read_timeout=0.2, total_timeout=5)
    result = fetch(feed_server.url("/slow"), options=options)
    assert result.status == 0 and result.error == "timed out reading after 0.2 s"


def test_the_whole_fetch_has_a_deadline(feed_server):
    options = FetchOptions(connect_timeout=1, read_timeout=5, total_timeout=0.3)
    result = fetch(feed_server.url("/slow"), options=options)
    assert result.error == "timed out: the fetch took longer than 0.3 s"


def test_a_permanent_redirect_is_followed_and_reported(feed_server):
    target = feed_server.url("/feeds/atom.xml")
    result = fetch(feed_server.url("/redirect/301?to=/feeds/atom.xml"))
    assert result.ok and result.final_url == target and result.permanent_url == target
    assert result.url == feed_server.url("/redirect/301?to=/feeds/atom.xml")
    result = fetch(feed_server.url("/redirect/308?to=" + quote(target, safe="")))
    assert result.ok and result.permanent_url == target


def test_a_temporary_redirect_is_followed_but_not_remembered(feed_server):
    result = fetch(feed_server.url("/redirect/302?to=/feeds/atom.xml"))
    assert result.ok and result.final_url == feed_server.url("/feeds/atom.xml") and result.permanent_url == ""


def test_only_the_permanent_start_of_a_redirect_chain_is_remembered(feed_server):
    hop2 = "/redirect/302?to=/feeds/atom.xml"
    result = fetch(feed_server.url("/redirect/301?to=" + quote(hop2, safe="")))
    assert result.ok and result.permanent_url == feed_server.url(hop2)


def test_redirect_loops_and_long_chains_stop(feed_server):
    feed_server.queue("loop", (302, b"", {"Location": "/dynamic/loop"}))
    loop = fetch(feed_server.url("/redirect/301?to=/dynamic/loop"))
    assert not loop.ok and loop.error == f"redirect loop at {feed_server.url('/dynamic/loop')}"
    chain = "/feeds/atom.xml"
    for _ in range(3):
        chain = "/redirect/302?to=" + quote(chain, safe="")
    options = FetchOptions(max_redirects=2)
    result = fetch(feed_server.url(chain), options=options)
    assert not result.ok and result.error == "too many redirects (more than 2)"


def test_a_redirect_to_another_scheme_is_refused(feed_server):
    result = fetch(feed_server.url("/redirect/302?to=" + quote("file:///etc/passwd", safe="")))
    assert result.status == 0 and result.error == "refused: 'file:///etc/passwd' is not an http or https URL"


@pytest.mark.parametrize("url", ["ftp://ftp.example.com/feed.xml", "file:///etc/passwd", "feed://example.com/rss"])
def test_only_http_and_https(url):
    result = fetch(url)
    assert not result.ok and result.error == f"refused: {url!r} is not an http or https URL"


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:{port}/feeds/atom.xml", "refused: 127.0.0.1 is a loopback address"),
    ("http://[::1]:{port}/feeds/atom.xml", "refused: ::1 is a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a link-local address"),
    ("http://10.1.2.3/feed", "refused: 10.1.2.3 is a private address"),
    ("http://192.168.0.10:8080/feed", "refused: 192.168.0.10 is a private address"),
    ("http://0.0.0.0:{port}/feed", "refused: 0.0.0.0 is an unspecified address"),
])
def test_non_public_addresses_are_refused_by_default(feed_server, url, expected):
    before = len(feed_server.requests_for("/feeds/atom.xml"))
    result = fetch_feed(url.format(port=feed_server.port), options=SMALL)
    assert result.status == 0 and result.error == expected + " (allow_private=True to poll it)"
    assert len(feed_server.requests_for("/feeds/atom.xml")) == before


def test_a_name_is_checked_on_the_address_it_resolves_to(feed_server):
    """Checked where the connection is made, so a name cannot resolve to one address for the check
    and another for the connection (DNS rebinding)."""
    result = fetch_feed(feed_server.url("/feeds/atom.xml").replace("127.0.0.1", "localhost"), options=SMALL)
    assert re.fullmatch(r"refused: localhost resolves to (127\.0\.0\.1|::1), a loopback address"
                        r" \(allow_private=True to poll it\)", result.error), result.error
    assert fetch(feed_server.url("/feeds/atom.xml").replace("127.0.0.1", "localhost")).ok


def test_http_errors_are_results(feed_server):
    result = fetch(feed_server.url("/status/500"))
    assert result.status == 500 and result.error == "HTTP 500 Internal Server Error" and result.body == b""
    assert result.retry_after == ""  # only 429 and 503 carry one we honour
    result = fetch(feed_server.url("/status/404"))
    assert result.status == 404 and result.error == "HTTP 404 Not Found"


def test_retry_after_is_reported_on_429_and_503(feed_server):
    result = fetch(feed_server.url("/status/429?retry_after=120"))
    assert result.status == 429 and result.error == "HTTP 429 Too Many Requests" and result.retry_after == "120"
    date = "Wed, 15 May 2024 12:10:00 GMT"
    result = fetch(feed_server.url("/status/503?retry_after=" + quote(date)))
    assert result.status == 503 and result.retry_after == date


def test_parse_retry_after():
    now = 1715774400  # Wed, 15 May 2024 12:00:00 GMT
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Wed, 15 May 2024 12:10:00 GMT", now) == 600
    assert parse_retry_after("Wed, 15 May 2024 11:00:00 GMT", now) == 0  # already past
    assert parse_retry_after("99999999", now) == 7 * 24 * 3600  # capped at a week
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("", now) is None


def test_a_closed_port_is_a_connection_error():
    result = fetch(f"http://127.0.0.1:{free_port()}/feed.xml")
    assert result.status == 0 and result.error.startswith("cannot connect: ")


def test_an_unresolvable_host_is_a_connection_error():
    result = fetch("http://no-such-host.invalid/feed.xml")
    assert result.status == 0 and result.error.startswith("cannot connect: cannot resolve no-such-host.invalid")


def test_many_feeds_at_once_but_at_most_per_host_per_host(feed_server):
    feed_server.reset_concurrency()
    total = 12
    urls = [feed_server.url(f"/concurrent/{i}?until=3&total={total}") for i in range(total)]

    async def fetch_all():
        async with FeedFetcher(FetchOptions(per_host=3, max_concurrency=50), allow_private=True) as fetcher:
            return await asyncio.gather(*(fetcher.fetch(url) for url in urls))

    results = asyncio.run(fetch_all())
    assert [r.status for r in results] == [200] * total
    assert [r.body.count(b"<item>") for r in results] == [1] * total
    assert feed_server.max_in_flight == 3


def test_options_are_checked():
    with pytest.raises(ValueError, match="per_host must be positive"):
        FetchOptions(per_host=0)
    with pytest.raises(ValueError, match="max_redirects must be 0 or more"):
        FetchOptions(max_redirects=-1)
