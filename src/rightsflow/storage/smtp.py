"""Mail through an SMTP server: the Notifier port for production (FileOutbox is the default).

Built on the standard library's smtplib and email.message rather than a library such as
aiosmtplib: the Notifier port is synchronous, the volume is small (verification codes and
operator notices, not newsletters), and smtplib already does STARTTLS, implicit TLS and AUTH
with certificate checking through `ssl`. One connection per message keeps it stateless and
thread-safe: nothing to keep alive, nothing shared between threads.

Errors are ConnectorFailure with a message that never holds the recipient, the body or the
password, and never the server's reply text (servers often echo the address back).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from rightsflow.domain.errors import ConnectorFailure

Security = Literal["none", "starttls", "tls"]
_DEFAULT_PORTS: dict[str, int] = {"none": 25, "starttls": 587, "tls": 465}


class SmtpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)  # default: 25, 587 or 465
    security: Security = "starttls"
    username: str | None = None
    password: SecretStr | None = Field(default=None, repr=False)
    mail_from: str = Field(min_length=3, pattern=r"@")
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    # Trust this CA bundle instead of the system's (a relay with a private CA; tests).
    ca_file: Path | None = None
    # The name we give in EHLO; None lets smtplib ask the resolver for our FQDN.
    helo_name: str | None = None

    @model_validator(mode="after")
    def _credentials(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both an SMTP username and a password, or neither")
        if self.username is not None and self.security == "none":
            raise ValueError("SMTP login needs smtp_security starttls or tls (never in clear)")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or _DEFAULT_PORTS[self.security]


def read_secret(
    env_name: str | None, file: Path | None, env: Mapping[str, str]
) -> SecretStr | None:
    """A secret from the named environment variable or from a file (one trailing newline
    dropped); None when neither is given. The value is never put in an error."""
    if env_name is not None and file is not None:
        raise ValueError("give the SMTP password by environment variable or by file, not both")
    if env_name is not None:
        if env_name not in env:
            raise ValueError(f"environment variable {env_name} (the SMTP password) is not set")
        return SecretStr(env[env_name])
    if file is not None:
        try:
            return SecretStr(file.read_text(encoding="utf-8").removesuffix("\n"))
        except OSError as exc:
            raise ValueError(f"cannot read the SMTP password file ({exc.strerror})") from None
    return None


class SmtpNotifier:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._context: ssl.SSLContext | None = None
        if config.security != "none":
            cafile = str(config.ca_file) if config.ca_file else None
            self._context = ssl.create_default_context(cafile=cafile)

    def __repr__(self) -> str:
        c = self._config
        return f"SmtpNotifier({c.host}:{c.effective_port}, {c.security})"

    def send(self, to: str, subject: str, body: str) -> None:
        message = self._message(to, subject, body)
        try:
            with self._connect() as smtp:
                self._login(smtp)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise ConnectorFailure(
                f"mail server refused the recipient (SMTP {', '.join(map(str, codes))})",
                retryable=all(400 <= c < 500 for c in codes),
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise ConnectorFailure(
                f"mail server refused the message (SMTP {exc.smtp_code})",
                retryable=400 <= exc.smtp_code < 500,
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise ConnectorFailure(
                "mail server does not offer what smtp_security asks for (STARTTLS or AUTH)",
                retryable=False,
            ) from None
        except ssl.SSLCertVerificationError:
            raise ConnectorFailure(
                "mail server's TLS certificate is not trusted (see smtp_ca_file)", retryable=False
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            # Unreachable, timed out, disconnected, TLS handshake failed: worth trying again.
            raise ConnectorFailure(
                f"mail server unreachable or failed ({type(exc).__name__})", retryable=True
            ) from None

    def _message(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._config.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self._config.mail_from.rpartition("@")[2])
        message.set_content(body)
        return message

    def _connect(self) -> smtplib.SMTP:
        c = self._config
        if c.security == "tls":
            return smtplib.SMTP_SSL(
                c.host,
                c.effective_port,
                local_hostname=c.helo_name,
                timeout=c.timeout_s,
                context=self._context,
            )
        smtp = smtplib.SMTP(c.host, c.effective_port, c.helo_name, timeout=c.timeout_s)
        if c.security == "starttls":
            try:
                smtp.starttls(context=self._context)
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _login(self, smtp: smtplib.SMTP) -> None:
        c = self._config
        if c.username is not None and c.password is not None:
            smtp.login(c.username, c.password.get_secret_value())
