"""Finding listening sockets (socket diagnostics, else `/proc/net/tcp*`), and the
listener that answers a connection (issue 11, item 6; issue 17, item 4)."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
import sys
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address
from types import SimpleNamespace

import httpx
import pytest

from coordinator import _ownership
from coordinator._checked import CHECKED_ENTRY, CheckedEntry
from coordinator._ownership import (
    Listener,
    _address,
    _diagnosed_listeners,
    _read_listeners,
    _table_listeners,
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


def _netlink_works() -> bool:
    try:
        _diagnosed_listeners(1)
    except OSError:
        return False
    return True


needs_netlink = pytest.mark.skipif(not _netlink_works(), reason="no socket diagnostics here")


@contextlib.contextmanager
def _listening(address: str, *, v6only: bool = True) -> Iterator[socket.socket]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as server:
        if family == socket.AF_INET6:
            server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
        server.bind((address, 0))
        server.listen()
        yield server


@needs_netlink
@pytest.mark.parametrize(
    ("address", "v6only"),
    [("127.0.0.1", True), ("0.0.0.0", True), ("::1", True), ("::", False), ("::", True)],
)
def test_socket_diagnostics_find_what_the_tables_show(address: str, v6only: bool) -> None:
    """The kernel's answer is read as the tables are: address, port, inode."""
    with _listening(address, v6only=v6only) as server:
        port = server.getsockname()[1]
        found = _diagnosed_listeners(port)
        assert found == _table_listeners(port)
        (listener,) = found
        assert listener.address == ip_address(address)
        assert listener.port == port
        assert os.readlink(f"/proc/self/fd/{server.fileno()}") == f"socket:[{listener.inode}]"


@needs_netlink
def test_socket_diagnostics_give_listeners_of_that_port_only() -> None:
    """Neither a connection on the port nor the listeners of other ports (the
    kernel's filter: port >= and <= the one asked for)."""
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(_listening("127.0.0.1")) for _ in range(20)]
        ports = sorted(server.getsockname()[1] for server in servers)
        for port in ports:
            assert [listener.port for listener in _diagnosed_listeners(port)] == [port]
        client = stack.enter_context(socket.create_connection(("127.0.0.1", ports[0])))
        assert _diagnosed_listeners(client.getsockname()[1]) == []


def test_without_socket_diagnostics_the_tables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # No such netlink protocol: the socket cannot be made (EPROTONOSUPPORT).
    monkeypatch.setattr(_ownership, "_NETLINK_SOCK_DIAG", 1000)
    with pytest.raises(OSError, match="not supported"):
        _diagnosed_listeners(1)
    with _listening("127.0.0.1") as server:
        port = server.getsockname()[1]
        assert [listener.port for listener in listeners(port)] == [port]


class _Answers:
    """A netlink socket that gives these datagrams."""

    def __init__(self, *datagrams: bytes) -> None:
        self.datagrams = list(datagrams)

    def recv(self, size: int) -> bytes:
        return self.datagrams.pop(0)


def _message(kind: int, body: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), kind, 2, 1, 0) + body


def test_an_error_of_the_kernel_is_raised() -> None:
    refused = _message(2, struct.pack("=i", -errno.EPERM) + bytes(16))
    with pytest.raises(PermissionError):
        _read_listeners(_Answers(refused), 8080)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "answer",
    [
        b"",  # nothing
        bytes(8),  # half a header
        _message(20, bytes(40)),  # a listener cut short
        _message(2, b""),  # an error without its number
        struct.pack("=IHHII", 200, 3, 2, 1, 0),  # longer than what came
    ],
)
def test_an_answer_cut_short_is_an_oserror(answer: bytes) -> None:
    """So the tables are read instead, rather than the check failing on it."""
    with pytest.raises(OSError, match=r"cut short|no answer"):
        _read_listeners(_Answers(answer), 8080)  # type: ignore[arg-type]


def test_the_answers_are_read_until_the_end_of_the_dump() -> None:
    def listener(port: int, inode: int) -> bytes:
        source = bytes([127, 0, 0, 1]) + bytes(12)
        sockid = struct.pack(">HH", port, 0) + source + bytes(16) + bytes(12)
        return _message(
            20, bytes([socket.AF_INET, 10, 0, 0]) + sockid + struct.pack("=5I", 0, 0, 0, 0, inode)
        )

    answers = _Answers(
        listener(8080, 7) + listener(8081, 8), listener(8080, 9), _message(3, bytes(4))
    )
    found = _read_listeners(answers, 8080)  # type: ignore[arg-type]
    assert found == [
        Listener(IPv4Address("127.0.0.1"), 8080, 7),
        Listener(IPv4Address("127.0.0.1"), 8080, 9),
    ]


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
