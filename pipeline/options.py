"""Options shared by the newsmon commands, and the Beam runner they run on.

Beam's own options (``--runner``, ``--direct_num_workers``, ``--setup_file``, ...)
pass through untouched. Without ``--runner`` the pipeline runs on Beam's
FnApiRunner directly: the DirectRunner would first try to download the Prism
runner, which fails offline (see ARCHITECTURE.md).
"""

from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from connectors.redis_connection import redis_client, resolve_redis
from connectors.redis_streams import DEFAULT_MARKER_TTL, DEFAULT_MAXLEN, RedisKeys
from transforms.entities import DEFAULT_ALIASES, DEFAULT_MODEL
from transforms.topics import DEFAULT_TAXONOMY

__all__ = ["RunConfig", "add_common_arguments", "add_prefilter_argument", "add_redis_arguments",
           "connect_redis", "make_pipeline", "runs_locally"]


@dataclass
class RunConfig:
    """What the article graph needs, resolved before the pipeline is built."""

    redis_url: str
    taxonomy: dict
    subscriptions: dict = field(default_factory=dict)
    model: str = DEFAULT_MODEL
    aliases: str = str(DEFAULT_ALIASES)
    prefix: str = "newsmon:"
    maxlen: int = DEFAULT_MAXLEN
    marker_ttl: int = DEFAULT_MARKER_TTL
    batch_size: int = 32
    stats_key: str = None  # hash of running totals (see RedisKeys.run_stats)
    retry_seconds: float = 60  # how long writes wait for an unreachable Redis; None: for ever
    skip_processed: bool = False  # monitor: skip articles an earlier poll processed
    live_subscriptions: bool = False  # monitor: follow subscriptions added/paused/removed in Redis
    refresh_seconds: float = 5.0
    prefilter: bool = True  # skip NER on articles no topic or subscription could match
    counts: object = None  # connectors.counts.CountOptions: count every article per series and time bucket


def add_redis_arguments(parser):
    parser.add_argument("--redis", metavar="URL",
                        help="Redis URL (redis://, rediss://, unix://); default $NEWSMON_REDIS_URL,"
                             " else localhost:6379, else an embedded Redis")
    parser.add_argument("--prefix", default="newsmon:", help="prefix of every Redis key (default: %(default)s)")


def connect_redis(args):
    """``(url, embedded server or None, client, keys)`` for the ``--redis``/``--prefix`` arguments."""
    url, server = resolve_redis(args.redis)
    return url, server, redis_client(url), RedisKeys(args.prefix)


def add_common_arguments(parser):
    parser.add_argument("--topics", metavar="FILE", default=str(DEFAULT_TAXONOMY),
                        help="topic taxonomy YAML (default: seeds/topics.yaml)")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="installed spaCy pipeline to run NER with (default: %(default)s)")
    parser.add_argument("--aliases", metavar="FILE", default=str(DEFAULT_ALIASES),
                        help="entity alias table YAML (default: seeds/aliases.yaml)")


def add_prefilter_argument(parser):
    parser.add_argument("--no-prefilter", dest="prefilter", action="store_false",
                        help="run NER on every article, even those no topic or subscription could match")


def runs_locally(beam_args):
    """True unless the Beam arguments name a runner."""
    return not any(arg == "--runner" or arg.startswith("--runner=") for arg in beam_args)


def make_pipeline(beam_args, *, streaming=False):
    """A beam.Pipeline for the Beam arguments given; the FnApiRunner unless --runner says otherwise.

    ``streaming`` adds ``--streaming`` for a named runner (the local FnApiRunner runs the
    unbounded source without it).
    """
    beam_args = list(beam_args)
    if not runs_locally(beam_args):
        if streaming and "--streaming" not in beam_args:
            beam_args.append("--streaming")
        return beam.Pipeline(options=PipelineOptions(beam_args))
    options = PipelineOptions(beam_args)
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    return beam.Pipeline(runner=FnApiRunner(), options=options)
