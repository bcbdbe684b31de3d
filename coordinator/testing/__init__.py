"""Verify a system: invariants, simulated runs under fault schedules, an
exhaustive explorer, Hypothesis strategies, and a pytest fixture.

`verify(system)` runs the real coordinator against simulated processes and
checks on trio's mock clock, so it starts nothing and takes no real time.
"""

from ._explore import ExplorationError as ExplorationError
from ._explore import ExplorationReport as ExplorationReport
from ._explore import explore as explore
from ._invariants import InvariantViolation as InvariantViolation
from ._invariants import check_invariants as check_invariants
from ._schedules import EntryFaults as EntryFaults
from ._schedules import Faults as Faults
from ._schedules import FaultSchedule as FaultSchedule
from ._schedules import ProcessRun as ProcessRun
from ._schedules import fault_schedules as fault_schedules
from ._schedules import systems as systems
from ._simulation import ShutdownBudgetExceeded as ShutdownBudgetExceeded
from ._simulation import SimulatedRun as SimulatedRun
from ._simulation import shutdown_bound as shutdown_bound
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
    "ProcessRun",
    "ShutdownBudgetExceeded",
    "SimulatedRun",
    "VerificationError",
    "VerificationReport",
    "check_invariants",
    "explore",
    "fault_schedules",
    "shutdown_bound",
    "simulate",
    "systems",
    "verify",
    "worst_case_schedule",
)
