"""The pure parts of the dashboard: alert views, highlighted evidence, the subscription form, trend SVGs."""

import json

import pytest

from pipeline.web.render import (
    FormError,
    alert_view,
    error_field,
    form_from_rule,
    highlight,
    rule_from_form,
    stream_id_key,
    trend_svg,
)

HOSTILE = '<img src=x onerror="alert(1)">'


def test_highlight_marks_whole_terms_in_any_case_and_escapes_the_rest():
    marked = str(highlight("Gazprom said <b>Nord  Stream</b> 2 and nordstream", ["nord stream", "gazprom"]))
    assert marked == ("<mark>Gazprom</mark> said &lt;b&gt;<mark>Nord Stream</mark>&lt;/b&gt; 2 and nordstream")


def test_highlight_of_a_hostile_text_and_term_is_text():
    marked = str(highlight(f"title {HOSTILE} here", ["onerror", "<img"]))
    assert marked == 'title <mark>&lt;img</mark> src=x <mark>onerror</mark>=&#34;alert(1)&#34;&gt; here'


def test_alert_view_of_a_stored_alert():
    fields = {"subscription": "ns", "title": "Germany halts Nord Stream 2", "url": "https://news.example/a",
              "source": "Wire", "published": "2021-05-18T07:30:00Z", "story": "s42", "alert": "new",
              "story_sources": "3", "score": "0.64", "terms": json.dumps(["nord stream"]),
              "evidence": json.dumps(["Germany halted Nord Stream 2 on Monday."]),
              "topics": json.dumps([{"id": "sanctions", "evidence": []}]),
              "entities": json.dumps([{"canonical": "Germany", "label": "GPE"}])}
    view = alert_view("1718000000000-0", fields, "newsmon:alerts:ns")
    assert view["title"] == "Germany halts Nord Stream 2"
    assert view["topics"] == ["sanctions"] and view["story"] == "s42" and view["kind"] == "new"
    assert str(view["evidence"][0]) == "Germany halted <mark>Nord Stream</mark> 2 on Monday."
    assert view["time"] == "2024-06-10 06:13:20" and view["problems"] == []


def test_a_malformed_entry_is_shown_as_such():
    view = alert_view("5-0", {"title": "t", "topics": "{not json", "evidence": "[1"}, "newsmon:alerts:x")
    assert view["problems"] == ["topics is not JSON", "evidence is not JSON"]
    assert view["subscription"] == "x" and view["raw"]["topics"] == "{not json"


def test_only_web_links_are_links():
    assert alert_view("1-0", {"title": "t", "url": "javascript:alert(1)"})["url"] == ""
    assert alert_view("1-0", {"title": "t", "url": "http://a.example/"})["url"] == "http://a.example/"


def test_stream_ids_sort_by_time_then_sequence():
    ids = ["1718000000000-10", "1718000000000-2", "999-0"]
    assert sorted(ids, key=stream_id_key) == ["999-0", "1718000000000-2", "1718000000000-10"]


def test_the_form_builds_the_rule_the_cli_would():
    rule = rule_from_form({"name": "ns", "topic": "sanctions, energy", "any": "nord stream\ngazprom\n",
                           "all": "russia | moscow\npipeline", "entity": "GPE:Germany", "min_score": "0.2",
                           "per": "story", "update_on": "sources:3,10"})
    assert rule == {"topics": ["sanctions", "energy"], "any": ["nord stream", "gazprom"],
                    "all": [["russia", "moscow"], ["pipeline"]], "entities": {"GPE": ["Germany"]},
                    "min_score": 0.2, "update_on": ["sources:3,10"]}
    assert form_from_rule("ns", rule)["all"] == "russia | moscow\npipeline"
    assert rule_from_form(form_from_rule("ns", rule)) == rule


def test_form_errors_are_the_cli_messages_and_name_their_field():
    with pytest.raises(FormError) as bad_entity:
        rule_from_form({"entity": "Germany"})
    assert bad_entity.value.field == "entity"
    assert str(bad_entity.value) == "--entity 'Germany': expected LABEL:Name, e.g. GPE:Russia"
    with pytest.raises(FormError) as bad_score:
        rule_from_form({"any": "x", "min_score": "high"})
    assert bad_score.value.field == "min_score"
    assert str(bad_score.value) == "argument --min-score: invalid float value: 'high'"
    with pytest.raises(FormError) as spike:
        rule_from_form({"on_spike": "topic:x", "any": "y"})
    assert spike.value.field == "on_spike"


@pytest.mark.parametrize("message, field", [
    ("subscription name 'A b': use 1-64 lower-case letters", "name"),
    ("rule 'x': field 'topics': unknown topic 'piracy' (topics: a)", "topic"),
    ("rule 'x': field 'all[1]': 'x' is not a term with words", "all"),
    ("rule 'x': field 'entities': unknown entity label 'XX'", "entity"),
    ("subscription 'x': update_on 'sources:1': expected sources:N[,M...]", "update_on"),
    ("rule 'x': empty rule: give at least one of 'any', 'all', 'entities' or 'topics'", ""),
])
def test_error_field(message, field):
    assert error_field(message) == field


def test_trend_svg_marks_surges_and_escapes_names():
    trend = {"name": HOSTILE, "series": "entity:x", "resolution": "hour", "total": 7, "surges": [
        {"at": "2024-06-01T02:15:00Z"}], "points": [
        {"start": "2024-06-01T01:00:00Z", "count": 1, "expected": 1.0, "low": 0.0, "high": 3.0},
        {"start": "2024-06-01T02:00:00Z", "count": 6, "expected": 1.0, "low": 0.0, "high": 3.0}]}
    svg = str(trend_svg(trend))
    assert svg.startswith("<svg") and "<img" not in svg
    assert svg.count('class="bar surge"') == 1 and svg.count('class="bar"') == 1
    assert '<polyline class="band"' in svg
