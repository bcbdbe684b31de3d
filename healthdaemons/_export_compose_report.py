"""The fidelity report of a docker compose export: each guarantee of
docs/spec.md kept, approximated or lost for this system, naming the services
concerned, and what became of each service's settings that compose cannot
carry as they are."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from coordinator import ConfigFile, ConfigService

from ._export_addresses import local_addresses, owner_of_port, reach_url
from ._export_probes import READY_FILE, posix_regex, probe_command
from ._fidelity import Fidelity, FidelityReport, ServiceNote, guarantees

__all__ = ["compose_report"]

KEPT, APPROXIMATED, LOST = Fidelity.KEPT, Fidelity.APPROXIMATED, Fidelity.LOST


def compose_report(system: ConfigFile) -> FidelityReport:
    services = system.services
    dependents = [service for service in services if service.requires]
    required = {id for service in services for id in service.requires}
    wrapped = [s.id for s in services if s.id in required and _probe_kind(s) == "log_line"]
    stranded = [s for s in services if s.id in required and _probes_itself(system, s)]
    restarted = [s for s in services if s.kind != "oneshot" and _restart_policy(s)]
    gated = (
        (KEPT, "no service requires another.")
        if not dependents
        else (
            APPROXIMATED if wrapped or stranded or restarted else KEPT,
            "each requires is a depends_on condition (service_healthy on the healthcheck, "
            "service_completed_successfully for a oneshot), so compose starts "
            f"{_names(dependents)} only once what they require is ready"
            + (
                f"; {_names(wrapped)} {'becomes' if len(wrapped) == 1 else 'become'} ready "
                "through a ready file written by a wrapper that watches the output (below)."
                if wrapped
                else "."
            )
            + (
                f" {_names(stranded)}'s healthcheck probes its own container (no service "
                "holds the port): it never passes, and what requires it never starts."
                if stranded
                else ""
            )
            + (
                " After a reboot (or a restart of the engine) the engine itself starts the "
                "containers with a restart policy, without the depends_on order "
                "(docker/compose#10859)."
                if restarted
                else ""
            ),
        )
    )
    lost_dependency = (
        (KEPT, "no service requires another.")
        if not dependents
        else (
            LOST,
            f"compose checks depends_on only when it starts {_names(dependents)}: a "
            "dependency that crashes or turns unhealthy later stops none of its dependents.",
        )
    )
    restart_after = (
        (KEPT, "no service requires another.")
        if not dependents
        else (
            APPROXIMATED,
            "depends_on restart: true restarts the dependents when compose itself restarts or "
            "recreates a dependency (docker compose restart, up after a change), not when the "
            "engine restarts a crashed one.",
        )
    )
    return FidelityReport(
        target="docker compose",
        source=Path(system.source).name,
        guarantees=guarantees(
            start_gated=gated,
            lost_dependency=lost_dependency,
            restart_after=restart_after,
            ordered_shutdown=(
                KEPT,
                "docker compose stop and down (and Ctrl-C of up) stop the services in reverse "
                "depends_on order, dependents first.",
            ),
            critical_path=(
                KEPT,
                "compose walks the depends_on graph in parallel: each service stops once its "
                "dependents have stopped, without rounds.",
            ),
            sigterm_sigkill=_stop_signals(services),
            no_orphans=(
                KEPT,
                "every process runs in its service's container and ends with it; docker "
                "compose down removes the containers" + _without_init(services),
            ),
            backoff=_backoff(services),
        ),
        notes=tuple(note for service in services for note in _notes(system, service)),
    )


def _stop_signals(services: Iterable[ConfigService]) -> tuple[Fidelity, str]:
    services = list(services)
    others = [f"{s.id} ({s.stop_signal})" for s in services if s.stop_signal != "SIGTERM"]
    shells = [s for s in services if _shell_stays(s)]
    return (
        APPROXIMATED,
        "compose sends each service's stop_signal"
        + (f" ({', '.join(others)}; SIGTERM for the others)" if others else " (SIGTERM)")
        + " to its container's main process only, not to a process group, then SIGKILLs "
        "every process of the container after stop_grace_period (each sigterm_timeout, "
        "rounded up to whole seconds)"
        + (
            f"; lost for {_names(shells)} (a shell that runs the command, below)."
            if shells
            else "."
        ),
    )


def _shell_stays(service: ConfigService) -> bool:
    """A string command that `sh -c` runs without being replaced by the
    program (`a; b`, a pipe, ...): sh gets the stop signal, not the program."""
    command = service.image.command if service.image is not None else None
    if not isinstance(command, str):
        return False
    text = command.strip()
    return not text.startswith("exec ") and any(
        operator in text for operator in (";", "&", "|", "\n", "`", "$(", "(")
    )


def _restart_policy(service: ConfigService) -> bool:
    return service.restart != "no" and service.max_restarts != 0


def _probes_itself(system: ConfigFile, service: ConfigService) -> bool:
    """A check whose local port or URL is no service's: in its own container
    it reaches itself, where nothing listens."""
    probe = service.container_probe
    if service.kind != "check" or probe is None:
        return False
    if probe.port is not None:
        return owner_of_port(system, probe.port) is None
    return probe.url is not None and _is_local(probe.url) and reach_url(system, probe.url) is None


def _without_init(services: Iterable[ConfigService]) -> str:
    plain = [s for s in services if not s.run_as_init and s.kind != "check"]
    if not plain:
        return "; every service has init: true, which reaps orphaned processes."
    return (
        f"; an orphan in {_names(plain)} (no run_as_init, so no init: true) stays a zombie "
        "until its container stops."
    )


def _backoff(services: Iterable[ConfigService]) -> tuple[Fidelity, str]:
    unlimited = [
        s.id for s in services if s.kind == "daemon" and s.restart == "always" and s.max_restarts
    ]
    text = (
        "the engine restarts a container with its own delay (100 ms, doubling, reset after "
        "10 s up) instead of 0, 1, 2, 4 ... 30 s; max_restarts is on-failure:N for restart "
        '= "on-failure", a count that the engine never resets (locally 60 s up resets it)'
    )
    if unlimited:
        text += f", and lost for {', '.join(unlimited)} (restart: always has no limit)"
    return APPROXIMATED, text + "."


def _notes(system: ConfigFile, service: ConfigService) -> Iterator[ServiceNote]:
    id = service.id
    yield from _readiness_notes(system, service)
    if _shell_stays(service):
        yield ServiceNote(
            id,
            "stop_signal",
            LOST,
            f"the command is a shell string that sh runs without exec: {service.stop_signal} "
            "reaches that sh (which ignores it as the container's main process, or dies "
            "alone), not the programs it started: they get SIGKILL after stop_grace_period. "
            "End the string with exec PROGRAM, or give an array.",
        )
    if service.kind == "check":
        yield ServiceNote(
            id,
            "kind",
            APPROXIMATED,
            "a check runs no process: it is a service that sleeps (in "
            f"{service.image.image if service.image else 'the default image'}) and whose "
            "healthcheck is the check.",
        )
    if service.liveness is not None:
        yield ServiceNote(
            id,
            "liveness",
            LOST,
            "compose never restarts an unhealthy container, and its one healthcheck is "
            "the readiness: give the program a watchdog of its own.",
        )
    if service.start_timeout is not None:
        yield ServiceNote(
            id,
            "start_timeout",
            LOST,
            "compose does not restart a container that never becomes healthy; it is the "
            "healthcheck's start_period.",
        )
    if isinstance(service.user, str) and not service.user.isdigit():
        yield ServiceNote(
            id, "user", APPROXIMATED, f"user: {service.user} needs that user in the image."
        )
    if service.watch:
        yield ServiceNote(
            id,
            "watch",
            LOST,
            "nothing restarts the container when a file changes (compose's develop.watch "
            "needs a build context).",
        )
    if service.log_file is not None:
        yield ServiceNote(
            id,
            "log_file",
            LOST,
            "the output goes to the container's log (docker compose logs); rotate it with "
            "a logging driver's options.",
        )
    if service.once:
        yield ServiceNote(
            id,
            "once",
            KEPT,
            'compose runs it once per up (restart: "no"), and its dependents do not '
            "restart with it (depends_on restart: false).",
        )
    if service.kind == "oneshot" and service.max_restarts != 0:
        yield ServiceNote(
            id,
            "restart",
            LOST,
            'a failed run is not retried (restart: "no"): compose fails its dependents at '
            "the first failure.",
        )
    if service.exit_on_failure:
        yield ServiceNote(
            id,
            "exit_on_failure",
            APPROXIMATED,
            f"run docker compose up --exit-code-from {id} (it also stops everything when "
            f"{id} exits 0).",
        )
    yield from _address_notes(system, service)


def _readiness_notes(system: ConfigFile, service: ConfigService) -> Iterator[ServiceNote]:
    probe = service.container_probe
    if probe is None:
        return
    id = service.id
    if service.container_ready is not None:
        yield ServiceNote(
            id, "container.ready", KEPT, "the healthcheck probes it instead of ready."
        )
    if probe.kind == "log_line":
        assert probe.log_line is not None
        pattern, _ = posix_regex(probe.log_line, id)
        translated = "" if pattern == probe.log_line else f" (as {pattern!r} in POSIX)"
        yield ServiceNote(
            id,
            "ready.log_line",
            APPROXIMATED,
            f"the command runs under a sh wrapper that copies its output, touches "
            f"{READY_FILE} at the first {probe.stream if probe.stream != 'both' else ''} "
            f"line matching {probe.log_line!r}{translated} and forwards the stop signals; "
            "the healthcheck tests the file. The image needs sh, mkfifo and grep"
            + (
                f", and GNU env (coreutils 8.31 or later): a background command starts with "
                f"{service.stop_signal} ignored, which busybox's env cannot undo."
                if service.stop_signal in ("SIGINT", "SIGQUIT")
                else "."
            ).replace("first  line", "first line"),
        )
        return
    needs = probe_command(service, probe, system).needs
    needs_text = f"the healthcheck needs {needs} in the image" if needs else ""
    if probe.interval is None:
        yield ServiceNote(
            id,
            f"ready.{probe.kind}",
            APPROXIMATED,
            (f"{needs_text}; it" if needs else "it")
            + " checks every 1 s until healthy (start_interval, Docker Engine 25 or later), "
            "then every 30 s even while failing (locally every 1 s while failing).",
        )
    elif needs:
        yield ServiceNote(id, f"ready.{probe.kind}", KEPT, needs_text + ".")
    if service.kind == "check" and probe.url is not None:
        reached = reach_url(system, probe.url)
        if reached is not None:
            yield ServiceNote(
                id,
                "ready.url",
                KEPT,
                f"{probe.url} is {reached[1].id}'s port: the healthcheck gets {reached[0]}.",
            )
        elif _is_local(probe.url):
            yield ServiceNote(
                id,
                "ready.url",
                LOST,
                f"{probe.url} is no service's port: from its container it reaches itself.",
            )
    if service.kind == "check" and probe.port is not None:
        found = owner_of_port(system, probe.port)
        yield ServiceNote(
            id,
            "ready.port",
            KEPT if found else LOST,
            f"port {probe.port} is {found[0].id}'s: the healthcheck connects to "
            f"{found[0].id}:{found[1]}."
            if found
            else f"port {probe.port} is no service's: from its container it reaches itself.",
        )


def _address_notes(system: ConfigFile, service: ConfigService) -> Iterator[ServiceNote]:
    for address in local_addresses(service):
        owner = None if address.port is None else owner_of_port(system, address.port)
        if owner is not None and owner[0].id == service.id:
            # Right for a client in its own container; as a listening address, other
            # containers cannot reach it, and the port healthcheck passes anyway.
            yield ServiceNote(
                service.id,
                address.where,
                APPROXIMATED,
                f"names {address.address}, its own port: if it listens there, other "
                "containers cannot reach it (the healthcheck still passes): listen on 0.0.0.0.",
            )
            continue
        where = (
            f"write {owner[0].id}:{owner[1]} to reach {owner[0].id}"
            if owner is not None
            else "in compose it is the container itself: name the service instead"
        )
        yield ServiceNote(service.id, address.where, LOST, f"names {address.address}: {where}.")


def _probe_kind(service: ConfigService) -> str | None:
    probe = service.container_probe
    return None if probe is None else probe.kind


def _is_local(url: str) -> bool:
    return any(host in url for host in ("//127.0.0.1", "//localhost", "//[::1]"))


def _names(services: Iterable[ConfigService | str]) -> str:
    ids = [s if isinstance(s, str) else s.id for s in services]
    return ", ".join(ids[:-1]) + " and " + ids[-1] if len(ids) > 1 else ids[0]
