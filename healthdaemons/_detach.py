"""`healthdaemons up --detach`: the same `up`, started again in the background.

The file is checked first, exactly as `up` checks it, so that a bad file
still exits 2 with nothing started, and a second `up` of the same file is
refused with the first one's pid. Then `up` runs again as a new process in
a session of its own (no terminal to lose), its output appended to the log
file beside the control socket, and told by a hidden `--detached` that it
must ignore SIGHUP. This process returns once the control socket answers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import anyio

from ._client import ConnectionLostError, ControlClient, ControlError, NoSystemError
from ._control_paths import AlreadyRunningError, ControlPaths, holder

__all__ = ["detach", "up_again"]

_POLL = 0.02
"""Seconds between two knocks on the control socket while `up` starts."""
_LOG_TAIL = 20
"""Lines of the log shown when the background `up` exits before answering."""


def detach(args: argparse.Namespace, parser: argparse.ArgumentParser, paths: ControlPaths) -> int:
    from ._cli_arguments import selection
    from ._file_commands import log_dir, validate

    daemons = validate(
        args.config,
        selection(args),
        log_dir(args.log_dir, args.log_max_bytes, args.log_backups),
    )
    if args.exit_code_from is not None:
        # Refused here as `up` would refuse it (building starts nothing).
        daemons.build(exit_code_from=args.exit_code_from)
    running = holder(paths)
    if running is not None:
        raise AlreadyRunningError(running, args.config)
    if args.record is not None:
        _check_writable(Path(args.record))
    if args.web is not None:
        _check_free(args.web, args.listen_remote)
    # Readable by this user alone, as the token files: `up` prints its tokens there.
    fd = os.open(paths.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "ab") as log:
        start = log.tell()
        child = subprocess.Popen(
            [sys.executable, "-m", "healthdaemons", *up_again(args, parser)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if not anyio.run(_answers, paths.socket, child):
        print(
            f"healthdaemons: the background `up` exited (status {child.returncode}) "
            f"before its control socket answered; the end of {paths.log}:",
            file=sys.stderr,
        )
        sys.stderr.write(_tail(paths.log, start))
        return 1
    # Not waited for: it goes on after this process exits. Marked as done so
    # that `Popen` does not warn that it still runs, nor try to reap it.
    child.returncode = 0
    print(f"started in the background: pid {child.pid}")
    print(f"  socket: {paths.socket}")
    print(f"  log:    {paths.log}")
    if args.web is not None:
        print(f"web console: {anyio.run(_web_console, paths)}")
    return 0


def up_again(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    """The arguments of the same `up`, given again (every option set, with
    `--detached` for `--detach`)."""
    again = ["up"]
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        if action.dest in ("help", "detach", "detached") or value is None:
            continue
        if not action.option_strings:
            again.extend(map(str, value) if isinstance(value, list) else [str(value)])
            continue
        flag = max(action.option_strings, key=len)
        if isinstance(action, argparse._StoreTrueAction):
            again.extend([flag] if value else [])
        elif isinstance(action, argparse._AppendAction):
            for item in value:
                again.extend([flag, str(item)])
        elif isinstance(action, argparse._StoreAction) and action.nargs in (None, "?"):
            if value != action.default:
                again.extend([flag, str(value)])
        else:
            raise AssertionError(f"up --detach cannot pass {flag} on (a {type(action).__name__})")
    return [*again, "--detached"]


def _check_writable(record: Path) -> None:
    """`--record` refused here as `up` would refuse it, before anything starts."""
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        with record.open("a"):
            pass
    except OSError as error:
        reason = os.strerror(error.errno).lower() if error.errno else str(error)
        raise ValueError(f"--record {record}: cannot write: {reason}") from error


def _check_free(web: str, remote: bool) -> None:
    """`--web HOST:PORT` refused here, as `up` would refuse it, if its port is taken."""
    from ._control_options import parse_listen
    from ._control_server import tcp_socket

    host, port = parse_listen(web, remote=remote, flag="--web")
    if port != 0:
        tcp_socket(host, port, flag="--web").close()


async def _answers(socket: Path, child: subprocess.Popen[bytes]) -> bool:
    """Whether the control socket answered before `child` exited."""
    async with ControlClient(socket, timeout=5.0) as client:
        while child.poll() is None:
            try:
                await client.health()
            except (NoSystemError, ConnectionLostError):
                # Not listening yet: `up` checks the file again and binds the socket first.
                await anyio.sleep(_POLL)
            except ControlError as error:
                return error.status is not None  # an answer, if not the one hoped for
            else:
                return True
    return False


async def _web_console(paths: ControlPaths) -> str:
    """The URL that opens the web console of the `up` just started (its port
    may have been any free one), with the token it took or made."""
    async with ControlClient(paths.socket, timeout=5.0) as client:
        web = (await client.health()).get("web")
    token = paths.web_token.read_text(encoding="ascii").strip()
    return f"{web}?token={token}"


def _tail(log: Path, start: int) -> str:
    """The last lines the background `up` wrote to `log` (from offset `start`)."""
    with log.open("rb") as stream:
        stream.seek(start)
        text = stream.read().decode("utf-8", "replace")
    lines = text.splitlines(keepends=True)[-_LOG_TAIL:]
    return "".join(lines) if lines else "(nothing)\n"
