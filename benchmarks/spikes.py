"""What counting costs the sink per article, and one surge-detection pass over 10,000 active series.

    python -m benchmarks.spikes [--articles 4000] [--series 10000] [--repeats 3]

One run, with a private ``redis-server`` on a free port of 127.0.0.1:

1. Counting. Tagged articles as the sink receives them (benchmarks/sink.py's
   ``article_batch``: eight entities, one or two topics, an alert every third)
   are written the way the sink's flush writes them: batches of 100 articles,
   their stream entries by one ``append_once`` script call on a pipeline,
   executed once. Then the same with the counts added to that pipeline
   (``ArticleCounter.add`` per article, ``write`` per flush): what counting adds,
   in wall milliseconds per article (the database is emptied before each
   run, new article ids each time), and the redis-server's CPU per article.
   Each article counts in ~30 series (all, its topics, ten entities, topic x
   entity pairs, countries). Target: < 0.5 ms per article.
2. Detection. 10,000 series with 29 days of history written straight into the
   count keys (daily, hour-of-week and the last day and two hours of
   quarter hours; rates from 2 to 200 articles an hour, so every series has
   at least the minimum count in its last two hours and is judged), then
   ``SurgeWatch.detect_now``: the first pass of a day fits and caches 10,000
   baselines; the passes after it read them. Target: a pass < 1 s.

Figures are medians of ``--repeats``; the load average is printed.
"""

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime

import numpy as np
import redis

from benchmarks.common import print_target_table, start_redis
from benchmarks.sink import article_batch
from connectors.counts import ArticleCounter, CountKeys, CountOptions, load_countries
from connectors.redis_connection import redis_client
from connectors.redis_streams import RedisKeys, append_once, article_entries
from connectors.surges import SurgeWatch
from transforms.spikes import BUCKET_SECONDS, BUCKETS_PER_DAY, DAY_SECONDS, week_of_day

__all__ = ["main"]

NOW = 1_800_000_000.0 + 20 * 60  # a Friday, 08:20 UTC
BATCH = 100


def _redis_cpu(client):
    info = client.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def _articles(count, offset):
    articles = []
    for batch in range(-(-count // BATCH)):
        for article in article_batch(batch, count):
            article = dict(article)
            article["id"] = f"{offset}-{article['id']}"
            article["published"] = "2027-01-15T07:50:00Z"
            articles.append(article)
    return articles


def _write(client, articles, counting):
    keys = RedisKeys()
    options = CountOptions(reference=NOW, countries=load_countries())
    counter = ArticleCounter(options)
    for start in range(0, len(articles), BATCH):
        batch = articles[start:start + BATCH]
        entries = [e for a in batch for e in article_entries(a, keys)]
        pipe = client.pipeline(transaction=False)
        append_once(pipe, entries)
        if counting:
            counter.clear()
            for article in batch:
                counter.add(article, now=NOW)
            counter.write(pipe)
        pipe.execute()


def measure_counting(client, articles, repeats):
    """Wall, client CPU and redis-server CPU of the sink's flushes, without and with counting."""
    rows = {mode: {"wall": [], "cpu": [], "redis": []} for mode in ("plain", "counting")}
    for repeat in range(repeats + 1):
        for mode in ("plain", "counting"):
            client.flushall()
            batch = _articles(articles, f"{repeat}{mode}")
            redis_before = _redis_cpu(client)
            cpu_before, wall_before = time.process_time(), time.perf_counter()
            _write(client, batch, mode == "counting")
            wall, cpu = time.perf_counter() - wall_before, time.process_time() - cpu_before
            if repeat:  # the first round warms up
                rows[mode]["wall"].append(wall)
                rows[mode]["cpu"].append(cpu)
                rows[mode]["redis"].append(_redis_cpu(client) - redis_before)

    def per_article(mode, what):
        return statistics.median(rows[mode][what]) / articles * 1000

    added = {what: per_article("counting", what) - per_article("plain", what) for what in ("wall", "cpu", "redis")}
    total = added["cpu"] + added["redis"]
    return [
        ("counting", "articles per run / series counted per article",
         f"{articles:,} / {_series_per_article(batch):.1f}", "", ""),
        ("counting", "flushes without counting: wall / client CPU / redis CPU, ms per article",
         f"{per_article('plain', 'wall'):.3f} / {per_article('plain', 'cpu'):.3f}"
         f" / {per_article('plain', 'redis'):.3f}", "", ""),
        ("counting", "flushes with counting: wall / client CPU / redis CPU, ms per article",
         f"{per_article('counting', 'wall'):.3f} / {per_article('counting', 'cpu'):.3f}"
         f" / {per_article('counting', 'redis'):.3f}", "", ""),
        ("counting", "counting adds: client + redis-server CPU, ms per article", f"{total:.3f}", "< 0.5",
         "yes" if total < 0.5 else "NO"),
        ("counting", "counting adds: wall ms per article (skewed by the load)", f"{added['wall']:.3f}", "", ""),
    ]


def _series_per_article(articles):
    from transforms.spikes import series_of

    countries = load_countries()
    return statistics.mean(len(series_of(a, countries)) for a in articles)


def _populate(client, series):
    """29 days of counts for ``series`` series, straight into the count keys."""
    keys = CountKeys()
    rng = np.random.default_rng(7)
    names = [f"entity:Series {i}" for i in range(series)]
    hourly = np.exp(rng.uniform(np.log(2.0), np.log(200.0), size=series))  # articles an hour
    tick = int(NOW // BUCKET_SECONDS)
    day = tick // BUCKETS_PER_DAY
    pipe = client.pipeline(transaction=False)
    for d in range(day - 29, day + 1):
        counts = rng.poisson(hourly * 24)
        pipe.hset(keys.day(d), mapping=dict(zip(names + ["all"], [*counts.tolist(), int(counts.sum())])))
    for week in range(week_of_day(day) - 4, week_of_day(day)):
        for hour in range(24):
            counts = rng.poisson(hourly * 7)
            pipe.hset(keys.hours(week, hour), mapping=dict(zip(names + ["all"], [*counts.tolist(), int(counts.sum())])))
        pipe.execute()
    for bucket in range((day - 1) * BUCKETS_PER_DAY, tick + 1):
        counts = rng.poisson(hourly / 4)
        pipe.hset(keys.bucket(bucket), mapping=dict(zip(names + ["all"], [*counts.tolist(), int(counts.sum())])))
        if bucket % 16 == 0:
            pipe.execute()
    pipe.execute()
    return names


def measure_detection(url, client, series, repeats):
    client.flushall()
    names = _populate(client, series)
    watch = SurgeWatch(redis_client(url))

    def timed(moment):
        redis_before, cpu_before, wall_before = _redis_cpu(client), time.process_time(), time.perf_counter()
        found = watch.detect_now(moment)
        cpu = time.process_time() - cpu_before + _redis_cpu(client) - redis_before
        return found, time.perf_counter() - wall_before, cpu

    first, first_pass, first_cpu = timed(NOW)
    passes = [timed(NOW + 60 * (i + 1))[1:] for i in range(repeats)]
    judged = sum(1 for n in client.hkeys(CountKeys().bucket(int(NOW // BUCKET_SECONDS))) if n in set(names))
    cached = client.hlen(CountKeys().baseline(int(NOW // DAY_SECONDS)))
    steady = statistics.median(wall for wall, _ in passes)
    steady_cpu = statistics.median(cpu for _, cpu in passes)
    return [
        ("detection", "active series judged / baselines cached", f"{judged:,} / {cached:,}", "", ""),
        ("detection", "surges found (random background: few or none)", f"{len(first)}", "", ""),
        ("detection", "first pass of a day (fits the baselines): wall / client + redis CPU, s",
         f"{first_pass:.2f} / {first_cpu:.2f}", "", ""),
        ("detection", "a pass with the day's baselines cached: client + redis CPU, s", f"{steady_cpu:.2f}", "< 1",
         "yes" if steady_cpu < 1 else "NO"),
        ("detection", "a pass with the day's baselines cached: wall s (skewed by the load)", f"{steady:.2f}", "", ""),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spikes", description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=4000)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    started = datetime.now().astimezone()
    with tempfile.TemporaryDirectory() as directory:
        server = start_redis(directory)
        try:
            client = redis.Redis.from_url(server.url, decode_responses=True)
            rows = measure_counting(client, args.articles, args.repeats)
            rows += measure_detection(server.url, client, args.series, args.repeats)
        finally:
            server.stop()
    import scipy

    versions = f"redis-py {redis.__version__}, numpy {np.__version__}, scipy {scipy.__version__}"
    command = f"python -m benchmarks.spikes {' '.join(argv if argv is not None else sys.argv[1:])}".strip()
    print_target_table("newsmon counting and surge detection bench", versions,
                       [(f"{section}: {what}", value, target, met) for section, what, value, target, met in rows],
                       command, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
