"""Resolve queued names through EQC: python -m python_enrich.drain --budget 5

The command line of the drain (python_enrich/drain/run.py holds the run)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import psycopg2

from python_enrich.cli_types import OneLineErrorParser, bounded_float, bounded_int, rate_limit
from python_enrich.drain import preflight
from python_enrich.drain.decisions import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SETUP,
    EXIT_TOKEN,
    all_lookups_failed,
    exit_code,
)
from python_enrich.drain.options import CAPTURE_COMMAND, EXIT_CODES, MAX_CONCURRENCY, DrainOptions, DrainSetupError
from python_enrich.drain.run import Drain
from python_enrich.eqc.client import (
    BadBaseURL,
    base_url_from_env,
    check_base_url,
)
from python_enrich.errors import first_line
from python_enrich.safe_output import for_terminal
from python_enrich.token_store import read_token


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
        preview = preflight.preview(options.budget)
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
