"""The payload codec over the real vault (SQLite key store): which key seals what, what passes
through, and what fails once a request's key is destroyed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import (
    ActivitySerializationContext,
    WorkflowSerializationContext,
)
from temporalio.exceptions import ApplicationError

from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.config import Settings
from rightsflow.services.payload_codec import PayloadUnreadable, request_of_workflow
from rightsflow.services.ports import Vault
from rightsflow.workflows.codec import VaultPayloadCodec, data_converter
from rightsflow.workflows.contracts import RunRequest, StepPolicy, workflow_id
from tests.support.stack import make_shop

SECRET = "codec-distinctive-Zebulon.Quartermaine@example.org"
ENCRYPTED = b"binary/rightsflow-encrypted"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    root = Path(tmp_path_factory.mktemp("codec"))
    _, mapdir = make_shop(root, customers=5)
    runtime = build_runtime(Settings(data_dir=root / "data", datamap_dir=mapdir))
    yield runtime
    runtime.close()


@pytest.fixture
def vault(runtime: Runtime) -> Vault:
    return runtime.platform.vault


def json_payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


def for_workflow(vault: Vault, wid: str) -> VaultPayloadCodec:
    return VaultPayloadCodec(vault).with_context(WorkflowSerializationContext("default", wid))


async def test_a_request_workflows_payloads_are_sealed_under_its_key(vault: Vault) -> None:
    rid = str(uuid.uuid4())
    (sealed,) = await for_workflow(vault, workflow_id(rid)).encode([json_payload(SECRET)])
    assert sealed.metadata["encoding"] == ENCRYPTED
    assert sealed.metadata["encryption-key-id"] == f"request:{rid}".encode()
    assert SECRET.encode() not in sealed.SerializeToString()
    # Decoding needs no context: the key is named in the payload.
    assert await VaultPayloadCodec(vault).decode([sealed]) == [json_payload(SECRET)]


async def test_activities_of_a_request_workflow_use_the_requests_key(vault: Vault) -> None:
    rid = str(uuid.uuid4())
    context = ActivitySerializationContext(
        "default", "1", "run_node", "tq", workflow_id(rid), "PrivacyRequest", is_local=False
    )
    codec = VaultPayloadCodec(vault).with_context(context)
    assert codec.key_id == f"request:{rid}"


@pytest.mark.parametrize(
    "wid", ["rightsflow-retention-purge-run-tq", "privacy-request-not-a-uuid", None]
)
async def test_other_workflows_use_the_codecs_own_key(vault: Vault, wid: str | None) -> None:
    codec = VaultPayloadCodec(vault)
    if wid is not None:
        codec = for_workflow(vault, wid)
    (sealed,) = await codec.encode([json_payload(SECRET)])
    assert sealed.metadata["encryption-key-id"] == b"global"
    assert await codec.decode([sealed]) == [json_payload(SECRET)]


def test_the_request_id_is_read_back_from_the_workflow_id() -> None:
    rid = str(uuid.uuid4())
    assert request_of_workflow(workflow_id(rid)) == rid
    assert request_of_workflow(workflow_id(rid.upper())) is None  # never a second spelling


async def test_foreign_payloads_pass_through_and_sealed_ones_are_not_sealed_twice(
    vault: Vault,
) -> None:
    codec = VaultPayloadCodec(vault)
    plain = json_payload("nothing to see")
    assert await codec.decode([plain]) == [plain]
    (once,) = await codec.encode([plain])
    assert await codec.encode([once]) == [once]


async def test_an_altered_payload_fails_clearly(vault: Vault) -> None:
    rid = str(uuid.uuid4())
    (sealed,) = await for_workflow(vault, workflow_id(rid)).encode([json_payload(SECRET)])
    altered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + b"\x00")
    with pytest.raises(PayloadUnreadable, match="altered"):
        await VaultPayloadCodec(vault).decode([altered])
    moved = Payload(
        metadata={**sealed.metadata, "encryption-key-id": f"request:{uuid.uuid4()}".encode()},
        data=sealed.data,
    )
    with pytest.raises(PayloadUnreadable, match="cannot be opened"):
        await VaultPayloadCodec(vault).decode([moved])


async def test_other_blobs_the_vault_sealed_for_the_request_do_not_decode(vault: Vault) -> None:
    rid = str(uuid.uuid4())
    identities = vault.seal(rid, f'{{"email": "{SECRET}"}}'.encode())
    posing = Payload(
        metadata={"encoding": ENCRYPTED, "encryption-key-id": f"request:{rid}".encode()},
        data=identities,
    )
    with pytest.raises(PayloadUnreadable, match="not a Temporal payload"):
        await VaultPayloadCodec(vault).decode([posing])


async def test_after_the_key_is_destroyed_nothing_decodes_or_encodes(vault: Vault) -> None:
    rid = str(uuid.uuid4())
    codec = for_workflow(vault, workflow_id(rid))
    (sealed,) = await codec.encode([json_payload(SECRET)])
    assert vault.destroy_key(rid)
    with pytest.raises(PayloadUnreadable, match="destroyed"):
        await VaultPayloadCodec(vault).decode([sealed])
    with pytest.raises(Exception, match="destroyed"):
        await codec.encode([json_payload(SECRET)])


async def test_the_converter_seals_values_and_failure_texts(vault: Vault) -> None:
    rid = str(uuid.uuid4())
    converter = data_converter(vault).with_context(
        WorkflowSerializationContext("default", workflow_id(rid))
    )
    run = RunRequest(rid, 1, StepPolicy())
    (payload,) = await converter.encode([run])
    assert rid.encode() not in payload.data
    assert await converter.decode([payload], [RunRequest]) == [run]
    failure = Failure()
    await converter.encode_failure(ApplicationError(f"could not reach {SECRET}"), failure)
    assert SECRET.encode() not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert SECRET in str(decoded)
