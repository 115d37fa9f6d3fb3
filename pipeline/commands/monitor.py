"""``newsmon monitor``: poll feeds continuously and alert minutes after a story appears.

    newsmon monitor seeds/feeds.opml --interval 300 [--max-polls N] [--duration SECONDS] [Beam options]

Runs the monitor graph (pipeline/monitor.py) under its supervisor: one status
line per poll cycle, and Ctrl-C or SIGTERM stop it after the writes in flight.
"""

import sys

from connectors.redis_streams import new_run_id
from pipeline.commands.poll import add_feed_run_arguments, feed_run_setup, fetch_options
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
    config = RunConfig(redis_url=url, taxonomy=taxonomy, subscriptions=subscriptions, model=args.model,
                       aliases=alias_table(args), prefix=args.prefix, stats_key=keys.run_stats(run_id),
                       retry_seconds=None, skip_processed=True, live_subscriptions=True,
                       refresh_seconds=min(5.0, float(args.interval)), prefilter=args.prefilter)
    print(f"newsmon: monitoring {len(feeds)} feed(s) every {args.interval:g} s into {redis.location}"
          f" (stop with Ctrl-C)", file=sys.stderr, flush=True)
    return supervise_monitor(feeds, config, beam_args, client=redis.client,
                             stop_key=f"{keys.prefix}monitor:{run_id}:stop", interval=args.interval,
                             max_polls=args.max_polls, duration=args.duration, allow_private=args.allow_private,
                             embedded_server=redis.server, fetch_options=fetch_options(args))


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
    monitor.set_defaults(func=run, beam_options=True)
