"""The fidelity report of a Kubernetes export, for each mode: the eight
guarantees of docs/spec.md said for this system, then the services' notes."""

from __future__ import annotations

from pathlib import Path

from coordinator import ConfigFile

from ._export_kubernetes_notes import Notes
from ._fidelity import Fidelity, FidelityReport, Kept, guarantees

__all__ = ["deployments_report", "pod_report"]

KEPT, APPROXIMATED, LOST = Fidelity.KEPT, Fidelity.APPROXIMATED, Fidelity.LOST

_BACKOFF = (
    "the kubelet restarts a container that ended after 10 s, doubling to 5 min, reset "
    "after 10 min up (locally 0, 1, 2, 4 ... 30 s, reset after 60 s)"
)
_SIGNAL = (
    "the kubelet sends the stop signal to PID 1 of each container, not to a process group, "
    "and a PID 1 without a handler for it ignores it"
)


def deployments_report(system: ConfigFile, notes: Notes) -> FidelityReport:
    edges = _edges(system)
    oneshots = _ids(system, "oneshot")
    given_up = [s.id for s in system.services if s.kind == "daemon" and s.max_restarts is not None]
    how = guarantees(
        start_gated=(
            (
                APPROXIMATED,
                "init containers hold each pod until what it requires is ready "
                "(a connection through a daemon's Service, which routes only to ready pods; "
                "kubectl wait for a Job, or a Deployment without a port; a check's probe run "
                "in place), checked once when the pod starts: " + _waits(system) + ".",
            )
            if edges
            else (KEPT, "no service requires another: nothing to hold back.")
        ),
        lost_dependency=(
            (
                LOST,
                f"Kubernetes does not stop dependents when a dependency turns unready: "
                f"{edges[0][0]} keeps running while {edges[0][1]} is not ready (its Service "
                "only loses its endpoint).",
            )
            if edges
            else (KEPT, "no service requires another.")
        ),
        restart_after=(
            (
                LOST,
                "init containers run only when a pod starts: a dependency that recovers "
                "restarts none of its dependents"
                + (f", and a Job ({_join(oneshots)}) does not run again." if oneshots else "."),
            )
            if edges
            else (KEPT, "no service requires another.")
        ),
        ordered_shutdown=(
            (
                LOST,
                "Deployments and Jobs have no shutdown order: deleting the system stops "
                f"{edges[0][0]} and {edges[0][1]} at the same time.",
            )
            if edges
            else (KEPT, "no service requires another: any order is right.")
        ),
        critical_path=(
            (LOST, "no shutdown order between pods, so no critical path either.")
            if edges
            else (KEPT, "no service requires another.")
        ),
        sigterm_sigkill=(APPROXIMATED, _signals(system)),
        no_orphans=(
            KEPT,
            "every process of a container ends with it (the runtime kills its "
            "cgroup), and deleting the exported objects ends every pod.",
        ),
        backoff=(
            APPROXIMATED,
            _BACKOFF
            + (
                f"; a Deployment never gives up: max_restarts of {_join(given_up)} is lost"
                if given_up
                else ""
            )
            + (
                "; a Job retries a failed pod after 10 s doubling to 6 min, up to its "
                "backoffLimit (max_restarts, else Kubernetes' 6)"
                if oneshots
                else ""
            )
            + ".",
        ),
    )
    return _report(system, "Kubernetes", how, notes)


def pod_report(system: ConfigFile, notes: Notes, order: list[str], main: str) -> FidelityReport:
    # Oneshots ended before the next container started: only sidecars are stopped.
    sidecars = [id for id in order[:-1] if system.service(id).kind != "oneshot"]
    grace = "terminationGracePeriodSeconds is the sum of the sigterm_timeouts"
    how = guarantees(
        start_gated=(
            APPROXIMATED,
            "the containers start one at a time in a topological "
            f"order ({' -> '.join(order)}): a sidecar after the previous one's "
            "startupProbe (its readiness check) passed, a oneshot after the previous "
            "one exited 0; so a service also waits for what it does not require.",
        ),
        lost_dependency=(
            LOST,
            "once started, a sidecar that turns unready only makes the "
            "pod unready: nothing stops the containers that require it.",
        ),
        restart_after=(
            LOST,
            "a sidecar the kubelet restarts restarts none of the containers "
            "after it, and a oneshot (an init container) never runs again in "
            "this pod.",
        ),
        ordered_shutdown=(
            KEPT,
            f"on deletion the main container ({main}) stops first, then "
            "the sidecars one at a time in reverse order"
            + (f" ({' -> '.join(reversed(sidecars))})" if sidecars else "")
            + ", each once the ones after it have exited.",
        ),
        critical_path=(
            APPROXIMATED,
            "the reverse of one topological order: a sidecar waits "
            "for every container after it, not only for its own dependents.",
        ),
        sigterm_sigkill=(
            APPROXIMATED,
            f"{_SIGNAL}; one grace period for the whole pod ({grace}): "
            "a container is SIGKILLed only once the pod's is spent, not after "
            "its own sigterm_timeout.",
        ),
        no_orphans=(
            KEPT,
            "every process of a container ends with it (the runtime kills its "
            "cgroup), and deleting the pod ends every container.",
        ),
        backoff=(
            APPROXIMATED,
            f"{_BACKOFF}, for every container; max_restarts is lost, and "
            "a oneshot that fails is retried without limit.",
        ),
    )
    return _report(system, "Kubernetes, one pod", how, notes)


def _report(system: ConfigFile, target: str, how: tuple[Kept, ...], notes: Notes) -> FidelityReport:
    order = [service.id for service in system.services]
    ordered = sorted(notes.notes, key=lambda note: order.index(note.service))
    return FidelityReport(target, Path(system.source).name, how, tuple(ordered))


def _edges(system: ConfigFile) -> list[tuple[str, str]]:
    """(dependent, requirement), a daemon's first: the report's example."""
    edges = [(service, id) for service in system.services for id in service.requires]
    edges.sort(key=lambda edge: edge[0].kind != "daemon")
    return [(service.id, id) for service, id in edges]


def _ids(system: ConfigFile, kind: str) -> list[str]:
    return [service.id for service in system.services if service.kind == kind]


def _waits(system: ConfigFile) -> str:
    return (
        "; ".join(
            f"{service.id} waits for {_join(list(service.requires))}"
            for service in system.services
            if service.requires and service.kind != "check"
        )
        or "only checks require other services, and nothing requires them"
    )


def _signals(system: ConfigFile) -> str:
    shells = [
        s.id for s in system.services if s.image is not None and isinstance(s.image.command, str)
    ]
    text = (
        f"{_SIGNAL} (run_as_init makes the pod's pause process PID 1 instead); it SIGKILLs "
        "the whole container after terminationGracePeriodSeconds (sigterm_timeout, rounded up)"
    )
    if shells:
        text += f"; {_join(shells)} run as sh -c, whose shell may not pass the signal on"
    return text + "."


def _join(ids: list[str]) -> str:
    return ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]
