"""The run: its run-log row, the budget, the workers that claim and look up, and closing the run log.

Claims the highest-priority due requests, looks each name up (one search call; --details adds
business info and labels), and accepts a candidate only with evidence that it is the company
named (python_enrich.eqc.matching): the entry goes into the cache with its evidence; a name
without such a candidate waits for review (needs_review) or is not found, and resolves nothing.
The rate limit is shared through PostgreSQL by every drain on the same database; C concurrent requests
overlap the registry's latency so that the limit, not latency, sets the pace.  A killed drain
leaves leases that the next one reclaims; an expired token stops every worker and hands the
unfinished claims back.

Whatever one lookup raises (a malformed answer, a redirect, a database error) is caught at that
lookup: the request goes back to the queue with its reason, or fails at --max-attempts; the claim is
always given back and the other lookups go on."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import asdict
from typing import Any

import psycopg2

from python_enrich import db
from python_enrich.cache_recheck import RecheckQueue
from python_enrich.drain import preflight
from python_enrich.drain.decisions import (
    all_lookups_failed,
    run_status,
)
from python_enrich.drain.lookup import Lookup
from python_enrich.drain.options import DrainOptions, DrainStats
from python_enrich.drain.progress import ProgressReporter
from python_enrich.eqc.client import (
    EQCClient,
)
from python_enrich.errors import first_line
from python_enrich.request_queue import SCHEMA, RequestQueue, SharedRateLimit
from python_enrich.safe_output import for_terminal

log = logging.getLogger(__name__)


class Drain:
    def __init__(self, options: DrainOptions, token: str | None) -> None:
        self.options = options
        self.token = token
        self.stats = DrainStats()
        self.stop = threading.Event()
        self.owner = f"drain-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.run_id: int | None = None
        self.started = time.monotonic()
        # Budget: lookups spent, and shares held by workers still claiming (spent or handed back).
        self._budget = threading.Condition()
        self._budget_spent = 0
        self._budget_held = 0
        self.queue_total = 0
        self.rechecks_due = 0  # unverified cache entries, re-checked after the waiting names
        self.lookup = Lookup(options, self.stats, self.stop)

    # -- the run -----------------------------------------------------------------------------
    def _take_budget(self) -> bool:
        """Hold a share of the budget for one claim.  While other workers hold shares they may hand
        back (nothing was due for them), wait for them rather than stop: a worker slow to find
        nothing must not end the run while a name given back is due again."""
        with self._budget:
            while self._budget_spent + self._budget_held >= self.options.budget:
                if self._budget_held == 0 or self.stop.is_set():
                    return False
                self._budget.wait(0.5)
            self._budget_held += 1
            return True

    def _settle_budget(self, spent: bool) -> None:
        """The held share was spent on a claim, or handed back because nothing was due."""
        with self._budget:
            self._budget_held -= 1
            self._budget_spent += spent
            self._budget.notify_all()

    def _worker(self, conn: Any) -> None:
        try:
            queue = RequestQueue(conn, self.owner, self.options.lease_s, self.options.max_attempts)
            limiter = SharedRateLimit(conn, *self.options.rate_limit, run_id=self.run_id)
            prepaid = threading.Event()  # a slot taken before claiming, for the claim's first call

            def throttle() -> bool:
                if prepaid.is_set():
                    prepaid.clear()
                elif not limiter.acquire(self.stop.is_set):
                    return False
                self.stats.add(calls=1)
                return True

            client = EQCClient(self.token or "", self.options.base_url, self.options.timeout_s, throttle=throttle)
            rechecks = RecheckQueue(conn, self.owner, self.options.lease_s, self.run_id)
            while not self.stop.is_set() and self._take_budget():
                claim = entry = None
                try:
                    claim = limiter.acquire_with_claim(queue, self.stop.is_set)
                    if claim is None:  # no name waits: re-check an unverified cache entry
                        entry = limiter.acquire_with_claim(rechecks, self.stop.is_set)
                finally:
                    self._settle_budget(spent=claim is not None or entry is not None)
                if claim is not None:
                    prepaid.set()  # the claim's first request uses the slot just taken
                    self.lookup.lookup_safely(claim, queue, client)
                elif entry is not None:
                    prepaid.set()
                    self.lookup.recheck_safely(entry, rechecks, queue, client)
                else:
                    break
            client.close()
        except Exception as error:
            self.stop.set()
            self.stats.stopped_because = self.stats.stopped_because or "worker error"
            log.error("a drain worker failed (%s); the other workers stop too", for_terminal(first_line(error)))
        finally:
            conn.close()

    def run(self) -> DrainStats:
        conn = db.connect()
        try:
            self.queue_total, self.rechecks_due = preflight.check_state_tables(conn)
            if self.options.dry_run:  # a dry run writes nothing, not even its run log row
                return self.stats
            with conn, conn.cursor() as cur:
                cur.execute(
                    f"insert into {SCHEMA}.run_log (run_kind, details) values ('drain', %s) returning run_id",  # noqa: S608
                    (json.dumps({"options": self._public_options()}),),
                )
                self.run_id = cur.fetchone()[0]
            try:
                self._drain(conn)
            except BaseException as error:  # every failure path closes its run-log row
                status = "interrupted" if isinstance(error, KeyboardInterrupt) else "error"
                try:
                    self._log_end(conn, status, for_terminal(first_line(error)))
                except psycopg2.Error:
                    log.warning("could not close run %s in the run log", self.run_id)
                raise
            return self.stats
        finally:
            conn.close()

    def _drain(self, conn: Any) -> None:
        if self.options.budget == 0:
            self._log_end(conn, "success")
            return
        preflight.check_token(conn, self.token, self.options, self.stats, self.run_id)
        connections = preflight.open_worker_connections(conn, self.options.concurrency)
        workers = [threading.Thread(target=self._worker, args=(c,), daemon=True) for c in connections]
        reporter = ProgressReporter(
            self.stats, self.options, self.started, min(self.options.budget, self.queue_total + self.rechecks_due)
        )
        reporter.start()
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                while worker.is_alive():
                    worker.join(0.2)
        except KeyboardInterrupt:
            self.stop.set()
            self.stats.stopped_because = "interrupted"
            for worker in workers:
                worker.join()
        reporter.finish()
        status, error = run_status(self.stats), None
        if self.stats.stopped_because is None and self.all_lookups_failed():
            error = f"no lookup succeeded: {self.stats.retried_later + self.stats.failed} errors"
        self._log_end(conn, status, error)

    def all_lookups_failed(self) -> bool:
        """Lookups were attempted and every one ended in an error."""
        return all_lookups_failed(self.stats)

    def _log_end(self, conn: Any, status: str, error: str | None = None) -> None:
        self.stats.wall_s = round(time.monotonic() - self.started, 2)
        details = {"stats": self.stats.as_dict(), **({"error": error} if error else {})}
        if conn.closed or self.run_id is None:
            return
        conn.rollback()
        with conn, conn.cursor() as cur:
            cur.execute(
                f"update {SCHEMA}.run_log set finished_at = now(), status = %s, "  # noqa: S608
                "details = details || %s::jsonb where run_id = %s",
                (status, json.dumps(details), self.run_id),
            )

    def _public_options(self) -> dict[str, Any]:
        options = asdict(self.options)
        options["rate_limit"] = f"{options['rate_limit'][0]}/{options['rate_limit'][1]:g}"
        return options
