"""uvicorn's httptools protocol with a response's writes sent as one.

uvicorn writes a response's status line and headers, then its body, as two `transport.write`
calls, and asyncio sends each at once (TCP_NODELAY): two send() system calls per response. On a
cached consent read those sends were the largest single cost in py-spy profiles of `serve`
(loopback TCP does the receiver's work inside the sender's call). Writes made within one step
of the event loop are joined and sent at the end of that step instead: the head and body of a
response (Starlette sends them without yielding in between) go out in one call, and nothing
waits longer than the current step.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CorkedTransport:
    """A transport whose writes of one loop step go out as one; everything else passes."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: list[bytes]) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()  # asyncio sends what was written before closing; so do we
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """`uvicorn.Config(http=CorkedHttpToolsProtocol)`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        corked: Any = CorkedTransport(transport, self.loop)
        super().connection_made(corked)
