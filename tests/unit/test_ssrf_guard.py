"""Which addresses the outbound guard refuses, and that it checks what a name resolves to."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from ipaddress import ip_address

import httpx
import pytest

from rightsflow.connectors.ssrf import (
    AddressRefused,
    checked_addresses,
    guarded_client,
    refusal,
)

INTERNAL = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd00:ec2::254", "private"),  # AWS's IPv6 metadata address
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("fe80::1", "link-local"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 (an address under test, not a bind)
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "private"),  # reserved, which Python counts as private first
    ("2001:db8::1", "private"),  # documentation
    ("100.64.0.1", "non-global"),  # carrier-grade NAT
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:169.254.169.254", "link-local"),
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
]
PUBLIC = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("address", "rule"), INTERNAL)
def test_internal_addresses_are_refused_by_name_of_rule(address: str, rule: str) -> None:
    assert refusal(ip_address(address)) == rule


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ip_address(address)) is None


def test_a_name_is_checked_by_what_it_resolves_to() -> None:
    with pytest.raises(AddressRefused) as refused:
        checked_addresses("localhost", 80, allow_private=False, hint="say so")
    assert refused.value.rule == "loopback"
    assert str(refused.value) == (
        "localhost: refused by the outbound address guard (loopback address); say so"
    )
    assert not refused.value.retryable


def test_the_allow_lets_internal_addresses_through() -> None:
    found = checked_addresses("localhost", 80, allow_private=True, hint="")
    assert ip_address("127.0.0.1") in found


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sock.setblocking(False)
        yield sock


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_a_guarded_client_never_connects_to_a_refused_address(
    listener: socket.socket, host: str
) -> None:
    port = listener.getsockname()[1]
    with guarded_client(allow_private=False, timeout=2) as client, pytest.raises(AddressRefused):
        client.get(f"http://{host}:{port}/")
    with pytest.raises(BlockingIOError):
        listener.accept()  # no connection was ever made


def test_an_allowed_guarded_client_connects(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    # Connected: the listener never answers, so the read times out.
    with (
        guarded_client(allow_private=True, timeout=0.5) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get(f"http://127.0.0.1:{port}/")
    accepted, _ = listener.accept()
    accepted.close()


def test_an_unresolvable_name_is_a_connect_error() -> None:
    with (
        guarded_client(allow_private=False, timeout=2) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get("http://no-such-host.invalid/")
