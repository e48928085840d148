"""FileVault streams: chunked authenticated encryption; tampering, truncation and reordering
are refused."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator

import pytest

from rightsflow.domain.errors import RightsflowError
from rightsflow.storage.sealed_stream import HEADER_SIZE
from rightsflow.storage.vault import FileVault

RID = str(uuid.uuid4())
CHUNK = 64  # small chunks so a few hundred bytes make several frames
FRAME = 12 + CHUNK + 16


@pytest.fixture(scope="module")
def vault() -> FileVault:
    return FileVault.from_secret(b"k" * 32)


def seal(vault: FileVault, data: bytes, pieces: int = 7, rid: str = RID) -> bytes:
    """Seal `data` handed over in odd-sized pieces (not aligned with the chunks)."""
    parts = (data[i : i + pieces] for i in range(0, len(data), pieces))
    return b"".join(vault.seal_stream(rid, parts, chunk_size=CHUNK))


def in_pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def opened(vault: FileVault, sealed: Iterable[bytes], rid: str = RID) -> bytes:
    return b"".join(vault.open_stream(rid, sealed))


def frames(sealed: bytes) -> tuple[bytes, list[bytes]]:
    body = sealed[HEADER_SIZE:]
    return sealed[:HEADER_SIZE], [body[i : i + FRAME] for i in range(0, len(body), FRAME)]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 9])
def test_roundtrip_of_any_size_read_in_any_pieces(vault: FileVault, size: int) -> None:
    data = os.urandom(size)
    sealed = seal(vault, data)
    assert len(sealed) == HEADER_SIZE + max(1, -(-size // CHUNK)) * 28 + size
    for piece in (1, 5, FRAME, len(sealed)):
        assert opened(vault, in_pieces(sealed, piece)) == data


def test_chunks_are_yielded_as_they_are_opened(vault: FileVault) -> None:
    data = os.urandom(3 * CHUNK + 1)
    chunks = list(vault.open_stream(RID, [seal(vault, data)]))
    assert [len(c) for c in chunks] == [CHUNK, CHUNK, CHUNK, 1]


def test_default_chunk_is_one_mib_and_plaintext_never_shows(vault: FileVault) -> None:
    data = b"ada@example.com," * 100_000  # 1.6 MB
    sealed = b"".join(vault.seal_stream(RID, [data]))
    assert b"ada@example.com" not in sealed
    assert int.from_bytes(sealed[1:5], "big") == 1024 * 1024
    assert len(sealed) == HEADER_SIZE + 2 * 28 + len(data)
    assert opened(vault, [sealed]) == data


def test_same_input_seals_differently_each_time(vault: FileVault) -> None:
    data = os.urandom(2 * CHUNK)
    assert seal(vault, data) != seal(vault, data)


def test_every_flipped_byte_is_refused(vault: FileVault) -> None:
    sealed = seal(vault, os.urandom(2 * CHUNK + 10))
    for position in range(len(sealed)):
        damaged = bytearray(sealed)
        damaged[position] ^= 0x01
        with pytest.raises(RightsflowError):
            opened(vault, [bytes(damaged)])


def test_reordered_or_dropped_or_duplicated_frames_are_refused(vault: FileVault) -> None:
    header, parts = frames(seal(vault, os.urandom(3 * CHUNK + 10)))
    assert len(parts) == 4
    for order in ([1, 0, 2, 3], [0, 2, 1, 3], [0, 1, 3], [0, 2, 3], [0, 0, 1, 2, 3], [3]):
        with pytest.raises(RightsflowError, match="altered, reordered, cut short"):
            opened(vault, [header, *(parts[i] for i in order)])


@pytest.mark.parametrize("cut", [1, 5, HEADER_SIZE - 1, HEADER_SIZE])
def test_a_cut_header_is_refused(vault: FileVault, cut: int) -> None:
    sealed = seal(vault, b"x" * 10)
    with pytest.raises(RightsflowError):
        opened(vault, [sealed[:cut]])
    with pytest.raises(RightsflowError):
        opened(vault, [])


def test_truncation_anywhere_is_refused(vault: FileVault) -> None:
    """Even at a frame boundary: the new last frame was not sealed as the final one."""
    sealed = seal(vault, os.urandom(3 * CHUNK))
    boundaries = [HEADER_SIZE + FRAME * n for n in (1, 2)]
    for cut in [*boundaries, HEADER_SIZE + 30, len(sealed) - 1, len(sealed) - 17]:
        with pytest.raises(RightsflowError):
            opened(vault, [sealed[:cut]])


def test_bytes_after_the_final_frame_are_refused(vault: FileVault) -> None:
    sealed = seal(vault, os.urandom(CHUNK + 3))
    for extra in (b"\x00", os.urandom(FRAME), seal(vault, b"more")[HEADER_SIZE:]):
        with pytest.raises(RightsflowError):
            opened(vault, [sealed, extra])


def test_frames_cannot_move_between_streams_or_requests(vault: FileVault) -> None:
    data = os.urandom(2 * CHUNK)
    header_a, parts_a = frames(seal(vault, data))
    header_b, parts_b = frames(seal(vault, data))
    with pytest.raises(RightsflowError):
        opened(vault, [header_a, parts_a[0], parts_b[1]])
    with pytest.raises(RightsflowError):
        opened(vault, [header_b, *parts_a])
    other = str(uuid.uuid4())
    with pytest.raises(RightsflowError, match="another request"):
        opened(vault, [seal(vault, data)], rid=other)
    with pytest.raises(RightsflowError):
        opened(FileVault.from_secret(b"o" * 32), [seal(vault, data)])


def test_headers_with_an_unknown_version_or_a_huge_chunk_size_are_refused(
    vault: FileVault,
) -> None:
    sealed = bytearray(seal(vault, b"data"))
    for change in ((0, 1), (0, 3), (1, 0xFF)):
        damaged = bytearray(sealed)
        damaged[change[0]] = change[1]
        with pytest.raises(RightsflowError, match="malformed or of an unknown version"):
            opened(vault, [bytes(damaged)])
    with pytest.raises(ValueError, match="chunk size"):
        list(vault.seal_stream(RID, [b"x"], chunk_size=0))


def test_a_blob_sealed_whole_is_not_a_stream(vault: FileVault) -> None:
    with pytest.raises(RightsflowError):
        opened(vault, [vault.seal(RID, b"x" * 100)])
