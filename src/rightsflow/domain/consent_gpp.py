"""IAB Global Privacy Platform (GPP) strings: a header, then sections joined by '~'.

There is no Python GPP library on PyPI (the IAB ships JavaScript and Java ones), so this is
table-driven: each US section is a list of (field, width, count) per version, read in order
(IAB "GPP US National / US State" section specifications). A US section may carry a GPC
sub-section after '.': 2-bit sub-section type (1 = GPC), then one GPC bit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rightsflow.domain.consent_bits import MAX_TEXT, BitReader, Malformed

# (name, bits per value, number of values): count 0 means a single integer, N >= 1 a list.
Field = tuple[str, int, int]

_HEADER_TYPE, _HEADER_VERSION = 3, 1
_MAX_SECTIONS = 64
_GPC_SUBSECTION = 1
TCF_EU_V2 = 2

SECTION_NAMES: Mapping[int, str] = {
    1: "tcfeuv1", 2: "tcfeuv2", 5: "tcfcav1", 6: "uspv1", 7: "usnat", 8: "usca", 9: "usva",
    10: "usco", 11: "usut", 12: "usct", 13: "usfl", 14: "usmt", 15: "usor", 16: "ustx",
    17: "usde", 18: "usia", 19: "usne", 20: "usnh", 21: "usnj", 22: "ustn", 23: "usmn",
    24: "usmd", 25: "usin", 26: "usky", 27: "usri",
}  # fmt: skip


def _notices(*names: str) -> list[Field]:
    return [(f"{name}_notice", 2, 0) for name in names]


def _opt_outs(*names: str) -> list[Field]:
    return [(f"{name}_opt_out", 2, 0) for name in names]


_MSPA: list[Field] = [
    ("mspa_covered_transaction", 2, 0),
    ("mspa_opt_out_option_mode", 2, 0),
    ("mspa_service_provider_mode", 2, 0),
]


def _usnat(sensitive: int, child: int) -> list[Field]:
    return [
        *_notices("sharing", "sale_opt_out", "sharing_opt_out", "targeted_advertising_opt_out"),
        *_notices("sensitive_data_processing_opt_out", "sensitive_data_limit_use"),
        *_opt_outs("sale", "sharing", "targeted_advertising"),
        ("sensitive_data_processing", 2, sensitive),
        ("known_child_sensitive_data_consents", 2, child),
        ("personal_data_consents", 2, 0),
        *_MSPA,
    ]


def _state(notices: list[Field], sensitive: int, child: int) -> list[Field]:
    """The VA/CO/UT/CT shape: notices, sale + targeted-ads opt-outs, sensitive data, MSPA."""
    return [
        *notices,
        *_opt_outs("sale", "targeted_advertising"),
        ("sensitive_data_processing", 2, sensitive),
        ("known_child_sensitive_data_consents", 2, child),
        *_MSPA,
    ]


_USCA_V1: list[Field] = [
    *_notices("sale_opt_out", "sharing_opt_out", "sensitive_data_limit_use"),
    *_opt_outs("sale", "sharing"),
    ("sensitive_data_processing", 2, 9),
    ("known_child_sensitive_data_consents", 2, 2),
    ("personal_data_consents", 2, 0),
    *_MSPA,
]
_THREE_NOTICES = _notices("sharing", "sale_opt_out", "targeted_advertising_opt_out")

# section id -> (name, {version: fields}, has GPC sub-section)
US_SECTIONS: Mapping[int, tuple[str, Mapping[int, list[Field]], bool]] = {
    7: ("usnat", {1: _usnat(12, 2), 2: _usnat(16, 3)}, True),
    8: ("usca", {1: _USCA_V1}, True),
    9: ("usva", {1: _state(_THREE_NOTICES, 8, 0)}, False),
    10: ("usco", {1: _state(_THREE_NOTICES, 7, 0)}, True),
    11: (
        "usut",
        {1: _state([*_THREE_NOTICES, *_notices("sensitive_data_processing_opt_out")], 8, 0)},
        False,
    ),
    12: ("usct", {1: _state(_THREE_NOTICES, 8, 3)}, True),
}

TcfDecoder = Callable[[str], Mapping[str, Any]]


def decode_gpp_string(text: str, decode_tcf: TcfDecoder) -> dict[str, Any]:
    """{"section_ids", "sections", "gpc"}; raises Malformed. `decode_tcf` decodes the tcfeuv2
    section (passed in so that this module does not depend on the TCF one's error handling)."""
    if len(text) > MAX_TEXT:
        raise Malformed("GPP string is too long")
    header, *parts = text.strip().split("~")
    section_ids = _header(BitReader.from_base64url(header, "GPP header"))
    if len(parts) != len(section_ids):
        raise Malformed("GPP header lists a different number of sections than the string has")
    sections: dict[str, Any] = {}
    for section_id, part in zip(section_ids, parts, strict=True):
        name = SECTION_NAMES.get(section_id, f"section_{section_id}")
        sections[name] = _section(section_id, name, part, decode_tcf)
    flags = [s["gpc"] for s in sections.values() if isinstance(s.get("gpc"), bool)]
    gpc = any(flags) if flags else None
    return {"section_ids": section_ids, "sections": sections, "gpc": gpc}


def _header(reader: BitReader) -> list[int]:
    if reader.uint(6) != _HEADER_TYPE:
        raise Malformed("not a GPP string (header type)")
    if reader.uint(6) != _HEADER_VERSION:
        raise Malformed("unsupported GPP version")
    return reader.fibonacci_range(_MAX_SECTIONS)


def _section(section_id: int, name: str, part: str, decode_tcf: TcfDecoder) -> dict[str, Any]:
    if section_id == TCF_EU_V2:
        return {"id": section_id, **decode_tcf(part)}
    if section_id in US_SECTIONS:
        return {"id": section_id, **_us_section(section_id, name, part)}
    return {"id": section_id, "name": name, "raw": part}


def _us_section(section_id: int, name: str, part: str) -> dict[str, Any]:
    _, versions, has_gpc = US_SECTIONS[section_id]
    core, *subsections = part.split(".")
    reader = BitReader.from_base64url(core, f"GPP section {name}")
    version = reader.uint(6)
    layout = versions.get(version)
    if layout is None:
        raise Malformed(f"GPP section {name} has an unsupported version {version}")
    fields: dict[str, Any] = {"version": version}
    for field_name, width, count in layout:
        fields[field_name] = reader.ints(count, width) if count else reader.uint(width)
    if subsections:
        if not has_gpc or len(subsections) > 1:
            raise Malformed(f"GPP section {name} has an unexpected sub-section")
        fields["gpc"] = _gpc(BitReader.from_base64url(subsections[0], f"GPP {name} GPC"))
    return fields


def _gpc(reader: BitReader) -> bool:
    if reader.uint(2) != _GPC_SUBSECTION:
        raise Malformed("GPP sub-section is not a GPC sub-section")
    return reader.flag()
