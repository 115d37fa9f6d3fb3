"""What every benchmark shares: a private Redis server, CPU accounting, the printed tables.

Each benchmark prints one table headed by the date, the command, the machine
and its load average: figures from one run, each beside its baseline, so a
busy neighbour on a shared machine moves both.
"""

import gc
import logging
import os
import platform
import sys
import threading
import time
from dataclasses import dataclass, field

from tests.servers import FeedItem, LiveFeed, RedisServer, free_port

__all__ = ["FeedItem", "Figures", "LiveFeed", "ProcessCpu", "RedisServer", "cpu_seconds", "free_port",
           "load_average", "print_figures", "print_target_table", "progress", "quiet_logging",
           "start_redis"]


def start_redis(directory):
    """A throw-away redis-server on a free port of 127.0.0.1 (tests/servers.py), started."""
    return RedisServer(directory).start()


@dataclass
class Figures:
    """Every figure of a run, in the order printed: (section, what, value)."""

    rows: list = field(default_factory=list)

    def add(self, section, what, value):
        self.rows.append((section, what, value))


def cpu_seconds(work):
    """CPU seconds of this process that ``work()`` takes with the garbage collector off
    (as timeit measures: on a shared machine wall time mostly measures the neighbours)."""
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        work()
        return time.process_time() - start
    finally:
        gc.enable()


class ProcessCpu:
    """CPU seconds of this process and of each child process (except ``excluded`` pids) while
    a block runs, sampled every 0.2 s; a child's last 0.2 s before it exits may be missed."""

    def __init__(self, excluded=()):
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self._excluded = set(excluded)
        self.children = {}  # pid -> CPU seconds
        self._stop = threading.Event()

    def __enter__(self):
        self._own_start = self._cpu(self._me)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.own = self._cpu(self._me) - self._own_start
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _cpu(process):
        times = process.cpu_times()
        return times.user + times.system

    def _sample(self):
        while not self._stop.wait(0.2):
            for child in self._me.children(recursive=True):
                if child.pid in self._excluded:
                    continue
                try:
                    self.children[child.pid] = self._cpu(child)
                except self._psutil.Error:
                    pass

    def busy_children(self, at_least=1.0):
        """CPU seconds of the children that used at least ``at_least`` seconds, largest first."""
        return sorted((cpu for cpu in self.children.values() if cpu >= at_least), reverse=True)


def load_average():
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _heading(title, versions, command, started):
    print()
    print(f"{title}   {started:%Y-%m-%d %H:%M %Z}")
    print(f"command         {command}")
    print(f"machine         {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()},"
          f" {versions}")
    print(f"load average    {load_average()} (1 / 5 / 15 min, at the end; other processes skew the figures)")
    print()


def print_target_table(title, versions, rows, command, started):
    """The heading (date, command, machine, load) and a ``figure / value / target / met?`` table."""
    _heading(title, versions, command, started)
    header = ("figure", "value", "target", "met?")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip())


def print_figures(title, versions, figures, command, started):
    """The heading and every figure, grouped by section."""
    _heading(title, versions, command, started)
    sections = list(dict.fromkeys(section for section, _, _ in figures.rows))
    rows = sorted(figures.rows, key=lambda row: sections.index(row[0]))  # stable: grouped by section
    width_section = max(len(s) for s in sections)
    width_what = max(len(w) for _, w, _ in figures.rows)
    for section, what, value in rows:
        print(f"{section:<{width_section}}  {what:<{width_what}}  {value:>14}")


def quiet_logging():
    # Importing Beam logs a note about Google Cloud clients that newsmon does not use,
    # and the runner logs at INFO and WARNING per stage.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())
    logging.getLogger("apache_beam").setLevel(logging.ERROR)


def progress(step):
    print(f"bench: {step} ...", file=sys.stderr, flush=True)
