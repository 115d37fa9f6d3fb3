"""Polling feeds end to end: the local feed server, a real Redis for feed state, and the Beam composite."""

import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from connectors.feed_fetch import FetchOptions
from connectors.feed_lists import Feed
from connectors.feed_state import all_feed_states, load_state
from connectors.feeds import FeedPoller, PollFeeds, feed_batches, newest_first, poll_feeds
from connectors.redis_streams import RedisKeys
from tests.connectors.conftest import FEED_FIXTURES
from transforms.feed_items import parse_feed
from transforms.normalize import normalize_article

NOW = 1_715_860_800  # 2024-05-16T12:00:00Z
INTERVAL = 900
OPTIONS = FetchOptions(connect_timeout=2, read_timeout=2, total_timeout=10, max_body_bytes=256 * 1024)
KEYS = RedisKeys()


def feed(feed_server, path, **kwargs):
    return Feed(feed_server.url(path), **kwargs)


def poll(feeds, redis_db, now=NOW, **kwargs):
    kwargs.setdefault("allow_private", True)
    kwargs.setdefault("options", OPTIONS)
    return poll_feeds(feeds, redis_db, KEYS, now=now, default_interval=INTERVAL, **kwargs)


def test_a_poll_returns_articles_and_stores_each_feeds_state(feed_server, redis_db):
    feeds = [feed(feed_server, "/feeds/rss2_content_encoded.xml"), feed(feed_server, "/feeds/atom.xml"),
             feed(feed_server, "/feeds/rss1_rdf.xml")]
    polled = poll(feeds, redis_db)
    assert polled.failures == []
    assert sorted(a["id"] for a in polled.articles) == sorted([
        "urn:uuid:6f1d2b1e-3c2a-4d0e-9a8f-1b2c3d4e5f60", "https://news.example.com/world/2024/05/13/eu-sanctions-lng",
        "127.0.0.1#article-88213", "tag:security.example.org,2024:post-1041", "tag:security.example.org,2024:post-1040",
        "https://arctic.example.net/2024/05/icebreaker", "https://arctic.example.net/2024/05/council"])
    assert {a["origin"] for a in polled.articles} == {f.url for f in feeds}
    assert {a["source"] for a in polled.articles} == {"Northern Dispatch – World", "Security Ledger", "Arctic Observer"}
    for f, items in zip(feeds, (3, 2, 2)):
        stored = redis_db.hgetall(KEYS.feed(f.feed_id))
        assert stored["url"] == f.url and stored["last_status"] == "200" and stored["items"] == str(items)
        assert stored["etag"].startswith('"') and stored["last_modified"] == "Wed, 15 May 2024 12:00:00 GMT"
        assert stored["health"] == "ok" and stored["failures"] == "0" and stored["last_error"] == ""
        assert stored["next_poll"] == str(NOW + INTERVAL) and stored["last_poll"] == str(NOW)
        assert polled.stats[f.feed_id]["outcome"] == "ok" and polled.stats[f.feed_id]["items"] == items


def test_a_feed_is_not_fetched_again_before_it_is_due(feed_server, redis_db):
    atom = feed(feed_server, "/feeds/atom.xml?not-due")
    poll([atom], redis_db)
    polled = poll([atom], redis_db, now=NOW + INTERVAL - 1)
    assert polled.articles == [] and polled.failures == []
    assert polled.stats[atom.feed_id]["outcome"] == "not due"
    assert len(feed_server.requests_for("/feeds/atom.xml?not-due")) == 1


def test_a_due_feed_sends_its_validators_and_a_304_parses_nothing(feed_server, redis_db):
    rdf = feed(feed_server, "/feeds/rss1_rdf.xml")
    first = poll([rdf], redis_db)
    etag = redis_db.hget(KEYS.feed(rdf.feed_id), "etag")
    polled = poll([rdf], redis_db, now=NOW + INTERVAL)
    assert len(first.articles) == 2 and polled.articles == [] and polled.failures == []
    assert polled.stats[rdf.feed_id]["outcome"] == "not modified"
    assert feed_server.requests_for("/feeds/rss1_rdf.xml")[-1]["if-none-match"] == etag
    stored = redis_db.hgetall(KEYS.feed(rdf.feed_id))
    assert stored["last_status"] == "304" and stored["items"] == "2" and stored["etag"] == etag
    assert stored["next_poll"] == str(NOW + 2 * INTERVAL)


def test_a_server_that_ignores_conditional_gets_makes_no_new_ids(feed_server, redis_db):
    plain = feed(feed_server, "/plain/relative_links.xml")
    first = poll([plain], redis_db)
    second = poll([plain], redis_db, now=NOW + INTERVAL)
    assert second.stats[plain.feed_id]["outcome"] == "ok"
    assert [a["id"] for a in first.articles] == [a["id"] for a in second.articles]
    assert ([normalize_article(a)["id"] for a in first.articles]
            == [normalize_article(a)["id"] for a in second.articles])
    assert len({normalize_article(a)["id"] for a in first.articles}) == 6


def test_a_failing_feed_is_recorded_backs_off_and_dies(feed_server, redis_db):
    broken = feed(feed_server, "/status/500")
    now = NOW
    for failures, health, wait in [(1, "failing", 2 * INTERVAL), (2, "failing", 4 * INTERVAL),
                                   (3, "dead", 8 * INTERVAL)]:
        polled = poll([broken], redis_db, now=now, dead_after=3)
        assert polled.articles == []
        assert [(f["stage"], f["origin"], f["error"]) for f in polled.failures] == [
            ("fetch", broken.url, "HTTP 500 Internal Server Error")]
        stored = redis_db.hgetall(KEYS.feed(broken.feed_id))
        assert (stored["failures"], stored["health"], stored["last_status"]) == (str(failures), health, "500")
        assert stored["last_error"] == "HTTP 500 Internal Server Error"
        assert stored["next_poll"] == str(now + wait)
        assert poll([broken], redis_db, now=now + wait - 1).stats[broken.feed_id]["outcome"] == "not due"
        now += wait


def test_retry_after_is_honoured_and_a_429_is_backoff_not_failure(feed_server, redis_db):
    limited = feed(feed_server, "/status/429?retry_after=7200")
    now = NOW
    for _ in range(3):
        polled = poll([limited], redis_db, now=now, dead_after=3)
        assert polled.failures == [] and polled.stats[limited.feed_id]["outcome"] == "throttled"
        state = load_state(redis_db, KEYS, limited.feed_id)
        assert state.next_poll == now + 7200
        now = state.next_poll
    assert (state.failures, state.health, state.throttled) == (0, "throttled", 3)  # never "dead"
    assert "429" in state.warning
    # Without Retry-After, a 429 backs off exponentially.
    bare = feed(feed_server, "/status/429")
    waits = []
    now = NOW
    for _ in range(3):
        poll([bare], redis_db, now=now)
        waits.append(load_state(redis_db, KEYS, bare.feed_id).next_poll - now)
        now += waits[-1]
    assert waits == [2 * INTERVAL, 4 * INTERVAL, 8 * INTERVAL]
    unavailable = feed(feed_server, "/status/503?retry_after=Thu,%2016%20May%202024%2015:00:00%20GMT")
    poll([unavailable], redis_db)
    assert load_state(redis_db, KEYS, unavailable.feed_id).next_poll == NOW + 3 * 3600


def test_a_feed_recovers(feed_server, redis_db):
    atom = (FEED_FIXTURES / "atom.xml").read_bytes()
    feed_server.queue("recovers", (503, b"busy", {}), (200, atom, {"Content-Type": "application/atom+xml"}))
    flaky = feed(feed_server, "/dynamic/recovers")
    assert poll([flaky], redis_db).stats[flaky.feed_id]["health"] == "failing"
    polled = poll([flaky], redis_db, now=NOW + 2 * INTERVAL)
    assert len(polled.articles) == 2 and polled.failures == []
    state = load_state(redis_db, KEYS, flaky.feed_id)
    assert (state.failures, state.health, state.last_error, state.items) == (0, "ok", "", 2)


def test_a_permanent_redirect_is_remembered_and_used(feed_server, redis_db):
    moved = feed(feed_server, "/redirect/301?to=/feeds/cdata_entities.xml")
    polled = poll([moved], redis_db)
    assert len(polled.articles) == 2 and {a["origin"] for a in polled.articles} == {moved.url}
    assert load_state(redis_db, KEYS, moved.feed_id).permanent_url == feed_server.url("/feeds/cdata_entities.xml")
    again = poll([moved], redis_db, now=NOW + INTERVAL)
    assert again.stats[moved.feed_id]["outcome"] == "not modified"
    assert again.stats[moved.feed_id]["fetched"] == feed_server.url("/feeds/cdata_entities.xml")
    assert len(feed_server.requests_for("/redirect/301?to=/feeds/cdata_entities.xml")) == 1


def test_one_bad_feed_never_stops_the_others(feed_server, redis_db):
    good = feed(feed_server, "/feeds/latin1.xml")
    bad = {
        feed(feed_server, "/feeds/html_page.html"): "not a feed: got an HTML page (the page links to the feed "
                                                    f"{feed_server.url('/world/rss.xml')})",
        feed(feed_server, "/feeds/truncated_head.xml"): "the feed gave no entries: malformed XML: unclosed token "
                                                        "at line 6",
        feed(feed_server, "/slow"): "timed out reading after 0.2 s",
        feed(feed_server, "/gzip-bomb"): f"body over the {256 * 1024}-byte cap (decompressed bytes)",
        feed(feed_server, "/status/404"): "HTTP 404 Not Found",
        Feed("ftp://ftp.example.com/feed.xml"): "refused: 'ftp://ftp.example.com/feed.xml' is not an http or https URL",
    }
    options = FetchOptions(connect_timeout=2, read_timeout=0.2, total_timeout=10, max_body_bytes=256 * 1024)
    polled = poll([*bad, good], redis_db, options=options)
    assert [a["title"] for a in polled.articles] == ["Sécurité : la Suède renforce sa présence à Gotland",
                                                     "Größere Übung in der Ostsee, Dänemark beteiligt"]
    assert sorted((f["origin"], f["error"]) for f in polled.failures) == sorted(
        (f.url, error) for f, error in bad.items())
    parse_failures = {f["origin"] for f in polled.failures if f["stage"] == "parse"}
    assert parse_failures == {feed_server.url("/feeds/html_page.html"), feed_server.url("/feeds/truncated_head.xml")}
    for f, error in bad.items():
        state = load_state(redis_db, KEYS, f.feed_id)
        assert (state.health, state.failures, state.last_error) == ("failing", 1, error)
    assert load_state(redis_db, KEYS, good.feed_id).health == "ok"


def test_private_addresses_are_refused_unless_allowed(feed_server, redis_db):
    local = feed(feed_server, "/feeds/atom.xml?refused")
    polled = poll([local], redis_db, allow_private=False)
    assert polled.articles == []
    error = "refused: 127.0.0.1 is a loopback address (allow_private=True to poll it)"
    assert [(f["stage"], f["error"]) for f in polled.failures] == [("fetch", error)]
    assert load_state(redis_db, KEYS, local.feed_id).last_error == error
    assert feed_server.requests_for("/feeds/atom.xml?refused") == []


def test_force_polls_feeds_that_are_not_due(feed_server, redis_db):
    atom = feed(feed_server, "/plain/atom.xml")
    poll([atom], redis_db)
    assert len(poll([atom], redis_db, now=NOW + 1, force=True).articles) == 2


def test_force_before_polls_each_feed_not_polled_since_once_then_keeps_its_schedule(feed_server, redis_db):
    atom = feed(feed_server, "/plain/atom.xml?force-before")
    poll([atom], redis_db)  # polled at NOW: next due at NOW + INTERVAL
    with FeedPoller(redis_db, KEYS, allow_private=True, options=OPTIONS, default_interval=INTERVAL,
                    force_before=NOW + 10) as poller:
        due, _ = poller.due([atom], now=NOW + 20)
        assert [f.url for f, _ in due] == [atom.url]  # not polled since NOW + 10: due whatever its schedule
        poller.start(due, now=NOW + 20)
        assert [p.stat["outcome"] for p in poller.finished()] == ["ok"]
        assert poller.due([atom], now=NOW + 30) == ([], {atom.feed_id: {
            "url": atom.url, "outcome": "not due", "next_poll": NOW + 20 + INTERVAL, "health": "ok"}})
    assert len(feed_server.requests_for("/plain/atom.xml?force-before")) == 2


def test_the_list_interval_overrides_the_default(feed_server, redis_db):
    hourly = feed(feed_server, "/feeds/atom.xml?hourly", interval=3600)
    poll([hourly], redis_db)
    assert load_state(redis_db, KEYS, hourly.feed_id).next_poll == NOW + 3600


def test_feeds_status_lists_every_polled_feed(feed_server, redis_db):
    feeds = [feed(feed_server, "/feeds/atom.xml"), feed(feed_server, "/status/500")]
    poll(feeds, redis_db)
    states = {s.url: s for s in all_feed_states(redis_db, KEYS)}
    assert set(states) == {f.url for f in feeds}
    assert states[feeds[0].url].health == "ok" and states[feeds[1].url].health == "failing"


def test_feed_batches_keep_a_hosts_feeds_together():
    feeds = ([Feed(f"https://a.example/{i}") for i in range(3)] + [Feed(f"https://b.example/{i}") for i in range(3)]
             + [Feed("https://c.example/0"), Feed("https://a.example/0")])
    batches = feed_batches(feeds, size=4)
    assert [[f.url for f in batch] for batch in batches] == [
        ["https://a.example/0", "https://a.example/1", "https://a.example/2"],
        ["https://b.example/0", "https://b.example/1", "https://b.example/2", "https://c.example/0"]]


def test_poll_feeds_composite(feed_server, redis_url, redis_db):
    feeds = [feed(feed_server, "/feeds/atom.xml?beam"), feed(feed_server, "/feeds/html_page.html?beam")]
    with TestPipeline(runner=FnApiRunner()) as p:
        polled = p | PollFeeds(feeds, redis_url, allow_private=True, options=OPTIONS)
        assert_that(polled.articles | beam.Map(lambda a: a["id"]),
                    equal_to(["tag:security.example.org,2024:post-1041", "tag:security.example.org,2024:post-1040"]),
                    label="Articles")
        assert_that(polled.failed | beam.Map(lambda f: (f["stage"], f["error"][:32])),
                    equal_to([("parse", "not a feed: got an HTML page (th")]), label="Failures")
    assert redis_db.hget(KEYS.feed(feeds[0].feed_id), "health") == "ok"
    assert redis_db.hget(KEYS.feed(feeds[1].feed_id), "health") == "failing"


def test_poll_feeds_reads_a_feed_list_and_checks_its_arguments(tmp_path, redis_url):
    listed = tmp_path / "feeds.txt"
    listed.write_text("https://a.example/rss\nhttps://b.example/rss\n")
    assert [f.url for f in PollFeeds(listed, redis_url).feeds] == ["https://a.example/rss", "https://b.example/rss"]
    with pytest.raises(ValueError, match="at least one feed"):
        PollFeeds([], redis_url)
    with pytest.raises(ValueError, match="needs a Redis URL"):
        PollFeeds([Feed("https://a.example/rss")], "")
    with pytest.raises(ValueError, match="takes Feed objects"):
        PollFeeds(["https://a.example/rss"], redis_url)


def test_a_redirect_target_that_keeps_failing_is_dropped_for_the_listed_url(feed_server, redis_db):
    atom = (FEED_FIXTURES / "atom.xml").read_bytes()
    target = feed_server.url("/dynamic/new-home")
    feed_server.queue("old-home", (301, b"", {"Location": target}),
                      (200, atom, {"Content-Type": "application/atom+xml"}))
    feed_server.queue("new-home", (200, atom, {"Content-Type": "application/atom+xml"}), (500, b"gone", {}))
    listed = feed(feed_server, "/dynamic/old-home")
    poll([listed], redis_db)
    assert load_state(redis_db, KEYS, listed.feed_id).permanent_url == target
    now = NOW
    for failures in (1, 2, 3):
        now = max(now + 1, load_state(redis_db, KEYS, listed.feed_id).next_poll)
        polled = poll([listed], redis_db, now=now)
        assert polled.stats[listed.feed_id]["fetched"] == target
        state = load_state(redis_db, KEYS, listed.feed_id)
        assert state.failures == failures
    assert state.permanent_url == "" and "failed 3 times in a row" in state.warning
    assert state.next_poll == now + INTERVAL  # the listed URL is tried on the feed's interval, not after backoff
    polled = poll([listed], redis_db, now=state.next_poll)
    assert polled.stats[listed.feed_id]["fetched"] == listed.url and polled.stats[listed.feed_id]["outcome"] == "ok"
    assert load_state(redis_db, KEYS, listed.feed_id).health == "ok"
    assert len(feed_server.requests_for("/dynamic/old-home")) == 2


def _big_feed(items):
    entries = "".join(
        f"<item><guid>urn:big:{i}</guid><title>Item {i}</title>"
        f"<pubDate>{formatdate(1_715_000_000 + (i * 7919 % items) * 60, usegmt=True)}</pubDate></item>"
        for i in range(items))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{entries}</channel></rss>'.encode()


def test_a_fetch_takes_at_most_max_items_the_newest_first(feed_server, redis_db):
    feed_server.queue("big", (200, _big_feed(1200), {"Content-Type": "application/rss+xml"}))
    big = feed(feed_server, "/dynamic/big")
    options = FetchOptions(connect_timeout=2, read_timeout=2, total_timeout=10, max_items=100)
    polled = poll([big], redis_db, options=options, verify_processed=True)
    assert len(polled.articles) == 100
    published = [a["published"] for a in polled.articles]
    assert published == sorted(published, reverse=True)
    newest_all = sorted((a["published"] for a in parse_feed(_big_feed(1200), feed_url=big.url,
                                                            fetched_at=NOW).articles), reverse=True)[:100]
    assert published == newest_all
    assert polled.stats[big.feed_id]["capped_from"] == 1200
    state = load_state(redis_db, KEYS, big.feed_id)
    assert (state.items, state.capped_from) == (100, 1200)
    assert len(state.pending.split(",")) == 100  # the state stays small too


def test_newest_first_keeps_undated_items_after_dated_ones():
    articles = [{"id": "u", "published": "2024-05-16T12:00:00Z", "published_estimated": True},
                {"id": "old", "published": "2024-05-01T00:00:00Z"}, {"id": "new", "published": "2024-05-10T00:00:00Z"}]
    assert [a["id"] for a in newest_first(articles, 2)] == ["new", "old"]
    assert newest_first(articles, 5) == articles


class TrickleServer:
    """One feed sent at one byte a second (until released), and one good feed, on 127.0.0.1."""

    def __init__(self):
        self.release = threading.Event()
        self.trickling = threading.Event()
        self.trickle_done = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - the name http.server calls
                body = (FEED_FIXTURES / "atom.xml").read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path.startswith("/slow"):
                    server.trickling.set()
                    try:
                        for byte in body:
                            if server.release.wait(1.0):
                                break
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                    except OSError:
                        pass
                    finally:
                        server.trickle_done.set()
                        self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def trickle_server():
    server = TrickleServer()
    yield server
    server.close()


def test_a_feed_trickling_one_byte_a_second_holds_back_no_other(trickle_server, redis_db):
    slow, good = Feed(trickle_server.base + "/slow.xml"), Feed(trickle_server.base + "/good.xml")
    options = FetchOptions(connect_timeout=2, read_timeout=5, total_timeout=120)
    with FeedPoller(redis_db, KEYS, allow_private=True, options=options) as poller:
        due, _ = poller.due([slow, good])
        poller.start(due)
        first = next(poller.finished(timeout=30))  # handed over as soon as it is done
        assert first.feed.url == good.url and len(first.articles) == 2
        assert poller.in_flight == 1 and not trickle_server.trickle_done.is_set()
        # Its state is saved at once; the slow feed holds a lease so no other tick starts it again.
        assert load_state(redis_db, KEYS, good.feed_id).health == "ok"
        assert poller.due([slow, good])[0] == []
