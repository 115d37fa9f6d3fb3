"""Alert subscriptions kept in Redis (hash ``newsmon:subscriptions``: name -> rule JSON)
and loaded from YAML files.

    store = SubscriptionStore(client, RedisKeys())
    store.add("nord-stream", {"topics": ["sanctions"], "any": ["nord stream", "gazprom"]}, known_topics)
    store.all()  ->  {"nord-stream": {"topics": [...], "any": [...]}}
    store.checked(known_topics)  ->  ({"nord-stream": {...}}, {"old-desk": "unknown topic 'piracy' ..."})

Every rule is validated before anything is written. A stored rule can still
become unusable: the monitor runs with another taxonomy (``--topics``) than
the one it was checked against, or someone edited the hash by hand. Readers
(``checked``, LiveSubscriptions) skip such a subscription with one log line
and use the others.

The taxonomy a feed run uses is published at ``<prefix>taxonomy`` (its topic
ids, and the file they came from) when it starts, so ``newsmon subscribe
add`` checks a new subscription against the topics the running monitor knows:

    publish_topics(client, keys, taxonomy, source="topics.yaml");  running_topics(client, keys)
    -> (["arctic_militarization", "sanctions", ...], "topics.yaml")
"""

import json
import logging
import time
from datetime import datetime, timezone

import yaml

from transforms.rules import RuleError
from transforms.subscriptions import compile_subscriptions
from transforms.yaml_loading import load_yaml

__all__ = [
    "LiveSubscriptions",
    "SubscriptionStore",
    "load_subscriptions_file",
    "log_unusable",
    "publish_topics",
    "running_topics",
    "subscription_problem",
]


_log = logging.getLogger(__name__)


def subscription_problem(name, rule, known_topics=None):
    """Why a stored subscription cannot be used with these topics (one line), or None."""
    if not isinstance(rule, dict):
        return "not a rule: expected a mapping of fields"
    try:
        compile_subscriptions({name: {k: v for k, v in rule.items() if k != "paused"}}, known_topics)
    except RuleError as error:
        message = str(error)
        prefix = f"rule {name!r}: "
        return message[len(prefix):] if message.startswith(prefix) else message
    return None


def _decoded(raw):
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return None


def _taxonomy_key(keys):
    return f"{keys.prefix}taxonomy"


def publish_topics(client, keys, taxonomy, *, source=""):
    """Record the topic ids a feed run uses, for ``subscribe add`` and ``subscribe list`` to check against."""
    client.hset(_taxonomy_key(keys), mapping={
        "topics": json.dumps(sorted(taxonomy)), "source": str(source),
        "published": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})


def running_topics(client, keys):
    """``(topic ids, source)`` the last feed run published, or None."""
    published = client.hgetall(_taxonomy_key(keys))
    topics = _decoded(published.get("topics")) if published else None
    if not isinstance(topics, list):
        return None
    return topics, published.get("source", "")


def load_subscriptions_file(path, known_topics=None):
    """``{name: rule}`` from a YAML file with a ``subscriptions:`` mapping; RuleError if invalid."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = load_yaml(handle)
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
        return _decoded(raw) if raw is not None else None

    def all(self):
        """Every stored subscription that is readable JSON, ``{name: rule}`` (not checked otherwise)."""
        stored = ((name, _decoded(raw)) for name, raw in sorted(self._client.hgetall(self._key).items()))
        return {name: rule for name, rule in stored if isinstance(rule, dict)}

    def checked(self, known_topics=None):
        """``(usable {name: rule}, unusable {name: reason})`` of every stored subscription."""
        return _checked(self._client.hgetall(self._key), known_topics)

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


def _checked(raw, known_topics):
    usable, unusable = {}, {}
    for name, value in sorted(raw.items()):
        rule = _decoded(value)
        problem = "not valid JSON" if rule is None else subscription_problem(name, rule, known_topics)
        if problem:
            unusable[name] = problem
        else:
            usable[name] = rule
    return usable, unusable


# Per process, what was said about which subscription: the steps that follow the stored
# subscriptions each re-read them, and a skipped one should be one log line, not one per step.
_LOGGED = {}


def log_unusable(unusable, scope=None):
    """One log line per unusable subscription. With ``scope`` (the Redis URL and prefix they come
    from), only once per process for as long as the reason stays the same."""
    logged = _LOGGED.setdefault(scope, {}) if scope is not None else {}
    for name, problem in unusable.items():
        if logged.get(name) != problem:
            _log.warning("newsmon: subscription %s skipped: %s", name, problem)
        logged[name] = problem
    for name in set(logged) - set(unusable):
        del logged[name]  # fixed or removed: say so again if it breaks again


class LiveSubscriptions:
    """The subscriptions stored in Redis, re-read while a pipeline runs; a picklable
    factory for the steps that follow them (MatchSubscriptions, MarkRelevance).

        live = LiveSubscriptions(url, prefix, refresh_seconds=5, known_topics=taxonomy)()   # in setup()
        updated = live.changes()    # {name: rule} if they changed (checked at most every 5 s), else None

    Only usable subscriptions are given; one that cannot be used with
    ``known_topics`` is left out, with one log line (again only if its
    reason changes), and the others keep loading.
    """

    def __init__(self, redis_url, prefix="newsmon:", refresh_seconds=5.0, known_topics=None):
        self._redis_url = redis_url
        self._prefix = prefix
        self._refresh_seconds = refresh_seconds
        self._known_topics = list(known_topics) if known_topics is not None else None

    def __call__(self):
        from connectors.redis_connection import redis_client
        from connectors.redis_streams import RedisKeys

        self._client = redis_client(self._redis_url)
        self._key = RedisKeys(self._prefix).subscriptions
        self._last = None
        self._next_check = 0.0
        return self

    def poll(self):
        """``(changed since the last poll, {name: rule})``, usable subscriptions only."""
        raw = self._client.hgetall(self._key)
        changed = raw != self._last
        self._last = raw
        usable, unusable = _checked(raw, self._known_topics)
        log_unusable(unusable, scope=(self._redis_url, self._prefix))
        return changed, usable

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
