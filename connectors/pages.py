"""Full text: an article's page fetched, its main text extracted, cached in Redis by canonical URL.

    with PageService(client, RedisKeys(), PageOptions()) as pages:
        page = pages.get("https://example.org/world/2026/02/nord-stream")   # a Page, blocking
        page.text, page.problem, page.cached
        future = pages.submit(url)                                          # or many at once
    apply_page(article, page)  # -> article with text_source "fulltext" (the page's text) or "teaser" (+ why)

    articles | FetchFullText(redis_url, default_mode="auto")   # the Beam step (pipeline/graph.py)

Per article, ``fulltext`` (from its feed, else the run's ``--fulltext``) says
what to do: ``never``; ``always`` (fetch the page); ``auto`` (fetch it when the
item's text is a teaser: transforms/page_text.is_teaser). Each article leaves
with ``text_source``: ``feed`` (the feed's own text, no page wanted),
``fulltext`` (the page's main text replaced the teaser) or ``teaser`` (kept;
``fulltext_problem`` says why when a page was wanted).

A page is fetched through the same guarded fetcher as feeds
(connectors/feed_fetch.py: private addresses refused on the address actually
connected to, size and time caps, per-host limits, redirects checked hop by
hop), after its host's robots.txt allows it (Protego; RFC 9309: a robots.txt
that is missing (4xx) allows everything, one that cannot be fetched (5xx,
network) allows nothing for now). A page is fetched once: the result, text or
problem, is cached at ``<prefix>page:<hash of the canonical URL>`` for
``cache_ttl`` (a transient failure for ``retry_ttl``), so the same URL in
another feed, a re-poll or another worker costs one Redis round trip.

Extraction (transforms/page_text.py) runs in worker processes: off the
thread that runs NER, on another core, and killable: a page whose extraction
takes longer than ``extract_timeout`` (a wide HTML bomb: 4 MB of small
paragraphs take trafilatura ~30 s) costs one worker restart, not a stuck
pipeline. ``extract_workers=0`` extracts in-process (``newsmon tag page.html``).

Nothing here raises for what a page or a server does: every problem is a
``Page.problem`` line, the teaser stays, and a warning is logged once per page.
"""

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import multiprocessing
import queue
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from connectors.feed_fetch import FeedFetcher, FetchOptions
from connectors.redis_connection import call_with_retry, redis_client
from connectors.redis_streams import RedisKeys
from transforms.normalize import web_url
from transforms.page_text import choose_text, extract_page, extraction_worker, is_teaser

__all__ = ["FULLTEXT_MODES", "ExtractionWorkers", "FetchFullText", "Page", "PageOptions", "PageService", "apply_page",
           "page_key", "wants_page"]

_log = logging.getLogger(__name__)

FULLTEXT_MODES = ("auto", "always", "never")
ROBOTS_AGENT = "newsmon"  # the product token robots.txt rules name
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
_ROBOTS_TTL = 3600.0
_ROBOTS_MAX_BYTES = 512 * 1024
_WORKER_START_SECONDS = 60.0


def _page_fetch_options():
    return FetchOptions(connect_timeout=10.0, read_timeout=15.0, total_timeout=20.0,
                        max_body_bytes=5 * 1024 * 1024, max_redirects=5, per_host=2, max_concurrency=16,
                        accept=PAGE_ACCEPT)


@dataclass(frozen=True)
class PageOptions:
    """Limits of page fetching. ``fetch``: FetchOptions of the guarded fetcher (5 MB, 20 s a page,
    2 at a time per host); ``extract_timeout``: seconds one page's extraction may take;
    ``extract_workers``: extraction processes (0: in this process, no time cap)."""

    fetch: FetchOptions = field(default_factory=_page_fetch_options)
    robots: bool = True
    cache_ttl: int = 7 * 24 * 3600
    retry_ttl: int = 3600  # a timeout, a 5xx, a refused connection: try again after this long
    extract_timeout: float = 10.0
    extract_workers: int = 1
    max_pending: int = 64  # pages in flight per worker before process() waits for one

    def __post_init__(self):
        if not isinstance(self.fetch, FetchOptions):
            raise ValueError("PageOptions.fetch must be a FetchOptions")
        for name in ("cache_ttl", "retry_ttl", "extract_timeout", "max_pending"):
            if not getattr(self, name) > 0:
                raise ValueError(f"PageOptions.{name} must be positive, got {getattr(self, name)!r}")
        if self.extract_workers < 0:
            raise ValueError(f"PageOptions.extract_workers must be 0 or more, got {self.extract_workers!r}")


@dataclass(frozen=True)
class Page:
    """One page's outcome: its main ``text``, or ``problem`` (why there is none); ``note`` is
    worth knowing but did not stop it (a guessed charset); ``cached``: came from Redis."""

    url: str
    text: str = ""
    problem: str = ""
    note: str = ""
    status: int = 0
    cached: bool = False
    transient: bool = False  # a problem worth trying again later (timeouts, 5xx, robots.txt unreachable)

    def to_hash(self):
        return {"url": self.url, "text": self.text, "problem": self.problem, "note": self.note,
                "status": str(self.status), "fetched_at": str(int(time.time()))}

    @classmethod
    def from_hash(cls, fields):
        return cls(url=fields.get("url", ""), text=fields.get("text", ""), problem=fields.get("problem", ""),
                   note=fields.get("note", ""), status=int(fields.get("status") or 0), cached=True)


def page_key(keys, url):
    """The Redis key of a page's cache entry: ``<prefix>page:<16 hex digits of the canonical URL's SHA-256>``."""
    return f"{keys.prefix}page:{hashlib.sha256(url.encode('utf-8')).hexdigest()[:16]}"


def wants_page(article, mode):
    """Whether ``article`` (normalized) should get its page's text under ``mode``."""
    if mode == "never" or not article.get("url"):
        return False
    return mode == "always" or is_teaser(article.get("text", ""))


def apply_page(article, page):
    """``article`` with the page's text when it beats the teaser (``text_source: fulltext``), else with
    ``text_source: teaser`` and ``fulltext_problem`` saying why."""
    if page.problem:
        source, why = "teaser", page.problem
    else:
        source, why = choose_text(article.get("text", ""), page.text, title=article.get("title", ""))
    if source == "fulltext":
        updated = {**article, "text": page.text, "text_source": "fulltext"}
        updated.pop("fulltext_problem", None)
        if page.note:
            updated["fulltext_note"] = page.note
        return updated
    return {**article, "text_source": "teaser", "fulltext_problem": why}


# Extraction: bytes -> main text, in a worker process ------------------------------------------------


class _Worker:
    """One extraction process; it says "ready" once trafilatura is imported (~1-2 s), so a page's
    time cap counts extraction only."""

    def __init__(self, context):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=extraction_worker, args=(child,), name="newsmon-extract", daemon=True)
        self.process.start()
        child.close()
        if not self.connection.poll(_WORKER_START_SECONDS) or self.connection.recv() != "ready":
            self.kill()
            raise OSError(f"the extraction worker did not start within {_WORKER_START_SECONDS:g} s")

    def kill(self):
        self.process.kill()
        self.process.join(5)
        self.connection.close()


class ExtractionWorkers:
    """``workers`` extraction processes (started on first use); ``extract()`` blocks until its page is
    done or ``timeout`` seconds have passed, when the worker is killed and replaced."""

    def __init__(self, workers, timeout):
        self._timeout = timeout
        self._size = workers
        self._context = multiprocessing.get_context("spawn")  # no fork of a process full of threads
        self._idle = queue.Queue()
        self._started = 0
        self._lock = threading.Lock()
        self._closed = False

    def _take(self):
        with self._lock:
            start = self._started < self._size and self._idle.empty()
            if start:
                self._started += 1
        if not start:
            return self._idle.get()
        try:
            return _Worker(self._context)
        except Exception:
            with self._lock:
                self._started -= 1
            raise

    def extract(self, body, content_type, url):
        if self._size == 0:
            return extract_page(body, content_type, url)
        try:
            worker = self._take()
        except OSError as error:
            return "", str(error), ""
        try:
            worker.connection.send((body, content_type, url))
            if worker.connection.poll(self._timeout):
                result = worker.connection.recv()
                self._idle.put(worker)
                return result
            problem = f"extraction took longer than {self._timeout:g} s (an HTML bomb?)"
        except (EOFError, OSError, BrokenPipeError) as error:
            problem = f"the extraction worker died ({type(error).__name__})"
        worker.kill()
        with self._lock:
            self._started -= 1
        return "", problem, ""

    def close(self):
        self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            worker.connection.close()
            worker.process.join(2)
            if worker.process.is_alive():
                worker.kill()


# Robots.txt ------------------------------------------------------------------------------------------


class _Robots:
    """robots.txt per origin, fetched once an hour through the guarded fetcher."""

    def __init__(self, fetcher):
        self._fetcher = fetcher
        self._rules = {}  # origin -> (expires, Protego or True (allow all) or the reason nothing is allowed)
        self._pending = {}

    async def problem(self, url):
        """Why robots.txt forbids ``url`` (None: allowed)."""
        parts = urlsplit(url)
        origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        now = time.monotonic()
        cached = self._rules.get(origin)
        if cached is None or cached[0] < now:
            if origin not in self._pending:
                self._pending[origin] = asyncio.ensure_future(self._load(origin))
            try:
                rules = await asyncio.shield(self._pending[origin])
            finally:
                self._pending.pop(origin, None)
            self._rules[origin] = (time.monotonic() + _ROBOTS_TTL, rules)
        else:
            rules = cached[1]
        if rules is True:
            return None
        if isinstance(rules, str):
            return rules
        return None if rules.can_fetch(url, ROBOTS_AGENT) else f"robots.txt of {parts.netloc} disallows it"

    async def _load(self, origin):
        from protego import Protego

        result = await self._fetcher.fetch(f"{origin}/robots.txt")
        if result.ok:
            try:
                return Protego.parse(result.body[:_ROBOTS_MAX_BYTES].decode("utf-8", "replace"))
            except Exception:  # noqa: BLE001 - an unparseable robots.txt allows everything (RFC 9309)
                return True
        if 400 <= result.status < 500:
            return True  # no robots.txt: everything is allowed
        why = result.error or f"HTTP {result.status}"
        return f"robots.txt of {urlsplit(origin).netloc} could not be fetched ({why}); not fetching for now"


# The service: cache, robots, fetch, extract -----------------------------------------------------------


class PageService:
    """Pages fetched concurrently on a background event loop, extracted in worker processes,
    cached in Redis (``client`` None: no cache). ``submit(url)`` returns a concurrent Future of a Page."""

    def __init__(self, client, keys=None, options=None, *, allow_private=False):
        self.client = client
        self.keys = keys or RedisKeys()
        self.options = options or PageOptions()
        self._allow_private = allow_private
        self._workers = ExtractionWorkers(self.options.extract_workers, self.options.extract_timeout)
        self._threads = concurrent.futures.ThreadPoolExecutor(max(1, self.options.extract_workers),
                                                              thread_name_prefix="newsmon-extract")
        self._in_flight = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="newsmon-pages", daemon=True)
        self._thread.start()
        self._fetcher = asyncio.run_coroutine_threadsafe(self._open(), self._loop).result()
        self._robots = _Robots(self._fetcher)

    async def _open(self):
        return await FeedFetcher(self.options.fetch, allow_private=self._allow_private).__aenter__()

    def cached(self, urls):
        """``{canonical url: Page}`` of the URLs whose page is in the cache (one round trip)."""
        if self.client is None or not urls:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for url in urls:
            pipe.hgetall(page_key(self.keys, url))
        return {url: Page.from_hash(_decoded(fields)) for url, fields in zip(urls, pipe.execute()) if fields}

    def submit(self, url):
        """A concurrent.futures.Future of the Page at ``url`` (its canonical form), fetched unless cached."""
        canonical = web_url(url)
        if not canonical:
            done = concurrent.futures.Future()
            done.set_result(Page(url=url or "", problem="no http(s) page URL"))
            return done
        cached = self.cached([canonical]).get(canonical)
        if cached is not None:
            done = concurrent.futures.Future()
            done.set_result(cached)
            return done
        return self.fetch(canonical)

    def fetch(self, canonical):
        """A Future of the Page at the canonical URL, fetched now (one fetch per URL in flight)."""
        with self._lock:
            future = self._in_flight.get(canonical)
            if future is None:
                future = asyncio.run_coroutine_threadsafe(self._page(canonical), self._loop)
                self._in_flight[canonical] = future
                future.add_done_callback(lambda _: self._forget(canonical))
        return future

    def _forget(self, canonical):
        with self._lock:
            self._in_flight.pop(canonical, None)

    def get(self, url):
        return self.submit(url).result()

    async def _page(self, url):
        try:
            page = await self._fetch_and_extract(url)
        except Exception as error:  # noqa: BLE001 - one page's surprise must not stop the others
            page = Page(url=url, problem=f"unexpected {type(error).__name__}: {str(error)[:200]}", transient=True)
        if page.problem:
            _log.warning("newsmon: page %s: %s; the teaser stays", url, page.problem)
        self._store(page)
        return page

    async def _fetch_and_extract(self, url):
        if self.options.robots:
            problem = await self._robots.problem(url)
            if problem:
                return Page(url=url, problem=problem, transient="could not be fetched" in problem)
        result = await self._fetcher.fetch(url)
        if not result.ok:
            transient = result.status == 0 or result.status >= 500 or result.status == 429
            return Page(url=url, problem=f"page not fetched: {result.error}", status=result.status,
                        transient=transient and "refused" not in result.error and "cap" not in result.error)
        content_type = result.headers.get("content-type", "")
        loop = asyncio.get_running_loop()
        text, problem, note = await loop.run_in_executor(self._threads, self._workers.extract, result.body,
                                                         content_type, result.final_url or url)
        return Page(url=url, text=text, problem=problem, note=note, status=result.status)

    def _store(self, page):
        if self.client is None:
            return
        ttl = self.options.retry_ttl if page.transient else self.options.cache_ttl
        try:
            key = page_key(self.keys, page.url)
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(key)
            pipe.hset(key, mapping=page.to_hash())
            pipe.expire(key, ttl)
            pipe.execute()
        except Exception as error:  # noqa: BLE001 - no cache this time: the page is fetched again later
            _log.warning("newsmon: page %s not cached: %s", page.url, error)

    def close(self):
        if self._loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._fetcher.__aexit__(None, None, None), self._loop).result(5)
            except Exception:  # noqa: BLE001 - closing a pool that is already gone
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._workers.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _decoded(fields):
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
            for k, v in fields.items()}


# The Beam step ---------------------------------------------------------------------------------------


class _FetchFullTextFn(beam.DoFn):
    """Articles that want their page wait for it while the others pass straight on; pages are
    fetched concurrently in the background, and a bundle's last ones are handed on when it ends
    (re-timestamped at the end of the global window, as ExtractEntities does)."""

    def __init__(self, redis_url, prefix, options, allow_private, default_mode, retry_seconds):
        self._redis_url = redis_url
        self._prefix = prefix
        self._options = options
        self._allow_private = allow_private
        self._default_mode = default_mode
        self._retry_seconds = retry_seconds

    def setup(self):
        self._client = redis_client(self._redis_url) if self._redis_url else None
        self._pages = PageService(self._client, RedisKeys(self._prefix), self._options,
                                  allow_private=self._allow_private)
        self._counters = {name: Metrics.counter("fulltext", name)
                          for name in ("fetched", "cached", "used", "kept_teaser", "not_wanted")}

    def start_bundle(self):
        self._pending = []

    def process(self, article: dict):
        mode = article.get("fulltext") or self._default_mode
        article = {key: value for key, value in article.items() if key != "fulltext"}
        if not wants_page(article, mode):
            self._counters["not_wanted"].inc()
            yield {**article, "text_source": "teaser" if is_teaser(article.get("text", "")) else "feed"}
            return
        future = call_with_retry(lambda: self._pages.submit(article["url"]), url=self._redis_url,
                                 retry_seconds=self._retry_seconds) if self._client else self._pages.submit(
                                     article["url"])
        self._pending.append((article, future))
        while len(self._pending) >= self._options.max_pending:
            concurrent.futures.wait([f for _, f in self._pending], return_when=concurrent.futures.FIRST_COMPLETED)
            yield from self._done(windowed=True)
        yield from self._done(windowed=True)

    def _done(self, *, windowed):
        still = []
        for article, future in self._pending:
            if future.done():
                yield self._applied(article, future.result(), windowed)
            else:
                still.append((article, future))
        self._pending = still

    def _applied(self, article, page, windowed):
        self._counters["cached" if page.cached else "fetched"].inc()
        result = apply_page(article, page)
        self._counters["used" if result["text_source"] == "fulltext" else "kept_teaser"].inc()
        if result["text_source"] == "teaser" and not page.problem and not page.cached:
            # The page was read but is no article (a consent wall, a paywall stub): said once, when fetched.
            _log.warning("newsmon: page %s: %s; the teaser stays", page.url, result["fulltext_problem"])
        return GlobalWindows.windowed_value_at_end_of_window(result) if windowed else result

    def finish_bundle(self):
        pending, self._pending = self._pending, []
        for article, future in pending:
            yield self._applied(article, future.result(), True)

    def teardown(self):
        pages = getattr(self, "_pages", None)
        if pages is not None:
            pages.close()
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()


class FetchFullText(beam.PTransform):
    """Normalized articles -> the same articles with ``text_source`` and, where their page gave it,
    the page's main text. ``default_mode`` (auto, always, never) applies to articles whose feed
    named none (their ``fulltext`` key)."""

    def __init__(self, redis_url, *, prefix="newsmon:", default_mode="never", options=None, allow_private=False,
                 retry_seconds=60):
        super().__init__()
        if default_mode not in FULLTEXT_MODES:
            raise ValueError(f"fulltext mode must be one of {', '.join(FULLTEXT_MODES)}, got {default_mode!r}")
        if options is not None and not isinstance(options, PageOptions):
            raise ValueError("options must be a PageOptions")
        self._args = (redis_url, prefix, options or PageOptions(), allow_private, default_mode, retry_seconds)

    def expand(self, articles):
        return articles | "FetchPages" >> beam.ParDo(_FetchFullTextFn(*self._args))


def page_summary(page):
    """A Page as a plain dict (for JSON output and tests)."""
    return json.loads(json.dumps({"url": page.url, "words": len(page.text.split()), "problem": page.problem,
                                  "note": page.note, "cached": page.cached}))
