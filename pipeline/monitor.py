"""Continuous monitoring: feeds polled on a schedule, through the article graph, into Redis.

    newsmon monitor seeds/feeds.opml --interval 300
    newsmon monitor feeds.opml --runner FlinkRunner --flink_master HOST:PORT --setup_file ./setup.py --streaming

The graph: PollFeeds(every=tick) -> ArticlesToAlerts (pipeline/graph.py), the
same composite replay uses. A periodic impulse ticks every few seconds; each
tick polls the feeds that are due (each on its own interval, backoff and
Retry-After, kept in Redis), and articles that an earlier poll already took
through the graph are skipped. Subscriptions are re-read from Redis while it
runs.
"""

import time

from connectors.feeds import PollFeeds
from pipeline.graph import ArticlesToAlerts
from pipeline.local_runner_fixes import apply_local_runner_fixes
from pipeline.options import make_pipeline, runs_locally

__all__ = ["build_monitor", "run_monitor", "tick_seconds"]


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
    result = pipeline.run()
    result.wait_until_finish()
    return result
