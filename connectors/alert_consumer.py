"""Reading alert streams with consumer groups, so that no alert is lost.

    reader = AlertReader(client, "newsmon:alerts:ns2", group="tail", consumer="desk-1")
    for entry_id, fields in reader.read(block_ms=5000):
        show(fields)
        reader.ack(entry_id)          # only after the alert was handled

``read`` returns, in this order: entries this consumer read before but never
acknowledged (it was stopped or crashed between read and ack), entries other
consumers left pending for longer than ``claim_idle_ms`` (XAUTOCLAIM, paged
with its cursor through the whole pending list: a dead consumer's alerts),
then new entries (XREADGROUP ``>``). Delivery is at least once: an alert
handled but not yet acknowledged when a consumer dies is handled again by
the next one.

A new group starts at the alerts written from now on; ``from_start=True``
starts it at the beginning of the stream (the whole history).

Blocking reads wait in slices shorter than the client's socket timeout
(redis-py's default is 5 s), so a consumer can wait for hours without the
client taking the silence for a dead server. ``follow`` is that loop, and it
rides out Redis restarts (one log line when Redis goes, one when it is back).
"""

import functools
import logging
import socket
import time

import redis

__all__ = ["AlertReader", "default_consumer_name", "follow"]

_log = logging.getLogger(__name__)
_DEFAULT_SOCKET_TIMEOUT = 5.0  # redis-py's own default


def default_consumer_name(kind):
    return f"{kind}-{socket.gethostname()}"


def _socket_timeout(client):
    """The client's socket timeout in seconds (None: it waits for ever)."""
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if kwargs is None:
        return _DEFAULT_SOCKET_TIMEOUT
    return kwargs.get("socket_timeout", _DEFAULT_SOCKET_TIMEOUT)


class AlertReader:
    """One consumer of one consumer group on one stream."""

    def __init__(self, client, stream, *, group, consumer, claim_idle_ms=60_000, from_start=False):
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = claim_idle_ms
        self.from_start = from_start
        self._own_pending_done = False
        self._create_group("0" if from_start else "$")
        timeout = _socket_timeout(client)
        # Each blocking call must come back well before the socket timeout fires.
        self._slice_ms = None if timeout is None else max(50, int(timeout * 1000 / 2))

    def _create_group(self, start):
        try:
            self.client.xgroup_create(self.stream, self.group, id=start, mkstream=True)
            return True
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
            return False

    def _call(self, operation):
        """``operation()``; a group that vanished (stream deleted, Redis restarted empty) is made
        again, at the start of the stream, so that nothing written since is missed."""
        try:
            return operation()
        except redis.ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            _log.warning("newsmon: consumer group %s of %s was gone; created it again", self.group, self.stream)
            self._create_group("0")
            self._own_pending_done = False
            return operation()

    def _own_pending(self, count):
        reply = self._call(lambda: self.client.xreadgroup(self.group, self.consumer, {self.stream: "0"},
                                                          count=count))
        entries = reply[0][1] if reply else []
        return self._deliverable(entries)

    def _deliverable(self, entries):
        """Entries that still have fields; those trimmed from the stream (no fields) are acked:
        there is nothing to deliver."""
        gone = [entry_id for entry_id, fields in entries if not fields]
        if gone:
            self.client.xack(self.stream, self.group, *gone)
        return [(entry_id, fields) for entry_id, fields in entries if fields]

    def _claim(self, count):
        """Up to ``count`` entries pending with other consumers for longer than ``claim_idle_ms``,
        paging through the whole pending list with XAUTOCLAIM's cursor (one call only looks at
        about 10 x count pending entries)."""
        claimed, cursor = [], "0-0"
        while len(claimed) < count:
            reply = self._call(functools.partial(
                self.client.xautoclaim, self.stream, self.group, self.consumer, min_idle_time=self.claim_idle_ms,
                start_id=cursor, count=count - len(claimed)))
            if not reply:
                break
            cursor, entries = reply[0], reply[1]
            claimed.extend(self._deliverable(entries))
            if cursor in ("0-0", b"0-0"):
                break
        return claimed

    def read(self, *, count=50, block_ms=None):
        """The next alerts to handle (maybe none); waits up to ``block_ms`` for new ones."""
        if not self._own_pending_done:
            pending = self._own_pending(count)
            if pending:
                return pending
            self._own_pending_done = True
        claimed = self._claim(count)
        if claimed:
            return claimed
        if block_ms is None:
            return self._read_new(count, None)
        deadline = time.monotonic() + block_ms / 1000
        while True:
            left_ms = max(1, int((deadline - time.monotonic()) * 1000))
            wait_ms = left_ms if self._slice_ms is None else min(left_ms, self._slice_ms)
            entries = self._read_new(count, wait_ms)
            if entries or time.monotonic() >= deadline:
                return entries

    def _read_new(self, count, block_ms):
        reply = self._call(lambda: self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"},
                                                          count=count, block=block_ms))
        return reply[0][1] if reply else []

    def ack(self, entry_id):
        self.client.xack(self.stream, self.group, entry_id)

    def pending_count(self):
        return self.client.xpending(self.stream, self.group)["pending"]


def follow(reader, *, count=50, wait_ms=1000, should_stop=lambda: False, sleep=time.sleep):
    """Batches of alerts as they come, for as long as ``should_stop()`` is false.

    Waits ``wait_ms`` at a time (so a stop request is seen within that), and
    keeps waiting while Redis is unreachable: one log line when it goes, one
    when it is back.
    """
    failing, delay = False, 0.1
    while not should_stop():
        try:
            entries = reader.read(count=count, block_ms=wait_ms)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            if not failing:
                _log.warning("newsmon: Redis unreachable (%s); waiting for it to come back", error)
                failing = True
            sleep(delay)
            delay = min(delay * 2, 2.0)
            continue
        if failing:
            _log.warning("newsmon: Redis is back")
            failing, delay = False, 0.1
        if entries:
            yield entries
