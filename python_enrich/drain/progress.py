"""The drain's progress on stderr: a bar on a terminal, a log line every 10 s otherwise."""

from __future__ import annotations

import logging
import sys
import threading
import time

from python_enrich.drain.options import DrainOptions, DrainStats

log = logging.getLogger(__name__)


class ProgressReporter:
    """A progress bar on a terminal; a plain log line every 10 s otherwise."""

    def __init__(self, stats: DrainStats, options: DrainOptions, started: float, total: int) -> None:
        self.stats = stats
        self.options = options
        self.started = started
        self.total = max(total, 1)
        mode = options.progress
        self.mode = ("bar" if sys.stderr.isatty() else "log") if mode == "auto" else mode
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.done = threading.Event()

    def start(self) -> None:
        if self.mode != "none":
            self.thread.start()

    def line(self) -> str:
        stats, options = self.stats, self.options
        elapsed = max(time.monotonic() - self.started, 1e-6)
        finished = stats.found + stats.not_found + stats.needs_review + stats.retried_later + stats.failed
        finished += stats.rechecked  # re-checks of unverified cache entries, after the names
        rate = stats.calls / elapsed * 60
        limit_per_min = options.rate_limit[0] / options.rate_limit[1] * 60
        remaining = max(self.total - finished, 0)
        pace = min(limit_per_min, rate) if rate > 0 else limit_per_min  # the rate limit bounds the ETA
        eta = remaining / pace * 60 if pace > 0 else 0
        return (
            f"{finished}/{self.total} names, {rate:.0f} calls/min (limit {limit_per_min:.0f}), ETA {eta:.0f} s; "
            f"found {stats.found}, not found {stats.not_found}, review {stats.needs_review}, "
            f"errors {stats.retried_later + stats.failed}"
        )

    def _run(self) -> None:
        interval = 0.5 if self.mode == "bar" else 10.0
        while not self.done.wait(interval):
            if self.mode == "bar":
                finished = min(self.stats.lookups, self.total)
                filled = int(30 * finished / self.total)
                bar = f"[{'#' * filled}{'.' * (30 - filled)}]"
                # \r rewrites the line in place; ESC[K clears what a longer earlier line left behind.
                print(f"\r{bar} {self.line()}\033[K", end="", file=sys.stderr, flush=True)
            else:
                log.info("progress: %s", self.line())

    def finish(self) -> None:
        self.done.set()
        if self.thread.is_alive():
            self.thread.join()
            if self.mode == "bar":
                print(file=sys.stderr)
