"""IAB TCF v2.x TC strings (v2.0 to v2.2 share one wire format): core segment, then optional
disclosed-vendors, allowed-vendors and publisher-TC segments, joined by '.'.

Why our own reader and not a library: the only Python packages on PyPI are `iab-tcf` 0.2.2
(last release 2022) and its 2024 re-packaging `iab-tcf-bitarray` (same code, other bitarray
dependency). Both read past the end of a truncated string as zeros (no truncation error), use
the deprecated `datetime.utcfromtimestamp`, return bytes for language codes, have no type hints
(strict mypy here), and their wheels install a top-level `tests` package into site-packages,
which would shadow this repository's own `tests`. The format is small and fixed, so a checked
bit reader (consent_bits.py) plus the field table below is less risk than a dependency.
Field order and widths: IAB "TCF v2.2 TC String format" specification.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rightsflow.domain.consent_bits import MAX_TEXT, BitReader, Malformed, merge_ranges

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_VENDOR_ID = 0xFFFF
_SEGMENT_DISCLOSED, _SEGMENT_ALLOWED, _SEGMENT_PUBLISHER = 1, 2, 3
RESTRICTION_TYPES = ("not_allowed", "require_consent", "require_legitimate_interest", "undefined")


def decode_tc_string(text: str) -> dict[str, Any]:
    """All fields of a TC string as JSON-ready values; raises Malformed."""
    if len(text) > MAX_TEXT:
        raise Malformed("TC string is too long")
    core, *others = text.strip().split(".")
    fields = _core(BitReader.from_base64url(core, "TC string core segment"))
    for segment in others:
        reader = BitReader.from_base64url(segment, "TC string segment")
        kind = reader.uint(3)
        if kind == _SEGMENT_DISCLOSED:
            fields["disclosed_vendors"] = _vendor_section(reader)
        elif kind == _SEGMENT_ALLOWED:
            fields["allowed_vendors"] = _vendor_section(reader)
        elif kind == _SEGMENT_PUBLISHER:
            fields["publisher_tc"] = _publisher_tc(reader)
        else:
            raise Malformed("TC string has a segment of unknown type")
    return fields


def _core(reader: BitReader) -> dict[str, Any]:
    version = reader.uint(6)
    if version != 2:
        raise Malformed(f"not a TCF v2 string (version {version})")
    fields: dict[str, Any] = {
        "version": version,
        "created": _timestamp(reader.uint(36)),
        "last_updated": _timestamp(reader.uint(36)),
        "cmp_id": reader.uint(12),
        "cmp_version": reader.uint(12),
        "consent_screen": reader.uint(6),
        "consent_language": reader.letters(2),
        "vendor_list_version": reader.uint(12),
        "tcf_policy_version": reader.uint(6),
        "is_service_specific": reader.flag(),
        "use_non_standard_texts": reader.flag(),
        "special_feature_opt_ins": reader.bitfield_ids(12),
        "purposes_consent": reader.bitfield_ids(24),
        "purposes_legitimate_interest": reader.bitfield_ids(24),
        "purpose_one_treatment": reader.flag(),
        "publisher_cc": reader.letters(2),
    }
    fields["vendor_consents"] = _vendor_section(reader)
    fields["vendor_legitimate_interests"] = _vendor_section(reader)
    fields["publisher_restrictions"] = _publisher_restrictions(reader)
    return fields


def _timestamp(deciseconds: int) -> str:
    seconds, tenths = divmod(deciseconds, 10)
    moment = _EPOCH + timedelta(seconds=seconds, milliseconds=100 * tenths)
    spec = "milliseconds" if tenths else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _vendor_section(reader: BitReader) -> list[int]:
    """MaxVendorId, then either a bit field of that many vendors or range entries."""
    max_vendor_id = reader.uint(16)
    if not reader.flag():
        return reader.bitfield_ids(max_vendor_id)
    return merge_ranges(_range_entries(reader, reader.uint(12)), max_vendor_id)


def _range_entries(reader: BitReader, count: int) -> list[tuple[int, int]]:
    entries: list[tuple[int, int]] = []
    for _ in range(count):
        is_range = reader.flag()
        start = reader.uint(16)
        entries.append((start, reader.uint(16) if is_range else start))
    return entries


def _publisher_restrictions(reader: BitReader) -> list[dict[str, Any]]:
    restrictions: list[dict[str, Any]] = []
    for _ in range(reader.uint(12)):
        purpose_id = reader.uint(6)
        kind = reader.uint(2)
        entries = _range_entries(reader, reader.uint(12))
        restrictions.append(
            {
                "purpose_id": purpose_id,
                "restriction_type": RESTRICTION_TYPES[kind],
                "vendor_ids": merge_ranges(entries, _MAX_VENDOR_ID),
            }
        )
    return restrictions


def _publisher_tc(reader: BitReader) -> dict[str, Any]:
    consents = reader.bitfield_ids(24)
    legitimate_interests = reader.bitfield_ids(24)
    custom_count = reader.uint(6)
    return {
        "purposes_consent": consents,
        "purposes_legitimate_interest": legitimate_interests,
        "custom_purposes_consent": reader.bitfield_ids(custom_count),
        "custom_purposes_legitimate_interest": reader.bitfield_ids(custom_count),
    }
