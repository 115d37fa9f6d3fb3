"""``newsmon poll``: poll every due feed once through the whole pipeline, and show what was found.

    newsmon poll seeds/feeds.opml --once [--subscriptions FILE] [--force] [Beam options]

One pass of PollFeeds (conditional GET, politeness, backoff; connectors/feeds.py)
into the article graph (pipeline/graph.py). Items an earlier poll took through
the graph are skipped. On a terminal, a progress bar counts the due feeds as
each is polled, with the items and alerts so far. ``add_feed_run_arguments``
and ``feed_run_setup`` are shared with ``newsmon monitor``.
"""

import time

from connectors.counts import CountOptions, load_countries
from connectors.feed_fetch import FetchOptions
from connectors.feed_state import load_states
from connectors.redis_streams import new_run_id
from connectors.subscription_store import SubscriptionStore, load_subscriptions_file, log_unusable, publish_topics
from connectors.surges import SurgeWatch
from pipeline.commands.progress import follow_run
from pipeline.commands.run_summary import failed_count, metric_counts, print_latest_alerts, print_run_summary
from pipeline.errors import EXIT_INPUTS_FAILED, EXIT_OK, UsageError
from pipeline.options import (
    FeedRun,
    RunConfig,
    add_common_arguments,
    add_prefilter_argument,
    add_redis_arguments,
    alias_table,
    connect_redis,
)
from seeds import default_file
from transforms.topics import load_taxonomy

__all__ = ["add_feed_run_arguments", "add_parser", "feed_run_setup", "fulltext_mode"]


def add_feed_run_arguments(parser):
    parser.add_argument("feedlist", metavar="FEEDLIST", nargs="?", default=str(default_file("feeds.opml")),
                        help="OPML, YAML or text list of feed URLs (default: the shipped seeds/feeds.opml)")
    parser.add_argument("--interval", type=float, default=900, metavar="SECONDS",
                        help="default poll interval per feed (default: %(default)g)")
    parser.add_argument("--subscriptions", metavar="FILE",
                        help="YAML file of subscriptions, used with those stored in Redis")
    parser.add_argument("--allow-private", action="store_true",
                        help="allow feeds on loopback and private addresses (refused by default)")
    parser.add_argument("--max-items", type=int, default=FetchOptions().max_items, metavar="N",
                        help="items taken per fetch of a feed, the newest first (default: %(default)d)")
    parser.add_argument("--fulltext", choices=("auto", "always", "never"), default="never",
                        help="fetch each item's page for its full text: auto (when the feed gives a teaser),"
                             " always or never; for feeds whose list entry names no fulltext mode"
                             " (default: %(default)s)")
    add_redis_arguments(parser)
    add_common_arguments(parser)
    add_prefilter_argument(parser)


def fetch_options(args):
    if args.max_items < 1:
        raise UsageError(f"--max-items must be at least 1, got {args.max_items}")
    return FetchOptions(max_items=args.max_items)


def fulltext_mode(args, feeds):
    """The run's full-text mode for RunConfig.fulltext: None (no page step) when it is never and no
    feed of the list names a mode of its own."""
    if args.fulltext == "never" and not any(feed.fulltext for feed in feeds):
        return None
    return args.fulltext


def feed_run_setup(args):
    """``(taxonomy, feeds, RedisConnection, file subscriptions)`` of a feed run."""
    from connectors.feed_lists import load_feed_list

    taxonomy = load_taxonomy(args.topics)
    feeds = load_feed_list(args.feedlist)
    subscriptions = {}
    if args.subscriptions:
        subscriptions = load_subscriptions_file(args.subscriptions, known_topics=taxonomy)
    redis = connect_redis(args)
    # `newsmon subscribe add` checks new subscriptions against the topics this run knows.
    publish_topics(redis.client, redis.keys, taxonomy, source=args.topics)
    log_unusable(SubscriptionStore(redis.client, redis.keys).checked(known_topics=taxonomy)[1],
                 scope=(redis.url, redis.keys.prefix))
    return taxonomy, feeds, redis, subscriptions


def _feed_counts_line(counts):
    outcomes = {name: counts.get(("feeds", name), 0)
                for name in ("ok", "not_modified", "failed", "throttled", "not_due")}
    throttled = f" {outcomes['throttled']} throttled (429)," if outcomes["throttled"] else ""
    return (f"Feeds: {outcomes['ok']} fetched, {outcomes['not_modified']} not modified,"
            f" {outcomes['failed']} failed,{throttled} {outcomes['not_due']} not due yet"
            f" (see: newsmon feeds status).")


def _fulltext_line(counts):
    """What the full-text step did (connectors/pages.py counters)."""
    def count(name):
        return counts.get(("fulltext", name), 0)

    return (f"Full text: {count('fetched')} pages fetched and {count('cached')} from the cache;"
            f" {count('used')} articles got their page's text, {count('kept_teaser')} kept the teaser"
            f" (why: fulltext_problem on their entries), {count('not_wanted')} wanted no page.")


def run(args, beam_args):
    from connectors.feeds import PollFeeds
    from pipeline.graph import ArticlesToAlerts
    from pipeline.options import make_pipeline, run_pipeline

    taxonomy, feeds, redis, subscriptions = feed_run_setup(args)
    url, client, keys = redis.url, redis.client, redis.keys
    stats_key = keys.run_stats(new_run_id())
    alias_table(args)  # a bad alias or places file stops the command here, with one line
    config = RunConfig.from_arguments(args, redis_url=url, taxonomy=taxonomy, subscriptions=subscriptions,
                                      stats_key=stats_key, feed_run=FeedRun(),
                                      counts=CountOptions(countries=load_countries()),
                                      fulltext=fulltext_mode(args, feeds), allow_private_pages=args.allow_private)
    pipeline = make_pipeline(beam_args)
    source = pipeline | "PollFeeds" >> PollFeeds(
        feeds, url, prefix=args.prefix, allow_private=args.allow_private, default_interval=args.interval,
        force=args.force, stats_key=stats_key, verify_processed=True, options=fetch_options(args))
    _ = {"articles": source.articles, "failed": source.failed} | "ArticlesToAlerts" >> ArticlesToAlerts(config)
    now = time.time()
    due = sum(1 for state in load_states(client, keys, {feed.feed_id for feed in feeds}).values()
              if args.force or state.due(now))
    result = follow_run(lambda: run_pipeline(pipeline, beam_args), client, stats_key, total=due,
                        field="feeds_polled", desc="poll", unit="feed", postfix=("items", "alerts"))
    client.delete(stats_key)
    counts = metric_counts(result)
    all_subscriptions = {**SubscriptionStore(client, keys).checked(known_topics=taxonomy)[0], **subscriptions}
    print_run_summary(counts, redis, f"Polled {len(feeds)} feed(s)", taxonomy, all_subscriptions)
    print(_feed_counts_line(counts))
    if config.fulltext is not None:
        print(_fulltext_line(counts))
    surges = SurgeWatch(client, keys.prefix).detect_now()
    print(f"Surges: {len(surges)} new on {keys.prefix}spikes"
          + "".join(f"; {s['name']} ({s['level']}, {s['ratio']}x)" for s in surges) + ".")
    print_latest_alerts(client, keys, all_subscriptions, args.show)
    failed = failed_count(counts) or counts.get(("feeds", "failed"), 0)
    return EXIT_INPUTS_FAILED if failed else EXIT_OK


def add_parser(commands):
    poll = commands.add_parser(
        "poll", help="poll every feed once through the whole pipeline",
        description="Poll each due feed of a feed list once (conditional GET, politeness, backoff), take "
                    "new items through the pipeline into Redis, and show what was found.")
    add_feed_run_arguments(poll)
    poll.add_argument("--once", action="store_true", help="poll once and exit (the default for poll)")
    poll.add_argument("--force", action="store_true", help="poll feeds that are not due yet too")
    poll.add_argument("--show", type=int, default=3, metavar="N", help="latest alerts to show (default: 3)")
    poll.set_defaults(func=run, beam_options=True)
