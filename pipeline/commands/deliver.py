"""``newsmon deliver``: send a subscription's alerts to a webhook, a mailbox or a chat, at least once.

    newsmon deliver nord-stream --webhook https://chat.example/hooks/abc [--once] [--give-up-after 24h]
    newsmon deliver nord-stream --email desk@example.org --smtp smtp://desk@mail.example.org:587 --starttls
    newsmon deliver nord-stream --email desk@example.org --digest daily --at 07:00 --tz Europe/Oslo
    newsmon deliver nord-stream --notify "slack://T000/B000/XXXX"      # any apprise URL

Reads with a consumer group (``webhook-``, ``email-`` or ``notify-<hash of the
target>`` unless ``--group``; a new group starts at the next new alert unless
``--from-start``) and acknowledges an alert only after it was sent
(connectors/delivery.py). While the channel is down or busy (no connection,
HTTP 408/425/429/5xx, SMTP 4xx) the deliverer waits as a whole, with
exponential backoff and jitter and never sooner than ``Retry-After``; an
alert goes to the dead letters only after failing for ``--give-up-after``, or
at once when it is refused (another HTTP 4xx, SMTP 5xx, a rejected
recipient). ``newsmon deadletters retry`` sends dead letters again.

With ``--digest hourly|daily|weekly`` the alerts of each period go out as one
message when the period ends (connectors/digest.py): an empty period sends
nothing, and each digest is sent once, whichever of several deliverers gets
to it first, across restarts.

Secrets stay out of ``ps`` and logs: ``--smtp`` defaults to
``$NEWSMON_SMTP_URL``, the password may come from ``$NEWSMON_SMTP_PASSWORD``
or ``--smtp-password-file``, a bare ``--notify`` reads ``$NEWSMON_NOTIFY_URL``;
every line newsmon prints masks passwords and tokens.

At least once: a deliverer stopped between a send and its ack sends that alert
again, with the same ``Idempotency-Key`` (webhook) or ``Message-ID`` (email).
"""

import argparse
import hashlib
import logging
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.commands.alerts import add_consumer_arguments, alert_reader, alert_stream, stop_on_signals
from pipeline.errors import EXIT_INPUTS_FAILED, EXIT_OK, UsageError
from pipeline.options import add_redis_arguments, connect_redis

__all__ = ["add_parser", "duration_seconds", "email_channel", "notify_channel"]

_log = logging.getLogger(__name__)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text):
    """``"24h"``, ``"30m"``, ``"90s"``, ``"2d"`` or a number of seconds -> seconds (argparse type)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration like 90s, 30m, 24h or 2d, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _short_hash(*parts):
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


def _smtp_password(args):
    if args.smtp_password_file:
        try:
            return Path(args.smtp_password_file).read_text(encoding="utf-8").strip("\r\n")
        except OSError as error:
            raise UsageError(f"--smtp-password-file {args.smtp_password_file}: {error.strerror or error}") from None
    return os.environ.get("NEWSMON_SMTP_PASSWORD")


def email_channel(args):
    """The EmailChannel the ``--email/--smtp/...`` arguments describe (UsageError: one line why)."""
    from connectors.email_delivery import EmailChannel, smtp_config

    url = args.smtp or os.environ.get("NEWSMON_SMTP_URL")
    if not url:
        raise UsageError("--email needs an SMTP server: --smtp smtp://[USER@]HOST[:PORT] or $NEWSMON_SMTP_URL")
    try:
        config = smtp_config(url, starttls=args.starttls, tls=args.tls, password=_smtp_password(args),
                             cafile=args.smtp_cafile)
        if args.smtp_cafile and not Path(args.smtp_cafile).is_file():
            raise UsageError(f"--smtp-cafile {args.smtp_cafile}: no such file")
        sender = args.sender or f"newsmon@{config.host if '.' in config.host else 'localhost'}"
        channel = EmailChannel(config, to=args.email, sender=sender, unsubscribe=args.unsubscribe)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.smtp and ":" in (urlsplit(args.smtp).netloc.rpartition("@")[0]):
        _log.warning("newsmon: the password in --smtp is visible to every user in ps; prefer"
                     " $NEWSMON_SMTP_PASSWORD, --smtp-password-file or $NEWSMON_SMTP_URL")
    return channel


def notify_channel(args):
    from connectors.notify import NotifyChannel

    url = args.notify if args.notify != "-" else os.environ.get("NEWSMON_NOTIFY_URL", "")
    if not url:
        raise UsageError("--notify without a URL reads $NEWSMON_NOTIFY_URL, which is not set")
    try:
        channel = NotifyChannel(url)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.notify != "-":
        _log.warning("newsmon: the --notify URL (and its token) is visible to every user in ps; prefer"
                     " $NEWSMON_NOTIFY_URL with a bare --notify")
    return channel


def _channel(args):
    """(channel, default group name) of the arguments."""
    if args.webhook:
        from connectors.webhook import WebhookChannel

        if args.digest:
            raise UsageError("--digest goes with --email or --notify (a webhook gets every alert as it happens)")
        try:
            return WebhookChannel(args.webhook), "webhook-" + hashlib.sha256(args.webhook.encode()).hexdigest()[:8]
        except ValueError as error:
            raise UsageError(str(error)) from None
    if args.email:
        channel = email_channel(args)
        return channel, "email-" + _short_hash(*sorted(channel.to), channel.config.host, str(channel.config.port))
    channel = notify_channel(args)
    return channel, "notify-" + _short_hash(channel.url_id)


def _check_channel(channel):
    """A login refused or TLS that cannot work is a configuration error: say so before reading
    anything. A server that is down is not: delivery waits for it."""
    check = getattr(channel, "check", None)
    if check is None:
        return
    result = check()
    if not result.ok and not result.retryable:
        raise UsageError(result.error)
    if not result.ok:
        _log.warning("newsmon: %s; alerts wait for it", result.error)


def run(args, _beam_args):
    from connectors.delivery import AlertDeliverer

    if args.digest is None and (args.at or args.tz or args.weekday):
        raise UsageError("--at, --tz and --weekday go with --digest hourly|daily|weekly")
    schedule = _schedule(args) if args.digest else None
    channel, group = _channel(args)
    _url, _server, client, keys = connect_redis(args)
    args.group = args.group or group
    try:
        _check_channel(channel)
        options = {"deadletter_stream": keys.deadletter, "give_up_after": args.give_up_after,
                   "backoff_seconds": args.backoff, "max_backoff": max(args.max_backoff, args.backoff)}
        if schedule is not None:
            return _run_digest(args, client, keys, channel, schedule, options)
        deliverer = AlertDeliverer(alert_reader(args, client, keys, "deliver"), channel, **options)
        if not args.once:
            stop_on_signals(deliverer.stop)
        try:
            deliverer.run(follow=not args.once)
        finally:
            print(f"delivered {deliverer.delivered} alert(s) to {channel.kind} {channel.target};"
                  f" {deliverer.dead} moved to {keys.deadletter}", file=sys.stderr)
        return EXIT_INPUTS_FAILED if deliverer.dead else EXIT_OK
    finally:
        channel.close()


def _schedule(args):
    from connectors.digest import DigestSchedule

    try:
        return DigestSchedule(args.digest, at=args.at or "00:00", tz=args.tz or "UTC",
                              weekday=args.weekday or "mon")
    except ValueError as error:
        raise UsageError(str(error)) from None


def _run_digest(args, client, keys, channel, schedule, options):
    from connectors.alert_consumer import default_consumer_name
    from connectors.digest import DigestDeliverer

    stream = alert_stream(client, keys, args.subscription)
    deliverer = DigestDeliverer(client, stream, args.subscription, schedule, channel,
                                state_key=f"{keys.prefix}digest:{args.subscription}:{args.group}",
                                consumer=args.consumer or default_consumer_name("digest"),
                                from_start=args.from_start, lease_seconds=args.claim_idle, **options)
    if not args.once:
        stop_on_signals(deliverer.stop)
    try:
        deliverer.run(follow=not args.once)
    finally:
        print(f"sent {deliverer.sent} {schedule.kind} digest(s) of {deliverer.alerts_sent} alert(s) to"
              f" {channel.kind} {channel.target}; {deliverer.empty} empty period(s) sent nothing;"
              f" {deliverer.dead} moved to {keys.deadletter}", file=sys.stderr)
    return EXIT_INPUTS_FAILED if deliverer.dead else EXIT_OK


def add_parser(commands):
    deliver = commands.add_parser(
        "deliver", help="send a subscription's alerts to a webhook, email or chat (at least once)",
        description="Send each alert, and acknowledge it only after it was sent: to a webhook (--webhook: "
                    "POST as JSON with a 'text' field chat webhooks show and an 'Idempotency-Key' header), "
                    "by email (--email with --smtp: one multipart text+HTML message per alert, or per "
                    "--digest period) or to a chat or push service (--notify: any apprise URL, e.g. "
                    "slack://, msteams://, ntfy://, json://). Delivery is at least once: after a crash or "
                    "restart an alert may be sent again, with the same Idempotency-Key or Message-ID. "
                    "While the target is down or busy (no connection, HTTP 408/425/429/5xx, SMTP 4xx) the "
                    "deliverer waits with exponential backoff and jitter, honouring Retry-After; an alert "
                    "goes to the dead letters only after failing for --give-up-after, or at once when it "
                    "is refused (another HTTP 4xx, SMTP 5xx, a rejected recipient) (see 'newsmon "
                    "deadletters'). Runs until SIGTERM or Ctrl-C unless --once.",
        epilog="Secrets: --smtp defaults to $NEWSMON_SMTP_URL and its password may come from "
               "$NEWSMON_SMTP_PASSWORD or --smtp-password-file; a bare --notify reads $NEWSMON_NOTIFY_URL. "
               "Passwords and tokens are masked in everything newsmon prints.")
    deliver.add_argument("subscription")
    target = deliver.add_argument_group("where to (one of)").add_mutually_exclusive_group(required=True)
    target.add_argument("--webhook", metavar="URL", help="POST each alert as JSON to this http(s) URL")
    target.add_argument("--email", metavar="ADDRESS", action="append",
                        help="mail each alert (or digest) to this address (repeat for more)")
    target.add_argument("--notify", metavar="URL", nargs="?", const="-",
                        help="send each alert (or digest) through apprise to this URL (slack://..., "
                             "msteams://..., ntfy://..., json://...); bare: $NEWSMON_NOTIFY_URL")
    mail = deliver.add_argument_group("email")
    mail.add_argument("--smtp", metavar="URL",
                      help="SMTP server: smtp://[USER[:PASSWORD]@]HOST[:PORT] or smtps://... for implicit TLS "
                           "(default: $NEWSMON_SMTP_URL)")
    security = mail.add_mutually_exclusive_group()
    security.add_argument("--starttls", action="store_true", help="upgrade the connection with STARTTLS (port 587)")
    security.add_argument("--tls", action="store_true", help="implicit TLS from the first byte (port 465)")
    mail.add_argument("--smtp-password-file", metavar="FILE",
                      help="read the SMTP password from this file (else $NEWSMON_SMTP_PASSWORD, else the URL)")
    mail.add_argument("--smtp-cafile", metavar="FILE", help="also trust these CA certificates (a private server's)")
    mail.add_argument("--from", dest="sender", metavar="ADDRESS",
                      help="the sender address (default: newsmon@<SMTP host>)")
    mail.add_argument("--unsubscribe", metavar="URL",
                      help="the List-Unsubscribe target, https: or mailto: (default: a mail to the sender)")
    digest = deliver.add_argument_group("digests (email or notify)")
    digest.add_argument("--digest", choices=("hourly", "daily", "weekly"),
                        help="one message per period instead of one per alert (default: as it happens)")
    digest.add_argument("--at", metavar="HH:MM",
                        help="when a daily or weekly period ends (hourly: the minute, :MM) (default: 00:00)")
    digest.add_argument("--tz", metavar="ZONE", help="time zone of --at, e.g. Europe/Oslo (default: UTC)")
    digest.add_argument("--weekday", choices=("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
                        help="weekly: the day the period ends (default: mon)")
    deliver.add_argument("--give-up-after", type=duration_seconds, default=24 * 3600.0, metavar="DURATION",
                         help="dead-letter an alert that has failed this long, e.g. 30m, 24h, 2d (default: 24h)")
    deliver.add_argument("--backoff", type=float, default=1.0, metavar="SECONDS",
                         help="first retry delay, doubled each time (default: 1.0)")
    deliver.add_argument("--max-backoff", type=float, default=300.0, metavar="SECONDS",
                         help="longest wait between two tries, unless Retry-After asks for more (default: 300)")
    deliver.add_argument("--once", action="store_true",
                         help="deliver what is waiting (digests: the periods that have ended), then exit")
    add_consumer_arguments(deliver, "webhook-, email- or notify-<hash of the target>")
    add_redis_arguments(deliver)
    deliver.set_defaults(func=run)
