"""Signed documents: canonical JSON, Ed25519 signatures, and that no change goes unnoticed."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given
from hypothesis import strategies as st

from rightsflow.domain.errors import InvalidInput, RightsflowError
from rightsflow.domain.signature import (
    canonical_json,
    key_id,
    load_public_key,
    public_key_pem,
    raw_public_key,
    sign_document,
    verify_document,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
RAW = raw_public_key(KEY)

RECEIPT: dict[str, Any] = {
    "format": "rightsflow.receipt/v1",
    "issued_at": "2025-03-01T09:00:05+00:00",
    "request_id": "5f0c7a52-8a47-4b4e-9d7e-6f2f3c9a0b11",
    "status": "completed",
    "verified": True,
    "lines": [
        {
            "collection": "shop:customers",
            "system": "shop",
            "action": "mask",
            "rows_found": 1,
            "rows_masked": 1,
            "rows_kept": 0,
            "kept_reason": None,
            "fields": [["email", "null"], ["name", "fixed"]],
        },
        {"collection": "shop:orders", "system": "shop", "action": "keep", "rows_kept": 4},
    ],
    "not_reached": [],
}


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every member and list item, containers included, as a path of keys and indexes."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield (*path, key)
        yield from _paths(child, (*path, key))


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return 0
    if isinstance(value, list):
        return [*value, None]
    return {**value, "extra": 1}


def test_round_trip_unpinned_and_pinned() -> None:
    signed = sign_document(RECEIPT, KEY)
    assert signed["signature"]["algorithm"] == "Ed25519"
    assert signed["signature"]["key_id"] == key_id(RAW)
    assert len(key_id(RAW)) == 16
    assert {k: v for k, v in signed.items() if k != "signature"} == RECEIPT
    assert "signature" not in RECEIPT  # the input is not changed
    result = verify_document(signed, None)
    assert (result.valid, result.pinned, result.key_id, result.reason) == (
        True,
        False,
        key_id(RAW),
        None,
    )
    pinned = verify_document(signed, [raw_public_key(OTHER), RAW])
    assert (pinned.valid, pinned.pinned) == (True, True)
    # What a client does: JSON out, JSON in.
    assert verify_document(json.loads(json.dumps(signed, indent=2)), [RAW]).valid


def test_every_single_change_in_a_nested_receipt_is_caught() -> None:
    signed = sign_document(RECEIPT, KEY)
    paths = list(_paths(RECEIPT))
    assert len(paths) > 25
    for path in paths:
        for change in ("modify", "remove"):
            doc = copy.deepcopy(signed)
            parent = _parent(doc, path)
            if change == "modify":
                parent[path[-1]] = _changed(parent[path[-1]])
            else:
                del parent[path[-1]]
            result = verify_document(doc, [RAW])
            assert not result.valid, (change, path)
            assert result.reason is not None
            assert "changed after signing" in result.reason
    added = copy.deepcopy(signed) | {"note": "added later"}
    assert not verify_document(added, None).valid
    swapped = copy.deepcopy(signed)
    swapped["lines"].reverse()
    assert not verify_document(swapped, None).valid


def test_the_signature_member_itself_cannot_be_changed() -> None:
    signed = sign_document(RECEIPT, KEY)
    for member in ("algorithm", "key_id", "public_key", "value"):
        doc = copy.deepcopy(signed)
        doc["signature"][member] = _changed(doc["signature"][member])
        assert not verify_document(doc, None).valid, member
        del doc["signature"][member]
        assert not verify_document(doc, None).valid, member
    extra = copy.deepcopy(signed)
    extra["signature"]["comment"] = "x"
    assert not verify_document(extra, None).valid
    unsigned = {k: v for k, v in signed.items() if k != "signature"}
    assert verify_document(unsigned, None).reason == "the document has no signature"


def test_base64_with_other_padding_bits_is_refused() -> None:
    signed = sign_document(RECEIPT, KEY)
    value = signed["signature"]["value"]
    assert value.endswith("==")
    # The last character before "==" carries 4 unused bits; flipping one decodes the same.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(value[-3])
    doc = copy.deepcopy(signed)
    doc["signature"]["value"] = value[:-3] + alphabet[last ^ 1] + "=="
    result = verify_document(doc, None)
    assert not result.valid
    assert result.reason == "signature.value is not in canonical base64"


def test_another_key_is_refused_when_pinned_and_reported_when_not() -> None:
    forged = sign_document(RECEIPT | {"verified": False}, OTHER)
    result = verify_document(forged, [RAW])
    other_id = key_id(raw_public_key(OTHER))
    assert (result.valid, result.pinned, result.key_id) == (False, True, other_id)
    assert result.reason == f"signed by key {other_id}, which is not a trusted key"
    unpinned = verify_document(forged, None)
    assert (unpinned.valid, unpinned.pinned, unpinned.key_id) == (True, False, other_id)
    assert not verify_document(sign_document(RECEIPT, KEY), []).valid  # nothing trusted


def test_a_swapped_embedded_key_breaks_the_signature() -> None:
    signed = sign_document(RECEIPT, KEY)
    other = sign_document(RECEIPT, OTHER)["signature"]
    doc = copy.deepcopy(signed)
    doc["signature"]["public_key"] = other["public_key"]
    doc["signature"]["key_id"] = other["key_id"]
    assert not verify_document(doc, [raw_public_key(OTHER)]).valid
    assert not verify_document(doc, None).valid


def test_canonical_form_is_stable_and_sorted() -> None:
    doc = {"b": [1, True, None, "é"], "a": {"d": -2, "c": 'x\ny\u0001"\\'}, "": False}
    expected = '{"":false,"a":{"c":"x\\ny\\u0001\\"\\\\","d":-2},"b":[1,true,null,"é"]}'
    assert canonical_json(doc) == expected.encode("utf-8")
    assert canonical_json(dict(reversed(list(doc.items())))) == expected.encode("utf-8")
    assert canonical_json(("a", 1)) == b'["a",1]'
    # RFC 8785 orders by UTF-16 code units: U+1F600 (D83D DE00) sorts before U+FF61.
    assert canonical_json({"\uff61": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\uff61":1}'.encode()


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"lines": [{"rows": 1.0}]}, "$.lines[0].rows"),
        ({"x": float("nan")}, "$.x"),
        ({"x": float("inf")}, "$.x"),
        ({"x": 2**53}, "$.x"),
        ({"x": {1: "a"}}, "$.x"),
        ({"x": {"y": b"bytes"}}, "$.x.y"),
        ({"x": "\ud800"}, None),
    ],
)
def test_what_has_no_canonical_form_is_refused(doc: dict[str, Any], where: str | None) -> None:
    with pytest.raises(InvalidInput) as caught:
        canonical_json(doc)
    assert caught.value.field == where
    with pytest.raises(InvalidInput):
        sign_document(doc, KEY)


def test_a_float_in_a_signed_document_makes_it_invalid() -> None:
    signed = sign_document(RECEIPT, KEY)
    signed["lines"][0]["rows_found"] = 1.0
    result = verify_document(signed, None)
    assert not result.valid
    assert result.reason is not None
    assert "$.lines[0].rows_found: floats" in result.reason


def test_public_key_pem_and_back() -> None:
    pem = public_key_pem(KEY)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert public_key_pem(RAW) == public_key_pem(KEY.public_key()) == pem
    assert load_public_key(pem) == load_public_key(pem.encode()) == load_public_key(RAW) == RAW
    with pytest.raises(RightsflowError, match="not a PEM public key"):
        load_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(RightsflowError, match="32 bytes"):
        public_key_pem(b"short")


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)
DOCUMENTS = st.dictionaries(
    st.text(max_size=6).filter(lambda k: k != "signature"), JSON_VALUES, min_size=1, max_size=5
)


@given(doc=DOCUMENTS, data=st.data())
def test_any_single_member_change_breaks_the_signature(doc: dict[str, Any], data: Any) -> None:
    signed = sign_document(doc, KEY)
    assert verify_document(json.loads(json.dumps(signed)), [RAW]).valid
    path = data.draw(st.sampled_from(list(_paths(doc))))
    tampered = copy.deepcopy(signed)
    parent = _parent(tampered, path)
    how = data.draw(st.sampled_from(["replace", "remove", "add"]))
    if how == "replace":
        new = data.draw(JSON_VALUES)
        assume(canonical_json(new) != canonical_json(parent[path[-1]]))
        parent[path[-1]] = new
    elif how == "remove":
        del parent[path[-1]]
    elif isinstance(parent, list):
        parent.insert(path[-1], data.draw(JSON_VALUES))
    else:
        key = data.draw(st.text(max_size=4))
        assume(key not in parent and (len(path) > 1 or key != "signature"))
        parent[key] = data.draw(JSON_VALUES)
    result = verify_document(tampered, [RAW])
    assert not result.valid
    assert result.reason is not None
    assert "changed after signing" in result.reason
