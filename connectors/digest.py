"""Digests: a subscription's alerts of one period (an hour, a day, a week) as one message.

    schedule = DigestSchedule("daily", at="07:00", tz="Europe/Oslo")
    schedule.period_containing(now)     # (start, end) in UTC: yesterday 07:00 Oslo -> today 07:00 Oslo
    DigestDeliverer(client, "newsmon:alerts:ns2", "ns2", schedule, channel, state_key=..., consumer=...,
                    deadletter_stream="newsmon:deadletter").run(follow=True)

A period's alerts are the entries its alert stream got between the period's
start and end (stream ids are write times, Redis's clock), so a digest needs
no state of its own but a cursor: the start of the next period to send
(``<state_key>`` hash, field ``next``). When a period has ended (by Redis's
clock, so deliverers on several machines agree):

1. a deliverer claims it: ``SET <state_key>:claim:<start> <consumer> NX PX lease``;
   another deliverer that finds it claimed leaves it alone and looks again later;
2. it reads the period's alerts with one XRANGE; none: the cursor moves on and
   nothing is sent (an empty period sends nothing);
3. it sends the digest through the channel, with the retries, backoff and
   dead letters of connectors/delivery.py (the claim is extended while it waits);
4. one Lua script moves the cursor past the period (only if it is still there)
   and drops the claim; a digest that is dead-lettered moves it too, in the same script.

So each digest is sent once, whichever of several deliverers gets to it, and
across restarts (the cursor is in Redis). A deliverer killed in the middle of
a send leaves its claim to expire after ``lease`` seconds; another then sends
that digest; if the first send had in fact been accepted, the two copies carry
the same ``Message-ID`` (derived from the digest id). A deliverer that was
stopped for a while sends every period that ended meanwhile, in order.

A new cursor starts at the current period (``from_start``: at the period of the
oldest alert on the stream). Alerts trimmed from a capped stream before their
period ended are not in its digest.
"""

import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis

from connectors.alert_message import AlertView
from connectors.delivery import AlertDeliverer

__all__ = ["KINDS", "Digest", "DigestDeliverer", "DigestSchedule"]

_log = logging.getLogger(__name__)
KINDS = ("hourly", "daily", "weekly")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_LISTED = 200  # alerts listed in one digest; the rest are counted

_FINISH = """
-- KEYS: cursor hash, claim, dead-letter stream. ARGV: period start, next start, consumer, then field/value pairs.
if redis.call('HGET', KEYS[1], 'next') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'next', ARGV[2])
  if #ARGV > 3 then
    local record = {}
    for i = 4, #ARGV do record[#record + 1] = ARGV[i] end
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', 100000, '*', unpack(record))
  end
end
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def _millis(when):
    return int(when.timestamp() * 1000)


def _from_millis(millis):
    return datetime.fromtimestamp(int(millis) / 1000, tz=timezone.utc)


class DigestSchedule:
    """When periods start and end: hourly (at minute MM), daily at HH:MM, weekly on a day at HH:MM,
    in a time zone (local time: a daily digest at 07:00 Oslo stays at 07:00 across DST)."""

    def __init__(self, kind, *, at="00:00", tz="UTC", weekday="mon"):
        if kind not in KINDS:
            raise ValueError(f"--digest {kind!r}: expected one of {', '.join(KINDS)}")
        match = re.fullmatch(r"(?:(\d{1,2}))?:(\d{2})", at.strip())
        if not match or int(match.group(2)) > 59 or (match.group(1) and int(match.group(1)) > 23):
            raise ValueError(f"--at {at!r}: expected HH:MM (24-hour clock), e.g. 07:00")
        if kind != "hourly" and match.group(1) is None:
            raise ValueError(f"--at {at!r}: a {kind} digest needs HH:MM, e.g. 07:00")
        try:
            self.tz = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"--tz {tz!r}: unknown time zone (use a name like Europe/Oslo, America/New_York"
                             " or UTC)") from None
        if weekday not in WEEKDAYS:
            raise ValueError(f"--weekday {weekday!r}: expected one of {', '.join(WEEKDAYS)}")
        self.kind = kind
        self.hour = int(match.group(1) or 0)
        self.minute = int(match.group(2))
        self.weekday = WEEKDAYS.index(weekday)
        self.tz_name = tz

    def _local(self, day):
        return datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=self.tz)

    def period_containing(self, instant):
        """``(start, end)``, UTC datetimes, of the period ``instant`` falls in (start <= instant < end)."""
        instant = instant.astimezone(timezone.utc)
        if self.kind == "hourly":
            offset = int(instant.astimezone(self.tz).utcoffset().total_seconds() // 60)
            shift = timedelta(minutes=(self.minute - offset) % 60)
            start = (instant - shift).replace(minute=0, second=0, microsecond=0) + shift
            return start, start + timedelta(hours=1)
        local_day = instant.astimezone(self.tz).date()
        if self.kind == "daily":
            start_day = local_day if self._local(local_day) <= instant else local_day - timedelta(days=1)
            length = 1
        else:
            start_day = local_day - timedelta(days=(local_day.weekday() - self.weekday) % 7)
            if self._local(start_day) > instant:
                start_day -= timedelta(days=7)
            length = 7
        start = self._local(start_day)
        end = self._local(start_day + timedelta(days=length))
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)

    def label(self, start, end):
        """``Mon 30 Nov 2026 07:00 – Tue 1 Dec 07:00 (Europe/Oslo)``."""
        a, b = start.astimezone(self.tz), end.astimezone(self.tz)
        same_day = a.date() == b.date()
        return (f"{a:%a} {a.day} {a:%b %Y %H:%M} – {b:%H:%M}" if same_day else
                f"{a:%a} {a.day} {a:%b %Y %H:%M} – {b:%a} {b.day} {b:%b %H:%M}") + f" ({self.tz_name})"

    def describe(self):
        if self.kind == "hourly":
            return f"hourly at :{self.minute:02d}"
        day = f" on {WEEKDAYS[self.weekday]}" if self.kind == "weekly" else ""
        return f"{self.kind}{day} at {self.hour:02d}:{self.minute:02d} {self.tz_name}"


@dataclass
class StoryGroup:
    """One entry of a digest: a story (its alerts, the latest source count) or one article alert."""

    views: list

    @property
    def latest(self):
        return self.views[-1]

    @property
    def story(self):
        return self.latest.story if self.latest.kind in ("new", "update") else ""


class Digest:
    """The alerts of one period of one subscription, grouped by story, as text and HTML."""

    def __init__(self, subscription, schedule, start, end, entries):
        self.subscription = subscription
        self.schedule = schedule
        self.start = start
        self.end = end
        self.views = [AlertView.from_entry(entry_id, fields, subscription=subscription)
                      for entry_id, fields in entries]
        groups, by_story = [], {}
        for view in self.views:
            key = view.story if view.story and view.kind in ("new", "update") else None
            if key is None:
                groups.append(StoryGroup([view]))
            elif key in by_story:
                by_story[key].views.append(view)
            else:
                by_story[key] = StoryGroup([view])
                groups.append(by_story[key])
        self.groups = groups

    @property
    def digest_id(self):
        return f"{self.subscription}:{self.schedule.kind}:{self.start:%Y%m%dT%H%MZ}"

    @property
    def period(self):
        return self.schedule.label(self.start, self.end)

    @property
    def subject(self):
        stories = sum(1 for g in self.groups if g.story)
        counted = f"{len(self.views)} alert{'s' * (len(self.views) != 1)}"
        if stories:
            counted += f", {stories} stor{'ies' if stories != 1 else 'y'}"
        return f"[newsmon {self.subscription}] {self.schedule.kind} digest: {counted} — {self.period}"

    def _entry_lines(self, group):
        view = group.latest
        lines = [f"* {group.views[0].title if group.story else view.headline}"]
        if group.story:
            lines.append(f"  {view.story_line}" + (f" ({len(group.views)} alerts)" if len(group.views) > 1 else ""))
            if len(group.views) > 1:
                lines.append(f"  latest: {view.headline}")
        lines.append(f"  source: {view.source or '-'}")
        if view.evidence_line:
            lines.append(f"  evidence: {view.evidence_line}")
        if view.url:
            lines.append(f"  {view.url}")
        return lines

    def text(self):
        lines = [f"newsmon {self.schedule.kind} digest for {self.subscription}", self.period,
                 f"{len(self.views)} alert(s) in {len(self.groups)} entr{'ies' if len(self.groups) != 1 else 'y'}", ""]
        for group in self.groups[:_LISTED]:
            lines.extend(self._entry_lines(group))
            lines.append("")
        if len(self.groups) > _LISTED:
            lines.append(f"... and {len(self.groups) - _LISTED} more (newsmon alerts show {self.subscription})")
        return "\n".join(lines).rstrip() + "\n"

    def html(self):
        import html

        e = html.escape
        parts = [f"<h2>newsmon {e(self.schedule.kind)} digest for {e(self.subscription)}</h2>",
                 f"<p>{e(self.period)} &middot; {len(self.views)} alert(s)</p>"]
        for group in self.groups[:_LISTED]:
            view = group.latest
            body = view.html()
            if group.story and len(group.views) > 1:
                body += f"\n<p>{len(group.views)} alerts on this story; first: {e(group.views[0].title)}</p>"
            parts.append(f"<div class=\"entry\">\n{body}\n</div>\n<hr>")
        if len(self.groups) > _LISTED:
            parts.append(f"<p>... and {len(self.groups) - _LISTED} more</p>")
        return "\n".join(parts)


class DigestDeliverer:
    """Sends each ended period's digest once (see the module docstring)."""

    def __init__(self, client, stream, subscription, schedule, channel, *, state_key, consumer, deadletter_stream,
                 from_start=False, lease_seconds=60.0, clock=None, sleep=None, **send_options):
        self.client = client
        self.stream = stream
        self.subscription = subscription
        self.schedule = schedule
        self.channel = channel
        self.state_key = state_key
        self.consumer = consumer
        self.deadletter_stream = deadletter_stream
        self.from_start = from_start
        self.lease_ms = max(1000, int(lease_seconds * 1000))
        self._stopped = threading.Event()
        self._sleep = sleep or self._stopped.wait
        self._clock = clock or self._redis_time
        self._sender = AlertDeliverer(None, channel, deadletter_stream=deadletter_stream, sleep=self._sleep,
                                      **send_options)
        self._finish = client.register_script(_FINISH)
        self._extend = client.register_script(_EXTEND)
        self.sent = self.empty = self.dead = self.alerts_sent = 0

    def stop(self):
        self._stopped.set()
        self._sender.stop()

    @property
    def stopping(self):
        return self._stopped.is_set()

    def _redis_time(self):
        seconds, micros = self.client.time()
        return datetime.fromtimestamp(seconds + micros / 1e6, tz=timezone.utc)

    def _text(self, value):
        return value.decode() if isinstance(value, bytes) else value

    def cursor(self, now):
        """The start (UTC) of the next period to send; set on first use."""
        current = self.client.hget(self.state_key, "next")
        if current is None:
            first = now
            if self.from_start:
                oldest = self.client.xrange(self.stream, count=1)
                if oldest:
                    first = min(now, _from_millis(self._text(oldest[0][0]).split("-")[0]))
            start, _end = self.schedule.period_containing(first)
            self.client.hsetnx(self.state_key, "next", _millis(start))
            self.client.hsetnx(self.state_key, "schedule", self.schedule.describe())
            current = self.client.hget(self.state_key, "next")
        return _from_millis(self._text(current))

    def tick(self, now=None):
        """Send the digests of every period that has ended by ``now``; returns how many periods
        were settled (sent, empty or dead-lettered). Stops at a period another deliverer holds."""
        settled = 0
        while not self.stopping:
            now = now or self._clock()
            start = self.cursor(now)
            _start, end = self.schedule.period_containing(start)
            if end > now:
                break
            outcome = self._settle(start, end)
            if outcome in ("busy", "stopped"):
                break
            settled += outcome != "done"
        return settled

    def next_due(self, now):
        """When the next period ends (a follower sleeps until then)."""
        return self.schedule.period_containing(self.cursor(now))[1]

    def _claim_key(self, start):
        return f"{self.state_key}:claim:{_millis(start)}"

    def _settle(self, start, end):
        claim = self._claim_key(start)
        if not self.client.set(claim, self.consumer, nx=True, px=self.lease_ms):
            return "busy"
        start_ms, end_ms = _millis(start), _millis(end)
        finished = False
        try:
            if self._text(self.client.hget(self.state_key, "next")) != str(start_ms):
                return "done"  # another deliverer settled it between our look and our claim
            entries = self.client.xrange(self.stream, min=str(start_ms), max=str(end_ms - 1))
            entries = [(self._text(i), {self._text(k): self._text(v) for k, v in f.items()}) for i, f in entries]
            if not entries:
                self._finish(keys=[self.state_key, claim, self.deadletter_stream],
                             args=[start_ms, end_ms, self.consumer])
                finished = True
                self.empty += 1
                return "empty"
            digest = Digest(self.subscription, self.schedule, start, end, entries)
            message = self.channel.digest_message(digest)
            outcome, result, attempts, reason = self._sender.send_until_done(
                message, while_waiting=lambda seconds: self._extend(
                    keys=[claim], args=[self.consumer, int(seconds * 1000) + self.lease_ms]))
            if outcome == "stopped":
                return "stopped"
            record = []
            if outcome == "dead":
                _log.warning("newsmon: %s digest %s not delivered to %s %s: %s; moved to %s", self.schedule.kind,
                             digest.digest_id, self.channel.kind, self.channel.target, reason, self.deadletter_stream)
                fields = self._sender.dead_letter_record(
                    origin=f"{self.stream}/{start_ms}-0..{end_ms - 1}", alert_id=digest.digest_id,
                    subscription=self.subscription, article_id="", message=message, result=result, error=reason,
                    attempts=attempts)
                fields["digest"] = digest.digest_id
                record = [item for pair in fields.items() for item in pair]
            self._finish(keys=[self.state_key, claim, self.deadletter_stream],
                         args=[start_ms, end_ms, self.consumer, *record])
            finished = True
            if outcome == "dead":
                self.dead += 1
                return "dead"
            self.sent += 1
            self.alerts_sent += len(entries)
            return "sent"
        finally:
            if not finished:
                self._release(claim)

    def _release(self, claim):
        try:
            if self._text(self.client.get(claim)) == self.consumer:
                self.client.delete(claim)
        except redis.RedisError:
            pass  # it expires on its own

    def run(self, *, follow=False, slice_seconds=1.0):
        """Settle every ended period; with ``follow``, keep doing so as periods end, until stop()."""
        failing = False
        while not self.stopping:
            try:
                self.tick()
                wait = (self.next_due(self._clock()) - self._clock()).total_seconds()
                if failing:
                    _log.warning("newsmon: Redis is back")
                    failing = False
            except (redis.ConnectionError, redis.TimeoutError) as error:
                if not follow:
                    raise
                if not failing:
                    _log.warning("newsmon: Redis unreachable (%s); waiting for it to come back", error)
                    failing = True
                wait = 1.0
            if not follow:
                return
            self._sleep(max(0.05, min(wait, slice_seconds)))

