"""Delivering alerts to a webhook: POST each one as JSON, ack only after a 2xx.

    deliverer = WebhookDeliverer(reader, "https://chat.example/hook", deadletter_stream="newsmon:deadletter")
    deliverer.run(follow=True)

The JSON body carries every alert field plus ``text``, a one-paragraph
summary a chat webhook can show as it is:

    {"text": "[ns2] Germany halts Nord Stream 2 certification — https://… (sanctions)\\n> evidence …",
     "subscription": "ns2", "title": "…", "url": "…", "topics": [...], "entities": [...], ...}

A failed POST is retried with exponential backoff; after ``attempts``
failures the alert goes to the dead-letter stream with the last error and is
acknowledged, so one bad alert never blocks the rest. A stopped deliverer
resumes where it left off (its consumer group remembers).
"""

import json
import logging
import time

import httpx

__all__ = ["WebhookDeliverer", "alert_payload"]

_log = logging.getLogger(__name__)
_JSON_FIELDS = ("terms", "evidence", "topics", "entities")
USER_AGENT = "newsmon/0.1 (alert webhook)"


def alert_payload(entry_id, fields):
    """The JSON body for one alert entry."""
    payload = {"entry_id": entry_id}
    for name, value in fields.items():
        if name in _JSON_FIELDS:
            try:
                value = json.loads(value)
            except (TypeError, ValueError):
                pass
        payload[name] = value
    topics = ", ".join(t["id"] for t in payload.get("topics", ()) if isinstance(t, dict))
    headline = f"[{payload.get('subscription', '')}] {payload.get('title', '')}"
    if payload.get("url"):
        headline += f" — {payload['url']}"
    if topics:
        headline += f" ({topics})"
    evidence = payload.get("evidence") or []
    payload["text"] = headline + (f"\n> {evidence[0]}" if evidence else "")
    return payload


class WebhookDeliverer:
    """Reads alerts with an AlertReader and POSTs them to one URL."""

    def __init__(self, reader, url, *, deadletter_stream, attempts=5, backoff_seconds=1.0,
                 timeout_seconds=10.0, client=None, sleep=time.sleep):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http:// or https://, got {url!r}")
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.reader = reader
        self.url = url
        self.deadletter_stream = deadletter_stream
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self._client = client or httpx.Client(timeout=timeout_seconds, headers={"User-Agent": USER_AGENT})
        self._sleep = sleep
        self.delivered = 0
        self.dead = 0

    def _post(self, payload):
        """None on a 2xx, else the error."""
        try:
            response = self._client.post(self.url, json=payload)
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    def deliver(self, entry_id, fields):
        """Deliver one alert (retrying), or dead-letter it; then acknowledge it."""
        payload = alert_payload(entry_id, fields)
        delay = self.backoff_seconds
        for attempt in range(1, self.attempts + 1):
            error = self._post(payload)
            if error is None:
                self.reader.ack(entry_id)
                self.delivered += 1
                return True
            if attempt < self.attempts:
                self._sleep(delay)
                delay *= 2
        _log.warning("newsmon: alert %s of %s not delivered to %s after %d attempts: %s",
                     entry_id, self.reader.stream, self.url, self.attempts, error)
        self.reader.client.xadd(self.deadletter_stream, {
            "stage": "deliver", "origin": f"{self.reader.stream}/{entry_id}", "error": error,
            "article_id": fields.get("id", ""), "payload": json.dumps(payload, ensure_ascii=False)[:4000],
            "webhook": self.url,
        })
        self.reader.ack(entry_id)
        self.dead += 1
        return False

    def run(self, *, follow=False, block_ms=5000, should_stop=lambda: False):
        """Deliver until the stream is drained (or, with ``follow``, until ``should_stop()``)."""
        while not should_stop():
            entries = self.reader.read(block_ms=block_ms if follow else None)
            if not entries and not follow:
                return
            for entry_id, fields in entries:
                self.deliver(entry_id, fields)
