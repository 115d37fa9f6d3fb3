"""Webhook delivery against a real HTTP receiver on 127.0.0.1 that fails, then succeeds."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.alert_consumer import AlertReader
from connectors.webhook import WebhookDeliverer, alert_payload

STREAM = "newsmon:alerts:ns2"


class Receiver:
    """Answers each POST with the next status of ``statuses`` (then 200) and keeps the bodies."""

    def __init__(self):
        self.statuses = []
        self.received = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.received.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def alert(i):
    return {"subscription": "ns2", "id": f"a{i}", "title": f"Nord Stream story {i}",
            "url": f"https://news.example/{i}", "topics": json.dumps([{"id": "sanctions", "evidence": ["E."]}]),
            "terms": json.dumps(["nord stream"]), "evidence": json.dumps([f"Evidence {i}."]),
            "entities": json.dumps([{"canonical": "Germany", "label": "GPE"}])}


def deliverer(redis_db, url, **kwargs):
    reader = AlertReader(redis_db, STREAM, group="hook", consumer="d1")
    delays = []
    kwargs.setdefault("attempts", 3)
    return WebhookDeliverer(reader, url, deadletter_stream="newsmon:deadletter",
                            backoff_seconds=0.5, sleep=delays.append, **kwargs), delays


def test_payload_has_a_text_for_chat_and_every_field():
    payload = alert_payload("1-0", alert(1))
    assert payload["text"] == ("[ns2] Nord Stream story 1 — https://news.example/1 (sanctions)\n> Evidence 1.")
    assert payload["entities"] == [{"canonical": "Germany", "label": "GPE"}]
    assert payload["entry_id"] == "1-0"


def test_retries_with_backoff_then_delivers_and_acks(redis_db, receiver):
    redis_db.xadd(STREAM, alert(1))
    receiver.statuses = [500, 503]
    hook, delays = deliverer(redis_db, receiver.url)
    hook.run()
    assert [body["title"] for body in receiver.received] == ["Nord Stream story 1"]
    assert delays == [0.5, 1.0]
    assert hook.reader.pending_count() == 0 and hook.delivered == 1


def test_after_n_failures_the_alert_goes_to_the_dead_letters_and_the_rest_flow(redis_db, receiver):
    redis_db.xadd(STREAM, alert(1))
    redis_db.xadd(STREAM, alert(2))
    receiver.statuses = [500, 500, 500]
    hook, _ = deliverer(redis_db, receiver.url)
    hook.run()
    assert [body["title"] for body in receiver.received] == ["Nord Stream story 2"]
    [(_, dead)] = redis_db.xrange("newsmon:deadletter")
    assert dead["stage"] == "deliver" and dead["error"].startswith("HTTP 500")
    assert json.loads(dead["payload"])["title"] == "Nord Stream story 1"
    assert hook.reader.pending_count() == 0


def test_a_stopped_deliverer_resumes_where_it_left_off(redis_db, receiver):
    for i in range(3):
        redis_db.xadd(STREAM, alert(i))
    first, _ = deliverer(redis_db, receiver.url)
    [(entry_id, fields), *_] = first.reader.read(count=2)
    first.deliver(entry_id, fields)  # delivered one, then stopped with one read but unacknowledged
    second, _ = deliverer(redis_db, receiver.url)
    second.run()
    assert [body["title"] for body in receiver.received] == [
        "Nord Stream story 0", "Nord Stream story 1", "Nord Stream story 2"]


def test_unreachable_webhook_is_dead_lettered_with_the_error(redis_db):
    from tests.conftest import free_port

    redis_db.xadd(STREAM, alert(1))
    hook, _ = deliverer(redis_db, f"http://127.0.0.1:{free_port()}/hook", attempts=2)
    hook.run()
    [(_, dead)] = redis_db.xrange("newsmon:deadletter")
    assert "ConnectError" in dead["error"]


def test_only_http_urls():
    with pytest.raises(ValueError, match="http"):
        WebhookDeliverer(None, "ftp://x/hook", deadletter_stream="d")
