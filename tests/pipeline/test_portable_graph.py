"""What can be checked here of Flink, Spark and Dataflow, whose job servers or accounts this machine cannot
reach: the replay and monitor graphs translate to Beam's portable runner API (the protos a job server
receives), come back from it, and every DoFn survives the pickling that ships it to remote workers."""

import apache_beam as beam
import pytest
from apache_beam.internal import pickler
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability import common_urns
from apache_beam.runners.portability.fn_api_runner import translations

from connectors.redis_streams import new_run_id
from pipeline.monitor import build_monitor
from pipeline.options import FeedRun, RunConfig
from pipeline.replay import build_replay
from tests.conftest import SEEDS

PARDO = common_urns.primitives.PAR_DO.urn


def graphs(taxonomy, tmp_path):
    from connectors.feed_lists import Feed
    from connectors.subscription_store import load_subscriptions_file

    subscriptions = load_subscriptions_file(SEEDS / "subscriptions.yaml", known_topics=taxonomy)
    config = RunConfig(redis_url="redis://127.0.0.1:1/0", taxonomy=taxonomy, subscriptions=subscriptions,
                       stats_key="newsmon:run:x", count_once=True)
    replay = beam.Pipeline(options=PipelineOptions(["--runner=PortableRunner", "--job_endpoint=localhost:1"]))
    build_replay(replay, [str(SEEDS)], config, ship=True)
    monitor = beam.Pipeline(options=PipelineOptions(["--runner=FlinkRunner", "--streaming"]))
    live = RunConfig(redis_url="redis://127.0.0.1:1/0", taxonomy=taxonomy, subscriptions=subscriptions,
                     feed_run=FeedRun(), stats_key=f"newsmon:run:{new_run_id()}")
    build_monitor(monitor, [Feed("http://127.0.0.1:1/feed.xml")], live, interval=60, tick=5,
                  stop_key="newsmon:monitor:x:stop")
    return {"replay": replay, "monitor": monitor}


@pytest.mark.parametrize("name", ["replay", "monitor"])
def test_the_graph_translates_to_the_portable_api_and_every_dofn_pickles(name, taxonomy, tmp_path):
    pipeline = graphs(taxonomy, tmp_path)[name]
    proto = pipeline.to_runner_api()
    transforms = proto.components.transforms
    pardos = [t for t in transforms.values() if t.spec.urn == PARDO]
    assert len(pardos) >= 10
    for transform in pardos:
        from apache_beam.portability.api import beam_runner_api_pb2

        payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
        fn = pickler.loads(payload.do_fn.payload)  # what a remote worker does with it
        assert fn is not None, transform.unique_name
    names = " ".join(t.unique_name for t in transforms.values())
    for step in ("NormalizeArticles", "ExtractEntities", "TagTopics", "WriteToRedisStreams", "WriteDeadLetters"):
        assert step in names
    # What a portable job service does first: fuse the graph into stages (no step unknown to it).
    _, stages = translations.create_and_optimize_stages(
        proto, phases=translations.standard_optimize_phases(), known_runner_urns=frozenset())
    assert stages
    if name == "replay":
        # ...and the graph comes back from the protos. (Beam 2.77 cannot rebuild the monitor's
        # PeriodicImpulse expansion in Python, "No producer for ..._paired"; job servers never do.)
        assert beam.Pipeline.from_runner_api(proto, pipeline.runner, pipeline.options) is not None
