"""Every default value of the library, set once, each with what it means.

The options (`Ready`, `Command`, `ExecFn`, the checks, the triggers, config
files) take their defaults from here; docs/config.md and docs/checks.md show
`defaults_table()`, and `healthdaemons defaults` prints it. The values are
those of docs/spec.md section 9, plus the bounds the supervisor keeps itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CHECK_TIMEOUT",
    "DEFAULTS",
    "EXPLORE_MAX_DEPTH",
    "EXPLORE_MAX_STATES",
    "EXPLORE_OPERATOR_ACTIONS",
    "FAULT_HORIZON",
    "FIRST_RETRY",
    "GRACE_PERIOD",
    "HISTORY_LIMIT",
    "KILL_WAIT",
    "LEFTOVER_WAIT",
    "LIVENESS_FAILURES",
    "LIVENESS_INTERVAL",
    "LIVENESS_TIMEOUT",
    "OUTPUT_BYTES",
    "OUTPUT_LINES",
    "OUTPUT_TAIL_TIMEOUT",
    "READY_TIMEOUT",
    "READY_TIMEOUT_MARGIN",
    "RESTART_DELAY_CAP",
    "RESTART_RESET_AFTER",
    "RETRY_FRACTION",
    "SCRIPT_TIMEOUT",
    "SIGTERM_TIMEOUT",
    "SLOWEST_RETRY",
    "SUBCONTAINER_DESTROY_TIMEOUT",
    "SUCCESS_INTERVAL",
    "VERIFY_EXAMPLES",
    "WATCH_DEBOUNCE",
    "Default",
    "defaults_table",
]

GRACE_PERIOD = 5.0
SIGTERM_TIMEOUT = 30.0
CHECK_TIMEOUT = 1.0
LIVENESS_INTERVAL = 10.0
LIVENESS_TIMEOUT = 5.0
LIVENESS_FAILURES = 3
SCRIPT_TIMEOUT = 30.0
READY_TIMEOUT = 60.0
READY_TIMEOUT_MARGIN = 5.0
FIRST_RETRY = 0.005
RETRY_FRACTION = 0.25
SLOWEST_RETRY = 1.0
SUCCESS_INTERVAL = 30.0
RESTART_DELAY_CAP = 30.0
RESTART_RESET_AFTER = 60.0
HISTORY_LIMIT = 10_000
OUTPUT_LINES = 1_000
OUTPUT_BYTES = 1024 * 1024
KILL_WAIT = 10.0
OUTPUT_TAIL_TIMEOUT = 1.0
SUBCONTAINER_DESTROY_TIMEOUT = 30.0
LEFTOVER_WAIT = 2.0
VERIFY_EXAMPLES = 100
FAULT_HORIZON = 60.0
EXPLORE_MAX_STATES = 20_000
EXPLORE_MAX_DEPTH = 80
EXPLORE_OPERATOR_ACTIONS = 1
WATCH_DEBOUNCE = 0.5

Topic = Literal["entries", "checks", "system", "verification"]


@dataclass(frozen=True, slots=True)
class Default:
    """One default: its constant here, where users set it, its value, and what it means."""

    constant: str
    setting: str
    value: float
    meaning: str
    topic: Topic
    unit: str = "s"

    @property
    def shown(self) -> str:
        if self.unit == "s":
            return f"{self.value:g} s"
        return f"{self.value:,} {self.unit}"


DEFAULTS: tuple[Default, ...] = (
    Default(
        "GRACE_PERIOD",
        "`Ready.grace_period`, `ready.grace_period`",
        GRACE_PERIOD,
        "a failed check this soon after a launch is reported as `starting`",
        "entries",
    ),
    Default(
        "SIGTERM_TIMEOUT",
        "`sigterm_timeout` (`Command`, `ExecFn`, a service)",
        SIGTERM_TIMEOUT,
        "from SIGTERM (or the cancellation of an `ExecFn`) to SIGKILL",
        "entries",
    ),
    Default(
        "RESTART_DELAY_CAP",
        "restart delay cap",
        RESTART_DELAY_CAP,
        "restarts wait 0, 1, 2, 4 ... seconds, at most this long",
        "entries",
    ),
    Default(
        "RESTART_RESET_AFTER",
        "restart reset",
        RESTART_RESET_AFTER,
        "a process up this long restarts at once, its restart count starting over",
        "entries",
    ),
    Default(
        "WATCH_DEBOUNCE",
        "`Watch.debounce`",
        WATCH_DEBOUNCE,
        "a watched entry restarts once its files have not changed for this long",
        "entries",
    ),
    Default(
        "CHECK_TIMEOUT",
        "`timeout` of `check_port_listening`, `check_web_url`",
        CHECK_TIMEOUT,
        "how long one check may take (`ready.timeout` for `port` and `url`)",
        "checks",
    ),
    Default(
        "LIVENESS_INTERVAL",
        "`Liveness.interval`, `liveness.interval`",
        LIVENESS_INTERVAL,
        "from a daemon's first ready on, its liveness check runs this often",
        "checks",
    ),
    Default(
        "LIVENESS_TIMEOUT",
        "`Liveness.timeout`, `liveness.timeout`",
        LIVENESS_TIMEOUT,
        "how long one liveness check may take",
        "checks",
    ),
    Default(
        "LIVENESS_FAILURES",
        "`Liveness.failures`, `liveness.failures`",
        LIVENESS_FAILURES,
        "liveness failures in a row that restart the daemon",
        "checks",
        unit="in a row",
    ),
    Default(
        "SCRIPT_TIMEOUT",
        "`timeout` of `run_health_script`",
        SCRIPT_TIMEOUT,
        "how long the script may run (`ready.timeout` for `script`)",
        "checks",
    ),
    Default(
        "READY_TIMEOUT",
        "`Ready.timeout`",
        READY_TIMEOUT,
        "how long one call of a check may take, above the built-in checks' own timeouts",
        "checks",
    ),
    Default(
        "READY_TIMEOUT_MARGIN",
        "`Ready.timeout` margin of a config file",
        READY_TIMEOUT_MARGIN,
        "a service's `Ready.timeout` is its `ready.timeout` plus this (at least 60 s)",
        "checks",
    ),
    Default(
        "FIRST_RETRY",
        "`default_trigger`: first retry (`FIRST_RETRY`)",
        FIRST_RETRY,
        "until a first success, the shortest wait between two checks",
        "checks",
    ),
    Default(
        "RETRY_FRACTION",
        "`default_trigger`: retry fraction (`RETRY_FRACTION`)",
        RETRY_FRACTION,
        "until a first success, the wait before the next check (and at least as long as"
        " the last check took)",
        "checks",
        unit="of the time since the launch",
    ),
    Default(
        "SLOWEST_RETRY",
        "`default_trigger`: slowest retry (`SLOWEST_RETRY`)",
        SLOWEST_RETRY,
        "the longest of those waits, and the interval while failing after a success",
        "checks",
    ),
    Default(
        "SUCCESS_INTERVAL",
        "`default_trigger`: success interval (`SUCCESS_INTERVAL`)",
        SUCCESS_INTERVAL,
        "the interval while the last check succeeded",
        "checks",
    ),
    Default(
        "HISTORY_LIMIT",
        "`build(history_limit=)`, `MemoryHost(history_limit=)`",
        HISTORY_LIMIT,
        "how many of the latest events are kept in memory",
        "system",
        unit="events",
    ),
    Default(
        "OUTPUT_LINES",
        "`build(output_lines=)`",
        OUTPUT_LINES,
        "how many of an entry's latest output lines are kept in memory",
        "system",
        unit="lines",
    ),
    Default(
        "OUTPUT_BYTES",
        "`build(output_bytes=)`",
        OUTPUT_BYTES,
        "how many bytes of an entry's latest output lines are kept in memory (1 MiB)",
        "system",
        unit="bytes",
    ),
    Default(
        "KILL_WAIT",
        "kill wait",
        KILL_WAIT,
        "how long a SIGKILLed process group may take to go before it is given up on",
        "system",
    ),
    Default(
        "OUTPUT_TAIL_TIMEOUT",
        "output tail",
        OUTPUT_TAIL_TIMEOUT,
        "how long the last output of a group that is gone is still read",
        "system",
    ),
    Default(
        "SUBCONTAINER_DESTROY_TIMEOUT",
        "`SubContainer.destroy_timeout`",
        SUBCONTAINER_DESTROY_TIMEOUT,
        "how long `destroy` may take before the system gives up on it",
        "system",
    ),
    Default(
        "LEFTOVER_WAIT",
        "`check_clean_shutdown(wait=)`",
        LEFTOVER_WAIT,
        "how long a stopped system's processes may take to go before they are leftovers",
        "system",
    ),
    Default(
        "VERIFY_EXAMPLES",
        "`verify(max_examples=)`, `healthdaemons verify --examples`",
        VERIFY_EXAMPLES,
        "how many random fault schedules `verify` tries, after the worst case",
        "verification",
        unit="schedules",
    ),
    Default(
        "FAULT_HORIZON",
        "`horizon` of `verify`, `simulate`, `fault_schedules`",
        FAULT_HORIZON,
        "how far into a simulated run faults and `term()` are placed",
        "verification",
    ),
    Default(
        "EXPLORE_MAX_STATES",
        "`explore(max_states=)`, `healthdaemons explore --max-states`",
        EXPLORE_MAX_STATES,
        "how many states `explore` visits before it stops",
        "verification",
        unit="states",
    ),
    Default(
        "EXPLORE_MAX_DEPTH",
        "`explore(max_depth=)`",
        EXPLORE_MAX_DEPTH,
        "how many choices deep `explore` follows a path",
        "verification",
        unit="choices",
    ),
    Default(
        "EXPLORE_OPERATOR_ACTIONS",
        "`explore(operator_actions=)`, `healthdaemons explore --operator-actions`",
        EXPLORE_OPERATOR_ACTIONS,
        "how many operator actions (stop, start, restart) `explore` takes along one path",
        "verification",
        unit="per path",
    ),
)


def defaults_table(*topics: Topic) -> str:
    """The defaults of `topics` (all without any) as a Markdown table, without
    a final newline: what `healthdaemons defaults` prints and the docs show."""
    rows = [d for d in DEFAULTS if not topics or d.topic in topics]
    lines = ["| default | value | meaning |", "|---|---|---|"]
    lines += [f"| {d.setting} | {d.shown} | {d.meaning} |" for d in rows]
    return "\n".join(lines)
