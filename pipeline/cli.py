"""The ``newsmon`` command: the parser, assembled from pipeline/commands/, and the exit status.

    newsmon replay seeds/                      replay an archive into Redis, show what was found
    newsmon tag ARTICLE.txt [--json]           tag articles locally (no Redis)
    newsmon subscribe add NAME --topic T --any TERM ...
    newsmon subscribe list|show|remove|pause|resume
    newsmon poll FEEDLIST --once               poll every feed once through the whole pipeline
    newsmon monitor FEEDLIST --interval 300    poll feeds continuously, alert minutes after a story appears
    newsmon feeds status                       per feed: health, last status, items, failures, next poll
    newsmon stories --since 24h [--topic T]   stories: one event, its articles and sources
    newsmon stories show STORY_ID              a story's articles in time order
    newsmon trends --since 7d [--topic T | --entity NAME | --country CC] [--plot FILE.png]
    newsmon spikes --since 24h                 surges: what, level, when, observed vs expected, top stories
    newsmon eval CORPUS.jsonl                  precision, recall and F1 of the topics on a labelled corpus
    newsmon eval --stories CORPUS.jsonl        story clustering against labelled stories, with a baseline
    newsmon rules test NAME|FILE --archive PATH   which archived articles a rule matches, and why
    newsmon alerts show SUBSCRIPTION           the latest alerts of a subscription
    newsmon alerts tail SUBSCRIPTION [--follow]   read alerts as a consumer group (ack after printing)
    newsmon deliver SUBSCRIPTION --webhook URL    POST alerts to a webhook (at least once; receivers dedupe)
    newsmon deliver SUBSCRIPTION --email ADDR --smtp URL [--digest daily --at 07:00 --tz ZONE] | --notify URL
    newsmon alerts feed SUBSCRIPTION           the latest alerts as an Atom feed
    newsmon deadletters list|retry|remove         what failed; send undelivered alerts again
    newsmon web [--host H --port P --token-file F]  the dashboard: live alerts, stories, trends, feeds, subscriptions

Every command has --help. Each command group lives in its own module of
pipeline/commands/ (``newsmon poll`` -> pipeline/commands/poll.py); this module
only assembles the parser and turns errors into one line and an exit status
(the table is in pipeline/errors.py and README.md). Options newsmon does not know
are refused unless Beam's PipelineOptions know them (replay, poll, monitor).
"""

import argparse
import importlib.metadata
import logging
import os
import sys
import traceback

# Importing Beam logs a note about Google Cloud clients that newsmon does not use.
logging.basicConfig(level=logging.WARNING, format="%(message)s")
logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())

import redis

from connectors.redis_connection import RedisUnavailable, redis_problem
from pipeline.commands import (
    alerts,
    deadletters,
    deliver,
    evaluate,
    feeds,
    monitor,
    poll,
    replay,
    rules,
    stories,
    subscribe,
    tag,
    trends,
    web,
)
from pipeline.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    RunnerUnavailable,
    UsageError,
)
from pipeline.options import unknown_beam_arguments
from transforms.rules import RuleError

__all__ = ["build_parser", "main"]

# In the order --help lists them.
COMMAND_MODULES = (replay, tag, subscribe, poll, monitor, feeds, stories, trends, evaluate, rules, alerts,
                   deliver, deadletters, web)


def _version():
    try:
        return importlib.metadata.version("newsmon")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="newsmon",
        description="Streaming news monitoring: articles -> spaCy entities and topic rules -> "
                    "alerts on Redis Streams.",
        epilog="Options the parser does not know (--runner, --direct_num_workers, ...) go to Beam.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log each step and its counts, and show tracebacks; -vv: Beam's progress too")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_parser(commands)
    return parser


def _configure_logging(verbosity):
    """Warnings only; ``-v`` adds newsmon's own steps and counts, ``-vv`` Beam's progress too."""
    logging.getLogger().setLevel(logging.INFO if verbosity >= 2 else logging.WARNING)
    logging.getLogger("apache_beam").setLevel(logging.NOTSET if verbosity >= 2 else logging.ERROR)
    for name in ("pipeline", "connectors", "transforms"):
        logging.getLogger(name).setLevel(logging.INFO if verbosity >= 1 else logging.NOTSET)


def _fail(status, message, verbose):
    if verbose:
        traceback.print_exc()
    print(f"newsmon: {' '.join(str(message).split())}", file=sys.stderr)  # one line, whatever it quotes
    return status


def _beam_arguments(parser, args, extra):
    """The arguments left over after newsmon's own, if the command takes Beam options and Beam knows them."""
    if not extra:
        return []
    if not getattr(args, "beam_options", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        unknown = unknown_beam_arguments(extra)
    except UsageError as error:
        parser.error(str(error))
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return extra


def main(argv=None):
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    beam_args = _beam_arguments(parser, args, extra)
    _configure_logging(args.verbose)
    verbose = args.verbose > 0
    try:
        return args.func(args, beam_args)
    except (UsageError, RuleError, ValueError) as error:
        return _fail(EXIT_USAGE, error, verbose)
    except (RedisUnavailable, RunnerUnavailable) as error:
        return _fail(EXIT_UNAVAILABLE, error, verbose)
    except redis.RedisError as error:
        url = getattr(args, "resolved_redis_url", None) or "the Redis server"
        return _fail(EXIT_UNAVAILABLE, redis_problem(error, url), verbose)
    except BrokenPipeError:
        # The reader left (``| head``): what it read is complete; no more output, no traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        return _fail(EXIT_USAGE, f"{where}{error.strerror or error}", verbose)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - a bug: one line, the traceback with -v
        hint = "" if verbose else " (newsmon -v ... shows the traceback)"
        return _fail(EXIT_INTERNAL, f"unexpected error: {type(error).__name__}: {error}{hint}", verbose)


if __name__ == "__main__":
    sys.exit(main())
