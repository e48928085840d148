"""The outbound address guard (SSRF): no request of ours reaches an internal address unless the
configuration says the target is meant to be internal.

A URL someone else gives us (an agent's status callback, a directory URL, a system's base URL
or OAuth token URL) could point at this host, the private network or a cloud metadata service
(169.254.169.254). Checking the URL string is not enough: a name can resolve to anything, and
resolve differently a second later (DNS rebinding). So the check sits in the connection itself:
`GuardedBackend` resolves the host, refuses when *any* address is internal, and connects to an
address it checked (pinned: no second lookup). Redirects are new connections and checked too.

Guarded clients ignore HTTP(S)_PROXY variables (`trust_env=False`): through a proxy the proxy
resolves the name, and nothing here could check where the request really goes.

A refusal names the rule and the host as configured, never the address it resolved to (that
would map the internal network for whoever chose the URL).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import httpcore
import httpx

from rightsflow.domain.errors import ConnectorFailure

IPAddress = IPv4Address | IPv6Address
SYSTEM_HINT = "set allow_private_network: true in the system's config if it is meant to be internal"
DRP_HINT = "set drp_allow_private_network = true if DRP agents or the directory are internal"
_NAT64_PREFIX = int(IPv6Address("64:ff9b::"))
# The first rule an address meets names the refusal.
_RULES: tuple[tuple[str, str], ...] = (
    ("unspecified", "is_unspecified"),
    ("loopback", "is_loopback"),
    ("link-local", "is_link_local"),
    ("multicast", "is_multicast"),
    ("private", "is_private"),
    ("reserved", "is_reserved"),
)


class AddressRefused(ConnectorFailure):
    """An outbound connection to an internal address, refused (trying again will not help)."""

    def __init__(self, host: str, rule: str, hint: str) -> None:
        super().__init__(
            f"{host}: refused by the outbound address guard ({rule} address); {hint}",
            retryable=False,
        )
        self.rule = rule


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one carries (IPv4-mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if int(address) >> 32 == _NAT64_PREFIX >> 32:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why an outbound connection to `address` is refused (a rule name), or None if public."""
    if isinstance(address, IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:  # the IPv4 address it reaches decides
            return refusal(inner)
    for rule, attribute in _RULES:
        if getattr(address, attribute):
            return rule
    if not address.is_global:  # e.g. 100.64.0.0/10, carrier-grade NAT
        return "non-global"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve the host ({type(exc).__name__})") from None
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ip_address(str(sockaddr[0]).split("%", 1)[0])  # drop an IPv6 zone id
        if address not in found:
            found.append(address)
    return found


def checked_addresses(host: str, port: int, *, allow_private: bool, hint: str) -> list[IPAddress]:
    """The addresses of `host`, all of them allowed, or AddressRefused."""
    addresses = resolve(host, port)
    if not allow_private:
        for address in addresses:
            rule = refusal(address)
            if rule is not None:
                raise AddressRefused(host, rule, hint)
    return addresses


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend with the guard in `connect_tcp` (see the module docstring)."""

    def __init__(self, *, allow_private: bool, hint: str) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private
        self._hint = hint

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = checked_addresses(
            host, port, allow_private=self._allow_private, hint=self._hint
        )
        last: Exception = httpcore.ConnectError("no address")
        for address in addresses:  # the checked address itself: no second lookup
            try:
                return self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last

    def connect_unix_socket(
        self,
        path: str,  # noqa: ARG002 (signature set by httpcore)
        timeout: float | None = None,  # noqa: ARG002
        socket_options: Iterable[Any] | None = None,  # noqa: ARG002
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not an outbound target")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guarded_transport(
    *, allow_private: bool, hint: str = SYSTEM_HINT, limits: httpx.Limits | None = None
) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(limits=limits or httpx.Limits(), trust_env=False)
    pool = transport._pool
    if not isinstance(pool, httpcore.ConnectionPool):  # a future httpx: fail loudly, not open
        raise TypeError("httpx transport without an httpcore connection pool")
    pool._network_backend = GuardedBackend(allow_private=allow_private, hint=hint)
    return transport


def guarded_client(
    *,
    allow_private: bool,
    hint: str = SYSTEM_HINT,
    limits: httpx.Limits | None = None,
    **client_options: Any,
) -> httpx.Client:
    """An httpx.Client whose every connection passes the guard; options as httpx.Client's."""
    transport = guarded_transport(allow_private=allow_private, hint=hint, limits=limits)
    return httpx.Client(transport=transport, trust_env=False, **client_options)
