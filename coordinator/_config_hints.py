"""Keys of docker compose and process-compose service tables, and what a
config file says instead: the hint that follows `unknown key` when a service
table uses one of them (docs/config.md has the same mapping as a table).

A key that this format also has (`command`, `user`, `env_file`, `restart`,
...) is never looked up here: only unknown keys get a hint.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["SERVICE_KEY_HINTS", "TOP_KEY_HINTS"]

_CONTAINERS = (
    "put it in a [services.ID.container] table (used by healthdaemons export; "
    "a local run runs the program itself)"
)
_READY = (
    "did you mean 'ready'? (a [services.ID.ready] table with one of port, url, script, "
    "log_line or notify)"
)

SERVICE_KEY_HINTS: Mapping[str, str] = {
    # docker compose
    "depends_on": (
        "did you mean 'requires'? (a list of ids; each must be ready before this "
        "service starts: compose's conditions are implied)"
    ),
    "environment": "did you mean 'env'? (a table: env = { NAME = \"value\" })",
    "working_dir": "did you mean 'cwd'?",
    "healthcheck": _READY,
    "entrypoint": "did you mean 'command'? (the whole argv: the entrypoint and its arguments)",
    "stop_grace_period": "did you mean 'sigterm_timeout'? (seconds, a number)",
    "container_name": "the service's name is its table's: [services.NAME]",
    "deploy": "no replicas: declare each instance as a service",
    "scale": "no replicas: declare each instance as a service",
    "image": _CONTAINERS,
    "build": "not supported: build the image first, then name it in "
    "[services.ID.container] image = ...",
    "ports": _CONTAINERS,
    "volumes": _CONTAINERS,
    "networks": "not supported: services meet on this machine's addresses",
    # process-compose
    "readiness_probe": _READY,
    "liveness_probe": "did you mean 'liveness'?",
    "shutdown": "did you mean 'stop_signal'? (and 'sigterm_timeout' for its timeout_seconds)",
    "log_location": "did you mean 'log_file'?",
    "availability": "did you mean 'restart'? (and 'max_restarts' for its max_restarts)",
    "replicas": "no replicas: declare each instance as a service",
}

TOP_KEY_HINTS: Mapping[str, str] = {
    "processes": "did you mean 'services'? (one [services.ID] table per process)",
    "version": "not needed: this format has no versions",
    "environment": "no global environment: give each service its env or env_file",
}
