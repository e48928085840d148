"""GPP strings: headers and sections from the IAB's GPP documentation and iabgpp-es encoder
tests (each string there is the encoding of the field values listed here), hand-built ones,
and property tests: decoding arbitrary text never raises."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsflow.domain.consent_signals import decode_gpp, decode_tcf
from tests.unit.consent_strings import ALPHABET, gpp_header, to_base64url, two_bit_fields

SPEC_TCF = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"
MISMATCH = "of sections than the string has"
MSPA = {
    "mspa_covered_transaction": 1,
    "mspa_opt_out_option_mode": 1,
    "mspa_service_provider_mode": 2,
}
NOTICES_3 = {
    "sharing_notice": 1,
    "sale_opt_out_notice": 1,
    "targeted_advertising_opt_out_notice": 1,
}
OPT_OUTS_2 = {"sale_opt_out": 1, "targeted_advertising_opt_out": 1}
USNAT_NOTICES = {
    "sharing_notice": 1,
    "sale_opt_out_notice": 1,
    "sharing_opt_out_notice": 1,
    "targeted_advertising_opt_out_notice": 1,
    "sensitive_data_processing_opt_out_notice": 1,
    "sensitive_data_limit_use_notice": 1,
    "sale_opt_out": 1,
    "sharing_opt_out": 1,
    "targeted_advertising_opt_out": 1,
}

# (section id, encoded section, expected fields) from iabgpp-es test/encoder/section/*.test.ts
SECTIONS: list[tuple[int, str, dict[str, Any]]] = [
    (
        7,
        "CVVVkkkkkpFY.YA",
        {
            "version": 2,
            **USNAT_NOTICES,
            "sensitive_data_processing": [2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2],
            "known_child_sensitive_data_consents": [2, 1, 0],
            "personal_data_consents": 1,
            **MSPA,
            "gpc": True,
        },
    ),
    (
        8,
        "BVWSSSVY.YA",
        {
            "version": 1,
            "sale_opt_out_notice": 1,
            "sharing_opt_out_notice": 1,
            "sensitive_data_limit_use_notice": 1,
            "sale_opt_out": 1,
            "sharing_opt_out": 1,
            "sensitive_data_processing": [2, 1, 0, 2, 1, 0, 2, 1, 0],
            "known_child_sensitive_data_consents": [2, 1],
            "personal_data_consents": 1,
            **MSPA,
            "gpc": True,
        },
    ),
    (
        9,
        "BVWSSVY",
        {
            "version": 1,
            **NOTICES_3,
            **OPT_OUTS_2,
            "sensitive_data_processing": [2, 1, 0, 2, 1, 0, 2, 1],
            "known_child_sensitive_data_consents": 1,
            **MSPA,
        },
    ),
    (
        10,
        "BVWSSVg.Y",
        {
            "version": 1,
            **NOTICES_3,
            **OPT_OUTS_2,
            "sensitive_data_processing": [2, 1, 0, 2, 1, 0, 2],
            "known_child_sensitive_data_consents": 1,
            **MSPA,
            "gpc": True,
        },
    ),
    (
        11,
        "BVVkklW",
        {
            "version": 1,
            **NOTICES_3,
            "sensitive_data_processing_opt_out_notice": 1,
            **OPT_OUTS_2,
            "sensitive_data_processing": [2, 1, 0, 2, 1, 0, 2, 1],
            "known_child_sensitive_data_consents": 1,
            **MSPA,
        },
    ),
    (
        12,
        "BVWSSZFg.YA",
        {
            "version": 1,
            **NOTICES_3,
            **OPT_OUTS_2,
            "sensitive_data_processing": [2, 1, 0, 2, 1, 0, 2, 1],
            "known_child_sensitive_data_consents": [2, 1, 0],
            **MSPA,
            "gpc": True,
        },
    ),
]


def fields(text: str) -> dict[str, Any]:
    decoded = decode_gpp(text)
    assert decoded.valid, decoded.problem
    return dict(decoded.fields)


@pytest.mark.parametrize(
    ("header", "section_ids"), [("DBAA", []), ("DBABMA", [2]), ("DBACNYA", [2, 6]), ("DBABLA", [7])]
)
def test_the_test_header_encoder_matches_published_headers(
    header: str, section_ids: list[int]
) -> None:
    assert gpp_header(section_ids) == header


def test_the_specification_example_tcf_and_us_privacy() -> None:
    decoded = fields(f"DBACNY~{SPEC_TCF}~1YNN")
    assert decoded["section_ids"] == [2, 6]
    assert decoded["sections"]["tcfeuv2"] == {"id": 2, **decode_tcf(SPEC_TCF).fields}
    assert decoded["sections"]["tcfeuv2"]["cmp_id"] == 31
    assert decoded["sections"]["uspv1"] == {"id": 6, "name": "uspv1", "raw": "1YNN"}
    assert decoded["gpc"] is None


def test_a_range_entry_in_the_header_and_raw_sections() -> None:
    decoded = fields("DBABjw~canada~1YNN")
    assert decoded["section_ids"] == [5, 6]
    assert decoded["sections"]["tcfcav1"] == {"id": 5, "name": "tcfcav1", "raw": "canada"}


@pytest.mark.parametrize(("section_id", "encoded", "expected"), SECTIONS)
def test_us_sections(section_id: int, encoded: str, expected: dict[str, Any]) -> None:
    decoded = fields(f"{gpp_header([section_id])}~{encoded}")
    (name,) = decoded["sections"]
    assert decoded["sections"][name] == {"id": section_id, **expected}
    assert decoded["gpc"] is expected.get("gpc")


def test_all_six_us_sections_in_one_string() -> None:
    ids = [section_id for section_id, _, _ in SECTIONS]
    decoded = fields("~".join([gpp_header(ids), *(encoded for _, encoded, _ in SECTIONS)]))
    assert decoded["section_ids"] == ids
    assert list(decoded["sections"]) == ["usnat", "usca", "usva", "usco", "usut", "usct"]
    assert decoded["sections"]["usut"]["sensitive_data_processing_opt_out_notice"] == 1


def test_usnat_version_1_has_twelve_sensitive_categories() -> None:
    usnat = fields("DBABLA~BVVVkkkklWA.YA")["sections"]["usnat"]
    assert usnat["version"] == 1
    assert usnat["sensitive_data_processing"] == [2, 1, 0] * 4
    assert usnat["known_child_sensitive_data_consents"] == [2, 1]


def test_gpc_false_and_opt_outs_from_a_hand_built_usca() -> None:
    values = [1, 1, 1, 1, 2] + [0] * 9 + [0, 0] + [0, 2, 0, 0]
    decoded = fields(f"{gpp_header([8])}~{two_bit_fields(1, values)}.QA")
    usca = decoded["sections"]["usca"]
    assert (usca["sale_opt_out"], usca["sharing_opt_out"], usca["gpc"]) == (1, 2, False)
    assert decoded["gpc"] is False


def test_gpc_true_wins_over_false_across_sections() -> None:
    text = f"{gpp_header([7, 10])}~CVVVkkkkkpFY.QA~BVWSSVg.Y"
    assert fields(text)["gpc"] is True


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (SPEC_TCF, "not a GPP string (header type)"),
        (
            "DBACNY~" + SPEC_TCF,
            "GPP header lists a different number of sections than the string has",
        ),
        ("DBABMA~not*base64", "TC string core segment is not base64url"),
        ("DBABLA~DVVVkkkkkpFY", "GPP section usnat has an unsupported version 3"),
        ("DBABLA~CVVV", "truncated: the string ends before its last field"),
        (f"{gpp_header([9])}~BVWSSVY.YA", "GPP section usva has an unexpected sub-section"),
        ("DBABLA~CVVVkkkkkpFY.gA", "GPP sub-section is not a GPC sub-section"),
        ("DBABLA~CVVVkkkkkpFY.YA.YA", "GPP section usnat has an unexpected sub-section"),
        ("DBABLA~", "GPP section usnat is not base64url"),
        ("DCABLA~CVVVkkkkkpFY", "unsupported GPP version"),
        ("DBAB" + "A" * 12, "a Fibonacci-coded number is too long"),
        ("", "GPP string is empty"),
        ("D" * 70_000, "GPP string is too long"),
    ],
)
def test_malformed_strings_are_flagged(text: str, problem: str) -> None:
    decoded = decode_gpp(text)
    assert (decoded.valid, decoded.problem, dict(decoded.fields)) == (False, problem, {})


def test_a_header_range_cannot_expand_without_bound() -> None:
    # one range entry from 1 to 1 + fib-coded 10,945 (far beyond the 64 sections allowed)
    header = "000011" + "000001" + "000000000001" + "1" + "11" + "0" * 19 + "11"
    decoded = decode_gpp(to_base64url(header))
    assert decoded.problem == "too many ids in a range"


consent_text = st.text(alphabet=ALPHABET + ".~=", max_size=300)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    for decoded in (decode_tcf(text), decode_gpp(text)):
        assert decoded.valid or decoded.problem


@settings(max_examples=400, deadline=None)
@given(consent_text)
def test_arbitrary_base64url_never_raises(text: str) -> None:
    for decoded in (decode_tcf(text), decode_gpp(text), decode_gpp("DBABLA~" + text)):
        assert decoded.valid is (decoded.problem is None)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=32, max_size=32))
def test_usnat_v2_round_trip(values: list[int]) -> None:
    """Any 32 two-bit values (3 included: the decoder reports, it does not validate) come
    back in specification order."""
    usnat = fields(f"DBABLA~{two_bit_fields(2, values)}")["sections"]["usnat"]
    singles = [value for key, value in usnat.items() if isinstance(value, int) and key != "id"]
    assert singles[1:10] == values[:9]
    assert usnat["sensitive_data_processing"] == values[9:25]
    assert usnat["known_child_sensitive_data_consents"] == values[25:28]
    assert singles[10:] == values[28:32]
