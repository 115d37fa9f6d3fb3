"""Alert subscriptions kept in Redis (hash ``newsmon:subscriptions``: name -> rule JSON)
and loaded from YAML files.

    store = SubscriptionStore(client, RedisKeys())
    store.add("nord-stream", {"topics": ["sanctions"], "any": ["nord stream", "gazprom"]}, known_topics)
    store.all()  ->  {"nord-stream": {"topics": [...], "any": [...]}}

Every rule is validated before anything is written.
"""

import json
import logging
import time

import yaml

from transforms.rules import RuleError
from transforms.subscriptions import compile_subscriptions

__all__ = ["LiveSubscriptions", "SubscriptionStore", "load_subscriptions_file"]

# libyaml's parser where PyYAML has it: ~10x faster than the pure-Python one on large files.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_log = logging.getLogger(__name__)


def load_subscriptions_file(path, known_topics=None):
    """``{name: rule}`` from a YAML file with a ``subscriptions:`` mapping; RuleError if invalid."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_YAML_LOADER)
    except OSError as error:
        raise RuleError(f"{path}: cannot read subscriptions: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise RuleError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("subscriptions"), dict):
        raise RuleError(f"{path}: expected a mapping 'subscriptions:' of names to rules")
    try:
        compile_subscriptions(data["subscriptions"], known_topics)
    except RuleError as error:
        raise RuleError(f"{path}: {error}") from error
    return data["subscriptions"]


class SubscriptionStore:
    """Subscriptions in one Redis hash."""

    def __init__(self, client, keys):
        self._client = client
        self._key = keys.subscriptions

    def add(self, name, rule, known_topics=None):
        """Validate and store (replacing one of the same name); RuleError and nothing stored if invalid."""
        compile_subscriptions({name: rule}, known_topics)
        self._client.hset(self._key, name, json.dumps(rule, sort_keys=True))

    def get(self, name):
        raw = self._client.hget(self._key, name)
        return json.loads(raw) if raw is not None else None

    def all(self):
        return {name: json.loads(raw) for name, raw in sorted(self._client.hgetall(self._key).items())}

    def remove(self, name):
        """True if it existed."""
        return bool(self._client.hdel(self._key, name))

    def set_paused(self, name, paused):
        """Pause or resume; False if there is no such subscription."""
        rule = self.get(name)
        if rule is None:
            return False
        if paused:
            rule["paused"] = True
        else:
            rule.pop("paused", None)
        self._client.hset(self._key, name, json.dumps(rule, sort_keys=True))
        return True


class LiveSubscriptions:
    """The subscriptions stored in Redis, re-read while a pipeline runs; a picklable
    factory for the steps that follow them (MatchSubscriptions, MarkRelevance).

        live = LiveSubscriptions(url, prefix, refresh_seconds=5)()   # in the worker's setup()
        updated = live.changes()    # {name: rule} if they changed (checked at most every 5 s), else None
    """

    def __init__(self, redis_url, prefix="newsmon:", refresh_seconds=5.0):
        self._redis_url = redis_url
        self._prefix = prefix
        self._refresh_seconds = refresh_seconds

    def __call__(self):
        from connectors.redis_connection import redis_client
        from connectors.redis_streams import RedisKeys

        self._client = redis_client(self._redis_url)
        self._key = RedisKeys(self._prefix).subscriptions
        self._last = None
        self._next_check = 0.0
        return self

    def poll(self):
        """``(changed since the last poll, {name: rule})``."""
        raw = self._client.hgetall(self._key)
        changed = raw != self._last
        self._last = raw
        return changed, {name: json.loads(value) for name, value in raw.items()}

    def changes(self):
        """The stored subscriptions if they changed since the last look, else None.

        Looks at most every ``refresh_seconds``; while Redis is unreachable, logs
        and answers None (the caller keeps what it has).
        """
        now = time.monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + self._refresh_seconds
        try:
            changed, subscriptions = self.poll()
        except Exception as error:  # noqa: BLE001 - keep the current subscriptions
            _log.warning("newsmon: cannot refresh subscriptions (%s); keeping the current ones", error)
            return None
        return subscriptions if changed else None
