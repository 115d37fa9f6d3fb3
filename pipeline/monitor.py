"""Continuous monitoring: feeds polled on a schedule, through the article graph, into Redis.

    newsmon monitor seeds/feeds.opml --interval 300
    newsmon monitor feeds.opml --runner FlinkRunner --flink_master HOST:PORT --setup_file ./setup.py --streaming

The graph: PollFeeds(every=tick) -> ArticlesToAlerts (pipeline/graph.py), the
same composite replay uses. A periodic impulse ticks every few seconds; each
tick polls the feeds that are due (each on its own interval, backoff and
Retry-After, kept in Redis), and articles that an earlier poll already took
through the graph are skipped. Subscriptions are re-read from Redis while it
runs.

``supervise_monitor`` is how the command runs it: the pipeline in a thread,
and in the main thread one status line per poll cycle (from the run's totals
in Redis, so worker processes and remote runners count too) and the stop.
A stop comes from SIGINT/SIGTERM, from ``--duration`` running out, or from
the source itself after ``--max-polls`` poll cycles (it sets the stop key
once the last cycle is handed over). The supervisor sets a stop key in Redis
that tells the source to start nothing more, waits until the run's totals
stop moving (the writes in flight are done; at most a few seconds), and
leaves. While Redis is unreachable nothing in flight can be written, so it
leaves at once; what was in flight is polled again on the next start
(nothing is marked processed before it is written).
"""

import os
import signal
import socket
import sys
import threading
import time

import redis

from connectors.feeds import PollFeeds, cycles_key
from connectors.redis_connection import redis_client
from pipeline.graph import ArticlesToAlerts
from pipeline.local_runner_fixes import apply_local_runner_fixes
from pipeline.options import make_pipeline, run_pipeline, runs_locally

__all__ = ["build_monitor", "run_monitor", "status_line", "supervise_monitor", "tick_seconds"]


def tick_seconds(interval):
    """How often due feeds are looked for: often enough for per-feed schedules and
    Retry-After to be kept within a few seconds, never more often than once a second."""
    return max(1.0, min(float(interval), 5.0))


STOP_GRACE_SECONDS = 5.0  # after a stop, the longest wait for the writes in flight to settle


def share_lease(tick):
    """How long a monitor's share of the feeds outlives its last heartbeat (connectors/feed_state.py)."""
    return max(10.0, 3 * tick)


def monitor_member(stop_key=None):
    """This monitor's name among the monitors sharing its feed list: host, process, run."""
    run = (stop_key or "").rsplit(":", 2)[-2] if stop_key and stop_key.count(":") >= 2 else ""
    return f"{socket.gethostname()}-{os.getpid()}" + (f"-{run}" if run else "")


def build_monitor(pipeline, feeds, config, *, interval, tick, stop_at=None, stop_key=None,
                  allow_private=False, fetch_options=None, max_polls=None, force_before=None):
    # Monitors on the same feed list and Redis divide the feeds between them (FeedShare).
    source = pipeline | "PollFeeds" >> PollFeeds(
        feeds, config.redis_url, prefix=config.prefix, allow_private=allow_private, options=fetch_options,
        every=tick, stop_at=stop_at, default_interval=interval, stats_key=config.stats_key,
        stop_key=stop_key, verify_processed=True, retry_seconds=config.retry_seconds, max_cycles=max_polls,
        force_before=force_before, share_member=monitor_member(stop_key), share_lease=share_lease(tick))
    return {"articles": source.articles, "failed": source.failed} | "ArticlesToAlerts" >> ArticlesToAlerts(config)


def run_monitor(feeds, config, beam_args=(), *, interval, max_polls=None, duration=None, stop_key=None,
                allow_private=False, fetch_options=None, force_before=None):
    """Run until ``duration`` seconds have passed or ``stop_key`` is set (after ``max_polls`` poll
    cycles, the source sets it itself), or for ever. With ``force_before`` (epoch seconds), feeds
    not polled since then are polled at once, whatever their schedule."""
    beam_args = list(beam_args)
    if runs_locally(beam_args):
        apply_local_runner_fixes()
    tick = tick_seconds(interval)
    stop_at = time.time() + duration if duration is not None else None
    if max_polls is not None and not stop_key:
        raise ValueError("max_polls needs a stop_key")
    pipeline = make_pipeline(beam_args, streaming=True)
    build_monitor(pipeline, feeds, config, interval=interval, tick=tick, stop_at=stop_at, stop_key=stop_key,
                  allow_private=allow_private, fetch_options=fetch_options, max_polls=max_polls,
                  force_before=force_before)
    return run_pipeline(pipeline, beam_args)


def status_line(previous, current):
    """One poll cycle's line, from the run totals before and after it."""
    def delta(name):
        return int(current.get(name, 0)) - int(previous.get(name, 0))

    return (f"{time.strftime('%H:%M:%S')} poll: {delta('feeds_polled')} feeds polled,"
            f" {delta('articles')} new items, {delta('alerts')} alerts,"
            f" {max(delta('feed_failures'), delta('failed'))} failures")


def _quick_client(url):
    """A client that answers or fails within a second, with no retries: the supervisor must
    notice a stop and leave on time while Redis is unreachable."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis_client(url, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))


def supervise_monitor(feeds, config, beam_args=(), *, client, stop_key, interval, max_polls=None,
                      duration=None, allow_private=False, embedded_server=None, fetch_options=None,
                      on_tick=None, tick_every=60.0, force_before=None):
    """Run the monitor until it ends or is stopped, printing a status line per poll cycle.

    ``client`` is the command's Redis client (unused while the monitor runs: the supervisor
    keeps its own with short timeouts). The run totals are at ``config.stats_key``.
    ``on_tick()``, if given, runs every ``tick_every`` seconds (surge detection); its
    failures (Redis down) are logged once and it runs again on the next tick.
    Returns the exit status (0); a run stopped before its pipeline ended leaves the process directly.
    """
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    outcome = {}

    def target():
        try:
            run_monitor(feeds, config, beam_args, interval=interval, max_polls=max_polls,
                        duration=duration, stop_key=stop_key, allow_private=allow_private,
                        fetch_options=fetch_options, force_before=force_before)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            outcome["error"] = error

    quick = _quick_client(config.redis_url)
    stats_key = config.stats_key
    ends_at = time.monotonic() + duration if duration is not None else None
    thread = threading.Thread(target=target, name="newsmon-monitor", daemon=True)
    thread.start()
    printed, last, changed_at = {}, {}, time.monotonic()
    stop_deadline = None
    next_tick, tick_failing = time.monotonic() + tick_every, False
    redis_answers = True
    while thread.is_alive():
        thread.join(0.25)
        now = time.monotonic()
        # Not while Redis is down: the tick's own client would wait out its timeouts and retries,
        # and a stop (SIGTERM, --duration) must be seen within a second.
        if on_tick is not None and now >= next_tick and stop_deadline is None and redis_answers:
            next_tick = now + tick_every
            try:
                on_tick()
                tick_failing = False
            except Exception as error:  # noqa: BLE001 - Redis down: the next tick tries again
                if not tick_failing:
                    print(f"newsmon: surge detection failed ({error}); trying again", file=sys.stderr, flush=True)
                tick_failing = True
        if ends_at is not None and now >= ends_at:
            stop.set()
        try:
            if stop_deadline is None and (stop.is_set() or quick.exists(stop_key)):
                stop_deadline = now + STOP_GRACE_SECONDS
                quick.set(stop_key, "1", ex=24 * 3600)
            current = quick.hgetall(stats_key)
            redis_answers = True
        except redis.RedisError:
            # Redis is down (the pipeline says so and retries). The writes in flight cannot finish
            # before it is back, so a stop does not wait for them: they are taken again next start.
            redis_answers = False
            if stop.is_set() or stop_deadline is not None:
                break
            continue
        if current != last:
            last, changed_at = current, now
        settled = now - changed_at >= 1.0
        if settled and int(current.get("feeds_polled", 0)) > int(printed.get("feeds_polled", 0)):
            print(status_line(printed, current), flush=True)
            printed = current
        if stop_deadline is not None and (settled or now > stop_deadline):
            break
    if "error" in outcome:
        raise outcome["error"]
    try:
        current = quick.hgetall(stats_key)
        if int(current.get("feeds_polled", 0)) > int(printed.get("feeds_polled", 0)):
            print(status_line(printed, current), flush=True)
        quick.delete(stats_key, stop_key, cycles_key(stop_key))
    except redis.RedisError:
        pass  # Redis is down: nothing more to report
    print("newsmon: monitor stopped", file=sys.stderr, flush=True)
    if thread.is_alive():
        # Stopped before the pipeline ended: writes in flight are done (the counters settled), or
        # Redis is down and they cannot be; the runner's threads would keep the process alive, so
        # leave now. Nothing is lost: items not yet written carry no processed marker and are
        # taken again on the next start.
        if embedded_server is not None:
            embedded_server.close()  # os._exit skips the exit hooks that would stop it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
