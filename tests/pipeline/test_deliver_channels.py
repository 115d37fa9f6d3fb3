"""``newsmon deliver --email/--notify/--digest`` as a user runs it: real SMTP, real HTTP, real Redis.

The digest test runs two deliverers as real subprocesses, kills the one in the
middle of a send and restarts it: each period's digest arrives exactly once.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.cli import main
from tests.conftest import ROOT
from tests.connectors.test_webhook import Receiver
from tests.pipeline.test_consumers import stopped, wait_for
from tests.smtp_server import SmtpServer

STREAM = "newsmon:alerts:ns2"
PASSWORD = "Pa55-w0rd-secret"


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    server = SmtpServer(tmp_path_factory.mktemp("smtp"), users={"desk": PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp):
    smtp.messages.clear()
    smtp.logins.clear()
    smtp.hold_next = False
    return smtp


def alert(i, **extra):
    return {"subscription": "ns2", "id": f"a{i}", "title": f"Nord Stream story {i}", "url": f"https://news.example/{i}",
            "source": "Reuters", "alert": "article", "topics": "[]", "terms": json.dumps(["nord stream"]),
            "evidence": json.dumps([f"Nord Stream sentence {i}."]), **extra}


def smtp_args(server, *extra):
    return ["--email", "desk@example.org", "--smtp", server.url.replace("://", "://desk@"), "--starttls",
            "--smtp-cafile", str(server.cafile), "--from", "newsmon@example.org", *extra]


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_deliver_email_once_with_the_password_from_the_environment(redis_url, redis_db, mailbox, capsys,
                                                                   monkeypatch):
    monkeypatch.setenv("NEWSMON_SMTP_PASSWORD", PASSWORD)
    entry = redis_db.xadd(STREAM, alert(1))
    status, _, err = run(capsys, "deliver", "ns2", *smtp_args(mailbox), "--once", "--from-start", "--redis", redis_url)
    assert status == 0, err
    [message] = mailbox.messages
    assert message["Message-ID"] == f"<alert.ns2.{entry}@example.org>" and mailbox.logins == [("desk", True)]
    assert "delivered 1 alert(s) to email desk@example.org via smtp://desk:***@127.0.0.1" in err
    assert PASSWORD not in err


def test_a_refused_login_stops_before_reading_anything(redis_url, redis_db, mailbox, capsys, monkeypatch):
    monkeypatch.setenv("NEWSMON_SMTP_PASSWORD", "not-the-Password")
    redis_db.xadd(STREAM, alert(1))
    status, _, err = run(capsys, "deliver", "ns2", *smtp_args(mailbox), "--once", "--from-start", "--redis", redis_url)
    assert status == 2 and err.count("\n") == 1, err
    assert "SMTP 535" in err and "login as 'desk' refused" in err and "not-the-Password" not in err
    assert redis_db.xlen("newsmon:deadletter") == 0 and mailbox.messages == []


@pytest.mark.parametrize("argv, why", [
    (["--email", "desk@example.org", "--smtp", "smtp://desk:hunter2@mail.example.org:99999"], "bad SMTP URL"),
    (["--email", "desk@example.org", "--smtp", "mail.example.org"], "bad SMTP URL"),
    (["--email", "desk@example.org"], "--email needs an SMTP server"),
    (["--email", "desk", "--smtp", "smtp://h"], "is not a mail address"),
    (["--email", "d@example.org", "--smtp", "smtp://h", "--digest", "daily", "--tz", "Mars/Base"],
     "unknown time zone"),
    (["--email", "d@example.org", "--smtp", "smtp://h", "--digest", "daily", "--at", "7am"], "expected HH:MM"),
    (["--email", "d@example.org", "--smtp", "smtp://h", "--at", "07:00"], "go with --digest"),
    (["--notify", "nosuchservice://x"], "apprise does not know the URL"),
    (["--webhook", "https://x.example/h", "--digest", "daily"], "--digest goes with --email or --notify"),
])
def test_bad_options_are_one_line_exit_2_and_never_show_a_password(redis_url, redis_db, capsys, argv, why):
    redis_db.xadd(STREAM, alert(1))
    status, _, err = run(capsys, "deliver", "ns2", *argv, "--once", "--redis", redis_url)
    assert status == 2 and err.count("\n") == 1 and why in err, err
    assert "hunter2" not in err and "Traceback" not in err


def test_help_shows_every_channel(capsys):
    with pytest.raises(SystemExit) as done:
        main(["deliver", "--help"])
    out, _ = capsys.readouterr()
    assert done.value.code == 0
    for option in ("--webhook", "--email", "--notify", "--smtp", "--starttls", "--tls", "--digest", "--tz",
                   "--smtp-password-file", "NEWSMON_SMTP_PASSWORD"):
        assert option in out


def test_deliver_notify_once(redis_url, redis_db, capsys, monkeypatch):
    receiver = Receiver()
    try:
        monkeypatch.setenv("NEWSMON_NOTIFY_URL", receiver.url.replace("http://", "json://desk:chat-t0ken@"))
        redis_db.xadd(STREAM, alert(1))
        status, _, err = run(capsys, "deliver", "ns2", "--notify", "--once", "--from-start", "--redis", redis_url)
        assert status == 0, err
        assert [b["title"] for b in receiver.received] == ["[ns2] Nord Stream story 1"]
        assert "chat-t0ken" not in err and "delivered 1 alert(s) to notify json://desk:" in err
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def newsmon(*argv, env=()):
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT), **dict(env)})


def _digest_process(redis_url, server, consumer, *extra):
    return newsmon("deliver", "ns2", *smtp_args(server), "--digest", "hourly", "--from-start", "--claim-idle", "3",
                   "--consumer", consumer, "--redis", redis_url, *extra, env={"NEWSMON_SMTP_PASSWORD": PASSWORD})


def test_two_digest_deliverers_a_kill_and_a_restart_send_each_period_once(redis_url, redis_db, mailbox):
    now_ms = int(time.time() * 1000)
    hour = 3600 * 1000
    start = now_ms - now_ms % hour  # the current hour (UTC) has not ended: it is not sent
    for i, hours_ago in enumerate([5, 4, 4, 2]):  # 3 and 1 hours ago: empty hours, nothing sent
        redis_db.xadd(STREAM, alert(i), id=f"{start - hours_ago * hour + 60_000 * (i + 1)}-0")
    mailbox.hold_next = True  # the first digest's DATA gets no answer until we say so
    first = _digest_process(redis_url, mailbox, "first")
    second = _digest_process(redis_url, mailbox, "second")
    processes = {"first": first, "second": second}
    try:
        wait_for(lambda: mailbox.held, "a deliverer to be sending the first digest")
        claims = [key for key in redis_db.keys("newsmon:digest:ns2:*:claim:*")]
        [sender] = {redis_db.get(key) for key in claims}
        survivor = "second" if sender == "first" else "first"
        processes[sender].kill()  # killed in the middle of the SMTP conversation
        processes[sender].wait(timeout=60)
        mailbox.release()  # that DATA is refused: the dead process's digest was never accepted
        wait_for(lambda: len(mailbox.messages) == 3, "the survivor to send the three digests")
        restarted = _digest_process(redis_url, mailbox, sender, "--once")
        assert restarted.wait(timeout=120) == 0
        restart_err = restarted.stderr.read().decode()
        assert "sent 0 hourly digest(s)" in restart_err, restart_err
        processes[survivor].send_signal(signal.SIGTERM)
        assert processes[survivor].wait(timeout=60) == 0
    finally:
        errors = stopped(first) + stopped(second)
    assert "Traceback" not in errors and PASSWORD not in errors, errors
    ids = [m["Message-ID"] for m in mailbox.messages]
    assert len(set(ids)) == 3 and all(i.startswith("<digest.ns2.hourly.") for i in ids)
    counts = [m["Subject"].split("digest: ")[1].split(" —")[0] for m in mailbox.messages]
    assert counts == ["1 alert", "2 alerts", "1 alert"]
    assert "Nord Stream story 3" in mailbox.messages[2].get_body(("plain",)).get_content()
    assert os.environ.get("NEWSMON_SMTP_PASSWORD") is None  # the password went to the children only


def test_email_and_chat_dead_letters_are_sent_again_with_the_same_message_id(redis_url, redis_db, mailbox, capsys,
                                                                          monkeypatch):
    monkeypatch.setenv("NEWSMON_SMTP_PASSWORD", PASSWORD)
    entry = redis_db.xadd(STREAM, alert(1))
    mailbox.rcpt_replies["desk@example.org"] = "550 5.2.1 mailbox disabled"
    status, _, err = run(capsys, "deliver", "ns2", *smtp_args(mailbox), "--once", "--from-start", "--redis", redis_url)
    assert status == 1 and mailbox.messages == [], err
    receiver = Receiver()
    try:
        receiver.responses = [404]
        chat_url = receiver.url.replace("http://", "json://desk:chat-t0ken@")
        status, _, err = run(capsys, "deliver", "ns2", "--notify", chat_url, "--once", "--from-start",
                             "--redis", redis_url)
        assert status == 1, err
        status, out, _ = run(capsys, "deadletters", "list", "--redis", redis_url)
        assert "email: desk@example.org via smtp://desk:***@" in out and "notify: json://desk:" in out
        assert PASSWORD not in out and "chat-t0ken" not in out
        status, _, err = run(capsys, "deadletters", "retry", "--all", "--redis", redis_url)
        assert status == 1 and "give --smtp" in err and "give --notify URL" in err  # nothing to send them with
        mailbox.rcpt_replies.clear()
        status, out, err = run(capsys, "deadletters", "retry", "--all", "--smtp", mailbox.url.replace("://", "://desk@"),
                               "--starttls", "--smtp-cafile", str(mailbox.cafile), "--notify", chat_url,
                               "--redis", redis_url)
        assert status == 0, err
        [message] = mailbox.messages
        assert message["Message-ID"] == f"<alert.ns2.{entry}@example.org>"  # as first built
        assert [b["title"] for b in receiver.received] == ["[ns2] Nord Stream story 1"]
        assert redis_db.xlen("newsmon:deadletter") == 0
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_a_password_on_the_command_line_is_used_masked_and_warned_about(redis_url, redis_db, mailbox, capsys,
                                                                       caplog):
    redis_db.xadd(STREAM, alert(1))
    url = mailbox.url.replace("://", f"://desk:{PASSWORD}@")
    argv = ["--email", "desk@example.org", "--smtp", url, "--starttls", "--smtp-cafile", str(mailbox.cafile)]
    status, _, err = run(capsys, "deliver", "ns2", *argv, "--once", "--from-start", "--redis", redis_url)
    assert status == 0 and len(mailbox.messages) == 1, err
    assert "the password in --smtp is visible to every user in ps" in caplog.text
    assert PASSWORD not in err + caplog.text and "desk:***@" in err
