"""TagTopics: the taxonomy's rules over each article.

An article comes out with its topic hits, each explaining itself:

    "topics": [{"id": "sanctions", "score": 0.64, "terms": ["sanctions"],
                "evidence": ["Blinken has decided to waive sanctions on key entities ..."]}]

The default taxonomy is seeds/topics.yaml; ``load_taxonomy`` reads any other.
"""

from collections.abc import Iterator

import apache_beam as beam
import yaml
from apache_beam.metrics import Metrics

from seeds import default_file
from transforms.deadletter import FAILED, failure
from transforms.rules import RuleError, compile_rules
from transforms.text import analysis_of, with_analysis

__all__ = ["DEFAULT_TAXONOMY", "TagTopics", "load_taxonomy", "tag_topics"]

# libyaml's parser where PyYAML has it: ~10x faster than the pure-Python one on large files.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DEFAULT_TAXONOMY = default_file("topics.yaml")


def load_taxonomy(path=DEFAULT_TAXONOMY):
    """``{topic id: rule}`` from a taxonomy file, checked before any article is read.

    Raises RuleError naming the file, the rule and the field.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_YAML_LOADER)
    except OSError as error:
        raise RuleError(f"{path}: cannot read the taxonomy: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise RuleError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("topics"), dict) or not data["topics"]:
        raise RuleError(f"{path}: expected a mapping 'topics:' of topic names to rules")
    try:
        compile_rules(data["topics"], kind="topic")
    except RuleError as error:
        raise RuleError(f"{path}: {error}") from error
    return data["topics"]


def tag_topics(article, matcher):
    """The article with its ``topics`` hits (most confident first)."""
    hits = matcher.match(analyzed=analysis_of(article), entities=article.get("entities", ()),
                         source=article.get("source", ""), language=article.get("language"))
    hits.sort(key=lambda hit: -hit.score)
    return {**article, "topics": [hit.to_dict() for hit in hits]}


class _TagTopicsFn(beam.DoFn):
    def __init__(self, rules):
        self._rules = rules

    def setup(self):
        self._matcher = self._rules.compiled().topics
        self._counters = {}

    def process(self, article: dict) -> Iterator[dict]:  # hinted: Beam need not infer it
        try:
            article, _ = with_analysis(article)  # kept for MatchSubscriptions
            tagged = tag_topics(article, self._matcher)
        except Exception as error:  # noqa: BLE001 - any failure goes to the dead letters
            yield beam.pvalue.TaggedOutput(FAILED, failure(
                "topics", error, origin=article.get("origin", ""), article_id=article.get("id", "")))
            return
        for topic in tagged["topics"]:
            counter = self._counters.get(topic["id"])
            if counter is None:
                counter = self._counters[topic["id"]] = Metrics.counter("topics", topic["id"])
            counter.inc()
        yield tagged


class TagTopics(beam.PTransform):
    """Articles -> articles with ``topics``; outputs ``articles`` and ``failed``.

    ``rules`` is a transforms.ruleset.RuleSet, or a taxonomy ``{topic id: rule}``
    (see load_taxonomy); a bad rule raises here.
    """

    def __init__(self, rules):
        super().__init__()
        from transforms.ruleset import RuleSet

        self._rules = rules if isinstance(rules, RuleSet) else RuleSet(rules)

    def expand(self, articles):
        return articles | beam.ParDo(_TagTopicsFn(self._rules)).with_outputs(FAILED, main="articles")
