"""Replay assigns every article to a story: events carry its id, a second replay changes nothing."""

import json

import pytest

from connectors.story_index import StoryIndex
from pipeline.options import RunConfig
from pipeline.replay import run_replay
from tests.story_samples import ALL, BAKE_SALE, NEXT_PACKAGE, OTHER_OUTLET, SYNDICATED, WIRE

FIELDS = ("id", "title", "text", "url", "source", "published")


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "stories.jsonl"
    path.write_text("".join(json.dumps({k: a[k] for k in FIELDS}) + "\n" for a in ALL), encoding="utf-8")
    return path


def story_state(client):
    from tests.connectors.test_story_index import snapshot

    return snapshot(client, "newsmon:stor*")


def test_replay_assigns_stories_and_a_second_replay_writes_nothing(archive, redis_url, redis_db, taxonomy):
    config = RunConfig(redis_url=redis_url, taxonomy=taxonomy)
    result = run_replay([archive], config)
    events = {fields["title"]: fields["story"] for _, fields in redis_db.xrange("newsmon:events")}
    index = StoryIndex(redis_db)
    story_of = {a["id"]: redis_db.get(index.keys.article(_article_id(a))) for a in ALL}
    assert story_of[WIRE["id"]] == story_of[SYNDICATED["id"]] == story_of[OTHER_OUTLET["id"]]
    assert len({story_of[WIRE["id"]], story_of[NEXT_PACKAGE["id"]], story_of[BAKE_SALE["id"]]}) == 3
    assert events[WIRE["title"]] == events[OTHER_OUTLET["title"]] == story_of[WIRE["id"]]
    assert events[NEXT_PACKAGE["title"]] == story_of[NEXT_PACKAGE["id"]]
    assert index.story(story_of[WIRE["id"]])["sources"] == 3
    counted = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]
               if c.key.metric.namespace == "stories"}
    assert counted == {"new": 3, "near_duplicate": 1, "same_event": 1}

    before = story_state(redis_db)
    run_replay([archive], config)
    assert story_state(redis_db) == before


def _article_id(article):
    from transforms.normalize import article_id

    return article_id(article, article["title"], article["text"])


def test_stories_commands_list_and_show(archive, redis_url, capsys):
    from pipeline.cli import main

    assert main(["replay", str(archive), "--redis", redis_url, "--no-progress", "--show", "0"]) == 0
    capsys.readouterr()
    assert main(["stories", "--since", "2024-06-01", "--redis", redis_url]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["story", "last"]
    ids = [line.split()[0] for line in lines[1::2]]
    assert len(ids) == 3 and ids[0] == _article_id(NEXT_PACKAGE)  # latest first
    wire_row = lines[1 + 2 * ids.index(_article_id(WIRE))].split()
    assert wire_row[3:5] == ["3", "3"]  # articles, sources
    assert "topics: sanctions" in out and "Russia" in out

    assert main(["stories", "--since", "2024-06-01", "--topic", "sanctions", "--json", "--redis", redis_url]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {s["id"] for s in listed} == {_article_id(WIRE), _article_id(NEXT_PACKAGE)}
    assert all(s["first"].endswith("Z") for s in listed)

    assert main(["stories", "--since", "24h", "--redis", redis_url]) == 0  # 2024 is long ago
    assert "no stories" in capsys.readouterr().err

    assert main(["stories", "show", _article_id(WIRE), "--redis", redis_url]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"Story {_article_id(WIRE)}: {WIRE['title']}"
    assert out.splitlines()[1].startswith("3 articles from 3 sources, 2024-06-24 10:00 to 2024-06-24 15:00 UTC")
    assert out.index(WIRE["title"], 60) < out.index(SYNDICATED["title"]) < out.index(OTHER_OUTLET["title"])
    assert SYNDICATED["url"] in out and "[near_duplicate]" in out and "[same_event]" in out

    assert main(["stories", "show", "0123456789abcdef", "--redis", redis_url]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(SystemExit) as exited:
        main(["stories", "--since", "yesterday-ish"])
    assert exited.value.code == 2


def test_a_subscription_alerts_once_per_story_unless_per_article(archive, redis_url, redis_db, taxonomy):
    subscriptions = {"eu": {"topics": ["sanctions"], "update_on": ["sources:3"]},
                     "eu-wire": {"topics": ["sanctions"], "per": "article"}}
    config = RunConfig(redis_url=redis_url, taxonomy=taxonomy, subscriptions=subscriptions)
    run_replay([archive], config)
    story = {fields["id"]: fields for _, fields in redis_db.xrange("newsmon:alerts:eu-wire")}
    sanctioned = {a["id"] for a in (WIRE, SYNDICATED, OTHER_OUTLET, NEXT_PACKAGE)}
    assert {_article_id(a) for a in ALL if a["id"] in sanctioned} == set(story)
    assert {f["alert"] for f in story.values()} == {"article"}
    per_story = [fields for _, fields in redis_db.xrange("newsmon:alerts:eu")]
    news = [f for f in per_story if f["alert"] == "new"]
    assert sorted(f["story"] for f in news) == sorted({_article_id(WIRE), _article_id(NEXT_PACKAGE)})
    # The EU story reached 3 sources: an update, unless its first matching article already had them.
    eu = [f for f in per_story if f["story"] == _article_id(WIRE)]
    assert len(eu) == 1 + (eu[0]["story_sources"] != "3")
    assert all(f["update"] == "3 sources" for f in eu if f["alert"] == "update")
    before = {key: redis_db.xlen(key) for key in ("newsmon:alerts:eu", "newsmon:alerts:eu-wire")}
    run_replay([archive], config)
    assert {key: redis_db.xlen(key) for key in before} == before


def test_subscribe_per_and_update_on(redis_url, redis_db, capsys):
    from pipeline.cli import main

    assert main(["subscribe", "add", "arctic", "--topic", "arctic_militarization", "--update-on", "sources:3,10",
                 "--update-on", "countries", "--redis", redis_url]) == 0
    assert main(["subscribe", "add", "wire", "--topic", "sanctions", "--per", "article", "--redis", redis_url]) == 0
    stored = {name: json.loads(rule) for name, rule in redis_db.hgetall("newsmon:subscriptions").items()}
    assert stored["arctic"]["update_on"] == ["sources:3,10", "countries"] and "per" not in stored["arctic"]
    assert stored["wire"]["per"] == "article"
    capsys.readouterr()
    assert main(["subscribe", "add", "bad", "--topic", "sanctions", "--update-on", "weather",
                 "--redis", redis_url]) == 2
    assert "update_on 'weather'" in capsys.readouterr().err
    assert "bad" not in redis_db.hgetall("newsmon:subscriptions")
