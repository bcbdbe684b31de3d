"""Whether a command's program can be run: found on its PATH or at its path,
executable by the user it runs as, from its working directory.

Config files check this before anything starts (`healthdaemons check` and
`up`); a spawn under the init checks it for the supervisor. The builder
does not: a system may be described on one machine and run on another.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
from typing import Literal

from ._command import Command

__all__ = ["command_problem", "program_problem", "shell_program"]

# What `sh -c` runs itself rather than looking up on PATH, and `exec`'s word.
_BUILTINS_AND_KEYWORDS = """! { } [ [[ : . alias bg break case cd command continue do done echo
    elif else esac eval exit export false fc fg for function getopts hash if in jobs kill local
    printf pwd read readonly return select set shift source test then time times trap true type
    ulimit umask unalias unset until wait while"""
_SHELL_WORDS = frozenset(_BUILTINS_AND_KEYWORDS.split())
# A first word the shell reads as it is: no quotes, expansions, globs or assignments.
_PLAIN_WORD = re.compile(r"[A-Za-z0-9_./+,:@%-]+")


def shell_program(script: str) -> str | None:
    """The program `sh -c script` runs first, when the script is a simple
    command (`exec ./worker --queue jobs`, `redis-server | tee log`);
    `None` when the shell decides (a builtin, a keyword, an assignment,
    quoting or an expansion in the first word): then nothing is checked."""
    words = script.split(maxsplit=2)
    if words[:1] == ["exec"]:
        words = words[1:]
    if not words or not _PLAIN_WORD.fullmatch(words[0]) or words[0].startswith("-"):
        return None
    return None if words[0] in _SHELL_WORDS else words[0]


def command_problem(command: Command) -> tuple[str, str] | None:
    """What stops `command` from running here, as (its option, the problem):
    an unknown user, a cwd that is not a directory, a missing program."""
    account = None
    if command.user is not None:
        try:
            user = command.user
            account = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(user)
        except KeyError:
            return "user", f"unknown user {command.user!r}"
    cwd = None if command.cwd is None else os.fspath(command.cwd)
    if cwd is not None and not os.path.isdir(cwd):
        return "cwd", f"not a directory: {cwd!r}"
    argv = command.command
    program = shell_program(argv) if isinstance(argv, str) else argv[0]
    if program is None:
        return None
    search_path = (command.env or {}).get("PATH", os.environ.get("PATH", os.defpath))
    found = _lookup(program, search_path, cwd, account)
    if found == "found":
        return None
    if found == "denied":
        problem = f"cannot run {program!r}: permission denied"
    elif "/" in program:
        problem = f"cannot run {program!r}: no such file" + ("" if cwd is None else f" in {cwd}")
    else:
        problem = f"cannot run {program!r}: not found on PATH"
    if account is not None:
        problem += f" (as user {account.pw_name!r})"
    return "command", problem


def program_problem(
    program: str, *, search_path: str, cwd: str | None, account: pwd.struct_passwd | None
) -> str | None:
    """Why `program` cannot be run, in the words of a failed spawn, or `None`."""
    found = _lookup(program, search_path, cwd, account)
    if found == "found":
        return None
    reason = "permission denied" if found == "denied" else "no such file or directory"
    return f"{reason}: {program!r}"


def _lookup(
    program: str, search_path: str, cwd: str | None, account: pwd.struct_passwd | None
) -> Literal["found", "missing", "denied"]:
    """A name is looked up on `search_path` (its relative entries from `cwd`),
    a path with a slash is taken from `cwd`; `account` (or else this process)
    must be allowed to execute it and to search every directory above it."""
    base = os.getcwd() if cwd is None else cwd
    if "/" in program:
        candidates = [os.path.join(base, program)]
    else:
        candidates = [os.path.join(base, d or ".", program) for d in search_path.split(os.pathsep)]
    found: Literal["missing", "denied"] = "missing"
    for candidate in candidates:
        if os.path.isfile(candidate):
            if _executable(candidate, account):
                return "found"
            found = "denied"
        elif "/" in program and os.path.exists(candidate):
            found = "denied"  # a directory: what exec says of it
    return found


def _executable(path: str, account: pwd.struct_passwd | None) -> bool:
    if account is None:
        return os.access(path, os.X_OK)
    groups = set(os.getgrouplist(account.pw_name, account.pw_gid))
    directory = os.path.dirname(os.path.abspath(path))
    while True:
        if not _may(directory, account.pw_uid, groups):
            return False
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return _may(path, account.pw_uid, groups)


def _may(path: str, uid: int, groups: set[int]) -> bool:
    """Whether `uid` (in `groups`) may execute `path`, or search it if a directory."""
    try:
        status = os.stat(path)
    except OSError:
        return False
    mode = status.st_mode
    if uid == 0:  # root needs one execute bit on a file, none on a directory
        return stat.S_ISDIR(mode) or bool(mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    if status.st_uid == uid:
        return bool(mode & stat.S_IXUSR)
    if status.st_gid in groups:
        return bool(mode & stat.S_IXGRP)
    return bool(mode & stat.S_IXOTH)
