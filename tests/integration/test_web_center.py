"""The privacy center over the real app (tests/support/web_stack.py) with mail to a real SMTP
server: a request made through the form and verified with the emailed code, form errors,
another browser, Spanish, and the preferences page with a Global Privacy Control signal."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from rightsflow.api.web.center_pages import DEVICE_COOKIE, SUBJECT_COOKIE
from rightsflow.domain.consent import SubjectKind, SubjectRef
from rightsflow.domain.requests import RequestStatus
from rightsflow.services import consent, lifecycle
from tests.support.smtp_server import RunningSmtp, smtp_server
from tests.support.web_stack import WebStack, web_stack
from tests.unit.fakes import TestClient

EMAIL = "ada.lovelace.7431@example.test"
_CODE = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def smtp() -> Iterator[RunningSmtp]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def stack(tmp_path: Path, smtp: RunningSmtp) -> Iterator[WebStack]:
    with web_stack(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        mail_from="privacy@shop.example",
    ) as made:
        yield made


def submit(browser: TestClient, **fields: str) -> tuple[str, str]:
    """Posts the form; the request's page path and the Set-Cookie header."""
    form = {"right": "erasure", "email": EMAIL, "regime": "gdpr", **fields}
    answer = browser.post("/privacy/requests", data=form)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"], answer.headers["set-cookie"]


def code_from(smtp: RunningSmtp) -> str:
    mail = smtp.received[-1]
    assert mail.recipients == [EMAIL]
    [code] = _CODE.findall(mail.message.get_content())
    return code


def test_an_erasure_made_through_the_form_is_verified_with_the_emailed_code(
    stack: WebStack, smtp: RunningSmtp
) -> None:
    browser = stack.client()
    start = browser.get("/privacy/")
    assert start.status_code == 200
    assert "<fieldset" in start.text
    assert "<legend>What do you want us to do?</legend>" in start.text
    assert '<label for="email">' in start.text
    path, cookie = submit(browser)
    request_id = path.rsplit("/", 1)[1]
    assert path == f"/privacy/requests/{request_id}"
    token = lifecycle.subject_token(stack.runtime.platform, request_id)
    # The token travels only in the cookie, which only this request's pages receive.
    assert f"{SUBJECT_COOKIE}={token}" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert f"Path={path}" in cookie
    assert "Secure" not in cookie  # the stack's public URL is http

    status = browser.get(path)
    assert status.status_code == 200
    assert "Waiting for you to confirm your email address." in status.text
    assert "<title>Confirm your email address" in status.text

    wrong = "000000" if code_from(smtp) != "000000" else "111111"
    refused = browser.post(f"{path}/code", data={"code": wrong})
    assert refused.status_code == 422
    assert "That code is not right." in refused.text
    assert 'aria-describedby="code-error" aria-invalid="true"' in refused.text
    assert '<a href="#code">' in refused.text  # the error summary links to the field

    verified = browser.post(f"{path}/code", data={"code": code_from(smtp)})
    assert verified.status_code == 303
    assert verified.headers["location"] == f"{path}?done=verified"
    after = browser.get(verified.headers["location"])
    assert "Thank you: your email address is confirmed." in after.text
    assert "Waiting for approval by our privacy team." in after.text
    assert stack.starter.started  # the workflow was started, as by the REST route

    seen = [start, refused, verified, status, after]
    assert all(token not in page.text for page in seen)
    assert all(token not in page.headers.get("location", "") for page in seen)


def test_too_many_wrong_codes_lock_confirmation_and_a_new_code_must_wait(
    stack: WebStack, smtp: RunningSmtp
) -> None:
    browser = stack.client()
    path, _ = submit(browser)
    wrong = "000000" if code_from(smtp) != "000000" else "111111"
    answers = [browser.post(f"{path}/code", data={"code": wrong}) for _ in range(6)]
    assert [a.status_code for a in answers] == [422] * 6
    assert "You have 1 attempt left." in answers[3].text
    assert "confirmation is locked" in answers[5].text
    again = browser.post(f"{path}/code/resend")
    assert again.status_code == 429
    assert "No more codes can be sent" in again.text or "Please wait" in again.text


def test_a_new_code_is_refused_before_the_back_off(stack: WebStack) -> None:
    browser = stack.client()
    path, _ = submit(browser)
    answer = browser.post(f"{path}/code/resend")
    assert answer.status_code == 429
    assert "Please wait a little before asking for another code." in answer.text


def test_a_missing_email_is_a_422_with_an_error_summary_linked_to_the_field(
    stack: WebStack,
) -> None:
    answer = stack.client().post("/privacy/requests", data={"right": "erasure", "regime": "gdpr"})
    assert answer.status_code == 422
    assert 'class="error-summary" role="alert"' in answer.text
    assert '<a href="#email">Enter your email address.</a>' in answer.text
    assert 'id="email-error"' in answer.text
    assert 'aria-describedby="email-hint email-error" aria-invalid="true"' in answer.text
    assert "<title>Error: Make a privacy request" in answer.text
    assert 'value="erasure" checked' in answer.text  # the choice is kept


def test_a_bad_email_is_not_echoed(stack: WebStack, smtp: RunningSmtp) -> None:
    typed = "not-an-address.5521@@example.test"
    answer = stack.client().post(
        "/privacy/requests", data={"right": "access", "email": typed, "regime": "gdpr"}
    )
    assert answer.status_code == 422
    assert "Enter a valid email address" in answer.text
    assert typed not in answer.text
    assert "5521" not in answer.text
    assert smtp.received == []


def test_a_right_the_law_does_not_give_is_an_error_on_the_law(stack: WebStack) -> None:
    # PIPEDA has no right to erasure: the service refuses, the form says where.
    answer = stack.client().post(
        "/privacy/requests", data={"right": "erasure", "email": EMAIL, "regime": "pipeda"}
    )
    assert answer.status_code == 422
    assert '<a href="#regime">This law does not give that right.' in answer.text
    assert EMAIL not in answer.text


def test_a_correction_names_a_field_and_a_new_value(stack: WebStack) -> None:
    browser = stack.client()
    start = browser.get("/privacy/")
    assert '<option value="shop:customers.name">' in start.text
    missing = browser.post(
        "/privacy/requests", data={"right": "rectification", "email": EMAIL, "regime": "gdpr"}
    )
    assert missing.status_code == 422
    assert '<a href="#correction-field">' in missing.text
    path, _ = submit(
        browser,
        right="rectification",
        correction_field="shop:customers.name",
        correction_value="Ada King",
    )
    assert "Correct your data" in browser.get(path).text


def test_another_browser_sees_no_request(stack: WebStack) -> None:
    path, _ = submit(stack.client())
    other = stack.client()
    pages = [
        other.get(path),
        other.get(f"/privacy/requests/{uuid.uuid4()}"),
        other.get("/privacy/requests/not-an-id"),
        other.post(f"{path}/code", data={"code": "123456"}),
        other.post(f"{path}/download"),
    ]
    assert [p.status_code for p in pages] == [403] * 5
    assert all("We cannot show this request" in p.text for p in pages)
    assert all("Delete your data" not in p.text for p in pages)  # nothing about the request


def test_a_download_before_completion_goes_back_to_the_status(stack: WebStack) -> None:
    browser = stack.client()
    path, _ = submit(browser, right="access")
    answer = browser.post(f"{path}/download")
    assert answer.status_code == 303
    assert answer.headers["location"] == path


def test_a_finished_copy_is_downloaded_through_a_signed_link(stack: WebStack) -> None:
    browser = stack.client()
    path, _ = submit(browser, right="access")
    request_id = path.rsplit("/", 1)[1]
    platform = stack.runtime.platform
    with platform.uow() as uow:  # as if it had run (the recording starter runs nothing)
        done = uow.requests.get(request_id)
        done.status = RequestStatus.COMPLETED
        uow.requests.save(done)
        uow.commit()
    status = browser.get(path)
    assert '<button type="submit" aria-describedby="download-hint">Download your data' in (
        status.text
    )
    answer = browser.post(f"{path}/download")
    assert answer.status_code == 303
    link = answer.headers["location"]
    assert link.startswith(f"/api/v1/packages/{request_id}?expires=")
    assert "&sig=" in link
    assert lifecycle.subject_token(platform, request_id) not in link
    with platform.uow() as uow:
        made = [e for e in uow.audit.for_request(request_id) if e.action == "package.link_created"]
    assert [e.actor for e in made] == ["subject"]


def test_the_center_speaks_spanish(stack: WebStack) -> None:
    browser = stack.client()
    chosen = browser.get("/privacy/?lang=es")
    assert '<html lang="es">' in chosen.text
    assert "<h1>Presentar una solicitud de privacidad</h1>" in chosen.text
    assert "Saltar al contenido principal" in chosen.text
    assert "lang=es" in chosen.headers["set-cookie"]
    later = browser.get("/privacy/preferences")  # the cookie keeps the choice
    assert "<h1>Sus preferencias de privacidad</h1>" in later.text
    asked = stack.client().get("/privacy/", headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert '<html lang="es">' in asked.text
    error = stack.client().post(
        "/privacy/requests?lang=es", data={"right": "erasure", "regime": "gdpr"}
    )
    assert "Introduzca su dirección de correo electrónico." in error.text  # from Python
    assert "Hay un problema" in error.text  # in a macro of center/_forms.html
    missing = stack.client().get("/privacy/nowhere", headers={"Accept-Language": "es"})
    assert missing.status_code == 404
    assert "Lo sentimos" in missing.text
    assert "No encontrado." in missing.text


def _ledger(stack: WebStack, device: str) -> list[tuple[bool, list[tuple[str, bool, str]]]]:
    subject = SubjectRef(SubjectKind.DEVICE_ID, device)
    page = consent.history(stack.runtime.platform, subject, None, 50)
    return [
        (view.gpc, [(e.purpose, e.effective, e.source.value) for e in entries])
        for view, entries in page.items
    ]


def test_a_gpc_visitor_sees_sale_and_sharing_off_and_the_ledger_has_the_signal(
    stack: WebStack,
) -> None:
    browser = stack.client()
    first = browser.get("/privacy/preferences", headers={"Sec-GPC": "1"})
    assert first.status_code == 200
    assert "Global Privacy Control signal was honoured: selling and sharing are off" in first.text
    assert 'name="purpose-sale_sharing" value="off" checked' in first.text
    assert 'name="purpose-sale_sharing" value="on" checked' not in first.text
    device = browser.cookies.get(DEVICE_COOKIE)
    assert device is not None
    assert "HttpOnly" in first.headers["set-cookie"]
    ledger = _ledger(stack, device)
    assert len(ledger) == 1
    gpc, entries = ledger[0]
    assert gpc is True
    assert ("sale_sharing", False, "gpc") in entries
    # Seen again with nothing new: no second record.
    browser.get("/privacy/preferences", headers={"Sec-GPC": "1"})
    assert len(_ledger(stack, device)) == 1
    assert device not in first.text


def test_saving_choices_writes_them_for_this_browser(stack: WebStack) -> None:
    browser = stack.client()
    shown = browser.get("/privacy/preferences")
    assert "Global Privacy Control" not in shown.text
    assert "Always on" in shown.text  # the essential purpose, not a choice
    saved = browser.post(
        "/privacy/preferences", data={"purpose-analytics": "on", "purpose-essential": "off"}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/privacy/preferences?done=saved"
    after = browser.get(saved.headers["location"])
    assert "Your choices are saved." in after.text
    assert 'name="purpose-analytics" value="on" checked' in after.text
    assert "Now: On (your choice)" in after.text
    device = browser.cookies.get(DEVICE_COOKIE)
    assert device is not None
    [(gpc, entries)] = _ledger(stack, device)
    assert gpc is False
    assert entries == [("analytics", True, "preferences")]


def test_a_post_without_the_device_cookie_goes_to_the_page_first(stack: WebStack) -> None:
    answer = stack.client().post("/privacy/preferences", data={"purpose-analytics": "on"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/privacy/preferences"


def test_code_entry_through_the_page_shares_the_api_code_budget(stack: WebStack) -> None:
    browser = stack.client()
    path, _ = submit(browser)
    request_id = path.rsplit("/", 1)[1]
    api = f"/api/v1/subject/requests/{request_id}/code"
    # rate_limit_code is 10/minute per request: five through the API, five through the page...
    for _ in range(5):
        browser.post(api, json={"code": "000000"})
        browser.post(f"{path}/code", data={"code": "000000"})
    # ...and the eleventh is refused, whichever way it comes.
    refused = browser.post(f"{path}/code", data={"code": "000000"})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"]
