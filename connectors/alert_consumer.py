"""Reading alert streams with consumer groups, so that no alert is lost.

    reader = AlertReader(client, "newsmon:alerts:ns2", group="tail", consumer="desk-1")
    for entry_id, fields in reader.read(block_ms=5000):
        show(fields)
        reader.ack(entry_id)          # only after the alert was handled

``read`` returns, in this order: entries this consumer read before but never
acknowledged (it was stopped or crashed between read and ack), entries other
consumers left pending for longer than ``claim_idle_ms`` (XAUTOCLAIM: a dead
consumer's alerts), then new entries (XREADGROUP ``>``).
"""

import socket

import redis

__all__ = ["AlertReader", "default_consumer_name"]


def default_consumer_name(kind):
    return f"{kind}-{socket.gethostname()}"


class AlertReader:
    """One consumer of one consumer group on one stream."""

    def __init__(self, client, stream, *, group, consumer, claim_idle_ms=60_000, start="0"):
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = claim_idle_ms
        self._own_pending_done = False
        try:
            # A new group starts at the beginning of the stream ("0") unless told otherwise.
            client.xgroup_create(stream, group, id=start, mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def _own_pending(self, count):
        reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: "0"}, count=count)
        entries = reply[0][1] if reply else []
        # Entries trimmed from the stream come back with no fields: nothing to deliver.
        for entry_id, fields in entries:
            if not fields:
                self.ack(entry_id)
        return [(entry_id, fields) for entry_id, fields in entries if fields]

    def _claim(self, count):
        reply = self.client.xautoclaim(self.stream, self.group, self.consumer,
                                       min_idle_time=self.claim_idle_ms, start_id="0-0", count=count)
        claimed = reply[1] if reply else []
        return [(entry_id, fields) for entry_id, fields in claimed if fields]

    def read(self, *, count=50, block_ms=None):
        """The next alerts to handle (maybe none); blocks up to ``block_ms`` for new ones."""
        if not self._own_pending_done:
            pending = self._own_pending(count)
            if pending:
                return pending
            self._own_pending_done = True
        claimed = self._claim(count)
        if claimed:
            return claimed
        reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=count,
                                       block=block_ms)
        return reply[0][1] if reply else []

    def ack(self, entry_id):
        self.client.xack(self.stream, self.group, entry_id)

    def pending_count(self):
        return self.client.xpending(self.stream, self.group)["pending"]
