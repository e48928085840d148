"""A bulk job's file as text lines, read while it arrives: the request body streamed (the
intake runs in a thread and pulls the body chunk by chunk from the event loop), or a
multipart upload (which Starlette spools to a temporary file it deletes after the request).
Neither holds the file in memory."""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import AsyncIterator, Iterator
from typing import IO

from rightsflow.domain.errors import InvalidInput

_READ = 64 * 1024


def _not_text() -> InvalidInput:
    return InvalidInput("the file is not UTF-8 text", field="file")


def _split(chunks: Iterator[bytes]) -> Iterator[str]:
    """Lines (with their "\\n") of UTF-8 chunks; a BOM at the start is dropped."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    try:
        for chunk in chunks:
            parts = (pending + decoder.decode(chunk)).split("\n")
            pending = parts.pop()
            for part in parts:
                yield part + "\n"
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _not_text() from None
    if pending:
        yield pending


def body_lines(stream: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> Iterator[str]:
    """Lines of a request body, for a consumer in another thread than `loop`'s."""

    async def next_chunk() -> bytes | None:
        return await anext(stream, None)

    def chunks() -> Iterator[bytes]:
        while True:
            chunk = asyncio.run_coroutine_threadsafe(next_chunk(), loop).result()
            if chunk is None:
                return
            if chunk:
                yield chunk

    return _split(chunks())


def file_lines(file: IO[bytes]) -> Iterator[str]:
    """Lines of an uploaded (spooled) file."""
    return _split(iter(lambda: file.read(_READ), b""))
