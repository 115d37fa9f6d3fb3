"""Story clustering scores, near-duplicate figures, errors and the TF-IDF baseline (plain functions)."""

import json

import pytest

from tests.story_samples import ALL, NEXT_PACKAGE, WIRE
from transforms.story_evaluation import (
    best_baseline_threshold,
    cluster_scores,
    load_story_corpus,
    near_duplicate_scores,
    story_errors,
    tfidf_baseline,
)

GOLD = {"a": "x", "b": "x", "c": "x", "d": "y", "e": "y"}


def test_a_perfect_clustering_scores_one():
    scores = cluster_scores(GOLD, {"a": 1, "b": 1, "c": 1, "d": 2, "e": 2})
    assert (scores.pairs_tp, scores.pairs_fp, scores.pairs_fn) == (4, 0, 0)
    assert scores.pairwise_f1 == 1.0 and scores.bcubed_f1 == 1.0
    assert (scores.articles, scores.stories, scores.clusters) == (5, 2, 2)


def test_pairwise_and_bcubed_by_hand():
    # clusters {a, b}, {c, d, e}: together a-b (x), c-d, c-e (x/y: wrong), d-e (y).
    scores = cluster_scores(GOLD, {"a": 1, "b": 1, "c": 2, "d": 2, "e": 2})
    assert (scores.pairs_tp, scores.pairs_fp, scores.pairs_fn) == (2, 2, 2)
    assert scores.pairwise_precision == 0.5 and scores.pairwise_recall == 0.5
    # B-cubed precision: a, b 2/2; c 1/3; d, e 2/3 -> (1 + 1 + 1/3 + 2/3 + 2/3) / 5
    assert scores.bcubed_precision == pytest.approx((2 + 1 / 3 + 4 / 3) / 5)
    # B-cubed recall: a, b 2/3; c 1/3; d, e 2/2 -> (4/3 + 1/3 + 2) / 5
    assert scores.bcubed_recall == pytest.approx((4 / 3 + 1 / 3 + 2) / 5)


def test_everything_apart_has_no_precision_and_no_recall():
    scores = cluster_scores(GOLD, {})
    assert scores.pairs_tp == 0 and scores.pairwise_precision is None and scores.pairwise_recall == 0.0
    assert scores.bcubed_precision == 1.0


def test_near_duplicate_figures():
    articles = [{"id": "a", "story": "x"}, {"id": "b", "story": "x", "near_duplicate_of": "a"},
                {"id": "c", "story": "x", "near_duplicate_of": "a"}, {"id": "d", "story": "y"},
                {"id": "e", "story": "z"}]
    predicted = {"a": "a", "b": "a", "c": "c", "d": "a", "e": "e"}
    how = {"a": "new", "b": "near_duplicate", "c": "new", "d": "same_text", "e": "new"}
    scores = near_duplicate_scores(articles, predicted, how)
    assert (scores.joined_as_copy, scores.correct, scores.wrong) == (2, 1, ("d",))
    assert (scores.labelled, scores.with_original, scores.detected) == (2, 1, 1)
    assert scores.precision == 0.5 and scores.recall == 0.5


def test_story_errors_list_splits_and_merges():
    errors = story_errors(GOLD, {"a": 1, "b": 1, "c": 2, "d": 2, "e": 2})
    assert errors.split == {"x": [["a", "b"], ["c"]]}
    assert errors.merged == {2: {"x": ["c"], "y": ["d", "e"]}}


def test_baseline_groups_one_event_and_the_window_keeps_the_next_package_apart():
    articles = [{**a, "story": "next" if a is NEXT_PACKAGE else ("bake" if "bake" in a["id"] else "eu14")}
                for a in ALL]
    loose = tfidf_baseline(articles, threshold=0.05)
    assert loose[NEXT_PACKAGE["id"]] == loose[WIRE["id"]]  # no window: the next package joins
    windowed = tfidf_baseline(articles, threshold=0.05, window_days=7)
    assert windowed[NEXT_PACKAGE["id"]] == NEXT_PACKAGE["id"]
    assert best_baseline_threshold(articles, window_days=7) > 0


def test_load_story_corpus_checks_fields(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "a", "story": "x", "title": "T", "text": "x"}) + "\n\n", encoding="utf-8")
    assert load_story_corpus(good)[0]["story"] == "x"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "a", "title": "T"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1: 'story'"):
        load_story_corpus(bad)
    dangling = tmp_path / "dangling.jsonl"
    dangling.write_text(json.dumps({"id": "a", "story": "x", "near_duplicate_of": "zz"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="near_duplicate_of 'zz'"):
        load_story_corpus(dangling)
    with pytest.raises(ValueError, match="cannot read"):
        load_story_corpus(tmp_path / "missing.jsonl")
