"""The ``newsmon`` command: the parser, assembled from pipeline/commands/, and the exit status.

    newsmon replay seeds/                      replay an archive into Redis, show what was found
    newsmon tag ARTICLE.txt [--json]           tag articles locally (no Redis)
    newsmon subscribe add NAME --topic T --any TERM ...
    newsmon subscribe list|show|remove|pause|resume
    newsmon poll FEEDLIST --once               poll every feed once through the whole pipeline
    newsmon monitor FEEDLIST --interval 300    poll feeds continuously, alert minutes after a story appears
    newsmon feeds status                       per feed: health, last status, items, failures, next poll
    newsmon trends --since 7d [--topic T | --entity NAME | --country CC] [--plot FILE.png]
    newsmon spikes --since 24h                 surges: what, level, when, observed vs expected, top stories
    newsmon eval CORPUS.jsonl                  precision, recall and F1 of the topics on a labelled corpus
    newsmon rules test NAME|FILE --archive PATH   which archived articles a rule matches, and why
    newsmon alerts show SUBSCRIPTION           the latest alerts of a subscription
    newsmon alerts tail SUBSCRIPTION [--follow]   read alerts as a consumer group (ack after printing)
    newsmon deliver SUBSCRIPTION --webhook URL    POST alerts to a webhook, exactly once

Every command has --help. Each command group lives in its own module of
pipeline/commands/ (``newsmon poll`` -> pipeline/commands/poll.py); this module
only assembles the parser and turns errors into one line and an exit status.
"""

import argparse
import logging
import sys

# Importing Beam logs a note about Google Cloud clients that newsmon does not use.
logging.basicConfig(level=logging.WARNING, format="%(message)s")
logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())

from pipeline.commands import alerts, deliver, evaluate, feeds, monitor, poll, replay, rules, subscribe, tag, trends
from pipeline.errors import UsageError
from transforms.rules import RuleError

__all__ = ["build_parser", "main"]

# In the order --help lists them.
COMMAND_MODULES = (replay, tag, subscribe, poll, monitor, feeds, trends, evaluate, rules, alerts, deliver)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="newsmon",
        description="Streaming news monitoring: articles -> spaCy entities and topic rules -> "
                    "alerts on Redis Streams.",
        epilog="Options the parser does not know (--runner, --direct_num_workers, ...) go to Beam.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log Beam's progress too")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_parser(commands)
    return parser


def main(argv=None):
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    if beam_args and not getattr(args, "beam_options", False):
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
