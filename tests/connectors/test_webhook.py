"""Webhook delivery against a real HTTP receiver on 127.0.0.1 that fails, then succeeds.

The deliverer's clock and sleep are a simulated clock, so hours of outage take no time.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.alert_consumer import AlertReader
from connectors.webhook import WebhookDeliverer, alert_payload, is_retryable, redeliver
from tests.conftest import free_port

STREAM = "newsmon:alerts:ns2"
DEADLETTER = "newsmon:deadletter"


class Receiver:
    """Answers each POST with the next response of ``responses`` (then 200), keeps every
    request's body and headers, and the bodies of the 2xx ones in ``received``."""

    def __init__(self):
        self.responses = []
        self.respond = None  # or a function of the body giving the response
        self.requests = []
        self.received = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.requests.append((body, {k.lower(): v for k, v in self.headers.items()}))
                if receiver.respond is not None:
                    response = receiver.respond(body)
                else:
                    response = receiver.responses.pop(0) if receiver.responses else 200
                status, text, headers = response if isinstance(response, tuple) else (response, b"", {})
                if 200 <= status < 300:
                    receiver.received.append(body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


class SimulatedTime:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def alert(i):
    return {"subscription": "ns2", "id": f"a{i}", "title": f"Nord Stream story {i}",
            "url": f"https://news.example/{i}", "topics": json.dumps([{"id": "sanctions", "evidence": ["E."]}]),
            "terms": json.dumps(["nord stream"]), "evidence": json.dumps([f"Evidence {i}."]),
            "entities": json.dumps([{"canonical": "Germany", "label": "GPE"}])}


def deliverer(redis_db, url, *, jitter=lambda: 1.0, **kwargs):
    reader = AlertReader(redis_db, STREAM, group="hook", consumer="d1", from_start=True)
    time = SimulatedTime()
    return WebhookDeliverer(reader, url, deadletter_stream=DEADLETTER, backoff_seconds=0.5,
                            sleep=time.sleep, clock=time.clock, jitter=jitter, **kwargs), time


def titles(bodies):
    return [body["title"] for body in bodies]


def test_payload_has_a_text_for_chat_the_alert_id_and_every_field():
    payload = alert_payload("1-0", alert(1))
    assert payload["text"] == ("[ns2] Nord Stream story 1 — https://news.example/1 (sanctions)\n> Evidence 1.")
    assert payload["entities"] == [{"canonical": "Germany", "label": "GPE"}]
    assert payload["entry_id"] == "1-0" and payload["alert_id"] == "ns2:1-0"


@pytest.mark.parametrize("status, retryable", [
    (0, True), (408, True), (425, True), (429, True), (500, True), (502, True), (503, True), (504, True),
    (400, False), (401, False), (403, False), (404, False), (410, False), (422, False), (301, False)])
def test_which_statuses_are_retried(status, retryable):
    assert is_retryable(status) is retryable


def test_retries_with_exponential_backoff_and_jitter_then_delivers_and_acks(redis_db, receiver):
    redis_db.xadd(STREAM, alert(1))
    receiver.responses = [500, 503, 408, 425]
    jitters = iter([1.0, 0.0, 0.5, 1.0])
    hook, time = deliverer(redis_db, receiver.url, jitter=lambda: next(jitters))
    hook.run()
    assert titles(receiver.received) == ["Nord Stream story 1"]
    # 0.5, 1, 2, 4 s before jitter; each wait is half fixed, half random.
    assert time.sleeps == [0.5, 0.5, 1.5, 4.0]
    assert hook.reader.pending_count() == 0 and hook.delivered == 1 and hook.dead == 0


def test_every_attempt_carries_the_same_idempotency_key_as_the_body(redis_db, receiver):
    entry_id = redis_db.xadd(STREAM, alert(1))
    receiver.responses = [502, 502]
    hook, _ = deliverer(redis_db, receiver.url)
    hook.run()
    keys = {headers["idempotency-key"] for _, headers in receiver.requests}
    assert keys == {f"ns2:{entry_id}"} and len(receiver.requests) == 3
    assert receiver.received[0]["alert_id"] == f"ns2:{entry_id}"


def test_retry_after_is_honoured(redis_db, receiver):
    redis_db.xadd(STREAM, alert(1))
    receiver.responses = [(429, b"slow down", {"Retry-After": "120"}), (503, b"", {"Retry-After": "7"})]
    hook, time = deliverer(redis_db, receiver.url)
    hook.run()
    assert time.sleeps == [120.0, 7.0]
    assert titles(receiver.received) == ["Nord Stream story 1"]


@pytest.mark.parametrize("status", [400, 404, 410])
def test_a_refused_alert_goes_straight_to_the_dead_letters_with_status_and_body(redis_db, receiver, status):
    redis_db.xadd(STREAM, alert(1))
    redis_db.xadd(STREAM, alert(2))
    receiver.responses = [(status, b'{"error": "unknown channel"}' + b"x" * 1000, {})]
    hook, time = deliverer(redis_db, receiver.url)
    hook.run()
    assert len(receiver.requests) == 2 and time.sleeps == []  # not retried
    assert titles(receiver.received) == ["Nord Stream story 2"]
    [(_, dead)] = redis_db.xrange(DEADLETTER)
    assert dead["stage"] == "deliver" and dead["status"] == str(status)
    assert dead["response"].startswith('{"error": "unknown channel"}') and len(dead["response"]) == 500
    assert json.loads(dead["payload"])["title"] == "Nord Stream story 1"
    assert dead["webhook"] == receiver.url and dead["alert_id"].startswith("ns2:")
    assert hook.reader.pending_count() == 0 and hook.dead == 1


def test_an_outage_dead_letters_nothing_and_every_alert_arrives_in_order(redis_db, receiver):
    for i in range(150):
        redis_db.xadd(STREAM, alert(i))
    # The first 3 alerts go through, then the receiver fails every POST for a while.
    receiver.responses = [200, 200, 200] + [500] * 40
    hook, time = deliverer(redis_db, receiver.url, max_backoff=60)
    hook.run()
    assert titles(receiver.received) == [f"Nord Stream story {i}" for i in range(150)]
    assert redis_db.xlen(DEADLETTER) == 0 and hook.dead == 0 and hook.delivered == 150
    outage = sum(time.sleeps)
    assert outage > 30 * 60  # a long outage, seen by the deliverer as a whole: one alert waited
    assert len(receiver.requests) == 150 + 40


def test_an_alert_failing_longer_than_the_budget_is_dead_lettered_and_delivery_goes_on(redis_db, receiver):
    redis_db.xadd(STREAM, alert(1))
    redis_db.xadd(STREAM, alert(2))
    receiver.respond = lambda body: 500 if body["title"] == "Nord Stream story 1" else 200
    hook, time = deliverer(redis_db, receiver.url, give_up_after=600, max_backoff=120)
    hook.run()
    [(_, dead)] = redis_db.xrange(DEADLETTER)
    assert dead["error"].startswith("gave up after 10 min of failures; last: HTTP 500")
    assert dead["status"] == "500" and int(dead["attempts"]) > 1
    assert titles(receiver.received) == ["Nord Stream story 2"]
    assert sum(time.sleeps) == pytest.approx(600)


def test_an_unreachable_webhook_is_retried_then_dead_lettered_with_the_error(redis_db):
    redis_db.xadd(STREAM, alert(1))
    hook, time = deliverer(redis_db, f"http://127.0.0.1:{free_port()}/hook", give_up_after=30)
    hook.run()
    [(_, dead)] = redis_db.xrange(DEADLETTER)
    assert "ConnectError" in dead["error"] and dead["status"] == ""
    assert len(time.sleeps) > 1


def test_stopping_while_backing_off_leaves_the_alert_pending(redis_db, receiver):
    redis_db.xadd(STREAM, alert(1))
    receiver.responses = [500]
    reader = AlertReader(redis_db, STREAM, group="hook", consumer="d1", from_start=True)
    hook = WebhookDeliverer(reader, receiver.url, deadletter_stream=DEADLETTER)
    hook._sleep = lambda _seconds: hook.stop()  # stopped (SIGTERM) during the first backoff wait
    hook.run()
    assert reader.pending_count() == 1 and redis_db.xlen(DEADLETTER) == 0
    again = WebhookDeliverer(AlertReader(redis_db, STREAM, group="hook", consumer="d1"), receiver.url,
                             deadletter_stream=DEADLETTER)
    again.run()
    assert titles(receiver.received) == ["Nord Stream story 1"] and again.reader.pending_count() == 0


def test_a_stopped_deliverer_resumes_where_it_left_off(redis_db, receiver):
    for i in range(3):
        redis_db.xadd(STREAM, alert(i))
    first, _ = deliverer(redis_db, receiver.url)
    [(entry_id, fields), *_] = first.reader.read(count=2)
    first.deliver(entry_id, fields)  # delivered one, then stopped with one read but unacknowledged
    second, _ = deliverer(redis_db, receiver.url)
    second.run()
    assert titles(receiver.received) == ["Nord Stream story 0", "Nord Stream story 1", "Nord Stream story 2"]


def test_a_dead_letter_is_sent_again_with_the_same_key_and_removed_once_delivered(redis_db, receiver):
    entry_id = redis_db.xadd(STREAM, alert(1))
    receiver.responses = [404]
    hook, _ = deliverer(redis_db, receiver.url)
    hook.run()
    [(dead_id, record)] = redis_db.xrange(DEADLETTER)
    receiver.responses = [(503, b"still down", {})]
    assert redeliver(redis_db, DEADLETTER, dead_id, record) == (False, "HTTP 503 Service Unavailable: still down")
    assert redis_db.xlen(DEADLETTER) == 1
    assert redeliver(redis_db, DEADLETTER, dead_id, record) == (True, "")
    assert redis_db.xlen(DEADLETTER) == 0
    assert receiver.requests[-1][1]["idempotency-key"] == f"ns2:{entry_id}"
    assert titles(receiver.received) == ["Nord Stream story 1"]


def test_pipeline_failures_are_not_sent_to_a_webhook(redis_db):
    ok, why = redeliver(redis_db, DEADLETTER, "1-0", {"stage": "fetch", "error": "HTTP 500"})
    assert not ok and "fetch failure" in why


def test_only_http_urls():
    with pytest.raises(ValueError, match="http"):
        WebhookDeliverer(None, "ftp://x/hook", deadletter_stream="d")
