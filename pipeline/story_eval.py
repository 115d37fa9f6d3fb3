"""``newsmon eval --stories``: the real story assignment over a labelled corpus, split by split.

    tagged = tag_story_corpus(corpus, taxonomy, model=..., aliases_path=...)   # NER and topics, once
    outcome = cluster_split(tagged, client, settings)                            # StoryIndex in Redis

Each split (``tune``, ``heldout``) is clustered on its own, in published-time
order, by the StoryIndex the pipeline uses, under a throwaway key prefix that
is deleted afterwards. Scores come from transforms/story_evaluation.py.
"""

import uuid
from dataclasses import dataclass

from connectors.story_index import StoryIndex
from pipeline.tag import tag_articles
from transforms.entities import DEFAULT_PLACES
from transforms.stories import DEFAULT_SETTINGS, article_features
from transforms.story_evaluation import in_time_order

__all__ = ["ClusterOutcome", "cluster_split", "splits_of", "tag_story_corpus"]


def tag_story_corpus(corpus, taxonomy, *, model, aliases_path, places_path=DEFAULT_PLACES, on_failure=None):
    """The corpus articles, normalised, with entities and topics, keeping the corpus ids."""
    fields = ("title", "text", "url", "source", "published")
    raw = (({"id": a["id"], **{k: a.get(k, "") for k in fields}, "origin": a["id"]}, None) for a in corpus)
    labels = {a["id"]: a for a in corpus}
    tagged = []
    for article, failed in tag_articles(raw, taxonomy, model=model, aliases_path=aliases_path,
                                        places_path=places_path):
        if failed is not None:
            if on_failure:
                on_failure(failed)
            continue
        original = labels[article["origin"]]
        tagged.append({**article, "id": original["id"], "story_label": original["story"],
                       "split": original.get("split") or "all",
                       "near_duplicate_of": original.get("near_duplicate_of")})
    return tagged


def splits_of(articles):
    """``{split: [articles]}`` in the corpus's order of first appearance."""
    splits = {}
    for article in articles:
        splits.setdefault(article.get("split") or "all", []).append(article)
    return splits


@dataclass
class ClusterOutcome:
    predicted: dict  # article id -> story id
    how: dict  # article id -> how it was assigned
    founder: dict  # story id -> article that started it


def cluster_split(articles, client, settings=DEFAULT_SETTINGS, *, prefix="newsmon:eval:"):
    """Assign the articles to stories in time order with a fresh StoryIndex; its keys are deleted after."""
    prefix = f"{prefix}{uuid.uuid4().hex[:8]}:"
    index = StoryIndex(client, prefix=prefix, settings=settings, retry_seconds=10)
    outcome = ClusterOutcome({}, {}, {})
    try:
        for article in in_time_order(articles):
            assignment = index.assign(article_features(article, now=0, settings=settings))
            outcome.predicted[article["id"]] = assignment.story_id
            outcome.how[article["id"]] = assignment.how
            if assignment.status == "created":
                outcome.founder[assignment.story_id] = article["id"]
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.unlink(*keys[start:start + 500])
    return outcome
