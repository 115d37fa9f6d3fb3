"""MatchSubscriptions: users' alert rules over each tagged article.

A subscription is a rule in the language of transforms/rules.py that may also
name topics. Every match becomes an alert on the article:

    "alerts": [{"id": "nord-stream", "score": 0.64, "terms": ["nord stream"], "evidence": [...],
                "per": "story", "update_on": {"sources": [3, 10], "countries": true, "entities": false}}]

All subscriptions compile into one matcher, so one pass over the article
serves them all. ``per`` and ``update_on`` say how the sink turns matches into
alerts: once per story (the default; again only when the story grows as
``update_on`` asks), or once per article (``per: article``).
"""

import logging
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.deadletter import FAILED, failure
from transforms.rules import RuleError, compile_rules, validate_rule_id
from transforms.spikes import validate_spike_rule
from transforms.text import analysis_of, without_analysis

__all__ = ["MatchSubscriptions", "compile_subscriptions", "delivery_of", "match_subscriptions", "rule_of"]

_log = logging.getLogger(__name__)

# Fields of a stored subscription that are not part of its rule.
_STATE_FIELDS = ("paused", "created", "per", "update_on")
_PER = ("story", "article")


def delivery_of(subscription, name="subscription"):
    """How a subscription's matches become alerts; RuleError for a bad value.

    ``per``: "story" (default: the first matching article of a story alerts, later ones only as an
    update) or "article" (every matching article). ``update_on``: a list like
    ``["sources:3,10", "countries", "entities"]`` (or the mapping this returns): an update when the
    story reaches 3, then 10 sources, or an article brings a country / an entity new to the story.

        {"per": "story", "update_on": {"sources": [3, 10], "countries": True, "entities": False}}
    """
    per = subscription.get("per", "story")
    if per not in _PER:
        raise RuleError(f"subscription {name!r}: 'per' must be story or article, got {per!r}")
    update_on = {"sources": [], "countries": False, "entities": False}
    given = subscription.get("update_on") or []
    if isinstance(given, dict):
        given = ([f"sources:{','.join(str(n) for n in given.get('sources') or [])}"] if given.get("sources") else []) \
            + [k for k in ("countries", "entities") if given.get(k)]
    if isinstance(given, str) or not isinstance(given, list):
        given = [given]
    for item in given:
        kind, _, values = str(item).partition(":")
        kind = kind.strip().lower()
        if kind == "sources":
            try:
                counts = sorted({int(v) for v in values.split(",") if v.strip()})
            except ValueError:
                counts = []
            if not counts or counts[0] < 2:
                raise RuleError(f"subscription {name!r}: update_on {item!r}: expected sources:N[,M...]"
                                " with counts of at least 2")
            update_on["sources"] = counts
        elif kind in ("countries", "entities") and not values:
            update_on[kind] = True
        else:
            raise RuleError(f"subscription {name!r}: update_on {item!r}: expected sources:N[,M...],"
                            " countries or entities")
    if per == "article" and (update_on["sources"] or update_on["countries"] or update_on["entities"]):
        raise RuleError(f"subscription {name!r}: update_on applies to per: story only")
    return {"per": per, "update_on": update_on}


def rule_of(subscription):
    """The rule part of a stored subscription."""
    return {k: v for k, v in subscription.items() if k not in _STATE_FIELDS}


def compile_subscriptions(subscriptions, known_topics=None):
    """One matcher for every active subscription; RuleError names the bad one.

    Subscriptions to surges (``on_spike``, transforms/spikes.py) are checked here
    but match no article: surge detection alerts them.
    """
    for name, subscription in subscriptions.items():
        validate_rule_id(name, "subscription")
        if not isinstance(subscription, dict):
            raise RuleError(f"subscription {name!r}: expected a mapping of rule fields,"
                            f" got {type(subscription).__name__}")
        if not isinstance(subscription.get("paused", False), bool):
            raise RuleError(f"subscription {name!r}: 'paused' must be true or false,"
                            f" got {subscription['paused']!r}")
    for name, sub in subscriptions.items():
        if "on_spike" in sub:
            try:
                validate_spike_rule(name, sub)
            except ValueError as error:
                raise RuleError(str(error)) from error
    active = {name: rule_of(sub) for name, sub in subscriptions.items()
              if not sub.get("paused") and "on_spike" not in sub}
    delivery = {name: delivery_of(subscriptions[name], name) for name in active}
    matcher = compile_rules(active, kind="subscription", known_topics=known_topics)
    matcher.delivery = delivery  # how each subscription's matches become alerts (delivery_of)
    return matcher


def match_subscriptions(article, matcher):
    """The article with the ``alerts`` of every subscription it matches."""
    if not len(matcher):
        return {**article, "alerts": []}
    hits = matcher.match(
        analyzed=analysis_of(article),
        entities=article.get("entities", ()),
        topics=[t["id"] for t in article.get("topics", ())],
        source=article.get("source", ""),
        language=article.get("language"),
    )
    alerts = []
    delivery = getattr(matcher, "delivery", {})
    for hit in hits:
        alert = hit.to_dict()
        alert.update(delivery.get(hit.rule_id) or {"per": "story"})
        if not alert["evidence"]:
            # A rule of topics and entities only: its topics' evidence explains the alert.
            required = matcher.topics_of(hit.rule_id)
            for topic in article.get("topics", ()):
                if topic["id"] in required:
                    alert["terms"] = alert["terms"] + [t for t in topic["terms"] if t not in alert["terms"]]
                    alert["evidence"] = alert["evidence"] + topic["evidence"][:1]
        alerts.append(alert)
    return {**article, "alerts": alerts}


class _MatchSubscriptionsFn(beam.DoFn):
    def __init__(self, rules, live_source):
        self._rules = rules
        self._live_source = live_source

    def setup(self):
        self._matcher = self._rules.compiled().subscriptions
        self._counters = {}
        self._live = self._live_source() if self._live_source is not None else None

    def _refresh(self):
        """Recompile when the live subscriptions changed."""
        live = self._live.changes()
        if live is not None:
            try:
                self._matcher = compile_subscriptions({**self._rules.subscriptions(), **live},
                                                      self._rules.compiled().known_topics)
            except RuleError as error:
                _log.warning("newsmon: subscriptions not reloaded: %s", error)

    def process(self, article: dict) -> Iterator[dict]:  # hinted: Beam need not infer it
        if self._live is not None:
            self._refresh()
        try:
            matched = without_analysis(match_subscriptions(article, self._matcher))
        except Exception as error:  # noqa: BLE001 - any failure goes to the dead letters
            yield beam.pvalue.TaggedOutput(FAILED, failure(
                "subscriptions", error, origin=article.get("origin", ""), article_id=article.get("id", "")))
            return
        for alert in matched["alerts"]:
            counter = self._counters.get(alert["id"])
            if counter is None:
                counter = self._counters[alert["id"]] = Metrics.counter("alerts", alert["id"])
            counter.inc()
        yield matched


class MatchSubscriptions(beam.PTransform):
    """Articles -> articles with ``alerts``; outputs ``articles`` and ``failed``.

    ``subscriptions`` is ``{name: rule}`` (with ``known_topics``), or a
    transforms.ruleset.RuleSet; a bad rule raises ValueError here.
    ``live_source``, if given, is a picklable factory of an object whose
    ``changes()`` returns the stored subscriptions when they changed, else
    None (connectors.subscription_store.LiveSubscriptions): subscriptions
    added, paused or removed while the pipeline runs take effect within its
    refresh interval.
    """

    def __init__(self, subscriptions, known_topics=None, *, live_source=None):
        super().__init__()
        from transforms.ruleset import RuleSet

        if isinstance(subscriptions, RuleSet):
            self._rules = subscriptions
        else:
            try:
                self._rules = RuleSet({}, subscriptions, known_topics=known_topics)
            except RuleError as error:
                raise ValueError(f"subscription {error}") from error
        self._live_source = live_source

    def expand(self, articles):
        return articles | beam.ParDo(_MatchSubscriptionsFn(self._rules, self._live_source)).with_outputs(
            FAILED, main="articles")
