"""The main job, end to end on embedded defaults: python -m python_enrich.demo [--rows N] [--budget N]

Uses the PostgreSQL the PG* variables name, or starts the private cluster; writes sample exports
(a performance workbook and an income CSV, shaped like real ones) and loads them with
python -m python_enrich.load, as a user would; imports the old warehouse's cache (stale entries
included) with python -m python_enrich.cache import; runs dbt seed and dbt build; starts the EQC
sandbox and drains the queue through it (then re-checks imported entries); builds again so that
learned names replace their temporary ids; prints a summary of how every row was resolved.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from python_enrich import cache, load, report, run_dbt, summary
from python_enrich.db import cursor
from python_enrich.drain import Drain, DrainOptions
from python_enrich.paths import PROJECT_DIR
from python_enrich.pgcluster import SetupError, ensure_server
from python_enrich.salt import SaltMismatch, check_matches_state
from python_enrich.standins import sample
from python_enrich.standins.sample_legacy_cache import legacy_entries, write_legacy_cache
from python_enrich.standins.sandbox import SandboxConfig, SandboxServer
from python_enrich.temp_id import SALT_ENV_VAR, salt_from_env

# The sandbox stands in for EQC with real latency and a rate limit, fast enough for a demo.
DEMO_RATE_LIMIT = (1200, 60.0)
DEMO_LATENCY_MS = {"*": (50, 300)}
DEMO_BUDGET = 500  # the waiting names, then the imported entries rows' own codes contradict, and more
REPORT_FILE = PROJECT_DIR / "report.html"
EXPORTS_DIR = PROJECT_DIR / "sample_exports"


class StepFailed(RuntimeError):
    pass


def step(title: str, action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    print(f"-> {title} ...", flush=True)
    result = action()
    print(f"   done in {time.perf_counter() - started:.1f} s", flush=True)
    return result


def dbt(*args: str) -> None:
    result = run_dbt.invoke([*args, "--quiet"])
    if not getattr(result, "success", False):
        raise StepFailed(f"dbt {' '.join(args)} failed (its errors are above)")


def load_exports(rows: int, seed: int) -> None:
    """Write the sample as export files and load each through the loader's command line."""
    _, workbook, income_csv = sample.write_files(rows, seed, EXPORTS_DIR)
    print(f"   wrote {workbook.relative_to(PROJECT_DIR)} and {income_csv.relative_to(PROJECT_DIR)}")
    for table, path in (("annuity_performance", workbook), ("annuity_income", income_csv)):
        print(f"   python -m python_enrich.load {table} {path.relative_to(PROJECT_DIR)}", flush=True)
        if load.main([table, str(path)]) != 0:
            raise StepFailed(f"loading {path.name} failed (the reason is above)")


def import_old_cache(rows: int, seed: int) -> str:
    """The old warehouse's cache for the sample (stale entries included), imported as a migrating
    user would: python -m python_enrich.cache import. Its entries are unverified until checked."""
    built = sample.build_sample(rows, seed)
    entries = legacy_entries(built, seed)
    with cursor() as cur:
        write_legacy_cache(cur, entries)
    imported = cache.import_cache("enterprise", "enrichment_index")
    return (
        f"   enterprise.enrichment_index: {len(entries):,} entries, {sum(e.is_stale for e in entries):,} of them "
        f"stale (the sandbox knows); imported {imported['inserted']:,}, unverified until the drain re-checks them"
    )


def drain_through_sandbox(rows: int, seed: int, budget: int) -> str:
    config = SandboxConfig(
        companies=sample.sample_size(rows).companies, seed=seed, latency_ms=DEMO_LATENCY_MS, rate_limit=DEMO_RATE_LIMIT
    )
    with SandboxServer(config) as sandbox:
        # In real use the token comes from `python -m python_enrich.auth --capture --save`.
        options = DrainOptions(
            budget=budget, concurrency=4, rate_limit=DEMO_RATE_LIMIT, base_url=sandbox.url, progress="none"
        )
        stats = Drain(options, sandbox.issue_token()).run()
    if stats.stopped_because:
        raise StepFailed(f"the drain stopped: {stats.stopped_because}")
    return (
        f"   {stats.lookups} lookups ({stats.calls} calls) at up to {DEMO_RATE_LIMIT[0]} calls/min: "
        f"found {stats.found}, not found {stats.not_found}, for review {stats.needs_review}, "
        f"errors {stats.retried_later + stats.failed}\n"
        f"   then {stats.rechecked} imported cache entries re-checked: confirmed {stats.recheck_confirmed}, "
        f"retired {stats.recheck_contradicted} ({stats.recheck_replaced} replaced by the company the registry "
        f"names), unsettled {stats.recheck_unsettled}"
    )


def run(rows: int, seed: int, budget: int) -> str:
    server = step("PostgreSQL", ensure_server)
    print(
        f"   {'private cluster' if server.private else 'server from PG*'} "
        f"at {server.host}:{server.port}/{server.database}"
    )
    salt_from_env()  # warns loudly when the public default salt is in use
    try:
        check_matches_state()  # a different salt stops the demo before it writes anything
    except SaltMismatch as error:
        raise StepFailed(str(error)) from None
    step(f"sample exports ({rows:,} performance rows, seed {seed}) loaded", lambda: load_exports(rows, seed))
    step("dbt seed (override mappings)", lambda: dbt("seed"))
    step(
        "enrichment state (dbt run-operation setup_enrichment_state)",
        lambda: dbt("run-operation", "setup_enrichment_state"),
    )
    print(
        step(
            "the old warehouse's cache imported (python -m python_enrich.cache import)",
            lambda: import_old_cache(rows, seed),
        )
    )
    step("dbt build (resolution, backflow, queue, reports, tests)", lambda: dbt("build"))
    print(
        step(
            f"drain: look up to {budget} queued names, then re-check imported entries, in the EQC sandbox",
            lambda: drain_through_sandbox(rows, seed, budget),
        )
    )
    step("dbt build again (learned names replace their temporary ids)", lambda: dbt("build"))
    with cursor() as cur:
        text = summary.render(
            summary.fetch_tier_counts(cur),
            summary.fetch_state_counts(cur),
            summary.fetch_real_id_rows(cur),
            summary.fetch_recent_builds(cur, limit=2),  # this demo's two builds
        )
    step(f"report ({REPORT_FILE.name})", lambda: report.write_report(REPORT_FILE))
    return f"{text}\nreport: {REPORT_FILE}\n{salt_used()}"


def salt_used() -> str:
    """What the demo's temporary ids were made with, said plainly (never the salt itself)."""
    if os.environ.get(SALT_ENV_VAR):
        return f"salt: your {SALT_ENV_VAR} (not shown); the database now remembers it"
    return (
        f"salt: none set, so the temporary ids use the PUBLIC default salt of the old warehouse: fine for "
        f"sample data; before loading real data choose your own {SALT_ENV_VAR} (README: Choosing a salt)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m python_enrich.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=sample.DEFAULT_ROWS, help="performance rows to generate")
    parser.add_argument("--seed", type=int, default=42, help="sample data seed")
    parser.add_argument(
        "--budget",
        type=int,
        default=DEMO_BUDGET,
        help=f"EQC sandbox lookups for the drain: waiting names, then re-checks of imported entries "
        f"(default {DEMO_BUDGET})",
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.budget < 0:
        parser.error("--rows must be at least 1 and --budget at least 0")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        report = run(args.rows, args.seed, args.budget)
    except (SetupError, StepFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\nSummary")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
