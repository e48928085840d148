"""The Temporal payload codec: every payload a client or worker sends is sealed by the vault.

With the SDK's serialization context the codec knows which workflow a payload belongs to: a
request workflow's payloads (`privacy-request-<id>`, its activities' too) are sealed under the
request's data key and become unreadable once the key is destroyed; everything else uses the
codec's own key (see services/payload_codec.py for the format). Decoding reads the key from
the payload's metadata, so it needs no context and passes foreign payloads through.

Failures are converted with their message and stack trace moved into an encoded payload, so an
exception text cannot carry readable data into a history either.

A payload of a purged request cannot be decoded: the client call (or the worker's activation)
fails with PayloadUnreadable and the worker goes on; a purged request's workflow is closed, and
closed workflows are not replayed by workers (only a query or a UI view would try, and fail).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Self

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from rightsflow.services import payload_codec
from rightsflow.services.payload_codec import RawPayload
from rightsflow.services.ports import Vault


class VaultPayloadCodec(PayloadCodec, WithSerializationContext):
    """Seals under the request's key when the context names a request workflow."""

    def __init__(self, vault: Vault, request_id: str | None = None) -> None:
        self._vault = vault
        self._key_id = payload_codec.key_id_for(request_id)

    @property
    def key_id(self) -> str:
        return self._key_id

    def with_context(self, context: SerializationContext) -> Self:
        workflow_id: str | None = None
        if isinstance(context, WorkflowSerializationContext | ActivitySerializationContext):
            workflow_id = context.workflow_id
        return type(self)(self._vault, payload_codec.request_of_workflow(workflow_id))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        raw = [_raw(p) for p in payloads]
        # The vault may read or store the data key in the key database the first time.
        sealed = await asyncio.to_thread(payload_codec.seal_all, self._vault, self._key_id, raw)
        return [_payload(p) for p in sealed]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        raw = [_raw(p) for p in payloads]
        if not any(payload_codec.is_sealed(p) for p in raw):
            return list(payloads)
        opened = await asyncio.to_thread(payload_codec.open_all, self._vault, raw)
        return [_payload(p) for p in opened]


def data_converter(vault: Vault) -> DataConverter:
    """The default converter, with every payload sealed and failure texts encoded too."""
    return DataConverter(
        payload_codec=VaultPayloadCodec(vault),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def _raw(payload: Payload) -> RawPayload:
    return RawPayload(dict(payload.metadata), payload.data)


def _payload(raw: RawPayload) -> Payload:
    return Payload(metadata=dict(raw.metadata), data=raw.data)
