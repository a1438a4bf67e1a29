"""Resolve queued names through EQC: python -m python_enrich.drain --budget 5

Claims the highest-priority due requests, looks each name up (one search call; --details adds
business info and labels), and accepts a candidate only with evidence that it is the company
named (python_enrich.eqc.matching): the entry goes into the cache with its evidence; a name
without such a candidate waits for review (needs_review) or is not found, and resolves nothing.
The rate limit is shared through PostgreSQL by every drain on the same database; C concurrent requests
overlap the registry's latency so that the limit, not latency, sets the pace.  A killed drain
leaves leases that the next one reclaims; an expired token stops every worker and hands the
unfinished claims back.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psycopg2

from python_enrich import db
from python_enrich.cli_types import rate_limit
from python_enrich.eqc.client import (
    Candidate,
    EQCClient,
    EQCError,
    RateLimited,
    RequestFailed,
    Stopped,
    TokenExpired,
    TransientError,
    base_url_from_env,
)
from python_enrich.eqc.matching import EVIDENCE_CONFIDENCE, Verdict, decide, match_kind
from python_enrich.errors import first_line
from python_enrich.normalization import normalize_company_name
from python_enrich.request_queue import DUE_CONDITION, SCHEMA, Claim, RequestQueue, SharedRateLimit
from python_enrich.token_store import read_token

CAPTURE_COMMAND = "python -m python_enrich.auth --capture --save"
EXIT_OK, EXIT_FAILED, EXIT_SETUP, EXIT_TOKEN = 0, 1, 2, 3

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


def ids_without_former_names(payload: Any) -> set[str]:
    """Companies whose search item does not say what their former names are (no field at all)."""
    items = payload.get("list") if isinstance(payload, dict) else None
    return {
        str(item.get("companyId") or "").strip()
        for item in items or []
        if isinstance(item, dict) and item.get("company_former_name") is None
    }


def former_names_of(info: dict[str, Any]) -> tuple[str, ...]:
    """findDepart's company_former_name: several names separated by commas (either width)."""
    text = str(info.get("company_former_name") or "").replace("，", ",")
    return tuple(name.strip() for name in text.split(",") if name.strip())


def backoff_s(attempt: int, base: float = 1.0, cap: float = 30.0) -> float:
    """Capped exponential backoff with ±20% jitter: 1 s, 2 s, 4 s, … (attempt 0, 1, 2, …)."""
    return min(cap, base * 2**attempt) * random.uniform(0.8, 1.2)


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

    def check_token(self, conn: Any) -> None:
        if not self.token:
            raise DrainSetupError(f"no EQC token: run {CAPTURE_COMMAND} (or set WDH_EQC_TOKEN)")
        limiter = SharedRateLimit(conn, *self.options.rate_limit, run_id=self.run_id)
        client = EQCClient(self.token, self.options.base_url, self.options.timeout_s, throttle=limiter.acquire)
        try:
            client.check_token()
        except TokenExpired:
            raise DrainSetupError(f"the EQC token is invalid or expired: run {CAPTURE_COMMAND}", EXIT_TOKEN) from None
        except EQCError as error:
            raise DrainSetupError(f"EQC is not answering the token check ({error}): try again later") from None
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
                wait = error.retry_after_s if error.retry_after_s is not None else backoff_s(attempt)
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
        unknown = ids_without_former_names(payload) - rejected
        to_check = [c for c in candidates if c.company_id in unknown][: self.options.former_name_checks]
        if not to_check:
            return verdict
        learned = {}
        for candidate in to_check:
            info = self._call(lambda company_id=candidate.company_id: client.business_info(company_id))
            learned[candidate.company_id] = replace(candidate, former_names=former_names_of(info))
        return decide(name, [learned.get(c.company_id, c) for c in candidates], rejected)

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
            delay = min(3600.0, options.retry_delay_s * 2 ** max(claim.attempts - 1, 0))
            if queue.retry_later(claim, delay, str(error), options.max_attempts) == "failed":
                self.stats.add(failed=1)
            else:
                self.stats.add(retried_later=1)
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
                formers |= {name.strip() for name in str(info.get("company_former_name") or "").split(",")}
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

    def _worker(self) -> None:
        conn = db.connect()
        try:
            queue = RequestQueue(conn, self.owner, self.options.lease_s)
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
            while not self.stop.is_set() and self._take_budget():
                claim = limiter.acquire_with_claim(queue, self.stop.is_set)
                if claim is None:
                    self._return_budget()
                    break
                prepaid.set()  # the claim's first request uses the slot just taken
                self._lookup(claim, queue, client)
            client.close()
        except Exception:
            self.stop.set()
            self.stats.stopped_because = self.stats.stopped_because or "worker error"
            log.exception("a drain worker failed; the other workers stop too")
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
            if self.options.budget == 0:
                self._log_end(conn, "success")
                return self.stats
            try:
                self.check_token(conn)
            except DrainSetupError as error:
                self._log_end(conn, "error", str(error))
                raise
            workers = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.options.concurrency)]
            reporter = ProgressReporter(self, min(self.options.budget, self.queue_total))
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
            status = {None: "success", "interrupted": "interrupted"}.get(self.stats.stopped_because, "error")
            self._log_end(conn, status)
            return self.stats
        finally:
            conn.close()

    def _log_end(self, conn: Any, status: str, error: str | None = None) -> None:
        self.stats.wall_s = round(time.monotonic() - self.started, 2)
        details = {"stats": self.stats.as_dict(), **({"error": error} if error else {})}
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


def former_name_checks(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError("use 0 to 10 business-info calls per name")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m python_enrich.drain", description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, required=True, help="most registry lookups (names) this run; 0: none")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once (default 4)")
    parser.add_argument("--rate-limit", type=rate_limit, default=(10, 60.0), help="R/W: R calls per W s, all drains")
    parser.add_argument(
        "--details", action="store_true", help="also fetch business info and labels; keep raw responses"
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would be looked up; no calls, no writes")
    parser.add_argument("--json", action="store_true", help="print a final summary object")
    parser.add_argument("--env-file", type=Path, help="env file holding WDH_EQC_TOKEN (default .wdh_env)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request (default 5)")
    parser.add_argument("--retries", type=int, default=2, help="in-run retries of a transient error (default 2)")
    parser.add_argument("--max-attempts", type=int, default=5, help="attempts before a request fails (default 5)")
    parser.add_argument("--retry-delay", type=float, default=60.0, help="first wait of a request given back (s)")
    parser.add_argument("--lease", type=float, default=300.0, help="seconds a claim is ours before others reclaim it")
    parser.add_argument("--not-found-retry-days", type=float, default=30.0)
    parser.add_argument("--former-name-checks", type=former_name_checks, default=3,
                        help="business-info calls per name for former names search items lack (default 3)")  # fmt: skip
    parser.add_argument("--progress", choices=["auto", "bar", "log", "none"], default="auto")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.budget < 0 or args.concurrency < 1 or args.retries < 0 or args.max_attempts < 1:
        build_parser().error("--budget must be >= 0, --concurrency and --max-attempts >= 1, --retries >= 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    options = DrainOptions(
        budget=args.budget, concurrency=args.concurrency, rate_limit=args.rate_limit, details=args.details,
        dry_run=args.dry_run, lease_s=args.lease, timeout_s=args.timeout, retries=args.retries,
        max_attempts=args.max_attempts, retry_delay_s=args.retry_delay, not_found_retry_days=args.not_found_retry_days,
        former_name_checks=args.former_name_checks, base_url=base_url_from_env(),
        progress="none" if args.json else args.progress,
    )  # fmt: skip
    drain = Drain(options, read_token(args.env_file))
    try:
        stats = drain.run()
    except DrainSetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except psycopg2.OperationalError as error:
        print(f"error: cannot reach PostgreSQL ({first_line(error)})", file=sys.stderr)
        return EXIT_SETUP
    if options.dry_run:
        preview = drain.preview(options.budget)
        print(f"dry run: {drain.queue_total} requests are due; the next {len(preview)} by priority:")
        for request_id, name, priority, attempts in preview:
            print(f"  #{request_id} priority {priority:.1f}, attempt {attempts + 1}: {name}")
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
    if stats.stopped_because == "token expired":
        print(f"error: the EQC token expired during the run: run {CAPTURE_COMMAND}, then drain again", file=sys.stderr)
        return EXIT_TOKEN
    return EXIT_FAILED if stats.stopped_because else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
