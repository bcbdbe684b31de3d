"""Supervise daemons, oneshots and health checks that depend on each other.

Build a system with `Daemons.of()` and `add_daemon` / `add_oneshot` /
`add_health_check` (each runs a `Command` or an in-process `ExecFn`; checks
and readiness announcements are in `coordinator.checks`), then run it with
`async with system.build() as running` (or `await system.run_until_success(timeout)`).
"""

from statemachines import EntryKind as EntryKind
from statemachines import LifecycleState as LifecycleState

from ._command import Command as Command
from ._command import LineCallback as LineCallback
from ._command_process import OUTPUT_LOGGER as OUTPUT_LOGGER
from ._command_process import SpawnError as SpawnError
from ._command_process import SpawnSettings as SpawnSettings
from ._config import describe_plan as describe_plan
from ._config import load_config as load_config
from ._config import start_layers as start_layers
from ._config_file import ConfigFile as ConfigFile
from ._config_file import ConfigProbe as ConfigProbe
from ._config_file import ConfigService as ConfigService
from ._config_file import ContainerImage as ContainerImage
from ._config_file import read_config as read_config
from ._daemons import Daemons as Daemons
from ._defaults import defaults_table as defaults_table
from ._entry_view import EntryView as EntryView
from ._events import ErrorReported as ErrorReported
from ._events import Event as Event
from ._events import HealthReported as HealthReported
from ._events import OutputRecorded as OutputRecorded
from ._events import ProcessExited as ProcessExited
from ._events import ProcessSignalled as ProcessSignalled
from ._events import ProcessSpawned as ProcessSpawned
from ._events import RunEnded as RunEnded
from ._events import SubContainerDestroyed as SubContainerDestroyed
from ._events import Transitioned as Transitioned
from ._events import describe_event as describe_event
from ._events import dump_events as dump_events
from ._events import event_from_json as event_from_json
from ._events import event_json as event_json
from ._events import load_events as load_events
from ._host import Host as Host
from ._host import MemoryHost as MemoryHost
from ._load_system import load_system as load_system
from ._log_file import LogDir as LogDir
from ._log_file import LogFile as LogFile
from ._options import DaemonOptions as DaemonOptions
from ._options import EntrySpec as EntrySpec
from ._options import ExecFn as ExecFn
from ._options import HealthCheckOptions as HealthCheckOptions
from ._options import OneshotOptions as OneshotOptions
from ._options import RestartPolicy as RestartPolicy
from ._orphans import reap_orphans as reap_orphans
from ._output_buffer import OutputFollower as OutputFollower
from ._output_buffer import OutputLine as OutputLine
from ._process_handle import ExitStatus as ExitStatus
from ._process_handle import ProcessHandle as ProcessHandle
from ._ready import CheckFn as CheckFn
from ._ready import Liveness as Liveness
from ._ready import Ready as Ready
from ._results import HealthCheckResult as HealthCheckResult
from ._results import HealthStatus as HealthStatus
from ._running import RunningDaemons as RunningDaemons
from ._running import SystemStatistics as SystemStatistics
from ._stop_signal import signal_name as signal_name
from ._subcontainer import SubContainer as SubContainer
from ._supervisor import SpawnFunction as SpawnFunction
from ._watch import WATCH_LOGGER as WATCH_LOGGER
from ._watch import Watch as Watch
from .triggers import Trigger as Trigger
from .triggers import default_trigger as default_trigger

__all__ = (
    "OUTPUT_LOGGER",
    "WATCH_LOGGER",
    "CheckFn",
    "Command",
    "ConfigFile",
    "ConfigProbe",
    "ConfigService",
    "ContainerImage",
    "DaemonOptions",
    "Daemons",
    "EntryKind",
    "EntrySpec",
    "EntryView",
    "ErrorReported",
    "Event",
    "ExecFn",
    "ExitStatus",
    "HealthCheckOptions",
    "HealthCheckResult",
    "HealthReported",
    "HealthStatus",
    "Host",
    "LifecycleState",
    "LineCallback",
    "Liveness",
    "LogDir",
    "LogFile",
    "MemoryHost",
    "OneshotOptions",
    "OutputFollower",
    "OutputLine",
    "OutputRecorded",
    "ProcessExited",
    "ProcessHandle",
    "ProcessSignalled",
    "ProcessSpawned",
    "Ready",
    "RestartPolicy",
    "RunEnded",
    "RunningDaemons",
    "SpawnError",
    "SpawnFunction",
    "SpawnSettings",
    "SubContainer",
    "SubContainerDestroyed",
    "SystemStatistics",
    "Transitioned",
    "Trigger",
    "Watch",
    "default_trigger",
    "defaults_table",
    "describe_event",
    "describe_plan",
    "dump_events",
    "event_from_json",
    "event_json",
    "load_config",
    "load_events",
    "load_system",
    "read_config",
    "reap_orphans",
    "signal_name",
    "start_layers",
)
