"""The ``newsmon`` command.

    newsmon replay seeds/                      replay an archive into Redis, show what was found
    newsmon tag ARTICLE.txt [--json]           tag articles locally (no Redis)
    newsmon subscribe add NAME --topic T --any TERM ...
    newsmon subscribe list|show|remove|pause|resume
    newsmon rules test NAME|FILE --archive PATH   which archived articles a rule matches, and why
    newsmon eval CORPUS.jsonl                  precision, recall and F1 of the topics on a labelled corpus
    newsmon poll FEEDLIST --once               poll every feed once through the whole pipeline
    newsmon monitor FEEDLIST --interval 300    poll feeds continuously, alert minutes after a story appears
    newsmon feeds status                       per feed: health, last status, items, failures, next poll
    newsmon alerts show SUBSCRIPTION           the latest alerts of a subscription
    newsmon alerts tail SUBSCRIPTION [--follow]   read alerts as a consumer group (ack after printing)
    newsmon deliver SUBSCRIPTION --webhook URL    POST alerts to a webhook, exactly once

Every command has --help.
"""

import argparse
import json
import logging
import sys
import threading
import time

# Importing Beam logs a note about Google Cloud clients that newsmon does not use.
logging.basicConfig(level=logging.WARNING, format="%(message)s")
logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())

from apache_beam.metrics.metric import MetricsFilter

from connectors.alert_consumer import AlertReader, default_consumer_name
from connectors.archive import archive_files, count_articles
from connectors.redis_connection import redis_client, resolve_redis
from connectors.redis_streams import RedisKeys, new_run_id
from connectors.subscription_store import SubscriptionStore, load_subscriptions_file
from pipeline.options import RunConfig, add_common_arguments, add_prefilter_argument, add_redis_arguments
from pipeline.replay import run_replay
from transforms.rules import RuleError, validate_rule_id
from transforms.topics import load_taxonomy

__all__ = ["main"]


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _connect(args):
    url, server = resolve_redis(args.redis)
    return url, server, redis_client(url), RedisKeys(args.prefix)


# --- replay -----------------------------------------------------------------


def _counters(result):
    counts = {}
    for counter in result.metrics().query(MetricsFilter())["counters"]:
        key = (counter.key.metric.namespace, counter.key.metric.name)
        counts[key] = counts.get(key, 0) + (counter.committed or 0)
    return counts


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
    client.delete(stats_key)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _print_summary(counts, keys, client, url, headline, taxonomy, subscriptions):
    read = counts.get(("newsmon", "articles_read"), 0)
    failed = counts.get(("newsmon", "failed"), 0)
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
        for name in subscriptions:
            matched = counts.get(("alerts", name), 0)
            new = counts.get(("written", f"alerts:{name}"), 0)
            print(f"  {name:<24} {matched:>6} matched, {new} new on {keys.alerts(name)}")
    if duplicates:
        print(f"{duplicates} entries were already on their streams and were not written again.")
    print(f"Streams at {url}: {keys.events} ({client.xlen(keys.events)} entries),"
          f" {keys.prefix}topic:<topic>, {keys.prefix}alerts:<subscription>, {keys.deadletter}"
          f" ({client.xlen(keys.deadletter)} entries).")


def _format_alert(entry_id, fields):
    topics = ", ".join(t["id"] for t in json.loads(fields.get("topics", "[]")))
    evidence = json.loads(fields.get("evidence", "[]"))
    terms = ", ".join(json.loads(fields.get("terms", "[]")))
    lines = [f"[{entry_id}] {fields.get('title', '')}",
             f"    source: {fields.get('source') or '-'}  published: {fields.get('published') or '-'}"
             f"  url: {fields.get('url') or '-'}",
             f"    topics: {topics or '-'}  terms: {terms or '-'}  score: {fields.get('score', '')}"]
    if evidence:
        lines.append(f"    evidence: {evidence[0]}")
    return "\n".join(lines)


def cmd_replay(args, beam_args):
    taxonomy = load_taxonomy(args.topics)
    files = archive_files(args.paths)
    if not files:
        raise UsageError(f"no .txt or .jsonl articles under {' '.join(args.paths)}")
    url, _server, client, keys = _connect(args)
    store = SubscriptionStore(client, keys)
    subscriptions = store.all()
    if args.subscriptions:
        subscriptions.update(load_subscriptions_file(args.subscriptions, known_topics=taxonomy))
    stats_key = keys.run_stats(new_run_id())
    config = RunConfig(redis_url=url, taxonomy=taxonomy, subscriptions=subscriptions, model=args.model,
                       aliases=args.aliases, prefix=args.prefix, batch_size=args.batch_size,
                       stats_key=stats_key, prefilter=args.prefilter)
    show_bar = sys.stderr.isatty() and not args.no_progress
    result = _run_with_progress(lambda: run_replay(args.paths, config, beam_args),
                                client, stats_key, count_articles(files), show_bar)
    counts = _counters(result)
    _print_summary(counts, keys, client, url, f"Replayed {len(files)} file(s)", taxonomy, subscriptions)
    _print_latest_alerts(client, keys, subscriptions, args.show)
    return 0


def _print_latest_alerts(client, keys, subscriptions, count):
    if not count or not subscriptions:
        return
    print("\nLatest alerts:")
    for name in subscriptions:
        entries = client.xrevrange(keys.alerts(name), count=count)
        if entries:
            print(f"— {name} ({client.xlen(keys.alerts(name))} on {keys.alerts(name)}):")
            for entry_id, fields in entries:
                print(_format_alert(entry_id, fields))


# --- feeds: poll, monitor, status ---------------------------------------------


def _feed_run_setup(args):
    from connectors.feed_lists import load_feed_list

    taxonomy = load_taxonomy(args.topics)
    feeds = load_feed_list(args.feedlist)
    url, server, client, keys = _connect(args)
    subscriptions = {}
    if args.subscriptions:
        subscriptions = load_subscriptions_file(args.subscriptions, known_topics=taxonomy)
    return taxonomy, feeds, url, server, client, keys, subscriptions


def _feed_counts_line(counts):
    outcomes = {name: counts.get(("feeds", name), 0) for name in ("ok", "not_modified", "failed", "not_due")}
    return (f"Feeds: {outcomes['ok']} fetched, {outcomes['not_modified']} not modified,"
            f" {outcomes['failed']} failed, {outcomes['not_due']} not due yet (see: newsmon feeds status).")


def cmd_poll(args, beam_args):
    from connectors.feeds import PollFeeds
    from pipeline.graph import ArticlesToAlerts
    from pipeline.options import make_pipeline

    taxonomy, feeds, url, _server, client, keys, subscriptions = _feed_run_setup(args)
    stats_key = keys.run_stats(new_run_id())
    config = RunConfig(redis_url=url, taxonomy=taxonomy, subscriptions=subscriptions, model=args.model,
                       aliases=args.aliases, prefix=args.prefix, stats_key=stats_key, skip_processed=True,
                       live_subscriptions=True, prefilter=args.prefilter)
    pipeline = make_pipeline(beam_args)
    source = pipeline | "PollFeeds" >> PollFeeds(
        feeds, url, prefix=args.prefix, allow_private=args.allow_private, default_interval=args.interval,
        force=args.force, stats_key=stats_key, verify_processed=True)
    _ = {"articles": source.articles, "failed": source.failed} | "ArticlesToAlerts" >> ArticlesToAlerts(config)
    result = pipeline.run()
    result.wait_until_finish()
    client.delete(stats_key)
    counts = _counters(result)
    all_subscriptions = {**SubscriptionStore(client, keys).all(), **subscriptions}
    _print_summary(counts, keys, client, url, f"Polled {len(feeds)} feed(s)", taxonomy, all_subscriptions)
    print(_feed_counts_line(counts))
    _print_latest_alerts(client, keys, all_subscriptions, args.show)
    return 0


def _status_line(previous, current):
    def delta(name):
        return int(current.get(name, 0)) - int(previous.get(name, 0))

    return (f"{time.strftime('%H:%M:%S')} poll: {delta('feeds_polled')} feeds polled,"
            f" {delta('articles')} new items, {delta('alerts')} alerts,"
            f" {max(delta('feed_failures'), delta('failed'))} failures")


def cmd_monitor(args, beam_args):
    import os
    import signal

    from pipeline.monitor import run_monitor

    taxonomy, feeds, url, server, client, keys, subscriptions = _feed_run_setup(args)
    run_id = new_run_id()
    stats_key = keys.run_stats(run_id)
    stop_key = f"{keys.prefix}monitor:{run_id}:stop"
    config = RunConfig(redis_url=url, taxonomy=taxonomy, subscriptions=subscriptions, model=args.model,
                       aliases=args.aliases, prefix=args.prefix, stats_key=stats_key, retry_seconds=None,
                       skip_processed=True, live_subscriptions=True,
                       refresh_seconds=min(5.0, float(args.interval)), prefilter=args.prefilter)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"newsmon: monitoring {len(feeds)} feed(s) every {args.interval:g} s into {url}"
          f" (stop with Ctrl-C)", file=sys.stderr, flush=True)
    outcome = {}

    def target():
        try:
            run_monitor(feeds, config, beam_args, interval=args.interval, max_polls=args.max_polls,
                        duration=args.duration, stop_key=stop_key, allow_private=args.allow_private)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="newsmon-monitor", daemon=True)
    thread.start()
    printed, last, changed_at = {}, {}, time.monotonic()
    stop_deadline = None
    while thread.is_alive():
        thread.join(0.25)
        now = time.monotonic()
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
            print(_status_line(printed, current), flush=True)
            printed = current
        if stop_deadline is not None and (settled or now > stop_deadline):
            break
    if "error" in outcome:
        raise outcome["error"]
    try:
        current = client.hgetall(stats_key)
        if int(current.get("feeds_polled", 0)) > int(printed.get("feeds_polled", 0)):
            print(_status_line(printed, current), flush=True)
        client.delete(stats_key, stop_key)
    except Exception:  # noqa: BLE001 - Redis is down: nothing more to report
        pass
    print("newsmon: monitor stopped", file=sys.stderr, flush=True)
    if thread.is_alive():
        # Stopped by a signal: writes in flight are done (the counters settled); the runner's
        # threads would keep the process alive, so leave now. Nothing is lost: items not yet
        # written carry no processed marker and are taken again on the next start.
        if server is not None:
            try:
                server.save()
            except Exception:  # noqa: BLE001 - the embedded server is gone
                pass
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def cmd_feeds_status(args, _beam_args):
    from connectors.feed_state import all_feed_states

    _url, _server, client, keys = _connect(args)
    states = all_feed_states(client, keys)
    if args.json:
        for state in states:
            print(json.dumps({"feed_id": state.feed_id, **state.to_hash()}, ensure_ascii=False))
        return 0
    if not states:
        print("no feeds polled yet; run: newsmon poll FEEDLIST --once")
        return 0
    now = time.time()
    print(f"{'health':<8} {'status':>6} {'items':>5} {'fails':>5} {'etag':<4} {'next poll':>10}  feed")
    for state in states:
        wait = state.next_poll - now
        next_poll = "due" if wait <= 0 else f"in {int(wait // 60)}m{int(wait % 60):02d}s"
        print(f"{state.health:<8} {state.last_status or '-':>6} {state.items:>5} {state.failures:>5}"
              f" {'yes' if state.etag or state.last_modified else 'no':<4} {next_poll:>10}  {state.url}")
        if state.last_error:
            print(f"{'':>44}last error: {state.last_error[:100]}")
    return 0


# --- tag --------------------------------------------------------------------


def cmd_tag(args, _beam_args):
    from pipeline.tag import tag_paths

    taxonomy = load_taxonomy(args.topics)
    failures = 0
    for article, failed in tag_paths(args.paths, taxonomy, model=args.model, aliases_path=args.aliases):
        if failed is not None:
            failures += 1
            print(f"newsmon: {failed['origin']}: {failed['error']}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps({key: article[key] for key in ("id", "title", "topics", "entities")},
                             ensure_ascii=False))
            continue
        print(f"{article['title']}  [{article['id']}]")
        for topic in article["topics"]:
            print(f"  topic {topic['id']} (score {topic['score']}): {', '.join(topic['terms'])}")
            print(f"        {topic['evidence'][0]}")
        if not article["topics"]:
            print("  no topic")
        people = ", ".join(f"{e['canonical']} ({e['label']}, {e['count']})" for e in article["entities"][:12])
        print(f"  entities: {people or '-'}\n")
    return 1 if failures else 0


# --- subscribe --------------------------------------------------------------


def _rule_from_args(args):
    rule = {}
    for field, values in (("topics", args.topic), ("any", args.any), ("none", args.none),
                          ("sources", args.source)):
        if values:
            rule[field] = values
    if args.all:
        rule["all"] = [[term.strip() for term in group.split("|") if term.strip()] for group in args.all]
    if args.entity:
        entities = {}
        for spec in args.entity:
            label, sep, name = spec.partition(":")
            if not sep or not name.strip():
                raise UsageError(f"--entity {spec!r}: expected LABEL:Name, e.g. GPE:Russia")
            entities.setdefault(label.strip().upper(), []).append(name.strip())
        rule["entities"] = entities
    if args.within:
        rule["within"] = int(args.within) if args.within.isdigit() else args.within
    if args.min_score is not None:
        rule["min_score"] = args.min_score
    if args.min_hits is not None:
        rule["min_hits"] = args.min_hits
    return rule


def cmd_subscribe(args, _beam_args):
    _url, _server, client, keys = _connect(args)
    store = SubscriptionStore(client, keys)
    if args.action == "add":
        taxonomy = load_taxonomy(args.topics)
        store.add(args.name, _rule_from_args(args), known_topics=taxonomy)
        print(f"subscription {args.name} saved; its alerts go to {keys.alerts(args.name)}")
    elif args.action == "list":
        subscriptions = store.all()
        if args.json:
            print(json.dumps(subscriptions, ensure_ascii=False))
        for name, rule in subscriptions.items() if not args.json else ():
            state = " (paused)" if rule.get("paused") else ""
            print(f"{name}{state}: {json.dumps({k: v for k, v in rule.items() if k != 'paused'})}")
        if not subscriptions and not args.json:
            print("no subscriptions; add one with: newsmon subscribe add NAME --topic TOPIC")
    elif args.action == "show":
        rule = store.get(args.name)
        if rule is None:
            raise UsageError(f"no subscription {args.name!r}")
        print(json.dumps(rule, indent=2, ensure_ascii=False))
    elif args.action == "remove":
        if not store.remove(args.name):
            raise UsageError(f"no subscription {args.name!r}")
        print(f"subscription {args.name} removed (its alerts stay on {keys.alerts(args.name)})")
    else:
        if not store.set_paused(args.name, args.action == "pause"):
            raise UsageError(f"no subscription {args.name!r}")
        print(f"subscription {args.name} {'paused' if args.action == 'pause' else 'resumed'}")
    return 0


# --- alerts -----------------------------------------------------------------


def cmd_alerts(args, _beam_args):
    _url, _server, client, keys = _connect(args)
    stream = keys.alerts(args.subscription)
    entries = client.xrevrange(stream, count=args.count)
    if not entries:
        print(f"no alerts on {stream}", file=sys.stderr)
    for entry_id, fields in entries:
        if args.json:
            print(json.dumps({"entry": entry_id, **fields}, ensure_ascii=False))
        else:
            print(_format_alert(entry_id, fields))
    return 0


# --- eval -------------------------------------------------------------------


def cmd_eval(args, _beam_args):
    from pipeline.tag import tag_articles
    from transforms.evaluation import evaluate, format_report, load_corpus

    taxonomy = load_taxonomy(args.topics)
    corpus = load_corpus(args.corpus)
    raw = (({"id": a["id"], "title": a["title"], "text": a["text"], "origin": a["id"]}, None) for a in corpus)
    tagged = []
    for article, failed in tag_articles(raw, taxonomy, model=args.model, aliases_path=args.aliases):
        if failed is not None:
            print(f"newsmon: {failed['origin']}: {failed['error']}", file=sys.stderr)
            continue
        tagged.append({**article, "id": article["origin"]})
    report = evaluate(corpus, tagged, topics=list(taxonomy))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(format_report(report))
    return 0


# --- rules test -------------------------------------------------------------


def cmd_rules_test(args, _beam_args):
    from pathlib import Path

    from pipeline.tag import preview_subscriptions

    taxonomy = load_taxonomy(args.topics)
    if Path(args.rule).suffix in (".yaml", ".yml") or Path(args.rule).is_file():
        subscriptions = load_subscriptions_file(args.rule, known_topics=taxonomy)
    else:
        _url, _server, client, keys = _connect(args)
        rule = SubscriptionStore(client, keys).get(args.rule)
        if rule is None:
            raise UsageError(f"no subscription {args.rule!r} in Redis, and no file of that name")
        subscriptions = {args.rule: {k: v for k, v in rule.items() if k != "paused"}}
    matches = 0
    for article, failed in preview_subscriptions(args.archive, taxonomy, subscriptions,
                                                 model=args.model, aliases_path=args.aliases):
        if failed is not None:
            print(f"newsmon: {failed['origin']}: {failed['error']}", file=sys.stderr)
            continue
        matches += 1
        if args.json:
            print(json.dumps({key: article[key] for key in ("id", "title", "url", "origin", "alerts")},
                             ensure_ascii=False))
            continue
        print(f"{article['title']}  [{article['origin']}]")
        for alert in article["alerts"]:
            print(f"  {alert['id']} (score {alert['score']}) terms: {', '.join(alert['terms']) or '-'}")
            for sentence in alert["evidence"]:
                print(f"    {sentence}")
    if not args.json:
        print(f"{matches} matching article(s); nothing was written to Redis.")
    return 0


# --- alerts tail / deliver --------------------------------------------------


def _reader(args, client, keys, kind):
    validate_rule_id(args.subscription, "subscription")
    return AlertReader(client, keys.alerts(args.subscription), group=args.group or kind,
                       consumer=args.consumer or default_consumer_name(kind),
                       claim_idle_ms=int(args.claim_idle * 1000))


def cmd_alerts_tail(args, _beam_args):
    _url, _server, client, keys = _connect(args)
    reader = _reader(args, client, keys, "tail")
    shown = 0
    while args.limit is None or shown < args.limit:
        entries = reader.read(count=10 if args.limit is None else min(10, args.limit - shown),
                              block_ms=5000 if args.follow else None)
        if not entries and not args.follow:
            break
        for entry_id, fields in entries:
            if args.json:
                print(json.dumps({"entry": entry_id, **fields}, ensure_ascii=False), flush=True)
            else:
                print(_format_alert(entry_id, fields), flush=True)
            reader.ack(entry_id)
            shown += 1
    return 0


def cmd_deliver(args, _beam_args):
    from connectors.webhook import WebhookDeliverer

    _url, _server, client, keys = _connect(args)
    if not args.group:
        import hashlib

        args.group = "webhook-" + hashlib.sha256(args.webhook.encode()).hexdigest()[:8]
    deliverer = WebhookDeliverer(_reader(args, client, keys, "deliver"), args.webhook,
                                 deadletter_stream=keys.deadletter, attempts=args.attempts,
                                 backoff_seconds=args.backoff)
    try:
        deliverer.run(follow=not args.once)
    finally:
        print(f"delivered {deliverer.delivered} alert(s) to {args.webhook};"
              f" {deliverer.dead} moved to {keys.deadletter}", file=sys.stderr)
    return 0


# --- the parser ---------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(
        prog="newsmon",
        description="Streaming news monitoring: articles -> spaCy entities and topic rules -> "
                    "alerts on Redis Streams.",
        epilog="Options the parser does not know (--runner, --direct_num_workers, ...) go to Beam.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log Beam's progress too")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    replay = commands.add_parser(
        "replay", help="replay an article archive into Redis and show what was found",
        description="Replay .txt and .jsonl articles through the pipeline into Redis Streams. "
                    "Rerunning writes nothing twice. Beam options (--runner, --direct_num_workers=2 "
                    "--direct_running_mode=multi_processing, ...) pass through.")
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
    replay.set_defaults(func=cmd_replay)

    tag = commands.add_parser("tag", help="tag articles with entities and topics (no Redis)",
                              description="Tag .txt/.jsonl articles and print what was found.")
    tag.add_argument("paths", nargs="+", metavar="PATH")
    tag.add_argument("--json", action="store_true", help="one JSON object per article per line")
    add_common_arguments(tag)
    tag.set_defaults(func=cmd_tag)

    subscribe = commands.add_parser("subscribe", help="manage alert subscriptions stored in Redis",
                                    description="Add, list, show, remove, pause or resume subscriptions.")
    actions = subscribe.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", help="add or replace a subscription",
        description="A subscription matches an article when all its conditions hold.",
        epilog="example: newsmon subscribe add nord-stream --topic sanctions --any 'nord stream' --any gazprom")
    add.add_argument("name", help="subscription name (lower-case letters, digits, - _ .)")
    add.add_argument("--topic", action="append", metavar="TOPIC", help="the article carries this topic")
    add.add_argument("--any", action="append", metavar="TERM", help="one of these terms occurs")
    add.add_argument("--all", action="append", metavar="T1|T2",
                     help="a group of terms ('|'-separated), one of which must occur; repeat for each group")
    add.add_argument("--none", action="append", metavar="TERM", help="this term does not occur")
    add.add_argument("--within", metavar="sentence|N", help="the --all groups occur in one sentence / N tokens")
    add.add_argument("--entity", action="append", metavar="LABEL:NAME", help="an entity, e.g. GPE:Russia")
    add.add_argument("--source", action="append", metavar="SOURCE", help="only articles from this source")
    add.add_argument("--min-score", type=float, help="lowest score that alerts (0-1)")
    add.add_argument("--min-hits", type=int, help="least number of term occurrences")
    add.add_argument("--topics", metavar="FILE", default=load_taxonomy.__defaults__[0],
                     help="taxonomy whose topics --topic may name (default: seeds/topics.yaml)")
    listing = actions.add_parser("list", help="list subscriptions")
    listing.add_argument("--json", action="store_true")
    for action, text in (("show", "print one subscription's rule"), ("remove", "delete a subscription"),
                         ("pause", "stop alerting, keep the rule"), ("resume", "alert again")):
        actions.add_parser(action, help=text).add_argument("name")
    for sub in actions.choices.values():
        add_redis_arguments(sub)
    subscribe.set_defaults(func=cmd_subscribe)

    def add_feed_run_arguments(parser):
        parser.add_argument("feedlist", metavar="FEEDLIST", help="OPML, YAML or text list of feed URLs")
        parser.add_argument("--interval", type=float, default=900, metavar="SECONDS",
                            help="default poll interval per feed (default: %(default)g)")
        parser.add_argument("--subscriptions", metavar="FILE",
                            help="YAML file of subscriptions, used with those stored in Redis")
        parser.add_argument("--allow-private", action="store_true",
                            help="allow feeds on loopback and private addresses (refused by default)")
        add_redis_arguments(parser)
        add_common_arguments(parser)
        add_prefilter_argument(parser)

    poll = commands.add_parser(
        "poll", help="poll every feed once through the whole pipeline",
        description="Poll each due feed of a feed list once (conditional GET, politeness, backoff), take "
                    "new items through the pipeline into Redis, and show what was found.")
    add_feed_run_arguments(poll)
    poll.add_argument("--once", action="store_true", help="poll once and exit (the default for poll)")
    poll.add_argument("--force", action="store_true", help="poll feeds that are not due yet too")
    poll.add_argument("--show", type=int, default=3, metavar="N", help="latest alerts to show (default: 3)")
    poll.set_defaults(func=cmd_poll)

    monitor = commands.add_parser(
        "monitor", help="poll feeds continuously and alert on new items",
        description="Poll every feed on its own schedule, take new items through the pipeline and "
                    "write alerts to Redis; one status line per poll cycle. Subscriptions added, "
                    "paused or removed meanwhile take effect within one interval. Ctrl-C or SIGTERM "
                    "stop it after the writes in flight.")
    add_feed_run_arguments(monitor)
    monitor.add_argument("--max-polls", type=int, metavar="N", help="stop after N poll cycles")
    monitor.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    monitor.set_defaults(func=cmd_monitor)

    feeds = commands.add_parser("feeds", help="feed health", description="What newsmon knows of each feed.")
    feed_actions = feeds.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = feed_actions.add_parser("status", help="per feed: health, last status, items, failures, next poll")
    status.add_argument("--json", action="store_true", help="one JSON object per feed")
    add_redis_arguments(status)
    status.set_defaults(func=cmd_feeds_status)

    evaluation = commands.add_parser(
        "eval", help="measure topic and entity quality on a labelled corpus",
        description="Tag a labelled JSONL corpus (title, text, topics, entities) and print per-topic "
                    "precision, recall and F1, macro F1, key-entity recall, and the misses and false "
                    "hits with their evidence.")
    evaluation.add_argument("corpus", metavar="CORPUS.jsonl")
    evaluation.add_argument("--json", action="store_true", help="the report as one JSON object")
    add_common_arguments(evaluation)
    evaluation.set_defaults(func=cmd_eval)

    rules = commands.add_parser("rules", help="test rules against an archive",
                                description="Preview or backtest subscription rules.")
    rule_actions = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    rules_test = rule_actions.add_parser(
        "test", help="which archived articles a rule matches, and why (writes nothing)",
        description="Run a stored subscription (NAME) or every subscription of a YAML FILE over an "
                    "archive and print each matching article with its evidence and matched terms.")
    rules_test.add_argument("rule", metavar="NAME|FILE")
    rules_test.add_argument("--archive", nargs="+", required=True, metavar="PATH",
                            help="archive files or directories (.txt, .jsonl)")
    rules_test.add_argument("--json", action="store_true", help="one JSON object per matching article")
    add_redis_arguments(rules_test)
    add_common_arguments(rules_test)
    rules_test.set_defaults(func=cmd_rules_test)

    alerts = commands.add_parser("alerts", help="read alerts", description="Read a subscription's alerts.")
    alert_actions = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = alert_actions.add_parser("show", help="print the latest alerts of a subscription")
    show.add_argument("subscription")
    show.add_argument("-n", "--count", type=int, default=10, help="how many (default: 10)")
    show.add_argument("--json", action="store_true", help="one JSON object per alert per line")
    add_redis_arguments(show)
    show.set_defaults(func=cmd_alerts)
    tail = alert_actions.add_parser(
        "tail", help="read alerts as a consumer group, acknowledging each after printing it",
        description="Read a subscription's alerts with XREADGROUP; each is acknowledged only after it "
                    "is printed. Alerts a stopped or dead consumer left unacknowledged are read again.")
    tail.add_argument("subscription")
    tail.add_argument("-f", "--follow", action="store_true", help="wait for new alerts until interrupted")
    tail.add_argument("--json", action="store_true", help="one JSON object per alert per line")
    tail.add_argument("-n", "--limit", type=int, help="stop after this many alerts")
    add_consumer_arguments(tail, "tail")
    add_redis_arguments(tail)
    tail.set_defaults(func=cmd_alerts_tail)

    deliver = commands.add_parser(
        "deliver", help="POST a subscription's alerts to a webhook",
        description="POST each alert as JSON (with a 'text' field chat webhooks show), retrying with "
                    "backoff; acknowledge only after a 2xx; after --attempts failures move the alert to "
                    "the dead-letter stream. A stopped deliverer resumes where it left off.")
    deliver.add_argument("subscription")
    deliver.add_argument("--webhook", required=True, metavar="URL")
    deliver.add_argument("--attempts", type=int, default=5, help="POSTs before dead-lettering (default: 5)")
    deliver.add_argument("--backoff", type=float, default=1.0, metavar="SECONDS",
                         help="first retry delay, doubled each time (default: 1.0)")
    deliver.add_argument("--once", action="store_true", help="deliver what is waiting, then exit")
    add_consumer_arguments(deliver, "webhook-<hash of URL>")
    add_redis_arguments(deliver)
    deliver.set_defaults(func=cmd_deliver)
    return parser


def add_consumer_arguments(parser, group):
    parser.add_argument("--group", help=f"consumer group (default: {group})")
    parser.add_argument("--consumer", help="consumer name within the group (default: <kind>-<hostname>)")
    parser.add_argument("--claim-idle", type=float, default=60.0, metavar="SECONDS",
                        help="take over alerts another consumer left unacknowledged this long (default: 60)")


def main(argv=None):
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    if beam_args and args.command not in ("replay", "poll", "monitor"):
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    if args.verbose:
        logging.getLogger().setLevel(logging.INFO)
    else:
        logging.getLogger("apache_beam").setLevel(logging.ERROR)
    try:
        return args.func(args, beam_args)
    except (UsageError, RuleError, ValueError) as error:
        print(f"newsmon: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
