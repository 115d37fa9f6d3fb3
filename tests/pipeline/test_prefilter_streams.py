"""The relevance prefilter changes nothing that is written: the whole project corpus (the
seed archive and the labelled articles) plus a generated stream of hard negatives,
replayed with and without it, gives identical streams, entry for entry."""

import json
import shutil

import pytest

from benchmarks.corpus import realistic_articles, write_jsonl
from connectors.subscription_store import load_subscriptions_file
from pipeline.options import RunConfig
from pipeline.replay import run_replay
from tests.conftest import FIXTURES, SEEDS

# The example subscriptions, and rules of every kind the prefilter must decide without
# entities: entities only (with alias variants and counts), topics with entities, terms
# with vetoes and sources.
SUBSCRIPTIONS = {
    **load_subscriptions_file(SEEDS / "subscriptions.yaml"),
    "russia": {"entities": {"GPE": ["Russia"]}},
    "us-often": {"entities": {"GPE": ["United States"]}, "min_hits": 3},
    "norway-arctic": {"topics": ["arctic_militarization"], "entities": {"GPE": ["Norway"]}},
    "people": {"entities": {"PERSON": ["Antony Blinken", "Sergey Lavrov"]}},
    "hacks": {"any": ["hack", "hacked", "hackers"], "none": ["kitchen"]},
    "wire-pipelines": {"any": ["pipeline", "pipelines"], "sources": ["wire.example"]},
    "sanction-talk": {"topics": ["sanctions", "diplomacy"]},
}


def streams(client):
    """Every stream's entries as sorted JSON (stream ids and order aside)."""
    return {key: sorted(json.dumps(fields, sort_keys=True) for _, fields in client.xrange(key))
            for key in sorted(client.scan_iter(match="newsmon:*", _type="stream"))}


def counter(result, name):
    return sum(c.committed for c in result.metrics().query()["counters"] if c.key.metric.name == name)


@pytest.mark.slow
def test_streams_are_identical_with_and_without_the_prefilter(tmp_path, redis_url, redis_db, taxonomy):
    for path in SEEDS.glob("*.txt"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copy(FIXTURES / "eval" / "corpus.jsonl", tmp_path / "labelled.jsonl")
    write_jsonl(realistic_articles(60, 0.15, seed=17, taxonomy=taxonomy), tmp_path / "generated.jsonl")
    config = dict(redis_url=redis_url, taxonomy=taxonomy, subscriptions=SUBSCRIPTIONS)

    with_filter = run_replay([str(tmp_path)], RunConfig(**config))
    filtered = streams(redis_db)
    redis_db.flushall()
    run_replay([str(tmp_path)], RunConfig(**config, prefilter=False))
    assert streams(redis_db) == filtered
    read = counter(with_filter, "articles_read")
    assert read == 1 + 84 + 60
    assert counter(with_filter, "ner_skipped") >= 20  # the filter did skip NER
    alerts = {key for key in filtered if key.startswith("newsmon:alerts:")}
    assert len(alerts) >= 6 and len(filtered["newsmon:events"]) >= 60  # and much was written
