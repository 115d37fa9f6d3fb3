"""A real SMTP server on 127.0.0.1 for the tests and the benchmarks (aiosmtpd), with STARTTLS and AUTH.

    server = SmtpServer(tmp_path, users={"desk": "s3cret"}).start()    # STARTTLS required before AUTH
    server.url            # smtp://127.0.0.1:PORT  (add user:password@ yourself)
    server.cafile         # the self-signed certificate to trust (made at start, for 127.0.0.1)
    server.messages       # [email.message.EmailMessage] in arrival order, with envelope on .envelope
    server.rcpt_replies = {"gone@example.org": "550 5.1.1 no such user"}; server.data_replies = ["451 4.3.0 later"]
    server.hold_next = True; ...; server.held; server.release()     # a DATA left unanswered, then refused
    server.stop()

``implicit_tls=True`` makes it an SMTPS server (TLS from the first byte).
"""

import asyncio
import datetime
import ipaddress
import threading
import warnings
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers import free_port

__all__ = ["SmtpServer", "self_signed_certificate"]

# aiosmtpd sets its own deprecated Session.login_data after every AUTH and warns about it.
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")


def self_signed_certificate(directory):
    """A key and a self-signed certificate for 127.0.0.1/localhost; returns (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    directory = Path(directory)
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        reply = self.server.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.server.hold_next:
            self.server.hold_next = False
            self.server.held = True
            while self.server.held:  # until release(): the client waits for our answer
                await asyncio.sleep(0.02)
            return "421 4.3.0 held and dropped (not stored)"
        with self.server.lock:
            if self.server.data_replies:
                return self.server.data_replies.pop(0)
            message = message_from_bytes(envelope.content, policy=policy.default)
            message.envelope = (envelope.mail_from, list(envelope.rcpt_tos), session.auth_data)
            self.server.messages.append(message)
        return "250 2.0.0 queued"


class SmtpServer:
    """aiosmtpd on a free port of 127.0.0.1 (see the module docstring)."""

    def __init__(self, directory, *, users=None, implicit_tls=False, require_starttls=True):
        import ssl

        self.users = dict(users or {})
        self.implicit_tls = implicit_tls
        self.port = free_port()
        self.cafile, keyfile = self_signed_certificate(directory)
        self.tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls_context.load_cert_chain(self.cafile, keyfile)
        self.messages = []
        self.rcpt_replies = {}
        self.data_replies = []
        self.logins = []
        self.hold_next = False  # hold the next DATA unanswered until release(), then refuse it
        self.held = False
        self.lock = threading.Lock()
        kwargs = {"authenticator": self._authenticate, "auth_require_tls": True}
        if implicit_tls:
            # aiosmtpd does not count a TLS listener as TLS for AUTH; the whole connection is TLS here.
            kwargs.update(ssl_context=self.tls_context, auth_require_tls=False)
        else:
            kwargs.update(tls_context=self.tls_context, require_starttls=require_starttls)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     server_hostname="newsmon-test-smtp", ready_timeout=60.0, **kwargs)
        self.url = f"{'smtps' if implicit_tls else 'smtp'}://127.0.0.1:{self.port}"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.users.get(user) == password
        self.logins.append((user, ok))
        # handled=False: aiosmtpd answers a failure with its 535 (its default, True, answers nothing).
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    def start(self):
        self.controller.start()
        return self

    def release(self):
        self.held = False

    def stop(self):
        self.controller.stop()
