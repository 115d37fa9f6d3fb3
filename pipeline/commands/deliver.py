"""``newsmon deliver``: POST a subscription's alerts to a webhook, exactly once.

    newsmon deliver nord-stream --webhook https://chat.example/hooks/abc [--once]

Reads with a consumer group (``webhook-<hash of the URL>`` unless ``--group``),
POSTs each alert as JSON with a ``text`` field a chat webhook can show,
retries with backoff, acknowledges only after a 2xx, and after ``--attempts``
failures moves the alert to the dead-letter stream with the last error
(connectors/webhook.py); then the exit status is 1.
"""

import hashlib
import sys

from pipeline.commands.alerts import add_consumer_arguments, alert_reader
from pipeline.errors import EXIT_INPUTS_FAILED, EXIT_OK
from pipeline.options import add_redis_arguments, connect_redis

__all__ = ["add_parser"]


def run(args, _beam_args):
    from connectors.webhook import WebhookDeliverer

    _url, _server, client, keys = connect_redis(args)
    if not args.group:
        args.group = "webhook-" + hashlib.sha256(args.webhook.encode()).hexdigest()[:8]
    deliverer = WebhookDeliverer(alert_reader(args, client, keys, "deliver"), args.webhook,
                                 deadletter_stream=keys.deadletter, attempts=args.attempts,
                                 backoff_seconds=args.backoff)
    try:
        deliverer.run(follow=not args.once)
    finally:
        print(f"delivered {deliverer.delivered} alert(s) to {args.webhook};"
              f" {deliverer.dead} moved to {keys.deadletter}", file=sys.stderr)
    return EXIT_INPUTS_FAILED if deliverer.dead else EXIT_OK


def add_parser(commands):
    deliver = commands.add_parser(
        "deliver", help="POST a subscription's alerts to a webhook",
        description="POST each alert as JSON (with a 'text' field chat webhooks show), retrying with "
                    "backoff; acknowledge only after a 2xx; after --attempts failures move the alert to "
                    "the dead-letter stream. A stopped deliverer resumes where it left off.")
    deliver.add_argument("subscription")
    deliver.add_argument("--webhook", required=True, metavar="URL")
    deliver.add_argument("--attempts", type=int, default=5, help="POSTs before dead-lettering (default: 5)")
    deliver.add_argument("--backoff", type=float, default=1.0, metavar="SECONDS",
                         help="first retry delay, doubled each time (default: 1.0)")
    deliver.add_argument("--once", action="store_true", help="deliver what is waiting, then exit")
    add_consumer_arguments(deliver, "webhook-<hash of URL>")
    add_redis_arguments(deliver)
    deliver.set_defaults(func=run)
