"""Readiness in a container, as shell commands shared by the exporters: the
port probe, the URL probe (a status below 500), the script probe, and the
wrapper that makes `log_line` readiness a ready file. Each says what the
image needs for the fidelity report.

A `log_line` cannot be probed from outside the process: the wrapper runs the
command with its output through a FIFO, copies every line to its own output,
touches `READY_FILE` at the first line that matches, forwards the stop signals
to the command and exits with its status; the probe tests the file. The
pattern, a Python regular expression, becomes a POSIX extended one (`grep
-E`), or is refused with the construct that has no POSIX form.
"""

from __future__ import annotations

import importlib
import re
import shlex
import signal
from dataclasses import dataclass
from typing import Any

from coordinator import ConfigFile, ConfigProbe, ConfigService

from ._export_addresses import owner_of_port, reach_url
from ._export_model import ExportError

__all__ = [
    "READY_FILE",
    "ProbeCommand",
    "listening_probe",
    "log_line_wrapper",
    "posix_regex",
    "probe_command",
    "tcp_probe",
    "url_probe",
]

READY_FILE = "/tmp/healthdaemons.ready"
"""Touched by the `log_line` wrapper at the first matching line."""

# The signals the wrapper forwards to the command besides the stop signal.
_FORWARDED = ("HUP", "INT", "QUIT", "USR1", "USR2", "TERM")


@dataclass(frozen=True, slots=True)
class ProbeCommand:
    """A readiness probe run inside a container."""

    argv: tuple[str, ...]
    """What to run: `("sh", "-c", SCRIPT)` or the script's own argv."""
    needs: str
    """What the image must have, for the report (`"grep"`; `""`: nothing to say)."""

    @property
    def shell(self) -> str | None:
        """The script when `argv` is `sh -c SCRIPT` (compose's `CMD-SHELL`)."""
        if len(self.argv) == 3 and self.argv[:2] == ("sh", "-c"):
            return self.argv[2]
        return None


def probe_command(
    service: ConfigService, probe: ConfigProbe, system: ConfigFile | None = None
) -> ProbeCommand:
    """`probe` (a `port`, `url`, `script` or `log_line` readiness of `service`)
    as a command run in the service's own container. A check's `127.0.0.1`
    port or URL is pointed at the service of `system` that holds the port (by
    its id: a compose service, a Kubernetes Service). A `notify` readiness is
    an `ExportError`."""
    check = system if service.kind == "check" else None
    if probe.kind == "port":
        assert probe.port is not None
        if service.kind != "check":
            return listening_probe(probe.port)
        found = None if check is None else owner_of_port(check, probe.port)
        host, port = ("127.0.0.1", probe.port) if found is None else (found[0].id, found[1])
        return tcp_probe(host, port, probe.timeout)
    if probe.kind == "url":
        assert probe.url is not None
        reached = None if check is None else reach_url(check, probe.url)
        return url_probe(probe.url if reached is None else reached[0], probe.timeout)
    if probe.kind == "script":
        assert probe.script is not None
        if isinstance(probe.script, str):
            return ProbeCommand(("sh", "-c", probe.script), "")
        return ProbeCommand(probe.script, "")
    if probe.kind == "log_line":
        return ProbeCommand(("test", "-e", READY_FILE), "")
    raise ExportError(
        f"services.{service.id}.ready.notify: a container has no $NOTIFY_SOCKET to announce "
        f"readiness on: give [services.{service.id}.container.ready] a port, url or script "
        "that shows the service is ready in its container"
    )


def listening_probe(port: int) -> ProbeCommand:
    """A TCP socket of the container listens on `port`: read from the kernel's
    socket tables, so the image needs only `grep` (the local check also asks
    that the socket be the service's own: in its own container it is)."""
    # /proc/net/tcp{,6} rows: "sl local_address:PORT rem_address:0000 st"; 0A is LISTEN.
    pattern = f":{port:04X} [0-9A-F]+:0000 0A "
    script = f"grep -Eq '{pattern}' /proc/net/tcp /proc/net/tcp6 2>/dev/null"
    return ProbeCommand(("sh", "-c", script), "grep")


def tcp_probe(host: str, port: int, timeout: float) -> ProbeCommand:
    """A connection to `host:port` succeeds (a check's port, from its own container)."""
    seconds = _whole(timeout)
    h, p = shlex.quote(host), str(port)
    script = "\n".join(
        [
            f"nc -z -w {seconds} {h} {p} 2>/dev/null ||",
            f"  bash -c 'exec 3<>/dev/tcp/'{h}/{p} 2>/dev/null ||",
            "  python3 -c 'import socket, sys; socket.create_connection((sys.argv[1],"
            f" int(sys.argv[2])), {timeout:g})' {h} {p} 2>/dev/null",
        ]
    )
    return ProbeCommand(("sh", "-c", script), "nc, bash or python3")


def url_probe(url: str, timeout: float) -> ProbeCommand:
    """A GET of `url` answers with a status below 500, redirects not followed
    (a 3xx is an answer), as the local `url` check."""
    u, t = shlex.quote(url), f"{timeout:g}"
    python = (
        "import http.client as h, sys, urllib.parse as p; u = p.urlsplit(sys.argv[1]); "
        'c = (h.HTTPSConnection if u.scheme == "https" else h.HTTPConnection)'
        "(u.hostname, u.port, timeout=float(sys.argv[2])); "
        'c.request("GET", (u.path or "/") + ("?" + u.query if u.query else "")); '
        "print(c.getresponse().status)"
    )
    script = "\n".join(
        [
            "if command -v curl >/dev/null 2>&1; then",
            f"  s=$(curl -s -o /dev/null -w '%{{http_code}}' --noproxy '*' --max-time {t} {u})",
            "elif command -v wget >/dev/null 2>&1; then",
            f"  s=$(wget -S -q -O /dev/null -T {t} {u} 2>&1 |",
            "    sed -n 's/^ *HTTP\\/[0-9.]* \\([0-9][0-9]*\\).*/\\1/p' | head -n 1)",
            "else",
            f"  s=$(python3 -c {shlex.quote(python)} {u} {t} 2>/dev/null)",
            "fi",
            '[ "${s:-0}" -ge 100 ] && [ "$s" -lt 500 ]',
        ]
    )
    return ProbeCommand(("sh", "-c", script), "curl, wget or python3")


def log_line_wrapper(
    service: ConfigService, command: str | tuple[str, ...], *, ready_file: str = READY_FILE
) -> tuple[str, ...]:
    """`command` under the POSIX-sh wrapper that touches `ready_file` at the
    first line of its output (`ready.stream`) matching `ready.log_line`."""
    probe = service.ready
    assert probe is not None and probe.log_line is not None
    key = f"services.{service.id}.ready.log_line"
    pattern, ignore_case = posix_regex(probe.log_line, service.id)
    stop = _signal_name(service, key)
    traps = [
        f"trap 'forward {stop if name in ('TERM', stop) else name}' {name}"
        for name in dict.fromkeys((*_FORWARDED, stop))
    ]
    into_fifo = {"both": '>"$o" 2>&1', "stdout": '>"$o"', "stderr": '2>"$o"'}[probe.stream]
    copy_to = " >&2" if probe.stream == "stderr" else ""
    grep = "grep -Eiq" if ignore_case else "grep -Eq"
    script = "\n".join(
        [
            f"P={shlex.quote(pattern)}",
            f"r={shlex.quote(ready_file)} o=/tmp/healthdaemons.$$.fifo c= q=",
            # Until the command has replaced the forked shell (its cmdline differs from
            # ours) a signal to it would run our trap there, and be lost. (Our pid is
            # read, not `$$`: Kubernetes makes `$$` in args a `$`.)
            "{ read -r m _ </proc/self/stat; } 2>/dev/null",
            'started() { ! cmp -s "/proc/$c/cmdline" "/proc/$m/cmdline" 2>/dev/null; }',
            "forward() {",
            '  if [ -z "$c" ]; then q=$1; return; fi',
            "  until started; do sleep 0.01 2>/dev/null || sleep 1; done",
            '  kill -s "$1" "$c" 2>/dev/null',
            "}",
            # The traps come first: a stop signal before them would end the wrapper alone.
            *traps,
            'rm -f "$r" "$o" && mkfifo "$o" || exit 125',
            # An asynchronous command starts with SIGINT and SIGQUIT ignored; GNU env resets them.
            "if env --default-signal=INT,QUIT true 2>/dev/null; then",
            '  set -- env --default-signal=INT,QUIT "$@"',
            "fi",
            # The copy starts first: the command opens the FIFO before it runs, and that
            # waits for a reader (a forward meanwhile would wait for it for ever).
            '{ rm -f "$o"',
            '  while IFS= read -r l || [ -n "$l" ]; do',
            '    printf "%s\\n" "$l"',
            f'    if printf "%s\\n" "$l" | {grep} -e "$P"; then : >"$r"; exec cat; fi',
            "  done",
            f'}} <"$o"{copy_to} &',
            "w=$!",
            f'"$@" {into_fifo} &',
            'c=$!; if [ -n "$q" ]; then forward "$q"; fi',
            # `wait` returns early when a trapped signal comes: wait again while the command lives.
            'while :; do wait "$c"; s=$?; kill -0 "$c" 2>/dev/null || break; done',
            # The copy ends with the output; a process the command left behind may hold it
            # open: give the copy 5 s, then end it, so that the container stops.
            'i=0; while kill -0 "$w" 2>/dev/null && [ $i -lt 50 ]; do',
            "  sleep 0.1 2>/dev/null || sleep 1; i=$((i + 1))",
            'done; kill "$w" 2>/dev/null; wait "$w"; exit "$s"',
        ]
    )
    argv = ("sh", "-c", command) if isinstance(command, str) else command
    return ("sh", "-c", script, "healthdaemons-log-line", *argv)


def _signal_name(service: ConfigService, key: str) -> str:
    """The stop signal as `kill -s` and `trap` name it in any POSIX sh."""
    name = service.stop_signal.removeprefix("SIG")
    if not hasattr(signal, f"SIG{name}") or "RT" in name:
        raise ExportError(
            f"{key}: the wrapper that watches the output cannot forward {service.stop_signal} "
            "(a real-time signal's number depends on the image's C library): give "
            f"[services.{service.id}.container.ready] a port, url or script instead"
        )
    return name


def _whole(seconds: float) -> int:
    return max(1, int(-(-seconds // 1)))


# --- Python regular expressions as POSIX extended ones ----------------------

# The standard library's own parser of Python's syntax (private, stable since
# 3.11): a pattern is translated from the tree it gives, not re-parsed here.
_parser: Any = importlib.import_module("re._parser")
_ERE_SPECIAL = frozenset(".[\\()*+?{|^$")
_MAX_REPEAT_ERE = 255  # RE_DUP_MAX: the largest count POSIX requires of `{m,n}`
_ATOMS = frozenset({"LITERAL", "NOT_LITERAL", "ANY", "IN", "SUBPATTERN", "BRANCH"})
_CATEGORIES = {
    "CATEGORY_DIGIT": ("0-9", False),
    "CATEGORY_NOT_DIGIT": ("0-9", True),
    "CATEGORY_WORD": ("[:alnum:]_", False),
    "CATEGORY_NOT_WORD": ("[:alnum:]_", True),
    "CATEGORY_SPACE": ("[:space:]", False),
    "CATEGORY_NOT_SPACE": ("[:space:]", True),
}
_UNSUPPORTED = {
    "ASSERT": "a lookahead or lookbehind ((?=...), (?!...), (?<=...), (?<!...))",
    "ASSERT_NOT": "a lookahead or lookbehind ((?=...), (?!...), (?<=...), (?<!...))",
    "GROUPREF": "a backreference (\\1, (?P=name))",
    "GROUPREF_EXISTS": "a conditional group ((?(1)...|...))",
    "ATOMIC_GROUP": "an atomic group ((?>...))",
    "POSSESSIVE_REPEAT": "a possessive repeat (*+, ++, ?+)",
    "AT_BOUNDARY": "a word boundary (\\b)",
    "AT_NON_BOUNDARY": "a non-boundary (\\B)",
}


class _NoPosixForm(Exception):
    pass


def posix_regex(pattern: str, service: str) -> tuple[str, bool]:
    """`pattern` (Python, matched with `re.search` on each line) as a POSIX
    extended regular expression that matches the same lines, and whether to
    ignore case (a global `(?i)`); `ExportError` naming the service's
    `ready.log_line` and the construct when POSIX has no form for it. `\\d`,
    `\\w`, `\\s` become `[0-9]`, `[[:alnum:]_]`, `[[:space:]]`."""
    try:
        parsed = _parser.parse(pattern)
        return _sequence(parsed.data), bool(parsed.state.flags & re.IGNORECASE)
    except _NoPosixForm as problem:
        raise ExportError(
            f"services.{service}.ready.log_line: {pattern!r} has {problem}, which a POSIX "
            "extended regular expression (grep -E, in the container) cannot express: "
            f"rewrite the pattern without it, or give [services.{service}.container.ready] "
            "a port, url or script"
        ) from None


def _sequence(items: list[tuple[Any, Any]]) -> str:
    return "".join(_item(op, value) for op, value in items)


def _item(op: Any, value: Any) -> str:
    name = str(op)
    if name == "LITERAL":
        return _literal(value)
    if name == "NOT_LITERAL":
        return "[^" + _in_brackets([("LITERAL", value)]) + "]"
    if name == "ANY":
        return "."
    if name == "IN":
        return _bracket(value)
    if name in ("MAX_REPEAT", "MIN_REPEAT"):
        # Laziness changes what a match spans, never whether a line matches.
        low, high, body = value
        return _atom(body) + _quantifier(low, high)
    if name == "SUBPATTERN":
        _group, add_flags, del_flags, body = value
        if (add_flags | del_flags) & re.IGNORECASE:
            raise _NoPosixForm("a scoped flag ((?i:...))")
        return "(" + _sequence(body) + ")"
    if name == "BRANCH":
        return "(" + "|".join(_sequence(branch) for branch in value[1]) + ")"
    if name == "AT":
        where = str(value)
        if where in ("AT_BEGINNING", "AT_BEGINNING_STRING"):
            return "^"
        if where in ("AT_END", "AT_END_STRING"):
            return "$"
        raise _NoPosixForm(_UNSUPPORTED.get(where, where))
    raise _NoPosixForm(_UNSUPPORTED.get(name, name))


def _atom(body: list[tuple[Any, Any]]) -> str:
    text = _sequence(body)
    single = len(body) == 1 and str(body[0][0]) in _ATOMS
    return text if single else f"({text})"


def _quantifier(low: int, high: int) -> str:
    unbounded = high == _parser.MAXREPEAT
    if max(low, 0 if unbounded else high) > _MAX_REPEAT_ERE:
        raise _NoPosixForm(f"a repeat count above {_MAX_REPEAT_ERE}")
    if (low, unbounded) == (0, True):
        return "*"
    if (low, unbounded) == (1, True):
        return "+"
    if (low, high) == (0, 1):
        return "?"
    if unbounded:
        return f"{{{low},}}"
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


def _literal(code: int) -> str:
    character = chr(code)
    if character in "\n\r":
        raise _NoPosixForm("a line break (output is matched line by line)")
    return "\\" + character if character in _ERE_SPECIAL else character


def _bracket(items: list[tuple[Any, Any]]) -> str:
    negate = bool(items) and str(items[0][0]) == "NEGATE"
    rest = [(str(op), value) for op, value in items[1 if negate else 0 :]]
    if len(rest) == 1 and rest[0][0] == "CATEGORY":
        text, negated = _CATEGORIES.get(str(rest[0][1]), ("", False))
        if not text:
            raise _NoPosixForm(str(rest[0][1]))
        return "[" + ("^" if negated != negate else "") + text + "]"
    body = _in_brackets(rest)
    if not negate and body == "^":
        return "\\^"  # `[^]` would be a negation
    if not negate and body.startswith("^"):
        body = body[1:] + "^" if body != "^-" else "-^"
    return "[" + ("^" if negate else "") + body + "]"


def _in_brackets(items: list[tuple[str, Any]]) -> str:
    """A bracket expression's body: POSIX has no escapes there, so `]` goes
    first, then the rest, `[` (never before `:`, `.` or `=`), `^` and `-` last."""
    specials = dict.fromkeys("][^-", False)
    parts: list[str] = []
    for op, value in items:
        if op == "LITERAL":
            character = chr(value)
            if character in "\n\r":
                raise _NoPosixForm("a line break (output is matched line by line)")
            if character in specials:
                specials[character] = True
            else:
                parts.append(character)
        elif op == "RANGE":
            low, high = chr(value[0]), chr(value[1])
            if {low, high} & set("]-[^\\"):
                raise _NoPosixForm(f"a range {low}-{high} in a class")
            parts.append(f"{low}-{high}")
        elif op == "CATEGORY":
            text, negated = _CATEGORIES.get(str(value), ("", True))
            if negated:
                raise _NoPosixForm("a negated class inside a class (like [\\D])")
            parts.append(text)
        else:
            raise _NoPosixForm(f"{op} in a class")
    return "".join(
        [
            *("]" * specials["]"]),
            *parts,
            *("[" * specials["["]),
            *("^" * specials["^"]),
            *("-" * specials["-"]),
        ]
    )
