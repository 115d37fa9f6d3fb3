"""``newsmon rules test``: backtest subscription rules on an archive; nothing is written.

    newsmon rules test nord-stream --archive seeds/            a subscription stored in Redis
    newsmon rules test my-rules.yaml --archive seeds/ --json   every subscription of a YAML file

Prints each matching article with the rule's score, matched terms and evidence
sentences (pipeline/tag.py ``preview_subscriptions``; NER runs only on
articles a rule could match). On a terminal, a progress bar on stderr counts
the articles read.
"""

import sys
from pathlib import Path

from connectors.archive import archive_files, count_articles
from connectors.subscription_store import SubscriptionStore, load_subscriptions_file
from pipeline.commands.json_lines import article_json, print_json_line
from pipeline.commands.progress import progress
from pipeline.errors import EXIT_INPUTS_FAILED, EXIT_OK, UsageError
from pipeline.options import add_common_arguments, add_redis_arguments, connect_redis
from transforms.topics import load_taxonomy

__all__ = ["add_parser"]


def run_test(args, _beam_args):
    from pipeline.tag import preview_subscriptions

    taxonomy = load_taxonomy(args.topics)
    if Path(args.rule).suffix in (".yaml", ".yml") or Path(args.rule).is_file():
        subscriptions = load_subscriptions_file(args.rule, known_topics=taxonomy)
    else:
        _url, _server, client, keys = connect_redis(args)
        rule = SubscriptionStore(client, keys).get(args.rule)
        if rule is None:
            raise UsageError(f"no subscription {args.rule!r} in Redis, and no file of that name")
        subscriptions = {args.rule: {k: v for k, v in rule.items() if k != "paused"}}
    matches = failures = 0

    def reading(raw_articles):  # counted: articles no rule matches print nothing
        return progress(raw_articles, total=count_articles(archive_files(args.archive)), desc="rules test")

    for article, failed in preview_subscriptions(args.archive, taxonomy, subscriptions, model=args.model,
                                                 aliases_path=args.aliases, places_path=args.places,
                                                 reading=reading):
        if failed is not None:
            failures += 1
            print(f"newsmon: {failed['origin']}: {failed['error']}", file=sys.stderr)
            continue
        matches += 1
        if args.json:
            print_json_line(article_json(article))
            continue
        print(f"{article['title']}  [{article['origin']}, {article.get('language') or '-'}]")
        for alert in article["alerts"]:
            print(f"  {alert['id']} (score {alert['score']}) terms: {', '.join(alert['terms']) or '-'}")
            for sentence in alert["evidence"]:
                print(f"    {sentence}")
    if not args.json:
        print(f"{matches} matching article(s); nothing was written to Redis.")
    return EXIT_INPUTS_FAILED if failures else EXIT_OK


def add_parser(commands):
    rules = commands.add_parser("rules", help="test rules against an archive",
                                description="Preview or backtest subscription rules.")
    actions = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    test = actions.add_parser(
        "test", help="which archived articles a rule matches, and why (writes nothing)",
        description="Run a stored subscription (NAME) or every subscription of a YAML FILE over an "
                    "archive and print each matching article with its evidence and matched terms.")
    test.add_argument("rule", metavar="NAME|FILE")
    test.add_argument("--archive", nargs="+", required=True, metavar="PATH",
                      help="archive files or directories (.txt, .jsonl)")
    test.add_argument("--json", action="store_true", help="one JSON object per matching article")
    add_redis_arguments(test)
    add_common_arguments(test)
    test.set_defaults(func=run_test)
