"""``newsmon deliver``: POST a subscription's alerts to a webhook, at least once.

    newsmon deliver nord-stream --webhook https://chat.example/hooks/abc [--once] [--give-up-after 24h]

Reads with a consumer group (``webhook-<hash of the URL>`` unless ``--group``;
a new group starts at the next new alert unless ``--from-start``), POSTs each
alert as JSON with a ``text`` field a chat webhook can show, and acknowledges
it only after a 2xx (connectors/webhook.py). While the endpoint is down or
busy (408, 425, 429, 5xx, no connection) the deliverer waits as a whole, with
exponential backoff and jitter and never sooner than ``Retry-After``; an alert
goes to the dead letters only after failing for ``--give-up-after``, or at
once when the endpoint refuses it (another 4xx). ``newsmon deadletters retry``
sends dead letters again.

At least once: a deliverer stopped between a POST and its ack sends that alert
again. Each POST carries the header ``Idempotency-Key: <alert_id>`` (also in
the body); a receiver that remembers the keys it has seen drops the repeats.
"""

import argparse
import hashlib
import re
import sys

from pipeline.commands.alerts import add_consumer_arguments, alert_reader, stop_on_signals
from pipeline.errors import EXIT_INPUTS_FAILED, EXIT_OK
from pipeline.options import add_redis_arguments, connect_redis

__all__ = ["add_parser", "duration_seconds"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text):
    """``"24h"``, ``"30m"``, ``"90s"``, ``"2d"`` or a number of seconds -> seconds (argparse type)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration like 90s, 30m, 24h or 2d, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def run(args, _beam_args):
    from connectors.webhook import WebhookDeliverer

    _url, _server, client, keys = connect_redis(args)
    if not args.group:
        args.group = "webhook-" + hashlib.sha256(args.webhook.encode()).hexdigest()[:8]
    deliverer = WebhookDeliverer(alert_reader(args, client, keys, "deliver"), args.webhook,
                                 deadletter_stream=keys.deadletter, give_up_after=args.give_up_after,
                                 backoff_seconds=args.backoff, max_backoff=max(args.max_backoff, args.backoff))
    if not args.once:
        stop_on_signals(deliverer.stop)
    try:
        deliverer.run(follow=not args.once)
    finally:
        print(f"delivered {deliverer.delivered} alert(s) to {args.webhook};"
              f" {deliverer.dead} moved to {keys.deadletter}", file=sys.stderr)
    return EXIT_INPUTS_FAILED if deliverer.dead else EXIT_OK


def add_parser(commands):
    deliver = commands.add_parser(
        "deliver", help="POST a subscription's alerts to a webhook (at least once)",
        description="POST each alert as JSON (with a 'text' field chat webhooks show) and acknowledge it "
                    "only after a 2xx. Delivery is at least once: after a crash or restart an alert may be "
                    "sent again, with the same 'Idempotency-Key' header and 'alert_id' in the body, so "
                    "the receiver can drop repeats by remembering the keys it has seen. While the endpoint "
                    "is down or busy (408, 425, 429, 5xx, no connection) the deliverer waits with "
                    "exponential backoff and jitter, honouring Retry-After; an alert goes to the dead "
                    "letters only after failing for --give-up-after, or at once on another 4xx (see "
                    "'newsmon deadletters'). Runs until SIGTERM or Ctrl-C unless --once.")
    deliver.add_argument("subscription")
    deliver.add_argument("--webhook", required=True, metavar="URL")
    deliver.add_argument("--give-up-after", type=duration_seconds, default=24 * 3600.0, metavar="DURATION",
                         help="dead-letter an alert that has failed this long, e.g. 30m, 24h, 2d (default: 24h)")
    deliver.add_argument("--backoff", type=float, default=1.0, metavar="SECONDS",
                         help="first retry delay, doubled each time (default: 1.0)")
    deliver.add_argument("--max-backoff", type=float, default=300.0, metavar="SECONDS",
                         help="longest wait between two tries, unless Retry-After asks for more (default: 300)")
    deliver.add_argument("--once", action="store_true", help="deliver what is waiting, then exit")
    add_consumer_arguments(deliver, "webhook-<hash of URL>")
    add_redis_arguments(deliver)
    deliver.set_defaults(func=run)
