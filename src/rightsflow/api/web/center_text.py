"""The privacy center's words that come from Python, not templates: each is wrapped in `msg()`
so tests/unit/test_web_translations.py finds it, and translated when a template shows it with
`_()`. Fixed texts only: nothing a visitor typed ever becomes a message."""

from __future__ import annotations

from rightsflow.domain.requests import DenialReason, RequestStatus, RequestType


def msg(text: str) -> str:
    """Marks `text` as a message to translate (it is translated where it is shown)."""
    return text


S = RequestStatus

# What each state means for the person waiting, in plain words.
STATUS_TEXT: dict[RequestStatus, str] = {
    S.RECEIVED: msg("Received: we are getting it ready."),
    S.AWAITING_VERIFICATION: msg("Waiting for you to confirm your email address."),
    S.AWAITING_APPROVAL: msg("Waiting for approval by our privacy team."),
    S.EXECUTING: msg("In progress: we are carrying out your request."),
    S.COMPLETED: msg("Completed."),
    S.FAILED: msg("In progress: we hit a problem and are working on it."),
    S.DENIED: msg("Refused."),
    S.CANCELED: msg("Withdrawn."),
    S.EXPIRED: msg("Closed: the email address was not confirmed in time."),
}

TYPE_TEXT: dict[RequestType, str] = {
    RequestType.ACCESS: msg("Get a copy of your data"),
    RequestType.ERASURE: msg("Delete your data"),
    RequestType.RECTIFICATION: msg("Correct your data"),
    RequestType.RESTRICTION: msg("Restrict the use of your data"),
    RequestType.PORTABILITY: msg("Get your data in a portable format"),
    RequestType.OPT_OUT: msg("Stop selling or sharing your data"),
    RequestType.LIMIT_USE: msg("Limit the use of your sensitive data"),
}

# The reasons in services/lifecycle.REASON_TEXT, in the visitor's language.
DENIAL_TEXT: dict[str, str] = {
    DenialReason.IDENTITY_NOT_VERIFIED: msg("We could not verify your identity."),
    DenialReason.NO_DATA_FOUND: msg("We hold no personal data about you."),
    DenialReason.EXEMPTION_APPLIES: msg("A legal exemption applies to the data you asked about."),
    DenialReason.MANIFESTLY_UNFOUNDED_OR_EXCESSIVE: msg(
        "The request is manifestly unfounded or excessive."
    ),
    DenialReason.OUTSIDE_JURISDICTION: msg("The law you invoked does not apply to you."),
    DenialReason.SUSPECTED_FRAUD: msg("The request appears to be fraudulent."),
    DenialReason.AGENT_NOT_AUTHORIZED: msg("The agent could not show your authorization."),
}
NO_REASON = msg("No reason was recorded.")

# Short confirmations after a form post, chosen by a fixed flag in the redirect's query.
DONE_TEXT: dict[str, str] = {
    "verified": msg("Thank you: your email address is confirmed."),
    "resent": msg("We sent you a new code. It replaces the previous one."),
    "saved": msg("Your choices are saved."),
}
