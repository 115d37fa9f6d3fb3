"""At-least-once delivery of alerts over any channel: retries, backoff, dead letters.

    channel = WebhookChannel(url)              # or EmailChannel(...), NotifyChannel(...)
    deliverer = AlertDeliverer(reader, channel, deadletter_stream="newsmon:deadletter")
    deliverer.run(follow=True)

A channel turns one alert (or one digest) into a message and sends it; what
it answers is a ``SendResult``: ok, or a failure that is *retryable* (the
endpoint is down or busy: no connection, HTTP 408/425/429/5xx, SMTP 4xx) or
*permanent* (it refuses this message: another HTTP 4xx, SMTP 5xx, a rejected
recipient, a failed login). Everything else is here, the same for every
channel (connectors/webhook.py has the details):

- retryable: the deliverer backs off as a whole (exponential, with jitter,
  never sooner than Retry-After), one log line when the channel starts
  failing and one when it is back; only after ``give_up_after`` seconds of
  failures does the alert go to the dead letters.
- permanent: straight to the dead letters, and delivery goes on.
- a dead letter and the ack are one Redis transaction; Redis being away
  is waited out.

A channel provides ``kind`` ("webhook", "email", "notify"), ``target`` (where
to, for people: passwords and tokens masked), ``message(payload)`` (what to
send for one alert payload: connectors/webhook.alert_payload), ``send(message)``
-> SendResult, ``dead_letter_fields(message)`` (what a dead letter keeps to
send it again: never a secret) and ``close()``.
"""

import logging
import random
import threading
import time

import redis

from connectors import alert_consumer
from connectors.feed_fetch import parse_retry_after

__all__ = ["DEFAULT_GIVE_UP_AFTER", "AlertDeliverer", "SendResult", "describe_seconds", "wait_for_redis"]

_log = logging.getLogger(__name__)
DEFAULT_GIVE_UP_AFTER = 24 * 3600
DEADLETTER_MAXLEN = 100_000


class SendResult:
    """What one send gave: ``status`` (HTTP or SMTP code; 0 when no answer came), ``error``
    (empty when ok), ``body`` (the answer's first bytes), ``retry_after`` (the raw header),
    ``retryable`` (worth trying again: the endpoint, not the message, is at fault)."""

    def __init__(self, status=0, error="", body="", retry_after="", *, ok=None, retryable=None):
        self.status = status
        self.error = error
        self.body = body
        self.retry_after = retry_after
        self._ok = ok
        self._retryable = retryable

    @property
    def ok(self):
        return self._ok if self._ok is not None else 200 <= self.status < 300

    @property
    def retryable(self):
        if self.ok:
            return False
        if self._retryable is not None:
            return self._retryable
        from connectors.webhook import is_retryable

        return is_retryable(self.status)


def describe_seconds(seconds):
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def wait_for_redis(operation, *, stopping, sleep):
    """``operation()``, waiting while Redis is unreachable; False if ``stopping()`` meanwhile."""
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
            if stopping():
                return False
            sleep(delay)
            delay = min(delay * 2, 2.0)


class AlertDeliverer:
    """Reads alerts with an AlertReader and sends each through one channel (see the module docstring)."""

    def __init__(self, reader, channel, *, deadletter_stream, give_up_after=DEFAULT_GIVE_UP_AFTER,
                 backoff_seconds=1.0, max_backoff=300.0, sleep=None, clock=time.monotonic, jitter=random.random):
        if not give_up_after > 0:
            raise ValueError(f"give_up_after must be a positive number of seconds, got {give_up_after!r}")
        if not backoff_seconds > 0 or max_backoff < backoff_seconds:
            raise ValueError("backoff_seconds must be positive and at most max_backoff")
        self.reader = reader
        self.channel = channel
        self.deadletter_stream = deadletter_stream
        self.give_up_after = give_up_after
        self.backoff_seconds = backoff_seconds
        self.max_backoff = max_backoff
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
        wanted = parse_retry_after(retry_after, time.time()) if retry_after else None
        return max(delay, wanted) if wanted is not None else delay

    def _channel_failing(self, result):
        if self._failing_since is None:
            self._failing_since = self._clock()
            _log.warning("newsmon: %s %s failing (%s); alerts wait, retrying with backoff for up to %s",
                         self.channel.kind, self.channel.target, result.error, describe_seconds(self.give_up_after))

    def _channel_ok(self):
        if self._failing_since is not None:
            _log.warning("newsmon: %s %s is back after %.0f s", self.channel.kind, self.channel.target,
                         self._clock() - self._failing_since)
            self._failing_since = None

    def send_until_done(self, message, *, while_waiting=None):
        """Send ``message``, backing off while the channel is down.

        Returns ``(outcome, result, attempts, reason)``: outcome ``"sent"``, ``"dead"`` (refused,
        or failing for ``give_up_after``: ``reason`` says which) or ``"stopped"`` (stop() was
        called while waiting). ``while_waiting(seconds)`` is called before each wait (a digest
        extends its claim with it).
        """
        first_failure, failures = None, 0
        while True:
            result = self.channel.send(message)
            if result.ok:
                self._channel_ok()
                return "sent", result, failures + 1, ""
            if not result.retryable:
                self._channel_ok()  # it answered: up, but refuses this message
                return "dead", result, failures + 1, result.error
            now = self._clock()
            first_failure = now if first_failure is None else first_failure
            failures += 1
            self._channel_failing(result)
            left = self.give_up_after - (now - first_failure)
            if left <= 0:
                reason = f"gave up after {describe_seconds(self.give_up_after)} of failures; last: {result.error}"
                return "dead", result, failures, reason
            wait = min(self._backoff(failures, result.retry_after), left)
            if while_waiting is not None:
                while_waiting(wait)
            self._sleep(wait)
            if self.stopping:
                return "stopped", result, failures, ""

    def deliver(self, entry_id, fields):
        """Deliver one alert, backing off while the channel is down; then acknowledge it.

        Returns ``"delivered"``, ``"dead"`` (moved to the dead letters) or ``"stopped"`` (stop() was
        called while waiting: not acknowledged, it is sent again next time).
        """
        from connectors.webhook import alert_payload

        payload = alert_payload(entry_id, fields, subscription=self.subscription)
        message = self.channel.message(payload)
        outcome, result, attempts, reason = self.send_until_done(message)
        if outcome == "sent":
            if not self._redis(lambda: self.reader.ack(entry_id)):
                return "stopped"
            self.delivered += 1
            return "delivered"
        if outcome == "stopped":
            return "stopped"
        return self._dead_letter(entry_id, fields, payload, message, result, reason, attempts)

    @property
    def subscription(self):
        prefix, _, name = self.reader.stream.rpartition("alerts:")
        return name if prefix or name else ""

    def dead_letter_record(self, *, origin, alert_id, subscription, article_id, message, result, error, attempts):
        """A ``deliver`` dead letter: what failed, where, and what to send again (no secrets)."""
        return {
            "stage": "deliver", "origin": origin, "error": error, "status": str(result.status or ""),
            "response": result.body, "article_id": article_id, "alert_id": alert_id, "subscription": subscription,
            "channel": self.channel.kind, "target": self.channel.target, "attempts": str(attempts),
            **self.channel.dead_letter_fields(message),
        }

    def _dead_letter(self, entry_id, fields, payload, message, result, error, attempts=1):
        _log.warning("newsmon: alert %s of %s not delivered to %s %s: %s; moved to %s", entry_id,
                     self.reader.stream, self.channel.kind, self.channel.target, error, self.deadletter_stream)
        record = self.dead_letter_record(
            origin=f"{self.reader.stream}/{entry_id}", alert_id=payload["alert_id"],
            subscription=payload.get("subscription", ""), article_id=fields.get("id", ""), message=message,
            result=result, error=error, attempts=attempts)

        def move():
            # The dead letter and the ack in one transaction: never both, never neither.
            pipe = self.reader.client.pipeline(transaction=True)
            pipe.xadd(self.deadletter_stream, record, maxlen=DEADLETTER_MAXLEN, approximate=True)
            pipe.xack(self.reader.stream, self.reader.group, entry_id)
            pipe.execute()

        if not self._redis(move):
            return "stopped"
        self.dead += 1
        return "dead"

    def _redis(self, operation):
        return wait_for_redis(operation, stopping=lambda: self.stopping, sleep=self._sleep)

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


def redeliver_any(client, deadletter_stream, entry_id, record, *, webhook=None, smtp=None, notify=None):
    """Send one ``deliver`` dead letter again over the channel it failed on; ``(sent, why not)``.

    A webhook dead letter goes to its webhook (or ``webhook``); an email one is sent as it was
    first built (same Message-ID) through ``smtp`` (a connectors.email_delivery.SmtpConfig: the
    dead letter keeps no password); a notify one through ``notify`` (an apprise URL: the dead
    letter keeps only its masked form). Deleted from the dead letters once sent.
    """
    import json

    channel = record.get("channel") or "webhook"
    if record.get("stage") != "deliver" or channel == "webhook":
        from connectors.webhook import redeliver

        return redeliver(client, deadletter_stream, entry_id, record, url=webhook)
    if not record.get("message"):
        return False, "no stored message to send again"
    if channel == "email":
        from email import message_from_string, policy
        from email.utils import parseaddr

        from connectors.email_delivery import EmailChannel

        if smtp is None:
            return False, f"an email dead letter: give --smtp (it failed on {record.get('smtp', '?')})"
        message = message_from_string(record["message"], policy=policy.default)
        sender = parseaddr(str(message["From"]))[1]
        target = EmailChannel(smtp, to=[a.strip() for a in record.get("email", "").split(",") if a.strip()],
                              sender=sender)
    elif channel == "notify":
        from connectors.notify import NotifyChannel

        if not notify:
            return False, f"a notify dead letter: give --notify URL (it failed on {record.get('notify', '?')})"
        message = json.loads(record["message"])
        target = NotifyChannel(notify)
    else:
        return False, f"unknown channel {channel!r}"
    try:
        result = target.send(message)
    finally:
        target.close()
    if not result.ok:
        return False, result.error
    client.xdel(deadletter_stream, entry_id)
    return True, ""
