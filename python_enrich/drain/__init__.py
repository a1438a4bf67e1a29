"""The drain: resolve queued names through EQC (python -m python_enrich.drain --budget 5).

cli (the command line) -> run (the run, its workers and budget) -> lookup (one claimed name),
preflight (before anything is claimed), progress (the bar / log lines) -> options (what a run is
asked and reports); decisions holds the pure decisions. This module only re-exports, so callers
keep `from python_enrich.drain import Drain, DrainOptions` and `drain.main`.
"""

from python_enrich.drain.cli import build_parser, main
from python_enrich.drain.decisions import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_SETUP, EXIT_TOKEN
from python_enrich.drain.options import (
    CAPTURE_COMMAND,
    EXIT_CODES,
    MAX_CONCURRENCY,
    DrainOptions,
    DrainSetupError,
    DrainStats,
)
from python_enrich.drain.run import Drain

__all__ = [
    "CAPTURE_COMMAND",
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SETUP",
    "EXIT_TOKEN",
    "MAX_CONCURRENCY",
    "Drain",
    "DrainOptions",
    "DrainSetupError",
    "DrainStats",
    "build_parser",
    "main",
]
