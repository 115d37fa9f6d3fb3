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
in Redis, so worker processes and remote runners count too) and the stop on
SIGINT/SIGTERM (a stop key in Redis tells the source to stop; the writes in
flight finish first).
"""

import os
import signal
import sys
import threading
import time

from connectors.feeds import PollFeeds
from pipeline.graph import ArticlesToAlerts
from pipeline.local_runner_fixes import apply_local_runner_fixes
from pipeline.options import make_pipeline, run_pipeline, runs_locally

__all__ = ["build_monitor", "run_monitor", "status_line", "supervise_monitor", "tick_seconds"]


def tick_seconds(interval):
    """How often due feeds are looked for: often enough for per-feed schedules and
    Retry-After to be kept within a few seconds, never more often than once a second."""
    return max(1.0, min(float(interval), 5.0))


def build_monitor(pipeline, feeds, config, *, interval, tick, stop_at=None, stop_key=None,
                  allow_private=False, fetch_options=None):
    source = pipeline | "PollFeeds" >> PollFeeds(
        feeds, config.redis_url, prefix=config.prefix, allow_private=allow_private, options=fetch_options,
        every=tick, stop_at=stop_at, default_interval=interval, stats_key=config.stats_key,
        stop_key=stop_key, verify_processed=True, retry_seconds=config.retry_seconds)
    return {"articles": source.articles, "failed": source.failed} | "ArticlesToAlerts" >> ArticlesToAlerts(config)


def run_monitor(feeds, config, beam_args=(), *, interval, max_polls=None, duration=None, stop_key=None,
                allow_private=False, fetch_options=None):
    """Run until ``max_polls`` ticks or ``duration`` seconds have passed (or for ever)."""
    beam_args = list(beam_args)
    if runs_locally(beam_args):
        apply_local_runner_fixes()
    tick = tick_seconds(interval)
    start = time.time()
    stop_at = None
    if max_polls is not None:
        stop_at = start + (max_polls - 1) * tick + tick / 2
    if duration is not None:
        stop_at = min(stop_at or float("inf"), start + duration)
    pipeline = make_pipeline(beam_args, streaming=True)
    build_monitor(pipeline, feeds, config, interval=interval, tick=tick, stop_at=stop_at, stop_key=stop_key,
                  allow_private=allow_private, fetch_options=fetch_options)
    return run_pipeline(pipeline, beam_args)


def status_line(previous, current):
    """One poll cycle's line, from the run totals before and after it."""
    def delta(name):
        return int(current.get(name, 0)) - int(previous.get(name, 0))

    return (f"{time.strftime('%H:%M:%S')} poll: {delta('feeds_polled')} feeds polled,"
            f" {delta('articles')} new items, {delta('alerts')} alerts,"
            f" {max(delta('feed_failures'), delta('failed'))} failures")


def supervise_monitor(feeds, config, beam_args=(), *, client, stop_key, interval, max_polls=None,
                      duration=None, allow_private=False, embedded_server=None, on_tick=None, tick_every=60.0):
    """Run the monitor until it ends or a signal stops it, printing a status line per poll cycle.

    ``client`` reads the run totals at ``config.stats_key`` and sets ``stop_key``.
    ``on_tick()``, if given, runs every ``tick_every`` seconds (surge detection); its
    failures (Redis down) are logged once and it runs again on the next tick.
    Returns the exit status (0); a stop by signal leaves the process directly.
    """
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    outcome = {}

    def target():
        try:
            run_monitor(feeds, config, beam_args, interval=interval, max_polls=max_polls,
                        duration=duration, stop_key=stop_key, allow_private=allow_private)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            outcome["error"] = error

    stats_key = config.stats_key
    thread = threading.Thread(target=target, name="newsmon-monitor", daemon=True)
    thread.start()
    printed, last, changed_at = {}, {}, time.monotonic()
    stop_deadline = None
    next_tick, tick_failing = time.monotonic() + tick_every, False
    while thread.is_alive():
        thread.join(0.25)
        now = time.monotonic()
        if on_tick is not None and now >= next_tick and stop_deadline is None:
            next_tick = now + tick_every
            try:
                on_tick()
                tick_failing = False
            except Exception as error:  # noqa: BLE001 - Redis down: the next tick tries again
                if not tick_failing:
                    print(f"newsmon: surge detection failed ({error}); trying again", file=sys.stderr, flush=True)
                tick_failing = True
        if stop.is_set() and stop_deadline is None:
            stop_deadline = now + 5.0
            try:
                client.set(stop_key, "1", ex=24 * 3600)
            except Exception:  # noqa: BLE001 - Redis is down: leave at the deadline
                pass
        try:
            current = client.hgetall(stats_key)
        except Exception:  # noqa: BLE001 - Redis is down; the pipeline says so and retries
            if stop_deadline is not None and now > stop_deadline:
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
        current = client.hgetall(stats_key)
        if int(current.get("feeds_polled", 0)) > int(printed.get("feeds_polled", 0)):
            print(status_line(printed, current), flush=True)
        client.delete(stats_key, stop_key)
    except Exception:  # noqa: BLE001 - Redis is down: nothing more to report
        pass
    print("newsmon: monitor stopped", file=sys.stderr, flush=True)
    if thread.is_alive():
        # Stopped by a signal: writes in flight are done (the counters settled); the runner's
        # threads would keep the process alive, so leave now. Nothing is lost: items not yet
        # written carry no processed marker and are taken again on the next start.
        if embedded_server is not None:
            embedded_server.close()  # os._exit skips the exit hooks that would stop it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
