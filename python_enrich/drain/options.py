"""What a drain run is asked (DrainOptions) and what it reports (DrainStats, exit codes, setup errors)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from python_enrich.drain.decisions import (
    EXIT_SETUP,
)

CAPTURE_COMMAND = "python -m python_enrich.auth --capture --save"
EXIT_CODES = """exit codes:
  0    the run finished (names found, not found, kept for review or given back for a later retry)
  1    the run failed: lookups were attempted and none succeeded because of errors, or a worker failed
  2    bad arguments or settings (WDH_EQC_BASE_URL), no token, no state tables, the database or
       the registry unreachable, or not enough database connections for --concurrency
  3    the EQC token is invalid or expired: capture a new one
  130  interrupted (Ctrl-C): unfinished claims were handed back"""
MAX_CONCURRENCY = 64


class DrainSetupError(RuntimeError):
    def __init__(self, message: str, exit_code: int = EXIT_SETUP) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class DrainOptions:
    budget: int
    concurrency: int = 4
    rate_limit: tuple[int, float] = (10, 60.0)
    details: bool = False
    dry_run: bool = False
    lease_s: float = 300.0
    timeout_s: float = 5.0
    retries: int = 2
    max_attempts: int = 5
    retry_delay_s: float = 60.0  # a request given back waits this, doubling per attempt (max 1 h)
    not_found_retry_days: float = 30.0
    former_name_checks: int = 3  # business-info calls per name to learn candidates' former names
    base_url: str = ""
    progress: str = "auto"  # auto (bar on a terminal, log lines otherwise), bar, log, none


@dataclass
class DrainStats:
    lookups: int = 0
    calls: int = 0
    found: int = 0
    not_found: int = 0
    needs_review: int = 0
    retried_later: int = 0
    failed: int = 0
    released: int = 0
    transient_errors: int = 0
    rechecked: int = 0  # unverified cache entries looked up again, after the waiting names
    recheck_confirmed: int = 0
    recheck_contradicted: int = 0
    recheck_replaced: int = 0  # contradicted, and the company the answer names cached instead
    recheck_unsettled: int = 0
    stopped_because: str | None = None
    wall_s: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}
