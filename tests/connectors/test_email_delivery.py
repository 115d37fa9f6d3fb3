"""Email delivery through a real SMTP conversation with aiosmtpd on 127.0.0.1 (STARTTLS, AUTH, SMTPS).

The deliverer's clock and sleep are simulated, so retries of an hour take no time.
"""

import json
import logging

import pytest

from connectors.alert_consumer import AlertReader
from connectors.delivery import AlertDeliverer
from connectors.email_delivery import EmailChannel, check_address, smtp_config
from tests.connectors.test_webhook import SimulatedTime
from tests.servers import free_port
from tests.smtp_server import SmtpServer

STREAM = "newsmon:alerts:ns2"
DEADLETTER = "newsmon:deadletter"
PASSWORD = "s3cret-Pa55"


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    server = SmtpServer(tmp_path_factory.mktemp("smtp"), users={"desk": PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp):
    smtp.messages.clear()
    smtp.rcpt_replies.clear()
    smtp.data_replies.clear()
    smtp.logins.clear()
    return smtp


def story_alert(i=1, **extra):
    return {"subscription": "ns2", "id": f"a{i}", "title": f"Germany halts Nord Stream 2 ({i})",
            "url": f"https://news.example/ns2/{i}", "source": "Reuters", "published": "2021-05-18T07:30:00Z",
            "alert": "new", "story": "3f2a9c", "story_sources": "4", "story_articles": "5",
            "topics": json.dumps([{"id": "sanctions", "evidence": ["x"]}]),
            "terms": json.dumps(["nord stream", "sanctions"]),
            "evidence": json.dumps(["The US imposed sanctions on Nord Stream 2 AG on Wednesday."]), **extra}


def channel(server, *, password=PASSWORD, to=("desk@example.org",), **kwargs):
    config = smtp_config(f"{server.url.replace('://', '://desk@')}", starttls=not server.implicit_tls,
                         password=password, cafile=str(server.cafile))
    return EmailChannel(config, to=list(to), sender="newsmon@example.org", **kwargs)


def deliverer(redis_db, email_channel, **kwargs):
    reader = AlertReader(redis_db, STREAM, group="mail", consumer="d1", from_start=True)
    time = SimulatedTime()
    return AlertDeliverer(reader, email_channel, deadletter_stream=DEADLETTER, backoff_seconds=0.5,
                          sleep=time.sleep, clock=time.clock, jitter=lambda: 1.0, **kwargs), time


def parts(message):
    return {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}


def test_an_alert_arrives_as_multipart_text_and_html_over_starttls_with_auth(redis_db, mailbox):
    entry_id = redis_db.xadd(STREAM, story_alert())
    mail, _ = deliverer(redis_db, channel(mailbox))
    mail.run()
    [message] = mailbox.messages
    assert mailbox.logins == [("desk", True)]
    assert message.envelope[:2] == ("newsmon@example.org", ["desk@example.org"])
    assert message["Subject"] == "[newsmon ns2] New story: Germany halts Nord Stream 2 (1)"
    assert message["Message-ID"] == f"<alert.ns2.{entry_id}@example.org>"
    assert message["List-Unsubscribe"] == "<mailto:newsmon@example.org?subject=unsubscribe%20ns2>"
    assert message["To"] == "desk@example.org" and "newsmon@example.org" in message["From"]
    assert message.get_content_type() == "multipart/alternative"
    body = parts(message)
    text, html = body["text/plain"], body["text/html"]
    for line in ("New story: Germany halts Nord Stream 2 (1)", "source: Reuters",
                 "story 3f2a9c: 4 sources, 5 articles",
                 "evidence: “The US imposed sanctions on Nord Stream 2 AG on Wednesday.”"
                 " (matched: nord stream, sanctions)", "https://news.example/ns2/1"):
        assert line in text
    assert "<b>sanctions</b>" in html and "<b>Nord Stream</b>" in html
    assert 'href="https://news.example/ns2/1"' in html and "4 sources, 5 articles" in html
    assert mail.delivered == 1 and mail.reader.pending_count() == 0


def test_the_connection_is_reused_and_every_alert_has_its_own_message_id(redis_db, mailbox):
    ids = [redis_db.xadd(STREAM, story_alert(i)) for i in range(5)]
    mail, _ = deliverer(redis_db, channel(mailbox))
    mail.run()
    assert [m["Message-ID"] for m in mailbox.messages] == [f"<alert.ns2.{i}@example.org>" for i in ids]
    assert len(mailbox.logins) == 1  # one connection, one login, five messages


def test_implicit_tls_smtps(redis_db, tmp_path):
    server = SmtpServer(tmp_path, users={"desk": PASSWORD}, implicit_tls=True).start()
    try:
        redis_db.xadd(STREAM, story_alert())
        mail, _ = deliverer(redis_db, channel(server))
        mail.run()
        assert [m["Subject"] for m in server.messages] == ["[newsmon ns2] New story: Germany halts Nord Stream 2 (1)"]
    finally:
        server.stop()


def test_a_rejected_recipient_is_dead_lettered_at_once_and_delivery_goes_on(redis_db, mailbox):
    redis_db.xadd(STREAM, story_alert(1))
    redis_db.xadd(STREAM, story_alert(2))
    mailbox.rcpt_replies["gone@example.org"] = "550 5.1.1 <gone@example.org>: no such user"
    mail, time = deliverer(redis_db, channel(mailbox, to=["gone@example.org"]))
    mail.run()
    assert time.sleeps == [] and mailbox.messages == []
    dead = [record for _, record in redis_db.xrange(DEADLETTER)]
    assert len(dead) == 2 and mail.dead == 2
    assert dead[0]["status"] == "550" and "no such user" in dead[0]["error"]
    assert dead[0]["channel"] == "email" and dead[0]["email"] == "gone@example.org"
    assert "Message-ID: <alert.ns2." in dead[0]["message"] and PASSWORD not in json.dumps(dead)
    assert mail.reader.pending_count() == 0


def test_a_temporary_4xx_is_retried_with_backoff_then_delivered(redis_db, mailbox):
    redis_db.xadd(STREAM, story_alert())
    mailbox.data_replies = ["451 4.3.0 try again later", "421 4.7.0 too busy"]
    mail, time = deliverer(redis_db, channel(mailbox))
    mail.run()
    assert time.sleeps == [0.5, 1.0] and len(mailbox.messages) == 1 and mail.dead == 0


def test_a_permanent_5xx_on_the_message_is_dead_lettered(redis_db, mailbox):
    redis_db.xadd(STREAM, story_alert())
    mailbox.data_replies = ["554 5.7.1 message refused as spam"]
    mail, time = deliverer(redis_db, channel(mailbox))
    mail.run()
    [(_, dead)] = redis_db.xrange(DEADLETTER)
    assert dead["status"] == "554" and "refused as spam" in dead["error"] and time.sleeps == []


def test_a_refused_login_is_permanent_and_the_password_is_never_shown(redis_db, mailbox, caplog):
    redis_db.xadd(STREAM, story_alert())
    wrong = channel(mailbox, password="wrong-Secret-9")
    assert not wrong.check().ok and not wrong.check().retryable
    caplog.set_level(logging.WARNING)
    mail, time = deliverer(redis_db, wrong)
    mail.run()
    [(_, dead)] = redis_db.xrange(DEADLETTER)
    assert dead["status"] == "535" and "login as 'desk' refused" in dead["error"]
    everything = json.dumps(dead) + caplog.text + wrong.target
    assert "wrong-Secret-9" not in everything and "desk@" in dead["smtp"]


def test_an_unreachable_server_is_retried_then_dead_lettered_after_the_budget(redis_db):
    redis_db.xadd(STREAM, story_alert())
    config = smtp_config(f"smtp://127.0.0.1:{free_port()}", timeout=5)
    mail, time = deliverer(redis_db, EmailChannel(config, to=["desk@example.org"], sender="n@example.org"),
                           give_up_after=60)
    mail.run()
    [(_, dead)] = redis_db.xrange(DEADLETTER)
    assert "ConnectionRefusedError" in dead["error"] and dead["error"].startswith("gave up after 1 min")
    assert len(time.sleeps) > 2 and sum(time.sleeps) == pytest.approx(60)


def test_an_outage_then_recovery_loses_nothing(redis_db, tmp_path):
    port = free_port()
    redis_db.xadd(STREAM, story_alert(1))
    redis_db.xadd(STREAM, story_alert(2))
    config = smtp_config(f"smtp://127.0.0.1:{port}", timeout=5)
    email = EmailChannel(config, to=["desk@example.org"], sender="n@example.org")
    server = None
    mail, time = deliverer(redis_db, email)

    def sleep(seconds):  # the server comes up during the third wait
        time.sleep(seconds)
        nonlocal server
        if len(time.sleeps) == 3:
            server = SmtpServer(tmp_path, require_starttls=False)
            server.port = port
            server.controller.port = port
            server.start()

    mail._sleep = sleep
    try:
        mail.run()
        assert [m["Subject"][-3:] for m in server.messages] == ["(1)", "(2)"] and mail.dead == 0
    finally:
        if server:
            server.stop()


@pytest.mark.parametrize("url, why", [
    ("http://mail.example.org", "expected smtp://"),
    ("smtp://", "expected smtp://"),
    ("smtp://desk:hunter2@mail.example.org:99999", "out of range"),
    ("smtp://desk:hunter2@mail.example.org/inbox", "no path"),
])
def test_a_bad_smtp_url_is_one_line_without_the_password(url, why):
    with pytest.raises(ValueError) as error:
        smtp_config(url)
    assert why in str(error.value) and "hunter2" not in str(error.value) and "\n" not in str(error.value)


def test_smtp_url_defaults_and_masking():
    config = smtp_config("smtp://desk%40corp:p%3Ass@mail.example.org", starttls=True)
    assert (config.port, config.username, config.password) == (587, "desk@corp", "p:ss")
    assert config.display == "smtp://desk%40corp:***@mail.example.org:587 (starttls)"
    assert smtp_config("smtps://mail.example.org").port == 465
    assert smtp_config("smtp://u:url-pass@h", password="from-env").password == "from-env"
    with pytest.raises(ValueError, match="exclude"):
        smtp_config("smtp://h", starttls=True, tls=True)


@pytest.mark.parametrize("address", ["desk", "desk@", "@example.org", "a b@example.org", "x@y@z", ""])
def test_a_malformed_address_is_refused(address):
    with pytest.raises(ValueError, match="not a mail address"):
        check_address(address)
