"""TCF v2.x TC strings: real strings from the IAB's reference decoder tests (iabtcf-java
TCStringV2Test) and the iab-tcf package's seeds, each field checked, plus hand-built strings."""

from __future__ import annotations

from typing import Any

import pytest

from rightsflow.domain.consent_signals import decode_tcf
from tests.unit.consent_strings import bitfield, letters, to_base64url, uint

# iabtcf-java: "the string was created here https://www.iabtcf.com/#/encode"
IAB_SIMPLE = "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA"
IAB_BITFIELDS = "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA"
IAB_DISCLOSED = "IBAgAAAgAIAwgAgAAAAEAAAACA"
IAB_ALLOWED = "QAagAQAgAIAwgA"
IAB_PUBLISHER = "cAAAAAAAITg="
IAB_RANGE_LI = "COv__-wOv__-wC2AAAENAPCgAAAAAAAAAAAAA_wAQA_gEBABAEAAAA"
IAB_TWO_RANGE = "COwBOpCOwBOpCLqAAAENAPCAAAAAAAAAAAAAFfwAYFfAV-BVkAGBVYFWAAA"
IAB_ONE_RANGE = "COwBOpCOwBOpCLqAAAENAPCAAAAAAAAAAAAAFfwAQFfgUbABAUaAAA"
TCF_V1 = "BOVeoB_OVeoFxC-AHAFRBtAAAAAhGAEAD4AXAA2YCEQ"

# iab-tcf (PyPI) tests/seed/v2/consent_c.json: range-encoded vendors, 27 publisher
# restrictions and a publisher TC segment. The vendor lists were cross-checked against that
# package's own decoder (317 consents, 158 legitimate interests).
SEED_C = (
    "CFH3rDSF96yuwAfAICENAzCsAM_AADwAAARQGVgcRTdfaWJiM_5g58s0OQlfceCVF8whjgaJAg0NiB-VYJYRjyEy"
    "JB1whiYKGRIEKkBBAQQhDEBMDQgAwIkQKQKsQk2EAhNKIzJAgEETMicYCGlPj4VSORAYJg-sbkfTuz8_qz5m6oGU"
    "AEkChZCQIAUAAJcOgEKIEIVQAgAEAiChEFowsECRwExIYCAEASIBAYAAAAiA4AohQAAAIAAEkURAgAwIEEIBCoAA"
    "QACAEIACBAgFgAIGAQACgHB4AQTBKRIQQGBQcogQESBAZSTAbKgBAAAgAnADwAV8IAQAAEAAoAEAAPAAjgBTAEQA"
    "LgAfYBSwExAKwAWIAu8BeQDBhwBcAAwAGYAWABbADEAMgAjABVAD0AIQARYAkwBLADZAG-APIArIBYgDMAG4AR0A"
    "kQBQgClwFskoAYACABpAD8JADgAFgAogCYAJoAUAApABtAFGAOMAnQBTQC0AJeAXcAvEOAIAAcAFsAOYA-QCTAEu"
    "AOOApIQAPAAkAEIAJIAdwBSADnAHWASsA1AB6gEJAIvAUOAugBjwYAcABQAFQAXABxAE4AK8AawA-QCGwEtAKRAW"
    "KAuIBdY6AgABUADgAPgAsACYAE0AKUAaIA7wB-gGEAOmAnYBTYCrAGEiQA4AFwAiABPADeAeIBiQDJAkAkADwAww"
    "B7AD4AI0AegBFQCZQGGkIAwAIgBHAEDAIwAUMBTRQAQADQAMwAsQBqgEpANoAlEBkAUASADsASoBCACoAKmAVeAv4"
    "BhADGSAAkAIIAYgBZAGKAM4AdQA_gCbAFtFIA4AQwCOAFzALyArYBcAC7SYAYAKgBZwDbAKpAWwAvYRAGACsAIYA"
    "ZAA1AGBAMnDQAwBEgLkAYwKACACZAGWAWkAuw0AEAK0AcAwAIAMoAvwCQQFoiwAYA5ACWgH7HgBwB4gHAAPaAf0B"
    "JACS4GOAY6KgBAFXAYeMgCAFbAN4AvMBkREAMAiIBHYCmQFfALJAXYA.f3gAH7AAAAAA"
)


def fields(text: str) -> dict[str, Any]:
    decoded = decode_tcf(text)
    assert decoded.valid, decoded.problem
    assert decoded.problem is None
    return dict(decoded.fields)


def test_every_core_field_of_the_iab_encoder_string() -> None:
    assert fields(IAB_SIMPLE) == {
        "version": 2,
        "created": "2020-01-26T17:01:00Z",
        "last_updated": "2021-02-02T17:01:00Z",
        "cmp_id": 675,
        "cmp_version": 2,
        "consent_screen": 1,
        "consent_language": "EN",
        "vendor_list_version": 15,
        "tcf_policy_version": 2,
        "is_service_specific": False,
        "use_non_standard_texts": False,
        "special_feature_opt_ins": [1],
        "purposes_consent": [2, 10],
        "purposes_legitimate_interest": [2, 9],
        "purpose_one_treatment": True,
        "publisher_cc": "AA",
        "vendor_consents": [],
        "vendor_legitimate_interests": [],
        "publisher_restrictions": [],
    }


def test_bitfield_vendor_consents_and_legitimate_interests() -> None:
    decoded = fields(IAB_BITFIELDS)
    assert decoded["purposes_consent"] == [3, 4, 5, 6, 7, 8, 9]
    assert decoded["vendor_consents"] == [23, 37, 47, 48, 53, 65, 98]
    assert decoded["vendor_legitimate_interests"] == [37, 47, 48, 53, 65, 98, 129]


def test_disclosed_allowed_and_publisher_segments() -> None:
    decoded = fields(".".join([IAB_BITFIELDS, IAB_DISCLOSED, IAB_ALLOWED, IAB_PUBLISHER]))
    assert decoded["disclosed_vendors"] == [23, 37, 47, 48, 53, 65, 98, 129]
    assert decoded["allowed_vendors"] == [12, 23, 37, 47, 48, 53]
    assert len(decoded["publisher_tc"]["purposes_consent"]) == 1
    assert decoded["vendor_consents"] == [23, 37, 47, 48, 53, 65, 98]


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (IAB_RANGE_LI, "vendor_legitimate_interests", [128]),
        (IAB_TWO_RANGE, "vendor_consents", [702, 703]),
        (IAB_ONE_RANGE, "vendor_consents", [703]),
    ],
)
def test_range_encoded_vendor_sections(text: str, key: str, expected: list[int]) -> None:
    assert fields(text)[key] == expected


def test_seed_with_range_vendors_restrictions_and_publisher_tc() -> None:
    decoded = fields(SEED_C)
    header = {key: decoded[key] for key in ("created", "last_updated", "cmp_id", "cmp_version")}
    assert header == {
        "created": "1987-06-07T14:26:29Z",
        "last_updated": "1990-04-22T02:59:04Z",
        "cmp_id": 31,
        "cmp_version": 8,
    }
    assert decoded["consent_screen"] == 2
    assert (decoded["consent_language"], decoded["publisher_cc"]) == ("EN", "CK")
    assert (decoded["vendor_list_version"], decoded["tcf_policy_version"]) == (51, 2)
    assert decoded["is_service_specific"] is True
    assert decoded["use_non_standard_texts"] is False
    assert decoded["special_feature_opt_ins"] == [1, 2]
    assert decoded["purposes_consent"] == [1, 2, 5, 6, 7, 8, 9, 10]
    assert decoded["purposes_legitimate_interest"] == [3, 4, 5, 6]
    assert decoded["purpose_one_treatment"] is False
    consents, interests = decoded["vendor_consents"], decoded["vendor_legitimate_interests"]
    assert (len(consents), consents[:6], consents[-1]) == (317, [6, 7, 8, 12, 16, 18], 811)
    assert (len(interests), interests[:5], interests[-1]) == (158, [8, 11, 14, 21, 23], 808)
    assert decoded["publisher_tc"] == {
        "purposes_consent": [1, 2, 3, 4, 5, 7, 8, 9, 10],
        "purposes_legitimate_interest": [1, 2, 3, 4, 5, 6, 8, 9],
        "custom_purposes_consent": [],
        "custom_purposes_legitimate_interest": [],
    }


@pytest.mark.parametrize(
    ("vendor", "purpose", "restriction"),
    [
        (1, 10, "require_legitimate_interest"),
        (2, 2, "not_allowed"),
        (6, 7, "not_allowed"),
        (8, 9, "require_consent"),
        (14, 3, "require_legitimate_interest"),
        (18, 4, "not_allowed"),
    ],
)
def test_seed_publisher_restrictions(vendor: int, purpose: int, restriction: str) -> None:
    restrictions = fields(SEED_C)["publisher_restrictions"]
    assert len(restrictions) == 27
    matching = [
        entry["restriction_type"]
        for entry in restrictions
        if entry["purpose_id"] == purpose and vendor in entry["vendor_ids"]
    ]
    assert matching == [restriction]


def core_bits(**overrides: Any) -> str:
    """A TCF v2.2 core segment, built field by field (defaults overridable)."""
    values: dict[str, Any] = {"version": 2, "policy": 4, "vendors": "", "restrictions": ""}
    values.update(overrides)
    return (
        uint(values["version"], 6)
        + uint(16_900_000_000, 36)  # deciseconds: 1,690,000,000 s
        + uint(17_000_000_005, 36)
        + uint(300, 12)
        + uint(7, 12)
        + uint(3, 6)
        + letters("FR")
        + uint(250, 12)
        + uint(values["policy"], 6)
        + "1"  # service specific
        + "1"  # non-standard texts
        + bitfield([2], 12)
        + bitfield([1, 3, 24], 24)
        + bitfield([2, 7], 24)
        + "0"
        + letters("DE")
        + (values["vendors"] or uint(5, 16) + "0" + bitfield([1, 5], 5))
        + uint(0, 16)
        + "1"
        + uint(0, 12)  # empty range-encoded legitimate interests
        + (values["restrictions"] or uint(0, 12))
    )


def test_hand_built_v2_2_string() -> None:
    restriction = uint(1, 12) + uint(2, 6) + uint(1, 2) + uint(2, 12)
    restriction += "1" + uint(10, 16) + uint(12, 16) + "0" + uint(40, 16)
    decoded = fields(to_base64url(core_bits(restrictions=restriction)))
    assert decoded["created"] == "2023-07-22T04:26:40Z"
    assert decoded["last_updated"] == "2023-11-14T22:13:20.500Z"
    assert (decoded["cmp_id"], decoded["cmp_version"], decoded["consent_screen"]) == (300, 7, 3)
    assert (decoded["consent_language"], decoded["publisher_cc"]) == ("FR", "DE")
    assert (decoded["vendor_list_version"], decoded["tcf_policy_version"]) == (250, 4)
    assert decoded["is_service_specific"]
    assert decoded["use_non_standard_texts"]
    assert decoded["special_feature_opt_ins"] == [2]
    assert decoded["purposes_consent"] == [1, 3, 24]
    assert decoded["purposes_legitimate_interest"] == [2, 7]
    assert decoded["vendor_consents"] == [1, 5]
    assert decoded["vendor_legitimate_interests"] == []
    assert decoded["publisher_restrictions"] == [
        {"purpose_id": 2, "restriction_type": "require_consent", "vendor_ids": [10, 11, 12, 40]}
    ]


def test_publisher_tc_with_custom_purposes() -> None:
    segment = uint(3, 3) + bitfield([1], 24) + bitfield([24], 24) + uint(2, 6) + "01" + "11"
    decoded = fields(IAB_SIMPLE + "." + to_base64url(segment))
    assert decoded["publisher_tc"] == {
        "purposes_consent": [1],
        "purposes_legitimate_interest": [24],
        "custom_purposes_consent": [2],
        "custom_purposes_legitimate_interest": [1, 2],
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (TCF_V1, "not a TCF v2 string (version 1)"),
        ("COtybn4PA_zT4KjA*BENAPCIAEBAAECAAIAAAAAAAAAA", "TC string core segment is not base64url"),
        (IAB_SIMPLE[:30], "truncated: the string ends before its last field"),
        (IAB_SIMPLE + "." + to_base64url(uint(5, 3)), "TC string has a segment of unknown type"),
        (IAB_SIMPLE + ".", "TC string segment is not base64url"),
        ("", "TC string is empty"),
        ("   ", "TC string is empty"),
        ("C" * 70_000, "TC string is too long"),
    ],
)
def test_rejections_name_the_problem(text: str, problem: str) -> None:
    decoded = decode_tcf(text)
    assert (decoded.valid, decoded.problem, dict(decoded.fields)) == (False, problem, {})


def test_range_beyond_the_maximum_vendor_is_rejected() -> None:
    vendors = uint(10, 16) + "1" + uint(1, 12) + "1" + uint(5, 16) + uint(11, 16)
    decoded = decode_tcf(to_base64url(core_bits(vendors=vendors)))
    assert decoded.problem == "a range entry is out of order or beyond its maximum id"


def test_a_letter_code_outside_a_to_z_is_rejected() -> None:
    bits = core_bits()
    at = 6 + 36 + 36 + 12 + 12 + 6  # consent language
    decoded = decode_tcf(to_base64url(bits[:at] + uint(63, 6) + bits[at + 6 :]))
    assert decoded.problem == "a letter code is outside A-Z"


def test_problems_never_echo_the_input() -> None:
    secret = "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA"[:25] + "user@example.com"
    decoded = decode_tcf(secret)
    assert decoded.problem is not None
    assert "user" not in decoded.problem
    assert "COtybn" not in decoded.problem
