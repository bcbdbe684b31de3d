"""Ready-made health checks, and readiness that a process announces itself.

Polled checks (for `Ready.fn`, each bounded by its own timeout):
`check_port_listening`, `check_web_url`, `run_health_script`.

Announced readiness (also for `Ready.fn`; no polling): `log_line(pattern)`
and `sd_notify()`.
"""

from __future__ import annotations

from ._announced import LogLineReadiness as LogLineReadiness
from ._announced import NotifyReadiness as NotifyReadiness
from ._announced import log_line as log_line
from ._announced import sd_notify as sd_notify

__all__ = [
    "LogLineReadiness",
    "NotifyReadiness",
    "log_line",
    "sd_notify",
]
