"""``newsmon alerts show|tail``: read a subscription's alerts.

    newsmon alerts show nord-stream [-n 10] [--json]      the latest alerts, newest first
    newsmon alerts tail nord-stream [--follow] [--json]   read as a consumer group; ack after printing
    newsmon alerts feed nord-stream [-n 50] > ns.atom     the latest alerts as an Atom feed

``tail`` (like ``deliver``) reads with a consumer group, so a stopped reader
resumes where it left off and alerts a dead consumer left unacknowledged are
claimed after ``--claim-idle`` seconds. A new group starts at the alerts
written from then on (``--from-start``: at the oldest one). ``--follow`` waits
for new alerts for as long as it runs (hours of silence and Redis restarts
included) and prints each within a second of its write; SIGTERM or Ctrl-C
stop it. Delivery is at least once: an alert printed by a consumer killed
before its ack is printed again by the next one. A name that is neither a
stored subscription nor an alert stream is an error (exit 2), and nothing is
created for it. ``format_alert`` is how every command shows an alert to a person.
"""

import json
import signal
import sys
import threading

from connectors.alert_consumer import AlertReader, default_consumer_name, follow
from connectors.subscription_store import SubscriptionStore
from pipeline.commands.json_lines import alert_entry_json, print_json_line
from pipeline.errors import UsageError
from pipeline.options import add_redis_arguments, connect_redis
from transforms.normalize import strip_control_chars
from transforms.rules import validate_rule_id

__all__ = ["add_consumer_arguments", "add_parser", "alert_reader", "alert_stream", "format_alert"]


def format_alert(entry_id, fields):
    """An alert stream entry as four lines of text (title, origin, topics and terms, evidence).

    Control characters are removed again here, so an entry written by an older version
    cannot drive the terminal either.
    """
    topics = ", ".join(t["id"] for t in json.loads(fields.get("topics", "[]")))
    evidence = json.loads(fields.get("evidence", "[]"))
    terms = ", ".join(json.loads(fields.get("terms", "[]")))
    lines = [f"[{entry_id}] {fields.get('title', '')}",
             f"    source: {fields.get('source') or '-'}  language: {fields.get('language') or '-'}"
             f"  published: {fields.get('published') or '-'}  url: {fields.get('url') or '-'}",
             f"    topics: {topics or '-'}  terms: {terms or '-'}  score: {fields.get('score', '')}"]
    if evidence:
        lines.append(f"    evidence: {evidence[0]}")
    if fields.get("story") and fields.get("alert") in ("new", "update"):
        kind = "new story" if fields["alert"] == "new" else f"update: {fields.get('update', '')}"
        lines.append(f"    story: {fields['story']} ({kind}), {fields.get('story_sources', '?')} sources,"
                     f" {fields.get('story_articles', '?')} articles")
    return "\n".join(" ".join(strip_control_chars(line).split("\n")) for line in lines)


def add_consumer_arguments(parser, group):
    parser.add_argument("--group", help=f"consumer group (default: {group})")
    parser.add_argument("--from-start", action="store_true",
                        help="a new group starts at the oldest alert on the stream (default: at the next new one)")
    parser.add_argument("--consumer", help="consumer name within the group (default: <kind>-<hostname>)")
    parser.add_argument("--claim-idle", type=float, default=60.0, metavar="SECONDS",
                        help="take over alerts another consumer left unacknowledged this long (default: 60)")


def alert_stream(client, keys, name):
    """The alert stream of subscription ``name``; UsageError if there is neither such a
    subscription nor such a stream (a removed subscription's alerts stay readable)."""
    validate_rule_id(name, "subscription")
    stream = keys.alerts(name)
    if SubscriptionStore(client, keys).get(name) is None and not client.exists(stream):
        raise UsageError(f"no subscription {name!r} and no alerts on {stream} (see: newsmon subscribe list)")
    return stream


def alert_reader(args, client, keys, kind):
    """The consumer-group reader the ``--group/--consumer/--claim-idle`` arguments ask for."""
    stream = alert_stream(client, keys, args.subscription)
    return AlertReader(client, stream, group=args.group or kind,
                       consumer=args.consumer or default_consumer_name(kind),
                       claim_idle_ms=int(args.claim_idle * 1000), from_start=args.from_start)


def stop_on_signals(on_stop):
    """Call ``on_stop()`` on SIGTERM (and SIGINT), so a follower ends its loop and exits 0."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: on_stop())


def run_show(args, _beam_args):
    _url, _server, client, keys = connect_redis(args)
    stream = alert_stream(client, keys, args.subscription)
    entries = client.xrevrange(stream, count=args.count)
    if not entries:
        print(f"no alerts yet on {stream}", file=sys.stderr)
    for entry_id, fields in entries:
        if args.json:
            print_json_line(alert_entry_json(entry_id, fields))
        else:
            print(format_alert(entry_id, fields))
    return 0


def _print_alert(args, entry_id, fields):
    if args.json:
        print_json_line(alert_entry_json(entry_id, fields))
    else:
        print(format_alert(entry_id, fields), flush=True)


def run_tail(args, _beam_args):
    _url, _server, client, keys = connect_redis(args)
    reader = alert_reader(args, client, keys, "tail")
    shown = 0

    def left():
        return None if args.limit is None else args.limit - shown

    if args.limit is not None and args.limit <= 0:
        return 0
    if args.follow:
        stopped = threading.Event()
        stop_on_signals(stopped.set)
        batches = follow(reader, count=10, wait_ms=1000,
                         should_stop=lambda: stopped.is_set() or (left() is not None and left() <= 0))
    else:
        batches = iter(lambda: reader.read(count=10 if left() is None else min(10, left())), [])
    for entries in batches:
        for entry_id, fields in entries:
            if left() is not None and left() <= 0:
                break
            _print_alert(args, entry_id, fields)
            reader.ack(entry_id)
            shown += 1
        if left() is not None and left() <= 0:
            break
    return 0


def run_feed(args, _beam_args):
    from connectors.atom_feed import subscription_feed

    if args.count <= 0:
        raise UsageError(f"-n/--count must be at least 1, got {args.count}")
    _url, _server, client, keys = connect_redis(args)
    alert_stream(client, keys, args.subscription)
    body = subscription_feed(client, keys, args.subscription, count=args.count, self_url=args.self_url,
                             site_url=args.site_url)
    sys.stdout.buffer.write(body)
    sys.stdout.flush()
    return 0


def add_parser(commands):
    alerts = commands.add_parser("alerts", help="read alerts", description="Read a subscription's alerts.")
    actions = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="print the latest alerts of a subscription")
    show.add_argument("subscription")
    show.add_argument("-n", "--count", type=int, default=10, help="how many (default: 10)")
    show.add_argument("--json", action="store_true", help="one JSON object per alert per line")
    add_redis_arguments(show)
    show.set_defaults(func=run_show)
    tail = actions.add_parser(
        "tail", help="read alerts as a consumer group, acknowledging each after printing it",
        description="Read a subscription's alerts with XREADGROUP; each is acknowledged only after it "
                    "is printed, so delivery is at least once: alerts a stopped or dead consumer left "
                    "unacknowledged are read again (by another consumer after --claim-idle). A new group "
                    "starts at the next new alert unless --from-start. With --follow it waits for new "
                    "alerts until SIGTERM or Ctrl-C, through any silence and Redis restarts.")
    tail.add_argument("subscription")
    tail.add_argument("-f", "--follow", action="store_true", help="wait for new alerts until interrupted")
    tail.add_argument("--json", action="store_true", help="one JSON object per alert per line")
    tail.add_argument("-n", "--limit", type=int, help="stop after this many alerts")
    add_consumer_arguments(tail, "tail")
    add_redis_arguments(tail)
    tail.set_defaults(func=run_tail)
    feed = actions.add_parser(
        "feed", help="print the latest alerts of a subscription as an Atom feed",
        description="Print the latest alerts of a subscription as an Atom feed (for a feed reader, or a web "
                    "server to serve): one entry per alert with a stable id (urn:newsmon:alert:NAME:ENTRY), "
                    "the article link, and the evidence, matched terms, source and story in the summary. "
                    "The same alerts give the same bytes.")
    feed.add_argument("subscription")
    feed.add_argument("-n", "--count", type=int, default=50, help="how many alerts, newest first (default: 50)")
    feed.add_argument("--self-url", metavar="URL", help="the URL the feed will be served at (its rel=self link)")
    feed.add_argument("--site-url", metavar="URL", help="a page to link the feed to (its rel=alternate link)")
    add_redis_arguments(feed)
    feed.set_defaults(func=run_feed)
