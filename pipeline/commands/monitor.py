"""``newsmon monitor``: poll feeds continuously and alert minutes after a story appears.

    newsmon monitor seeds/feeds.opml --interval 300 [--max-polls N] [--duration SECONDS] [--force] [Beam options]

Runs the monitor graph (pipeline/monitor.py) under its supervisor: one status
line per poll cycle, and Ctrl-C or SIGTERM stop it after the writes in flight.
Every article is counted per series and time bucket, and every ``--spike-every``
seconds the counts are judged for surges (one line per surge; connectors/surges.py).
Each feed keeps its own schedule across runs (connectors/feed_state.py): when no
feed is due at the start, a line says when the first poll will be, and
``--force`` polls every feed at once instead.
"""

import sys
import time

from connectors.counts import CountOptions, load_countries
from connectors.feed_state import load_states
from connectors.redis_connection import redis_client
from connectors.redis_streams import new_run_id
from connectors.surges import SurgeWatch
from pipeline.commands.poll import add_feed_run_arguments, feed_run_setup, fetch_options, fulltext_mode
from pipeline.errors import UsageError
from pipeline.options import FeedRun, RunConfig, alias_table

__all__ = ["add_parser", "first_poll_note"]


def run(args, beam_args):
    from pipeline.monitor import supervise_monitor, tick_seconds

    if args.max_polls is not None and args.max_polls < 1:
        raise UsageError(f"--max-polls must be at least 1, got {args.max_polls}")
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be a positive number of seconds, got {args.duration:g}")
    taxonomy, feeds, redis, subscriptions = feed_run_setup(args)
    url, keys = redis.url, redis.keys
    force_before = int(time.time()) if args.force else None
    run_id = new_run_id()
    alias_table(args)  # a bad alias or places file stops the command here, with one line
    # Writes wait for an unreachable Redis for ever (retry_seconds None): the monitor runs unattended.
    config = RunConfig.from_arguments(args, redis_url=url, taxonomy=taxonomy, subscriptions=subscriptions,
                                      stats_key=keys.run_stats(run_id), retry_seconds=None,
                                      feed_run=FeedRun(refresh_seconds=min(5.0, float(args.interval))),
                                      counts=CountOptions(countries=load_countries()),
                                      fulltext=fulltext_mode(args, feeds), allow_private_pages=args.allow_private)
    # Its own client with timeouts: a Redis that hangs must not hold up the supervisor's loop.
    watch = SurgeWatch(redis_client(url, socket_timeout=10, socket_connect_timeout=2), keys.prefix)
    print(f"newsmon: monitoring {len(feeds)} feed(s) every {args.interval:g} s into {redis.location}"
          f" (stop with Ctrl-C)", file=sys.stderr, flush=True)
    note = None if args.force else first_poll_note(redis.client, keys, feeds, tick=tick_seconds(args.interval))
    if note:
        print(note, file=sys.stderr, flush=True)
    return supervise_monitor(feeds, config, beam_args, client=redis.client,
                             stop_key=f"{keys.prefix}monitor:{run_id}:stop", interval=args.interval,
                             max_polls=args.max_polls, duration=args.duration, allow_private=args.allow_private,
                             embedded_server=redis.server, fetch_options=fetch_options(args),
                             on_tick=lambda: print_surges(watch.detect_now()), tick_every=args.spike_every,
                             force_before=force_before)


def first_poll_note(client, keys, feeds, *, tick, now=None):
    """If no feed is due within the first tick, the line that says when the first poll will be
    (else None): a monitor that polls nothing for a quarter of an hour must not look hung."""
    now = time.time() if now is None else now
    first = min(state.next_poll for state in load_states(client, keys, {feed.feed_id for feed in feeds}).values())
    if first <= now + tick:
        return None
    wait = int(first - now)
    return (f"newsmon: no feed is due yet: the first poll is at {time.strftime('%H:%M:%S', time.localtime(first))}"
            f" (in {wait // 60}m{wait % 60:02d}s; newsmon feeds status lists each feed's); --force polls them now")


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
                         help="stop after N poll cycles (a cycle: a tick that found feeds due and polled them; "
                              "feeds polled recently are waited for, see --force)")
    monitor.add_argument("--duration", type=float, metavar="SECONDS",
                         help="stop after this long (within a few seconds, even while Redis is down)")
    monitor.add_argument("--force", action="store_true",
                         help="poll every feed at once, due or not (backoff and Retry-After included), "
                              "then each on its schedule; without it, feeds polled recently wait until due")
    monitor.add_argument("--spike-every", type=float, default=60.0, metavar="SECONDS",
                         help="look for surges this often (default: %(default)g; see newsmon spikes)")
    monitor.set_defaults(func=run, beam_options=True)
