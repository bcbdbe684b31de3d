"""The log files of a config file's services: `up --log-dir`, and their checks."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from ._command import Command
from ._config_schema import Service
from ._config_table import Problem, key_path
from ._log_file import LogDir, log_file_problem
from ._options import DaemonOptions, OneshotOptions

__all__ = ["check_log_files", "with_log_dir"]


def with_log_dir(services: Sequence[Service], log_dir: LogDir | None) -> list[Service]:
    """Each service that runs a command and has no `log_file` of its own gets
    `DIR/ID.log`; two services writing the same file is a `Problem`."""
    given: list[Service] = []
    for service in services:
        options = service.options
        if (
            log_dir is not None
            and isinstance(options, DaemonOptions | OneshotOptions)
            and isinstance(options.exec, Command)
            and options.exec.log is None
        ):
            command = dataclasses.replace(options.exec, log=log_dir.for_service(service.id))
            commands = tuple((k, command if k == "command" else c) for k, c in service.commands)
            options = dataclasses.replace(options, exec=command)
            service = dataclasses.replace(service, options=options, commands=commands)
        given.append(service)
    _check_distinct(given)
    return given


def _check_distinct(services: Sequence[Service]) -> None:
    """Each service writes (and rotates) a file of its own: not one another
    writes, under another name (a symbolic link) or as a rotated `NAME.N`."""
    writers: dict[str, str] = {}
    for service in services:
        command = _command(service)
        if command is None or command.log is None:
            continue
        path = os.path.realpath(command.log.path)
        for taken, other in writers.items():
            if other != service.id and _same_or_rotated(path, taken):
                raise Problem(
                    f"{key_path('services', service.id, 'log_file')}: {path} is the log file "
                    f"of service {other!r} too, or one of its rotated files (each service "
                    "needs its own: they rotate it)",
                    service.id,
                )
        writers[path] = service.id


def _same_or_rotated(one: str, other: str) -> bool:
    if one == other:
        return True
    for path, base in ((one, other), (other, one)):
        suffix = path.removeprefix(base + ".")
        if suffix != path and suffix.isdigit():
            return True
    return False


def check_log_files(services: Sequence[Service], log_dir: LogDir | None) -> None:
    """`Problem` for the first service whose log file could not be written here."""
    for service in services:
        command = _command(service)
        if command is None or command.log is None:
            continue
        problem = log_file_problem(command.log)
        if problem is None:
            continue
        if log_dir is not None and command.log == log_dir.for_service(service.id):
            raise Problem(f"--log-dir {log_dir.path}: {problem}", service.id)
        raise Problem(f"{key_path('services', service.id, 'log_file')}: {problem}", service.id)


def _command(service: Service) -> Command | None:
    options = service.options
    if isinstance(options, DaemonOptions | OneshotOptions) and isinstance(options.exec, Command):
        return options.exec
    return None
