"""Chunked authenticated encryption for files of any size (AES-256-GCM, one chunk at a time).

Format: header | frame | frame | ...
  header = version | chunk size (4 bytes, big endian) | stream id (16 random bytes)
  version 0x02: sealed with the master-derived key; 0x03: with the request's own data key
  (the vault picks the key from the version; the version is authenticated with every frame)
  frame  = nonce (12 random bytes) | ciphertext of one chunk | tag (16 bytes)
Every frame but the last holds exactly `chunk size` plaintext bytes; the last holds 0 to
`chunk size` (an empty input is one empty final frame).

The associated data of frame i is header | request id | i (8 bytes) | final flag (1 byte). So a
frame moved to another position, spliced in from another stream or another request, a dropped
frame, a stream cut short at a frame boundary (its new last frame is not flagged final) and
bytes after the final frame are all refused. The stream id keeps two packages sealed for the
same request from being mixed.

A reader yields each chunk once it is authenticated; a cut or altered stream raises when the
reader reaches the damage, possibly after earlier chunks were yielded.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rightsflow.domain.errors import RightsflowError

STREAM_VERSION = 2  # the master-derived sealing key
DATA_KEY_STREAM_VERSION = 3  # the request's data key (envelope encryption)
CHUNK_SIZE = 1024 * 1024
MAX_CHUNK_SIZE = 64 * 1024 * 1024  # refuse headers that would make a reader buffer more
_NONCE = 12
_TAG = 16
_ID = 16
HEADER_SIZE = 1 + 4 + _ID


def _aad(header: bytes, request_id: str, index: int, *, final: bool) -> bytes:
    flag = b"\x01" if final else b"\x00"
    return header + request_id.encode("utf-8") + index.to_bytes(8, "big") + flag


def _frame(
    aead: AESGCM, header: bytes, request_id: str, index: int, chunk: bytes, *, final: bool
) -> bytes:
    nonce = secrets.token_bytes(_NONCE)
    return nonce + aead.encrypt(nonce, chunk, _aad(header, request_id, index, final=final))


def seal_chunks(
    aead: AESGCM,
    request_id: str,
    chunks: Iterable[bytes],
    chunk_size: int = CHUNK_SIZE,
    version: int = STREAM_VERSION,
) -> Iterator[bytes]:
    """The sealed stream of the concatenated `chunks`, re-cut into `chunk_size` pieces;
    `version` names the key `aead` holds (see the module docstring)."""
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError("chunk size out of range")
    header = bytes([version]) + chunk_size.to_bytes(4, "big") + secrets.token_bytes(_ID)
    yield header
    buffer = bytearray()
    index = 0
    for piece in chunks:
        buffer += piece
        # A full chunk is only known not to be the last once a byte beyond it has arrived.
        while len(buffer) > chunk_size:
            yield _frame(aead, header, request_id, index, bytes(buffer[:chunk_size]), final=False)
            del buffer[:chunk_size]
            index += 1
    yield _frame(aead, header, request_id, index, bytes(buffer), final=True)


def malformed_stream() -> RightsflowError:
    return RightsflowError("sealed stream is malformed or of an unknown version")


def _refused() -> RightsflowError:
    return RightsflowError(
        "sealed stream cannot be opened: it was altered, reordered, cut short, belongs to "
        "another request, or was sealed with another key"
    )


def open_chunks(
    aead_for: Callable[[int], AESGCM], request_id: str, sealed: Iterable[bytes]
) -> Iterator[bytes]:
    """Authenticated plaintext chunks of a stream made by `seal_chunks`; `aead_for(version)`
    gives the key of the stream's version (and raises for a version it does not know)."""
    pieces = iter(sealed)
    buffer = bytearray()

    def fill(size: int) -> bool:
        """Read until the buffer holds more than `size` bytes; False if the input ends first."""
        while len(buffer) <= size:
            piece = next(pieces, None)
            if piece is None:
                return False
            buffer.extend(piece)
        return True

    fill(HEADER_SIZE)
    header = bytes(buffer[:HEADER_SIZE])
    if len(header) < HEADER_SIZE:
        raise malformed_stream()
    chunk_size = int.from_bytes(header[1:5], "big")
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise malformed_stream()
    aead = aead_for(header[0])
    del buffer[:HEADER_SIZE]
    frame_size = _NONCE + chunk_size + _TAG
    index = 0
    while True:
        more = fill(frame_size)  # more than one frame buffered: this one is not the last
        frame = bytes(buffer[:frame_size]) if more else bytes(buffer)
        if len(frame) < _NONCE + _TAG:
            raise _refused()
        try:
            chunk = aead.decrypt(
                frame[:_NONCE], frame[_NONCE:], _aad(header, request_id, index, final=not more)
            )
        except InvalidTag:
            raise _refused() from None
        yield chunk
        if not more:
            return
        del buffer[:frame_size]
        index += 1
