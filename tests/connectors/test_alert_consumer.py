from connectors.alert_consumer import AlertReader

STREAM = "newsmon:alerts:ns2"


def add(client, n):
    return [client.xadd(STREAM, {"subscription": "ns2", "title": f"Alert {i}"}) for i in range(n)]


def titles(entries):
    return [fields["title"] for _, fields in entries]


def test_a_new_group_reads_from_the_start_and_acked_alerts_are_not_read_again(redis_db):
    add(redis_db, 3)
    reader = AlertReader(redis_db, STREAM, group="tail", consumer="c1")
    entries = reader.read()
    assert titles(entries) == ["Alert 0", "Alert 1", "Alert 2"]
    for entry_id, _ in entries:
        reader.ack(entry_id)
    assert reader.read() == [] and reader.pending_count() == 0
    again = AlertReader(redis_db, STREAM, group="tail", consumer="c1")
    assert again.read() == []


def test_a_consumer_stopped_between_read_and_ack_gets_its_alerts_again(redis_db):
    add(redis_db, 2)
    first = AlertReader(redis_db, STREAM, group="tail", consumer="c1")
    first.read()  # read, then "killed": never acknowledged
    restarted = AlertReader(redis_db, STREAM, group="tail", consumer="c1")
    assert titles(restarted.read()) == ["Alert 0", "Alert 1"]


def test_a_dead_consumers_pending_alerts_are_claimed_by_another(redis_db):
    add(redis_db, 2)
    dead = AlertReader(redis_db, STREAM, group="tail", consumer="dead")
    assert len(dead.read()) == 2
    patient = AlertReader(redis_db, STREAM, group="tail", consumer="other", claim_idle_ms=3_600_000)
    assert patient.read() == []  # not idle long enough yet
    taker = AlertReader(redis_db, STREAM, group="tail", consumer="other", claim_idle_ms=0)
    claimed = taker.read()
    assert titles(claimed) == ["Alert 0", "Alert 1"]
    for entry_id, _ in claimed:
        taker.ack(entry_id)
    assert taker.pending_count() == 0


def test_two_groups_each_see_every_alert(redis_db):
    add(redis_db, 2)
    tail = AlertReader(redis_db, STREAM, group="tail", consumer="c")
    hook = AlertReader(redis_db, STREAM, group="webhook", consumer="c")
    assert titles(tail.read()) == titles(hook.read()) == ["Alert 0", "Alert 1"]
