"""Story features and the assignment decision, as plain functions (no Redis, no Beam)."""

import pytest

from tests.story_samples import BAKE_SALE, NEXT_PACKAGE, OTHER_OUTLET, SYNDICATED, WIRE
from transforms.stories import (
    StoryCandidate,
    article_features,
    article_time,
    choose_story,
    cosine,
    entity_overlap,
    shingles,
    story_tokens,
    term_vector,
    term_weight,
    with_settings,
)

HOUR = 3600.0


def candidate_of(article, *, story_id=None, band_hits=None, other=None):
    """A one-article story made of ``article``; its band hits with ``other`` counted from their features."""
    features = article_features(article, now=0)
    if band_hits is None and other is not None:
        band_hits = sum(a == b for a, b in zip(features.bands, article_features(other, now=0).bands))
    return StoryCandidate(story_id or article["id"], features.time, features.time, dict(features.vector),
                          {name: 1 for name in features.entity_names()}, band_hits or 0)


def test_tokens_keep_numbers_and_ordinals_and_drop_single_letters():
    assert story_tokens("Russia's 14th package: $8,000 in U.S. aid.") == [
        "russia", "14th", "package", "8,000", "in", "aid"]
    assert story_tokens("") == []
    assert story_tokens(None) == []


def test_weights_follow_word_rarity():
    assert term_weight("the") == 0.0
    assert 0 < term_weight("said") < term_weight("sanctions") < term_weight("zeebrugge")
    assert term_weight("2024") < term_weight("14th")


def test_term_vector_is_unit_length_and_merges_plurals():
    vector = term_vector(["sanctions"], story_tokens("The sanction and the sanctions on Russia."))
    assert "sanction" in vector and "sanctions" not in vector
    assert "the" not in vector
    assert sum(w * w for w in vector.values()) == pytest.approx(1.0, abs=1e-4)
    assert term_vector([], []) == {}


def test_cosine():
    assert cosine({"a": 1.0}, {"a": 2.0}) == pytest.approx(1.0)
    assert cosine({"a": 1.0}, {"b": 1.0}) == 0.0
    assert cosine({}, {"a": 1.0}) == 0.0


def test_shingles():
    assert shingles(["a", "b", "c", "d", "e"], 4) == {"a b c d", "b c d e"}
    assert shingles(["a", "b"], 4) == {"a b"}
    assert shingles([], 4) == set()


def test_entity_overlap_is_the_share_of_the_article_entities_the_story_mentions():
    assert entity_overlap({"russia", "hungary"}, {"russia": 3}) == 0.5
    assert entity_overlap(set(), {"russia": 3}) == 0.0
    assert entity_overlap({"russia"}, {}) == 0.0


def test_article_time_is_published_else_now():
    assert article_time({"published": "2024-06-24T10:00:00Z"}, now=5) == 1719223200.0
    assert article_time({"published": ""}, now=5) == 5.0
    assert article_time({}, now=7) == 7.0


def test_features_of_a_full_article():
    features = article_features(WIRE, now=0)
    assert features.article_id == WIRE["id"]
    assert features.url_key and features.text_key
    assert len(features.bands) == 16 and len(set(features.bands)) == 16
    assert features.entities[0] == ("Russia", "GPE")  # most mentioned first
    assert "e:russia" in features.postings
    assert any(p.startswith("t:") for p in features.postings)


def test_identical_text_under_another_url_has_the_same_text_key_and_bands():
    copy = {**WIRE, "id": "copy", "url": "https://elsewhere.example/x", "title": "Other title"}
    a, b = article_features(WIRE, now=0), article_features(copy, now=0)
    assert a.text_key == b.text_key and a.bands == b.bands
    assert a.url_key != b.url_key


@pytest.mark.parametrize("text", ["", "Breaking", "   ", "!!!"])
def test_an_article_with_no_text_or_one_word_has_features_and_starts_its_own_story(text):
    article = {"id": "tiny", "title": "", "text": text, "published": ""}
    features = article_features(article, now=100)
    assert features.text_key is None and features.bands == ()  # too short to identify anything
    assert features.time == 100
    assert choose_story(features, [candidate_of(WIRE)]).action == "new"


def test_syndicated_copy_with_a_new_headline_and_a_trimmed_paragraph_is_a_near_duplicate():
    decision = choose_story(article_features(SYNDICATED, now=0), [candidate_of(WIRE, other=SYNDICATED)])
    assert (decision.action, decision.story_id, decision.how) == ("join", WIRE["id"], "near_duplicate")


def test_another_outlets_report_of_the_same_event_joins_by_similarity():
    decision = choose_story(article_features(OTHER_OUTLET, now=0), [candidate_of(WIRE, other=OTHER_OUTLET)])
    assert (decision.action, decision.story_id, decision.how) == ("join", WIRE["id"], "same_event")
    assert decision.score >= with_settings().threshold


def test_same_actors_different_event_stays_apart_even_when_close_in_time():
    # The next package, moved to two days after the first: the window is open, the words differ.
    close = {**NEXT_PACKAGE, "published": "2024-06-26T09:00:00Z"}
    decision = choose_story(article_features(close, now=0), [candidate_of(WIRE, other=close)])
    assert decision.action == "new"


def test_a_story_closes_after_the_window_even_for_a_near_copy():
    late = {**SYNDICATED, "published": "2024-07-10T10:00:00Z"}  # 16 days later
    decision = choose_story(article_features(late, now=0), [candidate_of(WIRE, other=late)])
    assert decision.action == "new"


def test_time_decay_lowers_the_same_event_score():
    report = article_features(OTHER_OUTLET, now=0)
    near = candidate_of(WIRE)
    far = StoryCandidate(near.story_id, near.first - 60 * HOUR, near.last - 60 * HOUR, near.centroid,
                         near.entities)
    assert choose_story(report, [far]).score < choose_story(report, [near]).score


def test_unrelated_article_starts_a_new_story_named_after_itself():
    decision = choose_story(article_features(BAKE_SALE, now=0), [candidate_of(WIRE), candidate_of(OTHER_OUTLET)])
    assert (decision.action, decision.story_id) == ("new", BAKE_SALE["id"])


def test_the_best_of_several_candidates_wins():
    other = article_features(OTHER_OUTLET, now=0)
    decision = choose_story(other, [candidate_of(BAKE_SALE), candidate_of(NEXT_PACKAGE), candidate_of(WIRE)])
    assert decision.story_id == WIRE["id"]


def teaser(number, title, text):
    return {"id": f"teaser{number}", "title": title, "text": text, "published": "2023-11-14T22:13:20Z"}


def test_feed_teasers_sharing_a_name_stay_apart_but_the_same_teaser_rewritten_joins():
    halted = teaser(1, "Germany halts Nord Stream 2 certification",
                    "Berlin said on Tuesday it had halted the certification of the Nord Stream 2 gas pipeline.")
    cut = teaser(2, "Gazprom cuts flows through Nord Stream",
                 "Gazprom cut gas flows through the Nord Stream pipeline to a fifth of capacity.")
    again = teaser(3, "Berlin halts certification of Nord Stream 2",
                   "Germany on Tuesday halted the certification of the Nord Stream 2 gas pipeline, Berlin said.")
    assert choose_story(article_features(cut, now=0), [candidate_of(halted)]).action == "new"
    assert choose_story(article_features(again, now=0), [candidate_of(halted)]).action == "join"
