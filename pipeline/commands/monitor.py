"""``newsmon monitor``: poll feeds continuously and alert minutes after a story appears.

    newsmon monitor seeds/feeds.opml --interval 300 [--max-polls N] [--duration SECONDS] [Beam options]

Runs the monitor graph (pipeline/monitor.py) under its supervisor: one status
line per poll cycle, and Ctrl-C or SIGTERM stop it after the writes in flight.
Every article is counted per series and time bucket, and every ``--spike-every``
seconds the counts are judged for surges (one line per surge; connectors/surges.py).
"""

import sys
import time

from connectors.counts import CountOptions, load_countries
from connectors.redis_connection import redis_client
from connectors.redis_streams import new_run_id
from connectors.surges import SurgeWatch
from pipeline.commands.poll import add_feed_run_arguments, feed_run_setup, fetch_options, fulltext_mode
from pipeline.errors import UsageError
from pipeline.options import RunConfig, alias_table

__all__ = ["add_parser"]


def run(args, beam_args):
    from pipeline.monitor import supervise_monitor

    if args.max_polls is not None and args.max_polls < 1:
        raise UsageError(f"--max-polls must be at least 1, got {args.max_polls}")
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be a positive number of seconds, got {args.duration:g}")
    taxonomy, feeds, redis, subscriptions = feed_run_setup(args)
    url, keys = redis.url, redis.keys
    run_id = new_run_id()
    alias_table(args)  # a bad alias or places file stops the command here, with one line
    config = RunConfig(redis_url=url, taxonomy=taxonomy, subscriptions=subscriptions, model=args.model,
                       aliases=args.aliases, places=args.places, prefix=args.prefix,
                       stats_key=keys.run_stats(run_id),
                       retry_seconds=None, skip_processed=True, live_subscriptions=True,
                       refresh_seconds=min(5.0, float(args.interval)), prefilter=args.prefilter,
                       counts=CountOptions(countries=load_countries()),
                       fulltext=fulltext_mode(args, feeds), allow_private_pages=args.allow_private)
    # Its own client with timeouts: a Redis that hangs must not hold up the supervisor's loop.
    watch = SurgeWatch(redis_client(url, socket_timeout=10, socket_connect_timeout=2), keys.prefix)
    print(f"newsmon: monitoring {len(feeds)} feed(s) every {args.interval:g} s into {redis.location}"
          f" (stop with Ctrl-C)", file=sys.stderr, flush=True)
    return supervise_monitor(feeds, config, beam_args, client=redis.client,
                             stop_key=f"{keys.prefix}monitor:{run_id}:stop", interval=args.interval,
                             max_polls=args.max_polls, duration=args.duration, allow_private=args.allow_private,
                             embedded_server=redis.server, fetch_options=fetch_options(args),
                             on_tick=lambda: print_surges(watch.detect_now()), tick_every=args.spike_every)


def print_surges(found):
    """One line per surge announced (also on newsmon:spikes and to --on-spike subscriptions)."""
    for surge in found:
        note = "" if surge["alert"] == "new" else f" ({surge['alert']})"
        print(f"{time.strftime('%H:%M:%S')} surge {surge['level']}{note}: {surge['name']}, {surge['observed']}"
              f" articles in {surge['window_minutes']} min, {surge['ratio']}x the expected {surge['expected']}",
              flush=True)


def add_parser(commands):
    monitor = commands.add_parser(
        "monitor", help="poll feeds continuously and alert on new items",
        description="Poll every feed on its own schedule, take new items through the pipeline and "
                    "write alerts to Redis; one status line per poll cycle. Subscriptions added, "
                    "paused or removed meanwhile take effect within one interval. Ctrl-C or SIGTERM "
                    "stop it after the writes in flight.")
    add_feed_run_arguments(monitor)
    monitor.add_argument("--max-polls", type=int, metavar="N",
                         help="stop after N poll cycles (a cycle: a tick that found feeds due and polled them)")
    monitor.add_argument("--duration", type=float, metavar="SECONDS",
                         help="stop after this long (within a few seconds, even while Redis is down)")
    monitor.add_argument("--spike-every", type=float, default=60.0, metavar="SECONDS",
                         help="look for surges this often (default: %(default)g; see newsmon spikes)")
    monitor.set_defaults(func=run, beam_options=True)
