"""SmtpNotifier against a real SMTP server (aiosmtpd): plain, STARTTLS with login, implicit TLS,
the failures a mail server can give, and the emailed code end to end."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from rightsflow.bootstrap import make_notifier
from rightsflow.config import Settings
from rightsflow.domain.errors import ConnectorFailure, InvalidInput
from rightsflow.services.verification import EmailCodeVerifier
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.outbox import FileOutbox
from rightsflow.storage.smtp import SmtpConfig, SmtpNotifier
from tests.support.smtp_server import TlsFiles, free_port, self_signed, smtp_server
from tests.support.verification_platform import add_request, verification_platform

SECRET = "s3cret-pass"
FROM = "privacy@shop.example"
TO = "ada@example.test"
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def notifier(port: int, **changes: object) -> SmtpNotifier:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "mail_from": FROM,
        "timeout_s": 5,
        "helo_name": "rightsflow.test",
    }
    values.update(changes)
    return SmtpNotifier(SmtpConfig.model_validate(values))


def test_the_emailed_code_arrives_over_smtp_and_verifies(engine: Engine, tmp_path: Path) -> None:
    with smtp_server() as server:
        platform = verification_platform(engine, tmp_path, notifier(server.port))
        request = add_request(platform, {"email": TO}, T0)
        verifier = EmailCodeVerifier()
        with platform.uow() as uow:
            verifier.start(platform, uow, request, T0)
            uow.commit()
        [mail] = server.received
        assert (mail.sender, mail.recipients) == (FROM, [TO])
        assert mail.message["Subject"] == "Your verification code"
        assert mail.message["Message-ID"].endswith("@shop.example>")
        body = mail.message.get_content()
        [code] = re.findall(r"\b\d{6}\b", body)
        with platform.uow() as uow:
            outcome = verifier.check(platform, uow, request, code, T0 + timedelta(minutes=1))
            uow.commit()
        assert outcome.verified
        with platform.uow() as uow:
            actions = [e.action for e in uow.audit.for_request(request.id)]
        assert actions == ["verification.code_sent", "verification.succeeded"]


def test_starttls_with_login_from_an_env_var(tls: TlsFiles, tmp_path: Path) -> None:
    with smtp_server(tls=tls, users={"rightsflow": SECRET}) as server:
        settings = Settings(
            data_dir=tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=server.port,
            smtp_security="starttls",
            smtp_username="rightsflow",
            smtp_password_env="RF_TEST_SMTP_PASSWORD",
            smtp_ca_file=tls.cert,
            mail_from=FROM,
        )
        made = make_notifier(settings, env={"RF_TEST_SMTP_PASSWORD": SECRET})
        assert isinstance(made, SmtpNotifier)
        assert SECRET not in repr(made)
        made.send(TO, "hello", "over TLS")
        [mail] = server.received
        assert mail.authenticated_as == "rightsflow"
        assert mail.message.get_content().strip() == "over TLS"


def test_a_wrong_password_is_a_permanent_failure_that_echoes_nothing(
    tls: TlsFiles, tmp_path: Path
) -> None:
    password_file = tmp_path / "smtp-password"
    password_file.write_text("wrong-one\n")
    with smtp_server(tls=tls, users={"rightsflow": SECRET}) as server:
        settings = Settings(
            data_dir=tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=server.port,
            smtp_username="rightsflow",
            smtp_password_file=password_file,
            smtp_ca_file=tls.cert,
        )
        made = make_notifier(settings, env={})
        with pytest.raises(ConnectorFailure, match=r"refused the message \(SMTP 535\)") as err:
            made.send(TO, "hello", "body")
    assert not err.value.retryable
    assert "wrong-one" not in str(err.value)
    assert TO not in str(err.value)
    assert server.received == []


def test_implicit_tls(tls: TlsFiles) -> None:
    with smtp_server(tls=tls, mode="tls") as server:
        notifier(server.port, security="tls", ca_file=tls.cert).send(TO, "hi", "implicit")
        assert [m.message.get_content().strip() for m in server.received] == ["implicit"]


def test_an_untrusted_certificate_is_refused(tls: TlsFiles) -> None:
    with smtp_server(tls=tls) as server:
        untrusting = notifier(server.port, security="starttls")  # system CAs only
        with pytest.raises(ConnectorFailure, match="not trusted") as err:
            untrusting.send(TO, "hi", "body")
        assert not err.value.retryable
        assert server.received == []


def test_a_server_without_starttls_is_refused_not_sent_in_clear() -> None:
    with smtp_server() as server:
        with pytest.raises(ConnectorFailure, match="does not offer") as err:
            notifier(server.port, security="starttls").send(TO, "hi", "body")
        assert not err.value.retryable
        assert server.received == []


@pytest.mark.parametrize(("reply", "retryable"), [("550 5.1.1", False), ("451 4.3.0", True)])
def test_a_refused_recipient_says_the_code_not_the_address(reply: str, retryable: bool) -> None:
    refusing = smtp_server(refuse_rcpt=f"{reply} no mailbox <{TO}>")
    with refusing as server, pytest.raises(ConnectorFailure) as err:
        notifier(server.port).send(TO, "hi", "body")
    assert err.value.retryable is retryable
    assert reply[:3] in str(err.value)
    assert TO not in str(err.value)
    assert "mailbox" not in str(err.value)


def test_an_unreachable_server_is_worth_retrying() -> None:
    with pytest.raises(ConnectorFailure, match="unreachable") as err:
        notifier(free_port()).send(TO, "hi", "body")
    assert err.value.retryable


def test_without_smtp_host_mail_goes_to_the_outbox(tmp_path: Path) -> None:
    made = make_notifier(Settings(data_dir=tmp_path, mail_from=FROM), env={})
    assert isinstance(made, FileOutbox)
    made.send(TO, "hi", "body")
    [message] = made.messages()
    assert message["From"] == FROM


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"smtp_password_env": "RF_MISSING"}, "RF_MISSING"),
        ({}, "both an SMTP username and a password"),
        ({"smtp_security": "none", "smtp_password_env": "PW"}, "never in clear"),
    ],
)
def test_bad_smtp_settings_stop_the_start_without_the_password(
    tmp_path: Path, changes: dict[str, str], says: str
) -> None:
    settings = Settings(data_dir=tmp_path, smtp_host="mail.example", smtp_username="u", **changes)
    with pytest.raises(InvalidInput, match=says) as err:
        make_notifier(settings, env={"PW": SECRET})
    assert SECRET not in str(err.value)
