"""Per-feed polling state, kept in Redis: one hash per feed.

    newsmon:feed:<feed id>  ->  {url, etag, last_modified, last_status, last_error, items, failures,
                                 health, next_poll, last_poll, permanent_url, title, warning, ...}

``next_poll`` and ``last_poll`` are epoch seconds. ``health`` is ``ok`` after a
good poll (200 or 304), ``failing`` after one or more failures in a row and
``dead`` after ``dead_after`` of them; a dead feed is still tried, once a
day, so it comes back by itself when its server does.

A 429 (Too Many Requests) is the server asking us to slow down, not a
failure: the feed is ``throttled`` and waits its own exponential backoff,
never less than the Retry-After, without counting towards ``dead``.

The target of a permanent redirect (301/308) is polled instead of the listed
URL; after it fails ``PERMANENT_URL_FAILURES`` times in a row it is dropped
and the listed URL is tried again (it may redirect somewhere new, or be back).

``items`` is what the last fetch gave after the per-fetch cap
(``capped_from``: how many the feed offered, when more than the cap).

``record_poll`` is the pure rule for what one poll does to a state;
``load_states`` / ``save_states`` move states in and out of Redis in one
round trip each; ``all_feed_states`` lists every feed for ``newsmon feeds status``.
"""

import dataclasses
from dataclasses import dataclass

from connectors.feed_fetch import parse_retry_after

__all__ = [
    "DEAD_AFTER",
    "DEFAULT_INTERVAL",
    "MAX_BACKOFF",
    "PERMANENT_URL_FAILURES",
    "FeedState",
    "all_feed_states",
    "backoff_delay",
    "health_for",
    "load_state",
    "load_states",
    "record_poll",
    "save_state",
    "save_states",
]

DEFAULT_INTERVAL = 15 * 60
MAX_BACKOFF = 24 * 3600
DEAD_AFTER = 10
PERMANENT_URL_FAILURES = 3
THROTTLED_STATUSES = frozenset({429})
_ERROR_CHARS = 500


@dataclass
class FeedState:
    """What newsmon remembers about one feed between polls."""

    feed_id: str
    url: str = ""
    etag: str = ""
    last_modified: str = ""
    last_status: int = 0
    last_error: str = ""
    items: int = 0
    failures: int = 0
    health: str = "new"
    next_poll: int = 0
    last_poll: int = 0
    permanent_url: str = ""
    title: str = ""
    warning: str = ""
    pending: str = ""  # article ids of the last full fetch, comma-separated (see connectors.feeds)
    throttled: int = 0  # 429s in a row
    permanent_failures: int = 0  # failures in a row of the remembered redirect target
    capped_from: int = 0  # items the last fetch offered, when more than the cap

    def due(self, now):
        return self.next_poll <= now

    def to_hash(self):
        return {f.name: str(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "feed_id"}

    @classmethod
    def from_hash(cls, feed_id, mapping):
        values = {}
        for name, is_int in _hash_fields(cls):  # dataclasses.fields() per call: 2,000 feeds took 1 s
            if name in mapping:
                raw = mapping[name]
                try:
                    values[name] = int(float(raw)) if is_int else raw
                except ValueError:
                    continue  # a field someone edited by hand: keep the default
        return cls(feed_id=feed_id, **values)


_HASH_FIELDS = {}


def _hash_fields(cls):
    """``[(field name, is an int)]`` of a state class's hash fields, computed once per class."""
    if cls not in _HASH_FIELDS:
        _HASH_FIELDS[cls] = [(f.name, f.type in (int, "int")) for f in dataclasses.fields(cls) if f.name != "feed_id"]
    return _HASH_FIELDS[cls]


def backoff_delay(failures, interval):
    """Seconds until the next try after ``failures`` failures in a row: the interval doubled
    per failure (2x, 4x, ...), at most a day."""
    if failures <= 0:
        return interval
    return int(min(interval * 2 ** min(failures, 32), MAX_BACKOFF))


def health_for(failures, dead_after=DEAD_AFTER):
    if failures <= 0:
        return "ok"
    return "dead" if failures >= dead_after else "failing"


def record_poll(state, feed_url, result, *, now, interval=DEFAULT_INTERVAL, dead_after=DEAD_AFTER,
                items=0, title="", parse_error="", warning="", offered=0):
    """The state after one poll: ``result`` is the FetchResult, ``items`` the articles kept from it
    (``offered``: how many it had, when the per-fetch cap kept fewer), ``parse_error`` why a fetched
    body gave nothing. Returns a new FeedState."""
    now = int(now)
    new = dataclasses.replace(state, url=feed_url, last_poll=now, last_status=result.status)
    error = result.error or parse_error
    retry_after = parse_retry_after(result.retry_after, now)
    if result.status in THROTTLED_STATUSES and not parse_error:
        new.throttled = state.throttled + 1
        new.health = "throttled" if state.failures == 0 else state.health
        new.warning = f"{result.error or f'HTTP {result.status}'}: asked to slow down; backing off"
        wait = backoff_delay(new.throttled, interval)
        new.next_poll = now + (wait if retry_after is None else max(wait, int(retry_after + 0.999)))
        return new
    fetched_permanent_url = bool(state.permanent_url) and result.url == state.permanent_url
    if not error and (result.ok or result.not_modified):
        new.failures = new.throttled = new.permanent_failures = 0
        new.health = "ok"
        new.last_error = ""
        new.next_poll = now + interval
        if result.permanent_url:
            new.permanent_url = result.permanent_url
        if result.ok:
            # Validators of this response only: a server that stopped sending an ETag has none.
            new.etag = result.headers.get("etag", "")
            new.last_modified = result.headers.get("last-modified", "")
            new.items = items
            new.capped_from = offered if offered > items else 0
            new.title = title or state.title
            new.warning = warning
        else:
            new.etag = result.headers.get("etag", state.etag)
            new.last_modified = result.headers.get("last-modified", state.last_modified)
        return new
    new.failures = state.failures + 1
    new.throttled = 0
    new.health = health_for(new.failures, dead_after)
    new.last_error = error[:_ERROR_CHARS]
    if parse_error:
        # A body that could not be read must be fetched again in full, not answered with a 304.
        new.etag = new.last_modified = ""
        new.items = 0
    wait = backoff_delay(new.failures, interval)
    if fetched_permanent_url:
        new.permanent_failures = state.permanent_failures + 1
        if new.permanent_failures >= PERMANENT_URL_FAILURES:
            new.warning = (f"the redirect target {state.permanent_url} failed {new.permanent_failures} times in a"
                           f" row; polling the listed URL again")
            new.permanent_url = ""
            new.permanent_failures = 0
            new.etag = new.last_modified = ""  # they were the target's
            wait = interval  # another URL: no reason to wait out the target's backoff
    if retry_after is not None:
        wait = max(wait, int(retry_after + 0.999))
    new.next_poll = now + wait
    return new


def load_state(client, keys, feed_id):
    return load_states(client, keys, [feed_id])[feed_id]


def load_states(client, keys, feed_ids):
    """``{feed id: FeedState}`` for the ids, in one round trip; a feed never polled gets a fresh state."""
    feed_ids = list(feed_ids)
    pipe = client.pipeline(transaction=False)
    for feed_id in feed_ids:
        pipe.hgetall(keys.feed(feed_id))
    return {feed_id: FeedState.from_hash(feed_id, _decoded(mapping))
            for feed_id, mapping in zip(feed_ids, pipe.execute())}


def save_state(client, keys, state):
    save_states(client, keys, [state])


def save_states(client, keys, states):
    pipe = client.pipeline(transaction=False)
    for state in states:
        pipe.hset(keys.feed(state.feed_id), mapping=state.to_hash())
    pipe.execute()


def all_feed_states(client, keys):
    """Every feed's state under ``keys.prefix``, sorted by URL (for ``newsmon feeds status``)."""
    pattern = _glob_escape(keys.feed("")) + "*"
    feed_keys = sorted(_decoded_key(key) for key in client.scan_iter(match=pattern, count=10_000))
    prefix_length = len(keys.feed(""))
    states = load_states(client, keys, [key[prefix_length:] for key in feed_keys])
    return sorted(states.values(), key=lambda state: (state.url, state.feed_id))


def _decoded_key(key):
    return key.decode() if isinstance(key, bytes) else key


def _decoded(mapping):
    return {_decoded_key(k): _decoded_key(v) for k, v in mapping.items()}


def _glob_escape(text):
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
