"""Progress bars, as a person at a terminal sees them: ``newsmon`` run as a real subprocess with
stderr on a pseudo-terminal shows a bar for tag, rules test and poll; with stderr piped, none.

(The bar is tqdm's: ``desc: 0%| | 0/N`` and its updates, ``\\r`` between them.)
"""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

from tests.conftest import ROOT, SEED_ARTICLE
from tests.servers import FeedItem, LiveFeed

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def on_a_terminal(argv, tmp_path):
    """``(exit status, stdout, what the terminal showed)`` of newsmon with stderr on a pseudo-terminal."""
    main, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal has a size
    out_path = tmp_path / "stdout.txt"
    with open(out_path, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *argv], cwd=ROOT, env=ENV,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=terminal)
    os.close(terminal)
    shown = bytearray()
    try:
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the process closed the terminal's last end
                break
            if not chunk:
                break
            shown.extend(chunk)
        status = process.wait(timeout=300)
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
    return status, out_path.read_text(), shown.decode("utf-8", "replace")


def piped(argv):
    result = subprocess.run([sys.executable, "-m", "pipeline.cli", *argv], cwd=ROOT, env=ENV,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture
def archive(tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "seed.txt").write_bytes(SEED_ARTICLE.read_bytes())
    for name in ("one", "two"):
        (folder / f"{name}.txt").write_text(f"Weather report {name}\n\nSunny spells and light winds today.\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text("subscriptions:\n  talks:\n    any: [lavrov]\n")
    return folder, rules


def assert_a_bar(shown, desc, total):
    assert f"{desc}:" in shown and f"/{total} [" in shown, shown


@pytest.mark.slow
def test_rules_test_and_tag_show_a_bar_on_a_terminal_only(archive, tmp_path):
    folder, rules = archive
    status, out, shown = on_a_terminal(["rules", "test", str(rules), "--archive", str(folder)], tmp_path)
    assert status == 0 and "1 matching article(s)" in out, shown
    assert_a_bar(shown, "rules test", 3)  # every article read counts, matching or not
    status, out, shown = on_a_terminal(["tag", str(folder), "--json"], tmp_path)
    assert status == 0 and len(out.splitlines()) == 3, shown
    assert_a_bar(shown, "tag", 3)
    status, out, err = piped(["rules", "test", str(rules), "--archive", str(folder)])
    assert status == 0 and "1 matching article(s)" in out
    assert "rules test:" not in err and "\r" not in err, err


@pytest.mark.slow
def test_poll_shows_a_bar_of_the_due_feeds_on_a_terminal_only(redis_url, tmp_path):
    feeds = [LiveFeed(), LiveFeed()]
    try:
        for number, feed in enumerate(feeds):
            feed.set_items([FeedItem(f"wire-{number}", f"Germany halts Nord Stream 2 certification {number}",
                                     "Germany halted the certification of the Nord Stream 2 pipeline.")])
        feedlist = tmp_path / "feeds.txt"
        feedlist.write_text("".join(f"{feed.url}\n" for feed in feeds))
        argv = ["poll", str(feedlist), "--once", "--allow-private", "--redis", redis_url]
        status, out, shown = on_a_terminal(argv, tmp_path)
        assert status == 0 and "Feeds: 2 fetched" in out, shown
        assert_a_bar(shown, "poll", 2)
        status, out, err = piped([*argv, "--force"])
        assert status == 0 and "Feeds: 0 fetched, 2 not modified" in out, err
        assert "poll:" not in err and "\r" not in err, err
    finally:
        for feed in feeds:
            feed.stop()
