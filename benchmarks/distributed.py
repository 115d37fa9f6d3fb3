"""Replay on a Dask cluster against the local runner, and polling capacity of one vs two monitors.

    python -m benchmarks.distributed [--articles 800] [--feeds 2000]      (make bench)

1. Replay: one realistic 100%-topical stream (benchmarks/corpus.py) replayed with
   ``run_replay`` into an emptied private Redis: locally in one process (the
   FnApiRunner), locally with two worker processes (``--direct_num_workers=2
   --direct_running_mode=multi_processing``), and on a Dask cluster of two
   single-thread workers on this machine (tests/dask_cluster.py: ``dask
   scheduler`` and two ``dask worker`` processes), started and warmed up with one
   small replay before the timed one (a cluster is started once and serves many
   jobs). Wall time from building the pipeline to the last write; articles/s
   and the ratio to the one-process rate. Target: two Dask workers >= 1.6x one process.
2. Polling: ``--feeds`` feeds on the feed benchmark's server (benchmarks/feeds.py:
   canned RSS of 10 items, on 127.0.0.1 ... 127.0.0.50), polled by FeedPollers
   sharing the feed list (connectors/feed_state.py FeedShare), one process vs two
   processes started together; feeds polled per second until every feed was
   polled once (fetch, parse, state saved: the monitor's polling, without NER).
"""

import argparse
import multiprocessing
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.common import Figures, print_figures, print_target_table, progress, quiet_logging, start_redis
from benchmarks.corpus import realistic_articles, write_jsonl

SUBSCRIPTIONS_FILE = Path(__file__).resolve().parent.parent / "seeds" / "subscriptions.yaml"
MULTI_WORKER_ARGS = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")
TARGET_DASK = 1.6
FEED_HOSTS = 50  # the feeds spread over 127.0.0.1 ... 127.0.0.50 (FetchOptions.per_host limits one host)


def replay(jsonl, server, beam_args=()):
    """Seconds of one ``run_replay`` into an emptied Redis, and the articles it counted there."""
    from connectors.subscription_store import load_subscriptions_file
    from pipeline.options import RunConfig
    from pipeline.replay import run_replay
    from transforms.topics import load_taxonomy

    server.client.flushall()
    taxonomy = load_taxonomy()
    config = RunConfig(redis_url=server.url, taxonomy=taxonomy, stats_key="bench:run", count_once=True,
                       subscriptions=load_subscriptions_file(SUBSCRIPTIONS_FILE, list(taxonomy)))
    start = time.perf_counter()
    run_replay([str(jsonl)], config, list(beam_args))
    seconds = time.perf_counter() - start
    return seconds, int(server.client.hget("bench:run", "articles") or 0)


def replay_figures(figures, count, directory):
    from tests.dask_cluster import DaskCluster

    progress("building the stream")
    articles = realistic_articles(count, 1.0, seed=1000)
    path = Path(directory) / "dense.jsonl"
    write_jsonl(articles, path)
    warmup = Path(directory) / "warmup.jsonl"
    write_jsonl(articles[:8], warmup)
    figures.add("stream", "articles (100% topical)", f"{len(articles):,}")
    rates = {}
    server = start_redis(directory)
    cluster = None
    try:
        for how, args in (("local, 1 process", ()), ("local, 2 processes", MULTI_WORKER_ARGS)):
            progress(f"replay, {how}")
            seconds, counted = replay(path, server, args)
            rates[how] = len(articles) / seconds
            figures.add(f"replay, {how}", "wall incl. model load and runner start (s)", f"{seconds:.1f}")
            figures.add(f"replay, {how}", "articles counted in Redis", f"{counted:,}")
        progress("starting a Dask cluster (a scheduler and two workers)")
        cluster = DaskCluster(Path(directory) / "dask", workers=2).start()
        dask_args = ("--runner=dask", f"--dask_client_address={cluster.address}")
        progress("replay on Dask, warm-up (workers load the model)")
        warm, _ = replay(warmup, server, dask_args)
        figures.add("replay, Dask, 2 workers", "warm-up replay of 8 articles (s)", f"{warm:.1f}")
        progress("replay on Dask, 2 workers")
        seconds, counted = replay(path, server, dask_args)
        rates["Dask, 2 workers"] = len(articles) / seconds
        figures.add("replay, Dask, 2 workers", "wall, submit to last write (s)", f"{seconds:.1f}")
        figures.add("replay, Dask, 2 workers", "articles counted in Redis", f"{counted:,}")
    finally:
        if cluster is not None:
            cluster.stop()
        server.stop()
    base = rates["local, 1 process"]
    rows = []
    for how, rate in rates.items():
        figures.add(f"replay, {how}", "articles/s", f"{rate:.1f}")
        if how != "local, 1 process":
            wanted = f">= {TARGET_DASK}" if how.startswith("Dask") else ""
            met = ("yes" if rate / base >= TARGET_DASK else "NO") if wanted else ""
            rows.append((f"replay, {how} / 1 process", f"{rate / base:.2f}  ({rate:.1f} vs {base:.1f} articles/s)",
                         wanted, met))
    return rows


def _poll_share(urls, redis_url, member, lease, ready, go):
    """One monitor's poller: joins the group, then polls its due share until no feed of the list is due."""
    from connectors.feed_fetch import FetchOptions
    from connectors.feed_lists import Feed
    from connectors.feed_state import feed_group
    from connectors.feeds import FeedPoller
    from connectors.redis_connection import redis_client
    from connectors.redis_streams import RedisKeys

    feeds = [Feed(url) for url in urls]
    client = redis_client(redis_url)
    share = (feed_group(f.feed_id for f in feeds), member, lease)
    with FeedPoller(client, RedisKeys("bench:"), allow_private=True, options=FetchOptions(),
                    default_interval=3600, share=share) as poller:
        ready.wait()
        go.wait()
        while True:
            due, _ = poller.due(feeds)
            if not due and not poller.in_flight:
                return
            poller.start(due)
            for _ in poller.finished(timeout=0.5):
                pass


def polling_figures(figures, count, directory):
    import redis

    from benchmarks.feeds import feed_body, start_feed_server

    feed_server, port = start_feed_server(FEED_HOSTS, feed_body(10))
    server = start_redis(directory)
    rows, rates = [], {}
    try:
        urls = [f"http://127.0.0.{n % FEED_HOSTS + 1}:{port}/feed/{n}" for n in range(count)]
        context = multiprocessing.get_context("spawn")
        for processes in (1, 2):
            redis.Redis.from_url(server.url).flushall()
            progress(f"polling {count} feeds with {processes} monitor process(es)")
            ready = context.Barrier(processes + 1)
            go = context.Event()
            workers = [context.Process(target=_poll_share, args=(urls, server.url, f"m{n}", 60.0, ready, go))
                       for n in range(processes)]
            for worker in workers:
                worker.start()
            ready.wait()  # every poller joined the group (heartbeat sent)
            start = time.perf_counter()
            go.set()
            for worker in workers:
                worker.join()
            seconds = time.perf_counter() - start
            polled = sum(1 for key in redis.Redis.from_url(server.url).scan_iter(match="bench:feed:*"))
            rates[processes] = polled / seconds
            figures.add(f"polling, {processes} process(es)", "feeds polled / wall s", f"{polled:,} / {seconds:.1f}")
            figures.add(f"polling, {processes} process(es)", "feeds/s", f"{polled / seconds:.0f}")
    finally:
        server.stop()
        feed_server.terminate()
        feed_server.join()
    rows.append(("polling, 2 monitors / 1 monitor", f"{rates[2] / rates[1]:.2f}  ({rates[2]:.0f} vs {rates[1]:.0f}"
                 " feeds/s)", "", ""))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed", description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=800, metavar="N", help="articles replayed (default: 800)")
    parser.add_argument("--feeds", type=int, default=2000, metavar="N", help="feeds polled (default: 2000)")
    parser.add_argument("--skip-polling", action="store_true", help="only the replay part")
    args = parser.parse_args(argv)
    if args.articles < 10 or args.feeds < 10:
        parser.error("give at least 10 articles and 10 feeds")
    quiet_logging()
    started = datetime.now().astimezone()
    command = " ".join(["python -m benchmarks.distributed", *(sys.argv[1:] if argv is None else argv)])
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-") as directory:
        rows = replay_figures(figures, args.articles, directory)
        if not args.skip_polling:
            rows += polling_figures(figures, args.feeds, directory)
    import apache_beam
    import dask

    versions = f"apache-beam {apache_beam.__version__}, dask {dask.__version__}"
    print_target_table("newsmon distributed bench", versions, rows, command, started)
    print_figures("details", versions, figures, command, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
