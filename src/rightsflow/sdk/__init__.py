"""Rightsflow's service-side SDK: implement the Privacy Service API in a few lines.

See `rightsflow.sdk.service` for the quickstart and docs/privacy-service-api.yaml for the
contract. Stable API: everything exported here.
"""

from rightsflow.sdk.models import (
    API_VERSION,
    Accepted,
    AccessResult,
    Callback,
    CallbackBody,
    ConsentRequest,
    ConsentResult,
    EraseResult,
    SubjectRequest,
)
from rightsflow.sdk.service import MemoryStore, PrivacyService, ResultStore, signed_call
from rightsflow.sdk.signing import HEADER, SignatureError, sign, verify

__all__ = [
    "API_VERSION",
    "HEADER",
    "Accepted",
    "AccessResult",
    "Callback",
    "CallbackBody",
    "ConsentRequest",
    "ConsentResult",
    "EraseResult",
    "MemoryStore",
    "PrivacyService",
    "ResultStore",
    "SignatureError",
    "SubjectRequest",
    "sign",
    "signed_call",
    "verify",
]
