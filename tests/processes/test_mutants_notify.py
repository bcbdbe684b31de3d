"""sd_notify's datagrams, read exactly: fields split at the first `=`, only
`READY=1` announces, the last `STATUS=` goes with it, bytes that are not
UTF-8 are replaced; and a process announces once. On a real socket, with
stand-ins for the process. Written for the survivors of `make mutate`
(docs/testing.md)."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace

import anyio

from coordinator._command_process import CommandProcess


async def test_datagrams_are_read_field_by_field(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    announced: list[str | None] = []
    all_heard = anyio.Event()

    def announce(status: str | None) -> None:
        announced.append(status)
        if len(announced) == 3:
            all_heard.set()

    listener = SimpleNamespace(_announce=announce)
    receiver = await anyio.create_unix_datagram_socket(local_path=path)
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(CommandProcess._listen, listener, receiver)  # type: ignore[arg-type]
            for datagram in (
                b"READY=1",  # no status yet
                b"STATUS=load=high \xff",
                b"MAINPID=1\nREADY=0",  # a 1 that is not READY's, and a READY that is not 1
                b"READY=1",  # the last status goes with it
                b"STATUS=done\nREADY=1",
            ):
                sender.sendto(datagram, path)
            with anyio.fail_after(10):
                await all_heard.wait()
            await receiver.aclose()
    finally:
        sender.close()
    assert announced == [None, "load=high \ufffd", "done"]


def test_a_process_announces_once_and_only_to_a_listener() -> None:
    heard: list[str | None] = []
    process = SimpleNamespace(_announced=False, _settings=SimpleNamespace(on_ready=heard.append))
    CommandProcess._announce(process, "first")  # type: ignore[arg-type]
    CommandProcess._announce(process, "second")  # type: ignore[arg-type]
    assert heard == ["first"]
    assert process._announced is True
    deaf = SimpleNamespace(_announced=False, _settings=SimpleNamespace(on_ready=None))
    CommandProcess._announce(deaf, "unheard")  # type: ignore[arg-type]
    assert deaf._announced is False
