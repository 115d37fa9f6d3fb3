"""MarkRelevance: decide the rules before NER; NER runs only where some rule can still match.

NER costs ~46 ms an article; most articles in a real stream match no topic and
no subscription, although many share their words ("Arctic" in a science
story, "sanctions" on a football club). So every topic and subscription rule
is evaluated before NER, as far as it can be without entities: its ``any``
terms, every ``all`` group, ``within``, ``none``, ``sources``, ``min_hits``
and ``min_score`` exactly as after NER. An entity condition passes here if one
of its names occurs in the text, itself or as a variant from the alias table
(an entity's canonical name is spelled in the text, or is the alias-table
rename of a variant that is); a subscription's ``topics`` condition passes if
that topic can still match. An article needs NER when some topic or some
subscription can still match (its events and alerts carry entities):

    RelevanceFilter(taxonomy, subscriptions, aliases).relevant("Local bakery wins prize")  ->  False

Each article gets ``"relevant": True|False`` and keeps its analysis (tokens
and sentences, transforms/text.py) for TagTopics and MatchSubscriptions;
ExtractEntities skips NER on the irrelevant ones (``entities`` stays empty)
and they still flow on, so counts and progress stay whole. They cannot carry
a topic or an alert, so nothing they would have written is lost (a test
replays the project's corpus with and without the filter and compares every
stream). A flag rather than a second output: the graph stays one chain of
fused steps, with no Flatten, which Beam's local runner does not pass on
while an unbounded source runs. ``newsmon ... --no-prefilter`` turns this off.
"""

import logging
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.rules import RuleError, RuleMatcher, add_term, compile_rules, find_terms
from transforms.text import analyze, term_tokens, with_analysis

__all__ = ["MarkRelevance", "RelevanceFilter"]

_log = logging.getLogger(__name__)


class RelevanceFilter:
    """Whether any topic or subscription could match an article, without NER.

    ``topics`` and ``subscriptions`` are RuleMatchers (or rule dicts, compiled
    here); ``aliases`` maps a lower-cased variant to its canonical name (or is
    the table of transforms.entities.load_aliases).
    """

    def __init__(self, topics, subscriptions, aliases=None):
        if not isinstance(topics, RuleMatcher):
            topics = compile_rules(topics, kind="topic")
        if not isinstance(subscriptions, RuleMatcher):
            from transforms.subscriptions import compile_subscriptions

            subscriptions = compile_subscriptions(subscriptions, known_topics=topics.rule_ids)
        self._topics = topics
        self._subscriptions = subscriptions
        names = topics.entity_names | subscriptions.entity_names
        variants = {name: {name} for name in names}
        for variant, alias in (aliases or {}).items():
            canonical = alias if isinstance(alias, str) else alias[0]
            if canonical:
                canonical = " ".join(canonical.lower().split())
                if canonical in variants:
                    variants[canonical].add(" ".join(variant.lower().split()))
        self._name_trie = {}
        self._names_by_key = {}  # term tokens -> the names they spell
        self._unsearchable = set()  # names without a word character: never ruled out
        for name, spellings in variants.items():
            for spelling in spellings:
                key = term_tokens(spelling)
                if not key:
                    self._unsearchable.add(name)
                    continue
                add_term(self._name_trie, key)
                self._names_by_key.setdefault(key, set()).add(name)

    def names_in(self, analyzed):
        """The entity names (lower-cased, canonical) some rule asks for that the text spells."""
        names = set(self._unsearchable)
        for key in find_terms(self._name_trie, analyzed.tokens) if self._name_trie else ():
            names.update(self._names_by_key[key])
        return names

    def relevant(self, text_or_analysis, source="", *, topics_matter=True, language=None):
        """Could some topic or subscription match? With ``topics_matter=False``: could some
        subscription match (topics then count only as subscriptions' conditions)? ``language``
        is the article's (None: English): rules with terms per language use its terms."""
        analyzed = analyze(text_or_analysis) if isinstance(text_or_analysis, str) else text_or_analysis
        names = self.names_in(analyzed)
        if topics_matter:
            if self._topics.could_match(analyzed, names=names, source=source, language=language):
                return True
            topics = ()  # no topic can match, so no subscription's topics condition can either
        else:
            if not len(self._subscriptions):
                return False
            topics = self._topics.possible(analyzed, names=names, source=source, language=language)
        return self._subscriptions.could_match(analyzed, names=names, topics=topics, source=source,
                                               language=language)


class _MarkRelevanceFn(beam.DoFn):
    def __init__(self, rules, live_source):
        self._rules = rules
        self._live_source = live_source

    def setup(self):
        self._compiled = self._rules.compiled()
        self._skipped = Metrics.counter("newsmon", "ner_skipped")
        self._live = self._live_source() if self._live_source is not None else None

    def _refresh(self):
        live = self._live.changes()
        if live is not None:
            try:
                self._compiled = self._rules.compiled().with_subscriptions(
                    {**self._rules.subscriptions(), **live})
            except RuleError as error:
                _log.warning("newsmon: relevance filter not reloaded: %s", error)

    def process(self, article: dict) -> Iterator[dict]:  # hinted: Beam need not infer it
        if self._live is not None:
            self._refresh()
        article, analyzed = with_analysis(article)
        relevant = self._compiled.relevance.relevant(analyzed, article.get("source", ""),
                                                     language=article.get("language"))
        if not relevant:
            self._skipped.inc()
        yield {**article, "relevant": relevant}


class MarkRelevance(beam.PTransform):
    """Articles -> articles with ``relevant`` (could some topic or subscription match?)
    and their analysis.

    ``rules`` is a transforms.ruleset.RuleSet (or a taxonomy dict, with
    ``subscriptions`` and ``aliases`` beside it). ``live_source`` as for
    MatchSubscriptions: subscriptions that change while the pipeline runs
    change the filter too.
    """

    def __init__(self, rules, subscriptions=None, aliases=None, *, live_source=None):
        super().__init__()
        from transforms.ruleset import RuleSet

        if not isinstance(rules, RuleSet):
            rules = RuleSet(rules, subscriptions, aliases)
        self._rules = rules
        self._live_source = live_source

    def expand(self, articles):
        return articles | beam.ParDo(_MarkRelevanceFn(self._rules, self._live_source))
