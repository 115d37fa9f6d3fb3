"""Latency, memory and idle CPU of ``newsmon monitor`` against a local feed server.

    python -m benchmarks.monitor [--minutes 10] [--interval 5] [--skip-unfixed]

One run, on the machine it runs on, with a private ``redis-server`` on a free
port of 127.0.0.1 (never 6379) and an RSS feed served from this process on
127.0.0.1:

1. ``newsmon monitor FEEDLIST --interval 5 --allow-private --redis URL`` runs
   as a subprocess (``python -m pipeline.cli monitor ...``) with one stored
   subscription, ``bench`` (any of: "nord stream"), that every generated item
   matches. The feed starts with one item; once its alert is on
   ``newsmon:alerts:bench`` the measured run starts (``--minutes``, default 10).
   New items appear in the feed at random gaps of 0.4-1.6 intervals
   (``random.Random(7)``), the time each appeared recorded; the feed lists the
   newest 20 items and answers ``If-None-Match`` with 304, like most real
   feeds. A thread here reads the alert stream with ``XREAD BLOCK``; an item's
   latency is from the moment it appeared in the feed to the time in the ID
   of its alert's stream entry (the Redis server's clock, the same machine).
2. The resident memory of the monitor process (its children included) is
   sampled every 10 s: at the first alert, at the end, and the growth per
   minute as the least-squares slope over the samples after the first
   2 minutes of the measured run.
3. The last 2 minutes (a quarter of shorter runs) publish nothing: the
   monitor's CPU time over that stretch (psutil ``cpu_times``, children
   included), as a percentage of one core.
4. Unless ``--skip-unfixed``: a short second run (2.5 minutes after its first
   alert, stopped early if its memory grows by more than 1 GB) of the same
   command with the local-runner fixes disabled: a ``python -c`` that
   replaces ``pipeline.monitor.apply_local_runner_fixes`` with a no-op and
   then runs ``pipeline.cli.main`` with the same arguments, so the graph and
   its RunConfig are exactly cmd_monitor's. It publishes nothing after its
   first alert: memory growth and idle CPU over the whole of it. The
   subprocess reports whether the runner was patched, so the table shows that
   the switch worked.

Prints one plain table (figure, value, target, met?) with the command, the
core count and the date.
"""

import argparse
import math
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
import redis

from benchmarks.common import FeedItem, LiveFeed, start_redis
from connectors.redis_streams import RedisKeys
from connectors.subscription_store import SubscriptionStore

ROOT = Path(__file__).resolve().parent.parent
SEED = 7
SUBSCRIPTION = "bench"
RULE = {"any": ["nord stream"]}
FEED_WINDOW = 20  # items the feed lists, newest first
SAMPLE_SECONDS = 10.0
SLOPE_AFTER_SECONDS = 120.0
IDLE_SECONDS = 120.0
FIRST_ALERT_TIMEOUT = 300.0
UNFIXED_SECONDS = 150.0
UNFIXED_SAMPLE_SECONDS = 5.0
UNFIXED_MAX_GROWTH = 1024 * 1024 * 1024
TARGET_GROWTH_MB_MIN = 1.0
TARGET_IDLE_CPU = 5.0
TARGET_EXIT_SECONDS = 10.0
MB = 1024 * 1024

# The monitor command with the local-runner fixes switched off: the same cmd_monitor -> run_monitor,
# with the name run_monitor calls replaced. A thread reports whether the runner got patched anyway.
UNFIXED_SCRIPT = """
import sys, threading, time
import pipeline.monitor
pipeline.monitor.apply_local_runner_fixes = lambda: False
from apache_beam.runners.portability.fn_api_runner import fn_runner
def report():
    time.sleep(15)
    patched = hasattr(fn_runner.FnApiRunner._execute_bundle, "newsmon_fix") or hasattr(
        fn_runner.consolidate_monitoring_infos, "newsmon_fix")
    print(f"bench-check: local-runner fixes applied: {patched}", file=sys.stderr, flush=True)
threading.Thread(target=report, daemon=True).start()
from pipeline.cli import main
sys.exit(main(sys.argv[1:]))
"""

# --- the feed -------------------------------------------------------------------

SUBJECTS = ["Gazprom", "Germany", "The European Commission", "Denmark", "Sweden", "The operator",
            "Investigators", "Engineers", "Insurers", "Regulators", "Poland", "The Kremlin"]
VERBS = ["reviews", "halts", "resumes", "inspects", "reports on", "questions", "delays", "approves",
         "disputes", "suspends", "funds", "audits"]
OBJECTS = ["gas flows", "repairs", "certification", "sanctions", "maintenance", "insurance claims",
           "a pressure drop", "the damaged section", "turbine deliveries", "transit fees"]
CITIES = ["Berlin", "Copenhagen", "Stockholm", "Moscow", "Brussels", "Warsaw", "Lubmin", "Vyborg",
          "Helsinki", "Gdansk"]
PEOPLE = ["Olaf Scholz", "Ursula von der Leyen", "Alexei Miller", "Mette Frederiksen", "Ulf Kristersson",
          "Robert Habeck", "Kadri Simson", "Dmitry Peskov"]
SENTENCES = [
    "{city} said on {day} that work on the Nord Stream pipeline would take at least {n} more weeks.",
    "{person} told reporters in {city} that the decision was technical, not political.",
    "Gas prices in Europe rose {n} percent after the announcement, traders said.",
    "The Nord Stream consortium declined to comment on the report.",
    "Officials in {city} said {n} inspectors had been sent to the site.",
    "{person} said the government was studying every option for the winter.",
    "Analysts said flows through Nord Stream had fallen to a fifth of capacity since {day}.",
    "A spokesperson for {person} said talks would continue in {city} next week.",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass
class Item(FeedItem):
    """A feed item with its bulletin number (the alert watcher reads it back from the title)."""

    number: int = 0


def make_item(rng, number):
    title = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} at Nord Stream, bulletin {number}"
    sentences = rng.sample(SENTENCES, rng.randint(3, 5))
    text = " ".join(s.format(city=rng.choice(CITIES), person=rng.choice(PEOPLE), day=rng.choice(DAYS),
                             n=rng.randint(2, 40)) for s in sentences)
    return Item(f"urn:newsmon-bench:{number}", title, text, link=f"https://news.example/bench/{number}",
                number=number)


# --- watching the alert stream and the monitor process -------------------------------


class AlertWatcher:
    """Reads ``newsmon:alerts:<sub>`` with XREAD BLOCK; per item number, the times of its alerts
    (from the entry IDs, the Redis server's clock)."""

    _NUMBER = re.compile(r"bulletin (\d+)$")

    def __init__(self, url, stream):
        self._client = redis.Redis.from_url(url, decode_responses=True)
        self._stream = stream
        self._last = "0-0"
        self.alerts = {}  # item number -> [epoch seconds, ...]
        self.unknown = 0
        self.changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-watcher", daemon=True)
        self._thread.start()

    def _number(self, fields):
        link = fields.get("url", "")
        if link.startswith("https://news.example/bench/"):
            return int(link.rsplit("/", 1)[1])
        found = self._NUMBER.search(fields.get("title", ""))
        return int(found.group(1)) if found else None

    def _run(self):
        while not self._stop.is_set():
            try:
                replies = self._client.xread({self._stream: self._last}, count=100, block=1000)
            except redis.ConnectionError:
                time.sleep(0.2)
                continue
            for _stream, entries in replies or ():
                with self.changed:
                    for entry_id, fields in entries:
                        self._last = entry_id
                        number = self._number(fields)
                        if number is None:
                            self.unknown += 1
                            continue
                        self.alerts.setdefault(number, []).append(int(entry_id.split("-")[0]) / 1000)
                    self.changed.notify_all()

    def wait_for(self, number, timeout):
        """The first alert time of item ``number``, or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while number not in self.alerts:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(min(left, 1.0))
            return self.alerts[number][0]

    def reset(self):
        with self.changed:
            self.alerts, self.unknown, self._last = {}, 0, "0-0"

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self._client.close()


def _tree(process):
    try:
        return [process] + process.children(recursive=True)
    except psutil.Error:
        return [process]


def tree_usage(process):
    """(resident bytes, CPU seconds) of ``process`` and its children."""
    rss = cpu = 0.0
    for member in _tree(process):
        try:
            rss += member.memory_info().rss
            times = member.cpu_times()
            cpu += times.user + times.system
        except psutil.Error:
            pass
    return rss, cpu


class Sampler:
    """Samples (time, RSS, CPU seconds) of a process tree every ``every`` seconds in a thread."""

    def __init__(self, pid, every):
        self.process = psutil.Process(pid)
        self.every = every
        self.samples = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def sample(self):
        rss, cpu = tree_usage(self.process)
        point = (time.time(), rss, cpu)
        with self._lock:
            self.samples.append(point)
        return point

    def _run(self):
        while not self._stop.is_set():
            if not self.process.is_running():
                return
            self.sample()
            self._stop.wait(self.every)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)


# --- the figures --------------------------------------------------------------------


def percentile(values, fraction):
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def slope_per_minute(points):
    """Least-squares slope of (seconds, bytes) points, in MB per minute."""
    if len(points) < 2:
        return float("nan")
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return float("nan")
    cov = sum((t - mean_t) * (y - mean_y) for t, y in points)
    return cov / var * 60 / MB


@dataclass
class Table:
    rows: list = field(default_factory=list)  # (figure, value, target, met)

    def add(self, figure, value, target="", met=None):
        self.rows.append((figure, value, target, "" if met is None else ("yes" if met else "NO")))


def _progress(message):
    print(f"benchmarks.monitor {time.strftime('%H:%M:%S')}: {message}", file=sys.stderr, flush=True)


def _tail(path, lines=30):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop_process(process, sig=signal.SIGTERM, timeout=15.0):
    """Send ``sig`` and wait; SIGKILL if it does not exit. Returns (exit code, seconds to exit)."""
    if process.poll() is not None:
        return process.returncode, 0.0
    started = time.monotonic()
    process.send_signal(sig)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait(timeout=10)
    return code, time.monotonic() - started


def _monitor_args(feedlist, interval, redis_url):
    return ["monitor", str(feedlist), "--interval", f"{interval:g}", "--allow-private", "--redis", redis_url]


def _start(argv, log_path):
    log = open(log_path, "w")  # noqa: SIM115 - the child writes it until it exits
    process = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    log.close()
    return process


def _wait_first_alert(watcher, number, process, log_path, timeout=FIRST_ALERT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = watcher.wait_for(number, 1.0)
        if found is not None:
            return found
        if process.poll() is not None:
            raise RuntimeError(f"the monitor exited with {process.returncode}:\n{_tail(log_path)}")
    raise RuntimeError(f"no alert within {timeout:g} s of the monitor's start:\n{_tail(log_path)}")


def run_fixed(table, *, feed, server, watcher, feedlist, interval, minutes, rng, directory):
    """The measured run of ``newsmon monitor``: latency, memory, idle CPU, stop."""
    total = minutes * 60.0
    idle = min(IDLE_SECONDS, total / 4)
    settle = 2 * interval + 10  # the last item's alert lands before the idle stretch starts
    publish_until = total - idle - settle
    log_path = Path(directory) / "monitor.log"
    command = [sys.executable, "-m", "pipeline.cli", *_monitor_args(feedlist, interval, server.url)]
    items = [make_item(rng, 0)]
    feed.publish(items[0])
    _progress(f"starting the monitor (log: {log_path})")
    launched = time.time()
    process = _start(command, log_path)
    sampler = Sampler(process.pid, SAMPLE_SECONDS)
    try:
        first = _wait_first_alert(watcher, 0, process, log_path)
        t0 = time.time()
        rss_start = sampler.sample()[1]
        table.add("first alert after the monitor started (model load included)", f"{first - launched:.1f} s")
        _progress(f"first alert after {first - launched:.1f} s; measuring for {minutes:g} min "
                  f"(publishing for {publish_until / 60:.1f} min, then idle)")
        cpu_publish_start = tree_usage(sampler.process)[1]
        next_at = t0 + rng.uniform(0.4 * interval, 1.6 * interval)
        while next_at < t0 + publish_until:
            time.sleep(max(0.0, next_at - time.time()))
            if process.poll() is not None:
                raise RuntimeError(f"the monitor exited with {process.returncode}:\n{_tail(log_path)}")
            item = make_item(rng, len(items))
            feed.publish(item)
            items.append(item)
            next_at += rng.uniform(0.4 * interval, 1.6 * interval)
        _progress(f"published {len(items) - 1} items; waiting for the idle stretch")
        idle_start = t0 + total - idle
        time.sleep(max(0.0, idle_start - time.time()))
        cpu_publish = tree_usage(sampler.process)[1] - cpu_publish_start
        wall_publish = time.time() - t0
        cpu_idle_start = tree_usage(sampler.process)[1]
        idle_wall_start = time.time()
        _progress(f"idle stretch: {idle:.0f} s, nothing published")
        time.sleep(max(0.0, t0 + total - time.time()))
        rss_end_point = sampler.sample()
        cpu_idle = rss_end_point[2] - cpu_idle_start
        idle_wall = time.time() - idle_wall_start
        sampler.stop()
        code, stop_seconds = _stop_process(process)
    finally:
        sampler.stop()
        if process.poll() is None:
            process.kill()
            process.wait()

    # Latency: every item published after the first alert.
    measured = items[1:]
    latencies, missing, duplicates = [], [], 0
    for item in measured:
        times = watcher.alerts.get(item.number)
        if not times:
            missing.append(item.number)
            continue
        duplicates += len(times) - 1
        latencies.append(times[0] - item.appeared)
    duplicates += max(0, len(watcher.alerts.get(0, ())) - 1)
    aim = interval + 2
    table.add("items published after the first alert", f"{len(measured)}")
    table.add("items alerted (missing / alerted twice)", f"{len(latencies)} ({len(missing)} / {duplicates})",
              "all, once", not missing and not duplicates and bool(measured))
    if latencies:
        p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
        table.add("latency item appeared -> alert, p50", f"{p50:.2f} s")
        table.add("latency item appeared -> alert, p95", f"{p95:.2f} s", f"< {aim:g} s", p95 < aim)
        table.add("latency item appeared -> alert, max", f"{max(latencies):.2f} s")
        table.add("latency item appeared -> alert, min", f"{min(latencies):.2f} s")
    polls = feed.status_counts[200] + feed.status_counts[304]
    duration = time.time() - launched
    table.add("feed GETs (200 / 304), mean gap", f"{polls} ({feed.status_counts[200]} / "
              f"{feed.status_counts[304]}), {duration / max(polls, 1):.2f} s")

    # Memory: samples after the first 2 minutes of the measured run (a fifth of shorter runs).
    slope_after = min(SLOPE_AFTER_SECONDS, total / 5)
    points = [(t - t0, r) for t, r, _ in sampler.samples if t - t0 >= slope_after]
    growth = slope_per_minute(points)
    table.add("RSS at start (after the first alert)", f"{rss_start / MB:.1f} MB")
    table.add(f"RSS after {minutes:g} min", f"{rss_end_point[1] / MB:.1f} MB")
    table.add(f"RSS growth/min (slope of {len(points)} samples after {slope_after / 60:g} min)",
              f"{growth:+.2f} MB/min",
              f"< {TARGET_GROWTH_MB_MIN:g} MB/min", growth < TARGET_GROWTH_MB_MIN)
    peak = max(r for _, r, _ in sampler.samples)
    table.add("RSS peak (10 s samples)", f"{peak / MB:.1f} MB")

    # CPU.
    table.add(f"CPU while publishing ({wall_publish / 60:.1f} min, one item per ~{interval:g} s)",
              f"{100 * cpu_publish / wall_publish:.1f} % of a core")
    idle_cpu = 100 * cpu_idle / idle_wall
    table.add(f"idle CPU (last {idle_wall:.0f} s, nothing published)", f"{idle_cpu:.1f} % of a core",
              f"< {TARGET_IDLE_CPU:g} %", idle_cpu < TARGET_IDLE_CPU)
    table.add("SIGTERM -> exit", f"exit {code} in {stop_seconds:.1f} s", f"exit 0, < {TARGET_EXIT_SECONDS:g} s",
              code == 0 and stop_seconds < TARGET_EXIT_SECONDS)
    return {"growth": growth, "idle_cpu": idle_cpu, "latencies": latencies, "samples": sampler.samples, "t0": t0}


def run_unfixed(table, *, feed, server, watcher, feedlist, interval, rng, directory, seconds=UNFIXED_SECONDS):
    """The same command with the local-runner fixes off: memory growth and idle CPU, briefly."""
    server.client.flushall()
    SubscriptionStore(server.client, RedisKeys()).add(SUBSCRIPTION, RULE)
    watcher.reset()
    feed.reset()
    item = make_item(rng, 100_000)
    feed.publish(item)
    log_path = Path(directory) / "monitor-unfixed.log"
    command = [sys.executable, "-c", UNFIXED_SCRIPT, *_monitor_args(feedlist, interval, server.url)]
    _progress(f"starting the monitor with the local-runner fixes off (log: {log_path})")
    process = _start(command, log_path)
    sampler = Sampler(process.pid, UNFIXED_SAMPLE_SECONDS)
    stopped_early = ""
    try:
        _wait_first_alert(watcher, item.number, process, log_path)
        time.sleep(10)  # let the first alert's work finish before the idle measurement
        t0, rss_start, cpu_start = sampler.sample()
        _progress(f"fixes off: measuring for up to {seconds:g} s, nothing published")
        while time.time() - t0 < seconds:
            time.sleep(1.0)
            if process.poll() is not None:
                raise RuntimeError(f"the unpatched monitor exited with {process.returncode}:\n{_tail(log_path)}")
            rss = tree_usage(sampler.process)[0]
            if rss - rss_start > UNFIXED_MAX_GROWTH:
                stopped_early = f" (stopped early: +{(rss - rss_start) / MB:.0f} MB)"
                break
        t_end, rss_end, cpu_end = sampler.sample()
        sampler.stop()
        _stop_process(process, signal.SIGKILL)
    finally:
        sampler.stop()
        if process.poll() is None:
            process.kill()
            process.wait()
    log = Path(log_path).read_text(errors="replace")
    checked = re.search(r"bench-check: local-runner fixes applied: (\w+)", log)
    points = [(t - t0, r) for t, r, _ in sampler.samples if t >= t0]
    growth = slope_per_minute(points)
    idle_cpu = 100 * (cpu_end - cpu_start) / (t_end - t0)
    table.add("fixes off: runner patched? (reported by the subprocess)",
              checked.group(1) if checked else "not reported", "False", bool(checked) and checked.group(1) == "False")
    table.add(f"fixes off: RSS {rss_start / MB:.0f} -> {rss_end / MB:.0f} MB over {(t_end - t0):.0f} s"
              f"{stopped_early}", f"{(rss_end - rss_start) / MB:+.0f} MB")
    table.add(f"fixes off: RSS growth/min (slope of {len(points)} samples)", f"{growth:+.1f} MB/min",
              f"(fixes on: < {TARGET_GROWTH_MB_MIN:g})")
    table.add(f"fixes off: idle CPU ({t_end - t0:.0f} s)", f"{idle_cpu:.1f} % of a core",
              f"(fixes on: < {TARGET_IDLE_CPU:g} %)")


def print_table(table, command, started):
    import apache_beam

    print()
    print(f"newsmon monitor bench   {started:%Y-%m-%d %H:%M %Z}")
    print(f"command         {command}")
    print(f"machine         {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()},"
          f" apache-beam {apache_beam.__version__}, psutil {psutil.__version__}")
    print(f"load average    {' / '.join(f'{x:.2f}' for x in os.getloadavg())} (1 / 5 / 15 min, at the end;"
          " other processes skew the figures)")
    print()
    header = ("figure", "value", "target", "met?")
    widths = [max(len(str(row[i])) for row in [header, *table.rows]) for i in range(4)]
    for row in [header, *table.rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.monitor", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="measured run after the first alert (default: 10)")
    parser.add_argument("--interval", type=float, default=5.0, help="monitor --interval in seconds (default: 5)")
    parser.add_argument("--skip-unfixed", action="store_true", help="skip the run with the local-runner fixes off")
    parser.add_argument("--unfixed-minutes", type=float, default=UNFIXED_SECONDS / 60,
                        help="length of the run with the fixes off, after its first alert (default: %(default)g)")
    args = parser.parse_args(argv)
    if args.minutes < 1:
        parser.error("--minutes must be at least 1")
    if not args.interval > 0:
        parser.error("--interval must be positive")
    started = datetime.now().astimezone()
    command = " ".join(["python -m benchmarks.monitor", *(sys.argv[1:] if argv is None else argv)])
    table = Table()
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-monitor-") as directory:
        server = start_redis(directory)
        feed = LiveFeed(title="Bench wire", window=FEED_WINDOW)
        watcher = None
        try:
            feedlist = Path(directory) / "feeds.txt"
            feedlist.write_text(feed.url + "\n", encoding="utf-8")
            SubscriptionStore(server.client, RedisKeys()).add(SUBSCRIPTION, RULE)
            watcher = AlertWatcher(server.url, RedisKeys().alerts(SUBSCRIPTION))
            _progress(f"redis-server on {server.url}, feed on {feed.url}")
            common = dict(feed=feed, server=server, watcher=watcher, feedlist=feedlist, interval=args.interval,
                          rng=rng, directory=directory)
            run_fixed(table, minutes=args.minutes, **common)
            if not args.skip_unfixed:
                run_unfixed(table, seconds=args.unfixed_minutes * 60, **common)
        finally:
            if watcher is not None:
                watcher.stop()
            feed.stop()
            server.stop()
    print_table(table, command, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
