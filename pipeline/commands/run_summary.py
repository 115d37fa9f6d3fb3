"""What a replay or a poll prints when it is done: the run's counts, then the latest alerts.

The counts come from Beam's metrics (``metric_counts``) or, for a replay on any
runner, from the run's stats hash in Redis (``redis_counts``).

    Replayed 1 file(s): 1 articles read, 0 failed (dead letters on newsmon:deadletter).
    Topics:
      sanctions                     1 articles
    Alerts:
      nord-stream                   1 matched, 1 new on newsmon:alerts:nord-stream
    Streams at redis://localhost:6379/0: newsmon:events (1 entries), ...
"""

import logging

from apache_beam.metrics.metric import MetricsFilter

from pipeline.commands.alerts import format_alert

__all__ = ["failed_count", "metric_counts", "print_latest_alerts", "print_run_summary", "redis_counts"]

_log = logging.getLogger(__name__)

_LIST_EVERY_SUBSCRIPTION_UP_TO = 20
SOURCE_STAGES = ("read", "fetch", "parse")  # failures before an article exists  # beyond that, only those that matched


def metric_counts(result):
    """``{(namespace, name): total}`` of a finished pipeline's counters (each logged with ``-v``)."""
    counts = {}
    for counter in result.metrics().query(MetricsFilter())["counters"]:
        key = (counter.key.metric.namespace, counter.key.metric.name)
        counts[key] = counts.get(key, 0) + (counter.committed or 0)
    for (namespace, name), value in sorted(counts.items()):
        _log.info("newsmon: step counts: %s/%s = %d", namespace, name, value)
    return counts


def redis_counts(client, stats_key):
    """The counts a run kept in its stats hash (``count_once``), shaped like ``metric_counts``:
    the same summary on every runner, Beam metrics or none (the Dask runner has none)."""
    stats = {name: int(value) for name, value in client.hgetall(stats_key).items()}
    counts = {}

    def add(key, n):
        counts[key] = counts.get(key, 0) + n

    for name, n in stats.items():
        kind, _, rest = name.partition(":")
        if name == "articles":
            add(("newsmon", "articles_read"), n)
        elif name == "failed":
            add(("newsmon", "failed"), n)
        elif kind == "failed" and rest not in SOURCE_STAGES:
            add(("newsmon", "articles_read"), n)  # read, then failed at a later step
        elif name == "already_written":
            add(("newsmon", "already_written"), n)
        elif kind == "topic":
            add(("topics", rest), n)
        elif kind == "matched":
            add(("alerts", rest), n)
        elif kind == "new":
            add(("written", rest), n)
    for (namespace, name), value in sorted(counts.items()):
        _log.info("newsmon: step counts: %s/%s = %d", namespace, name, value)
    return counts


def failed_count(counts):
    """Records that failed at any step (each is on the dead-letter stream)."""
    return counts.get(("newsmon", "failed"), 0)


def print_run_summary(counts, redis, headline, taxonomy, subscriptions):
    """``redis``: the command's RedisConnection (pipeline/options.py)."""
    keys, client = redis.keys, redis.client
    read = counts.get(("newsmon", "articles_read"), 0)
    failed = failed_count(counts)
    duplicates = counts.get(("newsmon", "already_written"), 0)
    skipped = counts.get(("newsmon", "already_processed"), 0)
    print(f"\n{headline}: {read} articles read, {failed} failed (dead letters on {keys.deadletter}).")
    if skipped:
        print(f"{skipped} articles were processed by an earlier poll and skipped.")
    print("Topics:")
    for topic in taxonomy:
        print(f"  {topic:<24} {counts.get(('topics', topic), 0):>6} articles")
    if subscriptions:
        print("Alerts:")
        silent = 0
        for name in subscriptions:
            matched = counts.get(("alerts", name), 0)
            new = counts.get(("written", f"alerts:{name}"), 0)
            if matched or len(subscriptions) <= _LIST_EVERY_SUBSCRIPTION_UP_TO:
                print(f"  {name:<24} {matched:>6} matched, {new} new on {keys.alerts(name)}")
            else:
                silent += 1
        if silent:
            print(f"  ({silent} other subscriptions matched nothing)")
    if duplicates:
        print(f"{duplicates} entries were already on their streams and were not written again.")
    print(f"Streams in {redis.location}: {keys.events} ({client.xlen(keys.events)} entries),"
          f" {keys.prefix}topic:<topic>, {keys.prefix}alerts:<subscription>, {keys.deadletter}"
          f" ({client.xlen(keys.deadletter)} entries).")


def print_latest_alerts(client, keys, subscriptions, count):
    """The ``count`` latest alerts of each subscription (``--show N``)."""
    if not count or not subscriptions:
        return
    print("\nLatest alerts:")
    pipe = client.pipeline(transaction=False)  # one round trip, however many subscriptions
    for name in subscriptions:
        pipe.xrevrange(keys.alerts(name), count=count)
    for name, entries in zip(subscriptions, pipe.execute()):
        if entries:
            print(f"— {name} ({client.xlen(keys.alerts(name))} on {keys.alerts(name)}):")
            for entry_id, fields in entries:
                print(format_alert(entry_id, fields))
