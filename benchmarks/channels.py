"""Delivery channels: emails/s to a local SMTP server, notifications/s, digest and Atom feed build times.

    python -m benchmarks.channels [--alerts 1000] [--repeats 3]

One run, on the machine it runs on, with a private ``redis-server`` and an
aiosmtpd SMTP server (tests/smtp_server.py) on free ports of 127.0.0.1:

1. email, as it happens: ``--alerts`` alerts on a stream, delivered by
   ``AlertDeliverer`` + ``EmailChannel`` (read with a consumer group, one
   multipart message built per alert, sent over one kept-open connection,
   acked): wall time for all, emails/s; plain SMTP, and STARTTLS + AUTH.
   Baseline: the same messages, prebuilt, sent with smtplib's
   ``send_message`` over one connection (the SMTP conversation alone).
2. chat: the same alerts through ``NotifyChannel`` (apprise json://) to a
   local HTTP receiver; baseline: httpx POSTs of the same JSON bodies.
3. digest: CPU seconds to build one digest of ``--alerts`` alerts (grouped by
   story, text + HTML, the email message), from the XRANGE reply.
4. Atom feed: CPU seconds to build the feed of the latest 50 alerts and of
   ``--alerts`` alerts (feedgen), read from Redis.

Wall figures are medians of ``--repeats``; CPU figures (``cpu_seconds``:
this process, the collector off) too. Prints one table.
"""

import argparse
import json
import smtplib
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import redis

from benchmarks.common import Figures, cpu_seconds, print_figures, progress, quiet_logging, start_redis

__all__ = ["main"]

STREAM = "newsmon:alerts:bench"
SENTENCE = "Officials said the naval exercise in the Barents Sea would continue through the week, with allied ships."


def alert_fields(i):
    story = f"story{i % 40:03d}"
    return {"subscription": "bench", "id": f"a{i}", "title": f"Naval exercise in the Barents Sea, report {i}",
            "url": f"https://news.example/{i}", "source": f"source{i % 7}.example",
            "published": "2026-11-30T07:30:00Z", "alert": "new" if i % 3 else "article", "story": story,
            "story_sources": str(2 + i % 5), "story_articles": str(3 + i % 9),
            "topics": json.dumps([{"id": "arctic_militarization", "evidence": [SENTENCE]}]),
            "terms": json.dumps(["barents sea", "naval", "exercise"]), "evidence": json.dumps([SENTENCE]),
            "entities": "[]"}


def fill(client, alerts):
    client.delete(STREAM)
    pipe = client.pipeline(transaction=False)
    for i in range(alerts):
        pipe.xadd(STREAM, alert_fields(i))
    pipe.execute()


def deliver_all(client, channel, group):
    from connectors.alert_consumer import AlertReader
    from connectors.delivery import AlertDeliverer

    reader = AlertReader(client, STREAM, group=group, consumer="bench", from_start=True)
    deliverer = AlertDeliverer(reader, channel, deadletter_stream="newsmon:deadletter")
    started = time.perf_counter()
    deliverer.run()
    elapsed = time.perf_counter() - started
    if deliverer.delivered != client.xlen(STREAM):
        raise SystemExit(f"delivered {deliverer.delivered} of {client.xlen(STREAM)}")
    return elapsed


def measure(args):
    from connectors.atom_feed import subscription_feed
    from connectors.digest import Digest, DigestSchedule
    from connectors.email_delivery import EmailChannel, smtp_config
    from connectors.notify import NotifyChannel
    from connectors.redis_streams import RedisKeys
    from connectors.webhook import alert_payload
    from tests.connectors.test_webhook import Receiver
    from tests.smtp_server import SmtpServer

    figures = Figures()
    n = args.alerts
    with tempfile.TemporaryDirectory() as directory:
        server = start_redis(directory)
        plain = SmtpServer(Path(directory), require_starttls=False).start()
        secure_dir = Path(directory) / "tls"
        secure_dir.mkdir()
        secure = SmtpServer(secure_dir, users={"bench": "bench-pass"}).start()
        receiver = Receiver()
        client = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            fill(client, n)
            entries = client.xrange(STREAM)
            runs = {"plain": [], "starttls": [], "raw": [], "notify": [], "httpx": []}
            for repeat in range(args.repeats):
                progress(f"repeat {repeat + 1} of {args.repeats}")
                plain.messages.clear()
                channel = EmailChannel(smtp_config(plain.url), to=["desk@example.org"], sender="newsmon@example.org")
                runs["plain"].append(deliver_all(client, channel, f"plain{repeat}"))
                channel.close()
                secure.messages.clear()
                config = smtp_config(secure.url.replace("://", "://bench@"), starttls=True, password="bench-pass",
                                     cafile=str(secure.cafile))
                channel = EmailChannel(config, to=["desk@example.org"], sender="newsmon@example.org")
                runs["starttls"].append(deliver_all(client, channel, f"tls{repeat}"))
                channel.close()
                messages = [channel.message(alert_payload(i, f)) for i, f in entries]
                plain.messages.clear()
                started = time.perf_counter()
                with smtplib.SMTP("127.0.0.1", plain.port) as smtp:
                    for message in messages:
                        smtp.send_message(message, from_addr="newsmon@example.org", to_addrs=["desk@example.org"])
                runs["raw"].append(time.perf_counter() - started)
                if len(plain.messages) != n:
                    raise SystemExit(f"raw: {len(plain.messages)} of {n} arrived")
                receiver.received.clear()
                notify = NotifyChannel(receiver.url.replace("http://", "json://"))
                runs["notify"].append(deliver_all(client, notify, f"notify{repeat}"))
                import httpx

                bodies = [notify.message(alert_payload(i, f)) for i, f in entries]
                started = time.perf_counter()
                with httpx.Client() as http:
                    for body in bodies:
                        http.post(receiver.url, json=body).raise_for_status()
                runs["httpx"].append(time.perf_counter() - started)
            for name, what in (("plain", "email, plain SMTP (deliverer)"),
                               ("starttls", "email, STARTTLS + AUTH (deliverer)"),
                               ("raw", "baseline: smtplib send_message, prebuilt"),
                               ("notify", "chat, apprise json:// (deliverer)"),
                               ("httpx", "baseline: httpx POST, prebuilt")):
                seconds = statistics.median(runs[name])
                figures.add("sending", f"{what}: per second", f"{n / seconds:,.0f}")
                figures.add("sending", f"{what}: ms each", f"{seconds / n * 1000:.2f}")
            schedule = DigestSchedule("daily", at="07:00", tz="Europe/Oslo")
            start, end = schedule.period_containing(datetime.now(timezone.utc))

            def build_digest():
                digest = Digest("bench", schedule, start, end, client.xrange(STREAM))
                channel.digest_message(digest).as_bytes()

            digest_cpu = statistics.median(cpu_seconds(build_digest) for _ in range(args.repeats))
            figures.add("digest", f"build one digest of {n} alerts (XRANGE, text+HTML, message): ms",
                        f"{digest_cpu * 1000:.1f}")
            keys = RedisKeys()
            for count in (50, n):
                cpu = statistics.median(cpu_seconds(lambda c=count: subscription_feed(client, keys, "bench", count=c))
                                        for _ in range(args.repeats))
                figures.add("atom feed", f"build the feed of {count} alerts: ms", f"{cpu * 1000:.1f}")
        finally:
            receiver.server.shutdown()
            plain.stop()
            secure.stop()
            client.close()
            server.stop()
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.channels", description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000, help="alerts per measurement (default: 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="medians of this many runs (default: 3)")
    args = parser.parse_args(argv)
    quiet_logging()
    started = datetime.now(timezone.utc)
    figures = measure(args)
    import aiosmtpd
    import apprise
    import feedgen.version

    versions = (f"aiosmtpd {aiosmtpd.__version__}, apprise {apprise.__version__},"
                f" feedgen {feedgen.version.version_str}")
    print_figures("Delivery channels (benchmarks/channels.py)", versions, figures,
                  f"python -m benchmarks.channels --alerts {args.alerts} --repeats {args.repeats}", started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
