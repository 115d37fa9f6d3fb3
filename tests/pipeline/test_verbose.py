"""``-v`` logs newsmon's own steps and their counts."""

from pipeline.cli import main
from tests.conftest import SEED_ARTICLE


def test_verbose_logs_each_steps_counts(capsys, caplog, redis_url):
    caplog.set_level("INFO")
    assert main(["-v", "replay", str(SEED_ARTICLE), "--redis", redis_url, "--no-progress", "--show", "0"]) == 0
    counts = [r.getMessage() for r in caplog.records if "step counts" in r.getMessage()]
    assert "newsmon: step counts: newsmon/articles_read = 1" in counts
    assert any(line.startswith("newsmon: step counts: topics/sanctions = 1") for line in counts)
    caplog.clear()
    assert main(["-v", "tag", str(SEED_ARTICLE)]) == 0
    assert "newsmon: tag: 1 article(s) read, 1 tagged, 0 failed" in caplog.text


def test_without_verbose_no_step_counts(capsys, caplog, redis_url):
    assert main(["replay", str(SEED_ARTICLE), "--redis", redis_url, "--no-progress", "--show", "0"]) == 0
    assert "step counts" not in capsys.readouterr().err


def _stderr_on_a_terminal(argv):
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    from tests.conftest import ROOT

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 columns wide
    process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=slave)
    os.close(slave)  # the child holds its own copy; reading ends (EIO) when it exits
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    process.wait(timeout=300)
    return process.returncode, b"".join(chunks).decode("utf-8", "replace")


def test_long_commands_show_progress_on_a_terminal_only(capsys):
    status, terminal = _stderr_on_a_terminal(["tag", str(SEED_ARTICLE)])
    assert status == 0 and "tag: 100%" in terminal and "1/1" in terminal
    assert main(["tag", str(SEED_ARTICLE)]) == 0
    assert "100%" not in capsys.readouterr().err  # not a terminal: no bar
