"""Chat delivery through apprise against a real HTTP receiver on 127.0.0.1 (apprise's json:// and ntfy://).

The deliverer's clock and sleep are simulated.
"""

import json

import pytest

from connectors.alert_consumer import AlertReader
from connectors.delivery import AlertDeliverer
from connectors.notify import NotifyChannel
from tests.connectors.test_webhook import Receiver, SimulatedTime
from tests.servers import free_port

STREAM = "newsmon:alerts:ns2"
DEADLETTER = "newsmon:deadletter"


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def story_alert(i=1):
    return {"subscription": "ns2", "id": f"a{i}", "title": f"Germany halts Nord Stream 2 ({i})",
            "url": f"https://news.example/ns2/{i}", "source": "Reuters", "alert": "new", "story": "3f2a9c",
            "story_sources": "4", "story_articles": "5", "topics": json.dumps([{"id": "sanctions"}]),
            "terms": json.dumps(["nord stream"]), "evidence": json.dumps(["Nord Stream 2 was halted."])}


def json_url(receiver, token="tok3n"):
    # apprise's generic JSON target: POSTs {"title", "message", "type", ...} to http://user:token@host:port/path
    return receiver.url.replace("http://", f"json://desk:{token}@")


def deliverer(redis_db, channel, **kwargs):
    reader = AlertReader(redis_db, STREAM, group="chat", consumer="d1", from_start=True)
    time = SimulatedTime()
    return AlertDeliverer(reader, channel, deadletter_stream=DEADLETTER, backoff_seconds=0.5, sleep=time.sleep,
                          clock=time.clock, jitter=lambda: 1.0, **kwargs), time


def test_an_alert_becomes_a_notification_with_headline_story_evidence_and_link(redis_db, receiver):
    redis_db.xadd(STREAM, story_alert())
    chat, _ = deliverer(redis_db, NotifyChannel(json_url(receiver)))
    chat.run()
    [body] = receiver.received
    assert body["title"] == "[ns2] New story: Germany halts Nord Stream 2 (1)"
    assert "story 3f2a9c: 4 sources, 5 articles" in body["message"]
    assert "“Nord Stream 2 was halted.” (matched: nord stream)" in body["message"]
    assert "https://news.example/ns2/1" in body["message"] and "source: Reuters" in body["message"]
    assert chat.delivered == 1 and chat.reader.pending_count() == 0


def test_ntfy_target(redis_db, receiver):
    redis_db.xadd(STREAM, story_alert())
    port = receiver.server.server_port
    chat, _ = deliverer(redis_db, NotifyChannel(f"ntfy://127.0.0.1:{port}/desk-alerts"))
    chat.run()
    path, body = receiver.requests[0][0], receiver.received
    assert body and chat.delivered == 1 and path is not None


def test_a_failing_service_is_retried_with_backoff_then_delivered(redis_db, receiver):
    redis_db.xadd(STREAM, story_alert())
    receiver.responses = [503, 500]
    chat, time = deliverer(redis_db, NotifyChannel(json_url(receiver)))
    chat.run()
    assert time.sleeps == [0.5, 1.0] and len(receiver.received) == 1 and chat.dead == 0


def test_a_refused_notification_is_dead_lettered_without_the_token(redis_db, receiver):
    redis_db.xadd(STREAM, story_alert(1))
    redis_db.xadd(STREAM, story_alert(2))
    receiver.responses = [404]
    channel = NotifyChannel(json_url(receiver, token="very-secret-token"))
    chat, time = deliverer(redis_db, channel)
    chat.run()
    [(_, dead)] = redis_db.xrange(DEADLETTER)
    assert time.sleeps == [] and dead["status"] == "404" and dead["channel"] == "notify"
    assert json.loads(dead["message"])["title"] == "[ns2] New story: Germany halts Nord Stream 2 (1)"
    assert "very-secret-token" not in json.dumps(dead) and "very-secret-token" not in channel.target
    assert [b["title"][-3:] for b in receiver.received] == ["(2)"]


def test_an_unreachable_service_is_dead_lettered_after_the_budget(redis_db):
    redis_db.xadd(STREAM, story_alert())
    chat, time = deliverer(redis_db, NotifyChannel(f"json://127.0.0.1:{free_port()}/hook"), give_up_after=30)
    chat.run()
    [(_, dead)] = redis_db.xrange(DEADLETTER)
    assert dead["error"].startswith("gave up after 30 s") and "Connection error" in dead["error"]
    assert len(time.sleeps) > 2


def test_a_url_apprise_does_not_know_is_one_line():
    with pytest.raises(ValueError, match="apprise does not know the URL nosuchservice://"):
        NotifyChannel("nosuchservice://x/y")
