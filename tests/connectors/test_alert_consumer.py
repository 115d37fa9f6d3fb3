import redis

from connectors.alert_consumer import AlertReader, follow

STREAM = "newsmon:alerts:ns2"


def add(client, n, start=0):
    return [client.xadd(STREAM, {"subscription": "ns2", "title": f"Alert {i}"}) for i in range(start, start + n)]


def titles(entries):
    return [fields["title"] for _, fields in entries]


def test_a_new_group_starts_at_new_alerts(redis_db):
    add(redis_db, 3)
    reader = AlertReader(redis_db, STREAM, group="hook", consumer="c1")
    assert reader.read() == []
    add(redis_db, 1, start=3)
    assert titles(reader.read()) == ["Alert 3"]


def test_from_start_reads_the_history_and_acked_alerts_are_not_read_again(redis_db):
    add(redis_db, 3)
    reader = AlertReader(redis_db, STREAM, group="tail", consumer="c1", from_start=True)
    entries = reader.read()
    assert titles(entries) == ["Alert 0", "Alert 1", "Alert 2"]
    for entry_id, _ in entries:
        reader.ack(entry_id)
    assert reader.read() == [] and reader.pending_count() == 0
    # An existing group keeps its place: from_start only applies when the group is created.
    again = AlertReader(redis_db, STREAM, group="tail", consumer="c1", from_start=True)
    assert again.read() == []


def test_a_blocking_read_longer_than_the_socket_timeout_returns_empty_instead_of_failing(redis_url):
    # redis-py's default socket timeout is 5 s; a read that blocks as long failed with TimeoutError.
    client = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=0.3)
    reader = AlertReader(client, STREAM, group="tail", consumer="c1")
    assert reader.read(block_ms=1000) == []
    add(client, 1)
    assert titles(reader.read(block_ms=1000)) == ["Alert 0"]


def test_a_consumer_stopped_between_read_and_ack_gets_its_alerts_again(redis_db):
    first = AlertReader(redis_db, STREAM, group="tail", consumer="c1")
    add(redis_db, 2)
    first.read()  # read, then "killed": never acknowledged
    restarted = AlertReader(redis_db, STREAM, group="tail", consumer="c1")
    assert titles(restarted.read()) == ["Alert 0", "Alert 1"]


def test_a_dead_consumers_pending_alerts_are_claimed_by_another(redis_db):
    dead = AlertReader(redis_db, STREAM, group="tail", consumer="dead")
    add(redis_db, 2)
    assert len(dead.read()) == 2
    patient = AlertReader(redis_db, STREAM, group="tail", consumer="other", claim_idle_ms=3_600_000)
    assert patient.read() == []  # not idle long enough yet
    taker = AlertReader(redis_db, STREAM, group="tail", consumer="other", claim_idle_ms=0)
    claimed = taker.read()
    assert titles(claimed) == ["Alert 0", "Alert 1"]
    for entry_id, _ in claimed:
        taker.ack(entry_id)
    assert taker.pending_count() == 0


def test_idle_alerts_behind_many_young_pending_ones_are_claimed(redis_db):
    """XAUTOCLAIM looks at about 10 x COUNT pending entries per call; the rest needs its cursor."""
    young = AlertReader(redis_db, STREAM, group="tail", consumer="young")
    add(redis_db, 400)
    ids = add(redis_db, 5, start=400)
    assert len(young.read(count=1000)) == 405
    # The last five were delivered an hour ago to a consumer that died since.
    redis_db.xclaim(STREAM, "tail", "dead", 0, ids, idle=3_600_000)
    taker = AlertReader(redis_db, STREAM, group="tail", consumer="taker", claim_idle_ms=600_000)
    claimed = taker.read(count=5)
    assert titles(claimed) == [f"Alert {i}" for i in range(400, 405)]


def test_alerts_trimmed_from_the_stream_are_acknowledged_not_returned(redis_db):
    dead = AlertReader(redis_db, STREAM, group="tail", consumer="dead")
    ids = add(redis_db, 3)
    dead.read()
    redis_db.xdel(STREAM, ids[0])
    taker = AlertReader(redis_db, STREAM, group="tail", consumer="taker", claim_idle_ms=0)
    assert titles(taker.read()) == ["Alert 1", "Alert 2"]
    assert redis_db.xpending(STREAM, "tail")["pending"] == 2


def test_a_group_that_vanished_is_created_again_without_losing_what_came_since(redis_db):
    reader = AlertReader(redis_db, STREAM, group="tail", consumer="c1")
    redis_db.delete(STREAM)
    add(redis_db, 1)
    assert titles(reader.read()) == ["Alert 0"]


def test_two_groups_each_see_every_alert(redis_db):
    tail = AlertReader(redis_db, STREAM, group="tail", consumer="c")
    hook = AlertReader(redis_db, STREAM, group="webhook", consumer="c")
    add(redis_db, 2)
    assert titles(tail.read()) == titles(hook.read()) == ["Alert 0", "Alert 1"]


def test_follow_waits_through_a_redis_outage(redis_db):
    reader = AlertReader(redis_db, STREAM, group="tail", consumer="c")
    add(redis_db, 1)
    calls = []
    real_read = reader.read

    def flaky_read(**kwargs):
        calls.append(kwargs)
        if len(calls) <= 2:
            raise redis.ConnectionError("Connection refused")
        return real_read(**kwargs)

    reader.read = flaky_read
    batches = follow(reader, wait_ms=100, sleep=lambda _s: None)
    assert titles(next(batches)) == ["Alert 0"]
    assert len(calls) == 3
