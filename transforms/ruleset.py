"""The rules of one run, carried to the workers as text and compiled once per worker process.

A run's topics, subscriptions and the alias table's variants travel inside
the DoFns of MarkRelevance, TagTopics and MatchSubscriptions. As dicts they
would cost at every step: Beam's type inference walks every dict a DoFn holds
(164k calls for 10,000 subscriptions), pickling copies them per step, and each
step compiled them again in its ``setup()``. So a RuleSet keeps them as one
JSON text, and ``compiled()`` compiles that text once per process
(``apache_beam.utils.shared.Shared``), for every step that asks:

    rules = RuleSet(taxonomy, subscriptions, aliases)   # checks the rules; RuleError names the bad one
    compiled = rules.compiled()                         # in setup(): the same object for every step
    compiled.topics.match(...); compiled.subscriptions.match(...); compiled.relevance.relevant(...)

The check in the constructor compiles them in the launching process, and a
local in-process worker reuses that compilation.
"""

import gc
import hashlib
import json

from apache_beam.utils.shared import Shared

from transforms.relevance import RelevanceFilter
from transforms.rules import compile_rules
from transforms.subscriptions import compile_subscriptions

__all__ = ["CompiledRules", "RuleSet"]


class CompiledRules:
    """Topic and subscription matchers and the relevance filter made from them."""

    def __init__(self, taxonomy, subscriptions, name_variants, known_topics, topics=None):
        self.known_topics = known_topics
        self.name_variants = name_variants  # {lower-cased variant: canonical name} from the alias table
        self.topics = topics if topics is not None else compile_rules(taxonomy, kind="topic")
        self.subscriptions = compile_subscriptions(subscriptions, known_topics=known_topics)
        self.relevance = RelevanceFilter(self.topics, self.subscriptions, name_variants)

    def with_subscriptions(self, subscriptions):
        """The same topics with other subscriptions (live subscriptions that changed)."""
        return CompiledRules(None, subscriptions, self.name_variants, self.known_topics, topics=self.topics)


def _compile(text):
    taxonomy, subscriptions, name_variants, known_topics = json.loads(text)
    compiled = CompiledRules(taxonomy, subscriptions, name_variants, known_topics)
    # Compiled rules live as long as the worker: keep the collector from walking them
    # again and again (10,000 subscriptions are ~1 ms an article of GC otherwise).
    gc.freeze()
    return compiled


class RuleSet:
    """Topics, subscriptions and alias variants as one text; compiled once per process.

    ``aliases`` is the table of transforms.entities.load_aliases (only its
    renames are kept); ``known_topics`` defaults to the taxonomy's topics.
    """

    def __init__(self, taxonomy, subscriptions=None, aliases=None, *, known_topics=None):
        taxonomy = dict(taxonomy or {})
        if known_topics is not None:
            known = list(known_topics)
        else:
            known = list(taxonomy) if taxonomy else None  # None: subscription topics unchecked
        variants = {}
        for variant, alias in (aliases or {}).items():
            canonical = alias[0]
            if canonical:
                variants[variant] = canonical
        self._text = json.dumps([taxonomy, dict(subscriptions or {}), variants, known],
                                ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        self._tag = hashlib.sha256(self._text.encode("utf-8")).hexdigest()
        self._shared = Shared()
        self._local = self.compiled()  # bad rules fail here, not in a worker

    def __getstate__(self):
        return {"_text": self._text, "_tag": self._tag, "_shared": self._shared}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def subscriptions(self):
        """The run's own subscriptions, ``{name: rule}`` (live ones are added to these)."""
        return json.loads(self._text)[1]

    def compiled(self):
        """The CompiledRules of this process (compiled on first use)."""
        return self._shared.acquire(lambda: _compile(self._text), tag=self._tag)
