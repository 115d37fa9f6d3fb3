"""The labelled story corpus in tests/fixtures/stories/ holds together: every article has the
fields story clustering is measured with, ids are unique, near-duplicates point into their own
story, whole stories sit on one side of the tune/heldout split, and each side has enough
multi-article stories to measure on."""

import json
from collections import defaultdict
from datetime import datetime
from urllib.parse import urlparse

import pytest

from tests.conftest import FIXTURES

CORPUS = FIXTURES / "stories" / "corpus.jsonl"
REQUIRED = ("id", "title", "text", "url", "source", "published", "language", "story", "split", "provenance")


@pytest.fixture(scope="module")
def articles():
    with open(CORPUS, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def stories(articles):
    by_story = defaultdict(list)
    for article in articles:
        by_story[article["story"]].append(article)
    return by_story


def test_every_article_has_the_required_fields(articles):
    for article in articles:
        missing = [name for name in REQUIRED if not isinstance(article.get(name), str) or not article[name].strip()]
        assert not missing, f"{article.get('id')}: missing or empty {missing}"
        assert article["language"] == "en", article["id"]
        assert article["split"] in ("tune", "heldout"), article["id"]
        assert article["provenance"] in ("collected", "written"), article["id"]
        url = urlparse(article["url"])
        assert url.scheme in ("http", "https") and url.netloc, article["id"]
        assert "/" not in article["source"] and "." in article["source"], article["id"]
        published = datetime.fromisoformat(article["published"].replace("Z", "+00:00"))
        assert published.utcoffset() is not None and published.utcoffset().total_seconds() == 0, article["id"]


def test_ids_are_unique(articles):
    ids = [article["id"] for article in articles]
    assert len(ids) == len(set(ids))


def test_near_duplicates_point_to_an_article_of_the_same_story(articles):
    by_id = {article["id"]: article for article in articles}
    for article in articles:
        original = article.get("near_duplicate_of")
        if original is None:
            continue
        assert original != article["id"], article["id"]
        assert original in by_id, f"{article['id']}: near_duplicate_of {original} is not in the corpus"
        assert by_id[original]["story"] == article["story"], article["id"]


def test_whole_stories_sit_on_one_side_of_the_split(stories):
    for story, members in stories.items():
        assert len({article["split"] for article in members}) == 1, story


def test_hard_negatives_name_other_stories_on_the_same_side(stories):
    for story, members in stories.items():
        for other in members[0].get("hard_negative_of", []):
            assert other != story and other in stories, f"{story}: unknown hard negative {other}"
            assert stories[other][0]["split"] == members[0]["split"], f"{story} and {other} are split apart"


def test_each_split_has_at_least_ten_multi_article_stories(stories):
    for split in ("tune", "heldout"):
        multi = [story for story, members in stories.items() if members[0]["split"] == split and len(members) > 1]
        assert len(multi) >= 10, split


def test_the_corpus_is_as_large_as_issue_12_asks(stories):
    multi = [members for members in stories.values() if len(members) > 1]
    assert len(multi) >= 20
    assert sum(len(members) for members in multi) >= 80
