"""transforms/evaluation.py: the metric arithmetic on hand-made inputs, corpus loading, and one
run of the real tagging functions over the labelled corpus in tests/fixtures/eval/."""

import json
from collections import Counter

import pytest

from tests.conftest import FIXTURES
from transforms.evaluation import (
    EntityScore,
    TopicScore,
    evaluate,
    format_report,
    load_corpus,
    parse_article,
)

CORPUS = FIXTURES / "eval" / "corpus.jsonl"


def article(article_id, topics=(), entities=(), title="", text="Some text."):
    return {"id": article_id, "title": title or f"Title {article_id}", "text": text, "topics": list(topics),
            "entities": [{"name": name, "label": label} for name, label in entities]}


def tagged(article_id, topics=(), entities=()):
    """A tagged article as tag_topics and canonical_entities make it."""
    return {"id": article_id,
            "topics": [{"id": t, "score": 0.4, "terms": [f"{t}-term"], "evidence": [f"Evidence for {t}."]}
                       for t in topics],
            "entities": [{"text": name, "label": label, "canonical": name, "count": 1} for name, label in entities]}


def write_lines(tmp_path, *lines):
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- precision, recall, F1 ----------------------------------------------------------------------


def test_precision_recall_f1_from_counts():
    score = TopicScore("sanctions", tp=3, fp=1, fn=2)
    assert score.support == 5
    assert score.precision == pytest.approx(0.75)
    assert score.recall == pytest.approx(0.6)
    assert score.f1 == pytest.approx(2 * 0.75 * 0.6 / (0.75 + 0.6))  # 2/3


def test_perfect_and_zero_scores():
    assert (TopicScore("t", tp=4).precision, TopicScore("t", tp=4).recall, TopicScore("t", tp=4).f1) == (1, 1, 1)
    wrong = TopicScore("t", tp=0, fp=2, fn=3)
    assert (wrong.precision, wrong.recall, wrong.f1) == (0, 0, 0)


def test_zero_division_gives_none_not_an_error():
    never_found = TopicScore("t", tp=0, fp=0, fn=2)  # expected twice, never found
    assert never_found.precision is None and never_found.recall == 0 and never_found.f1 == 0
    never_expected = TopicScore("t", tp=0, fp=3, fn=0)  # found three times, never expected
    assert never_expected.precision == 0 and never_expected.recall is None and never_expected.f1 == 0
    silent = TopicScore("t")  # neither expected nor found: nothing to measure
    assert (silent.precision, silent.recall, silent.f1, silent.support) == (None, None, None, 0)


def test_entity_recall_and_its_zero_division():
    assert EntityScore(expected=4, found=3, found_any_label=4).recall == pytest.approx(0.75)
    assert EntityScore(expected=4, found=3, found_any_label=4).recall_any_label == 1
    assert EntityScore().recall is None and EntityScore().recall_any_label is None


# --- evaluate -----------------------------------------------------------------------------------


def test_evaluate_counts_true_false_positives_and_misses():
    corpus = [article("a", ["sanctions", "diplomacy"]), article("b", ["sanctions"]), article("c", [])]
    output = [tagged("a", ["sanctions"]), tagged("b", ["sanctions", "cyberattack"]), tagged("c", ["diplomacy"])]
    report = evaluate(corpus, output, topics=["sanctions", "diplomacy", "cyberattack", "detention"])
    assert [t.topic for t in report.topics] == ["sanctions", "diplomacy", "cyberattack", "detention"]
    assert report.topic("sanctions") == TopicScore("sanctions", tp=2, fp=0, fn=0)
    assert report.topic("diplomacy") == TopicScore("diplomacy", tp=0, fp=1, fn=1)
    assert report.topic("cyberattack") == TopicScore("cyberattack", tp=0, fp=1, fn=0)
    assert report.topic("detention") == TopicScore("detention")
    # Macro F1 averages the three topics with a defined F1: (1 + 0 + 0) / 3.
    assert report.macro_f1 == pytest.approx(1 / 3)
    assert [(m.topic, m.article_id) for m in report.misses] == [("diplomacy", "a")]
    assert [(h.topic, h.article_id, h.terms, h.evidence) for h in report.false_hits] == [
        ("diplomacy", "c", ("diplomacy-term",), ("Evidence for diplomacy.",)),
        ("cyberattack", "b", ("cyberattack-term",), ("Evidence for cyberattack.",))]
    assert report.articles == 3 and report.untagged == []


def test_without_a_topic_list_the_rows_are_the_topics_seen():
    report = evaluate([article("a", ["sanctions"])], [tagged("a", ["cyberattack"])])
    assert [t.topic for t in report.topics] == ["cyberattack", "sanctions"]
    assert report.macro_f1 == 0


def test_macro_f1_is_none_when_no_topic_is_expected_or_found():
    report = evaluate([article("a")], [tagged("a")], topics=["sanctions"])
    assert report.macro_f1 is None
    assert "n/a" in format_report(report)


def test_plain_topic_ids_count_as_hits():
    report = evaluate([article("a", ["sanctions"])], [{"id": "a", "topics": ["sanctions"], "entities": []}])
    assert report.topic("sanctions").tp == 1


def test_an_untagged_article_counts_as_nothing_found():
    corpus = [article("a", ["sanctions"], [("Russia", "GPE")]), article("b", ["sanctions"])]
    report = evaluate(corpus, [tagged("b", ["sanctions"])], topics=["sanctions"])
    assert report.untagged == ["a"]
    assert report.topic("sanctions") == TopicScore("sanctions", tp=1, fn=1)
    assert report.entities == EntityScore(expected=1, found=0, found_any_label=0)
    assert "Not tagged (counted as nothing found): a" in format_report(report)


def test_a_label_outside_the_topic_list_is_an_error():
    with pytest.raises(ValueError, match=r"article a: unknown topic 'sanction'"):
        evaluate([article("a", ["sanction"])], [], topics=["sanctions"])


def test_entity_recall_needs_the_canonical_name_and_the_label():
    corpus = [article("a", entities=[("Antony Blinken", "PERSON"), ("United States", "GPE"),
                                     ("Sergey Lavrov", "PERSON"), ("Reykjavik", "GPE")])]
    output = [tagged("a", entities=[("antony blinken", "PERSON"),  # case does not matter
                                    ("United States", "GPE"),
                                    ("Sergey Lavrov", "ORG"),  # right name, wrong label
                                    ("Reykjavik Harbour", "FAC")])]  # not the same name
    report = evaluate(corpus, output)
    assert report.entities == EntityScore(expected=4, found=2, found_any_label=3, top_found=2)
    assert report.entities.precision == pytest.approx(0.5)  # of the first 4 extracted, 2 are key entities
    assert report.entities.recall == pytest.approx(0.5)
    assert report.entities.recall_any_label == pytest.approx(0.75)
    misses = {m.name: m for m in report.missed_entities}
    assert set(misses) == {"Sergey Lavrov", "Reykjavik"}
    assert misses["Sergey Lavrov"].extracted_as == ("ORG",) and misses["Sergey Lavrov"].near == ()
    assert misses["Reykjavik"].extracted_as == () and misses["Reykjavik"].near == (("Reykjavik Harbour", "FAC"),)


def test_format_report_has_the_table_then_the_misses_and_false_hits():
    corpus = [article("a", ["sanctions"], [("Norway", "GPE")], title="Norway freezes assets"),
              article("b", [], [("Cricket Australia", "ORG")], title="Cricket board bans opener")]
    output = [tagged("a", [], [("Norway", "GPE")]), tagged("b", ["sanctions"], [("Cricket Australia", "PERSON")])]
    text = format_report(evaluate(corpus, output, topics=["sanctions", "detention"]))
    lines = text.splitlines()
    assert lines[0] == "Evaluated 2 articles."
    header = next(line for line in lines if line.startswith("topic"))
    assert header.split() == ["topic", "P", "R", "F1", "support", "TP", "FP", "FN"]
    assert next(line for line in lines if line.startswith("sanctions")).split() == [
        "sanctions", "0.000", "0.000", "0.000", "1", "0", "1", "1"]
    assert next(line for line in lines if line.startswith("detention")).split() == [
        "detention", "n/a", "n/a", "n/a", "0", "0", "0", "0"]
    assert next(line for line in lines if line.startswith("macro F1")).split()[-1] == "0.000"
    assert next(line for line in lines if line.startswith("key-entity recall")).split()[-2:] == ["0.500", "(1/2)"]
    assert next(line for line in lines if "ignoring the label" in line).split()[-2:] == ["1.000", "(2/2)"]
    assert "  sanctions  a  Norway freezes assets" in lines
    assert "  sanctions  b  Cricket board bans opener" in lines
    assert "    > Evidence for sanctions." in lines
    assert "  b  Cricket Australia (ORG): extracted as PERSON" in lines


def test_report_to_dict_is_json():
    report = evaluate([article("a", ["sanctions"], [("Norway", "GPE")])], [tagged("b", ["sanctions"])])
    data = json.loads(json.dumps(report.to_dict()))
    assert data["topics"][0] == {"topic": "sanctions", "precision": None, "recall": 0.0, "f1": 0.0,
                                 "support": 1, "tp": 0, "fp": 0, "fn": 1}
    assert data["entities"]["recall"] == 0.0 and data["untagged"] == ["a"]


# --- loading ------------------------------------------------------------------------------------


def test_load_corpus_reads_and_normalizes(tmp_path):
    good = {"id": "x-1", "title": "T", "text": "Body.", "topics": ["sanctions", "sanctions"],
            "entities": [{"name": " United   States ", "label": "GPE"}], "note": "kept"}
    path = write_lines(tmp_path, json.dumps(good), "", json.dumps({**good, "id": "x-2", "entities": []}))
    articles = load_corpus(path)
    assert [a["id"] for a in articles] == ["x-1", "x-2"]
    assert articles[0]["topics"] == ["sanctions"]
    assert articles[0]["entities"] == [{"name": "United States", "label": "GPE"}]
    assert articles[0]["note"] == "kept"


@pytest.mark.parametrize("line, message", [
    ('{"id": "a", "text": "x", "topics": []', r"line 2: not valid JSON"),
    ('["a list"]', r"line 2: expected a JSON object"),
    ('{"text": "x", "topics": []}', r"line 2: 'id' must be a non-empty string"),
    ('{"id": "b", "topics": []}', r"line 2 \(b\): 'text' must be a non-empty string"),
    ('{"id": "b", "text": "x", "topics": "sanctions"}', r"line 2 \(b\): 'topics' must be a list"),
    ('{"id": "b", "text": "x"}', r"line 2 \(b\): 'topics' must be a list"),
    ('{"id": "b", "text": "x", "topics": [], "entities": {"Norway": "GPE"}}', r"'entities' must be a list"),
    ('{"id": "b", "text": "x", "topics": [], "entities": [{"name": "Norway"}]}',
     r"line 2 \(b\): entities\[0\] \(Norway\): label None is not one of"),
    ('{"id": "b", "text": "x", "topics": [], "entities": [{"name": "", "label": "GPE"}]}',
     r"entities\[0\]: 'name' must be a non-empty string"),
    ('{"id": "a", "text": "x", "topics": []}', r"line 2: duplicate id 'a' \(first on line 1\)"),
])
def test_a_malformed_line_is_a_value_error_naming_the_line(tmp_path, line, message):
    path = write_lines(tmp_path, '{"id": "a", "title": "", "text": "x", "topics": []}', line)
    with pytest.raises(ValueError, match=message) as error:
        load_corpus(path)
    assert str(path) in str(error.value)


def test_missing_empty_and_binary_corpora_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot read the corpus"):
        load_corpus(tmp_path / "nope.jsonl")
    with pytest.raises(ValueError, match="the corpus has no articles"):
        load_corpus(write_lines(tmp_path, "", "  "))
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_corpus(binary)


def test_parse_article_checks_one_record():
    assert parse_article({"id": "a", "text": "x", "topics": []})["entities"] == []
    with pytest.raises(ValueError, match=r"^somewhere: expected a JSON object"):
        parse_article("text", "somewhere")


# --- the labelled corpus, through the real tagging functions -------------------------------------


def test_the_labelled_corpus_is_well_formed(taxonomy):
    articles = load_corpus(CORPUS)
    assert len(articles) >= 60
    positives = Counter(topic for a in articles for topic in a["topics"])
    assert set(positives) <= set(taxonomy)
    assert all(positives[topic] >= 6 for topic in taxonomy), positives
    assert sum(1 for a in articles if not a["topics"]) >= 20  # hard negatives
    for a in articles:
        assert 250 <= len(a["text"].split()) <= 500, a["id"]
        assert 3 <= len(a["entities"]) <= 6, a["id"]


def test_real_pipeline_functions_over_the_corpus(nlp, taxonomy, topic_matcher):
    from transforms.entities import canonical_entities, load_aliases, ner_text
    from transforms.topics import tag_topics

    articles = load_corpus(CORPUS)
    aliases = load_aliases()
    output = []
    for a, doc in zip(articles, nlp.pipe([ner_text(a) for a in articles])):
        entities = canonical_entities([(e.text, e.label_) for e in doc.ents], aliases)
        output.append(tag_topics({"id": a["id"], "title": a["title"], "text": a["text"],
                                   "entities": entities}, topic_matcher))
    report = evaluate(articles, output, topics=list(taxonomy))

    # Complete, not graded: the figures are reported (see format_report), not asserted.
    assert [t.topic for t in report.topics] == list(taxonomy)
    labels = Counter(topic for a in articles for topic in a["topics"])
    for score in report.topics:
        assert score.support == labels[score.topic]
        found = sum(1 for tagged_article in output
                    for hit in tagged_article["topics"] if hit["id"] == score.topic)
        assert score.tp + score.fp == found
    assert len(report.misses) == sum(t.fn for t in report.topics)
    assert len(report.false_hits) == sum(t.fp for t in report.topics)
    assert all(hit.evidence for hit in report.false_hits)
    assert report.entities.expected == sum(len(a["entities"]) for a in articles)
    assert report.entities.found <= report.entities.found_any_label <= report.entities.expected
    assert len(report.missed_entities) == report.entities.expected - report.entities.found
    assert report.untagged == [] and report.macro_f1 is not None
    text = format_report(report)
    assert all(topic in text for topic in taxonomy) and "macro F1 (7 topics)" in text
