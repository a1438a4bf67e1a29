"""Before anything is claimed: the state tables, the token, a connection per worker; and the dry run's preview."""

from __future__ import annotations

from typing import Any

import psycopg2

from python_enrich import db
from python_enrich.cache_recheck import due_rechecks
from python_enrich.drain.decisions import (
    EXIT_TOKEN,
)
from python_enrich.drain.options import CAPTURE_COMMAND, DrainOptions, DrainSetupError, DrainStats
from python_enrich.eqc.client import (
    EQCClient,
    EQCError,
    TokenExpired,
)
from python_enrich.errors import first_line
from python_enrich.request_queue import DUE_CONDITION, SCHEMA, SharedRateLimit
from python_enrich.safe_output import for_terminal


def check_state_tables(conn: Any) -> tuple[int, int]:
    """The requests due now and the unverified cache entries due for a re-check."""
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
        queue_total = cur.fetchone()[0]
        return queue_total, due_rechecks(cur)


def check_token(conn: Any, token: str | None, options: DrainOptions, stats: DrainStats, run_id: int | None) -> None:
    if not token:
        raise DrainSetupError(f"no EQC token: run {CAPTURE_COMMAND} (or set WDH_EQC_TOKEN)")
    limiter = SharedRateLimit(conn, *options.rate_limit, run_id=run_id)

    def throttle() -> bool:  # the check counts against the rate limit, so it counts as a call
        if not limiter.acquire():
            return False
        stats.add(calls=1)
        return True

    client = EQCClient(token, options.base_url, options.timeout_s, throttle=throttle)
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


def open_worker_connections(conn: Any, wanted: int) -> list[Any]:
    """One connection per worker, all opened before any claim: a server that cannot serve
    --concurrency connections ends the run here, with nothing claimed."""
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


def preview(limit: int) -> list[tuple[Any, ...]]:
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
