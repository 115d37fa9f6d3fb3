"""Alerts to chat and push services through apprise: Slack, Teams, Telegram, Matrix, ntfy, ...

    channel = NotifyChannel("slack://T000/B000/XXXX")      # any URL apprise knows
    AlertDeliverer(reader, channel, deadletter_stream="newsmon:deadletter").run(follow=True)

One notification per alert (or per digest): the title is the alert's headline,
the body the same lines an email has (source, story with its source count,
evidence with the matched terms, link). apprise reports only success or
failure; the HTTP status its plugins log (``error=404.``) is read back so
that a refused notification (a 4xx other than 408/425/429) goes straight to
the dead letters while an unreachable or failing service (no connection, a
5xx) is retried with the backoff of connectors/delivery.py.

URLs carry tokens: ``target`` is apprise's own privacy-masked form of the URL,
the one used in logs, status lines and dead letters.
"""

import contextlib
import logging
import re

from connectors.alert_message import AlertView
from connectors.delivery import SendResult

__all__ = ["NotifyChannel"]

_STATUS = re.compile(r"error=(\d{3})")
_TITLE_CHARS = 250
_BODY_CHARS = 3500  # under the smallest common limit (Slack sections, Telegram 4096)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(" ".join(record.getMessage().split()))


def _masked_url(url):
    return re.sub(r"(//[^/@:]*:)[^@/]*@", r"\1***@", url)


class NotifyChannel:
    """Sends alerts through one apprise URL (the channel of connectors/delivery.py)."""

    kind = "notify"

    def __init__(self, url):
        import apprise

        self._apprise = apprise.Apprise()
        self._logger = logging.getLogger("apprise")
        with self._collected():  # its own "Unparseable URL" line would be a second line
            added = self._apprise.add(url)
        if not added:
            scheme = url.split("://", 1)[0] if "://" in url else url[:20]
            raise ValueError(f"--notify: apprise does not know the URL {scheme}://… (see its list of services:"
                             " slack://, msteams://, tgram://, matrix://, ntfy://, json://, ...)")
        self._plugin = self._apprise[0]
        self.target = self._plugin.url(privacy=True)
        self.url_id = url  # only hashed (the default consumer group), never shown
        self._format = apprise.NotifyFormat.TEXT

    @contextlib.contextmanager
    def _collected(self):
        """apprise's log lines of a block, kept (not printed): its failure becomes our one line."""
        collect = _Collect()
        propagate = self._logger.propagate
        self._logger.addHandler(collect)
        self._logger.propagate = False
        try:
            yield collect
        finally:
            self._logger.removeHandler(collect)
            self._logger.propagate = propagate

    def message(self, payload):
        view = AlertView.from_entry(payload.get("entry_id", ""), payload, subscription=payload.get("subscription"))
        body = "\n".join(view.text().splitlines()[1:])  # the headline is the title
        return {"title": f"[{view.subscription}] {view.headline}"[:_TITLE_CHARS], "body": body[:_BODY_CHARS],
                "id": view.alert_id}

    def digest_message(self, digest):
        return {"title": digest.subject[:_TITLE_CHARS], "body": digest.text()[:_BODY_CHARS], "id": digest.digest_id}

    def send(self, message):
        with self._collected() as collect:
            try:
                ok = self._apprise.notify(title=message["title"], body=message["body"], body_format=self._format)
            except Exception as error:  # noqa: BLE001 - a plugin's own bug: keep it as a failure, not a crash
                ok, collect.lines = False, [f"{type(error).__name__}: {error}"]
        if ok:
            return SendResult(200, ok=True)
        detail = collect.lines[-1] if collect.lines else "apprise reported a failure"
        codes = [int(code) for line in collect.lines for code in _STATUS.findall(line)]
        status = codes[-1] if codes else 0
        retryable = status == 0 or status in (408, 425, 429) or status >= 500
        return SendResult(status, _masked_url(detail), ok=False, retryable=retryable)

    def dead_letter_fields(self, message):
        import json

        return {"notify": self.target, "message": json.dumps(message, ensure_ascii=False)}

    def close(self):
        pass
