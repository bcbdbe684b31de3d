"""The built-in checks' small parts, exactly: the port range, reading the TCP
tables, describing request errors, walking an error's causes, decoding a
script's output. Written for the survivors of `make mutate` (docs/testing.md)."""

from __future__ import annotations

import itertools
import ssl
from pathlib import Path

import pytest

from coordinator import _ownership
from coordinator._ownership import listeners
from coordinator.checks import (
    _causes,
    _describe_request_error,
    _Output,
    _require_url,
    _shorten,
    check_port_listening,
)

HEADER = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt\n"


def table(path: Path, *lines: bytes) -> str:
    path.write_bytes(HEADER + b"".join(line + b"\n" for line in lines))
    return str(path)


def no_netlink(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables are read only where socket diagnostics cannot be asked."""

    def refused(port: int) -> list[object]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_ownership, "_diagnosed_listeners", refused)


@pytest.mark.parametrize("port", [1, 65535])
async def test_the_first_and_last_ports_can_be_checked(port: int) -> None:
    result = await check_port_listening(port)
    assert result.message in (f"Port {port} is listening", f"Port {port} is not listening")


@pytest.mark.parametrize("port", [0, 65536])
async def test_ports_outside_the_range_are_refused(port: int) -> None:
    with pytest.raises(ValueError, match=f"port must be an integer from 1 to 65535, not {port}"):
        await check_port_listening(port)


async def test_unreadable_tables_say_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first table's error is the one reported: a directory, then a missing file.
    no_netlink(monkeypatch)
    monkeypatch.setattr(_ownership, "_TCP_TABLES", (str(tmp_path), str(tmp_path / "missing")))
    result = await check_port_listening(8080)
    assert result.message == "Cannot check port 8080: Is a directory"
    result = await check_port_listening(8080, error_message="no tables")
    assert result.message == "no tables"


def test_a_missing_table_does_not_hide_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tcp6 = table(
        tmp_path / "tcp6",
        b"   0: 00000000000000000000000000000000:1F90 0000:0000 0A 0:0 0:0 0 0 0 4242",
    )
    no_netlink(monkeypatch)
    monkeypatch.setattr(_ownership, "_TCP_TABLES", (str(tmp_path / "missing"), tcp6))
    assert [listener.inode for listener in listeners(0x1F90)] == [4242]
    assert listeners(0x1F91) == []


def test_only_whole_listening_lines_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tcp = table(
        tmp_path / "tcp",
        b"   0: 0100007F:0050 00000000:0000 0A 0:0 0:0 0 0 0",  # cut short: no inode
        b"   1: 0100007F:0051 00000000:0000 01 0:0 0:0 0 0 0 7",  # established
        b"   2: 0100007F:0052 00000000:0000 0A 0:0 0:0 0 0 0 8",  # exactly the fields needed
    )
    no_netlink(monkeypatch)
    monkeypatch.setattr(_ownership, "_TCP_TABLES", (tcp,))
    assert listeners(0x50) == []
    assert listeners(0x51) == []
    assert [listener.inode for listener in listeners(0x52)] == [8]


def test_a_url_that_is_not_a_string_is_named_by_its_type() -> None:
    with pytest.raises(ValueError, match=r"^url must be a string, not int$"):
        _require_url(8080)  # type: ignore[arg-type]


def tls_error(reason: str | None) -> ssl.SSLError:
    error = ssl.SSLError(1, "[SSL] something")
    error.reason = reason  # type: ignore[assignment]
    return error


def wrapped(cause: BaseException) -> RuntimeError:
    error = RuntimeError("All connection attempts failed")
    error.__cause__ = cause
    return error


def test_request_errors_are_described_by_their_cause() -> None:
    assert _describe_request_error(wrapped(tls_error("WRONG_VERSION_NUMBER"))) == (
        "TLS error: wrong version number"
    )
    assert _describe_request_error(wrapped(tls_error(None))) == ("TLS error: [SSL] something")
    assert _describe_request_error(wrapped(OSError(1, "Connect call failed"))) == (
        "operation not permitted"
    )
    # errno 0 is no error number: the text is used.
    assert _describe_request_error(wrapped(OSError(0, "Name Or Service Not Known"))) == (
        "name or service not known"
    )
    assert _describe_request_error(RuntimeError("boom")) == "boom"
    assert _describe_request_error(RuntimeError()) == "RuntimeError"


def test_causes_are_walked_once_even_in_a_cycle() -> None:
    first, second = ValueError("first"), KeyError("second")
    first.__context__ = second
    second.__context__ = first
    assert list(itertools.islice(_causes(first), 5)) == [first, second]


def test_output_that_is_not_utf8_is_replaced() -> None:
    output = _Output(keep_start=True)
    output._data += b"\xff ok"
    assert output.text() == "\ufffd ok"


def test_messages_are_cut_after_200_characters_at_a_word() -> None:
    assert _shorten("x" * 200) == "x" * 200
    assert _shorten("a" * 199 + " " + "b" * 50) == "a" * 199 + "..."


@pytest.mark.parametrize("keep_start", [True, False])
async def test_output_keeps_64_kib_of_its_start_or_its_end(keep_start: bool) -> None:
    output = _Output(keep_start=keep_start)
    for chunk in (b"a" * 40_000, b"b" * 40_000, b"c" * 40_000):
        output.write(chunk)
    assert not output.done.is_set()
    output.close()
    text = output.text()
    assert len(text) == 64 * 1024
    if keep_start:
        assert text.startswith("a" * 40_000) and text.endswith("b")
    else:
        assert text.endswith("c" * 40_000) and text.startswith("b")
    assert output.done.is_set()
