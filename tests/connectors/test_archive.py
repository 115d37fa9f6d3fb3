import json

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from connectors.archive import ReadArchive, archive_files, count_articles, read_archive_file
from tests.conftest import SEED_ARTICLE, SEEDS


@pytest.fixture
def archive(tmp_path):
    (tmp_path / "nested").mkdir()
    (tmp_path / "one.txt").write_text("First title\n\nFirst body line.\nSecond line.\n", encoding="utf-8")
    (tmp_path / "nested" / "two.jsonl").write_text(
        json.dumps({"title": "Second", "text": "Body two", "url": "https://a.example/2", "id": "g2"}) + "\n"
        + "\n"
        + "{not json\n"
        + json.dumps(["a", "list"]) + "\n"
        + json.dumps({"url": "https://a.example/empty"}) + "\n"
        + json.dumps({"title": "Third", "text": "Body three", "published": "2021-05-18"}) + "\n",
        encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 title\nbody".encode("latin-1"))
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("not an article", encoding="utf-8")
    return tmp_path


def test_archive_files_finds_txt_and_jsonl_recursively(archive):
    files = archive_files([archive])
    assert [f.rsplit("/", 1)[1] for f in files] == ["empty.txt", "latin1.txt", "two.jsonl", "one.txt"]
    assert count_articles(files) == 2 + 5 + 1


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        archive_files([tmp_path / "nope"])


def test_read_txt_article_title_is_first_line():
    [(article, failed)] = list(read_archive_file(str(SEED_ARTICLE)))
    assert failed is None
    assert article["title"].startswith("Antony Blinken and Sergey Lavrov")
    assert "Arctic Council" in article["text"]
    assert article["id"].startswith("sha256:")
    assert article["origin"] == str(SEED_ARTICLE)


def test_read_jsonl_reports_each_bad_line_with_path_and_reason(archive):
    results = list(read_archive_file(str(archive / "nested" / "two.jsonl")))
    articles = [a for a, f in results if f is None]
    failures = [f for a, f in results if f is not None]
    assert [a["title"] for a in articles] == ["Second", "Third"]
    assert articles[0]["id"] == "g2" and articles[0]["url"] == "https://a.example/2"
    assert articles[1]["origin"].endswith("two.jsonl:6")
    reasons = {f["origin"].rsplit(":", 1)[1]: f["error"] for f in failures}
    assert set(reasons) == {"3", "4", "5"}
    assert "not JSON" in reasons["3"]
    assert "expected a JSON object" in reasons["4"]
    assert "neither 'title' nor 'text'" in reasons["5"]


def test_undecodable_and_empty_txt_files_fail_clearly(archive):
    [(_, latin)] = list(read_archive_file(str(archive / "latin1.txt")))
    assert "not UTF-8" in latin["error"] and latin["stage"] == "read"
    [(_, empty)] = list(read_archive_file(str(archive / "empty.txt")))
    assert "empty file" in empty["error"]


def test_read_archive_in_a_pipeline(archive):
    with TestPipeline(runner=FnApiRunner()) as p:
        out = p | ReadArchive([archive])
        assert_that(out.articles | beam.Map(lambda a: a["title"]),
                    equal_to(["First title", "Second", "Third"]), label="articles")
        assert_that(out.failed | beam.Map(lambda f: f["origin"].rsplit("/", 1)[1]),
                    equal_to(["empty.txt", "latin1.txt", "two.jsonl:3", "two.jsonl:4", "two.jsonl:5"]),
                    label="failed")


def test_seeds_hold_the_seed_article():
    assert archive_files([SEEDS]) == [str(SEED_ARTICLE)]


def test_a_remote_job_carries_local_files_bytes(archive, tmp_path, monkeypatch):
    """ship=True: read where the job is submitted, so a worker in another folder (or machine) reads nothing."""
    from connectors.archive import shipped_files

    shipped = shipped_files(archive_files([archive]))
    assert [type(e) for e in shipped] == [tuple] * 4
    path, data = next(e for e in shipped if e[0].endswith("one.txt"))
    assert data == (archive / "one.txt").read_bytes()
    elsewhere = tmp_path / "worker-folder"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with TestPipeline(runner=FnApiRunner()) as p:
        out = p | ReadArchive([str(archive)], ship=True)
        assert_that(out.articles | beam.Map(lambda a: a["title"]),
                    equal_to(["First title", "Second", "Third"]), label="articles")


def test_relative_paths_are_read_where_they_were_given(archive, monkeypatch):
    from connectors.archive import shipped_files

    monkeypatch.chdir(archive)
    [(path, data)] = shipped_files(archive_files(["one.txt"]))
    assert path == "one.txt" and data.startswith(b"First title")


def test_a_local_archive_too_big_to_ship_is_refused_with_what_to_do(archive):
    from connectors.archive import shipped_files

    with pytest.raises(ValueError, match="copy it where the workers can read it"):
        shipped_files(archive_files([archive]), limit=10)


def test_a_filesystem_beam_cannot_reach_is_one_clear_error():
    with pytest.raises(ValueError, match=r"cannot list archive path gs://newsmon-bucket/news.*apache-beam\[gcp\]"):
        archive_files(["gs://newsmon-bucket/news"])


def test_file_urls_are_local_paths(archive):
    from connectors.archive import has_scheme

    assert has_scheme("gs://b/x") and has_scheme("s3://b/x") and not has_scheme("/tmp/x")
    files = archive_files([f"file://{archive}/nested/two.jsonl"])
    assert files == [str(archive / "nested" / "two.jsonl")]
