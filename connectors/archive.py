"""ReadArchive: articles from an archive of files, local or on any filesystem Beam knows.

Two formats, found by extension (directories are searched recursively):

- ``.txt``: one article; the first non-empty line is the title, the rest the body
  (the format of seeds/000_aa5d093c1f1fedc9.txt). Its id is the hash of its bytes.
- ``.jsonl``: one article per line, ``{"title", "text"}`` and optionally
  ``"url", "published", "source", "id"``.
- ``.html``/``.htm``: an article page as saved from a browser; its main text
  extracted (transforms/page_text.py), its title, URL and date from its head.
  A page with no article text (a consent wall, an empty page) is a failure.

Only the list of files is built when the pipeline is constructed; the files
are read inside the pipeline. An unreadable file or line goes to the
``failed`` output with its path (and line) and the reason.

Paths with a scheme (``gs://``, ``s3://``, ``hdfs://``: Beam's filesystems, with
their Beam extra installed) are listed and read through ``FileSystems``, so
workers anywhere read them. A local path is read where it is: on a local
runner by the workers (same machine); with ``ship=True`` (a remote runner such
as Dask, whose workers may run in another folder or machine) by the submitting
process, which puts each file's bytes into the job, up to ``SHIP_LIMIT_BYTES``:
a larger local archive is refused before the job starts, with what to do.

    p | ReadArchive(["seeds/"])  ->  {"id": "…", "title": "…", "text": "…", "origin": "seeds/a.txt", …}
"""

import hashlib
import json
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.deadletter import FAILED, failure

__all__ = ["ARCHIVE_SUFFIXES", "SHIP_LIMIT_BYTES", "ReadArchive", "archive_files", "count_articles", "has_scheme",
           "read_archive_file", "shipped_files"]

ARCHIVE_SUFFIXES = (".txt", ".jsonl", ".html", ".htm")
SHIP_LIMIT_BYTES = 512 * 1024 * 1024  # local archive bytes a remote job may carry


def has_scheme(path):
    """True for a path of one of Beam's remote filesystems (``gs://bucket/x``), not a local one."""
    return "://" in str(path) and not str(path).startswith("file://")


def _remote_files(path):
    from apache_beam.io.filesystems import FileSystems

    path = str(path)
    try:
        found = []
        for pattern in (path, path.rstrip("/") + "/**"):
            [result] = FileSystems.match([pattern])
            found = [m.path for m in result.metadata_list]
            if found:
                break
    except Exception as error:  # noqa: BLE001 - Beam says why in one sentence (e.g. the extra to install)
        raise ValueError(f"cannot list archive path {path}: {' '.join(str(error).split())[:300]}") from error
    if not found:
        raise ValueError(f"archive path {path} does not exist")
    return [f for f in found if f.endswith(ARCHIVE_SUFFIXES)]


def archive_files(paths):
    """Every archive file under ``paths``, sorted; ValueError for a path that does not exist."""
    files = []
    for path in paths:
        if has_scheme(path):
            files.extend(_remote_files(path))
            continue
        path = Path(str(path).removeprefix("file://"))
        if path.is_dir():
            files.extend(p for p in path.rglob("*") if p.suffix in ARCHIVE_SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise ValueError(f"archive path {path} does not exist")
    return sorted(dict.fromkeys(str(f) for f in files))


def _read_bytes(path):
    if has_scheme(path):
        from apache_beam.io.filesystem import CompressionTypes
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            return handle.read()
    return Path(path).read_bytes()


def count_articles(files):
    """How many articles (or unreadable lines) the files hold, for a progress bar."""
    total = 0
    for path in files:
        try:
            if has_scheme(path):
                pass  # one per file: not worth reading a remote archive twice for a bar
            elif path.endswith(".jsonl"):
                with open(path, "rb") as handle:
                    total += sum(1 for line in handle if line.strip())
                continue
        except OSError:
            pass  # an unreadable file is one failure record
        total += 1
    return total


class ArticleReadError(ValueError):
    """A file or line of the archive that is not an article."""


def _read_txt(path, data):
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ArticleReadError(f"not UTF-8 text ({error.reason} at byte {error.start})") from error
    lines = content.strip().splitlines()
    if not lines:
        raise ArticleReadError("empty file")
    return {
        "id": "sha256:" + hashlib.sha256(data).hexdigest(),
        "title": lines[0].strip(),
        "text": "\n".join(lines[1:]),
        "source": "archive",
        "origin": path,
    }


def _read_html(path, data):
    from transforms.page_text import choose_text, decode_html, extract_page, page_metadata

    text, problem, _ = extract_page(data, "", path)
    if problem:
        raise ArticleReadError(problem)
    meta = page_metadata(decode_html(data)[0])
    source, why = choose_text("", text, title=meta["title"])
    if source != "fulltext":
        raise ArticleReadError(why)
    article = {"id": "sha256:" + hashlib.sha256(data).hexdigest(), "title": meta["title"], "text": text,
               "source": "archive", "origin": path, "text_source": "fulltext"}
    for key in ("url", "published"):
        if meta[key]:
            article[key] = meta[key]
    return article


def _read_jsonl_line(path, number, line):
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ArticleReadError(f"not JSON: {error.msg} at column {error.colno}") from error
    if not isinstance(record, dict):
        raise ArticleReadError(f"expected a JSON object, got {type(record).__name__}")
    if not record.get("title") and not record.get("text"):
        raise ArticleReadError("has neither 'title' nor 'text'")
    article = {key: record[key] for key in ("id", "title", "text", "url", "published", "source")
               if record.get(key) not in (None, "")}
    article.setdefault("source", "archive")
    article["origin"] = f"{path}:{number}"
    return article


def read_archive_file(path, data=None):
    """Yield ``(article, None)`` or ``(None, failure record)`` for every article of a file
    (of ``data``, its bytes, when the file was read elsewhere)."""
    if data is None:
        try:
            data = _read_bytes(path)
        except OSError as error:
            yield None, failure("read", f"cannot read file: {error.strerror or error}", origin=path)
            return
        except Exception as error:  # noqa: BLE001 - a remote filesystem's own error: a dead letter
            yield None, failure("read", f"cannot read file: {' '.join(str(error).split())[:300]}", origin=path)
            return
    if path.endswith(".jsonl"):
        for number, raw_line in enumerate(data.split(b"\n"), start=1):
            if not raw_line.strip():
                continue
            try:
                yield _read_jsonl_line(path, number, raw_line.decode("utf-8")), None
            except (ArticleReadError, UnicodeDecodeError) as error:
                yield None, failure("read", error, origin=f"{path}:{number}",
                                    payload=raw_line.decode("utf-8", "replace"))
    else:
        try:
            yield (_read_html(path, data) if path.lower().endswith((".html", ".htm")) else _read_txt(path, data)), None
        except ArticleReadError as error:
            yield None, failure("read", error, origin=path)


class _ReadArchiveFileFn(beam.DoFn):
    def setup(self):
        self._read = Metrics.counter("newsmon", "articles_read")

    def process(self, element):
        path, data = element if isinstance(element, tuple) else (element, None)
        for article, failed in read_archive_file(path, data):
            if failed is not None:
                yield beam.pvalue.TaggedOutput(FAILED, failed)
            else:
                self._read.inc()
                yield article


def shipped_files(files, limit=SHIP_LIMIT_BYTES):
    """``[(path, bytes), ...]`` of the local files, ``path`` alone for remote ones: what a remote
    job carries. ValueError (one line, what to do) beyond ``limit`` bytes or for an unreadable file."""
    elements, total = [], 0
    for path in files:
        if has_scheme(path):
            elements.append(path)
            continue
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise ValueError(f"cannot read archive file {path}: {error.strerror or error}") from error
        total += len(data)
        if total > limit:
            raise ValueError(f"the local archive is over {limit // 2**20} MB, too much to send with the job:"
                             " copy it where the workers can read it (gs://, s3://, hdfs://) and pass that path")
        elements.append((path, data))
    return elements


class ReadArchive(beam.PTransform):
    """Articles from ``.txt``, ``.jsonl`` and ``.html`` files; outputs ``articles`` and ``failed``.

    ``ship=True``: local files are read now and their bytes go with the job (for a
    remote runner, whose workers cannot see this machine's files).
    """

    def __init__(self, paths, *, ship=False):
        super().__init__()
        if isinstance(paths, (str, Path)):
            paths = [paths]
        self._files = archive_files(paths)
        if not self._files:
            raise ValueError(f"no .txt, .jsonl or .html articles under {', '.join(map(str, paths))}")
        self._elements = shipped_files(self._files) if ship else list(self._files)

    @property
    def files(self):
        return list(self._files)

    def expand(self, pbegin):
        return (
            pbegin
            | "ListFiles" >> beam.Create(self._elements)
            | "ReadFiles" >> beam.ParDo(_ReadArchiveFileFn()).with_outputs(FAILED, main="articles")
        )
