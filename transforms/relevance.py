"""MarkRelevance: flag the articles some rule could match; NER runs only on those.

NER costs ~46 ms an article; most articles in a real stream match no topic and
no subscription. A rule can only match an article that contains one of its
terms, or — for a rule of entities only — one of the entity names it spells
out (or a variant of them from the alias table); a subscription of topics only
can match only where a topic can. So one pass of a token trie over the text
(~1 ms) tells which articles need NER at all:

    RelevanceFilter(taxonomy, subscriptions, aliases).relevant("Local bakery wins prize")  ->  False

Each article gets ``"relevant": True|False``; ExtractEntities skips NER on the
irrelevant ones (``entities`` stays empty) and they still flow on, so counts
and progress stay whole; they cannot carry a topic or an alert, so nothing
they would have written is lost. A flag rather than a second output: the
graph stays one chain of fused steps, with no Flatten, which Beam's local
runner does not pass on while an unbounded source runs. ``newsmon ...
--no-prefilter`` turns this off.
"""

import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.rules import RuleError, compile_rules
from transforms.subscriptions import compile_subscriptions
from transforms.text import analyze

__all__ = ["MarkRelevance", "RelevanceFilter"]

_log = logging.getLogger(__name__)


def _rule_terms(matcher, aliases):
    """Terms of which every rule needs at least one to occur: its ``any`` terms
    (required when present), else the smallest of its ``all`` groups (each group
    is required; the smallest is the most telling), else the names of its
    entities and their alias variants."""
    variants = {}
    for variant, alias in (aliases or {}).items():
        canonical = alias[0]
        if canonical:
            variants.setdefault(canonical.lower(), []).append(variant)
    terms = set()
    for rule in matcher.rules:
        if rule.any_terms:
            terms.update(rule.any_terms)
        elif rule.all_groups:
            terms.update(min(rule.all_groups, key=len))
        else:
            for _label, names in rule.entities:
                for name in names:
                    terms.add(name)
                    terms.update(variants.get(name, ()))
    return terms


class RelevanceFilter:
    """Whether any topic or subscription could match an article, without NER."""

    def __init__(self, taxonomy, subscriptions, aliases=None):
        topics = compile_rules(taxonomy, kind="topic")
        subs = compile_subscriptions(subscriptions, known_topics=list(taxonomy))
        terms = set()
        for matcher in (topics, subs):
            for term in _rule_terms(matcher, aliases):
                terms.add(" ".join(term) if isinstance(term, tuple) else term)
        # A rule that needs nothing but entities of a label with no names cannot exist
        # (the rule language asks for names), so the terms cover every rule.
        self._matcher = compile_rules({"relevant": {"any": sorted(terms)}}) if terms else None

    def relevant(self, text):
        if self._matcher is None:
            return False
        return bool(self._matcher.find_terms(analyze(text).tokens))


class _MarkRelevanceFn(beam.DoFn):
    def __init__(self, taxonomy, subscriptions, aliases, live_source):
        self._taxonomy = taxonomy
        self._subscriptions = subscriptions
        self._aliases = aliases
        self._live_source = live_source

    def setup(self):
        self._filter = RelevanceFilter(self._taxonomy, self._subscriptions, self._aliases)
        self._skipped = Metrics.counter("newsmon", "ner_skipped")
        self._live = self._live_source() if self._live_source is not None else None

    def _refresh(self):
        live = self._live.changes()
        if live is not None:
            try:
                self._filter = RelevanceFilter(self._taxonomy, {**self._subscriptions, **live}, self._aliases)
            except RuleError as error:
                _log.warning("newsmon: relevance filter not reloaded: %s", error)

    def process(self, article):
        if self._live is not None:
            self._refresh()
        relevant = self._filter.relevant(f"{article['title']}\n{article['text']}")
        if not relevant:
            self._skipped.inc()
        yield {**article, "relevant": relevant}


class MarkRelevance(beam.PTransform):
    """Articles -> articles with ``relevant``: could some topic or subscription match?

    ``live_source`` as for MatchSubscriptions: subscriptions that change while
    the pipeline runs change the filter too.
    """

    def __init__(self, taxonomy, subscriptions, aliases=None, *, live_source=None):
        super().__init__()
        RelevanceFilter(taxonomy, subscriptions, aliases)  # bad rules fail here, not in a worker
        self._args = (taxonomy, dict(subscriptions), aliases, live_source)

    def expand(self, articles):
        return articles | beam.ParDo(_MarkRelevanceFn(*self._args))
