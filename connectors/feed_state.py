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
import hashlib
import time
from dataclasses import dataclass

from connectors.feed_fetch import parse_retry_after

__all__ = [
    "CLAIM_DUE_SCRIPT",
    "DEAD_AFTER",
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_INTERVAL",
    "MAX_BACKOFF",
    "PERMANENT_URL_FAILURES",
    "FeedShare",
    "FeedState",
    "all_feed_states",
    "backoff_delay",
    "claim_due",
    "feed_group",
    "health_for",
    "load_state",
    "load_states",
    "record_poll",
    "rendezvous_owner",
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
    poller: str = ""  # the monitor that made the last poll, when monitors share the feed list

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


# --- Monitors sharing feeds ------------------------------------------------------------------------
#
# Several monitors on one feed list and one Redis divide the feeds: each monitor is a member of the
# feed list's group (a sorted set of member -> lease expiry, renewed every ``lease / 3`` seconds by
# a heartbeat), and each feed belongs to the live member with the highest rendezvous hash of
# (member, feed). A member that joins or leaves moves only its own share (about 1/N of the feeds).
# A monitor that dies stops renewing its lease: within ``lease`` seconds the others no longer see
# it and take its feeds over. On top of ownership, a poll starts only after an atomic claim of the
# feed's due time (CLAIM_DUE_SCRIPT), so while two members briefly disagree about who owns a feed
# (one has not seen a join yet) the feed is still fetched once per due time.

DEFAULT_LEASE_SECONDS = 15.0


def feed_group(feed_ids):
    """The group of monitors polling this feed list: the same list, the same group."""
    digest = hashlib.sha256("\n".join(sorted(set(feed_ids))).encode()).hexdigest()
    return digest[:16]


def rendezvous_owner(feed_id, members):
    """The member that polls ``feed_id`` (highest random weight); None without members."""
    if not members:
        return None
    return max(members, key=lambda member: (hashlib.sha1(f"{member}\n{feed_id}".encode()).digest(), member))


CLAIM_DUE_SCRIPT = """
-- KEYS: feed hashes. ARGV: now, lease end, force (1/0), then the feeds' URLs in KEYS order.
-- Per feed, 1 if it was due (or force) and is now claimed until the lease end, else 0.
local now, lease, force, out = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1', {}
for i, key in ipairs(KEYS) do
  local next_poll = tonumber(redis.call('HGET', key, 'next_poll') or '0') or 0
  if force or next_poll <= now then
    redis.call('HSET', key, 'next_poll', math.max(tonumber(lease), next_poll), 'url', ARGV[3 + i])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""


def claim_due(client, keys, due, *, now, lease_until, force=False):
    """The ``[(feed, state)]`` of ``due`` still due in Redis, each now claimed until ``lease_until``:
    what another poller claimed meanwhile is left out."""
    if not due:
        return []
    replies = client.eval(CLAIM_DUE_SCRIPT, len(due), *(keys.feed(feed.feed_id) for feed, _ in due),
                          now, int(lease_until), "1" if force else "0", *(feed.url for feed, _ in due))
    return [pair for pair, claimed in zip(due, replies) if int(claimed)]


class FeedShare:
    """This monitor's membership of its feed list's group, and the feeds that are its share.

        share = FeedShare(client, "newsmon:", feed_group(ids), member="host-1234-ab12", lease=15)
        share.heartbeat()                    # join / renew (every lease / 3 seconds)
        mine = share.mine(feed_ids)          # the feeds this member polls now
        share.leave()                        # on a clean stop: the others take over at once
    """

    def __init__(self, client, prefix, group, member, lease=DEFAULT_LEASE_SECONDS):
        if not lease > 0:
            raise ValueError(f"the lease must be positive, got {lease!r}")
        self.client = client
        self.key = f"{prefix}monitors:{group}"
        self.member = member
        self.lease = float(lease)

    def heartbeat(self, now=None):
        now = time.time() if now is None else now
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.key, {self.member: now + self.lease})
        pipe.zremrangebyscore(self.key, "-inf", now)  # members whose lease ran out
        pipe.expire(self.key, int(self.lease * 4) + 60)
        pipe.execute()

    def members(self, now=None):
        now = time.time() if now is None else now
        return sorted(_decoded_key(m) for m in self.client.zrangebyscore(self.key, now, "+inf"))

    def mine(self, feed_ids, now=None):
        """The ids of ``feed_ids`` this member owns (all of them while it sees no live member,
        itself included: a monitor whose lease lapsed still polls rather than nobody)."""
        members = self.members(now)
        if self.member not in members:
            members.append(self.member)
        return [feed_id for feed_id in feed_ids if rendezvous_owner(feed_id, members) == self.member]

    def leave(self):
        self.client.zrem(self.key, self.member)
