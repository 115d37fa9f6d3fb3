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
         ("Lavrov", "PERSON"), ("Putin", "PERSON")], aliases)
    by_name = {e["canonical"]: e for e in entities}
    assert by_name["Antony Blinken"] == {"text": "Antony Blinken", "label": "PERSON",
                                         "canonical": "Antony Blinken", "count": 2}
    assert by_name["Sergey Lavrov"]["count"] == 3 and by_name["Sergey Lavrov"]["label"] == "PERSON"
    assert by_name["Putin"]["count"] == 1  # no full name in this article: stays as written


def test_aliases_give_one_name_and_fix_labels(aliases):
    entities = canonical_entities(
        [("U.S.", "GPE"), ("the United States", "GPE"), ("America", "GPE"), ("US", "ORG"), ("Nato", "GPE")],
        aliases)
    assert [(e["canonical"], e["label"], e["count"]) for e in entities] == [
        ("United States", "GPE", 4), ("NATO", "ORG", 1)]


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
