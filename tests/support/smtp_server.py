"""A real SMTP server for tests (aiosmtpd in a thread) that keeps what it receives.

`smtp_server()` yields a running server on a free loopback port; pass `tls` (a TlsFiles from
`self_signed`) for STARTTLS or implicit TLS, and `users` to require AUTH. Set `refuse_rcpt`
to an SMTP reply (e.g. "550 5.1.1 no such mailbox") to refuse every recipient."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # also the CA file a client trusts (self-signed)
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def self_signed(directory: Path, name: str = "127.0.0.1") -> TlsFiles:
    """A certificate for the loopback address (IP and DNS names), valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName(
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(directory / f"{name}-cert.pem", directory / f"{name}-key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    authenticated_as: str | None


@dataclass
class Inbox:
    refuse_rcpt: str | None = None
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, _server: object, _session: Session, envelope: Envelope, address: str, _: Any
    ) -> str:
        if self.refuse_rcpt is not None:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, _server: object, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        self.received.append(
            Received(
                sender=str(envelope.mail_from),
                recipients=list(envelope.rcpt_tos),
                message=parsed,
                authenticated_as=login.decode() if login else None,
            )
        )
        return "250 Message accepted"


@dataclass
class RunningSmtp:
    port: int
    inbox: Inbox

    @property
    def received(self) -> list[Received]:
        return self.inbox.received


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _authenticator(users: dict[str, str]) -> Any:
    def check(*args: Any) -> AuthResult:
        data = args[-1]  # (server, session, envelope, mechanism, auth data)
        ok = isinstance(data, LoginPassword) and users.get(data.login.decode()) == (
            data.password.decode()
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    return check


@contextmanager
def smtp_server(
    *,
    tls: TlsFiles | None = None,
    mode: Literal["starttls", "tls"] = "starttls",
    users: dict[str, str] | None = None,
    refuse_rcpt: str | None = None,
) -> Iterator[RunningSmtp]:
    inbox = Inbox(refuse_rcpt=refuse_rcpt)
    kwargs: dict[str, Any] = {}
    if tls is not None and mode == "tls":
        kwargs["ssl_context"] = tls.server_context()
    elif tls is not None:
        kwargs.update(tls_context=tls.server_context(), require_starttls=True)
    if users is not None:
        kwargs.update(authenticator=_authenticator(users), auth_required=True)
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield RunningSmtp(port, inbox)
    finally:
        controller.stop()
