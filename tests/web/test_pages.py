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
