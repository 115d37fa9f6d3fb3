"""Exit statuses (README "Exit status") and one-line errors for bad input and outages.

    0 success · 1 the job ran and some inputs failed · 2 usage or configuration error
    3 Redis or the runner unavailable · 4 a bug
"""

import json
import socket
import subprocess
import sys
import time

import pytest

from pipeline.cli import main
from tests.conftest import ROOT, SEED_ARTICLE, SEEDS
from tests.servers import RedisServer, free_port


def run(capsys, *argv):
    status = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, out, err


def one_line(err):
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def broken_archive(tmp_path):
    """An archive whose every article fails: a .jsonl of lines that are not articles."""
    archive = tmp_path / "broken.jsonl"
    archive.write_text('{"title": \n[1, 2]\n"just a string"\n', encoding="utf-8")
    return archive


# --- 1: the job ran, some inputs failed -----------------------------------------


def test_replay_and_tag_agree_when_every_file_failed(capsys, redis_url, broken_archive):
    status, out, _ = run(capsys, "replay", broken_archive, "--redis", redis_url, "--no-progress")
    assert status == 1 and "0 articles read, 3 failed" in out
    status, _, err = run(capsys, "tag", broken_archive)
    assert status == 1 and err.count("newsmon: ") == 3


def test_a_poll_with_every_feed_failed_exits_1(capsys, redis_url, tmp_path):
    feedlist = tmp_path / "feeds.txt"
    feedlist.write_text(f"http://127.0.0.1:{free_port()}/closed.xml\n", encoding="utf-8")
    status, out, _ = run(capsys, "poll", feedlist, "--allow-private", "--redis", redis_url)
    assert status == 1 and "Feeds: 0 fetched, 0 not modified, 1 failed" in out


# --- 2: usage and configuration --------------------------------------------------


@pytest.mark.parametrize("argv, refused", [
    (["replay", SEEDS, "--subscritpions", "subs.yaml"], "--subscritpions subs.yaml"),
    (["replay", SEEDS, "--redis-url", "redis://elsewhere"], "--redis-url redis://elsewhere"),
    (["poll", "feeds.txt", "--interval=5", "--no_such_beam_option=1"], "--no_such_beam_option=1"),
    (["alerts", "show", "ns2", "--direct_num_workers=2"], "--direct_num_workers=2"),  # no Beam here
])
def test_unknown_options_are_refused_like_argparse_refuses_them(capsys, argv, refused):
    with pytest.raises(SystemExit) as exited:
        main([str(arg) for arg in argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: newsmon") and f"newsmon: error: unrecognized arguments: {refused}" in err


def test_a_bad_value_of_a_beam_option_is_refused(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["replay", str(SEEDS), "--direct_num_workers=two"])
    assert exited.value.code == 2
    assert "argument --direct_num_workers: invalid int value: 'two'" in capsys.readouterr().err


def test_beam_options_still_pass(capsys, redis_url):
    status, out, _ = run(capsys, "replay", SEED_ARTICLE, "--redis", redis_url, "--no-progress",
                         "--direct_num_workers=1", "--direct_running_mode", "in_memory")
    assert status == 0 and "1 articles read, 0 failed" in out


@pytest.mark.parametrize("content, message", [
    (None, "cannot read the alias table: No such file or directory"),
    ("a: [\n", "the alias table is not valid YAML"),
    ("- United States\n- Russia\n", "expected a mapping of canonical names"),
])
def test_a_bad_alias_file_is_one_line(capsys, tmp_path, content, message):
    aliases = tmp_path / "aliases.yaml"
    if content is not None:
        aliases.write_text(content, encoding="utf-8")
    status, out, err = run(capsys, "tag", SEED_ARTICLE, "--aliases", aliases)
    assert status == 2 and out == ""
    assert one_line(err).startswith(f"newsmon: {aliases}: ") and message in err


@pytest.mark.parametrize("rule, message", [
    ("null", "subscription 'x': expected a mapping of rule fields, got NoneType"),
    ("hello", "subscription 'x': expected a mapping of rule fields, got str"),
    ("{any: [gazprom], paused: 'no'}", "subscription 'x': 'paused' must be true or false, got 'no'"),
])
def test_a_bad_subscription_file_is_one_line(capsys, tmp_path, rule, message):
    subscriptions = tmp_path / "subs.yaml"
    subscriptions.write_text(f"subscriptions:\n  x: {rule}\n", encoding="utf-8")
    status, _, err = run(capsys, "rules", "test", subscriptions, "--archive", SEED_ARTICLE)
    assert status == 2 and message in one_line(err)


def test_a_missing_corpus_is_one_line(capsys, tmp_path):
    status, _, err = run(capsys, "eval", tmp_path / "nowhere.jsonl")
    line = one_line(err)
    assert status == 2 and line.startswith(f"newsmon: {tmp_path / 'nowhere.jsonl'}: ")
    assert line.endswith("No such file or directory")


@pytest.mark.parametrize("argv", [["alerts", "show", "nosuchsub"], ["alerts", "tail", "nosuchsub"],
                                  ["alerts", "tail", "nosuchsub", "--follow"],
                                  ["deliver", "nosuchsub", "--webhook", "http://127.0.0.1:9/hook", "--once"]])
def test_names_that_do_not_exist_are_refused_and_nothing_is_created(capsys, redis_url, redis_db, argv):
    status, _, err = run(capsys, *argv, "--redis", redis_url)
    assert status == 2
    assert one_line(err) == ("newsmon: no subscription 'nosuchsub' and no alerts on newsmon:alerts:nosuchsub"
                             " (see: newsmon subscribe list)")
    assert redis_db.keys("*") == []


def test_a_removed_subscriptions_alerts_stay_readable(capsys, redis_url, redis_db):
    redis_db.xadd("newsmon:alerts:old", {"subscription": "old", "title": "Kept", "id": "1"})
    status, out, _ = run(capsys, "alerts", "show", "old", "--redis", redis_url)
    assert status == 0 and "Kept" in out


def test_an_existing_subscription_without_alerts_is_not_an_error(capsys, redis_url):
    run(capsys, "subscribe", "add", "ns2", "--any", "nord stream", "--redis", redis_url)
    status, out, err = run(capsys, "alerts", "show", "ns2", "--redis", redis_url)
    assert status == 0 and out == "" and one_line(err) == "no alerts yet on newsmon:alerts:ns2"


# --- 3: Redis or the runner unavailable ------------------------------------------


@pytest.mark.parametrize("argv", [["replay", SEED_ARTICLE, "--no-progress"], ["alerts", "show", "ns2"],
                                  ["feeds", "status"], ["subscribe", "list"]])
def test_redis_refused_is_one_line_and_exit_3(capsys, argv):
    url = f"redis://127.0.0.1:{free_port()}/0"
    status, out, err = run(capsys, *argv, "--redis", url)
    assert status == 3 and out == ""
    assert one_line(err) == f"newsmon: nothing listens at {url} (connection refused)"


def test_a_wrong_password_is_one_line_and_exit_3(capsys, tmp_path):
    server = RedisServer(tmp_path, password="s3cret").start()
    try:
        status, _, err = run(capsys, "subscribe", "list", "--redis", f"redis://:wrong@127.0.0.1:{server.port}/0")
        assert status == 3 and "refused the password (WRONGPASS)" in one_line(err)
    finally:
        server.stop()


def test_verbose_shows_the_traceback(capsys):
    status, _, err = run(capsys, "-v", "feeds", "status", "--redis", f"redis://127.0.0.1:{free_port()}/0")
    assert status == 3 and "Traceback" in err and err.rstrip().splitlines()[-1].startswith("newsmon: nothing listens")


def test_an_unreachable_job_server_is_one_line_within_seconds(capsys, redis_url):
    with socket.socket() as listener:  # accepts, never speaks gRPC: Beam would wait for its timeout
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        silent = f"127.0.0.1:{listener.getsockname()[1]}"
        closed = f"127.0.0.1:{free_port()}"
        status, _, err = run(capsys, "replay", SEED_ARTICLE, "--redis", redis_url, "--no-progress",
                             "--runner=PortableRunner", f"--job_endpoint={closed}")
        assert status == 3 and one_line(err) == f"newsmon: no Beam job server at {closed} (connection refused)"
        started = time.monotonic()
        status, _, err = run(capsys, "replay", SEED_ARTICLE, "--redis", redis_url, "--no-progress",
                             "--runner=PortableRunner", f"--job_endpoint={silent}", "--job_server_timeout=2")
        assert status == 3 and one_line(err).startswith("newsmon: the Beam runner did not take the job:")
        assert time.monotonic() - started < 60  # not Beam's default wait of minutes


# --- output to a reader that leaves early -----------------------------------------


def test_piping_into_head_is_quiet(redis_url, redis_db):
    redis_db.hset("newsmon:subscriptions", "ns2", json.dumps({"any": ["nord stream"]}))
    for i in range(2000):
        redis_db.xadd("newsmon:alerts:ns2", {"subscription": "ns2", "title": f"Story {i} " + "x" * 200, "id": str(i)})
    command = [sys.executable, "-m", "pipeline.cli", "alerts", "show", "ns2", "-n", "2000", "--redis", redis_url]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stdout.readline()
    process.stdout.close()  # what `| head -1` does
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert first.startswith(b"[") and err == ""
