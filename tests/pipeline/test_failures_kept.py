"""Failure records and counters of a replay with bad input stay as they were before the
relevance prefilter decided whole rules and the steps shared one analysis per article.

``tests/fixtures/failures/expected.json`` holds what the replay wrote before those
changes (the dead-letter stream and the failure and write counters) for the archive
that ``bad_archive`` builds: good articles of the labelled corpus between bad lines.
"""

import json
from pathlib import Path

from pipeline.options import RunConfig
from pipeline.replay import run_replay
from tests.conftest import FIXTURES

EXPECTED = FIXTURES / "failures" / "expected.json"
BAD_LINES = [
    '{"title": "broken\n',                        # not JSON
    "[1, 2, 3]",                                   # not an object
    '{"url": "https://news.example/empty"}',      # neither title nor text
    '{"title": "   ", "text": "   "}',            # blank once cleaned (normalize)
    '"just a string"',
]


def bad_archive(directory):
    """Six labelled articles with bad lines between them, plus a bad and an empty .txt file."""
    directory = Path(directory)
    good = (FIXTURES / "eval" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:6]
    lines = []
    for index, line in enumerate(good):
        lines.append(line)
        if index < len(BAD_LINES):
            lines.append(BAD_LINES[index])
    lines.append(good[0])  # the same article twice: written once, not a failure
    (directory / "mixed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (directory / "latin1.txt").write_bytes("Caf\xe9 news\nBody".encode("latin-1"))
    (directory / "empty.txt").write_text("  \n", encoding="utf-8")
    return directory


def failure_view(result, client, directory):
    """The dead letters (origin without the folder) and the failure and write counters."""
    dead = []
    for _, fields in client.xrange("newsmon:deadletter"):
        fields = {key: value.replace(str(directory), "ARCHIVE") for key, value in fields.items()}
        dead.append(fields)
    counters = {}
    for counter in result.metrics().query()["counters"]:
        metric = counter.key.metric
        if metric.namespace == "written" or metric.name in ("failed", "articles_read", "already_written"):
            name = f"{metric.namespace}:{metric.name}"
            counters[name] = counters.get(name, 0) + counter.committed
    return {"deadletter": sorted(dead, key=lambda f: (f["stage"], f["origin"])), "counters": counters}


def test_failure_records_and_counters_are_kept(tmp_path, redis_url, redis_db, taxonomy):
    directory = bad_archive(tmp_path)
    result = run_replay([str(directory)], RunConfig(redis_url=redis_url, taxonomy=taxonomy))
    assert failure_view(result, redis_db, directory) == json.loads(EXPECTED.read_text(encoding="utf-8"))
