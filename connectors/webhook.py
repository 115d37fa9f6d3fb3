"""Delivering alerts to a webhook: POST each one as JSON, ack only after a 2xx.

    deliverer = WebhookDeliverer(reader, "https://chat.example/hook", deadletter_stream="newsmon:deadletter")
    deliverer.run(follow=True)

The JSON body carries every alert field, ``alert_id`` and ``text``, a
one-paragraph summary a chat webhook can show as it is:

    {"alert_id": "ns2:1715680000000-0",
     "text": "[ns2] New story: Germany halts Nord Stream 2 — https://…\nstory 3f2a…: 4 sources, 5 articles",
     "subscription": "ns2", "alert": "new", "story": "3f2a…", "story_sources": 4, "story_articles": 5,
     "title": "…", "url": "…", "topics": [...], "entities": [...], ...}

``alert`` is "new" (a story's first matching article), "update" (the story grew as the
subscription asked; ``update`` says how) or "article" (``--per article``).

Delivery is at least once: an alert is acknowledged only after a 2xx, so a
deliverer stopped between the POST and the ack sends it again. Every POST
carries ``Idempotency-Key: <alert_id>`` (the same value as the body's
``alert_id``, the same on every re-send); a receiver that keeps the keys it
has seen for a day drops the repeats.

What a response does:

- 2xx: acknowledged.
- 408, 425, 429, 5xx and connection errors or timeouts: the endpoint is
  down or busy, not the alert at fault. The deliverer backs off **as a
  whole** (the same alert is tried again, the others wait behind it) with
  exponential backoff and jitter, never sooner than the server's
  ``Retry-After``. One log line when the endpoint starts failing, one when it
  is back. Only an alert that has failed for ``give_up_after`` seconds (24 h
  by default) goes to the dead letters, so an outage dead-letters nothing.
- any other status (400, 401, 404, 410, …): retrying will not help; the
  alert goes straight to the dead-letter stream with the status and the
  first bytes of the response, and delivery goes on.

Dead letters of this step (stage ``deliver``) keep the whole JSON body and
the webhook; ``redeliver`` sends one again (``newsmon deadletters retry``).
"""

import json
import logging
import random
import threading
import time

import httpx
import redis

from connectors import alert_consumer
from connectors.feed_fetch import parse_retry_after

__all__ = [
    "DEFAULT_GIVE_UP_AFTER",
    "WebhookDeliverer",
    "alert_id",
    "alert_payload",
    "is_retryable",
    "post_alert",
    "redeliver",
]

_log = logging.getLogger(__name__)
_JSON_FIELDS = ("terms", "evidence", "topics", "entities")
USER_AGENT = "newsmon/0.1 (alert webhook)"
DEFAULT_GIVE_UP_AFTER = 24 * 3600
RETRYABLE_STATUSES = frozenset({408, 425, 429})
_RESPONSE_BYTES = 500
_DEADLETTER_MAXLEN = 100_000


def alert_id(subscription, entry_id):
    """The id of one alert: its subscription and its entry on the subscription's stream."""
    return f"{subscription}:{entry_id}"


def alert_payload(entry_id, fields, *, subscription=None):
    """The JSON body for one alert entry."""
    subscription = subscription or fields.get("subscription", "")
    payload = {"alert_id": alert_id(subscription, entry_id), "entry_id": entry_id}
    for name, value in fields.items():
        if name in _JSON_FIELDS:
            try:
                value = json.loads(value)
            except (TypeError, ValueError):
                pass
        payload[name] = value
    for name in ("story_sources", "story_articles"):
        if str(payload.get(name, "")).isdigit():
            payload[name] = int(payload[name])
    topics = ", ".join(t["id"] for t in payload.get("topics", ()) if isinstance(t, dict))
    kind = {"new": "New story: ", "update": f"Update ({payload.get('update', '')}): "}.get(payload.get("alert"), "")
    headline = f"[{payload.get('subscription', '')}] {kind}{payload.get('title', '')}"
    if payload.get("url"):
        headline += f" — {payload['url']}"
    if topics:
        headline += f" ({topics})"
    evidence = payload.get("evidence") or []
    payload["text"] = headline + (f"\n> {evidence[0]}" if evidence else "")
    if payload.get("story") and payload.get("alert") in ("new", "update"):
        payload["text"] += (f"\nstory {payload['story']}: {payload.get('story_sources', '?')} sources,"
                            f" {payload.get('story_articles', '?')} articles")
    return payload


def is_retryable(status):
    """Whether a POST that got ``status`` (0: no response at all) is worth trying again."""
    return status == 0 or status in RETRYABLE_STATUSES or 500 <= status < 600


class PostResult:
    """What one POST gave: ``status`` (0 when no response came), ``error`` (empty on a 2xx),
    ``body`` (the response's first bytes), ``retry_after`` (the raw header)."""

    def __init__(self, status=0, error="", body="", retry_after=""):
        self.status = status
        self.error = error
        self.body = body
        self.retry_after = retry_after

    @property
    def ok(self):
        return 200 <= self.status < 300

    @property
    def retryable(self):
        return not self.ok and is_retryable(self.status)


def post_alert(client, url, payload):
    """POST one alert body with its Idempotency-Key; a PostResult, never an exception."""
    headers = {"Idempotency-Key": payload["alert_id"]}
    try:
        response = client.post(url, json=payload, headers=headers)
    except httpx.HTTPError as error:
        return PostResult(error=f"{type(error).__name__}: {error}".rstrip(": "))
    status = response.status_code
    if 200 <= status < 300:
        return PostResult(status)
    text = response.content[:_RESPONSE_BYTES].decode("utf-8", "replace")
    return PostResult(status, f"HTTP {status} {response.reason_phrase}".rstrip(), text,
                      response.headers.get("retry-after", ""))


def _http_client(timeout_seconds):
    return httpx.Client(timeout=timeout_seconds, headers={"User-Agent": USER_AGENT}, follow_redirects=False)


def _describe(seconds):
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


class WebhookDeliverer:
    """Reads alerts with an AlertReader and POSTs them to one URL (see the module docstring)."""

    def __init__(self, reader, url, *, deadletter_stream, give_up_after=DEFAULT_GIVE_UP_AFTER,
                 backoff_seconds=1.0, max_backoff=300.0, timeout_seconds=10.0, client=None, sleep=None,
                 clock=time.monotonic, jitter=random.random):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http:// or https://, got {url!r}")
        if not give_up_after > 0:
            raise ValueError(f"give_up_after must be a positive number of seconds, got {give_up_after!r}")
        if not backoff_seconds > 0 or max_backoff < backoff_seconds:
            raise ValueError("backoff_seconds must be positive and at most max_backoff")
        self.reader = reader
        self.url = url
        self.deadletter_stream = deadletter_stream
        self.give_up_after = give_up_after
        self.backoff_seconds = backoff_seconds
        self.max_backoff = max_backoff
        self._client = client or _http_client(timeout_seconds)
        self._stopped = threading.Event()
        self._sleep = sleep or self._stopped.wait
        self._clock = clock
        self._jitter = jitter
        self._failing_since = None
        self.delivered = 0
        self.dead = 0

    def stop(self):
        """Ask ``run`` to return; a backoff wait in progress ends at once."""
        self._stopped.set()

    @property
    def stopping(self):
        return self._stopped.is_set()

    def _backoff(self, failures, retry_after):
        """Exponential backoff with jitter (half the delay fixed, half random), never sooner
        than Retry-After."""
        delay = min(self.max_backoff, self.backoff_seconds * 2 ** (failures - 1))
        delay = delay / 2 + delay / 2 * self._jitter()
        wanted = parse_retry_after(retry_after, time.time())
        return max(delay, wanted) if wanted is not None else delay

    def _endpoint_failing(self, result):
        if self._failing_since is None:
            self._failing_since = self._clock()
            _log.warning("newsmon: webhook %s failing (%s); alerts wait, retrying with backoff for up to %s",
                         self.url, result.error, _describe(self.give_up_after))

    def _endpoint_ok(self):
        if self._failing_since is not None:
            _log.warning("newsmon: webhook %s is back after %.0f s", self.url, self._clock() - self._failing_since)
            self._failing_since = None

    def deliver(self, entry_id, fields):
        """Deliver one alert, backing off while the endpoint is down; then acknowledge it.

        Returns ``"delivered"``, ``"dead"`` (moved to the dead letters) or ``"stopped"`` (stop()
        was called while waiting: not acknowledged, it is sent again next time).
        """
        payload = alert_payload(entry_id, fields, subscription=self._subscription())
        first_failure, failures = None, 0
        while True:
            result = post_alert(self._client, self.url, payload)
            if result.ok:
                self._endpoint_ok()
                if not self._redis(lambda: self.reader.ack(entry_id)):
                    return "stopped"
                self.delivered += 1
                return "delivered"
            if not result.retryable:
                self._endpoint_ok()  # it answered: up, but refuses this alert
                return self._dead_letter(entry_id, fields, payload, result, result.error)
            now = self._clock()
            first_failure = now if first_failure is None else first_failure
            failures += 1
            self._endpoint_failing(result)
            left = self.give_up_after - (now - first_failure)
            if left <= 0:
                reason = f"gave up after {_describe(self.give_up_after)} of failures; last: {result.error}"
                return self._dead_letter(entry_id, fields, payload, result, reason, attempts=failures)
            self._sleep(min(self._backoff(failures, result.retry_after), left))
            if self.stopping:
                return "stopped"

    def _subscription(self):
        prefix, _, name = self.reader.stream.rpartition("alerts:")
        return name if prefix or name else ""

    def _dead_letter(self, entry_id, fields, payload, result, error, attempts=1):
        _log.warning("newsmon: alert %s of %s not delivered to %s: %s; moved to %s",
                     entry_id, self.reader.stream, self.url, error, self.deadletter_stream)
        record = {
            "stage": "deliver", "origin": f"{self.reader.stream}/{entry_id}", "error": error,
            "status": str(result.status or ""), "response": result.body,
            "article_id": fields.get("id", ""), "alert_id": payload["alert_id"],
            "subscription": payload.get("subscription", ""), "webhook": self.url, "attempts": str(attempts),
            "payload": json.dumps(payload, ensure_ascii=False),
        }

        def move():
            # The dead letter and the ack in one transaction: never both, never neither.
            pipe = self.reader.client.pipeline(transaction=True)
            pipe.xadd(self.deadletter_stream, record, maxlen=_DEADLETTER_MAXLEN, approximate=True)
            pipe.xack(self.reader.stream, self.reader.group, entry_id)
            pipe.execute()

        if not self._redis(move):
            return "stopped"
        self.dead += 1
        return "dead"

    def _redis(self, operation):
        """``operation()``, waiting while Redis is unreachable; False if stopped meanwhile."""
        delay, failing = 0.1, False
        while True:
            try:
                operation()
                if failing:
                    _log.warning("newsmon: Redis is back")
                return True
            except (redis.ConnectionError, redis.TimeoutError) as error:
                if not failing:
                    _log.warning("newsmon: Redis unreachable (%s); waiting for it to come back", error)
                    failing = True
                if self.stopping:
                    return False
                self._sleep(delay)
                delay = min(delay * 2, 2.0)

    def run(self, *, follow=False, wait_ms=1000, should_stop=lambda: False):
        """Deliver until the stream is drained (or, with ``follow``, until ``should_stop()`` or
        ``stop()``)."""

        def stop_requested():
            return self.stopping or should_stop()

        if not follow:
            while not stop_requested():
                entries = self.reader.read()
                if not entries:
                    return
                self._deliver_all(entries, stop_requested)
            return
        for entries in alert_consumer.follow(self.reader, wait_ms=wait_ms, should_stop=stop_requested):
            self._deliver_all(entries, stop_requested)

    def _deliver_all(self, entries, stop_requested):
        for entry_id, fields in entries:
            if stop_requested() or self.deliver(entry_id, fields) == "stopped":
                return


def redeliver(client, deadletter_stream, entry_id, record, *, url=None, http_client=None, timeout_seconds=10.0):
    """Send one ``deliver`` dead letter again (to ``url``, else the webhook it failed on).

    On a 2xx the dead letter is deleted and ``(True, "")`` returned; otherwise it stays,
    ``(False, why)``. The body and its Idempotency-Key are the ones first sent.
    """
    if record.get("stage") != "deliver" or not record.get("payload"):
        stage = record.get("stage") or "pipeline"
        return False, f"a {stage} failure, not an undelivered alert: fix the input and rerun"
    url = url or record.get("webhook", "")
    if not url.startswith(("http://", "https://")):
        return False, f"no webhook URL to send it to (got {url!r})"
    try:
        payload = json.loads(record["payload"])
    except ValueError:
        return False, "its stored body is not JSON"
    payload.setdefault("alert_id", record.get("alert_id") or record.get("origin", entry_id))
    owned = http_client is None
    http_client = http_client or _http_client(timeout_seconds)
    try:
        result = post_alert(http_client, url, payload)
    finally:
        if owned:
            http_client.close()
    if not result.ok:
        detail = f": {result.body[:100]}" if result.body else ""
        return False, f"{result.error}{detail}"
    client.xdel(deadletter_stream, entry_id)
    return True, ""
