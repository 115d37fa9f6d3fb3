"""DNS rebinding: a name that resolves to a public address when checked and to a private one
when connected to. The fetcher connects to the very address it checked, so the private server
never sees a request; a fetcher that checks the name and then connects by name would reach it."""

import socket

import pytest

from connectors.feed_fetch import FetchOptions, fetch_feed

QUICK = FetchOptions(connect_timeout=1, read_timeout=2, total_timeout=5, max_body_bytes=64 * 1024)
PUBLIC = "192.0.2.10"  # TEST-NET-1: public by its form (not loopback, link-local or private), reaches nothing


@pytest.fixture
def rebinding_resolver(monkeypatch):
    """``rebind.test`` resolves to PUBLIC on the first lookup and to 127.0.0.1 on every later one."""
    real = socket.getaddrinfo
    answers = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        address = PUBLIC if not answers else "127.0.0.1"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def test_a_name_that_rebinds_to_a_private_address_never_reaches_it(feed_server, rebinding_resolver):
    path = "/feeds/atom.xml?rebinding"
    url = feed_server.url(path).replace("127.0.0.1", "rebind.test")
    result = fetch_feed(url, options=QUICK)
    assert not result.ok
    assert rebinding_resolver[0] == PUBLIC
    assert feed_server.requests_for(path) == []  # the private server was never asked
    # The same fetch with the name resolving straight to the server does reach it (the test can fail).
    assert fetch_feed(feed_server.url(path), options=QUICK, allow_private=True).ok
    assert len(feed_server.requests_for(path)) == 1


def test_a_name_that_resolves_private_first_is_refused(feed_server, monkeypatch):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", int(port)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    result = fetch_feed(feed_server.url("/feeds/atom.xml").replace("127.0.0.1", "rebind.test"), options=QUICK)
    assert result.error == ("refused: rebind.test resolves to 127.0.0.1, a loopback address"
                            " (allow_private=True to poll it)")
