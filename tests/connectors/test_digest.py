"""Digests: period arithmetic in a time zone, and sending each period once (real Redis, real SMTP).

Time is injected (``clock``), never waited for.
"""

import json
from datetime import datetime, timezone

import pytest

from connectors.digest import DigestDeliverer, DigestSchedule
from connectors.email_delivery import EmailChannel, smtp_config
from tests.smtp_server import SmtpServer

STREAM = "newsmon:alerts:ns2"
DEADLETTER = "newsmon:deadletter"
STATE = "newsmon:digest:ns2:email-test"


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_daily_at_seven_oslo_follows_local_time_across_dst():
    daily = DigestSchedule("daily", at="07:00", tz="Europe/Oslo")
    # Winter (UTC+1): 07:00 Oslo is 06:00 UTC.
    assert daily.period_containing(utc(2026, 11, 30, 6, 30)) == (utc(2026, 11, 30, 6, 0), utc(2026, 12, 1, 6, 0))
    assert daily.period_containing(utc(2026, 11, 30, 5, 59)) == (utc(2026, 11, 29, 6, 0), utc(2026, 11, 30, 6, 0))
    # Clocks go forward in the night to 29 March 2026: that period is 23 hours long, still 07:00 to 07:00.
    start, end = daily.period_containing(utc(2026, 3, 28, 12, 0))
    assert (start, end) == (utc(2026, 3, 28, 6, 0), utc(2026, 3, 29, 5, 0))
    assert daily.label(start, end) == "Sat 28 Mar 2026 07:00 – Sun 29 Mar 07:00 (Europe/Oslo)"
    assert daily.period_containing(utc(2026, 3, 29, 12, 0)) == (utc(2026, 3, 29, 5, 0), utc(2026, 3, 30, 5, 0))


def test_hourly_and_weekly_periods():
    hourly = DigestSchedule("hourly", at=":15", tz="Asia/Kolkata")  # UTC+5:30: :15 local is :45 UTC
    assert hourly.period_containing(utc(2026, 11, 30, 10, 50)) == (utc(2026, 11, 30, 10, 45), utc(2026, 11, 30, 11, 45))
    assert hourly.period_containing(utc(2026, 11, 30, 10, 44)) == (utc(2026, 11, 30, 9, 45), utc(2026, 11, 30, 10, 45))
    weekly = DigestSchedule("weekly", at="08:00", tz="UTC", weekday="mon")
    # Monday 30 Nov 2026 08:00 to Monday 7 Dec 08:00.
    assert weekly.period_containing(utc(2026, 12, 3, 12, 0)) == (utc(2026, 11, 30, 8, 0), utc(2026, 12, 7, 8, 0))
    assert weekly.period_containing(utc(2026, 11, 30, 7, 0)) == (utc(2026, 11, 23, 8, 0), utc(2026, 11, 30, 8, 0))


@pytest.mark.parametrize("kind, at, tz, why", [
    ("daily", "7", "UTC", "expected HH:MM"), ("daily", "25:00", "UTC", "expected HH:MM"),
    ("daily", ":30", "UTC", "needs HH:MM"), ("daily", "07:00", "Europe/Osl", "unknown time zone"),
    ("monthly", "07:00", "UTC", "expected one of")])
def test_bad_schedules_are_one_line(kind, at, tz, why):
    with pytest.raises(ValueError, match=why):
        DigestSchedule(kind, at=at, tz=tz)


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    server = SmtpServer(tmp_path_factory.mktemp("smtp"), require_starttls=False).start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp):
    smtp.messages.clear()
    smtp.data_replies.clear()
    return smtp


class Clock:
    def __init__(self, now):
        self.now = now
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)


def alert_at(redis_db, when, i, story="", sources="1"):
    fields = {"subscription": "ns2", "id": f"a{i}", "title": f"Alert {i}", "url": f"https://news.example/{i}",
              "source": f"Source {i}", "alert": "new" if story else "article", "story": story,
              "story_sources": sources, "story_articles": sources, "topics": "[]",
              "terms": json.dumps(["nord stream"]), "evidence": json.dumps([f"Nord Stream sentence {i}."])}
    millis = int(when.timestamp() * 1000)
    return redis_db.xadd(STREAM, fields, id=f"{millis}-{i}")


def digests(redis_db, server, clock, *, consumer="d1", from_start=True, **kwargs):
    channel = EmailChannel(smtp_config(server.url), to=["desk@example.org"], sender="newsmon@example.org")
    schedule = DigestSchedule("daily", at="07:00", tz="Europe/Oslo")
    return DigestDeliverer(redis_db, STREAM, "ns2", schedule, channel, state_key=STATE, consumer=consumer,
                           deadletter_stream=DEADLETTER, from_start=from_start, clock=clock, sleep=clock.sleep,
                           backoff_seconds=0.5, jitter=lambda: 1.0, **kwargs)


def test_each_ended_period_is_sent_once_with_one_entry_per_story_and_empty_periods_send_nothing(redis_db, mailbox):
    # Periods (07:00 Oslo = 06:00 UTC): 28-29 Nov, 29-30 Nov (empty), 30 Nov-1 Dec (open until 06:00 on 1 Dec).
    alert_at(redis_db, utc(2026, 11, 28, 9, 0), 1, story="s1", sources="2")
    alert_at(redis_db, utc(2026, 11, 28, 10, 0), 2, story="s1", sources="3")
    alert_at(redis_db, utc(2026, 11, 28, 11, 0), 3)
    alert_at(redis_db, utc(2026, 11, 30, 7, 0), 4)
    clock = Clock(utc(2026, 11, 30, 12, 0))
    sender = digests(redis_db, mailbox, clock)
    assert sender.tick() == 2  # one sent, one empty; the open period waits
    [message] = mailbox.messages
    assert (sender.sent, sender.empty) == (1, 1)
    assert message["Subject"] == ("[newsmon ns2] daily digest: 3 alerts, 1 story —"
                                  " Sat 28 Nov 2026 07:00 – Sun 29 Nov 07:00 (Europe/Oslo)")
    assert message["Message-ID"] == "<digest.ns2.daily.20261128T0600Z@example.org>"
    assert message["List-Unsubscribe"] == "<mailto:newsmon@example.org?subject=unsubscribe%20ns2>"
    text = message.get_body(("plain",)).get_content()
    assert text.count("* ") == 2  # the story once (its two alerts), the article once
    assert "story s1: 3 sources, 3 articles (2 alerts)" in text and "Alert 3" in text and "Alert 4" not in text
    assert "“Nord Stream sentence 2.” (matched: nord stream)" in text
    assert "<b>Nord Stream</b>" in message.get_body(("html",)).get_content()
    # Ticking again, or another deliverer starting, sends nothing more until the period ends.
    assert sender.tick() == 0 and digests(redis_db, mailbox, clock, consumer="d2").tick() == 0
    clock.now = utc(2026, 12, 1, 6, 0)
    assert digests(redis_db, mailbox, clock, consumer="d2").tick() == 1
    assert [m["Message-ID"] for m in mailbox.messages][1] == "<digest.ns2.daily.20261130T0600Z@example.org>"
    assert "Alert 4" in mailbox.messages[1].get_body(("plain",)).get_content()


def test_a_period_claimed_by_another_deliverer_is_left_to_it(redis_db, mailbox):
    alert_at(redis_db, utc(2026, 11, 28, 9, 0), 1)
    clock = Clock(utc(2026, 11, 30, 12, 0))
    first, second = digests(redis_db, mailbox, clock, consumer="d1"), digests(redis_db, mailbox, clock, consumer="d2")
    start, _ = first.schedule.period_containing(utc(2026, 11, 28, 9, 0))
    first.cursor(clock.now)
    redis_db.set(first._claim_key(start), "d1", px=60_000)  # d1 is sending it right now
    assert second.tick() == 0 and mailbox.messages == []
    redis_db.delete(first._claim_key(start))  # d1 died; its claim expired
    assert second.tick() == 2 and len(mailbox.messages) == 1


def test_a_new_cursor_starts_at_the_current_period_without_from_start(redis_db, mailbox):
    alert_at(redis_db, utc(2026, 11, 28, 9, 0), 1)
    clock = Clock(utc(2026, 11, 30, 12, 0))
    assert digests(redis_db, mailbox, clock, from_start=False).tick() == 0 and mailbox.messages == []


def test_a_failing_digest_is_retried_then_a_refused_one_is_dead_lettered_and_the_cursor_moves_on(redis_db, mailbox):
    alert_at(redis_db, utc(2026, 11, 28, 9, 0), 1)
    alert_at(redis_db, utc(2026, 11, 29, 9, 0), 2)
    mailbox.data_replies = ["451 4.3.0 later", "554 5.7.1 refused"]
    clock = Clock(utc(2026, 11, 30, 12, 0))
    sender = digests(redis_db, mailbox, clock)
    assert sender.tick() == 2
    assert clock.sleeps == [0.5]  # the 451 was retried once, then got the 554
    [(_, dead)] = redis_db.xrange(DEADLETTER)
    assert dead["digest"] == "ns2:daily:20261128T0600Z" and dead["status"] == "554" and dead["channel"] == "email"
    assert "Message-ID: <digest.ns2.daily.20261128T0600Z@" in dead["message"]
    assert [m["Subject"].split(" — ")[1][:14] for m in mailbox.messages] == ["Sun 29 Nov 202"]
    assert (sender.sent, sender.dead) == (1, 1)
