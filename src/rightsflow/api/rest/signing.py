"""/api/v1/receipt-signing-key: the public key receipts are signed with (no authentication:
it is meant to be published, and whoever holds a receipt needs it to check the receipt)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from rightsflow.api.deps import PlatformDep

KEY_ID_HEADER = "Rightsflow-Key-Id"
PEM_MEDIA_TYPE = "application/x-pem-file"

router = APIRouter(tags=["receipts"])


@router.get(
    "/api/v1/receipt-signing-key",
    response_class=Response,
    summary="The Ed25519 public key (PEM) that signs erasure receipts",
    responses={
        200: {
            "content": {PEM_MEDIA_TYPE: {}},
            "description": "SubjectPublicKeyInfo PEM; the key id is in the "
            f"`{KEY_ID_HEADER}` header",
        }
    },
)
def receipt_signing_key(platform: PlatformDep) -> Response:
    signer = platform.signer
    return Response(
        signer.public_key_pem(),
        media_type=PEM_MEDIA_TYPE,
        headers={KEY_ID_HEADER: signer.key_id(), "Cache-Control": "public, max-age=300"},
    )
