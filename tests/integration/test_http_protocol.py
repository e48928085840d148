"""The corked httptools protocol of `serve` (cli/http_protocol.py) over real uvicorn and TCP:
keep-alive answers in order, large bodies whole, HEAD and errors as uvicorn gives them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from rightsflow.cli.http_protocol import CorkedHttpToolsProtocol

BIG = b"x" * (3 * 1024 * 1024)  # past asyncio's write buffer high-water mark


async def echo(request: Request) -> Response:
    return PlainTextResponse(request.path_params["n"])


async def big(request: Request) -> Response:
    return Response(BIG, media_type="application/octet-stream")


async def chunks(request: Request) -> Response:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"part-{i};".encode()

    return StreamingResponse(parts())


APP = Starlette(routes=[Route("/echo/{n}", echo), Route("/big", big), Route("/chunks", chunks)])


@contextmanager
def served() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        APP, http=CorkedHttpToolsProtocol, loop="asyncio", lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_keep_alive_answers_come_back_whole_and_in_order() -> None:
    with served() as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        answers = [client.get(f"/echo/{n}") for n in range(50)]
        assert [a.text for a in answers] == [str(n) for n in range(50)]
        assert client.get("/big").content == BIG
        assert client.get("/chunks").text == "part-0;part-1;part-2;"
        head = client.head("/echo/7")
        assert head.status_code == 200
        assert head.content == b""
        assert client.get("/echo/8").text == "8"  # the connection survived the HEAD


def test_pipelined_requests_on_one_socket_and_a_bad_request() -> None:
    with served() as port, socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(
            b"".join(f"GET /echo/{n} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for n in range(5))
        )
        received = b""
        while received.count(b"HTTP/1.1 200") < 5 or not received.endswith(b"4"):
            chunk = raw.recv(65536)
            assert chunk, "the server closed the connection"
            received += chunk
        assert [received.find(f"\r\n\r\n{n}".encode()) > 0 for n in range(5)] == [True] * 5
        raw.sendall(b"NOT HTTP\r\n\r\n")
        rest = b""
        while chunk := raw.recv(65536):  # uvicorn answers 400 and closes
            rest += chunk
        assert rest.startswith(b"HTTP/1.1 400")
