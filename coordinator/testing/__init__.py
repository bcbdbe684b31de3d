"""Verify a system: invariants, simulated runs under fault schedules, an
exhaustive explorer, Hypothesis strategies, and what the pytest fixture
`start_system` (`coordinator.pytest_plugin`) is made of.

`verify(system)` runs the real coordinator against simulated processes and
checks on trio's mock clock, so it starts nothing and takes no real time.
"""

from ._explore import ExplorationError as ExplorationError
from ._explore import ExplorationReport as ExplorationReport
from ._explore import explore as explore
from ._invariants import InvariantViolation as InvariantViolation
from ._invariants import check_invariants as check_invariants
from ._leftovers import LeftoverProcess as LeftoverProcess
from ._leftovers import kill_leftovers as kill_leftovers
from ._leftovers import leftover_processes as leftover_processes
from ._schedules import EntryFaults as EntryFaults
from ._schedules import Faults as Faults
from ._schedules import FaultSchedule as FaultSchedule
from ._schedules import ProcessRun as ProcessRun
from ._schedules import fault_schedules as fault_schedules
from ._schedules import systems as systems
from ._shutdown_bound import ShutdownBudgetExceeded as ShutdownBudgetExceeded
from ._shutdown_bound import shutdown_bound as shutdown_bound
from ._shutdown_check import StartSystem as StartSystem
from ._shutdown_check import UncleanShutdown as UncleanShutdown
from ._shutdown_check import check_clean_shutdown as check_clean_shutdown
from ._simulation import SimulatedRun as SimulatedRun
from ._simulation import simulate as simulate
from ._verify import VerificationError as VerificationError
from ._verify import VerificationReport as VerificationReport
from ._verify import verify as verify
from ._verify import worst_case_schedule as worst_case_schedule

__all__ = (
    "EntryFaults",
    "ExplorationError",
    "ExplorationReport",
    "FaultSchedule",
    "Faults",
    "InvariantViolation",
    "LeftoverProcess",
    "ProcessRun",
    "ShutdownBudgetExceeded",
    "SimulatedRun",
    "StartSystem",
    "UncleanShutdown",
    "VerificationError",
    "VerificationReport",
    "check_clean_shutdown",
    "check_invariants",
    "explore",
    "fault_schedules",
    "kill_leftovers",
    "leftover_processes",
    "shutdown_bound",
    "simulate",
    "systems",
    "verify",
    "worst_case_schedule",
)
