"""PollFeeds: articles from RSS, Atom and RDF feeds, each due feed polled once.

For every feed whose ``next_poll`` has come (see connectors.feed_state), one
conditional GET (connectors.feed_fetch), the body parsed into raw articles
(transforms.feed_items), and the feed's state written back to Redis:
validators, health, and when to poll next (the feed's interval; after a
failure, exponential backoff, and never before the server's Retry-After).

A feed that fails is a failure record and a failing state, never an exception:
one bad feed does not stop the others. The same item polled twice has the same
id (GUID, else canonical link, else a hash of title and text), so a server that
ignores conditional GETs makes no duplicates past the idempotent Redis sink.

    polled = poll_feeds(load_feed_list("seeds/feeds.opml"), redis_client(url), RedisKeys())
    polled.articles, polled.failures, polled.stats["3f2a9c0d1e4b"]
    -> [...], [...], {"url": "https://…", "outcome": "ok", "status": 200, "items": 25, …}

    p | PollFeeds("seeds/feeds.opml", redis_url)  ->  {"articles": …, "failed": …}

State is saved when the poll returns, before the articles reach the sink.
With ``verify_processed`` (the monitor, ``newsmon poll``), the state also keeps
the ids of the items of the last full fetch; if any of them has no
"processed" marker yet (the run stopped before the sink wrote it), the next
poll sends no validators and takes the whole feed again, so a stop between
poll and sink loses nothing.

``PollFeeds(..., every=SECONDS)`` is the unbounded version: a periodic impulse
ticks every few seconds and each tick polls the feeds that are due.
"""

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from connectors.feed_fetch import FeedFetcher, FetchOptions
from connectors.feed_lists import Feed, load_feed_list
from connectors.feed_state import DEAD_AFTER, DEFAULT_INTERVAL, load_states, record_poll, save_states
from connectors.redis_connection import call_with_retry, redis_client
from connectors.redis_streams import RedisKeys
from transforms.deadletter import FAILED, failure
from transforms.feed_items import ParsedFeed, parse_feed
from transforms.normalize import article_id

__all__ = ["PollFeeds", "PollResult", "feed_batches", "poll_feeds", "poll_feeds_async"]

_BATCH_FEEDS = 200


class PollResult(NamedTuple):
    """Raw articles, failure records, and per feed id a dict of what its poll did."""

    articles: list
    failures: list
    stats: dict


def _unique_feeds(feeds):
    unique = {}
    for feed in feeds:
        unique.setdefault(feed.feed_id, feed)
    return list(unique.values())


async def _poll_one(fetcher, feed, state, *, now, interval, dead_after):
    url = state.permanent_url or feed.url
    result = await fetcher.fetch(url, etag=state.etag, last_modified=state.last_modified)
    stat = {"url": feed.url, "fetched": url, "status": result.status, "items": 0, "error": "", "warning": ""}
    articles, failures = [], []
    if result.ok:
        try:
            parsed = parse_feed(result.body, feed_url=feed.url, fetched_at=now, headers=result.headers,
                                final_url=result.final_url, list_title=feed.title)
        except Exception as error:  # noqa: BLE001 - a parser bug on one feed must not stop the others
            message = f"parser crashed: {type(error).__name__}: {error}"
            parsed = ParsedFeed(error=message, failures=[failure("parse", message, origin=feed.url)])
        articles, failures = parsed.articles, parsed.failures
        new_state = record_poll(state, feed.url, result, now=now, interval=interval, dead_after=dead_after,
                                items=len(articles), title=parsed.title, parse_error=parsed.error,
                                warning=parsed.warning)
        stat.update(items=len(articles), error=parsed.error, warning=parsed.warning)
    else:
        if not result.not_modified:
            failures = [failure("fetch", result.error, origin=feed.url)]
        new_state = record_poll(state, feed.url, result, now=now, interval=interval, dead_after=dead_after)
        stat["error"] = result.error
    stat["outcome"] = ("failed" if stat["error"] else "not modified" if result.not_modified else "ok")
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


async def poll_feeds_async(feeds, client, keys, *, allow_private=False, now=None, options=None,
                           default_interval=DEFAULT_INTERVAL, dead_after=DEAD_AFTER, force=False,
                           verify_processed=False):
    """poll_feeds on the running event loop."""
    now = time.time() if now is None else now
    feeds = _unique_feeds(feeds)
    states = load_states(client, keys, [feed.feed_id for feed in feeds])
    due = [feed for feed in feeds if force or states[feed.feed_id].due(now)]
    if verify_processed:
        for feed_id in _unprocessed_feeds(client, keys, {f.feed_id: states[f.feed_id] for f in due}):
            states[feed_id] = dataclasses.replace(states[feed_id], etag="", last_modified="")
    due_ids = {feed.feed_id for feed in due}
    stats = {feed.feed_id: {"url": feed.url, "outcome": "not due", "next_poll": states[feed.feed_id].next_poll,
                            "health": states[feed.feed_id].health}
             for feed in feeds if feed.feed_id not in due_ids}
    articles, failures, new_states = [], [], []
    if due:
        async with FeedFetcher(options, allow_private=allow_private) as fetcher:
            polls = await asyncio.gather(*(
                _poll_one(fetcher, feed, states[feed.feed_id], now=now, interval=feed.interval or default_interval,
                          dead_after=dead_after)
                for feed in due))
        for feed, (feed_articles, feed_failures, stat, new_state) in zip(due, polls):
            if verify_processed and stat["outcome"] == "ok":
                new_state.pending = _processed_ids(feed_articles)
            articles.extend(feed_articles)
            failures.extend(feed_failures)
            stats[feed.feed_id] = stat
            new_states.append(new_state)
        save_states(client, keys, new_states)
    return PollResult(articles, failures, stats)


def poll_feeds(feeds, client, keys, *, allow_private=False, now=None, options=None,
               default_interval=DEFAULT_INTERVAL, dead_after=DEAD_AFTER, force=False, verify_processed=False):
    """Poll every due feed once, concurrently; returns a PollResult.

    ``client`` is a Redis client and ``keys`` a RedisKeys (feed state lives at ``keys.feed(id)``);
    ``now`` (epoch seconds) decides which feeds are due and dates undated items; ``force`` polls
    feeds that are not due yet (backoff and Retry-After included); ``options`` are FetchOptions.
    """
    return asyncio.run(poll_feeds_async(
        feeds, client, keys, allow_private=allow_private, now=now, options=options,
        default_interval=default_interval, dead_after=dead_after, force=force,
        verify_processed=verify_processed))


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


class _PollFeedsFn(beam.DoFn):
    """Polls one batch of feeds; articles to the main output, failure records to ``failed``."""

    def __init__(self, redis_url, prefix, allow_private, options, poll_args, stats_key, stop_key, retry_seconds):
        self._redis_url = redis_url
        self._prefix = prefix
        self._allow_private = allow_private
        self._options = options
        self._poll_args = poll_args
        self._stats_key = stats_key
        self._stop_key = stop_key
        self._retry_seconds = retry_seconds

    def setup(self):
        self._client = redis_client(self._redis_url)
        self._keys = RedisKeys(self._prefix)
        self._read = Metrics.counter("newsmon", "articles_read")
        self._outcomes = {outcome: Metrics.counter("feeds", outcome.replace(" ", "_"))
                          for outcome in ("ok", "not modified", "failed", "not due")}

    def _poll(self, batch):
        if self._stop_key and self._client.exists(self._stop_key):
            return None
        polled = poll_feeds(batch, self._client, self._keys, allow_private=self._allow_private,
                            options=self._options, **self._poll_args)
        if self._stats_key:
            outcomes = [stat["outcome"] for stat in polled.stats.values()]
            pipe = self._client.pipeline(transaction=False)
            pipe.hincrby(self._stats_key, "feeds_polled", sum(1 for o in outcomes if o != "not due"))
            pipe.hincrby(self._stats_key, "feed_failures", outcomes.count("failed"))
            pipe.hincrby(self._stats_key, "items", len(polled.articles))
            pipe.expire(self._stats_key, 7 * 24 * 3600)
            pipe.execute()
        return polled

    def process(self, batch):
        polled = call_with_retry(lambda: self._poll(batch), url=self._redis_url, retry_seconds=self._retry_seconds)
        if polled is None:
            return
        for stat in polled.stats.values():
            self._outcomes[stat["outcome"]].inc()
        for failed in polled.failures:
            yield beam.pvalue.TaggedOutput(FAILED, failed)
        self._read.inc(len(polled.articles))
        yield from polled.articles

    def teardown(self):
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()


class PollFeeds(beam.PTransform):
    """Each due feed of a list polled; outputs ``articles`` (raw article dicts) and ``failed``.

    ``feeds`` is a list of Feed or the path of a feed list (OPML, YAML or text).
    Without ``every`` it polls once (bounded); with ``every=SECONDS`` a periodic
    impulse polls the due feeds every so often until ``stop_at`` (epoch seconds,
    default: never) or until the Redis key ``stop_key`` exists. ``stats_key`` is
    a Redis hash of running totals (feeds_polled, feed_failures, items).
    """

    def __init__(self, feeds, redis_url, *, prefix="newsmon:", allow_private=False, options=None,
                 default_interval=DEFAULT_INTERVAL, force=False, every=None, stop_at=None, stats_key=None,
                 stop_key=None, verify_processed=False, retry_seconds=60):
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
        self._batches = feed_batches(feeds)
        self._every = every
        self._stop_at = stop_at
        poll_args = {"default_interval": default_interval, "force": force, "verify_processed": verify_processed}
        self._args = (redis_url, prefix, allow_private, options, poll_args, stats_key, stop_key, retry_seconds)

    @property
    def feeds(self):
        return [feed for batch in self._batches for feed in batch]

    def expand(self, pbegin):
        batches = self._batches
        if self._every is None:
            listed = pbegin | "ListFeeds" >> beam.Create(batches)
        else:
            from apache_beam.transforms.periodicsequence import PeriodicImpulse
            from apache_beam.utils.timestamp import MAX_TIMESTAMP

            listed = (
                pbegin
                | "Tick" >> PeriodicImpulse(start_timestamp=time.time(),
                                            stop_timestamp=self._stop_at or MAX_TIMESTAMP,
                                            fire_interval=self._every)
                | "ListFeeds" >> beam.FlatMap(lambda _tick: batches)
            )
        return listed | "PollFeeds" >> beam.ParDo(_PollFeedsFn(*self._args)).with_outputs(FAILED, main="articles")
