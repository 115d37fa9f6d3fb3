"""A local HTTP server for the feed tests: fixture feeds and misbehaving servers on 127.0.0.1.

Routes (``feed_server.url(path)``):

    /feeds/<file>          a fixture of tests/fixtures/feeds, with ETag and Last-Modified; 304 when they match
    /plain/<file>          the same file from a server that ignores conditional GETs
    /gzip/<file>           the file gzip-encoded;  /deflate/<file>: raw deflate, as old IIS sends it
    /big                   1 MiB with a Content-Length;  /big-chunked: 1 MiB chunked, no length
    /gzip-bomb             16 MiB of zeros, gzip-encoded (about 16 KiB on the wire)
    /slow                  headers at once, the body only when the test session ends
    /redirect/<code>?to=L  a redirect to L (relative or absolute)
    /status/<code>         that status; ?retry_after=V adds a Retry-After header
    /concurrent/<i>?until=N&total=T
                           counts requests in flight (max_in_flight); each waits (bounded) until N are
                           in flight or all T have arrived
    /dynamic/<name>        responses a test queued with ``feed_server.queue(...)``, the last one repeated

Every request is logged with its headers (``feed_server.requests_for(path)``).
"""

import gzip
import hashlib
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import FIXTURES

FEED_FIXTURES = FIXTURES / "feeds"
LAST_MODIFIED = "Wed, 15 May 2024 12:00:00 GMT"
CONTENT_TYPES = {
    "atom.xml": "application/atom+xml",
    "rss1_rdf.xml": "application/rdf+xml",
    # A real-world habit: text/xml without a charset, the encoding only in the XML declaration.
    "latin1.xml": "text/xml",
}
_BIG = 1024 * 1024


def _content_type(name):
    if name.endswith(".html"):
        return "text/html; charset=utf-8"
    return CONTENT_TYPES.get(name, "application/rss+xml; charset=utf-8")


def _gzip_bomb(size=16 * 1024 * 1024):
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    parts.append(compressor.flush())
    return b"".join(parts)


def _raw_deflate(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def _tiny_feed(title):
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
            f"<item><title>{title} item</title><guid>urn:test:{title}</guid></item></channel></rss>").encode()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        # A client that hangs up at its body cap or timeout is what the tests want.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FeedServer:
    """ThreadingHTTPServer in a thread on a free port; see the module docstring for its routes."""

    def __init__(self):
        self.gzip_bomb = _gzip_bomb()
        self.release = threading.Event()
        self._lock = threading.Condition()
        self._requests = []
        self._queued = {}
        self.in_flight = self.max_in_flight = self.arrived = 0
        self.httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="feed-server", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path):
        return self.base + path

    def log(self, path, headers):
        with self._lock:
            self._requests.append((path, headers))

    def requests_for(self, path):
        """Headers (lower-case names) of every request whose path and query equal ``path``."""
        with self._lock:
            return [headers for logged, headers in self._requests if logged == path]

    def queue(self, name, *responses):
        """Responses for /dynamic/<name>, each ``(status, body, headers)``; the last one repeats."""
        with self._lock:
            self._queued[name] = list(responses)

    def next_queued(self, name):
        with self._lock:
            responses = self._queued.get(name) or [(404, b"no such dynamic route", {})]
            return responses.pop(0) if len(responses) > 1 else responses[0]

    def reset_concurrency(self):
        with self._lock:
            self.in_flight = self.max_in_flight = self.arrived = 0

    def enter(self, until, total):
        """A request arrives at /concurrent: wait (bounded) until ``until`` requests are in flight,
        or all ``total`` have arrived."""
        with self._lock:
            self.in_flight += 1
            self.arrived += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._lock.notify_all()
            self._lock.wait_for(lambda: self.in_flight >= until or self.arrived >= total, timeout=5)

    def leave(self):
        with self._lock:
            self.in_flight -= 1
            self._lock.notify_all()


def _handler_for(server):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool is exercised

        def log_message(self, *args):
            pass

        def send(self, status, body=b"", headers=None):
            self.send_response(status)
            headers = dict(headers or {})
            headers.setdefault("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - the name http.server calls
            server.log(self.path, {name.lower(): value for name, value in self.headers.items()})
            parts = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            section, _, rest = parts.path.lstrip("/").partition("/")
            route = getattr(self, f"route_{section.replace('-', '_')}", None)
            if route is None:
                self.send(404, b"not found")
            else:
                route(rest, query)

        def fixture(self, name):
            path = FEED_FIXTURES / name
            if "/" in name or not path.is_file():
                self.send(404, b"no such fixture")
                return None
            return path.read_bytes()

        def route_feeds(self, name, query):
            body = self.fixture(name)
            if body is None:
                return
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            validators = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
            asked_etag, asked_date = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            if asked_etag == etag or (not asked_etag and asked_date == LAST_MODIFIED):
                self.send(304, headers=validators)
                return
            self.send(200, body, {"Content-Type": _content_type(name), **validators})

        def route_plain(self, name, query):
            body = self.fixture(name)
            if body is not None:
                self.send(200, body, {"Content-Type": _content_type(name)})

        def route_gzip(self, name, query):
            body = self.fixture(name)
            if body is not None:
                self.send(200, gzip.compress(body), {"Content-Type": _content_type(name), "Content-Encoding": "gzip"})

        def route_deflate(self, name, query):
            body = self.fixture(name)
            if body is not None:
                self.send(200, _raw_deflate(body), {"Content-Type": _content_type(name),
                                                    "Content-Encoding": "deflate"})

        def route_big(self, rest, query):
            self.send(200, b"<rss>" + b" " * _BIG + b"</rss>", {"Content-Type": "application/rss+xml"})

        def route_big_chunked(self, rest, query):
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b" " * 65536
            try:
                for _ in range(_BIG // len(chunk) + 1):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True  # the client hung up at its cap, as it should

        def route_gzip_bomb(self, rest, query):
            self.send(200, server.gzip_bomb, {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})

        def route_slow(self, rest, query):
            body = _tiny_feed("slow")
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            server.release.wait(timeout=30)  # a bounded wait: released when the session ends
            self.close_connection = True

        def route_redirect(self, code, query):
            self.send(int(code), b"", {"Location": query.get("to", "/")})

        def route_status(self, code, query):
            headers = {"Content-Type": "text/plain"}
            if "retry_after" in query:
                headers["Retry-After"] = query["retry_after"]
            self.send(int(code), f"status {code}".encode(), headers)

        def route_concurrent(self, rest, query):
            server.enter(int(query.get("until", "1")), int(query.get("total", "1")))
            try:
                self.send(200, _tiny_feed(f"concurrent{rest}"), {"Content-Type": "application/rss+xml"})
            finally:
                server.leave()

        def route_dynamic(self, name, query):
            status, body, headers = server.next_queued(name)
            self.send(status, body, headers)

    return Handler


@pytest.fixture(scope="session")
def feed_server():
    server = FeedServer().start()
    yield server
    server.stop()
