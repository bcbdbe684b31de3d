"""Which services of a config file run: the ids named, what they require,
their profiles and `disabled` (docs/config.md, "Running part of a file").

Docker compose's rules: a service without `profiles` is always enabled; one
with `profiles` only when one of them is active or when it is named; a
`disabled = true` service (process-compose's key) never runs. The named
services start with everything they require, which must be enabled;
without dependencies (`--no-deps`) only the named ones start, and their
requirements outside the selection are dropped, as compose starts a service
without its `depends_on` then.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from ._config_schema import Service
from ._config_table import Problem, Table, key_path
from ._options import requirement_closure
from ._validation import closest, did_you_mean

__all__ = ["read_selection_keys", "select_services"]

_PROFILE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
"""Compose's rule for a profile name."""


def read_selection_keys(service: Service, value: object) -> Service:
    """`service` with the `profiles` and `disabled` of its table `value`
    (which `read_service` has checked)."""
    assert isinstance(value, dict)
    table = Table(("services", service.id), value, service.id)
    disabled = table.boolean("disabled", False)
    return dataclasses.replace(service, profiles=_read_profiles(table), disabled=disabled)


def _read_profiles(table: Table) -> tuple[str, ...]:
    """`profiles = ["debug", ...]`: names as compose allows them, each once."""
    profiles = table.strings("profiles", "profile names")
    for index, name in enumerate(profiles):
        if not _PROFILE.fullmatch(name):
            raise table.problem(
                "profiles",
                f"invalid profile name {name!r}: use letters, digits, '_', '.' and '-', "
                "starting with a letter or digit",
                index,
            )
        if name in profiles[:index]:
            raise table.problem("profiles", f"{name!r} is listed twice", index)
    return tuple(profiles)


def select_services(
    services: Sequence[Service],
    names: Sequence[str],
    profiles: Sequence[str],
    dependencies: bool,
) -> list[Service]:
    """The services to run, in the order of `services` (a dependency order),
    each requiring only services that run. `Problem` for an unknown id or
    profile, a named service that is disabled, or a service to run that
    requires one that is not enabled."""
    by_id = {service.id: service for service in services}
    requires = {service.id: service.requires for service in services}  # looked up once
    _check_names(by_id, names)
    named = set(names)
    # As compose: naming a service enables its profiles, for what it requires too.
    active = _active_profiles(services, profiles).union(*(by_id[n].profiles for n in names))

    def enabled(service: Service) -> bool:
        if service.disabled:
            return False
        return not service.profiles or service.id in named or bool(active & set(service.profiles))

    start = list(names) if names else [s.id for s in services if enabled(s)]
    if dependencies:
        chosen = requirement_closure(start, requires.__getitem__)
        for service in services:
            if service.id in chosen:
                for required in requires[service.id]:
                    if not enabled(by_id[required]):
                        raise _not_enabled(service, by_id[required])
    else:
        chosen = dict.fromkeys(start)
    if not chosen:
        raise Problem(_nothing_enabled(profiles))
    return [
        _within(service, requires[service.id], chosen)
        for service in services
        if service.id in chosen
    ]


def _check_names(by_id: dict[str, Service], names: Sequence[str]) -> None:
    for name in names:
        service = by_id.get(name)
        if service is None:
            runnable = [id for id, s in by_id.items() if not s.disabled]
            raise Problem(f"unknown service {name!r}" + did_you_mean(closest(name, runnable)))
        if service.disabled:
            where = key_path("services", name, "disabled")
            raise Problem(f"{where}: {name!r} is disabled, so it cannot be started", name)


def _active_profiles(services: Sequence[Service], profiles: Sequence[str]) -> set[str]:
    known = list(dict.fromkeys(p for service in services for p in service.profiles))
    for profile in profiles:
        if profile not in known:
            hint = did_you_mean(closest(profile, known))
            if not known:
                hint = " (no service has profiles)"
            raise Problem(f"no service has the profile {profile!r}{hint}")
    return set(profiles)


def _not_enabled(service: Service, required: Service) -> Problem:
    where = key_path("services", service.id, "requires")
    if required.disabled:
        why = f"which is disabled ({key_path('services', required.id, 'disabled')})"
    else:
        given = ", ".join(f"--profile {p}" for p in required.profiles)
        if len(required.profiles) > 1:
            given = f"one of {given}"
        why = f"which is not enabled: give {given}, or name {required.id!r} too"
    return Problem(f"{where}: {service.id!r} requires {required.id!r}, {why}", service.id)


def _nothing_enabled(profiles: Sequence[str]) -> str:
    active = ", ".join(profiles) if profiles else "none"
    return f"no services to run: each is disabled or in a profile not active (active: {active})"


def _within(service: Service, requires: Sequence[str], chosen: dict[str, None]) -> Service:
    """`service`, requiring only the chosen services (the others are not run)."""
    kept = tuple(required for required in requires if required in chosen)
    if len(kept) == len(requires):
        return service
    options = dataclasses.replace(service.options, requires=kept)
    return dataclasses.replace(service, options=options)
