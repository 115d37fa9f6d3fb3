"""A real ``newsmon web`` process on a free port of 127.0.0.1, on the test Redis.

    server = WebServer(redis_url, extra_args).start()
    server.url, server.login_url, server.token, server.stop()

The server prints its address and sign-in link on its first lines; the tests read them
from there, as a person would.
"""

import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from tests.conftest import ROOT

NEWSMON = [sys.executable, "-m", "pipeline.cli"]


class WebServer:
    def __init__(self, redis_url, *args, prefix="newsmon:"):
        self.redis_url = redis_url
        self.args = list(args)
        self.prefix = prefix
        self.process = None
        self.url = self.login_url = self.token = None
        self.output = []

    def start(self):
        self.process = subprocess.Popen(
            [*NEWSMON, "web", "--port", "0", "--redis", self.redis_url, "--prefix", self.prefix, *self.args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        for line in self.process.stdout:
            self.output.append(line)
            found = re.search(r"serving (http://\S+/) ", line)
            if found:
                self.url = found.group(1)
            found = re.search(r"open (http://\S+/login\?token=(\S+))", line)
            if found:
                self.login_url, self.token = found.group(1), found.group(2)
            if self.url and (self.login_url or "--token-file" in self.args):
                break
        if not self.url:
            self.process.wait(timeout=30)
            raise RuntimeError("newsmon web did not start:\n" + "".join(self.output))
        # Keep draining its output so that it never blocks on a full pipe.
        threading.Thread(target=lambda: self.output.extend(self.process.stdout), daemon=True).start()
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else None


@pytest.fixture(scope="module")
def web(redis_server, tmp_path_factory):
    """One ``newsmon web`` for the module, on the session's Redis (tests empty it with ``redis_db``)."""
    archive = tmp_path_factory.mktemp("archive")
    (archive / "article.txt").write_bytes((ROOT / "seeds" / "000_aa5d093c1f1fedc9.txt").read_bytes())
    server = WebServer(redis_server.url, "--archive", str(archive)).start()
    yield server
    server.stop()
