"""``newsmon replay``: replay an article archive into Redis and show what was found.

    newsmon replay seeds/ --subscriptions seeds/subscriptions.yaml [--show N] [Beam options]

Runs the replay graph (pipeline/replay.py) over .txt and .jsonl articles with
the subscriptions stored in Redis (plus those of ``--subscriptions``), shows a
progress bar on a terminal, then the run's summary and the latest alerts.
Rerunning writes nothing twice.
"""

import sys
import threading

from connectors.archive import archive_files, count_articles
from connectors.counts import CountOptions, archive_time_span, load_countries
from connectors.redis_streams import new_run_id
from connectors.subscription_store import SubscriptionStore, load_subscriptions_file, log_unusable
from pipeline.commands.run_summary import failed_count, print_latest_alerts, print_run_summary, redis_counts
from pipeline.errors import EXIT_INPUTS_FAILED, EXIT_OK, UsageError
from pipeline.options import (
    RunConfig,
    add_common_arguments,
    add_prefilter_argument,
    add_redis_arguments,
    add_runner_arguments,
    alias_table,
    connect_redis,
    runner_arguments,
)
from pipeline.replay import run_replay
from transforms.topics import load_taxonomy

__all__ = ["add_parser"]


def _run_with_progress(run, client, stats_key, total, show_bar):
    """Run ``run()`` in a thread; a progress bar follows the sink's counter in Redis."""
    outcome = {}

    def target():
        try:
            outcome["result"] = run()
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="newsmon-replay", daemon=True)
    thread.start()
    if show_bar:
        from tqdm import tqdm

        with tqdm(total=total, unit="article", desc="replay", file=sys.stderr) as bar:
            while thread.is_alive():
                thread.join(0.3)
                try:
                    done = sum(int(n) for n in client.hmget(stats_key, "articles", "failed") if n)
                except Exception:  # noqa: BLE001 - the bar is cosmetic
                    continue
                bar.update(max(0, min(done, total) - bar.n))
    thread.join()
    if "error" in outcome:
        client.delete(stats_key, f"{stats_key}:once")
        raise outcome["error"]
    return outcome["result"]


def run(args, beam_args):
    beam_args = runner_arguments(args, beam_args)
    taxonomy = load_taxonomy(args.topics)
    files = archive_files(args.paths)
    if not files:
        raise UsageError(f"no .txt or .jsonl articles under {' '.join(args.paths)}")
    redis = connect_redis(args)
    url, client, keys = redis.url, redis.client, redis.keys
    subscriptions, unusable = SubscriptionStore(client, keys).checked(known_topics=taxonomy)
    log_unusable(unusable)  # one line each; the others are used
    if args.subscriptions:
        subscriptions.update(load_subscriptions_file(args.subscriptions, known_topics=taxonomy))
    stats_key = keys.run_stats(new_run_id())
    # Counts per series and time bucket: retention is measured from the archive's latest date.
    span = archive_time_span(files)
    counts_options = CountOptions(reference=span[1] if span else None, countries=load_countries())
    alias_table(args)  # a bad alias or places file stops the command here, with one line
    config = RunConfig(redis_url=url, taxonomy=taxonomy, subscriptions=subscriptions, model=args.model,
                       aliases=args.aliases, places=args.places, prefix=args.prefix, batch_size=args.batch_size,
                       stats_key=stats_key, prefilter=args.prefilter, counts=counts_options,
                       count_once=True)
    show_bar = sys.stderr.isatty() and not args.no_progress
    _run_with_progress(lambda: run_replay(args.paths, config, beam_args),
                       client, stats_key, count_articles(files), show_bar)
    counts = redis_counts(client, stats_key)  # the same on every runner (the Dask runner keeps no metrics)
    client.delete(stats_key, f"{stats_key}:once")
    print_run_summary(counts, redis, f"Replayed {len(files)} file(s)", taxonomy, subscriptions)
    print(replay_surges_line(client, keys.prefix, span))
    print_latest_alerts(client, keys, subscriptions, args.show)
    if not counts.get(("newsmon", "articles_read")):
        # Nothing read from a non-empty request is never a success, whatever the runner reported.
        print(f"newsmon: no article was read from {len(files)} file(s)"
              f" (what failed is on {keys.deadletter}: newsmon deadletters list)", file=sys.stderr)
        return EXIT_INPUTS_FAILED
    return EXIT_INPUTS_FAILED if failed_count(counts) else EXIT_OK


def replay_surges_line(client, prefix, span):
    """Detect surges over the replayed span, on the articles' own times; one line saying what came of it."""
    from connectors.surges import SurgeWatch

    if span is None:
        return "Surges: none looked for (no article has a date)."
    found = SurgeWatch(client, prefix).detect_range(span[0], span[1])
    first, last = (SurgeWatch.iso(t)[:16].replace("T", " ") for t in span)
    listed = ", ".join(f"{f['name']} ({f['level']}, {f['at'][:16].replace('T', ' ')})" for f in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    return (f"Surges: {len(found)} new on {prefix}spikes for {first} to {last} UTC"
            + (f": {listed}{more}" if found else "") + " (newsmon spikes --until DATE lists them).")


def add_parser(commands):
    replay = commands.add_parser(
        "replay", help="replay an article archive into Redis and show what was found",
        description="Replay .txt and .jsonl articles through the pipeline into Redis Streams. "
                    "Rerunning writes nothing twice. Beam options (--runner, --direct_num_workers=2 "
                    "--direct_running_mode=multi_processing, ...) pass through; --runner dask"
                    " --dask-address tcp://HOST:8786 runs on a Dask cluster.")
    replay.add_argument("paths", nargs="+", metavar="PATH", help="archive files or directories")
    add_redis_arguments(replay)
    add_common_arguments(replay)
    replay.add_argument("--subscriptions", metavar="FILE",
                        help="YAML file of subscriptions, used with those stored in Redis")
    replay.add_argument("--batch-size", type=int, default=32, help="articles per NER batch (default: 32)")
    replay.add_argument("--show", type=int, default=3, metavar="N",
                        help="latest alerts to show per subscription (default: 3; 0 for none)")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_prefilter_argument(replay)
    add_runner_arguments(replay)
    replay.set_defaults(func=run, beam_options=True)
