"""``newsmon subscribe``: alert subscriptions stored in Redis.

    newsmon subscribe add nord-stream --topic sanctions --any "nord stream" --any gazprom
    newsmon subscribe add arctic --topic arctic_militarization --update-on sources:3,10 --update-on countries
    newsmon subscribe add wire --topic sanctions --per article
    newsmon subscribe add surge --on-spike topic:arctic_militarization --level high
    newsmon subscribe list [--json]
    newsmon subscribe show|remove|pause|resume NAME
    newsmon subscribe import [FILE]      every subscription of a YAML file (default: the shipped examples)

A subscription is a rule in the same language as the topics (transforms/rules.py),
validated before it is stored (connectors/subscription_store.py); its alerts go
to ``<prefix>alerts:<name>``. Topics are checked against ``--topics FILE`` if
given, else against the topics the monitor (or the last ``poll``) runs with,
which it publishes in Redis when it starts, else against the default taxonomy.
``list`` marks a stored subscription the running taxonomy cannot use as
``(invalid: reason)``; the pipeline skips it with one log line and uses the others.
"""

import argparse
import json

from connectors.subscription_store import SubscriptionStore, load_subscriptions_file, running_topics
from pipeline.errors import UsageError
from pipeline.options import add_redis_arguments, connect_redis
from seeds import default_file
from transforms.rules import RuleError
from transforms.topics import DEFAULT_TAXONOMY, load_taxonomy

__all__ = ["add_parser", "rule_from_args"]


def rule_from_args(args):
    """The rule the ``subscribe add`` options describe, e.g. ``{"topics": [...], "any": [...]}``."""
    if getattr(args, "on_spike", None):
        others = [name for name in ("topic", "any", "terms", "all", "none", "within", "entity", "source",
                                    "min_score", "min_hits") if getattr(args, name, None) not in (None, [])]
        if others:
            raise UsageError(f"--on-spike subscribes to surges; it takes --level, not --{others[0].replace('_', '-')}")
        return {"on_spike": args.on_spike, "level": args.level or "low"}
    if getattr(args, "level", None):
        raise UsageError("--level goes with --on-spike")
    rule = {}
    for field, values in (("topics", args.topic), ("any", args.any), ("none", args.none),
                          ("sources", args.source)):
        if values:
            rule[field] = values
    if getattr(args, "terms", None):
        terms = {}
        for spec in args.terms:
            language, sep, term = spec.partition("=")
            if not sep or not language.strip() or not term.strip():
                raise UsageError(f"--terms {spec!r}: expected LANG=TERM, e.g. de=sanktionen")
            terms.setdefault(language.strip().lower(), []).append(term.strip())
        rule["terms"] = terms
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
    if args.per and args.per != "story":
        rule["per"] = args.per
    if args.update_on:
        rule["update_on"] = args.update_on
    return rule


def known_topics(args, client, keys):
    """``(topic ids, where they come from)``: ``--topics FILE``, else the taxonomy the running
    monitor published, else the default taxonomy."""
    if getattr(args, "topics", None):
        return list(load_taxonomy(args.topics)), args.topics
    running = running_topics(client, keys)
    if running is not None:
        topics, source = running
        return topics, f"the taxonomy the monitor runs with ({source or 'published in Redis'})"
    return list(load_taxonomy(DEFAULT_TAXONOMY)), "the default taxonomy"


def _list(args, store, topics):
    usable, unusable = store.checked(known_topics=topics)
    if args.json:
        print(json.dumps(store.all(), ensure_ascii=False))
        return
    if not usable and not unusable:
        print("no subscriptions; add one with: newsmon subscribe add NAME --topic TOPIC")
        return
    stored = store.all()
    for name in sorted({**usable, **unusable}):
        rule = stored.get(name, {})
        if name in unusable:
            state = f" (invalid: {unusable[name]})"
        else:
            state = " (paused)" if rule.get("paused") else ""
        print(f"{name}{state}: {json.dumps({k: v for k, v in rule.items() if k != 'paused'}, ensure_ascii=False)}")


def run(args, _beam_args):
    _url, _server, client, keys = connect_redis(args)
    store = SubscriptionStore(client, keys)
    if args.action == "add":
        topics, source = known_topics(args, client, keys)
        try:
            store.add(args.name, rule_from_args(args), known_topics=topics)
        except RuleError as error:
            if "unknown topic" not in str(error):
                raise
            raise UsageError(f"{error}; checked against {source}") from error
        kind = "surge alerts" if args.on_spike else "alerts"
        print(f"subscription {args.name} saved; its {kind} go to {keys.alerts(args.name)}")
    elif args.action == "import":
        topics, _source = known_topics(args, client, keys)
        subscriptions = load_subscriptions_file(args.file, known_topics=topics)  # all checked, or none stored
        for name, rule in subscriptions.items():
            store.add(name, rule, known_topics=topics)
        print(f"{len(subscriptions)} subscription(s) imported from {args.file}: {', '.join(subscriptions)}")
    elif args.action == "list":
        _list(args, store, known_topics(args, client, keys)[0])
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


def add_parser(commands):
    subscribe = commands.add_parser("subscribe", help="manage alert subscriptions stored in Redis",
                                    description="Add, import, list, show, remove, pause or resume subscriptions.")
    actions = subscribe.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", help="add or replace a subscription",
        description="A subscription matches an article when all its conditions hold; with --on-spike, "
                    "it alerts when a series surges (newsmon spikes).",
        epilog="examples: newsmon subscribe add nord-stream --topic sanctions --any 'nord stream' --any gazprom\n"
               "          newsmon subscribe add surge --on-spike topic:arctic_militarization --level high",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("name", help="subscription name (lower-case letters, digits, - _ .)")
    add.add_argument("--topic", action="append", metavar="TOPIC", help="the article carries this topic")
    add.add_argument("--any", action="append", metavar="TERM", help="one of these terms occurs")
    add.add_argument("--terms", action="append", metavar="LANG=TERM",
                     help="one of these terms occurs, per language: de=sanktionen (articles in a language"
                          " without terms use the en ones)")
    add.add_argument("--all", action="append", metavar="T1|T2",
                     help="a group of terms ('|'-separated), one of which must occur; repeat for each group")
    add.add_argument("--none", action="append", metavar="TERM", help="this term does not occur")
    add.add_argument("--within", metavar="sentence|N", help="the --all groups occur in one sentence / N tokens")
    add.add_argument("--entity", action="append", metavar="LABEL:NAME", help="an entity, e.g. GPE:Russia")
    add.add_argument("--source", action="append", metavar="SOURCE", help="only articles from this source")
    add.add_argument("--min-score", type=float, help="lowest score that alerts (0-1)")
    add.add_argument("--min-hits", type=int, help="least number of term occurrences")
    add.add_argument("--per", choices=("story", "article"), default="story",
                     help="alert once per story (default: the first matching article of a story, as 'new')"
                          " or for every matching article (the old behaviour)")
    add.add_argument("--update-on", action="append", metavar="sources:N,M|countries|entities",
                     help="with --per story, alert again as an 'update' (same story id, its source count) when"
                          " the story reaches N, then M sources, or an article brings a new country / entity;"
                          " repeat for several")
    add.add_argument("--on-spike", metavar="SERIES",
                     help="alert on surges of a series instead of on articles: topic:ID, entity:NAME, "
                          "country:CODE, topic:ID|entity:NAME, or KIND:* (see newsmon spikes)")
    add.add_argument("--level", choices=("low", "medium", "high"),
                     help="with --on-spike: the lowest surge level that alerts (default: low)")
    add.add_argument("--topics", metavar="FILE",
                     help="taxonomy whose topics --topic may name (default: the topics the running monitor "
                          "published in Redis, else seeds/topics.yaml)")
    listing = actions.add_parser(
        "list", help="list subscriptions; those the running taxonomy cannot use are marked invalid",
        description="List stored subscriptions with their state: paused, or (invalid: reason) when the "
                    "taxonomy the monitor runs with cannot use it (the monitor skips it).")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--topics", metavar="FILE",
                         help="check against this taxonomy (default: as for add)")
    importing = actions.add_parser(
        "import", help="store every subscription of a YAML file (default: the shipped examples)",
        description="Check every subscription of a YAML file ('subscriptions:' mapping names to rules) and "
                    "store them all, replacing those of the same name; nothing is stored if one is invalid.")
    importing.add_argument("file", nargs="?", metavar="FILE", default=str(default_file("subscriptions.yaml")),
                           help="subscriptions YAML (default: the shipped seeds/subscriptions.yaml)")
    importing.add_argument("--topics", metavar="FILE", help="check against this taxonomy (default: as for add)")
    for action, text in (("show", "print one subscription's rule"), ("remove", "delete a subscription"),
                         ("pause", "stop alerting, keep the rule"), ("resume", "alert again")):
        actions.add_parser(action, help=text).add_argument("name")
    for sub in actions.choices.values():
        add_redis_arguments(sub)
    subscribe.set_defaults(func=run)
