"""What the sensor looks at in the warehouse: the months loaded, and the names waiting for lookup.

A month counts as loaded by the set of files that brought its rows (the loader's `_row_key` starts
with the file's hash), so a month loaded for the first time and a month replaced from another file
both change its fingerprint; loading the same file again changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from python_enrich.load.cells import parse_month
from python_enrich.load.tables import MONTH, ROW_KEY, TABLES
from python_enrich.load.write import RAW_SCHEMA
from python_enrich.request_queue import DUE_CONDITION, SCHEMA


def loaded_months(conn: Connection) -> dict[str, str]:
    """'table:YYYY-MM' -> a fingerprint of the files its rows came from, for every raw table present."""
    files: dict[str, set[str]] = defaultdict(set)
    with conn.cursor() as cur:
        for table in TABLES:
            cur.execute("select to_regclass(%s)", (f"{RAW_SCHEMA}.{table}",))
            if cur.fetchone()[0] is None:
                continue
            cur.execute(
                sql.SQL("select distinct {month}, split_part({key}, ':', 1) from {table}").format(
                    month=sql.Identifier(MONTH), key=sql.Identifier(ROW_KEY), table=sql.Identifier(RAW_SCHEMA, table)
                )
            )
            for cell, file_hash in cur.fetchall():
                month = parse_month(cell)
                if month is not None:  # rows without a month belong to their file's months
                    files[f"{table}:{month:%Y-%m}"].add(file_hash or "")
    conn.rollback()
    return {key: hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()[:16] for key, hashes in files.items()}


@dataclass(frozen=True)
class WaitingNames:
    due: int  # requests a drain would claim now
    newest_request_id: int  # the highest request id among them (0 when none)


def waiting_names(conn: Connection) -> WaitingNames:
    """Names waiting for lookup; none when the state tables do not exist yet."""
    with conn.cursor() as cur:
        cur.execute("select to_regclass(%s)", (f"{SCHEMA}.enrichment_requests",))
        if cur.fetchone()[0] is None:
            conn.rollback()
            return WaitingNames(0, 0)
        cur.execute(
            f"select count(*), coalesce(max(request_id), 0) from {SCHEMA}.enrichment_requests where {DUE_CONDITION}"  # noqa: S608
        )
        due, newest = cur.fetchone()
    conn.rollback()
    return WaitingNames(int(due), int(newest))


def changed_months(before: dict[str, str], now: dict[str, str]) -> list[str]:
    """Months loaded for the first time or replaced since `before`, sorted."""
    return sorted(key for key, fingerprint in now.items() if before.get(key) != fingerprint)
