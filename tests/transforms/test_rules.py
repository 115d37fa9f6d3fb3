"""The rule language of transforms/rules.py, in plain Python: no Beam, no spaCy."""

import pytest

from transforms.rules import RuleError, compile_rules, score_for, validate_rule_id
from transforms.text import analyze, term_tokens
from transforms.topics import load_taxonomy


def ids(hits):
    return [hit.rule_id for hit in hits]


def match_one(spec, text, **kwargs):
    """The hit of a single rule ``r`` on ``text``, or None."""
    hits = compile_rules({"r": spec}, kind=kwargs.pop("kind", "rule")).match(text, **kwargs)
    assert len(hits) <= 1
    return hits[0] if hits else None


# --- any / all / within / none ------------------------------------------------------------------


def test_any_matches_when_one_term_occurs():
    spec = {"any": ["embargo", "asset freeze"]}
    assert match_one(spec, "Brussels approved an asset freeze on Tuesday.") is not None
    assert match_one(spec, "The EU announced an embargo on Russian coal.") is not None
    assert match_one(spec, "The EU announced a ban on Russian coal.") is None


def test_terms_match_whole_words_only():
    spec = {"any": ["hack", "sanction"]}
    assert match_one(spec, "The hackathon drew 300 students.") is None
    assert match_one(spec, "New sanctions were announced.") is None  # plurals are separate terms
    assert match_one(spec, "They did not hack the server.") is not None


def test_multi_word_terms_need_their_words_in_order():
    spec = {"any": ["asset freeze"]}
    assert match_one(spec, "The asset freeze took effect.") is not None
    assert match_one(spec, "The freeze on every asset took effect.") is None
    assert match_one(spec, "The asset was sold before the freeze.") is None


def test_all_without_within_needs_every_group_anywhere_in_the_article():
    spec = {"all": [["arctic"], ["troops", "warships"]]}
    assert match_one(spec, "The Arctic is warming. Elsewhere, troops massed on the border.") is not None
    assert match_one(spec, "The Arctic is warming fast.") is None
    assert match_one(spec, "Troops massed on the border.") is None


def test_all_within_sentence_needs_every_group_in_one_sentence():
    spec = {"all": [["arctic"], ["troops", "warships"]], "within": "sentence"}
    split = "Russia reopened a base in the Arctic. Separately, it sent troops to the border."
    together = "Russia sent troops to a base in the Arctic. Separately, it reopened a school."
    assert match_one(spec, split) is None
    hit = match_one(spec, together)
    assert hit is not None
    assert hit.evidence == ["Russia sent troops to a base in the Arctic."]
    assert hit.terms == ["troops", "arctic"]


def test_within_sentence_does_not_break_after_abbreviations():
    spec = {"all": [["arctic"], ["troops"]], "within": "sentence"}
    assert match_one(spec, "The U.S. Navy and Mr. Austin's troops met in the Arctic.") is not None
    assert match_one(spec, "Troops led by Gen. Milley arrived in the Arctic on Monday.") is not None


def test_within_n_tokens_counts_the_window():
    spec = {"all": [["arctic"], ["troops"]], "within": 5}
    assert match_one(spec, "Troops in the Arctic.") is not None  # 4 tokens
    assert match_one(spec, "Troops were sent to Arctic.") is not None  # exactly 5 tokens
    assert match_one(spec, "Troops were sent to the Arctic.") is None  # 6 tokens
    assert match_one(spec, "Troops were sent far away, not to the cold Arctic.") is None


def test_within_n_tokens_ignores_sentence_boundaries():
    spec = {"all": [["arctic"], ["troops"]], "within": 4}
    assert match_one(spec, "It is the Arctic. Troops arrived.") is not None


def test_within_n_tokens_keeps_only_occurrences_inside_a_window_as_evidence():
    spec = {"all": [["arctic"], ["troops"]], "within": 3}
    text = "Troops paraded in Moscow. Years later, the Arctic saw troops arrive."
    hit = match_one(spec, text)
    assert hit is not None
    assert hit.evidence == ["Years later, the Arctic saw troops arrive."]
    assert hit.score == pytest.approx(1 - 0.6**2)  # the first "troops" is outside every window


def test_none_vetoes_the_whole_article():
    spec = {"any": ["sanctions", "sanctioned"], "none": ["league", "referee"]}
    text = "The club was sanctioned for crowd trouble. The league said the fine was final."
    assert match_one(spec, text) is None
    assert match_one(spec, "The club was sanctioned for crowd trouble.") is not None
    # the veto works in any sentence, also before the matching term
    assert match_one(spec, "The referee left early. Later the club was sanctioned.") is None


# --- entities, topics, sources --------------------------------------------------------------------

WHELAN = {"text": "Paul Whelan", "label": "PERSON", "canonical": "Paul Whelan"}
MOSCOW = {"text": "Moscow", "label": "GPE", "canonical": "Moscow"}


def test_entities_condition_with_terms():
    spec = {"any": ["detained", "detention"], "entities": {"PERSON": ["paul whelan"]}}
    text = "The detention of the former Marine was extended."
    assert match_one(spec, text, entities=[WHELAN, MOSCOW]) is not None
    assert match_one(spec, text, entities=[MOSCOW]) is None  # no PERSON entity at all
    other = {"text": "Evan Gershkovich", "label": "PERSON", "canonical": "Evan Gershkovich"}
    assert match_one(spec, text, entities=[other]) is None  # a PERSON, but not the name
    assert match_one(spec, "He was released.", entities=[WHELAN]) is None  # the terms still count


def test_entity_names_match_case_insensitively_both_ways():
    spec = {"entities": {"GPE": ["MOSCOW"]}}
    assert match_one(spec, "No words needed.", entities=[MOSCOW]) is not None
    lower = {"text": "moscow", "label": "GPE", "canonical": "moscow"}
    assert match_one({"entities": {"GPE": ["Moscow"]}}, "x", entities=[lower]) is not None


def test_entity_label_must_match():
    spec = {"entities": {"GPE": ["Paul Whelan"]}}
    assert match_one(spec, "Paul Whelan spoke.", entities=[WHELAN]) is None  # WHELAN is a PERSON


def test_every_entity_label_is_required():
    spec = {"entities": {"PERSON": ["Paul Whelan"], "GPE": ["Moscow"]}}
    assert match_one(spec, "x", entities=[WHELAN, MOSCOW]) is not None
    assert match_one(spec, "x", entities=[WHELAN]) is None
    assert match_one(spec, "x", entities=[MOSCOW]) is None


def test_entity_only_rule_is_found_through_the_entity_index():
    matcher = compile_rules({
        "whelan": {"entities": {"PERSON": ["Paul Whelan", "Whelan"]}},
        "moscow": {"entities": {"GPE": ["Moscow"]}},
        "words": {"any": ["espionage"]},
    })
    assert ids(matcher.match("An article with none of the rule words.", entities=[WHELAN])) == ["whelan"]
    assert ids(matcher.match("Espionage!", entities=[MOSCOW])) == ["moscow", "words"]
    assert matcher.match("Nothing here.") == []
    hit = matcher.match("Text.", entities=[{**WHELAN, "count": 2}])[0]
    assert hit.score == score_for(2) and hit.terms == [] and hit.evidence == []  # scored by mentions


def test_subscription_topics_condition():
    spec = {"topics": ["sanctions", "Detention"], "any": ["gazprom"]}
    text = "Gazprom shares fell."
    assert match_one(spec, text, kind="subscription", topics=["sanctions"]) is not None
    assert match_one(spec, text, kind="subscription", topics=["DETENTION"]) is not None
    assert match_one(spec, text, kind="subscription", topics=["diplomacy"]) is None
    assert match_one(spec, text, kind="subscription") is None
    assert match_one(spec, "Rosneft shares fell.", kind="subscription", topics=["sanctions"]) is None


def test_topic_only_subscription_is_found_through_the_topic_index():
    matcher = compile_rules({
        "cyber-desk": {"topics": ["cyberattack"]},
        "arctic-desk": {"topics": ["arctic_militarization"]},
    }, kind="subscription")
    assert ids(matcher.match("Any text at all.", topics=["cyberattack", "sanctions"])) == ["cyber-desk"]
    assert matcher.match("Any text at all.", topics=["sanctions"]) == []
    assert matcher.match("Any text at all.") == []


def test_subscription_sources_condition():
    spec = {"any": ["sanctions"], "sources": ["Reuters", "tass"]}
    text = "New sanctions were announced."
    assert match_one(spec, text, kind="subscription", source="reuters") is not None
    assert match_one(spec, text, kind="subscription", source="TASS") is not None
    assert match_one(spec, text, kind="subscription", source="bbc") is None
    assert match_one(spec, text, kind="subscription") is None


def test_topics_and_sources_together():
    spec = {"topics": ["sanctions"], "sources": ["reuters"]}
    kwargs = {"kind": "subscription", "topics": ["sanctions"]}
    assert match_one(spec, "x", source="reuters", **kwargs) is not None
    assert match_one(spec, "x", source="tass", **kwargs) is None


# --- min_hits, min_score, what a hit carries ---------------------------------------------------


def test_min_hits_counts_term_occurrences():
    spec = {"any": ["ambassador", "envoy"], "min_hits": 3}
    assert match_one(spec, "The ambassador met the envoy.") is None
    assert match_one(spec, "The ambassador met the envoy and another ambassador.") is not None
    assert match_one(spec, "Ambassador, ambassador, ambassador.") is not None


def test_min_hits_on_a_rule_without_terms_counts_entity_mentions():
    spec = {"entities": {"GPE": ["Moscow"]}, "min_hits": 3}
    assert match_one(spec, "x", entities=[{**MOSCOW, "count": 2}]) is None
    hit = match_one(spec, "x", entities=[{**MOSCOW, "count": 3}])
    assert hit is not None and hit.score == score_for(3)


def test_min_score_on_a_rule_without_terms_scores_entity_mentions():
    spec = {"topics": ["sanctions"], "entities": {"GPE": ["Moscow"]}, "min_score": 0.6}
    kwargs = {"kind": "subscription", "topics": ["sanctions"]}
    assert match_one(spec, "x", entities=[MOSCOW], **kwargs) is None  # one mention scores 0.4
    assert match_one(spec, "x", entities=[{**MOSCOW, "count": 2}], **kwargs) is not None


@pytest.mark.parametrize("field", ["min_hits", "min_score"])
def test_min_hits_and_min_score_are_refused_on_a_rule_of_topics_only(field):
    assert_rule_error({"t": {"topics": ["sanctions"], field: 1}}, "'t'", f"'{field}'", kind="subscription")


def test_min_score_filters_weak_hits():
    spec = {"any": ["hackers"], "min_score": 0.6}
    assert match_one(spec, "Hackers struck.") is None  # one occurrence scores 0.4
    hit = match_one(spec, "Hackers struck. The hackers left a note.")
    assert hit is not None and hit.score == pytest.approx(0.64)


def test_score_grows_with_occurrences_and_stays_below_one():
    scores = [match_one({"any": ["envoy"]}, " ".join(["The envoy spoke."] * n)).score for n in (1, 2, 3, 8)]
    assert scores == sorted(scores) and len(set(scores)) == 4
    assert 0 < scores[0] and scores[-1] < 1


def test_hit_carries_score_terms_in_rule_spelling_and_evidence():
    spec = {"any": ["Cyber-Attack", "U.S."], "description": "ignored by the matcher"}
    text = ("Officials said the cyber attack began on Friday. Nobody was hurt.\n"
            "The u.s Treasury confirmed it. The CYBER ATTACK was contained.")
    hit = match_one(spec, text)
    assert hit.rule_id == "r"
    assert hit.terms == ["Cyber-Attack", "U.S."]
    assert hit.evidence == [
        "Officials said the cyber attack began on Friday.",
        "The u.s Treasury confirmed it.",
        "The CYBER ATTACK was contained.",
    ]
    assert hit.score == pytest.approx(1 - 0.6**3)
    assert hit.to_dict() == {"id": "r", "score": hit.score, "terms": hit.terms, "evidence": hit.evidence}


def test_evidence_is_capped_at_three_sentences():
    text = " ".join(f"Envoy number {i} arrived." for i in range(6))
    hit = match_one({"any": ["envoy"]}, text)
    assert hit.evidence == [f"Envoy number {i} arrived." for i in range(3)]


def test_matching_ignores_punctuation_and_case():
    assert term_tokens("U.S.") == term_tokens("u.s") == ("u", "s")
    assert term_tokens("cyber-attack") == term_tokens("Cyber Attack")
    assert match_one({"any": ["U.S."]}, "Talks with the u.s delegation resumed.") is not None
    assert match_one({"any": ["u.s"]}, "Talks with the U.S. delegation resumed.") is not None
    assert match_one({"any": ["cyber-attack"]}, "A cyber attack hit the port.") is not None
    assert match_one({"any": ["cyber attack"]}, "A Cyber-Attack hit the port.") is not None
    assert match_one({"any": ["cyber attack"]}, "A cyberattack hit the port.") is None  # one word is another term


def test_sentences_do_not_break_after_initials_or_titles():
    text = "Mr. Blinken met U.S. Ambassador John Sullivan in Moscow. Then he flew to Reykjavik."
    assert analyze(text).sentence_texts() == [
        "Mr. Blinken met U.S. Ambassador John Sullivan in Moscow.",
        "Then he flew to Reykjavik.",
    ]
    assert analyze("Talks with Mr. Lavrov and the U.S. team. Talks failed!").sentence_texts() == [
        "Talks with Mr. Lavrov and the U.S. team.",
        "Talks failed!",
    ]


def test_sentences_break_at_line_breaks_and_before_quotes():
    assert analyze("Title here\nBody text. “Quoted,” he said.").sentence_texts() == [
        "Title here", "Body text.", "“Quoted,” he said."]


# --- 10,000 subscriptions -------------------------------------------------------------------------


def test_ten_thousand_subscriptions_match_correctly():
    specs = {f"sub-{i}": {"any": [f"keyword{i}"]} for i in range(10_000)}
    specs["sub-sentence"] = {"all": [["keyword1234"], ["pipeline"]], "within": "sentence"}
    specs["sub-veto"] = {"any": ["keyword1234"], "none": ["football"]}
    specs["sub-topic"] = {"topics": ["sanctions"]}
    matcher = compile_rules(specs, kind="subscription", known_topics=["sanctions"])
    assert len(matcher) == 10_003
    assert ids(matcher.match("Only keyword1234 occurs here, near the pipeline.")) == [
        "sub-1234", "sub-sentence", "sub-veto"]
    assert ids(matcher.match("keyword9999 and keyword0 and football")) == ["sub-0", "sub-9999"]
    assert ids(matcher.match("Football: keyword1234 near a pipeline.")) == ["sub-1234", "sub-sentence"]
    assert ids(matcher.match("keyword1234x is not keyword1234's neighbour", topics=["sanctions"])) == [
        "sub-1234", "sub-veto", "sub-topic"]
    assert matcher.match("No subscription word at all.") == []


# --- validation -----------------------------------------------------------------------------------


def assert_rule_error(specs, *fragments, **kwargs):
    with pytest.raises(RuleError) as raised:
        compile_rules(specs, **kwargs)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"any": ["x"], "anyy": ["y"]}, "'anyy'"),
        ({"any": []}, "'any'"),
        ({"any": "  "}, "'any'"),
        ({"any": ["sanctions", 7]}, "'any'"),
        ({"any": ["sanctions", "--"]}, "'any'"),
        ({"any": ["sanctions", None]}, "'any'"),
        ({"any": {"sanctions": 1}}, "'any'"),
        ({"all": []}, "'all'"),
        ({"all": "arctic"}, "'all'"),
        ({"all": [["arctic"], []]}, "'all[1]'"),
        ({"all": [["arctic"], [3]]}, "'all[1]'"),
        ({"any": ["x"], "none": []}, "'none'"),
        ({"any": ["x"], "within": "sentence"}, "'within'"),
        ({"all": [["a"], ["b"]], "within": 0}, "'within'"),
        ({"all": [["a"], ["b"]], "within": -3}, "'within'"),
        ({"all": [["a"], ["b"]], "within": "paragraph"}, "'within'"),
        ({"all": [["a"], ["b"]], "within": True}, "'within'"),
        ({"all": [["a"], ["b"]], "within": 2.5}, "'within'"),
        ({"entities": {"PERSONS": ["Paul Whelan"]}}, "'entities'"),
        ({"entities": {"person": ["Paul Whelan"]}}, "'entities'"),
        ({"entities": {"PERSON": []}}, "'entities'"),
        ({"entities": {"PERSON": ["  "]}}, "'entities'"),
        ({"entities": ["PERSON"]}, "'entities'"),
        ({"entities": {}}, "'entities'"),
        ({"any": ["x"], "min_hits": 0}, "'min_hits'"),
        ({"any": ["x"], "min_hits": 1.5}, "'min_hits'"),
        ({"any": ["x"], "min_hits": "2"}, "'min_hits'"),
        ({"any": ["x"], "min_hits": True}, "'min_hits'"),
        ({"any": ["x"], "min_score": 1.5}, "'min_score'"),
        ({"any": ["x"], "min_score": -0.1}, "'min_score'"),
        ({"any": ["x"], "min_score": "high"}, "'min_score'"),
        ({"any": ["x"], "min_score": False}, "'min_score'"),
        ({"any": ["x"], "sources": []}, "'sources'"),
        ({"any": ["x"], "sources": [1]}, "'sources'"),
        ({"topics": []}, "'topics'"),
    ],
)
def test_bad_fields_raise_rule_error_naming_rule_and_field(spec, field):
    assert_rule_error({"good": {"any": ["fine"]}, "bad-rule": spec}, "'bad-rule'", field, kind="subscription")


@pytest.mark.parametrize("spec", [{}, {"description": "only words"}, {"none": ["football"]},
                                  {"sources": ["reuters"]}, {"min_hits": 2}])
def test_empty_rule_is_an_error(spec):
    assert_rule_error({"empty": spec}, "'empty'", "empty rule", kind="subscription")


def test_rule_that_is_not_a_mapping_is_an_error():
    assert_rule_error({"listy": ["sanctions"]}, "'listy'", "mapping")


def test_rules_that_are_not_a_mapping_is_an_error():
    with pytest.raises(RuleError):
        compile_rules([{"any": ["x"]}])


@pytest.mark.parametrize("name", ["a b", "../x", "X", "Sanctions", "", "-x", ".hidden", "a/b", "a:b", "x" * 65, 7])
def test_unsafe_rule_names_are_errors(name):
    message = assert_rule_error({name: {"any": ["x"]}}, repr(name), kind="subscription")
    assert message.startswith("subscription name")


def test_safe_rule_names_are_accepted():
    for name in ("a", "sanctions", "cyber-desk.eu", "x" * 64, "0day", "arms_control"):
        assert validate_rule_id(name) == name


def test_rule_name_with_a_trailing_newline_is_unsafe():
    with pytest.raises(RuleError):
        validate_rule_id("sanctions\n")


def test_unknown_topic_is_an_error_with_known_topics():
    specs = {"ok": {"topics": ["sanctions"]}, "bad": {"topics": ["sanctions", "weather"]}}
    assert_rule_error(specs, "'bad'", "'topics'", "'weather'", kind="subscription",
                      known_topics=["sanctions", "diplomacy"])
    assert len(compile_rules(specs, kind="subscription")) == 2  # without known_topics any name goes


def test_a_topic_cannot_use_topics():
    assert_rule_error({"derived": {"any": ["x"], "topics": ["sanctions"]}}, "'derived'", "'topics'", kind="topic")
    assert len(compile_rules({"derived": {"any": ["x"], "topics": ["sanctions"]}}, kind="subscription")) == 1


# --- load_taxonomy on malformed files -------------------------------------------------------------


def test_load_taxonomy_rejects_a_file_that_is_not_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("topics:\n  sanctions: {any: [sanctions\n", encoding="utf-8")
    with pytest.raises(RuleError, match="not valid YAML") as raised:
        load_taxonomy(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("content", ["rules:\n  sanctions: {any: [sanctions]}\n", "topics: []\n",
                                     "topics: {}\n", "- just a list\n", ""])
def test_load_taxonomy_needs_a_topics_mapping(tmp_path, content):
    path = tmp_path / "no_topics.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RuleError, match="'topics:'") as raised:
        load_taxonomy(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ("{any: [sanctions], nonee: [league]}", "'nonee'"),
        ("{all: [[arctic], [troops]], within: paragraph}", "'within'"),
        ("{any: [sanctions], topics: [diplomacy]}", "'topics'"),
        ("{entities: {COUNTRY: [Russia]}}", "'entities'"),
        ("{any: [sanctions], min_hits: 0}", "'min_hits'"),
    ],
)
def test_load_taxonomy_names_file_rule_and_field(tmp_path, rule, field):
    path = tmp_path / "taxonomy.yaml"
    path.write_text(f"topics:\n  diplomacy:\n    any: [envoy]\n  bad_topic: {rule}\n", encoding="utf-8")
    with pytest.raises(RuleError) as raised:
        load_taxonomy(path)
    message = str(raised.value)
    assert str(path) in message and "'bad_topic'" in message and field in message


def test_load_taxonomy_names_a_missing_file(tmp_path):
    path = tmp_path / "missing.yaml"
    with pytest.raises(RuleError, match="cannot read") as raised:
        load_taxonomy(path)
    assert str(path) in str(raised.value)


def test_load_taxonomy_reads_a_good_file(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text("# mine\ntopics:\n  whaling:\n    any: [whaling, whalers]\n", encoding="utf-8")
    taxonomy = load_taxonomy(path)
    assert taxonomy == {"whaling": {"any": ["whaling", "whalers"]}}
    assert ids(compile_rules(taxonomy, kind="topic").match("Whalers returned.")) == ["whaling"]


def test_overlapping_terms_are_one_mention():
    matcher = compile_rules({"energy": {"any": ["nord stream", "nord stream 2"]}})
    [hit] = matcher.match("Work on Nord Stream 2 resumed.")
    assert hit.score == score_for(1) and hit.terms == ["nord stream", "nord stream 2"]
    assert compile_rules({"energy": {"any": ["nord stream", "nord stream 2"], "min_hits": 2}}).match(
        "Work on Nord Stream 2 resumed.") == []


def test_sentences_split_before_non_ascii_capitals_and_after_no():
    assert analyze("They met in Ålesund. Øresund was next.").sentence_texts() == [
        "They met in Ålesund.", "Øresund was next."]
    assert analyze("He said no. Russia refused.").sentence_texts() == ["He said no.", "Russia refused."]


def test_anyof_alternatives_share_fields_and_give_one_hit():
    matcher = compile_rules({"enrichment": {
        "none": ["reactor fuel"],
        "anyof": [{"any": ["warheads"]},
                  {"all": [["uranium enrichment"], ["weapons", "bomb"]], "within": "sentence"}]}})
    [hit] = matcher.match("Iran expanded uranium enrichment. Experts fear a bomb. It has no warheads yet.")
    assert hit.rule_id == "enrichment" and hit.terms == ["warheads"]
    [hit] = matcher.match("Uranium enrichment could yield a bomb, experts say. Talks on warheads stalled.")
    assert set(hit.terms) == {"uranium enrichment", "bomb", "warheads"} and len(hit.evidence) == 2
    assert matcher.match("Uranium enrichment for reactor fuel. No bomb is planned.") == []
    assert matcher.match("Uranium enrichment rose. A bomb threat closed the airport.") == []


def test_an_alternative_with_its_own_none_keeps_the_shared_none():
    matcher = compile_rules({"sanctions": {
        "none": ["referee"],
        "anyof": [{"any": ["embargo"]}, {"any": ["sanctions"], "none": ["pupils"]}]}})
    assert matcher.match("The referee backed sanctions on the club.") == []
    assert matcher.match("The pupils faced sanctions.") == []
    assert ids(matcher.match("New sanctions on oil.")) == ["sanctions"]
    assert matcher.match("The referee spoke of an embargo.") == []


def test_anyof_errors_name_the_alternative():
    with pytest.raises(RuleError, match=r"rule 'x': anyof\[1\]: field 'within'"):
        compile_rules({"x": {"anyof": [{"any": ["a"]}, {"any": ["b"], "within": "page"}]}})
    with pytest.raises(RuleError, match="'anyof': expected a list of rules"):
        compile_rules({"x": {"anyof": "a"}})


# --- terms per language ---------------------------------------------------------------------------


def test_terms_per_language_use_the_articles_language():
    spec = {"terms": {"en": ["sanctions"], "de": ["sanktionen"], "ru": ["санкции", "санкций"]}}
    assert match_one(spec, "The EU imposed sanctions.", language="en").terms == ["sanctions"]
    assert match_one(spec, "Die EU verhängt neue Sanktionen.", language="de").terms == ["sanktionen"]
    assert match_one(spec, "ЕС ввёл новые санкции против России.", language="ru").terms == ["санкции"]
    # each language's own list: the German word in an English article, or the English one in German, is not enough
    assert match_one(spec, "The word Sanktionen is German.", language="en") is None
    assert match_one(spec, "Die Sanctions-Liste wurde verlängert.", language="de") is None


def test_a_language_without_a_list_uses_the_english_one_and_no_language_means_english():
    spec = {"terms": {"en": ["ransomware"], "de": ["erpressungstrojaner"]}}
    assert match_one(spec, "Un ransomware a paralysé l'hôpital.", language="fr").terms == ["ransomware"]
    assert match_one(spec, "Ransomware hit the hospital.") is not None
    assert match_one(spec, "Ransomware hit the hospital.", language="und") is not None
    assert match_one(spec, "Ein Ransomware-Angriff traf die Klinik.", language="de") is None
    german_only = {"terms": {"de": ["sanktionen"]}}
    assert match_one(german_only, "Neue Sanktionen.", language="de") is not None
    assert match_one(german_only, "Neue Sanktionen.", language="en") is None
    assert match_one(german_only, "Neue Sanktionen.", language="fr") is None


def test_plain_lists_count_in_every_language_beside_the_language_terms():
    spec = {"any": ["nord stream"], "terms": {"de": ["gaspipeline"]}}
    assert match_one(spec, "Die Nord Stream wurde beschädigt.", language="de").terms == ["nord stream"]
    assert match_one(spec, "Eine Gaspipeline wurde beschädigt.", language="de").terms == ["gaspipeline"]
    assert match_one(spec, "Le gazoduc Nord Stream a été endommagé.", language="fr") is not None
    assert match_one(spec, "A gaspipeline in a typo.", language="en") is None
    plain = {"any": ["sanctions"], "none": ["football"]}  # no mapping anywhere: as before languages existed
    for language in (None, "en", "de", "xx"):
        assert match_one(plain, "New sanctions.", language=language) is not None
        assert match_one(plain, "New sanctions on a football club.", language=language) is None


def test_all_groups_and_vetoes_per_language():
    spec = {"all": [{"en": ["arrested", "detained"], "de": ["festgenommen", "verhaftet"]},
                    {"en": ["journalist"], "de": ["journalist", "journalistin"]}],
            "within": "sentence",
            "none": {"en": ["tv series"], "de": ["fernsehserie"]}}
    assert match_one(spec, "Die Journalistin wurde in Moskau festgenommen.", language="de") is not None
    assert match_one(spec, "Die Journalistin wurde entlassen. Ein Dieb wurde festgenommen.", language="de") is None
    assert match_one(spec, "In der Fernsehserie wird eine Journalistin verhaftet.", language="de") is None
    assert match_one(spec, "A journalist was arrested in Moscow.", language="en") is not None
    # the German veto is for German articles: a German word in an English article vetoes nothing
    assert match_one(spec, "A journalist was arrested; Fernsehserie fans reacted.", language="en") is not None
    # a group without a list for a language falls back to its English list
    mixed = {"all": [{"en": ["arrested"], "fr": ["arrêté"]}, ["journalist", "journaliste"]], "within": "sentence"}
    assert match_one(mixed, "Le journaliste a été arrêté.", language="fr") is not None
    assert match_one(mixed, "Le journaliste a été arrested.", language="fr") is None


def test_language_variants_of_anyof_alternatives_keep_the_shared_veto_and_give_one_hit():
    matcher = compile_rules({"sanctions": {
        "none": ["fifa"],
        "anyof": [{"terms": {"en": ["embargo"], "de": ["embargo"]}},
                  {"terms": {"en": ["sanctions"], "de": ["sanktionen"]}, "none": {"de": ["schiedsrichter"]}}]}})
    [hit] = matcher.match("Embargo und Sanktionen gegen Iran.", language="de")
    assert hit.rule_id == "sanctions" and set(hit.terms) == {"embargo", "sanktionen"}
    assert matcher.match("Die FIFA verhängt Sanktionen.", language="de") == []
    assert matcher.match("Der Schiedsrichter fordert Sanktionen.", language="de") == []
    assert ids(matcher.match("Der Schiedsrichter fordert ein Embargo.", language="de")) == ["sanctions"]


def test_could_match_decides_language_terms_as_match_does():
    specs = {"de-only": {"terms": {"de": ["sanktionen"]}},
             "both": {"terms": {"en": ["sanctions"], "de": ["sanktionen"]}, "none": {"de": ["fussball"]}},
             "plain": {"any": ["gazprom"]}}
    matcher = compile_rules(specs, kind="subscription")
    texts = ["Neue Sanktionen gegen Gazprom.", "New sanctions on Gazprom.", "Sanktionen im Fussball.",
             "Nothing here.", "Sanctions und Sanktionen."]
    for language in (None, "en", "de", "fr"):
        for text in texts:
            analyzed = analyze(text)
            matched = set(ids(matcher.match(text, language=language)))
            possible = matcher.possible(analyzed, language=language)
            assert possible == matched, (language, text)
            assert matcher.could_match(analyzed, language=language) == bool(matched)


def test_many_language_bound_subscriptions_are_indexed_per_language():
    specs = {f"sub-{i}": {"terms": {"en": [f"word{i}"], "de": [f"wort{i}"]}} for i in range(2_000)}
    matcher = compile_rules(specs, kind="subscription")
    assert ids(matcher.match("word7 and wort8", language="en")) == ["sub-7"]
    assert ids(matcher.match("word7 and wort8", language="de")) == ["sub-8"]
    assert ids(matcher.match("word7 and wort8", language="fr")) == ["sub-7"]
    # a German term found in an English article does not even make its German variant a candidate
    assert matcher._term_candidates(matcher.find_terms(analyze("wort8").tokens), "en") == set()


@pytest.mark.parametrize(("spec", "fragment"), [
    ({"terms": {}}, "'terms'"),
    ({"terms": {"german": ["sanktionen"]}}, "'german' is not a language code"),
    ({"terms": {"DE": ["sanktionen"]}}, "'DE' is not a language code"),
    ({"terms": {"de": []}}, "'terms.de'"),
    ({"terms": {"de": ["--"]}}, "'terms.de'"),
    ({"any": ["x"], "none": {"fr": [3]}}, "'none.fr'"),
    ({"all": [{"de": ["a"]}, {"fr": ["b"]}]}, "no language has terms for every term condition"),
    ({"all": [["a"], {"de": []}]}, "'all[1].de'"),
])
def test_bad_language_terms_are_errors(spec, fragment):
    assert_rule_error({"bad-rule": spec}, "'bad-rule'", fragment, kind="subscription")
