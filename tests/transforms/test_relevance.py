from transforms.entities import load_aliases
from transforms.relevance import RelevanceFilter

TAXONOMY = {"sanctions": {"any": ["sanctions"]},
            "arctic": {"all": [["arctic"], ["troops", "navy"]], "within": "sentence"}}


def test_an_article_with_no_rule_term_is_irrelevant():
    relevance = RelevanceFilter(TAXONOMY, {})
    assert not relevance.relevant("Local bakery wins a prize for its sourdough.")
    assert relevance.relevant("The EU agreed new sanctions.")
    # A term of the smallest `all` group is enough to need NER: the cheap test may say yes
    # too often, never no.
    assert relevance.relevant("Arctic sea ice hit a record low.")
    assert not relevance.relevant("Troops paraded in the capital.")


def test_subscription_terms_and_spelled_out_entity_names_count():
    relevance = RelevanceFilter(TAXONOMY, {"gazprom": {"any": ["gazprom"]},
                                           "whelan": {"entities": {"PERSON": ["Paul Whelan"]}}})
    assert relevance.relevant("Gazprom results beat forecasts.")
    assert relevance.relevant("Paul Whelan spoke to his family.")
    assert not relevance.relevant("Whelan's lawyers appealed.")  # no full name: cannot be canonical Paul Whelan


def test_entity_names_bring_their_alias_variants():
    relevance = RelevanceFilter({}, {"us": {"entities": {"GPE": ["United States"]}}}, load_aliases())
    assert relevance.relevant("Officials in the U.S. said nothing.")
    assert relevance.relevant("America said nothing.")
    assert not relevance.relevant("Officials in Canada said nothing.")


def test_a_topics_only_subscription_needs_only_the_topic_terms():
    relevance = RelevanceFilter(TAXONOMY, {"s": {"topics": ["sanctions"]}})
    assert not relevance.relevant("A quiet day at the market.")
    assert relevance.relevant("New sanctions were announced.")


def test_paused_subscriptions_do_not_make_articles_relevant():
    relevance = RelevanceFilter({}, {"g": {"any": ["gazprom"], "paused": True}})
    assert not relevance.relevant("Gazprom results beat forecasts.")
