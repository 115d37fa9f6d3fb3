"""``newsmon deadletters``: what failed, and sending undelivered alerts again.

    newsmon deadletters list [--stage deliver] [--subscription NAME] [-n 20] [--json]
    newsmon deadletters retry ENTRY_ID... | --all [--subscription NAME] [--webhook URL]
                              [--smtp URL [--starttls|--tls]] [--notify URL]    (email / chat dead letters)
    newsmon deadletters remove ENTRY_ID...

The dead-letter stream (``<prefix>deadletter``) keeps every record a step
could not handle: a feed that failed, an article that could not be read, an
alert a webhook refused or that failed for ``--give-up-after``. ``list`` shows
them, newest first. ``retry`` POSTs undelivered alerts (stage ``deliver``)
again, with the body and ``Idempotency-Key`` first sent, to the webhook they
failed on (or ``--webhook URL``), and removes each that gets a 2xx; the
others stay. Pipeline failures cannot be re-sent: fix the input and run
again (a rerun writes nothing twice). ``remove`` deletes records by id.
"""

import json
import sys

from connectors.delivery import redeliver_any
from pipeline.errors import EXIT_INPUTS_FAILED, EXIT_OK, UsageError
from pipeline.options import add_redis_arguments, connect_redis
from transforms.normalize import strip_control_chars

__all__ = ["add_parser", "format_dead_letter"]


def format_dead_letter(entry_id, record):
    """A dead-letter record as a few lines of text."""
    lines = [f"[{entry_id}] {record.get('stage', '?')}  {record.get('origin', '')}",
             f"    error: {record.get('error', '')}"]
    if record.get("stage") == "deliver":
        channel = record.get("channel") or "webhook"
        target = record.get("webhook", "") if channel == "webhook" else record.get("target", "")
        lines.append(f"    {channel}: {target}  status: {record.get('status') or '-'}"
                     f"  alert: {record.get('alert_id', '')}")
        if record.get("response"):
            lines.append(f"    response: {' '.join(record['response'].split())[:200]}")
    elif record.get("article_id"):
        lines.append(f"    article: {record['article_id']}")
    return "\n".join(strip_control_chars(line) for line in lines)


def _selected(args, client, stream):
    """``[(entry id, record)]`` the arguments name, oldest first."""
    if getattr(args, "ids", None):
        found = []
        for entry_id in args.ids:
            entries = client.xrange(stream, min=entry_id, max=entry_id)
            if not entries:
                raise UsageError(f"no dead letter {entry_id!r} on {stream} (see: newsmon deadletters list)")
            found.extend(entries)
        return found
    entries = client.xrange(stream)
    if getattr(args, "stage", None):
        entries = [(i, r) for i, r in entries if r.get("stage") == args.stage]
    if getattr(args, "subscription", None):
        entries = [(i, r) for i, r in entries if r.get("subscription") == args.subscription]
    return entries


def run_list(args, _beam_args):
    _url, _server, client, keys = connect_redis(args)
    entries = _selected(args, client, keys.deadletter)[::-1][:args.count]
    if not entries:
        print(f"no dead letters on {keys.deadletter}", file=sys.stderr)
    for entry_id, record in entries:
        if args.json:
            print(json.dumps({"entry": entry_id, **record}, ensure_ascii=False))
        else:
            print(format_dead_letter(entry_id, record))
    return EXIT_OK


def run_retry(args, _beam_args):
    if not args.ids and not args.all:
        raise UsageError("name the dead letters to send again (ENTRY_ID ...), or --all")
    if args.ids and (args.all or args.subscription):
        raise UsageError("give ENTRY_IDs or --all [--subscription NAME], not both")
    _url, _server, client, keys = connect_redis(args)
    if args.all:
        args.stage = "deliver"
    entries = _selected(args, client, keys.deadletter)
    smtp, notify = _retry_channels(args)
    sent = kept = 0
    for entry_id, record in entries:
        ok, why = redeliver_any(client, keys.deadletter, entry_id, record, webhook=args.webhook, smtp=smtp,
                                notify=notify)
        if ok:
            sent += 1
            where = (args.webhook or record.get("webhook")) if record.get("channel", "webhook") == "webhook" else (
                record.get("target", ""))
            print(f"sent {entry_id} ({record.get('alert_id', '')}) to {where}")
        else:
            kept += 1
            print(f"kept {entry_id}: {why}", file=sys.stderr)
    print(f"{sent} sent again and removed from {keys.deadletter}; {kept} kept", file=sys.stderr)
    return EXIT_INPUTS_FAILED if kept else EXIT_OK


def _retry_channels(args):
    """The SMTP server and notifier URL to send email and chat dead letters through (secrets as for deliver)."""
    import os

    smtp = None
    url = args.smtp or os.environ.get("NEWSMON_SMTP_URL")
    if url:
        from connectors.email_delivery import smtp_config

        smtp = smtp_config(url, starttls=args.starttls, tls=args.tls, cafile=args.smtp_cafile,
                           password=os.environ.get("NEWSMON_SMTP_PASSWORD"))
    return smtp, args.notify or os.environ.get("NEWSMON_NOTIFY_URL")


def run_remove(args, _beam_args):
    _url, _server, client, keys = connect_redis(args)
    entries = _selected(args, client, keys.deadletter)
    client.xdel(keys.deadletter, *(entry_id for entry_id, _ in entries))
    print(f"removed {len(entries)} dead letter(s) from {keys.deadletter}")
    return EXIT_OK


def add_parser(commands):
    deadletters = commands.add_parser(
        "deadletters", help="list what failed; send undelivered alerts again",
        description="The dead-letter stream keeps every record a step could not handle: failed feeds and "
                    "articles, and alerts a webhook refused or that failed for --give-up-after.")
    actions = deadletters.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="show dead letters, newest first",
                                 description="Show dead letters, newest first: stage, origin, error, and for "
                                             "undelivered alerts the webhook, HTTP status and response.")
    listing.add_argument("--stage", help="only this stage (deliver, fetch, parse, normalize, ...)")
    listing.add_argument("--subscription", help="only undelivered alerts of this subscription")
    listing.add_argument("-n", "--count", type=int, default=20, help="how many (default: 20)")
    listing.add_argument("--json", action="store_true", help="one JSON object per dead letter per line")
    listing.set_defaults(func=run_list)
    retry = actions.add_parser(
        "retry", help="POST undelivered alerts again; remove each that is delivered",
        description="Send undelivered alerts (stage deliver) again: webhook ones with the body and "
                    "Idempotency-Key first sent, to the webhook they failed on or --webhook; email ones as first "
                    "built (same Message-ID) through --smtp; chat ones through --notify (dead letters keep no "
                    "password or token). Each that is sent is removed, the others stay. Exit status 1 if some stay.")
    retry.add_argument("ids", nargs="*", metavar="ENTRY_ID", help="dead-letter ids (see: deadletters list)")
    retry.add_argument("--all", action="store_true", help="every undelivered alert")
    retry.add_argument("--subscription", help="with --all: only this subscription's alerts")
    retry.add_argument("--webhook", metavar="URL", help="send them here instead (e.g. the webhook's new URL)")
    retry.add_argument("--smtp", metavar="URL", help="email dead letters: the SMTP server (default: $NEWSMON_SMTP_URL;"
                                                     " password also from $NEWSMON_SMTP_PASSWORD)")
    security = retry.add_mutually_exclusive_group()
    security.add_argument("--starttls", action="store_true", help="with --smtp: upgrade with STARTTLS")
    security.add_argument("--tls", action="store_true", help="with --smtp: implicit TLS")
    retry.add_argument("--smtp-cafile", metavar="FILE", help="with --smtp: also trust these CA certificates")
    retry.add_argument("--notify", metavar="URL",
                       help="chat dead letters: the apprise URL (default: $NEWSMON_NOTIFY_URL)")
    retry.set_defaults(func=run_retry)
    remove = actions.add_parser("remove", help="delete dead letters by id")
    remove.add_argument("ids", nargs="+", metavar="ENTRY_ID")
    remove.set_defaults(func=run_remove)
    for sub in actions.choices.values():
        add_redis_arguments(sub)
