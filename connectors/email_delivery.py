"""Alerts by email: one message per alert (or per digest) through a real SMTP conversation.

    config = smtp_config("smtp://desk@mail.example.org:587", starttls=True, password=os.environ[...])
    channel = EmailChannel(config, to=["desk@example.org"], sender="newsmon@example.org")
    AlertDeliverer(reader, channel, deadletter_stream="newsmon:deadletter").run(follow=True)

What a desk receives for one alert (multipart: this text, and the same as HTML):

    Subject: [newsmon ns2] New story: Germany halts Nord Stream 2
    Message-ID: <alert.ns2.1715680000000-0@example.org>
    List-Unsubscribe: <mailto:newsmon@example.org?subject=unsubscribe%20ns2>

    New story: Germany halts Nord Stream 2
    source: Reuters  published: 2021-05-18T07:30:00Z
    topics: sanctions
    story 3f2a9c: 4 sources, 5 articles
    evidence: “The US imposed sanctions on Nord Stream 2 AG.” (matched: nord stream, sanctions)
    https://news.example/ns2

The ``Message-ID`` is derived from the alert id (or the digest id), so a
message sent again after a crash or from the dead letters carries the same id
and a mail client or a filter can recognise the repeat.

SMTP answers map onto the retry classes of connectors/delivery.py: no
connection, a dropped connection, a timeout or a 4xx reply (greylisting, a
full queue, "try again later") is retryable; a 5xx reply (a rejected
recipient or sender, a refused message, a failed login) is permanent: the
message goes to the dead letters with the server's reply. The connection is
kept open between messages and opened again after any failure.

Secrets: the password comes from the URL, ``$NEWSMON_SMTP_PASSWORD`` or a
file; ``SmtpConfig.display`` (used in every log line, status and error) masks it.
"""

import hashlib
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import quote, unquote, urlsplit

from connectors.alert_message import AlertView
from connectors.delivery import SendResult

__all__ = ["EmailChannel", "SmtpConfig", "alert_email", "check_address", "message_id", "smtp_config"]

_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_TIMEOUT = 30.0
_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send: ``smtp_config(url, ...)`` builds and checks one."""

    host: str
    port: int
    username: str = ""
    password: str = ""
    security: str = "none"  # "none", "starttls" or "tls" (implicit TLS, smtps://)
    cafile: str = None  # extra CA certificates to trust (a private mail server's)
    timeout: float = _TIMEOUT

    @property
    def display(self):
        """The server as a URL for people, the password masked: ``smtp://desk:***@host:587 (starttls)``."""
        scheme = "smtps" if self.security == "tls" else "smtp"
        user = f"{quote(self.username, safe='')}{':***' if self.password else ''}@" if self.username else ""
        suffix = " (starttls)" if self.security == "starttls" else ""
        return f"{scheme}://{user}{self.host}:{self.port}{suffix}"

    @property
    def without_password(self):
        """The URL to keep in a dead letter: everything but the password."""
        scheme = "smtps" if self.security == "tls" else "smtp"
        user = f"{quote(self.username, safe='')}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"

    def ssl_context(self):
        context = ssl.create_default_context(cafile=self.cafile)
        return context


def _masked(url):
    """A URL as given, its password (if any) masked, for error messages."""
    return re.sub(r"(//[^/@:]*:)[^@/]*@", r"\1***@", url)


def smtp_config(url, *, starttls=False, tls=False, password=None, cafile=None, timeout=_TIMEOUT):
    """An SmtpConfig from ``smtp://[user[:password]@]host[:port]`` (or ``smtps://`` for implicit TLS).

    ``password`` (from the environment or a file) wins over one in the URL. ValueError, one
    line and the password masked, for anything malformed.
    """
    usage = "expected smtp://[USER[:PASSWORD]@]HOST[:PORT] or smtps://..."
    if starttls and tls:
        raise ValueError("--starttls and --tls exclude each other (--tls: implicit TLS, usually port 465)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"bad SMTP URL {_masked(url)!r}: {error}; {usage}") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"bad SMTP URL {_masked(url)!r}: {usage}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"bad SMTP URL {_masked(url)!r}: no path or query expected; {usage}")
    if parts.scheme == "smtps":
        if starttls:
            raise ValueError("smtps:// is implicit TLS; --starttls goes with smtp://")
        tls = True
    security = "tls" if tls else "starttls" if starttls else "none"
    default_port = 465 if tls else 587 if starttls else 25
    return SmtpConfig(host=parts.hostname, port=port or default_port, username=unquote(parts.username or ""),
                      password=password if password is not None else unquote(parts.password or ""),
                      security=security, cafile=cafile, timeout=timeout)


def check_address(address, what="--email"):
    """``address`` if it is one plain mail address, else ValueError (one line)."""
    name, plain = parseaddr(address)
    if not plain or plain != address.strip() or not _ADDRESS.fullmatch(plain):
        raise ValueError(f"{what} {address!r} is not a mail address (expected name@domain)")
    return plain


def _domain(address):
    return address.rpartition("@")[2] or "newsmon.invalid"


def message_id(kind, ident, sender):
    """``<alert.ns2.1715680000000-0@example.org>``: derived from the alert or digest id only."""
    safe = re.sub(r"[^A-Za-z0-9._-]", ".", ident)
    return f"<{kind}.{safe}@{_domain(sender)}>"


def unsubscribe_header(subscription, sender, unsubscribe=None):
    """The List-Unsubscribe value: the given URL or mailto:, else a mail to the sender asking to stop."""
    if unsubscribe:
        return f"<{unsubscribe}>"
    return f"<mailto:{sender}?subject={quote('unsubscribe ' + subscription)}>"


def _message(*, subject, text, html, sender, to, msg_id, subscription, unsubscribe, date=None):
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = Address("newsmon", addr_spec=sender)
    message["To"] = ", ".join(to)
    message["Date"] = date or formatdate(localtime=False)
    message["Message-ID"] = msg_id
    message["List-Id"] = f"newsmon alerts: {subscription} <{subscription}.{_domain(sender)}>"
    message["List-Unsubscribe"] = unsubscribe_header(subscription, sender, unsubscribe)
    if unsubscribe and unsubscribe.startswith("https://"):
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    message.set_content(text)
    message.add_alternative(f"<!DOCTYPE html>\n<html><body>\n{html}\n</body></html>\n", subtype="html")
    return message


def alert_email(payload, *, sender, to, unsubscribe=None):
    """The message for one alert payload (connectors/webhook.alert_payload)."""
    view = AlertView.from_entry(payload.get("entry_id", ""), payload, subscription=payload.get("subscription"))
    footer = f"\n\n-- \nnewsmon subscription {view.subscription}, alert {view.alert_id}\n"
    return _message(subject=f"[newsmon {view.subscription}] {view.headline}", text=view.text() + footer,
                    html=view.html() + f"\n<p><small>newsmon subscription {view.subscription},"
                                       f" alert {view.alert_id}</small></p>",
                    sender=sender, to=to, msg_id=message_id("alert", view.alert_id, sender),
                    subscription=view.subscription, unsubscribe=unsubscribe,
                    date=formatdate(view.written.timestamp()) if view.entry_id else None)


def _code_result(code, reply, what):
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    text = " ".join(text.split())
    return SendResult(code, f"SMTP {code} {text}" + (f" ({what})" if what else ""), text,
                      ok=False, retryable=400 <= code < 500)


class EmailChannel:
    """Sends messages to ``to`` through one SMTP server (the channel of connectors/delivery.py)."""

    kind = "email"

    def __init__(self, config, *, to, sender, unsubscribe=None, local_hostname=None):
        self.config = config
        self.to = [check_address(address) for address in to]
        if not self.to:
            raise ValueError("--email: give at least one address")
        self.sender = check_address(sender, "--from")
        self.unsubscribe = unsubscribe
        self.local_hostname = local_hostname
        self.target = f"{', '.join(self.to)} via {config.display}"
        self._smtp = None

    def message(self, payload):
        return alert_email(payload, sender=self.sender, to=self.to, unsubscribe=self.unsubscribe)

    def digest_message(self, digest):
        """The message for one digest (connectors/digest.Digest): one entry per story, with its source count."""
        footer = f"\n-- \nnewsmon subscription {digest.subscription}, digest {digest.digest_id}\n"
        return _message(subject=digest.subject, text=digest.text() + footer, html=digest.html(),
                        sender=self.sender, to=self.to, msg_id=message_id("digest", digest.digest_id, self.sender),
                        subscription=digest.subscription, unsubscribe=self.unsubscribe,
                        date=formatdate(digest.end.timestamp()))

    def _connect(self):
        config = self.config
        if config.security == "tls":
            smtp = smtplib.SMTP_SSL(config.host, config.port, local_hostname=self.local_hostname,
                                    timeout=config.timeout, context=config.ssl_context())
        else:
            smtp = smtplib.SMTP(config.host, config.port, local_hostname=self.local_hostname,
                                timeout=config.timeout)
        try:
            smtp.ehlo()
            if config.security == "starttls":
                smtp.starttls(context=config.ssl_context())
                smtp.ehlo()
            if config.username:
                smtp.login(config.username, config.password)
        except BaseException:
            _quietly_close(smtp)
            raise
        return smtp

    def check(self):
        """Connect and log in once: a SendResult (a failed login is permanent, not retryable)."""
        return self._attempt(lambda smtp: None)

    def send(self, message):
        return self._attempt(lambda smtp: smtp.send_message(message, from_addr=self.sender, to_addrs=self.to))

    def _attempt(self, action):
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            refused = action(self._smtp) or {}
        except smtplib.SMTPRecipientsRefused as error:
            self._reset()
            codes = [code for code, _reply in error.recipients.values()]
            code, reply = max(error.recipients.values(), key=lambda item: item[0])
            who = ", ".join(error.recipients)
            result = _code_result(code, reply, f"recipient {who} refused")
            result._retryable = all(400 <= c < 500 for c in codes)
            return result
        except smtplib.SMTPAuthenticationError as error:
            self._reset()
            result = _code_result(error.smtp_code, error.smtp_error,
                                  f"login as {self.config.username!r} refused by {self.config.display}")
            result._retryable = False
            return result
        except smtplib.SMTPNotSupportedError as error:
            self._reset()
            return SendResult(0, f"SMTP server {self.config.display}: {error}", ok=False, retryable=False)
        except smtplib.SMTPSenderRefused as error:
            self._reset()
            return _code_result(error.smtp_code, error.smtp_error, f"sender {self.sender} refused")
        except smtplib.SMTPServerDisconnected as error:
            self._reset()
            return SendResult(0, f"SMTP server {self.config.display} closed the connection ({error})",
                              ok=False, retryable=True)
        except smtplib.SMTPResponseException as error:
            self._reset()
            return _code_result(error.smtp_code, error.smtp_error, "")
        except ssl.SSLCertVerificationError as error:
            self._reset()
            return SendResult(0, f"TLS with {self.config.display}: {error.verify_message or error}",
                              ok=False, retryable=True)
        except (OSError, smtplib.SMTPException) as error:
            self._reset()
            reason = "timed out" if isinstance(error, (socket.timeout, TimeoutError)) else (
                error.strerror or str(error) if isinstance(error, OSError) else str(error))
            return SendResult(0, f"SMTP server {self.config.display}: {type(error).__name__}: {reason}",
                              ok=False, retryable=True)
        if refused:  # some recipients took it, some did not: delivered, and said once
            who = ", ".join(refused)
            return SendResult(250, "", f"refused by some recipients: {who}", ok=True)
        return SendResult(250, ok=True)

    def dead_letter_fields(self, message):
        return {"email": ", ".join(self.to), "smtp": self.config.without_password,
                "message_id": str(message["Message-ID"]), "message": message.as_string()}

    def _reset(self):
        if self._smtp is not None:
            _quietly_close(self._smtp)
            self._smtp = None

    def close(self):
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._reset()


def _quietly_close(smtp):
    try:
        smtp.close()
    except OSError:
        pass


def stable_group(*parts):
    """A short stable hash of what identifies a delivery target (for consumer group names)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]
