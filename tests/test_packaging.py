"""The wheel as a packager would use it: built, installed into a fresh venv, run from an unrelated folder.

Every command runs with the defaults the wheel ships (taxonomy, aliases, places,
example subscriptions, feed list), then with each default overridden by its
option. Nothing of the source tree is on the path. ``pytest -s`` prints the
transcript (commands, exit statuses, output).
"""

import json
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT, SEED_ARTICLE
from tests.connectors.test_webhook import Receiver
from tests.servers import FeedItem, LiveFeed

SHIPPED_DEFAULTS = ["seeds/topics.yaml", "seeds/aliases.yaml", "seeds/places.yaml", "seeds/subscriptions.yaml",
                    "seeds/feeds.opml", "pipeline/web/templates/base.html", "pipeline/web/static/app.js",
                    "pipeline/web/static/app.css"]
NOT_IN_THE_SOURCE = ("README.md", "ARCHITECTURE.md", "Makefile", "requirements", "seeds", "setup.py",
                     "pipeline", "connectors", "transforms", "benchmarks")


def build_wheel(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in NOT_IN_THE_SOURCE:  # a clean copy: no venv, no build leftovers, no tests
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.exists():
            shutil.copy2(path, source / name)
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(source)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = dist.glob("newsmon-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """The bin directory of a fresh venv with the wheel (and its dependencies) installed."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile", str(wheel)],
                   check=True, capture_output=True, timeout=900)
    return venv / "bin"


def test_the_wheel_ships_the_defaults_and_no_benchmarks_or_tests(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert set(SHIPPED_DEFAULTS) <= set(names)
    assert not [n for n in names if n.startswith(("benchmarks/", "tests/")) or "bench" in n.split("/")[-1]]


@pytest.mark.slow
def test_every_command_runs_from_an_unrelated_folder(installed, tmp_path, redis_url, redis_db):
    bin_dir = installed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(SEED_ARTICLE, elsewhere / "article.txt")
    (elsewhere / "corpus.jsonl").write_text(json.dumps({
        "id": "c1", "title": "EU imposes sanctions on Russian banks",
        "text": "The European Union imposed new sanctions on three Russian banks on Monday.",
        "topics": ["sanctions"], "entities": [{"name": "European Union", "label": "ORG"}]}) + "\n")
    feed = LiveFeed()
    feed.set_items([FeedItem("wire-1", "Germany halts Nord Stream 2 certification",
                             "Germany halted the certification of the Nord Stream 2 pipeline, citing sanctions.")])
    (elsewhere / "feeds.txt").write_text(feed.url + "\n")
    receiver = Receiver()
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path / "home"), "NEWSMON_REDIS_URL": redis_url,
           "LANG": "C.UTF-8"}
    transcript = []

    def newsmon(*argv, status=0):
        result = subprocess.run([str(bin_dir / "newsmon"), *argv], cwd=elsewhere, env=env, capture_output=True,
                                text=True, timeout=300)
        transcript.append(f"$ newsmon {' '.join(argv)}   # exit {result.returncode}\n{result.stderr}{result.stdout}")
        assert result.returncode == status, transcript[-1]
        assert "Traceback" not in result.stderr, transcript[-1]
        return result.stdout

    try:
        assert newsmon("--version").strip() == "newsmon 0.1.0"
        tagged = json.loads(newsmon("tag", "article.txt", "--json"))
        assert {t["id"] for t in tagged["topics"]} >= {"sanctions", "arctic_militarization"}
        assert ("Antony Blinken", "PERSON") in {(e["canonical"], e["label"]) for e in tagged["entities"]}
        assert "nord-stream" in newsmon("subscribe", "import")  # the shipped example subscriptions
        assert "nord-stream" in newsmon("subscribe", "list")
        newsmon("subscribe", "add", "ns2", "--topic", "sanctions", "--any", "nord stream")
        out = newsmon("replay", "article.txt", "--show", "1")
        assert "1 articles read, 0 failed" in out and "nord-stream" in out and "1 new on newsmon:alerts:ns2" in out
        assert json.loads(newsmon("alerts", "show", "ns2", "--json").splitlines()[0])["subscription"] == "ns2"
        assert "1 matching article(s)" in newsmon("rules", "test", "ns2", "--archive", "article.txt")
        assert "Evaluated 1 articles." in newsmon("eval", "corpus.jsonl")
        out = newsmon("poll", "feeds.txt", "--once", "--allow-private")
        assert "Polled 1 feed(s): 1 articles read, 0 failed" in out and "Feeds: 1 fetched" in out
        # Polled a moment ago, the feed is not due for 15 minutes: --force polls it at once, and
        # --max-polls 1 ends the monitor after that one poll cycle (without --force it waits, and says so).
        polled_before = sum(feed.status_counts.values())
        out = newsmon("monitor", "feeds.txt", "--max-polls", "1", "--force", "--allow-private")
        assert " poll: 1 feeds polled" in out and sum(feed.status_counts.values()) == polled_before + 1
        assert feed.url in newsmon("feeds", "status")
        assert "Antony Blinken" in newsmon("alerts", "tail", "ns2", "--from-start")
        newsmon("deliver", "ns2", "--webhook", receiver.url, "--once", "--from-start")
        assert [body["title"] for body in receiver.received] == [tagged["title"]]
        # The shipped feed list is the default FEEDLIST (its feeds are on the internet: here they fail).
        out = newsmon("poll", "--once", "--help")
        assert "seeds/feeds.opml" in out
        # Every default overridden by its option.
        (elsewhere / "topics.yaml").write_text("topics:\n  pipelines:\n    any: [pipeline]\n")
        (elsewhere / "aliases.yaml").write_text("Sergey Lavrov: {label: PERSON, aliases: [Lavrov]}\n")
        (elsewhere / "places.yaml").write_text("GPE: [Iceland]\n")
        tagged = json.loads(newsmon("tag", "article.txt", "--json", "--topics", "topics.yaml",
                                    "--aliases", "aliases.yaml", "--places", "places.yaml"))
        assert [t["id"] for t in tagged["topics"]] == ["pipelines"]
        (elsewhere / "mine.yaml").write_text("subscriptions:\n  pipes:\n    topics: [pipelines]\n")
        assert "pipes" in newsmon("subscribe", "import", "mine.yaml", "--topics", "topics.yaml")
        web_serves_its_pages_and_files(bin_dir, elsewhere, env, transcript)
    finally:
        feed.stop()
        receiver.server.shutdown()
        print("\n\n".join(transcript))
    assert not list(elsewhere.glob("*.rdb"))  # nothing written where the commands ran


def web_serves_its_pages_and_files(bin_dir, cwd, env, transcript):
    """``newsmon web`` from the wheel: its templates and static files are in the package."""
    import re

    import httpx

    web = subprocess.Popen([str(bin_dir / "newsmon"), "web", "--port", "0"], cwd=cwd, env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = None
        for line in web.stdout:  # its first lines: where it serves, and how to sign in
            transcript.append(f"$ newsmon web --port 0\n{line}")
            found = re.search(r"serving (http://\S+/) ", line)
            if found:
                url = found.group(1)
                break
        assert url, transcript[-1]
        assert "Live alerts" in httpx.get(url, timeout=60).text
        assert "EventSource" in httpx.get(url + "static/app.js", timeout=60).text
    finally:
        web.terminate()
        assert web.wait(timeout=60) == 0
