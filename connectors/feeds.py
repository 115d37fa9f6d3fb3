"""PollFeeds: articles from RSS, Atom and RDF feeds, each due feed polled once.

For every feed whose ``next_poll`` has come (see connectors.feed_state), one
conditional GET (connectors.feed_fetch), the body parsed into raw articles
(transforms.feed_items), and the feed's state written back to Redis:
validators, health, and when to poll next (the feed's interval; after a
failure, exponential backoff, and never before the server's Retry-After).

Feeds are fetched concurrently by a FeedPoller, on its own event loop in a
background thread, and each feed's articles are handed over as soon as that
feed is done: a feed trickling in at one byte a second delays no other. In the
monitor each tick starts the feeds that are due (a feed still being fetched
is not started again; a lease in its state keeps other workers off it too)
and hands over, within about a second, every feed finished since the last
tick; one still running is handed over by a later tick. (A tick must end well
before the next one is due: on Beam's local runner the writes of a bundle
happen when it ends, and a bundle ends only when the impulse has to wait.)

A feed that fails is a failure record and a failing state, never an exception:
one bad feed does not stop the others. The same item polled twice has the same
id (GUID, else canonical link, else a hash of title and text), so a server that
ignores conditional GETs makes no duplicates past the idempotent Redis sink.
A fetch gives at most ``FetchOptions.max_items`` items, the newest first; the
feed's state keeps how many it offered (``newsmon feeds status`` shows it).
Items of a feed listed with ``fulltext: auto|always|never`` carry that mode
(``fulltext``) to FetchFullText (connectors/pages.py), which fetches their pages.

    polled = poll_feeds(load_feed_list("seeds/feeds.opml"), redis_client(url), RedisKeys())
    polled.articles, polled.failures, polled.stats["3f2a9c0d1e4b"]
    -> [...], [...], {"url": "https://…", "outcome": "ok", "status": 200, "items": 25, …}

    p | PollFeeds("seeds/feeds.opml", redis_url)  ->  {"articles": …, "failed": …}

State is saved as soon as a feed's poll ends, before its articles reach the
sink. With ``verify_processed`` (the monitor, ``newsmon poll``), the state
also keeps the ids of the items of the last full fetch; if any of them has no
"processed" marker yet (the run stopped before the sink wrote it), the next
poll sends no validators and takes the whole feed again, so a stop between
poll and sink loses nothing.

``PollFeeds(..., every=SECONDS)`` is the unbounded version: a periodic impulse
ticks every few seconds and each tick polls the feeds that are due. With
``max_cycles=N`` it starts feeds in N ticks at most (a poll cycle: a tick that
found feeds due), then, once they are handed over, sets ``stop_key``.
"""

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from connectors.feed_fetch import FeedFetcher, FetchOptions
from connectors.feed_lists import Feed, load_feed_list
from connectors.feed_state import (
    DEAD_AFTER,
    DEFAULT_INTERVAL,
    DEFAULT_LEASE_SECONDS,
    FeedShare,
    claim_due,
    feed_group,
    load_states,
    record_poll,
)
from connectors.redis_connection import call_with_retry, redis_client
from connectors.redis_streams import RedisKeys
from transforms.deadletter import FAILED, failure
from transforms.feed_items import ParsedFeed, parse_feed
from transforms.normalize import article_id

__all__ = ["FeedPoller", "PollFeeds", "PollResult", "feed_batches", "newest_first", "poll_feeds"]

_log = logging.getLogger(__name__)
_BATCH_FEEDS = 200
# How long a monitor tick waits for feeds in flight before handing over what is done: well under the
# tick. On Beam's local runner a bundle ends only when the impulse has to wait for its next tick, and
# the sink writes (and BatchElements lets go) when a bundle ends: a tick that takes as long as the
# interval keeps one bundle open for ever, and nothing is written.
HANDOVER_SECONDS = 1.0
_HANDOVER_SHARE = 0.25
_LEASE_MARGIN = 30  # seconds past the fetch deadline before a feed in flight is due again elsewhere
_OUTCOMES = ("ok", "not modified", "failed", "throttled", "not due")


class PollResult(NamedTuple):
    """Raw articles, failure records, and per feed id a dict of what its poll did."""

    articles: list
    failures: list
    stats: dict


class FeedPoll(NamedTuple):
    """One feed's poll: its raw articles, failure records and what it did (``stat``)."""

    feed: Feed
    articles: list
    failures: list
    stat: dict


def _unique_feeds(feeds):
    unique = {}
    for feed in feeds:
        unique.setdefault(feed.feed_id, feed)
    return list(unique.values())


def newest_first(articles, limit):
    """At most ``limit`` articles, the newest (by published date) first; undated ones (their date is
    an estimate) after the dated ones, in feed order."""
    if len(articles) <= limit:
        return articles
    dated = [a for a in articles if a.get("published") and not a.get("published_estimated")]
    undated = [a for a in articles if not (a.get("published") and not a.get("published_estimated"))]
    dated.sort(key=lambda a: a["published"], reverse=True)  # ISO UTC strings sort as times
    return (dated + undated)[:limit]


def _poll_outcome(feed, state, result, *, now, interval, dead_after, max_items):
    """``(articles, failures, stat, new state)`` of one fetched feed: the body parsed, the cap
    applied, the state recorded. Runs in the thread that hands the feed over (where Beam counts)."""
    url = result.url
    stat = {"url": feed.url, "fetched": url, "status": result.status, "items": 0, "error": "", "warning": ""}
    articles, failures = [], []
    throttled = result.status == 429
    if result.ok:
        try:
            parsed = parse_feed(result.body, feed_url=feed.url, fetched_at=now, headers=result.headers,
                                final_url=result.final_url, list_title=feed.title)
        except Exception as error:  # noqa: BLE001 - a parser bug on one feed must not stop the others
            message = f"parser crashed: {type(error).__name__}: {error}"
            parsed = ParsedFeed(error=message, failures=[failure("parse", message, origin=feed.url)])
        offered = len(parsed.articles)
        articles, failures = newest_first(parsed.articles, max_items), parsed.failures
        if feed.fulltext:  # the feed's own full-text mode (connectors/pages.py); else the run's
            for article in articles:
                article["fulltext"] = feed.fulltext
        new_state = record_poll(state, feed.url, result, now=now, interval=interval, dead_after=dead_after,
                                items=len(articles), title=parsed.title, parse_error=parsed.error,
                                warning=parsed.warning, offered=offered)
        stat.update(items=len(articles), error=parsed.error, warning=parsed.warning)
        if offered > len(articles):
            stat["capped_from"] = offered
    else:
        if not result.not_modified and not throttled:
            failures = [failure("fetch", result.error, origin=feed.url)]
        new_state = record_poll(state, feed.url, result, now=now, interval=interval, dead_after=dead_after)
        stat["error"] = "" if throttled else result.error
        stat["warning"] = new_state.warning if throttled else ""
    stat["outcome"] = ("throttled" if throttled else "failed" if stat["error"]
                       else "not modified" if result.not_modified else "ok")
    stat.update(health=new_state.health, failures=new_state.failures, next_poll=new_state.next_poll,
                permanent_url=result.permanent_url)
    return articles, failures, stat, new_state


def _unprocessed_feeds(client, keys, states):
    """Ids of feeds whose last full fetch has items without a processed marker."""
    pending = {feed_id: state.pending.split(",") for feed_id, state in states.items() if state.pending}
    if not pending:
        return set()
    pipe = client.pipeline(transaction=False)
    for ids in pending.values():
        pipe.exists(*(keys.processed(article_id) for article_id in ids))
    return {feed_id for (feed_id, ids), found in zip(pending.items(), pipe.execute()) if found < len(ids)}


def _processed_ids(articles):
    return ",".join(article_id(article, "", "") for article in articles)


class FeedPoller:
    """Polls feeds concurrently on a background event loop; each feed's result is handed over
    as soon as it is done.

        poller = FeedPoller(client, RedisKeys(), options=FetchOptions())
        due, not_due = poller.due(feeds)          # loads their states
        poller.start(due)                         # fetching starts in the background
        for poll in poller.finished(timeout=1):   # FeedPoll of each feed done within the second
            ...
        poller.close()

    A feed being fetched is not started again. Its state is saved (and, with
    ``stats_key``, the run totals counted) as soon as its poll ends.

    ``share=(group, member, lease seconds)``: this poller is one member of a group of
    monitors sharing the feed list (connectors/feed_state.py FeedShare): it heartbeats in
    the background, looks only at its share of the feeds and claims each due time atomically.
    """

    def __init__(self, client, keys, *, allow_private=False, options=None, default_interval=DEFAULT_INTERVAL,
                 dead_after=DEAD_AFTER, force=False, verify_processed=False, stats_key=None, force_before=None,
                 share=None):
        self.client = client
        self.keys = keys
        self.options = options or FetchOptions()
        self._allow_private = allow_private
        self._default_interval = default_interval
        self._dead_after = dead_after
        self._force = force
        self._force_before = force_before
        self._verify_processed = verify_processed
        self._stats_key = stats_key
        self._in_flight = {}  # feed id -> (feed, state, poll time, concurrent.futures.Future of its FetchResult)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="newsmon-feeds", daemon=True)
        self._thread.start()
        self._fetcher = self._run(self._open())
        self._share = None
        if share is not None:
            self._share = FeedShare(client, keys.prefix, *share)
            self._share.heartbeat()
            self._heartbeat = asyncio.run_coroutine_threadsafe(self._beat(), self._loop)

    async def _beat(self):
        """Renew the share's lease every third of it, whatever the pipeline is doing meanwhile."""
        while True:
            await asyncio.sleep(self._share.lease / 3)
            try:
                await self._loop.run_in_executor(None, self._share.heartbeat)
            except Exception as error:  # noqa: BLE001 - Redis down: the next beat tries again
                _log.debug("newsmon: feed share heartbeat failed: %s", error)

    def _run(self, coroutine, timeout=None):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _open(self):
        return await FeedFetcher(self.options, allow_private=self._allow_private).__aenter__()

    @property
    def in_flight(self):
        return len(self._in_flight)

    def due(self, feeds, now=None):
        """``(due [(feed, state)], {feed id: stat} of the feeds not due)``; feeds in flight are neither."""
        now = time.time() if now is None else now
        feeds = [feed for feed in _unique_feeds(feeds) if feed.feed_id not in self._in_flight]
        if self._share is not None:  # another member's feeds are neither due nor not due here
            mine = set(self._share.mine([feed.feed_id for feed in feeds], now))
            feeds = [feed for feed in feeds if feed.feed_id in mine]
        states = load_states(self.client, self.keys, [feed.feed_id for feed in feeds])
        due = [feed for feed in feeds if self._forced(states[feed.feed_id]) or states[feed.feed_id].due(now)]
        if self._verify_processed and due:
            for feed_id in _unprocessed_feeds(self.client, self.keys, {f.feed_id: states[f.feed_id] for f in due}):
                states[feed_id] = dataclasses.replace(states[feed_id], etag="", last_modified="")
        due_ids = {feed.feed_id for feed in due}
        not_due = {feed.feed_id: {"url": feed.url, "outcome": "not due", "next_poll": states[feed.feed_id].next_poll,
                                  "health": states[feed.feed_id].health}
                   for feed in feeds if feed.feed_id not in due_ids}
        return [(feed, states[feed.feed_id]) for feed in due], not_due

    def _forced(self, state):
        """Due whatever its schedule: ``force``, or (``force_before``, epoch seconds) not polled since then."""
        return self._force or (self._force_before is not None and state.last_poll < self._force_before)

    def start(self, due, now=None):
        """Start fetching ``[(feed, state)]`` (from ``due``) in the background."""
        if not due:
            return
        now = time.time() if now is None else now
        lease = int(now + self.options.total_timeout + _LEASE_MARGIN)
        if self._share is not None:
            # Atomically, and only if still due: a member that just took the feed over may have.
            # A forced feed (--force) is fetched by its owner whatever its due time.
            forced = [(feed, state) for feed, state in due if self._forced(state)]
            due = forced + claim_due(self.client, self.keys, [(f, s) for f, s in due if not self._forced(s)],
                                     now=now, lease_until=lease)
        pipe = self.client.pipeline(transaction=False)
        for feed, state in due:
            # The lease: until this poll ends (or the deadline passes), the feed is not due elsewhere.
            pipe.hset(self.keys.feed(feed.feed_id), mapping={"url": feed.url, "next_poll": max(lease, state.next_poll)})
        pipe.execute()
        for feed, state in due:
            # Only the fetch runs on the event loop (waiting is all it does); parsing and recording
            # happen in the thread that takes the feed over, where Beam's counters count.
            url = state.permanent_url or feed.url
            coroutine = self._fetcher.fetch(url, etag=state.etag, last_modified=state.last_modified)
            future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
            self._in_flight[feed.feed_id] = (feed, state, now, future)

    def finished(self, timeout=None):
        """FeedPoll of each feed in flight as it ends, for up to ``timeout`` seconds (None: until all end)."""
        futures = {in_flight[-1]: feed_id for feed_id, in_flight in self._in_flight.items()}
        try:
            for future in concurrent.futures.as_completed(futures, timeout=timeout):
                feed, state, now, _ = self._in_flight.pop(futures[future])
                yield self._hand_over(feed, *self._outcome(feed, state, now, future))
        except concurrent.futures.TimeoutError:
            return

    def _outcome(self, feed, state, now, future):
        interval = feed.interval or self._default_interval
        try:
            return _poll_outcome(feed, state, future.result(), now=now, interval=interval,
                                 dead_after=self._dead_after, max_items=self.options.max_items)
        except Exception as error:  # noqa: BLE001 - one feed's surprise must not stop the others
            message = f"unexpected {type(error).__name__}: {error}"
            new_state = dataclasses.replace(state, url=feed.url, last_error=message[:500],
                                            next_poll=int(now + interval), last_poll=int(now))
            stat = {"url": feed.url, "outcome": "failed", "error": message, "items": 0, "health": state.health}
            return [], [failure("fetch", message, origin=feed.url)], stat, new_state

    def _hand_over(self, feed, articles, failures, stat, new_state):
        if self._verify_processed and stat["outcome"] == "ok":
            new_state.pending = _processed_ids(articles)
        if self._share is not None:
            new_state.poller = self._share.member
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.keys.feed(new_state.feed_id), mapping=new_state.to_hash())
        if self._stats_key:
            pipe.hincrby(self._stats_key, "feeds_polled", 1)
            pipe.hincrby(self._stats_key, "feed_failures", 1 if stat["outcome"] == "failed" else 0)
            pipe.hincrby(self._stats_key, "items", len(articles))
            pipe.expire(self._stats_key, 7 * 24 * 3600)
        pipe.execute()
        return FeedPoll(feed, articles, failures, stat)

    def close(self):
        """Stop: fetches still in flight are dropped (their feeds are due again after the lease)."""
        for *_, future in self._in_flight.values():
            future.cancel()
        self._in_flight.clear()
        if self._share is not None:
            self._heartbeat.cancel()
            try:
                self._share.leave()  # a clean stop: the others take this share over now
            except Exception:  # noqa: BLE001 - Redis down: the lease runs out instead
                pass
            self._share = None
        if self._loop.is_running():
            try:
                self._run(self._fetcher.__aexit__(None, None, None), timeout=5)
            except Exception:  # noqa: BLE001 - closing a pool that is already gone
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def poll_feeds(feeds, client, keys, *, allow_private=False, now=None, options=None,
               default_interval=DEFAULT_INTERVAL, dead_after=DEAD_AFTER, force=False, verify_processed=False):
    """Poll every due feed once, concurrently; returns a PollResult.

    ``client`` is a Redis client and ``keys`` a RedisKeys (feed state lives at ``keys.feed(id)``);
    ``now`` (epoch seconds) decides which feeds are due and dates undated items; ``force`` polls
    feeds that are not due yet (backoff and Retry-After included); ``options`` are FetchOptions.
    """
    now = time.time() if now is None else now
    with FeedPoller(client, keys, allow_private=allow_private, options=options, default_interval=default_interval,
                    dead_after=dead_after, force=force, verify_processed=verify_processed) as poller:
        due, stats = poller.due(feeds, now)
        poller.start(due, now)
        articles, failures = [], []
        for polled in poller.finished():
            articles.extend(polled.articles)
            failures.extend(polled.failures)
            stats[polled.feed.feed_id] = polled.stat
    return PollResult(articles, failures, stats)


def feed_batches(feeds, size=_BATCH_FEEDS):
    """Feeds in batches of about ``size``, all feeds of one host in the same batch, so the
    per-host limit of one poller holds for the whole pipeline."""
    by_host = {}
    for feed in _unique_feeds(feeds):
        by_host.setdefault(feed.host, []).append(feed)
    batches, current = [], []
    for host in sorted(by_host):
        if current and len(current) + len(by_host[host]) > size:
            batches.append(current)
            current = []
        current.extend(by_host[host])
    if current:
        batches.append(current)
    return batches


_CLAIM_CYCLE_SCRIPT = """
-- KEYS[1]: the set of poll cycles (tick ids) started so far. ARGV: this tick's id, the most cycles allowed.
-- 1 if this tick may start feeds (it is one of the first ARGV[2] cycles), else 0.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], 604800)
return 1
"""


def cycles_key(stop_key):
    """The set of poll cycles a run has started (``max_cycles``)."""
    return f"{stop_key}:cycles"


class _PollFeedsFn(beam.DoFn):
    """Polls one batch of feeds per ``(tick, batch)``; articles to the main output, failure records
    to ``failed``. Bounded (``handover_seconds`` None): waits for the whole batch. Unbounded: hands
    over what is done within ``handover_seconds``, the rest on a later tick."""

    def __init__(self, redis_url, prefix, allow_private, options, poll_args, stats_key, stop_key, retry_seconds,
                 handover_seconds=None, max_cycles=None):
        self._redis_url = redis_url
        self._prefix = prefix
        self._allow_private = allow_private
        self._options = options
        self._poll_args = poll_args
        self._stats_key = stats_key
        self._stop_key = stop_key
        self._retry_seconds = retry_seconds
        self._handover_seconds = handover_seconds
        self._max_cycles = max_cycles

    def setup(self):
        self._client = redis_client(self._redis_url)
        self._keys = RedisKeys(self._prefix)
        self._poller = FeedPoller(self._client, self._keys, allow_private=self._allow_private, options=self._options,
                                  stats_key=self._stats_key, **self._poll_args)
        self._read = Metrics.counter("newsmon", "articles_read")
        self._outcomes = {outcome: Metrics.counter("feeds", outcome.replace(" ", "_")) for outcome in _OUTCOMES}

    def _retrying(self, operation):
        return call_with_retry(operation, url=self._redis_url, retry_seconds=self._retry_seconds)

    def _claim_cycle(self, tick):
        return bool(self._client.eval(_CLAIM_CYCLE_SCRIPT, 1, cycles_key(self._stop_key), str(tick),
                                      self._max_cycles))

    def _start(self, tick, batch):
        """Start the due feeds of the batch; the stats of those not due."""
        if self._stop_key and self._client.exists(self._stop_key):
            return {}
        due, not_due = self._poller.due(batch)
        if self._max_cycles is not None:
            if due and not self._claim_cycle(tick):
                due = []
            if (not due and not self._poller.in_flight
                    and self._client.scard(cycles_key(self._stop_key)) >= self._max_cycles):
                # The last cycle is handed over (its writes are done with the bundle that took it): stop.
                self._client.set(self._stop_key, "1", ex=24 * 3600)
        self._poller.start(due)
        return not_due

    def process(self, element):
        tick, batch = element
        not_due = self._retrying(lambda: self._start(tick, batch))
        for stat in not_due.values():
            self._outcomes[stat["outcome"]].inc()
        polls = self._poller.finished(timeout=self._handover_seconds)
        while True:
            polled = self._retrying(lambda: next(polls, None))
            if polled is None:
                return
            self._outcomes[polled.stat["outcome"]].inc()
            if polled.stat.get("capped_from"):
                _log.warning("newsmon: %s offered %d items; took the newest %d", polled.feed.url,
                             polled.stat["capped_from"], len(polled.articles))
            for failed in polled.failures:
                yield beam.pvalue.TaggedOutput(FAILED, failed)
            self._read.inc(len(polled.articles))
            yield from polled.articles

    def teardown(self):
        poller = getattr(self, "_poller", None)
        if poller is not None:
            poller.close()
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()


class PollFeeds(beam.PTransform):
    """Each due feed of a list polled; outputs ``articles`` (raw article dicts) and ``failed``.

    ``feeds`` is a list of Feed or the path of a feed list (OPML, YAML or text).
    Without ``every`` it polls once (bounded); with ``every=SECONDS`` a periodic
    impulse polls the due feeds every so often until ``stop_at`` (epoch seconds,
    default: never) or until the Redis key ``stop_key`` exists, which it sets
    itself after ``max_cycles`` poll cycles. ``stats_key`` is a Redis hash of
    running totals (feeds_polled, feed_failures, items). ``force`` polls every
    feed whether due or not; ``force_before`` (epoch seconds) only those not
    polled since then (``monitor --force``: each feed once at the start, then
    on its schedule). ``share_member``: the name of this monitor in the group of
    monitors polling the same feed list, which divide the feeds between them
    (``share_lease`` seconds: how soon a dead member's feeds move on).
    """

    def __init__(self, feeds, redis_url, *, prefix="newsmon:", allow_private=False, options=None,
                 default_interval=DEFAULT_INTERVAL, force=False, every=None, stop_at=None, stats_key=None,
                 stop_key=None, verify_processed=False, retry_seconds=60, max_cycles=None, force_before=None,
                 share_member=None, share_lease=DEFAULT_LEASE_SECONDS):
        super().__init__()
        if isinstance(feeds, (str, Path)):
            feeds = load_feed_list(feeds)
        feeds = list(feeds)
        if not feeds:
            raise ValueError("PollFeeds needs at least one feed")
        if not all(isinstance(feed, Feed) for feed in feeds):
            raise ValueError("PollFeeds takes Feed objects (connectors.feed_lists) or a feed list path")
        if not redis_url:
            raise ValueError("PollFeeds needs a Redis URL (feed state lives in Redis)")
        if options is not None and not isinstance(options, FetchOptions):
            raise ValueError("options must be a FetchOptions")
        if every is not None and not every > 0:
            raise ValueError(f"every must be a positive number of seconds, got {every!r}")
        if not default_interval > 0:
            raise ValueError(f"the poll interval must be positive, got {default_interval!r}")
        if max_cycles is not None and (every is None or max_cycles < 1 or not stop_key):
            raise ValueError("max_cycles needs every=SECONDS, a stop_key, and is at least 1")
        self._batches = feed_batches(feeds)
        self._every = every
        self._stop_at = stop_at
        poll_args = {"default_interval": default_interval, "force": force, "verify_processed": verify_processed,
                     "force_before": force_before}
        if share_member:
            poll_args["share"] = (feed_group(feed.feed_id for feed in feeds), share_member, share_lease)
        handover = None if every is None else min(HANDOVER_SECONDS, every * _HANDOVER_SHARE)
        self._args = (redis_url, prefix, allow_private, options, poll_args, stats_key, stop_key, retry_seconds,
                      handover, max_cycles)

    @property
    def feeds(self):
        return [feed for batch in self._batches for feed in batch]

    def expand(self, pbegin):
        batches = self._batches
        if self._every is None:
            listed = pbegin | "ListFeeds" >> beam.Create([("once", batch) for batch in batches])
        else:
            from apache_beam.transforms.periodicsequence import PeriodicImpulse
            from apache_beam.utils.timestamp import MAX_TIMESTAMP

            listed = (
                pbegin
                | "Tick" >> PeriodicImpulse(start_timestamp=time.time(),
                                            stop_timestamp=self._stop_at or MAX_TIMESTAMP,
                                            fire_interval=self._every)
                | "ListFeeds" >> beam.FlatMap(lambda tick: [(str(tick), batch) for batch in batches])
            )
        return listed | "PollFeeds" >> beam.ParDo(_PollFeedsFn(*self._args)).with_outputs(FAILED, main="articles")
