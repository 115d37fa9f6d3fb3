"""Options shared by the newsmon commands, and the Beam runner they run on.

Beam's own options (``--runner``, ``--direct_num_workers``, ``--setup_file``, ...)
pass through once Beam's PipelineOptions know them (``unknown_beam_arguments``);
anything else is refused like any unknown option. Without ``--runner`` the
pipeline runs on Beam's FnApiRunner directly: the DirectRunner would first try
to download the Prism runner, which fails offline (see ARCHITECTURE.md). A
named runner that cannot take the job (a job server that does not answer, a
job server jar it cannot fetch) is ``RunnerUnavailable`` within seconds.
"""

import argparse
import socket
from dataclasses import dataclass, field
from typing import NamedTuple

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from connectors.redis_connection import display_url, redis_client, resolve_redis
from connectors.redis_streams import DEFAULT_MARKER_TTL, DEFAULT_MAXLEN, RedisKeys
from pipeline.dask_runner import is_dask_runner
from pipeline.errors import RunnerUnavailable, UsageError
from transforms.entities import DEFAULT_ALIASES, DEFAULT_MODEL, DEFAULT_PLACES, EntityModels, load_aliases
from transforms.topics import DEFAULT_TAXONOMY

__all__ = ["RedisConnection", "RunConfig", "add_common_arguments", "add_prefilter_argument", "add_redis_arguments",
           "add_runner_arguments", "alias_table", "connect_redis", "make_pipeline", "run_pipeline", "runner_arguments",
           "runs_locally", "unknown_beam_arguments"]

JOB_SERVER_CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class FeedRun:
    """What a feed run (``poll``, ``monitor``) adds to the graph: articles an earlier poll already took
    through are skipped (and those written are marked processed), and subscriptions are followed in
    Redis as they are added, paused or removed, looked at every ``refresh_seconds``."""

    refresh_seconds: float = 5.0


@dataclass
class RunConfig:
    """What the article graph needs, resolved before the pipeline is built.

    ``RunConfig.from_arguments(args, ...)`` fills the fields every command's common options give
    (model, aliases, places, prefix, prefilter); each command adds its own (``stats_key``, ``counts``,
    ``feed_run``, ``retry_seconds``, ...) as keywords.
    """

    redis_url: str
    taxonomy: dict
    subscriptions: dict = field(default_factory=dict)
    model: str = DEFAULT_MODEL
    aliases: str = str(DEFAULT_ALIASES)
    places: str = str(DEFAULT_PLACES)
    prefix: str = "newsmon:"
    maxlen: int = DEFAULT_MAXLEN
    marker_ttl: int = DEFAULT_MARKER_TTL
    batch_size: int = 32
    stats_key: str = None  # hash of running totals (see RedisKeys.run_stats)
    retry_seconds: float = 60  # how long writes wait for an unreachable Redis; None: for ever
    feed_run: FeedRun = None  # poll and monitor: skip what was processed, follow subscriptions (FeedRun)
    prefilter: bool = True  # skip NER on articles no topic or subscription could match
    counts: object = None  # connectors.counts.CountOptions: count every article per series and time bucket
    # Full text (connectors/pages.py): the mode of articles whose feed names none; None: no page step.
    fulltext: str = None
    page_options: object = None  # connectors.pages.PageOptions
    allow_private_pages: object = False  # True, or networks (["127.0.0.0/8"]) whose pages may be fetched
    # replay: the run's counts in Redis at stats_key, each record once (retried bundles too), on every
    # runner; the summary reads them there (the Dask runner has no metrics)
    count_once: bool = False

    @classmethod
    def from_arguments(cls, args, *, redis_url, taxonomy, subscriptions, **adds):
        """The config of a command's common options (``add_common_arguments``, ``add_redis_arguments``,
        ``add_prefilter_argument``) and what the command adds (``stats_key=``, ``feed_run=``, ...)."""
        return cls(redis_url=redis_url, taxonomy=taxonomy, subscriptions=subscriptions, model=args.model,
                   aliases=args.aliases, places=args.places, prefix=args.prefix, prefilter=args.prefilter, **adds)


def add_redis_arguments(parser):
    parser.add_argument("--redis", metavar="URL",
                        help="Redis URL (redis://, rediss://, unix://); default $NEWSMON_REDIS_URL,"
                             " else localhost:6379, else an embedded Redis")
    parser.add_argument("--prefix", default="newsmon:", help="prefix of every Redis key (default: %(default)s)")


class RedisConnection(NamedTuple):
    """What a command needs of Redis: ``url, server, client, keys = connect_redis(args)``."""

    url: str
    server: object  # the EmbeddedRedis, or None
    client: object
    keys: RedisKeys

    @property
    def location(self):
        """Where the data is, for people: a URL (password masked) or the embedded server's file."""
        if self.server is not None:
            return f"the embedded Redis (data in {self.server.dbfile})"
        return display_url(self.url)


def connect_redis(args):
    """The Redis of the ``--redis``/``--prefix`` arguments, checked (RedisUnavailable: one line why)."""
    url, server = resolve_redis(args.redis)
    args.resolved_redis_url = url  # for the error line if Redis fails later (pipeline/cli.py)
    return RedisConnection(url, server, redis_client(url), RedisKeys(args.prefix))


def add_common_arguments(parser):
    parser.add_argument("--topics", metavar="FILE", default=str(DEFAULT_TAXONOMY),
                        help="topic taxonomy YAML (default: the shipped seeds/topics.yaml)")
    parser.add_argument("--model", default=DEFAULT_MODEL, action=_ModelAction, metavar="[LANG=]NAME",
                        help="installed spaCy pipeline to run NER with over articles in its language"
                             " (repeat for more languages, e.g. --model de=de_core_news_sm; default:"
                             f" {DEFAULT_MODEL} for English; articles in a language without one get no entities)")
    parser.add_argument("--aliases", metavar="FILE", default=str(DEFAULT_ALIASES),
                        help="entity alias table YAML (default: the shipped seeds/aliases.yaml)")
    parser.add_argument("--places", metavar="FILE", default=str(DEFAULT_PLACES),
                        help="gazetteer YAML of place names that fixes their labels"
                             " (default: the shipped seeds/places.yaml)")


def alias_table(args):
    """The entity alias table of the ``--aliases`` and ``--places`` files (ValueError: one line why);
    commands read it first so a bad file stops them before any work."""
    return load_aliases(args.aliases, args.places)


class _ModelAction(argparse.Action):
    """``--model NAME`` / ``--model LANG=NAME``, repeatable: an EntityModels (transforms/entities.py)."""

    def __call__(self, parser, namespace, value, option_string=None):
        current = getattr(namespace, self.dest)
        models = current if isinstance(current, EntityModels) else EntityModels()
        try:
            setattr(namespace, self.dest, models.with_model(value))
        except ValueError as error:
            parser.error(str(error))


def add_prefilter_argument(parser):
    parser.add_argument("--no-prefilter", dest="prefilter", action="store_false",
                        help="run NER on every article, even those no topic or subscription could match")


def runs_locally(beam_args):
    """True unless the Beam arguments name a runner."""
    return not any(arg == "--runner" or arg.startswith("--runner=") for arg in beam_args)


def add_runner_arguments(parser):
    """``--dask-address``: newsmon's spelling of Beam's ``--runner dask --dask_client_address``."""
    parser.add_argument("--dask-address", metavar="tcp://HOST:8786",
                        help="run on the Dask cluster of this scheduler (implies --runner dask;"
                             " workers need newsmon installed)")


def runner_arguments(args, beam_args):
    """The Beam arguments with newsmon's runner options (``--dask-address``) in Beam's spelling."""
    beam_args = list(beam_args)
    address = getattr(args, "dask_address", None)
    if address:
        if runs_locally(beam_args):
            beam_args.append("--runner=dask")
        beam_args.append(f"--dask_client_address={address}")
    return beam_args


def _without_runner(beam_args):
    out, skip = [], False
    for arg in beam_args:
        if skip:
            skip = False
        elif arg == "--runner":
            skip = True
        elif not arg.startswith("--runner="):
            out.append(arg)
    return out


def unknown_beam_arguments(beam_args):
    """The arguments Beam's PipelineOptions do not know (with their values); UsageError for a bad value.

    ``["--direct_num_workers=2", "--subscritpions", "f.yaml"]`` -> ``["--subscritpions", "f.yaml"]``
    """
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    class _Checker(_BeamArgumentParser):
        def error(self, message):
            raise UsageError(message)

    if any(str(arg).startswith("--dask_") for arg in beam_args):
        import apache_beam.runners.dask.dask_runner  # noqa: F401 - defines DaskOptions, its options

    parser = _Checker(allow_abbrev=False, add_help=False)
    known = {}
    for cls in PipelineOptions.__subclasses__():
        known.setdefault(str(cls), cls)
    for cls in known.values():
        cls._add_argparse_args(parser)  # what PipelineOptions.get_all_options does
    _, unknown = parser.parse_known_args(list(beam_args))
    return unknown


def _option_value(beam_args, name):
    for index, arg in enumerate(beam_args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and index + 1 < len(beam_args):
            return beam_args[index + 1]
    return None


def _check_job_endpoint(beam_args):
    endpoint = _option_value(beam_args, "--job_endpoint")
    if not endpoint or endpoint == "embed":
        return
    host, _, port = endpoint.rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port)), timeout=JOB_SERVER_CHECK_SECONDS):
            pass
    except ValueError as error:
        raise UsageError(f"--job_endpoint {endpoint}: expected HOST:PORT") from error
    except OSError as error:
        reason = "timeout" if isinstance(error, TimeoutError) else (error.strerror or str(error)).lower()
        raise RunnerUnavailable(f"no Beam job server at {endpoint} ({reason})") from error


def run_pipeline(pipeline, beam_args):
    """Run ``pipeline`` to the end; returns Beam's PipelineResult.

    On a named runner, a job server that does not answer or a job it refuses is
    RunnerUnavailable (one line) instead of a wait of minutes and a gRPC traceback.
    """
    if runs_locally(beam_args):
        result = pipeline.run()
    elif is_dask_runner(_option_value(list(beam_args), "--runner")):
        result = pipeline.run()  # NewsmonDaskRunner: a scheduler that does not answer is RunnerUnavailable
    else:
        _check_job_endpoint(list(beam_args))
        try:
            result = pipeline.run()
        except Exception as error:  # noqa: BLE001 - the submission failed; say why on one line
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise RunnerUnavailable(f"the Beam runner did not take the job: {reason[:300]}") from error
    result.wait_until_finish()
    return result


def make_pipeline(beam_args, *, streaming=False):
    """A beam.Pipeline for the Beam arguments given; the FnApiRunner unless --runner says otherwise.

    ``streaming`` adds ``--streaming`` for a named runner (the local FnApiRunner runs the
    unbounded source without it).
    """
    beam_args = list(beam_args)
    if is_dask_runner(_option_value(beam_args, "--runner")):
        if streaming:
            raise UsageError("the Dask runner runs batch jobs (replay); the monitor runs on the local runner")
        from pipeline.dask_runner import NewsmonDaskRunner

        return beam.Pipeline(runner=NewsmonDaskRunner(), options=PipelineOptions(_without_runner(beam_args)))
    if not runs_locally(beam_args):
        if streaming and "--streaming" not in beam_args:
            beam_args.append("--streaming")
        return beam.Pipeline(options=PipelineOptions(beam_args))
    options = PipelineOptions(beam_args)
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    return beam.Pipeline(runner=FnApiRunner(), options=options)
