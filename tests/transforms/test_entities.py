import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from connectors.archive import read_archive_file
from tests.conftest import SEED_ARTICLE
from transforms.entities import ExtractEntities, canonical_entities, clean_mention, load_aliases, ner_text
from transforms.normalize import normalize_article


@pytest.fixture(scope="module")
def aliases():
    return load_aliases()


def test_clean_mention_strips_possessive_the_and_quotes():
    assert clean_mention("Blinken’s") == "Blinken"
    assert clean_mention("the Kremlin's") == "Kremlin"
    assert clean_mention("“NATO”") == "NATO"
    assert clean_mention("Reuters'") == "Reuters"
    assert clean_mention("The Hague") == "Hague"


def test_surname_resolves_to_full_name_whatever_the_label(aliases):
    entities = canonical_entities(
        [("Antony Blinken", "PERSON"), ("Blinken's", "GPE"), ("Sergey Lavrov", "PERSON"), ("Lavrov", "ORG"),
         ("Lavrov", "PERSON"), ("Whelan", "PERSON")], aliases)
    by_name = {e["canonical"]: e for e in entities}
    assert by_name["Antony Blinken"] == {"text": "Antony Blinken", "label": "PERSON",
                                         "canonical": "Antony Blinken", "count": 2}
    assert by_name["Sergey Lavrov"]["count"] == 3 and by_name["Sergey Lavrov"]["label"] == "PERSON"
    assert by_name["Whelan"]["count"] == 1  # no full name in this article: stays as written


def test_aliases_give_one_name_and_fix_labels(aliases):
    entities = canonical_entities(
        [("U.S.", "GPE"), ("the United States", "GPE"), ("America", "GPE"), ("US", "ORG"), ("Nato", "GPE")],
        aliases)
    assert [(e["canonical"], e["label"], e["count"]) for e in entities] == [
        ("United States", "GPE", 4), ("NATO", "ORG", 1)]


def test_a_place_that_ends_a_name_stays_a_place(aliases):
    entities = canonical_entities(
        [("Denzel Washington", "PERSON"), ("Washington", "GPE"), ("WASHINGTON", "GPE"),
         ("Space Norway", "PERSON"), ("Norway", "GPE"), ("Norway's", "GPE")], aliases)
    found = {(e["canonical"], e["label"]): e["count"] for e in entities}
    assert found == {("Denzel Washington", "PERSON"): 1, ("Washington", "GPE"): 2,
                     ("Space Norway", "PERSON"): 1, ("Norway", "GPE"): 2}


def test_a_lone_word_the_model_calls_a_person_is_the_person_even_if_it_names_a_place(aliases):
    # "Jordan" is a country in the gazetteer and a surname: the label decides.
    entities = canonical_entities(
        [("Jim Jordan", "PERSON"), ("Jordan", "PERSON"), ("Jordan", "GPE"), ("Washington", "PERSON"),
         ("Denzel Washington", "PERSON")], aliases)
    found = {(e["canonical"], e["label"]): e["count"] for e in entities}
    assert found == {("Jim Jordan", "PERSON"): 2, ("Jordan", "GPE"): 1, ("Denzel Washington", "PERSON"): 2}


def test_a_word_the_article_uses_as_a_place_is_not_swallowed_by_a_surname():
    # Not in any table: two place mentions and no person mention of the lone word keep it a place;
    # one stray place label (a possessive, say) does not.
    jackson = canonical_entities([("Michael Jackson", "PERSON"), ("Jackson", "GPE"), ("Jackson", "GPE")])
    assert [(e["canonical"], e["label"], e["count"]) for e in jackson] == [
        ("Jackson", "GPE", 2), ("Michael Jackson", "PERSON", 1)]
    one = canonical_entities([("Michael Jackson", "PERSON"), ("Jackson's", "GPE")])
    assert [(e["canonical"], e["label"], e["count"]) for e in one] == [("Michael Jackson", "PERSON", 2)]
    # The seed article's pattern: "Blinken" tagged GPE three times and PERSON once is the person.
    mixed = canonical_entities([("Antony Blinken", "PERSON")] + [("Blinken", "GPE")] * 3 + [("Blinken", "PERSON")])
    assert [(e["canonical"], e["label"], e["count"]) for e in mixed] == [("Antony Blinken", "PERSON", 5)]


def test_known_places_and_organisations_are_never_surnames(aliases):
    entities = canonical_entities([("Anna Moscow", "PERSON"), ("Moscow", "ORG"), ("Ivan Lukoil", "PERSON"),
                                   ("Lukoil", "GPE")], aliases)
    found = {(e["canonical"], e["label"]) for e in entities}
    assert ("Moscow", "GPE") in found and ("Lukoil", "ORG") in found


def test_gazetteer_fixes_labels_but_not_persons_and_renames_nothing(aliases):
    entities = canonical_entities([("Reykjavik", "ORG"), ("Croatia", "ORG"), ("Chad", "PERSON"),
                                   ("Kyiv", "PERSON")], aliases)
    assert [(e["canonical"], e["label"]) for e in entities] == [
        ("Reykjavik", "GPE"), ("Croatia", "GPE"), ("Chad", "PERSON"), ("Kyiv", "GPE")]  # Kyiv: alias table


def test_alias_table_variants(aliases):
    cases = {
        ("Britain", "GPE"): ("United Kingdom", "GPE"),
        ("the Netherlands", "GPE"): ("Netherlands", "GPE"),
        ("Holland", "GPE"): ("Netherlands", "GPE"),
        ("the Ukraine", "GPE"): ("Ukraine", "GPE"),
        ("Kiev", "GPE"): ("Kyiv", "GPE"),
        ("Moscow", "ORG"): ("Moscow", "GPE"),
        ("G7", "GPE"): ("Group of Seven", "ORG"),
        ("the Group of Seven", "ORG"): ("Group of Seven", "ORG"),
        ("OFAC", "ORG"): ("Office of Foreign Assets Control", "ORG"),
        ("CTBT", "ORG"): ("Comprehensive Nuclear-Test-Ban Treaty", "LAW"),
        ("the Comprehensive Nuclear-Test-Ban Treaty", "FAC"): ("Comprehensive Nuclear-Test-Ban Treaty", "LAW"),
        ("New START", "ORG"): ("New START", "LAW"),
        ("Druzhba", "PERSON"): ("Druzhba pipeline", "FAC"),
        ("Nord Stream", "ORG"): ("Nord Stream", "FAC"),
        ("N.A.T.O.", "ORG"): ("NATO", "ORG"),
        ("North Atlantic Treaty Organisation", "ORG"): ("NATO", "ORG"),
        ("the Russian Federation's", "GPE"): ("Russia", "GPE"),
        ("Türkiye", "GPE"): ("Turkey", "GPE"),
    }
    for (text, label), expected in cases.items():
        [entity] = canonical_entities([(text, label)], aliases)
        assert (entity["canonical"], entity["label"]) == expected, text


def test_load_aliases_merges_the_gazetteer_under_the_alias_table(tmp_path):
    from transforms.entities import Alias

    table = tmp_path / "aliases.yaml"
    table.write_text("Oslo City: {label: ORG, aliases: [Oslo]}\nTrondheim: {aliases: [Nidaros]}\n",
                     encoding="utf-8")
    places = tmp_path / "places.yaml"
    places.write_text("GPE: [Oslo, Bergen, Trondheim]\nLOC: [Barents Sea]\n", encoding="utf-8")
    loaded = load_aliases(table, places=places, actors=None)
    assert loaded["oslo"] == Alias("Oslo City", "ORG")  # the alias table wins
    assert loaded["bergen"] == Alias(None, "GPE", hint=True)
    assert loaded["barents sea"] == Alias(None, "LOC", hint=True)
    assert loaded["trondheim"] == Alias("Trondheim", "GPE", hint=True)  # no label here: the gazetteer's
    assert loaded["nidaros"] == Alias("Trondheim", None)
    assert "bergen" not in load_aliases(table, places=None, actors=None)
    places.write_text("GPE: Oslo\n", encoding="utf-8")
    with pytest.raises(ValueError, match="list of names"):
        load_aliases(table, places=places)


def test_plain_pairs_still_work_as_an_alias_table():
    entities = canonical_entities([("U.S.", "ORG")], {"u.s.": ("United States", "GPE")})
    assert [(e["canonical"], e["label"]) for e in entities] == [("United States", "GPE")]


def test_numbers_and_dates_are_dropped_and_case_variants_merge():
    entities = canonical_entities([("Tuesday", "DATE"), ("two", "CARDINAL"), ("WASHINGTON", "GPE"),
                                   ("Washington", "GPE")])
    assert entities == [{"text": "WASHINGTON", "label": "GPE", "canonical": "Washington", "count": 2}]


def test_seed_article_entities_with_the_real_model(nlp, aliases):
    [(raw, _)] = list(read_archive_file(str(SEED_ARTICLE)))
    doc = nlp(ner_text(normalize_article(raw)))
    entities = canonical_entities([(e.text, e.label_) for e in doc.ents], aliases)
    found = {(e["canonical"], e["label"]) for e in entities}
    expected = {("Antony Blinken", "PERSON"), ("Sergey Lavrov", "PERSON"), ("Paul Whelan", "PERSON"),
                ("Iceland", "GPE"), ("Moscow", "GPE"), ("Arctic Council", "ORG"), ("NATO", "ORG"),
                ("SolarWinds", "ORG")}
    assert expected <= found
    assert any(name == "Nord Stream 2" for name, _ in found)
    # "Blinken's" (tagged GPE by the model) and "Lavrov" (tagged ORG) count as the full names.
    assert not any(name in ("Blinken", "Lavrov") for name, _ in found)
    counts = {e["canonical"]: e["count"] for e in entities}
    assert counts["Antony Blinken"] >= 5 and counts["Sergey Lavrov"] >= 5


def test_extract_entities_in_a_pipeline_isolates_an_article_that_breaks():
    articles = [{"id": "a", "title": "One", "text": "x", "origin": "a.txt"},
                {"id": "b", "text": "no title: ner_text fails", "origin": "b.txt"},
                {"id": "c", "title": "Three", "text": "y", "origin": "c.txt"}]
    with TestPipeline(runner=FnApiRunner()) as p:
        out = p | beam.Create(articles) | ExtractEntities(model="blank:en")
        assert_that(out.articles | beam.Map(lambda a: (a["id"], a["entities"])),
                    equal_to([("a", []), ("c", [])]), label="articles")
        assert_that(out.failed | beam.Map(lambda f: (f["stage"], f["article_id"], f["origin"])),
                    equal_to([("entities", "b", "b.txt")]), label="failed")


def test_unknown_model_is_a_clear_error():
    from transforms.entities import load_ner_model

    with pytest.raises(ValueError, match="not installed"):
        load_ner_model("en_core_web_nonexistent")
