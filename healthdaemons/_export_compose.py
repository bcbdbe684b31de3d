"""`healthdaemons export compose`: a config file as a docker compose file,
one compose service per service, with the fidelity report on top
(docs/export.md). The report itself is `_export_compose_report`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import yaml

from coordinator import ConfigFile, ConfigProbe, ConfigService

from ._export_compose_report import compose_report
from ._export_model import Exported, ExportError, generated_head, require_image
from ._export_probes import ProbeCommand, log_line_wrapper, probe_command

__all__ = ["export_compose"]

CHECK_COMMAND = ("sleep", "2147483647")
"""What a check's service runs: nothing, for as long as it may (under `init`,
so that the stop signal ends it at once)."""
HEALTH_INTERVAL = 30.0
"""The default trigger's period while checks pass."""
HEALTH_START_INTERVAL = 1.0
"""The default trigger's slowest period until the first success (it starts at 5 ms)."""
START_PERIOD = 300.0
"""How long a service may take to become ready, without `start_timeout`:
locally it may take as long as it needs; compose checks every second for this
long, then every `interval`, and calls it unhealthy at the first failure."""


def export_compose(system: ConfigFile, output: Path) -> Exported:
    """`system` as a compose file to be written at `output` (relative paths
    in it are relative to `output`'s folder). Raises `ExportError`."""
    folder = Path(os.path.abspath(output)).parent
    services: dict[str, Any] = {}
    named_volumes: dict[str, Any] = {}
    for service in system.services:
        services[service.id] = _service(system, service, folder, named_volumes)
    document: dict[str, Any] = {"services": services}
    if named_volumes:
        document["volumes"] = named_volumes
    report = compose_report(system)
    text = generated_head(system, report) + yaml.dump(
        _escaped(document), Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True
    )
    return Exported(((output.name, text),), report)


def _service(
    system: ConfigFile, service: ConfigService, folder: Path, named_volumes: dict[str, Any]
) -> dict[str, Any]:
    image = require_image(service)
    entry: dict[str, Any] = {"image": image.image}
    command = _command(service)
    if command is not None and command[:2] in (("sh", "-c"), CHECK_COMMAND):
        # Our own shell (or sleep) replaces the image's entry point: given to an
        # entry point that is a program, it would be that program's arguments.
        entry["entrypoint"] = list(command)
    elif command is not None:
        entry["command"] = list(command)
    if (command is not None or service.kind == "check") and image.workdir is not None:
        entry["working_dir"] = image.workdir
    if service.user is not None:
        entry["user"] = str(service.user)
    if service.profiles:
        entry["profiles"] = list(service.profiles)  # compose's rules are the config's
    if service.env:
        entry["environment"] = dict(service.env)
    if service.env_files:
        entry["env_file"] = [_relative(path, folder) for path in service.env_files]
    if image.ports:
        entry["ports"] = list(image.ports)
    if image.volumes:
        entry["volumes"] = [
            _volume(volume, system.base, folder, named_volumes) for volume in image.volumes
        ]
    if service.requires:
        entry["depends_on"] = {id: _dependency(system.service(id)) for id in service.requires}
    probe = service.container_probe
    if probe is not None:
        entry["healthcheck"] = _healthcheck(system, service, probe)
    entry["restart"] = _restart(service)
    if service.run_as_init or service.kind == "check":
        entry["init"] = True
    if service.stop_signal != "SIGTERM":
        entry["stop_signal"] = service.stop_signal
    entry["stop_grace_period"] = _whole_seconds(service.sigterm_timeout)
    return entry


def _command(service: ConfigService) -> tuple[str, ...] | None:
    """The argv of the container (`None`: the image's own entry point and command)."""
    if service.kind == "check":
        return CHECK_COMMAND
    image = require_image(service)
    probe = service.container_probe
    if probe is not None and probe.kind == "log_line":
        if image.command is None:
            raise ExportError(
                f"services.{service.id}.ready.log_line: the service runs its image's own "
                "command (container.command = []), which the wrapper that watches the output "
                f"cannot name: give [services.{service.id}.container] command, or "
                f"[services.{service.id}.container.ready] a port, url or script"
            )
        return log_line_wrapper(service, image.command)
    if image.command is None:
        return None
    return ("sh", "-c", image.command) if isinstance(image.command, str) else image.command


def _dependency(required: ConfigService) -> dict[str, Any]:
    condition = (
        "service_completed_successfully" if required.kind == "oneshot" else "service_healthy"
    )
    # A oneshot with `once` does not run again, so its dependents need not restart with it.
    return {"condition": condition, "restart": not required.once}


def _healthcheck(system: ConfigFile, service: ConfigService, probe: ConfigProbe) -> dict[str, Any]:
    command = probe_command(service, probe, system)
    start_period = service.start_timeout if service.start_timeout is not None else START_PERIOD
    return {
        "test": _test(command),
        "interval": _duration(probe.interval or HEALTH_INTERVAL),
        "timeout": _duration(probe.timeout),
        "retries": 1,
        "start_period": _duration(max(start_period, probe.grace_period)),
        "start_interval": _duration(HEALTH_START_INTERVAL),
    }


def _test(command: ProbeCommand) -> list[str]:
    shell = command.shell
    return ["CMD-SHELL", shell] if shell is not None else ["CMD", *command.argv]


def _restart(service: ConfigService) -> str:
    if service.kind == "oneshot":
        # compose fails a service_completed_successfully dependent at the first
        # failed exit: a retry would come too late for it.
        return "no"
    if service.max_restarts == 0:
        return "no"  # docker reads on-failure:0 as no limit at all
    if service.restart == "on-failure" and service.max_restarts is not None:
        return f"on-failure:{service.max_restarts}"
    return service.restart


def _duration(seconds: float) -> str:
    """Seconds in compose's duration format (`30s`, `1500ms`), rounded up to a millisecond."""
    milliseconds = math.ceil(seconds * 1000)
    return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"


def _whole_seconds(seconds: float) -> str:
    """Seconds rounded up to a whole second: docker truncates a stop timeout
    to whole seconds (0.5 s would SIGKILL at once)."""
    return f"{-(-math.ceil(seconds * 1000) // 1000)}s"


def _relative(path: Path, folder: Path) -> str:
    relative = os.path.relpath(path, folder)
    return relative if relative.startswith(".") else f"./{relative}"


def _volume(volume: str, base: Path, folder: Path, named: dict[str, Any]) -> str:
    """A volume with a relative source made relative to `folder`; a named
    one recorded in `named` (compose wants it declared)."""
    parts = volume.split(":")
    if len(parts) == 1:
        return volume  # an anonymous volume: a target only
    source = parts[0]
    if source.startswith(("/", "~")):
        return volume
    if source.startswith(".") or "/" in source:  # compose would read `data/x` as a name
        parts[0] = _relative(base / source, folder)
    else:
        named[source] = {}
    return ":".join(parts)


def _escaped(value: Any) -> Any:
    """`value` with every `$` doubled in strings: compose interpolates `$NAME`
    in values, and the config's own variables were already substituted."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    return value


class _Dumper(yaml.SafeDumper):
    """`yaml.safe_dump`, with scripts of several lines as literal blocks (`|`),
    and quotes around every string that YAML 1.2 could read as another type."""


# PyYAML quotes what YAML 1.1 reads as a number, a boolean or null; compose
# reads YAML 1.2 (go-yaml v3: underscores dropped, then an integer in any
# base, or a float), where `08`, `1e3`, `0o17` are numbers too.
def _number_like(text: str) -> bool:
    if not text or text[0] not in "0123456789+-.":
        return False
    plain = text.replace("_", "")
    try:
        int(plain, 0)
    except ValueError:
        try:
            float(plain)
        except ValueError:
            return plain.lower() in (".inf", "-.inf", "+.inf", ".nan")
    return True


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    if "\n" in text:
        style: str | None = "|"
    elif _number_like(text):
        style = "'"
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)
