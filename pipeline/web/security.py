"""Who may read and write, and the headers every answer carries.

    access = Access.from_token_file("~/.newsmon-token")   # or Access.generated() on 127.0.0.1
    access.session_cookie()            -> what the browser keeps once it gave the token (/login)
    access.csrf_token(cookie)          -> the hidden field of every form of that session
    access.can_write(cookie, bearer)   -> the token, as a session cookie or an Authorization: Bearer header

Reads need the token only when it was given (``--token-file``: the page is shared on a
network); writes always need it, and a form also needs its CSRF field and, when the browser
sends one, an ``Origin`` of this server. Without ``--token-file`` (only on a loopback address)
``newsmon web`` makes a token for the run and prints the one URL that logs in with it.

Cookies hold an HMAC of the token, never the token; the CSRF field is an HMAC of the cookie.
"""

import hashlib
import hmac
import ipaddress
import secrets
from pathlib import Path

from pipeline.errors import UsageError

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "Access", "is_loopback"]

# No inline script or style anywhere: scripts and styles are files under /static/.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
COOKIE = "newsmon_session"


def is_loopback(host):
    """True for 127.0.0.0/8, ::1 and localhost: the addresses only this machine reaches."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Access:
    """The token of one server run, and what is derived from it."""

    def __init__(self, token, *, required_for_reads):
        if not token:
            raise UsageError("the token is empty")
        self._key = hashlib.sha256(b"newsmon-web\0" + token.encode()).digest()
        self._token = token
        self.required_for_reads = required_for_reads

    @classmethod
    def from_token_file(cls, path):
        """The token in the first line of ``path`` (UsageError: one line, if missing or empty)."""
        path = Path(path).expanduser()
        try:
            token = path.read_text(encoding="utf-8").strip().splitlines()
        except OSError as error:
            raise UsageError(f"--token-file {path}: {error.strerror}") from error
        if not token or len(token[0].strip()) < 8:
            raise UsageError(f"--token-file {path}: expected a token of at least 8 characters on its first line")
        return cls(token[0].strip(), required_for_reads=True)

    @classmethod
    def generated(cls):
        """A token for this run only; reads stay open (the server listens on loopback)."""
        return cls(secrets.token_urlsafe(24), required_for_reads=False)

    @property
    def token(self):
        return self._token

    def _mac(self, purpose, value=""):
        return hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()

    def token_matches(self, given):
        return bool(given) and hmac.compare_digest(str(given).encode(), self._token.encode())

    def session_cookie(self):
        return self._mac("session")

    def valid_session(self, cookie):
        return bool(cookie) and hmac.compare_digest(str(cookie), self.session_cookie())

    def csrf_token(self, cookie):
        """The CSRF field of the session ``cookie`` (empty without a valid session: no form can write)."""
        return self._mac("csrf", cookie) if self.valid_session(cookie) else ""

    def valid_csrf(self, cookie, field):
        expected = self.csrf_token(cookie)
        return bool(expected) and bool(field) and hmac.compare_digest(str(field), expected)

    def bearer_ok(self, authorization):
        scheme, _, value = str(authorization or "").partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(value.strip())

    def can_read(self, cookie, authorization):
        return not self.required_for_reads or self.valid_session(cookie) or self.bearer_ok(authorization)
