"""process-compose's probes as readiness and liveness checks here: `exec`
as a script, `http_get` as a URL, `ready_log_line` as a log line; without
any, ready once started."""

from __future__ import annotations

import re

from ._import_model import Notes, Place
from ._import_ready import STARTED, STARTED_HOW, script_hint
from ._toml_writer import Value

__all__ = ["probe", "readiness"]

_SPECIAL = re.compile(r"[.^$*+?{}\[\]\\|()]")
# In a line read with variables: `$$` (a literal `$`), a variable, or one character.
_TOKEN = re.compile(r"\$\$|\$\{[^}]*\}|\$[A-Za-z_]\w*|.", re.S)


def readiness(
    place: Place, name: str, table: dict[str, object], notes: Notes, *, literal: bool = False
) -> dict[str, Value]:
    """`literal`: the file's `$` are not variables (`disable_env_expansion`)."""
    if table.get("readiness_probe") is not None:
        return probe(place, name, table["readiness_probe"], "readiness_probe", notes)
    line = table.get("ready_log_line")
    if line is not None:
        # process-compose looks for the text in a line, not a pattern.
        return {"log_line": _pattern(place.string(line, "ready_log_line"), literal=literal)}
    notes.approximated(name, "readiness_probe", f"none: {STARTED_HOW}")
    return dict(STARTED)


def probe(place: Place, name: str, value: object, key: str, notes: Notes) -> dict[str, Value]:
    given = place.table(value, key)
    liveness = key == "liveness_probe"
    out: dict[str, Value] = {}
    if given.get("exec") is not None:
        action = place.table(given["exec"], f"{key}.exec")
        script = place.command(
            place.string(action.get("command"), f"{key}.exec.command"), f"{key}.exec.command"
        )
        assert isinstance(script, str)
        out["script"] = script
        if action.get("working_dir") is not None:
            notes.lost(name, f"{key}.exec.working_dir", "a script runs in its service's cwd")
        hint = script_hint(script)
        if hint:
            notes.kept(name, f"{key}.exec", f"as a script; {hint.replace('ready.', '')}")
    elif given.get("http_get") is not None:
        out["url"] = _url(place, given["http_get"], f"{key}.http_get", notes, name)
    else:
        raise place.problem(key, "give exec or http_get")
    # process-compose reads a number below 1 as its default, as this format does a missing one.
    for source, target in (("period_seconds", "interval"), ("timeout_seconds", "timeout")):
        seconds = place.count(given.get(source, 0), f"{key}.{source}")
        if seconds is not None:
            out[target] = seconds
    delay = place.count(given.get("initial_delay_seconds", 0), f"{key}.initial_delay_seconds")
    if delay and not liveness:
        out["grace_period"] = delay
        notes.approximated(
            name,
            f"{key}.initial_delay_seconds",
            "as grace_period: checks start at once, failures that soon count as starting",
        )
    elif delay:
        notes.approximated(
            name, f"{key}.initial_delay_seconds", "liveness checks start once it is first ready"
        )
    failures = place.count(given.get("failure_threshold", 0), f"{key}.failure_threshold")
    if failures is not None and liveness:
        out["failures"] = int(failures)
    elif failures is not None:
        notes.approximated(
            name, f"{key}.failure_threshold", "once ready, one failed check marks it not ready"
        )
    if given.get("success_threshold") not in (None, 1):
        notes.lost(name, f"{key}.success_threshold", "one passing check is enough here")
    return out


def _url(place: Place, value: object, key: str, notes: Notes, name: str) -> str:
    get = place.table(value, key)
    scheme = place.string(get.get("scheme") or "http", f"{key}.scheme")
    host = place.string(get.get("host") or "127.0.0.1", f"{key}.host")
    path = place.string(get.get("path") or "/", f"{key}.path")
    # process-compose fills in a port's variables, then reads a port that is
    # no number from 1 to 65535 as none; a variable is filled in here later.
    port = place.string(get.get("port", ""), f"{key}.port").strip()
    number = int(port) if port.isdigit() else 0
    if "$" in port:
        address = f"{host}:{port}"
    else:
        address = f"{host}:{number}" if 1 <= number <= 65535 else host
    if get.get("headers"):
        notes.lost(name, f"{key}.headers", "a url check sends no headers")
    # process-compose wants 200 unless told a status from 1 to 400.
    status = get.get("status_code")
    wanted = status if isinstance(status, int) and 1 <= status <= 400 else 200
    notes.approximated(name, key, f"ready on any status below 500 (process-compose wants {wanted})")
    return f"{scheme}://{address}{path if path.startswith('/') else '/' + path}"


def _pattern(text: str, *, literal: bool) -> str:
    """A regular expression that finds `text` in a line (process-compose looks
    for the text itself). Its variables stay variables, read when the config
    file is; a literal `$` is `\\$` to the expression, and `$$` to the file
    (when `literal`, every `$` is doubled later, with the file's others)."""
    if literal:
        return _SPECIAL.sub(r"\\\g<0>", text)
    parts = []
    for token in _TOKEN.findall(text):
        if token == "$$" or token == "$":
            parts.append("\\$$")
        elif token.startswith("$"):
            parts.append(token)
        else:
            parts.append(_SPECIAL.sub(r"\\\g<0>", token))
    return "".join(parts)
