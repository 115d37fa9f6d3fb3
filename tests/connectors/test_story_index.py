"""StoryIndex against a real Redis: assignment, idempotent replays, TTLs, atomic claims, outages."""

import logging
import multiprocessing
import random
import threading
import time

import pytest
import redis

from connectors.story_index import StoryIndex
from tests.conftest import RedisServer
from tests.story_samples import ALL, BAKE_SALE, NEXT_PACKAGE, OTHER_OUTLET, SYNDICATED, WIRE
from transforms.stories import article_features

NOW = 1_800_000_000.0


def assign_all(index, articles):
    return [index.assign(article_features(a, NOW)) for a in articles]


def snapshot(client, pattern="*"):
    """Every key with its content (not its remaining TTL; not DUMP, whose field order a rehash may change)."""
    read = {"string": client.get, "hash": client.hgetall, "set": client.smembers,
            "zset": lambda key: client.zrange(key, 0, -1, withscores=True)}
    return {key: read[client.type(key)](key) for key in sorted(client.keys(pattern))}


@pytest.fixture
def index(redis_url):
    index = StoryIndex.from_url(redis_url)
    yield index
    index.close()


def test_one_event_three_ways_is_one_story_and_the_rest_stay_apart(index):
    wire, synd, other, nxt, bake = assign_all(index, ALL)
    assert (wire.status, wire.story_id, wire.how) == ("created", WIRE["id"], "new")
    assert (synd.status, synd.story_id, synd.how) == ("joined", WIRE["id"], "near_duplicate")
    assert (other.status, other.story_id, other.how) == ("joined", WIRE["id"], "same_event")
    assert (other.articles, other.sources) == (3, 3)
    assert (nxt.story_id, nxt.status) == (NEXT_PACKAGE["id"], "created")
    assert (bake.story_id, bake.status) == (BAKE_SALE["id"], "created")
    assert ("Moscow", "GPE") in other.new_entities  # the only entity the story had not seen


def test_story_holds_its_articles_in_time_order_with_sources(index):
    assign_all(index, [OTHER_OUTLET, SYNDICATED, WIRE])  # out of order
    story = index.story(OTHER_OUTLET["id"])
    assert [a["id"] for a in story["items"]] == [WIRE["id"], SYNDICATED["id"], OTHER_OUTLET["id"]]
    assert story["articles"] == 3
    assert story["source_names"] == sorted({WIRE["source"], SYNDICATED["source"], OTHER_OUTLET["source"]})
    assert story["headline"] == OTHER_OUTLET["title"]
    assert story["first"] < story["last"]
    assert [(e["name"], e["articles"]) for e in story["entities"]] == [
        ("European Union", 3), ("Hungary", 3), ("Russia", 3), ("Zeebrugge", 3), ("Moscow", 1)]
    assert index.story("nope") is None


def test_listing_by_time_and_topic(index):
    tagged = {**BAKE_SALE, "topics": [{"id": "local"}]}
    assign_all(index, [WIRE, tagged, NEXT_PACKAGE])
    ids = [s["id"] for s in index.stories()]
    assert ids == [NEXT_PACKAGE["id"], BAKE_SALE["id"], WIRE["id"]]  # latest first
    june = index.stories(since=article_features(WIRE, NOW).time, until=article_features(BAKE_SALE, NOW).time)
    assert [s["id"] for s in june] == [BAKE_SALE["id"], WIRE["id"]]
    assert [s["id"] for s in index.stories(topic="local")] == [BAKE_SALE["id"]]
    assert [s["id"] for s in index.stories(limit=1)] == [NEXT_PACKAGE["id"]]


def test_articles_arriving_out_of_time_order_across_years_still_find_their_stories(index):
    """An archive replays in any order: a 2021 report after a 2024 one must still find its 2021 story."""
    older = [{**a, "id": f"old-{a['id']}", "url": a["url"] + "-2021", "text": a["text"].replace("Monday", "Friday"),
              "published": a["published"].replace("2024", "2021")} for a in (WIRE, OTHER_OUTLET)]
    results = assign_all(index, [older[0], NEXT_PACKAGE, WIRE, older[1]])
    assert results[3].story_id == older[0]["id"] and results[3].how == "same_event"
    assert [s["id"] for s in index.stories()] == [NEXT_PACKAGE["id"], WIRE["id"], older[0]["id"]]


def test_same_url_joins_whatever_the_text(index):
    assign_all(index, [WIRE])
    again = {**BAKE_SALE, "id": "reposted", "url": WIRE["url"]}
    [result] = assign_all(index, [again])
    assert (result.story_id, result.how) == (WIRE["id"], "same_url")


def test_identical_text_under_50_urls_is_one_story_never_an_error(index):
    copies = [{**WIRE, "id": f"copy{i:03d}", "url": f"https://site{i}.example/a", "source": f"site{i % 10}"}
              for i in range(50)]
    results = assign_all(index, copies)
    assert {r.story_id for r in results} == {"copy000"}
    assert [r.how for r in results[1:]] == ["same_text"] * 49
    assert (results[-1].articles, results[-1].sources) == (50, 10)


def test_empty_and_one_word_articles_are_assigned(index):
    odd = [{"id": "empty", "title": "", "text": ""}, {"id": "one", "title": "Breaking", "text": "Breaking"},
           {"id": "one-again", "title": "Breaking", "text": "Breaking"}]
    results = assign_all(index, odd)
    assert [r.status for r in results] == ["created", "created", "created"]  # a lone word identifies nothing
    assert index.story("empty")["items"][0]["id"] == "empty"


def test_replaying_twice_gives_the_same_story_ids_and_writes_nothing(index, redis_db):
    first = assign_all(index, ALL)
    before = snapshot(redis_db)
    second = assign_all(index, ALL)
    assert [r.story_id for r in second] == [r.story_id for r in first]
    assert {r.status for r in second} == {"assigned"}
    assert snapshot(redis_db) == before


def test_every_key_expires(index, redis_db):
    assign_all(index, ALL)
    keys = redis_db.keys("*")
    assert len(keys) > 40
    assert all(0 < redis_db.ttl(key) <= index.ttl_seconds for key in keys)


def test_a_story_found_through_a_posting_that_expired_is_not_joined(index, redis_db):
    assign_all(index, [WIRE])
    redis_db.delete(index.keys.story(WIRE["id"]))  # the story's keys expired, its postings not yet
    [result] = assign_all(index, [OTHER_OUTLET])
    assert (result.story_id, result.status) == (OTHER_OUTLET["id"], "created")


# --- several workers at once ---------------------------------------------------------------------

WORKERS = 4
ROUNDS = 12


def near_identical_group(round_number):
    """WORKERS copies of one random text, each with one word changed (different text keys, most bands equal)."""
    rng = random.Random(round_number)
    vocabulary = ["".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3))
                  for _ in range(60)]
    base = [rng.choice(vocabulary) for _ in range(150)]
    copies = []
    for worker in range(WORKERS):
        words = list(base)
        words[rng.randrange(len(words))] = f"changed{worker}"
        copies.append({"id": f"r{round_number:02d}w{worker}", "title": " ".join(base[worker:worker + 8]),
                       "text": " ".join(words), "url": f"https://w{worker}.example/{round_number}",
                       "source": f"w{worker}.example", "published": "2024-06-24T10:00:00Z"})
    return copies


def _worker(url, worker, barrier, results):
    index = StoryIndex.from_url(url)
    for round_number in range(ROUNDS):
        features = article_features(near_identical_group(round_number)[worker], NOW)
        barrier.wait(timeout=60)  # every worker assigns its copy at the same moment
        results.put((round_number, worker, index.assign(features).story_id))
    index.close()


def test_workers_assigning_near_identical_articles_at_once_make_one_story(redis_url):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(WORKERS), context.Queue()
    processes = [context.Process(target=_worker, args=(redis_url, w, barrier, results)) for w in range(WORKERS)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in range(WORKERS * ROUNDS)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    stories = {}
    for round_number, _worker_index, story_id in outcomes:
        stories.setdefault(round_number, set()).add(story_id)
    assert all(len(ids) == 1 for ids in stories.values()), stories
    assert len({next(iter(ids)) for ids in stories.values()}) == ROUNDS
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert sorted(int(client.hget(f"newsmon:story:{next(iter(ids))}", "articles")) for ids in stories.values()) \
        == [WORKERS] * ROUNDS


# --- Redis going away ----------------------------------------------------------------------------


def test_a_lost_reply_to_the_commit_is_retried_without_a_second_story_or_article(index, monkeypatch):
    assign_all(index, [WIRE])
    commit = index._commit
    calls = []

    def commit_then_lose_the_reply(**kwargs):
        calls.append(commit(**kwargs))
        if len(calls) == 1:
            raise redis.ConnectionError("connection reset after the script ran")
        return calls[-1]

    monkeypatch.setattr(index, "_commit", commit_then_lose_the_reply)
    [result] = assign_all(index, [SYNDICATED])
    assert result.story_id == WIRE["id"]
    assert result.articles == 2  # counted once
    assert index.story(WIRE["id"])["items"][-1]["id"] == SYNDICATED["id"]


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def wait_for(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_redis_down_mid_run_is_waited_for_and_splits_no_story(tmp_path, redis_url):
    reference = StoryIndex.from_url(redis_url)
    expected = [r.story_id for r in assign_all(reference, ALL)]
    reference.close()

    server = RedisServer(tmp_path, durable=True).start()
    lines = _Lines()
    logging.getLogger("connectors.redis_connection").addHandler(lines)
    try:
        index = StoryIndex.from_url(server.url, retry_seconds=60)
        got = [r.story_id for r in assign_all(index, ALL[:2])]
        server.stop()
        outcome = {}
        worker = threading.Thread(target=lambda: outcome.setdefault("rest", assign_all(index, ALL[2:])))
        worker.start()
        wait_for(lambda: any("unreachable" in line for line in lines.lines), "the outage to be noticed")
        server.start()
        worker.join(timeout=60)
        got += [r.story_id for r in outcome["rest"]]
        assert got == expected
        assert any("is back" in line for line in lines.lines)
        index.close()
    finally:
        logging.getLogger("connectors.redis_connection").removeHandler(lines)
        server.stop()
