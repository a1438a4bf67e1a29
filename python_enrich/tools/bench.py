"""Benchmarks that print figures (never part of the test suite).

    python -m python_enrich.bench names [--names N] [--json]       distinct names/s normalized + hashed in PostgreSQL
    python -m python_enrich.bench warehouse --rows N [--json]      the resolution models on N generated rows
    python -m python_enrich.bench drain --names N --rate-limit R/W --latency-ms A..B --concurrency C [--json]
                                                                   the drain against a sandbox it starts
    python -m python_enrich.bench load --rows N --format csv|xlsx [--json]
                                                                   the loader on an N-row performance export
    python -m python_enrich.bench incremental --history-rows N --month-rows M [--json]
                                                                   a full build, then one new month built incrementally

Each runs in a database of its own (dropped afterwards) on the server ./run uses.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg2

from python_enrich import run_dbt
from python_enrich.cli_types import bounded_int, millisecond_range, rate_limit
from python_enrich.db import libpq_options_with_salt, temporary_database
from python_enrich.drain import Drain, DrainOptions
from python_enrich.envvars import environment
from python_enrich.load import load_file
from python_enrich.load.tables import PERFORMANCE
from python_enrich.normalization import normalize_company_name
from python_enrich.pgcluster import PrivateCluster, Server, ensure_server
from python_enrich.standins import sample
from python_enrich.standins.companies import build_companies
from python_enrich.standins.sandbox import SandboxConfig, SandboxServer
from python_enrich.tools.full_refresh_check import database_copy, differing_rows, model_checksums

RESOLUTION_MODEL_PREFIXES = ("model.company_enrichment.",)
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def parent_pid(pid: int) -> int | None:
    """A process's parent, from /proc (None once it has ended). The command name in `stat` is in
    parentheses and may hold spaces or parentheses itself: the fields after it are split."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


class ServerMemorySampler:
    """Peak proportional memory (PSS) of the private cluster's processes.

    Reading a process's PSS walks its page tables (about 3 ms for a backend that has mapped the
    shared buffers): read every 50 ms, it took a third of a core, and the GIL, from the 2-core
    build it measured; read every half second, it missed peaks (649–656 MB where 690–700 MB were
    seen). So every 50 ms only the processes' private resident memory is read (statm, microseconds),
    and their PSS when that reaches a new high (what a peak is made of: hash tables, sorts) and at
    least once a second."""

    INTERVAL_S = 0.05
    PSS_AT_LEAST_EVERY_S = 1.0
    NEW_HIGH_BYTES = 4 * 2**20  # a rise in private memory that reads PSS again

    def __init__(self, server: Server) -> None:
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.postmaster = self._find_postmaster(server)

    @staticmethod
    def _find_postmaster(server: Server) -> int | None:
        """The server's main process: from the private cluster's pid file, or else as the parent of
        this connection's backend when the server runs on this machine (PG* set); None otherwise."""
        pid_file = PrivateCluster().data / "postmaster.pid"
        try:
            if server.private and pid_file.exists():
                return int(pid_file.read_text().split()[0])
        except (OSError, ValueError):
            pass
        try:
            conn = psycopg2.connect()
            try:
                with conn.cursor() as cur:
                    cur.execute("select pg_backend_pid()")
                    backend = int(cur.fetchone()[0])
                return parent_pid(backend)
            finally:
                conn.close()
        except (OSError, ValueError, psycopg2.Error):
            return None  # a server on another machine: its memory is not ours to see

    def server_pids(self) -> list[int]:
        if not self.postmaster:
            return []
        # Every server process is the postmaster's child: the kernel lists them, where reading
        # every process's stat file costs a scan of /proc per sample.
        try:
            children = Path(f"/proc/{self.postmaster}/task/{self.postmaster}/children").read_text()
            return [self.postmaster, *map(int, children.split())]
        except (OSError, ValueError):
            pass
        others = (int(process.name) for process in Path("/proc").glob("[0-9]*"))
        return [self.postmaster, *(pid for pid in others if parent_pid(pid) == self.postmaster)]

    def _run(self) -> None:
        private_high, pss_read_at = -self.NEW_HIGH_BYTES, float("-inf")
        while True:
            pids = self.server_pids()
            private = self._private_bytes(pids)
            if (
                private >= private_high + self.NEW_HIGH_BYTES
                or time.monotonic() - pss_read_at >= self.PSS_AT_LEAST_EVERY_S
            ):
                private_high = max(private_high, private)
                self._read_pss(pids)
                pss_read_at = time.monotonic()
            if self._stop.wait(self.INTERVAL_S):
                break
        self._read_pss(self.server_pids())

    @staticmethod
    def _private_bytes(pids: list[int]) -> int:
        total = 0
        for pid in pids:
            try:
                resident, shared = Path(f"/proc/{pid}/statm").read_text().split()[1:3]
            except (OSError, ValueError):
                continue
            total += (int(resident) - int(shared)) * PAGE_BYTES
        return total

    def _read_pss(self, pids: list[int]) -> None:
        total = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                continue
        self.peak_bytes = max(self.peak_bytes, total)

    def __enter__(self) -> ServerMemorySampler:
        if self.postmaster:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def peak_mb(self) -> float | None:
        return round(self.peak_bytes / 2**20, 1) if self.postmaster else None


def _dbt(*args: str) -> Any:
    result = run_dbt.invoke([*args, "--quiet"])
    if not result.success:
        raise SystemExit(f"error: dbt {' '.join(args)} failed")
    return result


def bench_warehouse(rows: int, server: Server) -> dict[str, Any]:
    with temporary_database("wdh_bench"):
        sample.generate(rows, seed=42)
        _dbt("seed")
        # Creates the functions and state once; staging is incremental, so nothing of it is built here.
        _dbt("run", "--select", "int_company_id_overrides")
        started = time.perf_counter()
        with ServerMemorySampler(server) as memory:
            result = _dbt("run")
        wall = time.perf_counter() - started
        model_s = _model_seconds(result)
        conn = psycopg2.connect()
        with conn.cursor() as cur:
            cur.execute(
                "select count(distinct customer_name_normalized) from ("
                "select customer_name_normalized from staging.stg_annuity__performance union all "
                "select customer_name_normalized from staging.stg_annuity__income) as names"
            )
            distinct_names = cur.fetchone()[0]
            cur.execute(
                "select (select count(*) from marts.annuity_performance) + (select count(*) from marts.annuity_income)"
            )
            all_rows = cur.fetchone()[0]
        conn.close()
    return {
        "rows": rows,
        "rows_all_domains": all_rows,
        "distinct_names": distinct_names,
        "model_s": round(model_s, 2),
        "run_wall_s": round(wall, 2),
        "rows_per_s": round(rows / model_s) if model_s else None,
        "server_peak_mb": memory.peak_mb(),
        "slowest_models": _slowest_nodes(result),
    }


def _model_seconds(result: Any) -> float:
    return sum(
        r.execution_time for r in result.result.results if r.node.unique_id.startswith(RESOLUTION_MODEL_PREFIXES)
    )


def _slowest_nodes(result: Any, count: int = 6) -> dict[str, float]:
    """Where a dbt call's time went: its slowest nodes (models, or a test run's tests) and their seconds."""
    timed = sorted(result.result.results, key=lambda r: -r.execution_time)[:count]
    return {r.node.name: round(r.execution_time, 2) for r in timed}


NEW_MONTH = "202601"  # after the sample's 24 months


def _analyze() -> None:
    conn = psycopg2.connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("analyze")
    conn.close()


def bench_incremental(history_rows: int, month_rows: int, server: Server) -> dict[str, Any]:
    """A full build of the history, then one new month: its incremental dbt build, timed, and
    whether its marts equal a --full-refresh build started from the same state (a copy)."""
    with temporary_database("wdh_bench") as database:
        size = sample.generate(history_rows, seed=42)
        _dbt("seed")
        started = time.perf_counter()
        full = _dbt("run")
        full_wall = time.perf_counter() - started
        # The first build teaches the cache what existing codes say; the next finds it there (and
        # re-resolves those rows): a month arrives on a history built at least twice, and analyzed,
        # as autovacuum will have done in the weeks between two loads (the planner then knows the
        # history's batches; on fresh tables it guesses).
        _dbt("run")
        _analyze()
        month = sample.append_month(month_rows, NEW_MONTH)
        with database_copy(database) as copy:
            started = time.perf_counter()
            with ServerMemorySampler(server) as memory:
                month_run = _dbt("run")
            month_wall = time.perf_counter() - started
            started = time.perf_counter()
            month_tests = _dbt("test")
            month_tests_wall = time.perf_counter() - started
            with environment(PGDATABASE=copy):
                _dbt("run", "--full-refresh")
            incremental, refreshed = model_checksums(database), model_checksums(copy)
            differing = {model: differing_rows(database, copy, model) for model in incremental}
    return {
        "history_rows": size.performance_rows + size.income_rows,
        "month_rows": month.performance_rows + month.income_rows,
        "full_build_s": round(full_wall, 2),
        "full_model_s": round(_model_seconds(full), 2),
        "month_build_s": round(month_wall, 2),
        "month_model_s": round(_model_seconds(month_run), 2),
        "month_tests_s": round(month_tests_wall, 2),
        "month_slowest_models": _slowest_nodes(month_run),
        "month_slowest_tests": _slowest_nodes(month_tests),
        "identical_to_full_refresh": incremental == refreshed,
        "rows_differing_from_full_refresh": sum(differing.values()),
        "server_peak_mb": memory.peak_mb(),
    }


def realistic_names(count: int, seed: int = 1) -> list[str]:
    """Distinct names as clerks type them (the sample generator's variants)."""
    rng = random.Random(seed)
    companies = build_companies(max(100, count // 4), seed)
    names: set[str] = set()
    while len(names) < count:
        variant = sample.name_variant(rng, rng.choice(companies))
        if variant:
            names.add(variant)
    return sorted(names)


def bench_names(count: int) -> dict[str, Any]:
    names = realistic_names(count)
    with temporary_database("wdh_bench"):
        sample.generate(10, seed=1)
        _dbt("run", "--select", "stg_annuity__income")  # creates the functions
        conn = psycopg2.connect(options=libpq_options_with_salt("", "benchmark-salt"))
        with conn, conn.cursor() as cur:
            cur.execute("create temporary table names as select unnest(%s::text[]) as name", (names,))
            started = time.perf_counter()
            cur.execute("select count(enrichment.normalize_company_name(name)) from names")
            normalize_s = time.perf_counter() - started
            started = time.perf_counter()
            cur.execute("select count(enrichment.temp_company_id(name)) from names")
            both_s = time.perf_counter() - started
        conn.close()
    return {
        "names": count,
        "normalize_s": round(normalize_s, 3),
        "normalize_names_per_s": round(count / normalize_s),
        "normalize_and_hash_s": round(both_s, 3),
        "normalize_and_hash_names_per_s": round(count / both_s),
    }


def bench_drain(
    names: int, rate_limit: tuple[int, float], latency_ms: tuple[int, int], concurrency: int
) -> dict[str, Any]:
    companies = build_companies(max(names * 2, 100), seed=42)
    queued = list(dict.fromkeys(normalize_company_name(c.name) for c in companies))[:names]
    config = SandboxConfig(companies=len(companies), seed=42, latency_ms={"search": latency_ms}, rate_limit=rate_limit)
    with temporary_database("wdh_bench"):
        _dbt("run-operation", "setup_enrichment_state")
        conn = psycopg2.connect()
        with conn, conn.cursor() as cur:
            cur.executemany(
                "insert into enrichment.enrichment_requests (normalized_name, raw_name_example) values (%s, %s)",
                [(name, name) for name in queued],
            )
        conn.close()
        with SandboxServer(config) as sandbox:
            options = DrainOptions(
                budget=names, concurrency=concurrency, rate_limit=rate_limit, base_url=sandbox.url, progress="log"
            )
            started = time.perf_counter()
            stats = Drain(options, sandbox.issue_token()).run()
            wall = time.perf_counter() - started
            counts = sandbox.stats()["counts"]
    search_calls = sum(counts.get("search", {}).values())
    all_calls = sum(sum(by_status.values()) for by_status in counts.values())
    limit, window = rate_limit
    # With a sliding window, the k-th call can start no earlier than floor((k-1)/R) windows in,
    # and the last one still takes the minimum latency.
    lower_bound = ((all_calls - 1) // limit) * window + latency_ms[0] / 1000
    return {
        "names": names,
        "calls": search_calls,
        "check_calls": sum(counts.get("searchAll", {}).values()),
        "wall_s": round(wall, 2),
        "lower_bound_s": round(lower_bound, 2),
        "efficiency": round(lower_bound / wall, 3),
        "calls_per_name": round(search_calls / names, 3),
        "found": stats.found,
        "not_found": stats.not_found,
        "errors": stats.retried_later + stats.failed,
        "rate_limit": f"{limit}/{window:g}",
        "latency_ms": f"{latency_ms[0]}..{latency_ms[1]}",
        "concurrency": concurrency,
    }


def bench_load(rows: int, file_format: str) -> dict[str, Any]:
    """Rows per second the loader reads, maps and COPYs from a sample export (and again, replacing)."""
    _, performance, _ = sample.sample_rows(rows, seed=42)
    with tempfile.TemporaryDirectory() as directory, temporary_database("wdh_bench"):
        path = Path(directory) / f"performance.{file_format}"
        if file_format == "csv":
            sample.write_csv(path, PERFORMANCE, performance)
        else:
            sample.write_workbook(path, PERFORMANCE, performance)
        file_mb = round(path.stat().st_size / 2**20, 1)
        started = time.perf_counter()
        load_file(PERFORMANCE.name, path, dry_run=True)
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        load_file(PERFORMANCE.name, path)
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        again = load_file(PERFORMANCE.name, path)
        reload_s = time.perf_counter() - started
    return {
        "rows": rows,
        "format": file_format,
        "file_mb": file_mb,
        "read_and_parse_s": round(read_s, 2),
        "load_s": round(load_s, 2),
        "rows_per_s": round(rows / load_s),
        "reload_s": round(reload_s, 2),
        "reload_replaced_rows": again.replaced,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m python_enrich.bench",
        description=__doc__.splitlines()[0] + " Each benchmark prints its figures (--json: one JSON object).",
    )
    at_least_one = bounded_int(1)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{names,warehouse,drain,load,incremental}")
    names = commands.add_parser(
        "names", help="distinct names per second normalized and hashed in PostgreSQL",
        description="Distinct names per second the SQL normalizer and temp-id hash handle (a fresh database).",
    )  # fmt: skip
    names.add_argument(
        "--names", type=at_least_one, default=100_000, help="distinct names to generate (default: 100000)"
    )
    names.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    warehouse = commands.add_parser(
        "warehouse", help="the resolution models on N generated rows",
        description="dbt seed + build on N generated performance rows (plus N/3 income rows) in a fresh database.",
    )  # fmt: skip
    warehouse.add_argument(
        "--rows",
        type=at_least_one,
        default=sample.DEFAULT_ROWS,
        help=f"performance rows (default: {sample.DEFAULT_ROWS})",
    )
    warehouse.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    drain_bench = commands.add_parser(
        "drain", help="the drain against a sandbox with latency and a rate limit",
        description="Queue N names and drain them through a sandbox it starts; compares the wall time with "
        "the lower bound the rate limit forces.",
    )  # fmt: skip
    drain_bench.add_argument("--names", type=at_least_one, default=600, help="names to look up (default: 600)")
    drain_bench.add_argument(
        "--rate-limit", type=rate_limit, default=(60, 60.0), metavar="R/W",
        help="at most R calls per W seconds, for the sandbox and the drain (default: 60/60)",
    )  # fmt: skip
    drain_bench.add_argument(
        "--latency-ms", type=millisecond_range, default=(500, 2000), metavar="MIN..MAX",
        help="the sandbox's answer time per call in milliseconds (default: 500..2000)",
    )  # fmt: skip
    drain_bench.add_argument("--concurrency", type=at_least_one, default=4, help="requests in flight (default: 4)")
    drain_bench.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    load_bench = commands.add_parser(
        "load", help="the loader on a generated performance export (CSV or workbook)",
        description="Write a generated performance export, then load it twice (the second load replaces its months).",
    )  # fmt: skip
    load_bench.add_argument("--rows", type=at_least_one, default=300_000, help="rows in the export (default: 300000)")
    load_bench.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="file format (default: csv)")
    load_bench.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    incremental = commands.add_parser(
        "incremental", help="a full build, then one new month built incrementally",
        description="Build N generated history rows in full, add one month of M rows (both tables), build "
        "it incrementally (timed) and compare its marts with a --full-refresh build of the same state.",
    )  # fmt: skip
    incremental.add_argument(
        "--history-rows", type=at_least_one, default=300_000, help="performance rows of history (default: 300000)"
    )
    incremental.add_argument(
        "--month-rows", type=at_least_one, default=41_000, help="rows of the new month, both tables (default: 41000)"
    )
    incremental.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    server = ensure_server()
    if args.command == "names":
        figures = bench_names(args.names)
    elif args.command == "warehouse":
        figures = bench_warehouse(args.rows, server)
    elif args.command == "incremental":
        figures = bench_incremental(args.history_rows, args.month_rows, server)
    elif args.command == "load":
        figures = bench_load(args.rows, args.format)
    else:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
        figures = bench_drain(args.names, args.rate_limit, args.latency_ms, args.concurrency)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>32}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
