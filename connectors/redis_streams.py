"""WriteToRedisStreams and WriteDeadLetters: idempotent appends to Redis Streams.

Key layout (prefix configurable, default ``newsmon:``):

    newsmon:events                 every article with at least one topic
    newsmon:topic:<topic>          per topic
    newsmon:alerts:<subscription>  per subscription
    newsmon:deadletter             records that failed, with error and origin
    newsmon:seen:<stream>:<id>     idempotency markers, with a TTL
    newsmon:seen:<alerts stream>:story:<story id>[:<growth>]   a subscription alerted a story / its growth

Each entry is appended by one Lua script that sets the entry's markers
(``SET NX EX``) and, only if none existed, does ``XADD ... MAXLEN ~``. So a
replay, a retried bundle or a restarted monitor writes nothing twice. The
marker is the article's id (feed GUID, else canonical URL without tracking
parameters, else content): two different articles under the same title both
alert. A subscription alerts once per story (AssignStories): the first
matching article of a story writes a "new" alert, later ones only an
"update" when the story grew as the subscription asked (``update_on``:
source counts, a new country or entity); ``per: article`` alerts every
article. Entry fields are flat strings; lists go as JSON.
"""

import hashlib
import json
import uuid
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics
from redis.exceptions import NoScriptError

from connectors.redis_connection import call_with_retry, redis_client
from transforms.stories import story_growth

__all__ = [
    "APPEND_ONCE_SCRIPT",
    "RedisKeys",
    "SkipProcessedArticles",
    "WriteDeadLetters",
    "WriteToRedisStreams",
    "alert_fields",
    "append_once",
    "article_entries",
    "deadletter_entries",
]

DEFAULT_MAXLEN = 100_000
DEFAULT_MARKER_TTL = 90 * 24 * 3600
FLUSH_EVERY = 500  # entries per script call and round trip
_KEY_ENTITIES = 10

APPEND_ONCE_SCRIPT = """
-- KEYS: per entry its markers, then its stream.
-- ARGV: ttl, maxlen, then per entry: number of markers, number of field values (2 per field), the values.
-- Per entry, in order: the new stream id, or false when one of its markers existed (nothing appended,
-- and none of its markers set: a story alert's growth markers are set only with the alert).
local ttl, maxlen = ARGV[1], ARGV[2]
local k, a, ids = 1, 3, {}
while a <= #ARGV do
  local markers, values = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local fresh = true
  if markers == 1 then
    fresh = redis.call('SET', KEYS[k], '1', 'NX', 'EX', ttl) and true or false
  else
    for i = k, k + markers - 1 do
      if redis.call('EXISTS', KEYS[i]) == 1 then fresh = false; break end
    end
    if fresh then
      for i = k, k + markers - 1 do redis.call('SET', KEYS[i], '1', 'EX', ttl) end
    end
  end
  if fresh then
    ids[#ids + 1] = redis.call('XADD', KEYS[k + markers], 'MAXLEN', '~', maxlen, '*',
                               unpack(ARGV, a + 2, a + 1 + values))
  else
    ids[#ids + 1] = false
  end
  k, a = k + markers + 1, a + 2 + values
end
return ids
"""


TALLY_ONCE_SCRIPT = """
-- KEYS: the run's set of counted records, its stats hash. ARGV: ttl, then per record:
-- its identity, the number of fields, the fields. A record counts once per run: +1 on each field.
local a = 2
while a <= #ARGV do
  local n = tonumber(ARGV[a + 1])
  if redis.call('SADD', KEYS[1], ARGV[a]) == 1 then
    for i = a + 2, a + 1 + n do redis.call('HINCRBY', KEYS[2], ARGV[i], 1) end
  end
  a = a + 2 + n
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 0
"""


class RedisKeys:
    """Every key newsmon uses, under one prefix."""

    def __init__(self, prefix="newsmon:"):
        self.prefix = prefix
        self.events = f"{prefix}events"
        self.deadletter = f"{prefix}deadletter"
        self.subscriptions = f"{prefix}subscriptions"

    def topic(self, topic_id):
        return f"{self.prefix}topic:{topic_id}"

    def alerts(self, subscription):
        return f"{self.prefix}alerts:{subscription}"

    def feed(self, feed_id):
        return f"{self.prefix}feed:{feed_id}"

    def seen(self, stream, entry_id):
        return f"{self.prefix}seen:{stream[len(self.prefix):]}:{entry_id}"

    def run_stats(self, run_id):
        """Hash of a run's running totals (articles, alerts, failed), for progress and status lines."""
        return f"{self.prefix}run:{run_id}"

    def processed(self, article_id):
        """Marks an article the monitor has fully processed, so later polls skip it."""
        return f"{self.prefix}seen:processed:{article_id}"


# One encoder for every entry: json.dumps with options builds a new encoder per call.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _article_fields(article):
    fields = {
        "id": article["id"],
        "title": article["title"],
        "url": article.get("url", ""),
        "source": article.get("source", ""),
        "published": article.get("published", ""),
        "origin": article.get("origin", ""),
        "language": article.get("language", ""),
        "story": (article.get("story") or {}).get("id", ""),
    }
    if article.get("text_source"):  # which text the rules ran on: feed, teaser or fulltext (connectors/pages.py)
        fields["text_source"] = article["text_source"]
        if article.get("fulltext_problem"):
            fields["fulltext_problem"] = article["fulltext_problem"]
    return fields


def _alert_context(article):
    """What every alert of one article carries (made once per article, however many alerts)."""
    return {
        "topics": _json([{"id": t["id"], "evidence": t["evidence"][:1]} for t in article.get("topics", ())]),
        "entities": _json([{"canonical": e["canonical"], "label": e["label"]}
                           for e in article.get("entities", ())[:_KEY_ENTITIES]]),
    }


def alert_fields(article, alert, *, _shared=None):
    """The fields of one alert entry: the article, why it matched, its topics and key entities."""
    shared = _shared or (_article_fields(article), _alert_context(article))
    return {
        "subscription": alert["id"],
        **shared[0],
        "score": str(alert["score"]),
        "terms": _json(alert["terms"]),
        "evidence": _json(alert["evidence"]),
        **shared[1],
    }


def article_entries(article, keys):
    """``[(kind, stream, markers, fields), ...]``: what one tagged article writes.

    kind is ``events``, ``topic:<id>`` or ``alerts:<subscription>``.
    """
    entries = []
    topics = article.get("topics", ())
    article_fields = _article_fields(article)
    if topics:
        fields = {**article_fields,
                  "topics": _json(topics),
                  "entities": _json(article.get("entities", ())[:_KEY_ENTITIES])}
        entries.append(("events", keys.events, fields))
        for topic in topics:
            entries.append((f"topic:{topic['id']}", keys.topic(topic["id"]), {
                **article_fields,
                "score": str(topic["score"]),
                "terms": _json(topic["terms"]),
                "evidence": _json(topic["evidence"]),
            }))
    result = [(kind, stream, (keys.seen(stream, article["id"]),), fields) for kind, stream, fields in entries]
    alerts = article.get("alerts", ())
    shared = (article_fields, _alert_context(article)) if alerts else None
    for alert in alerts:
        result.extend(_alert_entries(article, alert, keys, shared))
    return result


def _alert_entries(article, alert, keys, shared):
    """Per article: one entry, marked by the article. Per story (the default): a "new" entry marked
    by the story, so only the story's first matching article alerts, and an "update" entry for
    each growth the subscription asked for, marked by the story and that growth. The "new"
    entry carries the growth markers too: a story first seen with 5 sources alerts once, as new.
    """
    stream, kind = keys.alerts(alert["id"]), f"alerts:{alert['id']}"
    article_marker = keys.seen(stream, article["id"])
    story = article.get("story")
    fields = alert_fields(article, alert, _shared=shared)
    if alert.get("per", "story") == "article" or not story:
        return [(kind, stream, (article_marker,), {**fields, "alert": "article"})]
    story_fields = {"story_articles": str(story.get("articles", "")), "story_sources": str(story.get("sources", ""))}
    growth = story_growth(story, alert.get("update_on"))
    story_marker = keys.seen(stream, f"story:{story['id']}")
    growth_markers = [keys.seen(stream, f"story:{story['id']}:{marker}") for marker, _ in growth]
    entries = [(kind, stream, (article_marker, story_marker, *growth_markers),
                {**fields, "alert": "new", **story_fields})]
    for (_, reason), marker in zip(growth, growth_markers):
        entries.append((kind, stream, (marker,), {**fields, "alert": "update", "update": reason, **story_fields}))
    return entries


def deadletter_entries(record, keys):
    """The dead-letter entry for a failure record; the same failure twice is one entry."""
    identity = hashlib.sha256(
        f"{record['stage']}\n{record['origin']}\n{record['article_id']}\n{record['error']}".encode()
    ).hexdigest()[:16]
    fields = {key: str(value) for key, value in record.items()}
    return [("deadletter", keys.deadletter, (keys.seen(keys.deadletter, identity),), fields)]


def _script_arguments(entries, maxlen, ttl):
    keys, args = [], [ttl, maxlen]
    for _, stream, markers, fields in entries:
        keys.extend(markers)
        keys.append(stream)
        args.extend((len(markers), 2 * len(fields)))
        for name, value in fields.items():
            args.extend((name, value))
    return keys, args


APPEND_ONCE_SHA = hashlib.sha1(APPEND_ONCE_SCRIPT.encode("utf-8")).hexdigest()


def append_once(client, entries, *, maxlen=DEFAULT_MAXLEN, ttl=DEFAULT_MARKER_TTL, loaded=False):
    """Append entries in one script call; returns the new stream ids (None where already written).

    ``client`` may be a pipeline: the result is then its reply. ``loaded=True`` says the
    script is in the server's cache already (SCRIPT LOAD): the call is then a bare EVALSHA,
    with no SCRIPT EXISTS round trip first (the caller handles NoScriptError).
    """
    if not entries:
        return []
    keys, args = _script_arguments(entries, maxlen, ttl)
    if loaded:
        return client.evalsha(APPEND_ONCE_SHA, len(keys), *keys, *args)
    return client.register_script(APPEND_ONCE_SCRIPT)(keys=keys, args=args, client=client)


class _AppendToStreamsFn(beam.DoFn):
    """Buffers entries per bundle and appends them once each, retrying while Redis is down."""

    def __init__(self, redis_url, prefix, entries_of, maxlen, ttl, retry_seconds, stats_key, stats_field,
                 mark_processed, counts=None, count_once=False):
        self._redis_url = redis_url
        self._count_once = count_once  # tally each record once per run, however often its bundle runs
        self._prefix = prefix
        self._entries_of = entries_of
        self._maxlen = maxlen
        self._ttl = ttl
        self._retry_seconds = retry_seconds
        self._stats_key = stats_key
        self._stats_field = stats_field
        self._mark_processed = mark_processed
        self._counts = counts  # connectors.counts.CountOptions: count articles in the same round trip

    def setup(self):
        self._client = redis_client(self._redis_url)
        self._keys = RedisKeys(self._prefix)
        self._counter = None
        if self._counts is not None:
            from connectors.counts import ArticleCounter

            self._counter = ArticleCounter(self._counts, self._prefix)
        self._counters = {}
        self._duplicates = Metrics.counter("newsmon", "already_written")
        self._script_loaded = False

    def start_bundle(self):
        self._entries = []
        self._ids = []
        self._tallies = []
        if self._counter is not None:
            self._counter.clear()

    def process(self, element: dict) -> Iterator[dict]:  # hinted: Beam need not infer it (it yields nothing)
        self._entries.extend(self._entries_of(element, self._keys))
        self._ids.append(element.get("id") or element.get("article_id") or "")
        if self._stats_key:
            self._tallies.append(run_tally(element, self._stats_field))
        if self._counter is not None:
            self._counter.add(element)
        if len(self._entries) >= FLUSH_EVERY:
            self._flush()

    def finish_bundle(self):
        self._flush()

    def teardown(self):
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()

    def _count(self, kind):
        counter = self._counters.get(kind)
        if counter is None:
            counter = self._counters[kind] = Metrics.counter("written", kind)
        counter.inc()

    def _write(self):
        """One round trip: the entries, the processed markers and the run totals."""
        if not self._script_loaded:  # once per worker: then each flush is one bare EVALSHA
            self._client.script_load(APPEND_ONCE_SCRIPT)
            self._script_loaded = True
        pipe = self._client.pipeline(transaction=False)
        append_once(pipe, self._entries, maxlen=self._maxlen, ttl=self._ttl, loaded=True)
        if self._mark_processed:
            for article_id in filter(None, self._ids):
                pipe.set(self._keys.processed(article_id), "1", ex=self._ttl)
        if self._stats_key and self._count_once:
            # Atomic with its record's first count: a rerun bundle (a worker died) counts nothing twice.
            keys, args = [f"{self._stats_key}:once", self._stats_key], [7 * 24 * 3600]
            for identity, fields in self._tallies:
                args.extend((identity, len(fields), *fields))
            pipe.eval(TALLY_ONCE_SCRIPT, 2, *keys, *args)
        elif self._stats_key:
            pipe.hincrby(self._stats_key, self._stats_field, len(self._ids))
            pipe.expire(self._stats_key, 7 * 24 * 3600)
        if self._counter is not None:
            self._counter.write(pipe)
        replies = pipe.execute(raise_on_error=False)
        for reply in replies[1:]:
            if isinstance(reply, Exception):
                raise reply
        results = replies[0] if self._entries else []
        if isinstance(results, NoScriptError):
            # The server lost its scripts (a restart): load it and append alone. The other
            # commands of the round trip did run, and markers of a processed article only
            # make a later poll skip it once its entries are written, a moment from now.
            self._client.script_load(APPEND_ONCE_SCRIPT)
            results = append_once(self._client, self._entries, maxlen=self._maxlen, ttl=self._ttl, loaded=True)
        elif isinstance(results, Exception):
            raise results
        if self._stats_key:
            new_alerts = sum(1 for (kind, *_), r in zip(self._entries, results)
                             if r is not None and kind.startswith("alerts:"))
            if new_alerts:
                self._client.hincrby(self._stats_key, "alerts", new_alerts)
            if self._count_once:
                self._write_entry_counts(results)
        return results

    def _write_entry_counts(self, results):
        """New and already-written entries per stream kind, in the run's stats hash."""
        totals = {}
        for (kind, *_), result in zip(self._entries, results):
            name = "already_written" if result is None else f"new:{kind}"
            totals[name] = totals.get(name, 0) + 1
        if totals:
            pipe = self._client.pipeline(transaction=False)
            for name, n in totals.items():
                pipe.hincrby(self._stats_key, name, n)
            pipe.expire(self._stats_key, 7 * 24 * 3600)
            pipe.execute()

    def _flush(self):
        if not self._ids:
            return
        results = call_with_retry(self._write, url=self._redis_url, retry_seconds=self._retry_seconds)
        for (kind, _, _, _), result in zip(self._entries, results):
            if result is None:
                self._duplicates.inc()
            else:
                self._count(kind)
        self._entries = []
        self._ids = []
        self._tallies = []
        if self._counter is not None:
            self._counter.clear()


def run_tally(record, kind):
    """``(identity, fields)``: what one record adds to its run's counts.

    An article (kind ``articles``) counts as read, under each of its topics and each
    subscription it matched; a failure (kind ``failed``) as failed, per stage.
    """
    if kind == "failed":
        identity = "f:" + hashlib.sha256(
            f"{record.get('stage')}\n{record.get('origin')}\n{record.get('article_id')}\n{record.get('error')}"
            .encode()).hexdigest()[:16]
        return identity, ("failed", f"failed:{record.get('stage', '')}")
    fields = ["articles"]
    fields.extend(f"topic:{topic['id']}" for topic in record.get("topics", ()))
    fields.extend(f"matched:{alert['id']}" for alert in record.get("alerts", ()))
    return "a:" + str(record.get("id") or record.get("origin") or ""), tuple(fields)


class WriteToRedisStreams(beam.PTransform):
    """Tagged articles -> entries on ``events``, ``topic:<id>`` and ``alerts:<subscription>``.

    Idempotent: an article already written to a stream (same id) is skipped.
    With ``counts`` (connectors.counts.CountOptions), every article also adds to the
    time-bucketed counts of its series, once, in the same round trip.
    """

    def __init__(self, redis_url, *, prefix="newsmon:", maxlen=DEFAULT_MAXLEN,
                 marker_ttl=DEFAULT_MARKER_TTL, retry_seconds=60, stats_key=None, mark_processed=False,
                 counts=None, count_once=False):
        super().__init__()
        if not redis_url:
            raise ValueError("WriteToRedisStreams needs a Redis URL")
        if maxlen < 1 or marker_ttl < 1:
            raise ValueError("maxlen and marker_ttl must be positive")
        self._args = (redis_url, prefix, article_entries, maxlen, marker_ttl, retry_seconds, stats_key,
                      "articles", mark_processed, counts, count_once)

    def expand(self, articles):
        return articles | beam.ParDo(_AppendToStreamsFn(*self._args))


class WriteDeadLetters(beam.PTransform):
    """Failure records (transforms.deadletter) -> entries on the ``deadletter`` stream."""

    def __init__(self, redis_url, *, prefix="newsmon:", maxlen=DEFAULT_MAXLEN,
                 marker_ttl=DEFAULT_MARKER_TTL, retry_seconds=60, stats_key=None, mark_processed=False,
                 count_once=False):
        super().__init__()
        if not redis_url:
            raise ValueError("WriteDeadLetters needs a Redis URL")
        # A failed article counts as processed too: it is in the dead letters, not lost.
        self._args = (redis_url, prefix, deadletter_entries, maxlen, marker_ttl, retry_seconds, stats_key,
                      "failed", mark_processed, None, count_once)

    def expand(self, failures):
        return failures | beam.ParDo(_AppendToStreamsFn(*self._args))


def new_run_id():
    return uuid.uuid4().hex[:12]


class _SkipProcessedFn(beam.DoFn):
    def __init__(self, redis_url, prefix, retry_seconds):
        self._redis_url = redis_url
        self._prefix = prefix
        self._retry_seconds = retry_seconds

    def setup(self):
        self._client = redis_client(self._redis_url)
        self._keys = RedisKeys(self._prefix)
        self._skipped = Metrics.counter("newsmon", "already_processed")

    def process(self, article):
        key = self._keys.processed(article["id"])
        if call_with_retry(lambda: self._client.exists(key), url=self._redis_url,
                           retry_seconds=self._retry_seconds):
            self._skipped.inc()
            return
        yield article


class SkipProcessedArticles(beam.PTransform):
    """Drops articles a previous poll already took through the whole graph (monitor only).

    The marker is set by WriteToRedisStreams(mark_processed=True) after the
    article's entries are written, so an article in flight when the monitor
    stops is processed again on restart, never lost.
    """

    def __init__(self, redis_url, *, prefix="newsmon:", retry_seconds=None):
        super().__init__()
        self._args = (redis_url, prefix, retry_seconds)

    def expand(self, articles):
        return articles | beam.ParDo(_SkipProcessedFn(*self._args))
