"""``newsmon tag``: the article steps in one process, no Beam and no Redis.

The same functions the pipeline's transforms call, for a quick look at what
newsmon makes of a few articles:

    {"id": "…", "title": "…", "language": "en", "topics": [{"id", "score", "terms", "evidence"}],
     "entities": [{"text", "label", "canonical", "count"}]}
"""

from connectors.archive import archive_files, read_archive_file
from transforms.entities import DEFAULT_PLACES, EntityExtractor, gazetteer_patterns, load_aliases
from transforms.language import detect_language, language_sample, load_detector
from transforms.normalize import normalize_article
from transforms.relevance import RelevanceFilter
from transforms.rules import compile_rules
from transforms.subscriptions import compile_subscriptions, match_subscriptions
from transforms.text import ANALYSIS, with_analysis, without_analysis
from transforms.topics import tag_topics

__all__ = ["preview_subscriptions", "tag_articles", "tag_paths"]

_BATCH = 32


def _tagged_batch(batch, extractor, matcher):
    for article, entities in zip(batch, extractor.entities(batch)):
        yield tag_topics({**article, "entities": entities}, matcher), None


def tag_articles(raw_articles, taxonomy, *, model, aliases_path, places_path=DEFAULT_PLACES, worth_tagging=None,
                 keep_analysis=False):
    """Yield ``(tagged article, None)`` or ``(None, failure record)`` for raw articles (or
    ``(None, failure)`` pairs passed through, as read_archive_file yields them).

    ``worth_tagging(article)``, if given, skips articles it says no to (no NER for them);
    it finds the article's analysis (transforms/text.py) under ``article["analysis"]``,
    which the tagged article keeps only with ``keep_analysis``.
    """
    for tagged, failed in _tag_articles(raw_articles, taxonomy, model=model, aliases_path=aliases_path,
                                        places_path=places_path, worth_tagging=worth_tagging):
        yield (tagged if keep_analysis or tagged is None else without_analysis(tagged)), failed


def _tag_articles(raw_articles, taxonomy, *, model, aliases_path, places_path, worth_tagging):
    matcher = compile_rules(taxonomy, kind="topic")
    extractor = EntityExtractor.load(model, load_aliases(aliases_path, places_path),
                                     gazetteer_patterns(aliases_path, places_path))
    detector = load_detector()
    batch = []
    for raw, failed in raw_articles:
        if failed is not None:
            yield None, failed
            continue
        try:
            article = normalize_article(raw)
        except ValueError as error:
            yield None, {"stage": "normalize", "origin": raw.get("origin", ""), "error": str(error)}
            continue
        article["language"] = detect_language(language_sample(article), detector)
        article, _ = with_analysis(article)
        if worth_tagging is None or worth_tagging(article):
            batch.append(article)
        if len(batch) >= _BATCH:
            yield from _tagged_batch(batch, extractor, matcher)
            batch = []
    if batch:
        yield from _tagged_batch(batch, extractor, matcher)


def tag_paths(paths, taxonomy, *, model, aliases_path, places_path=DEFAULT_PLACES, worth_tagging=None,
                 keep_analysis=False, reading=None):
    """``tag_articles`` over every article of the archive files under ``paths``; ``reading``, if
    given, wraps the iterator of ``(raw article, failure)`` pairs as they are read (a progress bar)."""
    raw_articles = (pair for path in archive_files(paths) for pair in read_archive_file(path))
    if reading is not None:
        raw_articles = reading(raw_articles)
    yield from tag_articles(raw_articles, taxonomy, model=model, aliases_path=aliases_path, places_path=places_path,
                            worth_tagging=worth_tagging, keep_analysis=keep_analysis)


def preview_subscriptions(paths, taxonomy, subscriptions, *, model, aliases_path, places_path=DEFAULT_PLACES,
                          reading=None):
    """Yield ``(article with alerts, None)`` for every archived article some subscription matches,
    and ``(None, failure)`` for unreadable ones. Writes nothing anywhere. ``reading`` as in ``tag_paths``
    (articles no rule matches yield nothing, so a progress bar counts what is read)."""
    matcher = compile_subscriptions(subscriptions, known_topics=taxonomy)
    relevance = RelevanceFilter(compile_rules(taxonomy, kind="topic"), matcher, load_aliases(aliases_path, places_path))

    def worth_tagging(article):  # NER only where some subscription can still match
        return relevance.relevant(article[ANALYSIS], article.get("source", ""), topics_matter=False,
                                  language=article.get("language"))

    for article, failed in tag_paths(paths, taxonomy, model=model, aliases_path=aliases_path, places_path=places_path,
                                     worth_tagging=worth_tagging, keep_analysis=True, reading=reading):
        if failed is not None:
            yield None, failed
            continue
        matched = without_analysis(match_subscriptions(article, matcher))
        if matched["alerts"]:
            yield matched, None
