"""Fetching feeds over HTTP: bounded, polite and safe.

One ``httpx.AsyncClient`` (one connection pool) fetches many feeds at once on
an asyncio loop, at most ``per_host`` at a time per host. Waiting on hundreds
of slow servers is I/O, not CPU: asyncio holds a thousand open requests in one
thread with per-host semaphores that cost nothing, where a thread pool would
park a thread on each waiting request (and on each per-host queue).

Every fetch is bounded: connect and read timeouts plus a deadline for the
whole fetch; a body cap counted on the bytes received *and* on the
decompressed bytes (we decompress ourselves, a bounded step at a time, so a
gzip bomb stops at the cap instead of filling memory); at most
``max_redirects`` redirects, followed by hand, each hop checked again.

Only http and https. By default a host that resolves to a loopback,
link-local, private or otherwise non-public address is refused, checked on the
address actually connected to (so DNS rebinding cannot slip past);
``allow_private=True`` turns that off (the tests' local server, an intranet);
a list of networks (``["127.0.0.0/8"]``) allows those alone, every other
non-public address still refused (connectors/pages.py's tests: a page on
127.0.0.1 that redirects to 10.0.0.1 is refused before any connection).

    async with FeedFetcher(FetchOptions(), allow_private=False) as fetcher:
        result = await fetcher.fetch("https://feeds.bbci.co.uk/news/world/rss.xml", etag='"abc"')
    result.status, result.body, result.permanent_url, result.error
    -> 200, b"<?xml ...", "", ""

``fetch_feed(url)`` does one fetch synchronously (for a shell or a test).
"""

import asyncio
import ipaddress
import socket
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

__all__ = [
    "USER_AGENT",
    "FeedFetcher",
    "FetchOptions",
    "FetchRefused",
    "FetchResult",
    "fetch_feed",
    "parse_retry_after",
]

USER_AGENT = "newsmon/0.1 (+https://github.com/newsmon/newsmon)"
ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
          "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
RETRY_AFTER_STATUSES = frozenset({429, 503})
MAX_RETRY_AFTER = 7 * 24 * 3600  # a server asking for more than a week gets a week


@dataclass(frozen=True)
class FetchOptions:
    """Limits of one fetcher. The defaults suit real feeds; tests shrink them."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    per_host: int = 4
    max_concurrency: int = 64
    max_items: int = 500  # items taken per fetch, newest first (a feed of 178k items is not a feed)
    user_agent: str = USER_AGENT
    accept: str = ACCEPT  # the Accept header (article pages ask for HTML: connectors/pages.py)

    def __post_init__(self):
        for name in ("connect_timeout", "read_timeout", "total_timeout", "max_body_bytes", "per_host",
                     "max_concurrency", "max_items"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FetchOptions.{name} must be positive, got {getattr(self, name)!r}")
        if self.max_redirects < 0:
            raise ValueError(f"FetchOptions.max_redirects must be 0 or more, got {self.max_redirects!r}")


@dataclass(frozen=True)
class FetchResult:
    """What one fetch gave. ``status`` is 0 when no HTTP response came back (then ``error`` says why).

    ``permanent_url`` is where a chain of 301/308 redirects from ``url`` led, to be remembered;
    ``retry_after`` is the raw Retry-After header of a 429 or 503 (see parse_retry_after).
    """

    url: str
    status: int = 0
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    final_url: str = ""
    permanent_url: str = ""
    error: str = ""
    retry_after: str = ""

    @property
    def ok(self):
        return 200 <= self.status < 300 and not self.error

    @property
    def not_modified(self):
        return self.status == 304 and not self.error


class FetchRefused(Exception):
    """A URL or address newsmon will not fetch (scheme, or a non-public address)."""


class BodyTooLarge(Exception):
    """A body over the cap, compressed or decompressed."""


def parse_retry_after(value, now):
    """Seconds to wait from a Retry-After value (``"120"`` or an HTTP date), capped at a week; None if absent
    or unreadable. ``now`` is epoch seconds."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None:
            return None
        seconds = moment.timestamp() - now
    return max(0.0, min(seconds, float(MAX_RETRY_AFTER)))


def _address_problem(address):
    """Why an address is refused by default, or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for attribute, words in (("is_loopback", "a loopback"), ("is_link_local", "a link-local"),
                             ("is_unspecified", "an unspecified"), ("is_multicast", "a multicast"),
                             ("is_private", "a private"), ("is_reserved", "a reserved")):
        if getattr(ip, attribute):
            return f"{words} address"
    return None if ip.is_global else "a non-public address"


def _networks(allow_private):
    """The networks an ``allow_private`` list names (True and False name none)."""
    if isinstance(allow_private, bool) or not allow_private:
        return ()
    return tuple(ipaddress.ip_network(str(network), strict=False) for network in allow_private)


def _in_networks(address, networks):
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip.version == network.version and ip in network for network in networks)


def _describe(error):
    """The message of an error, else of what caused it (httpx wraps an empty-message ReadError
    around the ConnectionResetError that says what happened)."""
    seen = error
    while seen is not None:
        if str(seen):
            return str(seen) if seen is error else f"{type(seen).__name__}: {seen}"
        seen = seen.__cause__ or seen.__context__
    return type(error).__name__


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving names itself so it can refuse non-public addresses."""

    def __init__(self, allow_private):
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private is True
        self._allowed_networks = _networks(allow_private)

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
        except socket.gaierror as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error.strerror}") from error
        except asyncio.TimeoutError as error:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout} s") from error
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        if not self._allow_private:
            for address in addresses:
                problem = _address_problem(address)
                if problem and self._allowed_networks and _in_networks(address, self._allowed_networks):
                    continue
                if problem:
                    shown = f"{host} is" if host == address else f"{host} resolves to {address},"
                    raise FetchRefused(f"refused: {shown} {problem} (allow_private=True to poll it)")
        error = httpcore.ConnectError(f"cannot resolve {host}: no addresses")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failed:
                error = failed
        raise error

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise FetchRefused("refused: feeds are not fetched over unix sockets")

    async def sleep(self, seconds):
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over the guarded backend.

    httpx does not take a network backend as an argument, so the pool it built is
    replaced by one that uses ours; test_feed_fetch's refusal tests fail loudly should
    httpx ever rename ``_pool``.
    """

    def __init__(self, limits, allow_private):
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allow_private),
        )


class _BodyDecoder:
    """Content-Encoding decoding that never produces more than the room it is given."""

    def __init__(self, encoding):
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")
        self._raw_deflate_fallback = encoding == "deflate"

    def decode(self, data, room):
        if self._inflater is None:
            if len(data) > room:
                raise BodyTooLarge("bytes received")
            return data
        out = bytearray()
        while data and not self._inflater.eof:
            try:
                out += self._inflater.decompress(data, room - len(out) + 1)
            except zlib.error:
                if not self._raw_deflate_fallback:
                    raise
                # Some servers send raw deflate without the zlib header.
                self._raw_deflate_fallback = False
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self._raw_deflate_fallback = False
            if len(out) > room:
                raise BodyTooLarge("decompressed bytes")
            data = self._inflater.unconsumed_tail
        return bytes(out)

    def flush(self, room):
        if self._inflater is None:
            return b""
        out = self._inflater.flush(room + 1)
        if len(out) > room:
            raise BodyTooLarge("decompressed bytes")
        return out


class FeedFetcher:
    """Fetches feeds concurrently over one connection pool; use as ``async with``."""

    def __init__(self, options=None, *, allow_private=False):
        self.options = options or FetchOptions()
        self.allow_private = allow_private
        self._client = None

    async def __aenter__(self):
        o = self.options
        limits = httpx.Limits(max_connections=o.max_concurrency, max_keepalive_connections=o.max_concurrency)
        self._client = httpx.AsyncClient(
            transport=_GuardedTransport(limits, self.allow_private),
            timeout=httpx.Timeout(o.read_timeout, connect=o.connect_timeout, pool=o.total_timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": o.user_agent, "Accept": o.accept, "Accept-Encoding": "gzip, deflate"},
        )
        self._all = asyncio.Semaphore(o.max_concurrency)
        self._hosts = defaultdict(lambda: asyncio.Semaphore(o.per_host))
        return self

    async def __aexit__(self, *exc_info):
        await self._client.aclose()
        self._client = None

    async def fetch(self, url, *, etag="", last_modified=""):
        """A FetchResult for ``url``; never raises for anything the network or the server does."""
        o = self.options
        try:
            return await self._fetch(url, etag, last_modified)
        except asyncio.TimeoutError:
            return FetchResult(url, error=f"timed out: the fetch took longer than {o.total_timeout:g} s")
        except FetchRefused as error:
            return FetchResult(url, error=str(error))
        except BodyTooLarge as error:
            return FetchResult(url, error=f"body over the {o.max_body_bytes}-byte cap ({error})")
        except httpx.ConnectTimeout:
            return FetchResult(url, error=f"timed out connecting after {o.connect_timeout:g} s")
        except httpx.ReadTimeout:
            return FetchResult(url, error=f"timed out reading after {o.read_timeout:g} s")
        except httpx.TimeoutException as error:
            return FetchResult(url, error=f"timed out ({type(error).__name__})")
        except httpx.ConnectError as error:
            return FetchResult(url, error=f"cannot connect: {_describe(error)}")
        except httpx.NetworkError as error:
            return FetchResult(url, error=f"connection lost: {_describe(error)}")
        except (httpx.RemoteProtocolError, httpx.DecodingError, zlib.error) as error:
            return FetchResult(url, error=f"broken response: {_describe(error)}")
        except httpx.HTTPError as error:
            return FetchResult(url, error=f"{type(error).__name__}: {_describe(error)}")
        except ValueError as error:  # unsupported Content-Encoding, unusable URL
            return FetchResult(url, error=str(error))
        except Exception as error:  # noqa: BLE001 - one feed's surprise must not stop the others
            return FetchResult(url, error=f"unexpected {type(error).__name__}: {_describe(error)}")

    async def _fetch(self, url, etag, last_modified):
        o = self.options
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        loop = asyncio.get_running_loop()
        deadline = None
        current, permanent_url, still_permanent, visited = url, "", True, {url}
        for _ in range(o.max_redirects + 1):
            parts = urlsplit(current)
            if parts.scheme.lower() not in ("http", "https"):
                raise FetchRefused(f"refused: {current!r} is not an http or https URL")
            if not parts.hostname:
                raise FetchRefused(f"refused: {current!r} has no host")
            # The host's slot first, then a slot of the whole fetcher: feeds queued behind a busy
            # host never hold slots that other hosts could use. The deadline starts with the
            # first request, not while queued.
            async with self._hosts[parts.hostname.lower()], self._all:
                deadline = deadline or loop.time() + o.total_timeout
                if loop.time() >= deadline:
                    raise asyncio.TimeoutError
                status, reason, response_headers, body = await asyncio.wait_for(
                    self._request(current, headers), deadline - loop.time())
            if status in REDIRECT_STATUSES:
                location = response_headers.get("location")
                if not location:
                    return FetchResult(url, status, headers=response_headers, final_url=current,
                                       error=f"HTTP {status} redirect without a Location header")
                target = urljoin(current, location.strip())
                if still_permanent and status in PERMANENT_REDIRECTS:
                    permanent_url = target
                else:
                    still_permanent = False
                if target in visited:
                    return FetchResult(url, status, headers=response_headers, final_url=current,
                                       permanent_url=permanent_url, error=f"redirect loop at {target}")
                visited.add(target)
                current = target
                continue
            error = "" if 200 <= status < 300 or status == 304 else f"HTTP {status} {reason}".rstrip()
            retry_after = response_headers.get("retry-after", "") if status in RETRY_AFTER_STATUSES else ""
            return FetchResult(url, status, body, response_headers, current, permanent_url, error, retry_after)
        return FetchResult(url, error=f"too many redirects (more than {o.max_redirects})", final_url=current,
                           permanent_url=permanent_url)

    async def _request(self, url, headers):
        """``(status, reason, headers, body)`` of one GET; the body only for a 2xx."""
        async with self._client.stream("GET", url, headers=headers) as response:
            body = await self._read_body(response) if 200 <= response.status_code < 300 else b""
            return response.status_code, response.reason_phrase, dict(response.headers.items()), body

    async def _read_body(self, response):
        cap = self.options.max_body_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise BodyTooLarge(f"Content-Length is {int(declared)} bytes")
        decoder = _BodyDecoder(response.headers.get("content-encoding", ""))
        received, body = 0, bytearray()
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > cap:
                raise BodyTooLarge("bytes received")
            body += decoder.decode(chunk, cap - len(body))
        body += decoder.flush(cap - len(body))
        return bytes(body)


def fetch_feed(url, *, etag="", last_modified="", options=None, allow_private=False):
    """One fetch, synchronously: a FetchResult."""

    async def one():
        async with FeedFetcher(options, allow_private=allow_private) as fetcher:
            return await fetcher.fetch(url, etag=etag, last_modified=last_modified)

    return asyncio.run(one())
