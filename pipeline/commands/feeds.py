"""``newsmon feeds status``: what newsmon knows of each feed it has polled.

    $ newsmon feeds status
    health   status items fails etag  next poll  feed
    ok          200     2     0 yes   in 14m56s  http://127.0.0.1:8765/atom.xml

One line per feed (health: ok, failing, dead or throttled after a 429; last
HTTP status; items of the last fetch, after the per-fetch cap; consecutive
failures; whether validators are kept; next poll), then its last error and any
note (items capped, a redirect target dropped, a malformed feed still read);
``--json`` gives one object per feed. The state is the per-feed hash of
connectors/feed_state.py.
"""

import dataclasses
import json
import time

from pipeline.options import add_redis_arguments, connect_redis

__all__ = ["add_parser"]


def run_status(args, _beam_args):
    from connectors.feed_state import all_feed_states

    _url, _server, client, keys = connect_redis(args)
    states = all_feed_states(client, keys)
    if args.json:
        for state in states:
            typed = dataclasses.asdict(state)  # numbers stay numbers
            typed["pending"] = [item for item in typed.get("pending", "").split(",") if item]
            print(json.dumps(typed, ensure_ascii=False))
        return 0
    if not states:
        print("no feeds polled yet; run: newsmon poll FEEDLIST --once")
        return 0
    now = time.time()
    print(f"{'health':<8} {'status':>6} {'items':>5} {'fails':>5} {'etag':<4} {'next poll':>10}  feed")
    for state in states:
        wait = state.next_poll - now
        next_poll = "due" if wait <= 0 else f"in {int(wait // 60)}m{int(wait % 60):02d}s"
        print(f"{state.health:<8} {state.last_status or '-':>6} {state.items:>5} {state.failures:>5}"
              f" {'yes' if state.etag or state.last_modified else 'no':<4} {next_poll:>10}  {state.url}")
        if state.last_error:
            print(f"{'':>44}last error: {state.last_error[:100]}")
        if state.capped_from:
            print(f"{'':>44}note: the feed offered {state.capped_from} items; took the newest {state.items}"
                  f" (--max-items)")
        if state.warning:
            print(f"{'':>44}note: {state.warning[:100]}")
    return 0


def add_parser(commands):
    feeds = commands.add_parser("feeds", help="feed health", description="What newsmon knows of each feed.")
    actions = feeds.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="per feed: health, last status, items, failures, next poll")
    status.add_argument("--json", action="store_true", help="one JSON object per feed")
    add_redis_arguments(status)
    status.set_defaults(func=run_status)
