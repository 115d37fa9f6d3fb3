"""The whole graph on a real Dask cluster (a scheduler and two workers, each its own process on
127.0.0.1, in another folder) gives the streams and dead letters of the local run, entry by entry."""

import json
import threading
import time
from pathlib import Path

import apache_beam as beam
import pytest

from pipeline.cli import main
from pipeline.dask_runner import BEAM_DASK_LIMITS, is_dask_runner
from pipeline.errors import EXIT_INPUTS_FAILED, EXIT_UNAVAILABLE, EXIT_USAGE
from tests.conftest import FIXTURES, SEED_ARTICLE, SEEDS
from tests.dask_cluster import DaskCluster
from tests.servers import free_port

BAD_LINES = ['{"title": "broken\n', "[1, 2, 3]", '{"url": "https://news.example/empty"}',
             '{"title": "   ", "text": "   "}']


# Lines of the labelled corpus that join another's story (the seed article's among them): stories
# are assigned in arrival order, which a parallel runner does not keep. One event per article here.
SAME_EVENT_LINES = {5, 11, 13, 28, 29, 30, 33, 34, 38}


def write_archive(directory, articles=12, *, seed=True):
    """Labelled articles, each its own event, with bad lines between them, the seed article,
    a file that is not UTF-8 and an empty one."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    corpus = (FIXTURES / "eval" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    chosen = [line for number, line in enumerate(corpus, start=1) if number not in SAME_EVENT_LINES]
    lines = []
    for index, line in enumerate(chosen[:articles]):
        lines.append(line)
        if index < len(BAD_LINES):
            lines.append(BAD_LINES[index])
    (directory / "wire.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if seed:
        (directory / SEED_ARTICLE.name).write_bytes(SEED_ARTICLE.read_bytes())
    (directory / "latin1.txt").write_bytes("Caf\xe9 news\nBody".encode("latin-1"))
    (directory / "empty.txt").write_text("  \n", encoding="utf-8")
    return directory


def streams(client, prefix):
    """Every stream under ``prefix``: its entries' fields in stream order, without stream ids."""
    return {key[len(prefix):]: [fields for _, fields in client.xrange(key)]
            for key in sorted(client.scan_iter(match=f"{prefix}*", _type="stream"))}


def by_identity(entries):
    """Entries in a canonical order: two runners may write independent articles in any order."""
    return sorted(json.dumps(fields, sort_keys=True) for fields in entries)


def assert_same_streams(local, on_dask):
    assert set(local) == set(on_dask)
    for key in local:
        mine, theirs = by_identity(on_dask[key]), by_identity(local[key])
        only_dask = [e for e in mine if e not in theirs]
        only_local = [e for e in theirs if e not in mine]
        assert mine == theirs, f"{key}: only on Dask {only_dask}, only local {only_local}"


def replay(archive, redis_url, prefix, capsys, *extra):
    status = main(["replay", str(archive), "--redis", redis_url, "--prefix", prefix, "--show", "0",
                   "--no-progress", "--subscriptions", str(SEEDS / "subscriptions.yaml"), *extra])
    out = capsys.readouterr().out
    return status, out.replace(prefix, "PREFIX:")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = DaskCluster(tmp_path_factory.mktemp("dask-workers"), workers=2).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def archive(tmp_path):
    return write_archive(tmp_path / "archive")


def test_replay_on_dask_writes_what_the_local_run_writes(cluster, archive, redis_url, redis_db, capsys,
                                                         monkeypatch):
    # A relative path, and workers in another folder: the job carries the files' bytes.
    monkeypatch.chdir(archive.parent)
    local_status, local_out = replay("archive", redis_url, "local:", capsys)
    dask_status, dask_out = replay("archive", redis_url, "dask:", capsys, "--runner", "dask",
                                   "--dask-address", cluster.address)

    local, on_dask = streams(redis_db, "local:"), streams(redis_db, "dask:")
    assert len(local["deadletter"]) == 6 and len(local["events"]) >= 5 and any(k.startswith("alerts:") for k in local)
    assert_same_streams(local, on_dask)
    # The same summary on both runners: its counts come from Redis, not from Beam's metrics.
    assert dask_out == local_out and "14 articles read, 6 failed" in local_out
    assert local_status == dask_status == EXIT_INPUTS_FAILED

    # A rerun on Dask writes nothing twice.
    assert replay("archive", redis_url, "dask:", capsys, "--runner=DaskRunner",
                  f"--dask_client_address={cluster.address}")[0] == EXIT_INPUTS_FAILED
    assert streams(redis_db, "dask:") == on_dask


def test_a_worker_killed_mid_run_loses_nothing_and_writes_nothing_twice(tmp_path, redis_url, redis_db, capsys):
    # A story's size in an alert is the size when its article was assigned; a retried article gets
    # the size at the retry. So here no article joins another's story (checked on the local run).
    archive = write_archive(tmp_path / "archive", articles=40, seed=False)
    replay(archive, redis_url, "probe:", capsys)
    _keep_one_event_per_article(archive / "wire.jsonl", redis_db.xrange("probe:events"))
    replay(archive, redis_url, "local:", capsys)
    assert all(fields["story"] == fields["id"] for _, fields in redis_db.xrange("local:events"))
    cluster = DaskCluster(tmp_path / "workers", workers=2).start()
    try:
        from pipeline.options import RunConfig
        from pipeline.replay import run_replay
        from transforms.topics import load_taxonomy

        config = RunConfig(redis_url=redis_url, taxonomy=load_taxonomy(), prefix="dask:", stats_key="dask:run:k",
                           count_once=True, subscriptions=_seed_subscriptions())
        outcome = {}
        thread = threading.Thread(target=lambda: outcome.setdefault("result", run_replay(
            [archive], config, ["--runner=dask", f"--dask_client_address={cluster.address}"])))
        thread.start()
        killed = _kill_a_busy_worker(cluster, redis_db, thread)
        thread.join()
        assert killed is not None, "the run ended before a worker was busy"
        assert outcome["result"].state == "DONE"
    finally:
        cluster.stop()
    assert_same_streams(streams(redis_db, "local:"), streams(redis_db, "dask:"))
    # Each record counted once, though a killed worker's tasks ran again on the other.
    stats = redis_db.hgetall("dask:run:k")
    readable = 0
    for line in (archive / "wire.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        readable += isinstance(record, dict) and bool(record.get("title") or record.get("text"))
    assert int(stats["articles"]) + int(stats["failed:normalize"]) == readable and int(stats["failed"]) == 6


def _keep_one_event_per_article(wire, events):
    """Drop the lines of ``wire`` whose article shared a story with another in a first run."""
    by_story = {}
    for _, fields in events:
        by_story.setdefault(fields["story"], []).append(fields["origin"])
    joined = {int(origin.rsplit(":", 1)[1]) for origins in by_story.values() if len(origins) > 1
              for origin in origins}
    lines = wire.read_text(encoding="utf-8").splitlines()
    wire.write_text("\n".join(line for number, line in enumerate(lines, start=1) if number not in joined) + "\n",
                    encoding="utf-8")
    return len(joined)


def _seed_subscriptions():
    from connectors.subscription_store import load_subscriptions_file
    from transforms.topics import load_taxonomy

    return load_subscriptions_file(SEEDS / "subscriptions.yaml", known_topics=load_taxonomy())


def _kill_a_busy_worker(cluster, redis_db, thread):
    """SIGKILL a worker while it runs a task and before every record was written; the worker's index."""
    with cluster.client() as client:
        while thread.is_alive():
            written = redis_db.hget("dask:run:k", "articles")
            busy = [address for address, tasks in client.processing().items() if tasks]
            if busy and not written:
                names = {address: info["name"] for address, info in client.scheduler_info()["workers"].items()}
                index = int(names[busy[0]][1:])
                cluster.kill_worker(index)
                return index
            time.sleep(0.05)  # polls the scheduler; nothing to await on its side
    return None


def test_a_scheduler_nobody_answers_is_one_line_and_exit_3(capsys, redis_url):
    status = main(["replay", str(SEED_ARTICLE), "--redis", redis_url, "--no-progress", "--runner", "dask",
                   "--dask-address", f"tcp://127.0.0.1:{free_port()}", "--dask_connection_timeout=2"])
    err = capsys.readouterr().err
    assert status == EXIT_UNAVAILABLE
    assert err.count("\n") == 1 and "no Dask scheduler at tcp://127.0.0.1:" in err


def test_an_archive_path_that_does_not_exist_is_exit_2_before_any_work(capsys, redis_url, tmp_path):
    status = main(["replay", str(tmp_path / "nope"), "--redis", redis_url, "--no-progress", "--runner", "dask",
                   "--dask-address", f"tcp://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert status == EXIT_USAGE and err == f"newsmon: archive path {tmp_path / 'nope'} does not exist\n"


def test_redis_unreachable_from_the_workers_is_the_redis_error_on_the_client(cluster, archive, taxonomy):
    """The worker's Redis error, raised on the client as on the local runner: the command turns it
    into one line and exit 3 (pipeline/cli.py); nothing was written, so a rerun is safe."""
    import redis

    from pipeline.options import RunConfig
    from pipeline.replay import run_replay

    config = RunConfig(redis_url=f"redis://127.0.0.1:{free_port()}/0", taxonomy=taxonomy, retry_seconds=1)
    with pytest.raises(redis.ConnectionError, match="Connection refused"):
        run_replay([archive], config, ["--runner=dask", f"--dask_client_address={cluster.address}"])


def test_the_dask_runner_without_a_scheduler_is_a_usage_error(capsys, redis_url):
    status = main(["replay", str(SEED_ARTICLE), "--redis", redis_url, "--no-progress", "--runner", "dask"])
    assert status == EXIT_USAGE
    assert capsys.readouterr().err == "newsmon: the Dask runner needs a scheduler: --dask-address tcp://HOST:8786\n"


def test_the_dask_runner_answers_to_its_names():
    assert all(map(is_dask_runner, ["dask", "DaskRunner", "apache_beam.runners.dask.dask_runner.DaskRunner"]))
    assert not is_dask_runner("FlinkRunner") and not is_dask_runner(None)


def test_beam_dask_runner_still_has_the_limits(cluster, redis_db, redis_url):
    """pipeline/dask_runner.py works around these in Beam's own DaskRunner; this fails when Beam fixes one."""
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.dask.dask_runner import DaskRunner
    from apache_beam.transforms.window import GlobalWindow
    from apache_beam.utils.windowed_value import WindowedValue

    # Defined here, so they travel by value: the workers cannot import the tests.
    class _SplitFn(beam.DoFn):
        def process(self, element):
            yield element
            yield beam.pvalue.TaggedOutput("odd", element)

        def finish_bundle(self):
            yield WindowedValue("finished", 0, (GlobalWindow(),))

    class _PushFn(beam.DoFn):
        def __init__(self, url, key):
            self.url, self.key = url, key

        def process(self, element):
            import redis

            redis.Redis.from_url(self.url).rpush(self.key, element)
            return []

    assert beam.__version__.startswith(BEAM_DASK_LIMITS)
    with pytest.raises(ValueError):  # the short name is refused
        beam.Pipeline(runner="DaskRunner")
    options = PipelineOptions([f"--dask_client_address={cluster.address}"])
    pipeline = beam.Pipeline(runner=DaskRunner(), options=options)
    split = (pipeline | beam.Create(["a", "b", "c"])
             | beam.ParDo(_SplitFn()).with_outputs("odd", main="even"))
    split.even | "WriteEven" >> beam.ParDo(_PushFn(redis_url, "limits:even"))
    split.odd | "WriteOdd" >> beam.ParDo(_PushFn(redis_url, "limits:odd"))
    result = pipeline.run()
    result.wait_until_finish()
    result.client.close()
    with pytest.raises(NotImplementedError):
        result.metrics()
    even, odd = redis_db.lrange("limits:even", 0, -1), redis_db.lrange("limits:odd", 0, -1)
    assert not even  # only the last leaf ran
    # ...and it got every output, "even" ones included, but not what finish_bundle emitted
    assert sorted(odd) == ["a", "a", "b", "b", "c", "c"]

