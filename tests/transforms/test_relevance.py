"""The relevance prefilter decides the rules before NER: plain Python, no model."""

from transforms.entities import load_aliases
from transforms.relevance import RelevanceFilter

TAXONOMY = {"sanctions": {"any": ["sanctions"], "none": ["referee"]},
            "arctic": {"all": [["arctic"], ["troops", "navy"]], "within": "sentence"},
            "envoys": {"any": ["envoy", "ambassador"], "min_hits": 2}}


def test_an_article_with_no_rule_term_is_irrelevant():
    relevance = RelevanceFilter(TAXONOMY, {})
    assert not relevance.relevant("Local bakery wins a prize for its sourdough.")
    assert relevance.relevant("The EU agreed new sanctions.")


def test_every_condition_but_entities_is_decided_before_ner():
    relevance = RelevanceFilter(TAXONOMY, {})
    # all groups: one group alone is not enough
    assert not relevance.relevant("Arctic sea ice hit a record low.")
    assert not relevance.relevant("Troops paraded in the capital.")
    # within: both groups, but in different sentences
    assert not relevance.relevant("The Arctic is warming. Troops paraded in the capital.")
    assert relevance.relevant("Troops arrived in the Arctic.")
    # none: a veto anywhere in the article
    assert not relevance.relevant("The referee said the sanctions on the club were fair.")
    # min_hits
    assert not relevance.relevant("The ambassador spoke.")
    assert relevance.relevant("The ambassador and the envoy spoke.")


def test_sources_are_decided_before_ner():
    relevance = RelevanceFilter({}, {"tass": {"any": ["gazprom"], "sources": ["tass"]}})
    assert relevance.relevant("Gazprom results beat forecasts.", "tass")
    assert not relevance.relevant("Gazprom results beat forecasts.", "reuters")


def test_subscription_terms_and_spelled_out_entity_names_count():
    relevance = RelevanceFilter(TAXONOMY, {"gazprom": {"any": ["gazprom"]},
                                           "whelan": {"entities": {"PERSON": ["Paul Whelan"]}}})
    assert relevance.relevant("Gazprom results beat forecasts.")
    assert relevance.relevant("Paul Whelan spoke to his family.")
    assert not relevance.relevant("Whelan's lawyers appealed.")  # no full name: cannot be canonical Paul Whelan


def test_an_entity_condition_needs_every_label_named_and_the_other_conditions():
    relevance = RelevanceFilter({}, {"s": {"entities": {"PERSON": ["Paul Whelan"], "GPE": ["Moscow"]}},
                                     "t": {"any": ["trial"], "entities": {"GPE": ["Minsk"]}}})
    assert not relevance.relevant("Paul Whelan spoke to his family.")
    assert relevance.relevant("Paul Whelan spoke to his family from Moscow.")
    assert not relevance.relevant("Minsk was quiet.")
    assert not relevance.relevant("The trial opened.")
    assert relevance.relevant("The trial opened in Minsk.")


def test_entity_names_bring_their_alias_variants():
    relevance = RelevanceFilter({}, {"us": {"entities": {"GPE": ["United States"]}}}, load_aliases())
    assert relevance.relevant("Officials in the U.S. said nothing.")
    assert relevance.relevant("America said nothing.")
    assert not relevance.relevant("Officials in Canada said nothing.")


def test_a_topics_only_subscription_needs_its_topic_to_be_possible():
    relevance = RelevanceFilter(TAXONOMY, {"s": {"topics": ["sanctions"]}})
    assert not relevance.relevant("A quiet day at the market.")
    assert relevance.relevant("New sanctions were announced.")


def test_with_topics_not_mattering_only_subscriptions_decide():
    relevance = RelevanceFilter(TAXONOMY, {"s": {"topics": ["sanctions"], "any": ["gazprom"]}})
    assert relevance.relevant("New sanctions were announced.")
    assert not relevance.relevant("New sanctions were announced.", topics_matter=False)
    assert relevance.relevant("New sanctions on Gazprom were announced.", topics_matter=False)
    assert not relevance.relevant("Gazprom results beat forecasts.", topics_matter=False)


def test_paused_subscriptions_do_not_make_articles_relevant():
    relevance = RelevanceFilter({}, {"g": {"any": ["gazprom"], "paused": True}})
    assert not relevance.relevant("Gazprom results beat forecasts.")


def test_relevance_topics_and_subscriptions_share_one_analysis(monkeypatch):
    import transforms.relevance
    import transforms.rules
    import transforms.text
    from transforms.relevance import _MarkRelevanceFn
    from transforms.ruleset import RuleSet
    from transforms.subscriptions import _MatchSubscriptionsFn
    from transforms.topics import _TagTopicsFn

    calls = []

    def counted(text):
        calls.append(text)
        return real(text)

    real = transforms.text.analyze
    for module in (transforms.text, transforms.rules, transforms.relevance):
        monkeypatch.setattr(module, "analyze", counted)
    rules = RuleSet(TAXONOMY, {"gazprom": {"topics": ["sanctions"], "any": ["gazprom"]}})
    steps = [_MarkRelevanceFn(rules, None), _TagTopicsFn(rules), _MatchSubscriptionsFn(rules, None)]
    for step in steps:
        step.setup()
    article = {"id": "a", "title": "Gazprom hit", "text": "New sanctions on Gazprom.", "source": ""}
    for step in steps:
        [article] = list(step.process(article))
    assert [a["id"] for a in article["alerts"]] == ["gazprom"] and article["topics"][0]["id"] == "sanctions"
    assert len(calls) == 1 and "analysis" not in article  # analysed once; the output leaves it out
