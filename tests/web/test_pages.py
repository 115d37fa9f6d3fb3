"""What the pages read from Redis (pipeline/web/pages.py), on the real test Redis."""

import random

from pipeline.web.pages import latest_entries


def test_latest_entries_are_the_newest_of_all_streams_together(redis_db):
    rng = random.Random(7)
    written = []
    for n in range(600):  # uneven streams: one busy, some quiet, one empty
        stream = rng.choice(["s:busy"] * 8 + ["s:a", "s:b", "s:c"])
        # Ids of their own millisecond: within one millisecond, streams' ids do not say which came first.
        written.append((stream, redis_db.xadd(stream, {"n": str(n)}, id=f"{1_700_000_000_000 + n}-0")))
    redis_db.xadd("s:empty", {"n": "x"})
    redis_db.delete("s:empty")
    for count in (1, 7, 50, 599, 1000):
        got = latest_entries(redis_db, ["s:busy", "s:a", "s:b", "s:c", "s:empty"], count)
        assert [(stream, entry_id) for stream, entry_id, _ in got] == written[::-1][:count]


def test_latest_entries_of_nothing(redis_db):
    assert latest_entries(redis_db, [], 50) == []
    assert latest_entries(redis_db, ["none"], 50) == []


def test_stories_by_size_are_the_largest_of_the_window(redis_db):
    import json
    import time

    from connectors.redis_streams import RedisKeys
    from pipeline.web.pages import story_list

    now = time.time()
    for n, (articles, sources, age, topic) in enumerate([(3, 1, 10, "a"), (9, 2, 20, "b"), (9, 3, 30, "a"),
                                                          (50, 9, 90_000, "a"), (1, 1, 5, "a")]):
        redis_db.hset(f"newsmon:story:s{n}", mapping={"headline": f"h{n}", "first": now - age, "last": now - age,
                                                      "articles": articles, "sources": sources,
                                                      "topics": json.dumps({topic: 1}), "entities": "{}"})
        redis_db.zadd("newsmon:stories:by_time", {f"s{n}": now - age})
    largest = story_list(redis_db, RedisKeys(), now - 86_400, sort="size", limit=3)
    assert [s["id"] for s in largest] == ["s2", "s1", "s0"]  # s3 is older than the window
    assert [s["id"] for s in story_list(redis_db, RedisKeys(), now - 86_400, topic="a", sort="size")] == \
        ["s2", "s0", "s4"]
