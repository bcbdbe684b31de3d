"""A minimal init for one command: forward signals, reap zombies, guard against orphans.

Run as a script (`python -I -S _minimal_init.py --term-timeout S [--stop-signal N] [--guard FD]
[--uid N --gid N --groups N,N...] -- ARGV...`), so it imports nothing but the
standard library and starts in about 10 ms: of the package, it loads only
`_process_table.py` (standard library only too), so that it counts the
members of a process group as the supervisor does. Its loop until the group
is gone is its own: woken by SIGCHLD and signals, not polled.

* It becomes the child subreaper of its tree, so processes orphaned inside
  the tree are reparented to it and reaped, never left as zombies.
* Signals a supervisor sends to it are forwarded to the command (SIGCONT
  follows a forwarded SIGTERM, or `--stop-signal`, so that a stopped
  command sees it). `--stop-signal N` (SIGTERM by default) is the command's
  stop signal: the supervisor stops the command by sending it to the init,
  so it is forwarded even if it is none of the usual ones.
* When the command exits, the rest of its process group gets the stop
  signal (and SIGCONT) and up to `--term-timeout` seconds to go, then
  SIGKILL; then it exits as the command did (the same code, or the same
  signal). The same signal as for the command: the group is one service,
  and its stop signal is how that service's processes stop politely.
* `--uid`: the init itself keeps the supervisor's user (the service's user
  may not be allowed to run the supervisor's Python) and only the command
  runs as that user, group and supplementary groups.
* `--guard FD`: the read end of a pipe whose write end only the supervisor
  holds. End of file means the supervisor is gone, however it died, and the
  whole process group is SIGKILLed. A guardian process forked from the init,
  in a process group of its own, watches the pipe: a SIGSTOP sent to the
  command's group freezes the init as well, but not the guardian, and
  SIGKILL ends stopped processes too. (PR_SET_PDEATHSIG is tied to the
  thread that forked, which under trio is a worker thread that exits when
  idle.)
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import selectors
import signal
import sys
import time

TYPE_CHECKING = False  # not `typing`'s: importing `typing` would double the start-up time
if TYPE_CHECKING or __package__:
    from ._process_table import group_members
else:
    # Run as a script under `-I -S`, the init cannot import the package (its
    # folder is not on the path, and the package's modules import anyio); it
    # loads the one module it shares with the supervisor, which needs nothing
    # but the standard library, from its own folder.
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))
    from _process_table import group_members

FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)
ENDING = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
"""Forwarded signals that ask to end: a stopped command only sees them once continued."""
RESET = (*FORWARDED, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ)
"""Dispositions the command gets back to default (Python ignores SIGPIPE and SIGXFSZ)."""
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36
RELEASE_WAIT = 1.0
"""How long the init waits for its released guardian to exit."""


def main(arguments: list[str]) -> int:
    guard_fd: int | None = None
    term_timeout: float | None = None  # the command's `sigterm_timeout`, always given
    uid: int | None = None
    gid: int | None = None
    groups: list[int] = []
    stop: int = signal.SIGTERM
    while arguments and arguments[0] != "--":
        option, value, *arguments = arguments
        if option == "--guard":
            guard_fd = int(value)
        elif option == "--term-timeout":
            term_timeout = float(value)
        elif option == "--stop-signal":
            stop = int(value)
        elif option == "--uid":
            uid = int(value)
        elif option == "--gid":
            gid = int(value)
        elif option == "--groups":
            groups = [int(number) for number in value.split(",") if number]
        else:
            print(f"healthdaemons-init: unknown option {option}", file=sys.stderr)
            return 2
    argv = arguments[1:]
    if not argv or term_timeout is None:
        print("healthdaemons-init: no command or no --term-timeout given", file=sys.stderr)
        return 2
    account = None if uid is None else (uid, uid if gid is None else gid, groups)

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    guardian: tuple[int, int] | None = None
    if guard_fd is not None:
        # Before the signal handlers: the guardian keeps the default ones.
        try:
            guardian = _start_guardian(guard_fd)
        except OSError as error:
            print(f"healthdaemons-init: cannot start the guardian: {error}", file=sys.stderr)
            return 127

    pending: list[int] = []
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    forwarded = FORWARDED if stop in FORWARDED else (*FORWARDED, stop)
    ending = ENDING if stop in ENDING else (*ENDING, stop)
    for number in forwarded:
        signal.signal(number, lambda received, _frame: pending.append(received))
    # A handler (not SIG_IGN, which would discard exit statuses) so that the
    # wakeup pipe hears of every exit.
    signal.signal(signal.SIGCHLD, lambda _received, _frame: None)

    try:
        child = _spawn(argv, account, (*RESET, stop))
    except OSError as error:
        print(f"healthdaemons-init: cannot run {argv[0]!r}: {error.strerror}", file=sys.stderr)
        _release(guardian)
        return 127

    selector = selectors.DefaultSelector()
    selector.register(wake_read, selectors.EVENT_READ)

    status: int | None = None
    deadline: float | None = None
    killed = False
    while True:
        status, children_left = _reap(child, status)
        if status is not None:
            # Once the command is gone, only the rest of its group matters:
            # a process that left the group cannot be reached by signals to it.
            if not children_left or not group_members(os.getpgrp()):
                break
            if deadline is None:
                deadline = time.monotonic() + term_timeout
                os.killpg(0, stop)
                os.killpg(0, signal.SIGCONT)
            elif time.monotonic() >= deadline:
                if killed:
                    break  # stuck in the kernel; the supervisor takes over
                killed = True
                _kill_others_in_group()
                deadline = time.monotonic() + 1.0
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        # select() overflows on huge timeouts; waking up hourly costs nothing.
        selector.select(None if timeout is None else min(timeout, 3600.0))
        _drain(wake_read)
        while pending:
            received = pending.pop(0)
            if status is None:
                _forward(child, received, ending)
    _release(guardian)
    return _exit_as(status)


def _spawn(
    argv: list[str], account: tuple[int, int, list[int]] | None, reset: tuple[int, ...]
) -> int:
    """Start the command (as `account`: uid, gid, supplementary groups), with
    the `reset` signals back to their default; its pid."""
    if account is None:
        return os.posix_spawnp(argv[0], argv, os.environ, setsigdef=reset)
    uid, gid, groups = account
    # Found before the fork: once it is the user, the child may not be able to
    # import anything (`execvp` imports `warnings`) from the supervisor's Python.
    program = argv[0]
    candidates = (
        [program] if "/" in program else [os.path.join(d, program) for d in os.get_exec_path()]
    )
    pid = os.fork()
    if pid:
        return pid
    # The child: nothing that imports, and never a return.
    try:
        for number in reset:
            signal.signal(number, signal.SIG_DFL)
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
        # A working directory the user may not enter fails here, as it would
        # have failed the spawn without the init.
        os.chdir(os.getcwd())
        _exec_first(candidates, argv)
    except BaseException as error:
        reason = error.strerror if isinstance(error, OSError) else repr(error)
        message = f"healthdaemons-init: cannot run {argv[0]!r}: {reason}\n"
        os.write(2, message.encode(errors="replace"))
    finally:
        os._exit(127)


def _exec_first(candidates: list[str], argv: list[str]) -> None:
    """Exec the first candidate path that runs, as `execvp` does along PATH."""
    failure: OSError = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
    for candidate in candidates:
        try:
            os.execv(candidate, argv)
        except OSError as error:
            if failure.errno != errno.EACCES:  # a file found but not runnable says most
                failure = error
    raise failure


def _forward(child: int, number: int, ending: tuple[int, ...]) -> None:
    try:
        os.kill(child, number)
        if number in ending:
            os.kill(child, signal.SIGCONT)
    except ProcessLookupError:
        pass


def _start_guardian(guard_fd: int) -> tuple[int, int]:
    """Fork the guardian of this init's group; its pid, and the pipe end that releases it."""
    group = os.getpgrp()
    release_read, release_write = os.pipe()
    pid = os.fork()
    if not pid:
        try:
            os.close(release_write)
            os._exit(_guard(group, guard_fd, release_read))
        finally:
            os._exit(1)
    try:
        os.setpgid(pid, pid)  # the guardian does the same: whichever runs first
    except OSError:
        pass
    os.close(release_read)
    os.close(guard_fd)  # the guardian's now; the command must not hold it
    return pid, release_write


def _guard(group: int, guard_fd: int, release_fd: int) -> int:
    """The guardian: SIGKILL `group` when the supervisor's pipe closes.

    It lives in a process group of its own, so what stops or signals the
    command's group does not reach it, and its output goes nowhere, so it
    never holds the supervisor's pipes open.
    """
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    # Its name in `ps -o comm` and `top` (its command line stays the init's).
    ctypes.CDLL(None).prctl(PR_SET_NAME, b"hd-guardian", 0, 0, 0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    selector = selectors.DefaultSelector()
    selector.register(guard_fd, selectors.EVENT_READ)
    selector.register(release_fd, selectors.EVENT_READ)
    orphaned = False
    while True:
        # Once the init has died without releasing it, the guardian stays
        # until nothing of the group is left.
        if orphaned and not group_members(group):
            return 0
        for key, _ in selector.select(0.1 if orphaned else None):
            if key.fd == guard_fd and not os.read(guard_fd, 64):
                try:
                    os.killpg(group, signal.SIGKILL)  # the supervisor is gone
                except ProcessLookupError:
                    pass
                return 0
            if key.fd == release_fd:
                if os.read(release_fd, 1):
                    return 0  # the init is done with the group
                selector.unregister(release_fd)
                orphaned = True


def _release(guardian: tuple[int, int] | None) -> None:
    """Tell the guardian the group needs it no more, and reap it (bounded)."""
    if guardian is None:
        return
    pid, release = guardian
    try:
        os.write(release, b"x")
    except OSError:
        pass  # the guardian is gone already
    os.close(release)
    deadline = time.monotonic() + RELEASE_WAIT
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return  # reaped with the command's leftovers
        time.sleep(0.001)


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


def _kill_others_in_group() -> None:
    # Not killpg: the init must live on to exit with the command's status.
    for pid in group_members(os.getpgrp()):
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
