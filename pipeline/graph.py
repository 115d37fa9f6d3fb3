"""The article graph shared by replay and monitor.

    source (articles + failed)
      | NormalizeArticles | [SkipProcessedArticles: poll, monitor] | [FetchFullText] | DetectLanguage | MarkRelevance
      | ExtractEntities (NER on relevant articles only, a pipeline per language) | TagTopics
      | AssignStories (story state in Redis) | MatchSubscriptions
      | WriteToRedisStreams (+ time-bucketed counts per series, connectors/counts.py)
    failures of every step -> WriteDeadLetters (one per step)

The graph does not know which source feeds it. Its config is a RunConfig
(pipeline/options.py): what every run needs, and what a command adds (a feed
run: skip what an earlier poll processed, follow subscriptions in Redis).
"""

import apache_beam as beam

from connectors.pages import FetchFullText
from connectors.redis_streams import SkipProcessedArticles, WriteDeadLetters, WriteToRedisStreams
from connectors.subscription_store import LiveSubscriptions
from transforms.entities import ExtractEntities, load_aliases
from transforms.language import DetectLanguage
from transforms.normalize import NormalizeArticles
from transforms.relevance import MarkRelevance
from transforms.ruleset import RuleSet
from transforms.stories import AssignStories
from transforms.subscriptions import MatchSubscriptions
from transforms.topics import TagTopics

__all__ = ["ArticlesToAlerts"]


class ArticlesToAlerts(beam.PTransform):
    """``{"articles": ..., "failed": ...}`` of a source -> Redis streams and dead letters."""

    def __init__(self, config):
        super().__init__()
        self._config = config

    def expand(self, source):
        c = self._config
        normalized = source["articles"] | "NormalizeArticles" >> NormalizeArticles()
        articles = normalized.articles
        if c.feed_run:
            articles = articles | "SkipProcessedArticles" >> SkipProcessedArticles(
                c.redis_url, prefix=c.prefix, retry_seconds=c.retry_seconds)
        if c.fulltext is not None:
            # Before the prefilter, on purpose: a teaser that matches no rule says nothing about the
            # article (see ARCHITECTURE.md, "Full text"); the rules and NER then run on the page's text.
            articles = articles | "FetchFullText" >> FetchFullText(
                c.redis_url, prefix=c.prefix, default_mode=c.fulltext, options=c.page_options,
                allow_private=c.allow_private_pages, retry_seconds=c.retry_seconds)
        articles = articles | "DetectLanguage" >> DetectLanguage()
        live = (LiveSubscriptions(c.redis_url, c.prefix, c.feed_run.refresh_seconds, known_topics=list(c.taxonomy))
                if c.feed_run else None)
        # One text for every rule, compiled once per worker and shared by the three rule steps.
        rules = RuleSet(c.taxonomy, c.subscriptions, load_aliases(c.aliases, c.places))
        if c.prefilter:
            articles = articles | "MarkRelevance" >> MarkRelevance(rules, live_source=live)
        with_entities = articles | "ExtractEntities" >> ExtractEntities(
            c.model, c.aliases, batch_size=c.batch_size, places=c.places)
        tagged = with_entities.articles | "TagTopics" >> TagTopics(rules)
        storied = tagged.articles | "AssignStories" >> AssignStories(
            c.redis_url, prefix=c.prefix, retry_seconds=c.retry_seconds)
        matched = storied.articles | "MatchSubscriptions" >> MatchSubscriptions(rules, live_source=live)
        sink = dict(prefix=c.prefix, maxlen=c.maxlen, marker_ttl=c.marker_ttl, retry_seconds=c.retry_seconds,
                    stats_key=c.stats_key, mark_processed=bool(c.feed_run),
                    count_once=getattr(c, "count_once", False))
        matched.articles | "WriteToRedisStreams" >> WriteToRedisStreams(c.redis_url, counts=c.counts, **sink)
        # One dead-letter writer per step rather than a Flatten of all failures: each stays
        # fused with its step, which Beam's local runner needs while an unbounded source runs.
        for step, failed in (("Source", source["failed"]), ("Normalize", normalized.failed),
                             ("Entities", with_entities.failed), ("Topics", tagged.failed),
                             ("Stories", storied.failed),
                             ("Subscriptions", matched.failed)):
            failed | f"WriteDeadLetters{step}" >> WriteDeadLetters(c.redis_url, **sink)
