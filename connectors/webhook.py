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
import time

import httpx

from connectors.delivery import DEFAULT_GIVE_UP_AFTER, AlertDeliverer, SendResult

__all__ = [
    "DEFAULT_GIVE_UP_AFTER",
    "WebhookChannel",
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
RETRYABLE_STATUSES = frozenset({408, 425, 429})
_RESPONSE_BYTES = 500
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


class PostResult(SendResult):
    """What one POST gave: ``status`` (0 when no response came), ``error`` (empty on a 2xx),
    ``body`` (the response's first bytes), ``retry_after`` (the raw header)."""


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


class WebhookChannel:
    """POSTs alert payloads as JSON to one URL (the channel of connectors/delivery.py)."""

    kind = "webhook"

    def __init__(self, url, *, timeout_seconds=10.0, client=None):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http:// or https://, got {url!r}")
        self.url = url
        self.target = url
        self._client = client or _http_client(timeout_seconds)

    def message(self, payload):
        return payload

    def send(self, payload):
        return post_alert(self._client, self.url, payload)

    def dead_letter_fields(self, payload):
        return {"webhook": self.url, "payload": json.dumps(payload, ensure_ascii=False)}

    def close(self):
        self._client.close()


class WebhookDeliverer(AlertDeliverer):
    """Reads alerts with an AlertReader and POSTs them to one URL (see the module docstring)."""

    def __init__(self, reader, url, *, deadletter_stream, give_up_after=DEFAULT_GIVE_UP_AFTER,
                 backoff_seconds=1.0, max_backoff=300.0, timeout_seconds=10.0, client=None, sleep=None,
                 clock=time.monotonic, jitter=random.random):
        super().__init__(reader, WebhookChannel(url, timeout_seconds=timeout_seconds, client=client),
                         deadletter_stream=deadletter_stream, give_up_after=give_up_after,
                         backoff_seconds=backoff_seconds, max_backoff=max_backoff, sleep=sleep, clock=clock,
                         jitter=jitter)
        self.url = url


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
