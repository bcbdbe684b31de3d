"""A minimal init for one command: forward signals, reap zombies, guard against orphans.

Run as a script (`python -I -S _init.py [--guard FD] [--term-timeout S] -- ARGV...`),
so it imports nothing but the standard library and starts in about 10 ms.

* It becomes the child subreaper of its tree, so processes orphaned inside
  the tree are reparented to it and reaped, never left as zombies.
* Signals a supervisor sends to it are forwarded to the command.
* When the command exits, the rest of its process group gets SIGTERM and
  up to `--term-timeout` seconds to go, then SIGKILL; then it exits as the
  command did (the same code, or the same signal).
* `--guard FD`: the read end of a pipe whose write end only the supervisor
  holds. End of file means the supervisor is gone, however it died, and the
  whole process group is SIGKILLed. (PR_SET_PDEATHSIG is tied to the thread
  that forked, which under trio is a worker thread that exits when idle.)
"""

from __future__ import annotations

import ctypes
import os
import resource
import selectors
import signal
import sys
import time

FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)
PR_SET_CHILD_SUBREAPER = 36


def main(arguments: list[str]) -> int:
    guard_fd: int | None = None
    term_timeout = 30.0
    while arguments and arguments[0] != "--":
        option, value, *arguments = arguments
        if option == "--guard":
            guard_fd = int(value)
        elif option == "--term-timeout":
            term_timeout = float(value)
        else:
            print(f"healthdaemons-init: unknown option {option}", file=sys.stderr)
            return 2
    argv = arguments[1:]
    if not argv:
        print("healthdaemons-init: no command given", file=sys.stderr)
        return 2

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    pending: list[int] = []
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    for number in FORWARDED:
        signal.signal(number, lambda received, _frame: pending.append(received))
    # A handler (not SIG_IGN, which would discard exit statuses) so that the
    # wakeup pipe hears of every exit.
    signal.signal(signal.SIGCHLD, lambda _received, _frame: None)

    if guard_fd is not None:
        os.set_inheritable(guard_fd, False)  # before the spawn: the command must not hold it
    try:
        child = os.posix_spawnp(
            argv[0],
            argv,
            os.environ,
            setsigdef=(*FORWARDED, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ),
        )
    except OSError as error:
        print(f"healthdaemons-init: cannot run {argv[0]!r}: {error.strerror}", file=sys.stderr)
        return 127

    selector = selectors.DefaultSelector()
    selector.register(wake_read, selectors.EVENT_READ)
    if guard_fd is not None:
        selector.register(guard_fd, selectors.EVENT_READ)

    status: int | None = None
    deadline: float | None = None
    killed = False
    while True:
        status, children_left = _reap(child, status)
        if status is not None:
            # Once the command is gone, only the rest of its group matters:
            # a process that left the group cannot be reached by signals to it.
            if not children_left or not _group_members():
                break
            if deadline is None:
                deadline = time.monotonic() + term_timeout
                os.killpg(0, signal.SIGTERM)
            elif time.monotonic() >= deadline:
                if killed:
                    break  # stuck in the kernel; the supervisor takes over
                killed = True
                _kill_others_in_group()
                deadline = time.monotonic() + 1.0
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        # select() overflows on huge timeouts; waking up hourly costs nothing.
        for key, _ in selector.select(None if timeout is None else min(timeout, 3600.0)):
            if key.fd == wake_read:
                _drain(wake_read)
            elif not os.read(key.fd, 64):
                os.killpg(0, signal.SIGKILL)  # the supervisor is gone
        while pending:
            received = pending.pop(0)
            if status is None:
                try:
                    os.kill(child, received)
                except ProcessLookupError:
                    pass
    assert status is not None
    return _exit_as(status)


def _reap(child: int, status: int | None) -> tuple[int | None, bool]:
    """Reap every exited child; returns the command's status and whether children remain."""
    while True:
        try:
            pid, raw = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return status, False
        if pid == 0:
            return status, True
        if pid == child:
            status = raw


def _group_members() -> list[int]:
    """The live processes of this init's process group, but itself."""
    group, me = os.getpgrp(), os.getpid()
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] not in (b"Z", b"X"):
            members.append(int(name))
    return members


def _kill_others_in_group() -> None:
    # Not killpg: the init must live on to exit with the command's status.
    for pid in _group_members():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _exit_as(status: int) -> int:
    if os.WIFSIGNALED(status):
        killed_by = os.WTERMSIG(status)
        if killed_by not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(killed_by, signal.SIG_DFL)
        # The command may have dumped core; the init has nothing worth dumping.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.kill(os.getpid(), killed_by)
        return 128 + killed_by
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
