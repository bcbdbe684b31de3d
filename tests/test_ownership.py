"""Reading `/proc/net/tcp*`, and the listener that answers a connection (issue 11, item 6)."""

from __future__ import annotations

import os
import socket
import sys
from ipaddress import IPv4Address, IPv6Address, ip_address
from types import SimpleNamespace

import httpx
import pytest

from coordinator._checked import CHECKED_ENTRY, CheckedEntry
from coordinator._ownership import (
    Listener,
    _address,
    answering,
    is_local,
    listeners,
    peer_address,
)
from coordinator.checks import _answered_by_stranger, _server_address


def _hex(address: str) -> bytes:
    """How /proc/net/tcp* prints an address: each 32-bit word in host byte order."""
    raw = ip_address(address).packed
    words = (int.from_bytes(raw[i : i + 4], sys.byteorder) for i in range(0, len(raw), 4))
    return b"".join(b"%08X" % word for word in words)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "::1", "fe80::1:2", "::ffff:127.0.0.1"]
)
def test_addresses_of_the_tables_are_read_in_host_byte_order(address: str) -> None:
    assert _address(_hex(address)) == ip_address(address)


def test_the_known_little_endian_forms() -> None:
    if sys.byteorder != "little":
        pytest.skip("the table's text depends on the byte order")
    assert _address(b"0100007F") == IPv4Address("127.0.0.1")
    assert _address(b"00000000000000000000000001000000") == IPv6Address("::1")


def test_a_listening_socket_is_found_with_its_inode() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        assert listeners(port) == []  # bound, not listening
        server.listen()
        (found,) = listeners(port)
        assert found.address == IPv4Address("127.0.0.1")
        assert found.port == port
        assert os.readlink(f"/proc/self/fd/{server.fileno()}") == f"socket:[{found.inode}]"


def _listener(address: str, inode: int) -> Listener:
    return Listener(ip_address(address), 8080, inode)


V4_EXACT = _listener("127.0.0.1", 1)
V4_ANY = _listener("0.0.0.0", 2)
V6_ANY = _listener("::", 3)
V6_EXACT = _listener("::1", 4)
V4_MAPPED = _listener("::ffff:127.0.0.1", 5)
OTHER = _listener("127.0.0.2", 6)


@pytest.mark.parametrize(
    ("found", "target", "expected"),
    [
        # An address of its own beats a wildcard.
        ([V4_ANY, V4_EXACT, V6_ANY], "127.0.0.1", [V4_EXACT]),
        ([V6_ANY, V4_MAPPED], "127.0.0.1", [V4_MAPPED]),
        ([V6_ANY, V6_EXACT], "::1", [V6_EXACT]),
        # For IPv4, an IPv4 wildcard beats a dual-stack IPv6 one.
        ([V6_ANY, V4_ANY], "127.0.0.1", [V4_ANY]),
        ([V6_ANY, OTHER], "127.0.0.1", [V6_ANY]),
        # An IPv4 wildcard never takes an IPv6 connection.
        ([V4_ANY, V4_EXACT], "::1", []),
        ([V4_ANY, V6_ANY], "::1", [V6_ANY]),
        # Several sockets on the same address (SO_REUSEPORT) may each answer.
        ([V4_ANY, _listener("0.0.0.0", 7)], "127.0.0.1", [V4_ANY, _listener("0.0.0.0", 7)]),
        # A mapped target is the IPv4 address.
        ([V4_EXACT], "::ffff:127.0.0.1", [V4_EXACT]),
        ([OTHER], "127.0.0.1", []),
    ],
)
def test_the_listener_that_answers_is_the_one_the_kernel_chooses(
    found: list[Listener], target: str, expected: list[Listener]
) -> None:
    assert answering(found, ip_address(target)) == expected


def test_local_addresses() -> None:
    assert is_local(IPv4Address("127.0.0.1"))
    assert is_local(IPv4Address("127.9.9.9"))
    assert is_local(IPv4Address("0.0.0.0"))
    assert not is_local(IPv4Address("192.0.2.1"))  # TEST-NET-1, on no machine
    assert not is_local(IPv6Address("2001:db8::1"))  # documentation prefix


def test_peer_addresses() -> None:
    assert peer_address("127.0.0.1") == IPv4Address("127.0.0.1")
    assert peer_address("fe80::1%eth0") == IPv6Address("fe80::1")
    assert peer_address("localhost") is None


# Which answers of check_web_url are looked at


def test_the_server_address_falls_back_to_the_urls_own() -> None:
    """When the connection cannot say where it went (it was reset), the URL can."""
    for url, expected in [
        ("http://[::1]:8080/", ("::1", 8080)),
        ("https://127.0.0.1/", ("127.0.0.1", 443)),
        ("http://localhost/", ("localhost", 80)),
    ]:
        response = httpx.Response(200, request=httpx.Request("GET", url))
        assert _server_address(response) == expected


@pytest.mark.parametrize("server", [("192.0.2.1", 80), ("2001:db8::1", 80), ("example.org", 80)])
def test_remote_answers_are_not_looked_at(server: tuple[str, int]) -> None:
    """In the check of an entry with no process, a local answer fails; a
    remote one (or a name, which only the connection could resolve) counts."""
    token = CHECKED_ENTRY.set(CheckedEntry("app", SimpleNamespace(process=None)))
    try:
        assert _answered_by_stranger(server) is None
        with socket.socket() as local:
            local.bind(("127.0.0.1", 0))
            local.listen()
            port = local.getsockname()[1]
            problem = _answered_by_stranger(("127.0.0.1", port))
        assert problem == f"port {port}: app has no process running"
    finally:
        CHECKED_ENTRY.reset(token)


def test_a_built_system_keeps_the_specs_as_added() -> None:
    """Telling a check which entry it checks does not change the entry's spec:
    `running.entries` are the specs the system was given."""
    from coordinator import Command, Daemons, HealthCheckResult, Ready

    async def check() -> HealthCheckResult:
        return HealthCheckResult.success()

    system = Daemons.of().add_daemon("app", exec=Command("sleep 1000"), ready=Ready("App", check))
    assert system.build().entries == system.entries
