"""Resolve queued names through EQC: python -m python_enrich.drain --budget 5

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
always given back and the other lookups go on.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg2

from python_enrich import db
from python_enrich.cache_recheck import CONFIRMED, CONTRADICTED, RecheckClaim, RecheckQueue, due_rechecks, recheck
from python_enrich.cli_types import OneLineErrorParser, bounded_float, bounded_int, rate_limit
from python_enrich.drain_decisions import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SETUP,
    EXIT_TOKEN,
    all_lookups_failed,
    backoff_s,
    exit_code,
    former_name_checks,
    former_names_of,
    give_back_delay_s,
    rate_limited_wait_s,
    run_status,
    verdict_after_former_names,
)
from python_enrich.eqc import answers
from python_enrich.eqc.client import (
    BadBaseURL,
    Candidate,
    EQCClient,
    EQCError,
    RateLimited,
    RequestFailed,
    Stopped,
    TokenExpired,
    TransientError,
    base_url_from_env,
    check_base_url,
)
from python_enrich.eqc.matching import EVIDENCE_CONFIDENCE, Verdict, decide, match_kind
from python_enrich.errors import first_line
from python_enrich.normalization import normalize_company_name
from python_enrich.request_queue import DUE_CONDITION, SCHEMA, Claim, RequestQueue, SharedRateLimit
from python_enrich.safe_output import for_terminal
from python_enrich.token_store import read_token

CAPTURE_COMMAND = "python -m python_enrich.auth --capture --save"
EXIT_CODES = """exit codes:
  0    the run finished (names found, not found, kept for review or given back for a later retry)
  1    the run failed: lookups were attempted and none succeeded because of errors, or a worker failed
  2    bad arguments or settings (WDH_EQC_BASE_URL), no token, no state tables, the database or
       the registry unreachable, or not enough database connections for --concurrency
  3    the EQC token is invalid or expired: capture a new one
  130  interrupted (Ctrl-C): unfinished claims were handed back"""
MAX_CONCURRENCY = 64

log = logging.getLogger("python_enrich.drain")


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


class Drain:
    def __init__(self, options: DrainOptions, token: str | None) -> None:
        self.options = options
        self.token = token
        self.stats = DrainStats()
        self.stop = threading.Event()
        self.owner = f"drain-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.run_id: int | None = None
        self.started = time.monotonic()
        self._budget_lock = threading.Lock()
        self._budget_taken = 0
        self.queue_total = 0
        self.rechecks_due = 0  # unverified cache entries, re-checked after the waiting names

    # -- pre-flight --------------------------------------------------------------------------
    def check_state_tables(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute(
                "select to_regclass(%s), to_regclass(%s)",
                (f"{SCHEMA}.enrichment_requests", f"{SCHEMA}.eqc_calls"),
            )
            if None in cur.fetchone():
                raise DrainSetupError("the enrichment state tables are missing: run dbt build (./run dbt build) first")
            cur.execute(
                f"select count(*) from {SCHEMA}.enrichment_requests "  # noqa: S608
                f"where {DUE_CONDITION}"
            )
            self.queue_total = cur.fetchone()[0]
            self.rechecks_due = due_rechecks(cur)

    def check_token(self, conn: Any) -> None:
        if not self.token:
            raise DrainSetupError(f"no EQC token: run {CAPTURE_COMMAND} (or set WDH_EQC_TOKEN)")
        limiter = SharedRateLimit(conn, *self.options.rate_limit, run_id=self.run_id)

        def throttle() -> bool:  # the check counts against the rate limit, so it counts as a call
            if not limiter.acquire():
                return False
            self.stats.add(calls=1)
            return True

        client = EQCClient(self.token, self.options.base_url, self.options.timeout_s, throttle=throttle)
        try:
            client.check_token()
        except TokenExpired:
            raise DrainSetupError(f"the EQC token is invalid or expired: run {CAPTURE_COMMAND}", EXIT_TOKEN) from None
        except EQCError as error:
            raise DrainSetupError(
                f"EQC is not answering the token check ({for_terminal(error)}): try again later"
            ) from None
        finally:
            client.close()

    # -- the run -----------------------------------------------------------------------------
    def _take_budget(self) -> bool:
        with self._budget_lock:
            if self._budget_taken >= self.options.budget:
                return False
            self._budget_taken += 1
            return True

    def _return_budget(self) -> None:
        with self._budget_lock:
            self._budget_taken -= 1

    def _call(self, action: Any) -> Any:
        """One EQC call with in-run retries for transient errors; raises the last error.
        (The client's throttle takes a rate-limit slot before every request.)"""
        last: EQCError | None = None
        for attempt in range(self.options.retries + 1):
            try:
                return action()
            except RateLimited as error:
                last = error
                self.stats.add(transient_errors=1)
                wait = rate_limited_wait_s(error.retry_after_s, backoff_s(attempt))
                if wait is None:
                    raise  # not slept here: the request goes back to the queue until then
            except TransientError as error:
                last = error
                self.stats.add(transient_errors=1)
                wait = backoff_s(attempt)
            if attempt < self.options.retries and self.stop.wait(wait):
                raise Stopped("stopping")
        assert last is not None
        raise last

    def _token_died(self) -> None:
        """401 or TokenExpired: every worker stops; unfinished claims go back to the queue."""
        self.stats.stopped_because = "token expired"
        self.stop.set()

    def _verdict(
        self, name: str, candidates: list[Candidate], payload: Any, client: EQCClient, queue: RequestQueue
    ) -> Verdict:
        """Evidence first; when none, learn the former names the search items left out (business
        info, at most --former-name-checks calls, each taking a rate-limit slot) and decide again."""
        rejected = queue.rejected_ids(name)
        verdict = decide(name, candidates, rejected)
        if verdict.outcome == "accept":
            return verdict
        to_check = former_name_checks(candidates, payload, rejected, self.options.former_name_checks)
        if not to_check:
            return verdict
        infos = {}
        for candidate in to_check:
            infos[candidate.company_id] = self._call(
                lambda company_id=candidate.company_id: client.business_info(company_id)
            )
        return verdict_after_former_names(name, candidates, infos, rejected)

    def _lookup(self, claim: Claim, queue: RequestQueue, client: EQCClient) -> None:
        options = self.options
        try:
            candidates, payload = self._call(lambda: client.search(claim.normalized_name))
            verdict = self._verdict(claim.normalized_name, candidates, payload, client, queue)
        except Stopped:
            queue.release([claim])
            self.stats.add(released=1)
            return
        except TokenExpired:
            self._token_died()
            queue.release([claim])
            self.stats.add(released=1)
            return
        except (TransientError, RateLimited, RequestFailed) as error:
            self._give_back(claim, queue, str(error), error)
            return
        self.stats.add(lookups=1)
        if verdict.outcome == "not_found":
            queue.not_found(claim, options.not_found_retry_days, verdict.reason)
            self.stats.add(not_found=1)
            return
        if verdict.chosen is None or verdict.chosen.evidence is None:
            queue.needs_review(claim, [a.as_review() for a in verdict.kept], verdict.reason)
            self.stats.add(needs_review=1)
            return
        chosen, evidence = verdict.chosen.candidate, verdict.chosen.evidence
        entry = (chosen.company_id, chosen.full_name, chosen.credit_code, match_kind(chosen))
        entries = [("customer_name", claim.normalized_name, *entry, EVIDENCE_CONFIDENCE[evidence], evidence)]
        responses: list[tuple[Any, ...]] = []
        if options.details:
            responses.append((chosen.company_id, "search", claim.normalized_name, payload))
            formers = set(chosen.former_names)
            try:
                info = self._call(lambda: client.business_info(chosen.company_id))
                labels = self._call(lambda: client.labels(chosen.company_id))
                responses += [
                    (chosen.company_id, "findDepart", chosen.company_id, info),
                    (chosen.company_id, "findLabels", chosen.company_id, labels),
                ]
                formers |= set(answers.former_names(info.get("company_former_name")))
            except EQCError as error:  # details are extra: the match stands
                if isinstance(error, TokenExpired):
                    self._token_died()
                log.warning("details for request %s incomplete: %s", claim.request_id, type(error).__name__)
            for former in sorted(formers):
                key = normalize_company_name(former)
                if key and key != claim.normalized_name:
                    entries.append(("former_name", key, *entry, EVIDENCE_CONFIDENCE["former_name"], "former_name"))
        queue.found(claim, chosen.company_id, entries, responses, evidence)
        self.stats.add(found=1)

    def _give_back(self, claim: Claim, queue: RequestQueue, reason: str, error: BaseException | None = None) -> None:
        """Back to the queue for a later attempt, or `failed` after the last one, with the reason."""
        options = self.options
        retry_after_s = error.retry_after_s if isinstance(error, RateLimited) else None
        delay = give_back_delay_s(options.retry_delay_s, claim.attempts, retry_after_s)
        if queue.retry_later(claim, delay, for_terminal(reason), options.max_attempts) == "failed":
            self.stats.add(failed=1)
        else:
            self.stats.add(retried_later=1)

    def _lookup_safely(self, claim: Claim, queue: RequestQueue, client: EQCClient) -> None:
        """One lookup; whatever it raises stays with this request, and the worker goes on."""
        try:
            self._lookup(claim, queue, client)
        except Exception as error:
            queue.conn.rollback()
            log.warning("request %s: lookup failed (%s); given back", claim.request_id, type(error).__name__)
            self._give_back(claim, queue, f"{type(error).__name__}: {first_line(error)}"[:300])

    def _recheck_safely(
        self, entry: RecheckClaim, rechecks: RecheckQueue, queue: RequestQueue, client: EQCClient
    ) -> None:
        """One re-check (python_enrich.cache_recheck); an error gives the entry back for later."""
        try:
            result = recheck(
                entry,
                lambda name: self._call(lambda: client.search(name))[0],
                lambda company_id: former_names_of(self._call(lambda: client.business_info(company_id))),
                queue.rejected_ids(entry.name),
            )
        except TokenExpired:
            self._token_died()
            rechecks.release([entry])
            return
        except Stopped:
            rechecks.release([entry])
            return
        except Exception as error:  # one re-check's failure stays with its entry
            queue.conn.rollback()
            log.warning("re-check of a cache entry failed (%s); given back", type(error).__name__)
            rechecks.release([entry], self.options.retry_delay_s)
            return
        self.stats.add(rechecked=1)
        if result.outcome == CONFIRMED and result.candidate and result.evidence:
            rechecks.confirm(entry, result.candidate, result.evidence)
            self.stats.add(recheck_confirmed=1)
        elif result.outcome == CONTRADICTED:
            rechecks.contradict(entry, result)
            self.stats.add(recheck_contradicted=1, recheck_replaced=int(result.evidence is not None))
        else:
            rechecks.unsettled(entry, result.reason, self.options.not_found_retry_days)
            self.stats.add(recheck_unsettled=1)

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
                claim = limiter.acquire_with_claim(queue, self.stop.is_set)
                if claim is None:  # no name waits: re-check an unverified cache entry
                    entry = limiter.acquire_with_claim(rechecks, self.stop.is_set)
                    if entry is None:
                        self._return_budget()
                        break
                    prepaid.set()
                    self._recheck_safely(entry, rechecks, queue, client)
                    continue
                prepaid.set()  # the claim's first request uses the slot just taken
                self._lookup_safely(claim, queue, client)
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
            self.check_state_tables(conn)
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
        self.check_token(conn)
        connections = self._open_worker_connections(conn)
        workers = [threading.Thread(target=self._worker, args=(c,), daemon=True) for c in connections]
        reporter = ProgressReporter(self, min(self.options.budget, self.queue_total + self.rechecks_due))
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

    def _open_worker_connections(self, conn: Any) -> list[Any]:
        """One connection per worker, all opened before any claim: a server that cannot serve
        --concurrency connections ends the run here, with nothing claimed."""
        wanted = self.options.concurrency
        with conn.cursor() as cur:
            cur.execute(
                "select current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int"
                " - (select count(*) from pg_stat_activity where backend_type = 'client backend')"
            )
            free = cur.fetchone()[0]
        conn.rollback()
        connections: list[Any] = []
        try:
            if wanted > free:
                raise psycopg2.OperationalError(f"the server has {max(free, 0)} free connections")
            for _ in range(wanted):
                connections.append(db.connect())
        except psycopg2.OperationalError as error:
            for opened in connections:
                opened.close()
            raise DrainSetupError(
                f"--concurrency {wanted} needs {wanted} database connections: {first_line(error)}; "
                "use a lower --concurrency"
            ) from None
        return connections

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

    def preview(self, limit: int) -> list[tuple[Any, ...]]:
        """What the next drain would look up, highest priority first (no calls, no claims)."""
        conn = db.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    f"select request_id, normalized_name, priority, attempts from {SCHEMA}.enrichment_requests "  # noqa: S608
                    f"where {DUE_CONDITION} order by priority desc, request_id limit %s",
                    (limit,),
                )
                return cur.fetchall()
        finally:
            conn.close()


class ProgressReporter:
    """A progress bar on a terminal; a plain log line every 10 s otherwise."""

    def __init__(self, drain: Drain, total: int) -> None:
        self.drain = drain
        self.total = max(total, 1)
        mode = drain.options.progress
        self.mode = ("bar" if sys.stderr.isatty() else "log") if mode == "auto" else mode
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.done = threading.Event()

    def start(self) -> None:
        if self.mode != "none":
            self.thread.start()

    def line(self) -> str:
        stats, options = self.drain.stats, self.drain.options
        elapsed = max(time.monotonic() - self.drain.started, 1e-6)
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
                finished = min(self.drain.stats.lookups, self.total)
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


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="python -m python_enrich.drain",
        description=__doc__.splitlines()[0],
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    positive = bounded_float(0)
    add(
        "--budget",
        type=bounded_int(0),
        required=True,
        help="most registry lookups this run: waiting names first, then re-checks of unverified cache entries; 0: none",
    )
    add(
        "--concurrency",
        type=bounded_int(1, MAX_CONCURRENCY),
        default=4,
        help=f"requests in flight at once, 1..{MAX_CONCURRENCY}, one database connection each (default 4)",
    )
    add("--rate-limit", type=rate_limit, default=(10, 60.0), help="R/W: R calls per W s, all drains (default 10/60)")
    add("--details", action="store_true", help="also fetch business info and labels; keep raw responses")
    add("--dry-run", action="store_true", help="show what would be looked up; no calls, no writes")
    add("--json", action="store_true", help="print a final summary object")
    add("--env-file", type=Path, help="env file holding WDH_EQC_TOKEN (default .wdh_env)")
    add(
        "--timeout",
        type=bounded_float(0, 600),
        default=5.0,
        help="total seconds per request, body included, > 0 (default 5)",
    )
    add("--retries", type=bounded_int(0, 10), default=2, help="in-run retries of a transient error (default 2)")
    add("--max-attempts", type=bounded_int(1), default=5, help="attempts before a request fails (default 5)")
    add(
        "--retry-delay",
        type=bounded_float(0, low_inclusive=True),
        default=60.0,
        help="first wait of a request given back, s, doubling per attempt (default 60)",
    )
    add("--lease", type=positive, default=300.0, help="seconds a claim is ours before others reclaim it (default 300)")
    add(
        "--not-found-retry-days",
        type=positive,
        default=30.0,
        help="days before a name the registry did not find is looked up again (default 30)",
    )
    add(
        "--former-name-checks",
        type=bounded_int(0, 10),
        default=3,
        help="business-info calls per name for former names search items lack, 0..10 (default 3)",
    )
    add(
        "--progress",
        choices=["auto", "bar", "log", "none"],
        default="auto",
        help="how the run shows progress on stderr: a bar, a log line per step, or nothing; "
        "auto: a bar on a terminal, log lines otherwise (default auto)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        base_url = check_base_url(base_url_from_env())
    except BadBaseURL as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SETUP
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    options = DrainOptions(
        budget=args.budget, concurrency=args.concurrency, rate_limit=args.rate_limit, details=args.details,
        dry_run=args.dry_run, lease_s=args.lease, timeout_s=args.timeout, retries=args.retries,
        max_attempts=args.max_attempts, retry_delay_s=args.retry_delay, not_found_retry_days=args.not_found_retry_days,
        former_name_checks=args.former_name_checks, base_url=base_url,
        progress="none" if args.json else args.progress,
    )  # fmt: skip
    drain = Drain(options, read_token(args.env_file))
    try:
        stats = drain.run()
    except DrainSetupError as error:
        print(f"error: {for_terminal(error)}", file=sys.stderr)
        return error.exit_code
    except psycopg2.OperationalError as error:
        print(f"error: cannot reach PostgreSQL ({for_terminal(first_line(error))})", file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:
        print("error: interrupted; unfinished claims were handed back", file=sys.stderr)
        return EXIT_INTERRUPTED
    if options.dry_run:
        preview = drain.preview(options.budget)
        print(f"dry run: {drain.queue_total} requests are due; the next {len(preview)} by priority:")
        for request_id, name, priority, attempts in preview:
            print(f"  #{request_id} priority {priority:.1f}, attempt {attempts + 1}: {for_terminal(name)}")
        return EXIT_OK
    summary = {**stats.as_dict(), "due_before": drain.queue_total, "run_id": drain.run_id}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(
            f"drain: {stats.lookups} lookups ({stats.calls} calls) in {stats.wall_s:.1f} s: found {stats.found}, "
            f"not found {stats.not_found}, for review {stats.needs_review}, retry later {stats.retried_later}, "
            f"failed {stats.failed}" + (f"; stopped: {stats.stopped_because}" if stats.stopped_because else "")
        )
        if stats.rechecked:
            print(
                f"then {stats.rechecked} unverified cache entries re-checked: confirmed {stats.recheck_confirmed}, "
                f"retired {stats.recheck_contradicted} ({stats.recheck_replaced} replaced by the company the "
                f"registry names), unsettled {stats.recheck_unsettled}"
            )
    code = exit_code(stats)
    if code == EXIT_TOKEN:
        print(f"error: the EQC token expired during the run: run {CAPTURE_COMMAND}, then drain again", file=sys.stderr)
    elif code == EXIT_FAILED and all_lookups_failed(stats):
        print(
            f"error: no lookup succeeded ({stats.retried_later} given back, {stats.failed} failed); the reasons "
            "are in the queue's last_error (python -m python_enrich.export unresolved, or the report)",
            file=sys.stderr,
        )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
