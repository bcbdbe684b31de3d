"""A daemon's container with its probes, for both modes: the readiness probe
from `container_probe`, a liveness probe only from `liveness`, a startup
probe for `start_timeout` (and under a liveness probe, which Kubernetes
starts once the startup probe has passed, as the local liveness check starts
once the daemon is first ready); in one pod, every sidecar has a startup
probe, which is what holds back the next container until it is ready.
"""

from __future__ import annotations

from typing import Any

from coordinator import ConfigFile, ConfigService

from ._export_kubernetes_container import PodVolumes, service_container
from ._export_kubernetes_notes import Notes
from ._export_kubernetes_probes import (
    container_liveness,
    container_readiness,
    handler,
    liveness_probe,
    probe_port,
    readiness_probe,
    startup_probe,
)
from ._export_model import ExportError, require_image
from ._export_probes import READY_FILE, log_line_wrapper, posix_regex
from ._fidelity import Fidelity

__all__ = ["daemon_container", "oneshot_container", "service_notes"]

Manifest = dict[str, Any]


def daemon_container(
    system: ConfigFile,
    service: ConfigService,
    notes: Notes,
    volumes: PodVolumes,
    *,
    sidecar: bool,
    one_pod: bool,
) -> Manifest:
    probe = container_readiness(service)
    assert probe is not None  # a daemon always has a readiness check
    command = None
    if probe.kind == "log_line":
        command = list(log_line_wrapper(service, _command(service)))
    container = service_container(system, service, notes, volumes, command=command)
    action = handler(service, probe, one_pod=one_pod)
    if sidecar or service.start_timeout is not None or service.liveness is not None:
        container["startupProbe"] = startup_probe(probe, action, service.start_timeout)
    container["readinessProbe"] = readiness_probe(probe, action)
    liveness = container_liveness(service)
    if liveness is not None:
        live = handler(service, liveness, one_pod=one_pod)
        container["livenessProbe"] = liveness_probe(liveness, live)
    _probe_notes(service, notes, one_pod=one_pod)
    return container


def _command(service: ConfigService) -> str | tuple[str, ...]:
    command = require_image(service).command
    if command is None:
        raise ExportError(
            f"services.{service.id}.ready.log_line: the wrapper that watches the output "
            f"needs the command: give [services.{service.id}.container] command, or a "
            f"readiness to probe in [services.{service.id}.container.ready] (port, url or "
            "script)"
        )
    return command


def oneshot_container(
    system: ConfigFile, service: ConfigService, notes: Notes, volumes: PodVolumes, *, one_pod: bool
) -> Manifest:
    return service_container(system, service, notes, volumes, plain_init=one_pod)


def _probe_notes(service: ConfigService, notes: Notes, *, one_pod: bool) -> None:
    probe = container_readiness(service)
    assert probe is not None
    key = "container.ready" if service.container_ready is not None else "ready"
    if service.container_ready is None and probe != service.ready:
        notes.add(service.id, "ready", Fidelity.KEPT,
                  f"checked on port {probe_port(probe)}, the container's side of the "
                  f"port {probe_port(service.ready)} that container.ports publishes")  # fmt: skip
    if one_pod and probe_port(probe) is not None:
        needs = "sh and grep" if probe.kind == "port" else "curl, wget or python3"
        how = (
            "a listening socket on that port in the pod's socket tables"
            if probe.kind == "port"
            else "a GET on 127.0.0.1 answered with a status below 500, as locally"
        )
        notes.add(service.id, f"{key}.{probe.kind}", Fidelity.APPROXIMATED,
                  f"an exec probe from inside the pod, where the services meet on 127.0.0.1: "
                  f"{how}; the image needs {needs}")  # fmt: skip
    elif probe.kind == "url":
        notes.add(
            service.id,
            f"{key}.url",
            Fidelity.APPROXIMATED,
            "an httpGet probe: Kubernetes counts 200-399 as ready, locally any status "
            "below 500 is; the kubelet probes the pod's address, so the server must listen "
            "on it, not only on 127.0.0.1",
        )
    elif probe.kind == "port":
        notes.add(
            service.id,
            f"{key}.port",
            Fidelity.KEPT,
            "a tcpSocket probe on the pod's address (the server must listen on it, not "
            "only on 127.0.0.1)",
        )
    elif probe.kind == "log_line":
        assert probe.log_line is not None
        posix, _ = posix_regex(probe.log_line, service.id)
        notes.add(
            service.id,
            f"{key}.log_line",
            Fidelity.APPROXIMATED,
            "the command runs under a POSIX-sh wrapper that copies its output, touches "
            f"{READY_FILE} at the first {probe.stream.replace('both', 'output')} line "
            f"matching {posix!r} (grep -E) and passes the stop signals on; the probes test "
            "the file. The image needs sh, mkfifo and grep.",
        )
    if service.start_timeout is not None:
        notes.add(
            service.id,
            "start_timeout",
            Fidelity.APPROXIMATED,
            f"a startupProbe that restarts the container after {service.start_timeout:g} "
            "failed checks a second apart, in the kubelet's CrashLoopBackOff",
        )
    if service.liveness is not None:
        notes.add(
            service.id,
            "liveness",
            Fidelity.KEPT,
            "a livenessProbe, started once the startupProbe (the readiness check) has passed",
        )


def service_notes(service: ConfigService, notes: Notes, *, one_pod: bool = False) -> None:
    """What becomes of the settings that have no probe or container field."""
    add = notes.add
    if service.kind == "daemon" and service.restart != "always":
        add(service.id, "restart", Fidelity.APPROXIMATED,
            f"{service.restart!r}: Kubernetes restarts this container whenever it ends "
            "(restartPolicy Always), an exit 0 too")  # fmt: skip
    if service.max_restarts is not None and (service.kind == "daemon" or one_pod):
        add(service.id, "max_restarts", Fidelity.LOST,
            "the kubelet restarts a container without limit")  # fmt: skip
    elif service.kind == "oneshot" and not one_pod:
        if service.max_restarts is None:
            add(service.id, "max_restarts", Fidelity.APPROXIMATED,
                "the Job's backoffLimit is Kubernetes' 6: it gives up after 6 retries, "
                "where locally it is retried without limit")  # fmt: skip
        else:
            add(service.id, "max_restarts", Fidelity.KEPT, "the Job's backoffLimit")
    if service.once:
        runner = "an init container of the pod" if one_pod else "a Job"
        add(service.id, "once", Fidelity.KEPT,
            f"{runner} runs to completion once; nothing runs it again when its "
            "requirements recover")  # fmt: skip
    if service.exit_on_failure:
        add(service.id, "exit_on_failure", Fidelity.LOST,
            "nothing ends the whole system when one service fails for good")  # fmt: skip
    if service.watch:
        add(service.id, "watch", Fidelity.LOST,
            "no file watching in a cluster: restart it (kubectl rollout restart) "
            "after a change")  # fmt: skip
    if service.log_file is not None:
        add(service.id, "log_file", Fidelity.LOST,
            "the output goes to the container's log (kubectl logs), rotated by the "
            "kubelet")  # fmt: skip
    if service.run_as_init:
        add(service.id, "run_as_init", Fidelity.APPROXIMATED,
            "shareProcessNamespace: the pod's pause process is PID 1 and reaps zombies, "
            "but the stop signal goes to the command alone, not to its group"
            + ("; for the whole pod, whose containers then see each other's processes"
               if one_pod else ""))  # fmt: skip
    if service.profiles:
        add(service.id, "profiles", Fidelity.APPROXIMATED,
            "exported whatever profiles are active: leave out what you do not deploy")  # fmt: skip
