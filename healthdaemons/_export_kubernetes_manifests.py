"""What both Kubernetes modes share: names and labels, the namespace, and the
text of a file (the generated-by line, the report, then YAML documents)."""

from __future__ import annotations

from typing import Any

import yaml

from coordinator import ConfigFile

from ._export_kubernetes_container import kubernetes_name, system_name
from ._export_model import ExportError, generated_head
from ._fidelity import FidelityReport

__all__ = [
    "check_names",
    "file_text",
    "labels",
    "literal_pod",
    "metadata",
    "selector",
    "system_name",
]

Manifest = dict[str, Any]

_LONGEST_ID = 47
"""So that `wait-ID-created`, the longest name made from an id, fits in 63."""
_LONGEST_ID_IN_POD = 63
"""In one pod an id names only its container."""


def check_names(system: ConfigFile, namespace: str | None, *, single_pod: bool) -> None:
    """Every id must make Kubernetes names: a Service's name starts with a letter
    (DNS-1035), and containers are named `wait-ID-created` (in one pod: `ID`);
    a namespace is a DNS-1123 label."""
    longest = _LONGEST_ID_IN_POD if single_pod else _LONGEST_ID
    if namespace is not None and kubernetes_name(namespace) != namespace:
        raise ExportError(
            f"--namespace {namespace!r}: not a Kubernetes namespace: lowercase letters, "
            "digits and dashes, at most 63 characters, a letter or digit at each end"
        )
    for service in system.services:
        if single_pod and len(service.id) > longest:
            raise ExportError(
                f"services.{service.id}: not a Kubernetes name: a container's name has at "
                f"most {longest} characters"
            )
        if not single_pod and (not service.id[0].isalpha() or len(service.id) > longest):
            raise ExportError(
                f"services.{service.id}: not a Kubernetes name: it must start with a "
                f"letter and have at most {longest} characters (Service names are "
                "DNS-1035 labels, and init containers are named wait-ID-created)"
            )


_PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def literal_pod(spec: Manifest) -> Manifest:
    """`spec` with every `$` of its containers' commands, env values and exec
    probes doubled: Kubernetes reads `$(VAR)` there as a variable of the
    container's env and `$$` as `$`; `$$` is the one way to write a `$` that
    stays as written (a shell's `$$`, `$(command)`, a password)."""
    for group in ("initContainers", "containers"):
        if group in spec:
            spec[group] = [_literal_container(container) for container in spec[group]]
    return spec


def _literal_container(container: Manifest) -> Manifest:
    """A copy: two probes of a container may share one action."""
    copy = dict(container)
    for key in ("command", "args"):
        if key in copy:
            copy[key] = [_literal(text) for text in copy[key]]
    if "env" in copy:
        copy["env"] = [
            {**variable, "value": _literal(variable["value"])} if "value" in variable else variable
            for variable in copy["env"]
        ]
    for probe in _PROBES:
        if "exec" in copy.get(probe, {}):
            command = [_literal(text) for text in copy[probe]["exec"]["command"]]
            copy[probe] = {**copy[probe], "exec": {"command": command}}
    return copy


def _literal(text: str) -> str:
    return text.replace("$", "$$")


def labels(system: ConfigFile, id: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": id,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": system_name(system),
        "app.kubernetes.io/managed-by": "healthdaemons",
    }


def selector(system: ConfigFile, id: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": id, "app.kubernetes.io/part-of": system_name(system)}


def metadata(name: str, namespace: str | None, labels: dict[str, str] | None = None) -> Manifest:
    meta: Manifest = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels is not None:
        meta["labels"] = labels
    return meta


def service_manifest(
    system: ConfigFile,
    name: str,
    namespace: str | None,
    component: str,
    ports: list[tuple[int, str]],
) -> Manifest:
    """The Service in front of the pods labelled `name`, one port per (port, protocol)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, namespace, labels(system, name, component)),
        "spec": {
            "selector": selector(system, name),
            "ports": [
                {
                    "name": f"{protocol.lower()}-{port}",
                    "port": port,
                    "targetPort": port,
                    "protocol": protocol,
                }
                for port, protocol in ports
            ],
        },
    }


def file_text(system: ConfigFile, report: FidelityReport, documents: list[Manifest]) -> str:
    body = "---\n".join(
        yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
        for document in documents
    )
    return generated_head(system, report) + body


class _Dumper(yaml.SafeDumper):
    """The safe dumper, with a multi-line string (a wrapper script) as a `|` block,
    and no anchors: a probe's action shared by two probes is written twice."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _string(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text and not text.startswith((" ", "\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _string)
