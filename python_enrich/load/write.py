"""Writing a file's rows into its raw table: one transaction, COPY, idempotent per month.

Loading a month again replaces that month's rows, whichever file brought them. A row whose 月度 is
not a recognisable month belongs to the months of the file it came from (its key carries that
file's hash): it is replaced when one of those months is loaded again. Nothing is half-written: any
error rolls the whole load back.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pandas as pd
from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from python_enrich.load.cells import parse_month
from python_enrich.load.read import SourceTable
from python_enrich.load.tables import BATCH_ID, LOADED_AT, MONTH, ROW_KEY, SOURCE_FILE, ColumnMapping, RawTable

RAW_SCHEMA = "raw"


@dataclass
class PlannedLoad:
    """What a file would write: its rows in raw columns, and the month of each row."""

    table: RawTable
    source: SourceTable
    mapping: ColumnMapping
    rows: pd.DataFrame  # raw column names; plus _source_file and _row_key (the batch columns at write)
    months: Counter[date]  # rows per month
    monthless: list[tuple[int, str]]  # (row number, cell) of rows without a recognisable month


def plan_load(table: RawTable, source: SourceTable, mapping: ColumnMapping) -> PlannedLoad:
    positions = {column: source.headers.index(header) for header, column in mapping.mapped.items()}
    rows = pd.DataFrame({column: source.frame.iloc[:, position] for column, position in positions.items()})
    rows[SOURCE_FILE] = source.source_name
    rows[ROW_KEY] = [f"{source.digest}:{number}" for number in source.frame.index]
    month_of = {value: parse_month(value) for value in rows[MONTH].unique()}
    parsed = rows[MONTH].map(month_of)
    missing = parsed.isna()
    months = Counter({month: int(count) for month, count in parsed[~missing].value_counts().items()})
    monthless = [(int(n), str(v)) for n, v in rows.loc[missing, MONTH].items()]
    return PlannedLoad(table, source, mapping, rows, months, monthless)


def _identifier(name: str) -> sql.Composable:
    return sql.Identifier(RAW_SCHEMA, name)


def ensure_raw_table(cur: object, table: RawTable) -> None:
    """Create the raw table, or add the columns an older or user-made one lacks (all text)."""
    columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in table.all_columns)
    cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(RAW_SCHEMA)))  # type: ignore[attr-defined]
    cur.execute(sql.SQL("create table if not exists {} ({})").format(_identifier(table.name), columns))  # type: ignore[attr-defined]
    cur.execute(  # type: ignore[attr-defined]
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
        (RAW_SCHEMA, table.name),
    )
    present = {name for (name,) in cur.fetchall()}  # type: ignore[attr-defined]
    for column in table.all_columns:
        if column not in present:  # altering takes an exclusive lock: only when needed
            cur.execute(  # type: ignore[attr-defined]
                sql.SQL("alter table {} add column {} text").format(_identifier(table.name), sql.Identifier(column))
            )


def _replaced_rows(cur: object, plan: PlannedLoad) -> tuple[sql.Composable, dict[str, list[str]]]:
    """The condition (and its parameters) that selects the rows a load of `plan` replaces."""
    cur.execute(sql.SQL("select distinct {} from {}").format(sql.Identifier(MONTH), _identifier(plan.table.name)))  # type: ignore[attr-defined]
    existing = [value for (value,) in cur.fetchall()]  # type: ignore[attr-defined]
    in_loaded_months = [v for v in existing if v is not None and parse_month(v) in plan.months]
    monthless = [v for v in existing if v is not None and parse_month(v) is None]
    condition = sql.SQL(
        "{month} = any(%(months)s) or (({month} is null or {month} = any(%(monthless)s))"
        " and split_part({key}, ':', 1) in ("
        "select split_part({key}, ':', 1) from {table} where {month} = any(%(months)s)))"
    ).format(table=_identifier(plan.table.name), month=sql.Identifier(MONTH), key=sql.Identifier(ROW_KEY))
    return condition, {"months": in_loaded_months, "monthless": monthless}


def _replace_months(cur: object, plan: PlannedLoad) -> int:
    """Delete the rows the load replaces; returns how many."""
    condition, params = _replaced_rows(cur, plan)
    cur.execute(sql.SQL("delete from {} where ").format(_identifier(plan.table.name)) + condition, params)  # type: ignore[attr-defined]
    return int(cur.rowcount)  # type: ignore[attr-defined]


def count_replaced(conn: Connection, plan: PlannedLoad) -> Counter[str]:
    """Rows loaded before that a load of `plan` would replace, per source file; writes nothing."""
    with conn, conn.cursor() as cur:
        cur.execute("select to_regclass(%s)", (f"{RAW_SCHEMA}.{plan.table.name}",))
        if cur.fetchone()[0] is None:
            return Counter()
        needed = [SOURCE_FILE, ROW_KEY, MONTH]
        cur.execute(
            "select count(*) from information_schema.columns where table_schema = %s and table_name = %s"
            " and column_name = any(%s)",
            (RAW_SCHEMA, plan.table.name, needed),
        )
        if cur.fetchone()[0] < len(needed):  # a user's own table the loader has not filled yet
            return Counter()
        condition, params = _replaced_rows(cur, plan)
        cur.execute(
            sql.SQL("select {source}, count(*) from {table} where ").format(
                source=sql.Identifier(SOURCE_FILE), table=_identifier(plan.table.name)
            )
            + condition
            + sql.SQL(" group by 1"),
            params,
        )
        return Counter({source or "": int(count) for source, count in cur.fetchall()})


def _copy(cur: object, plan: PlannedLoad) -> None:
    buffer = io.StringIO()
    # Empty cells travel as unquoted empty fields, which COPY ... csv reads as NULL.
    plan.rows.to_csv(buffer, header=False, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    buffer.seek(0)
    statement = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
        _identifier(plan.table.name), sql.SQL(", ").join(sql.Identifier(c) for c in plan.rows.columns)
    )
    cur.copy_expert(statement, buffer)  # type: ignore[attr-defined]


def new_batch_id() -> str:
    """A load's batch id: unique per load, so staging tells a reloaded month from the one it parsed."""
    return uuid.uuid4().hex


def write_load(conn: Connection, plan: PlannedLoad) -> int:
    """Replace the file's months and COPY its rows, in one transaction; returns the rows replaced."""
    plan.rows[BATCH_ID] = new_batch_id()
    plan.rows[LOADED_AT] = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    with conn, conn.cursor() as cur:
        ensure_raw_table(cur, plan.table)
        # One load at a time per table; readers (dbt) go on meanwhile.
        cur.execute(sql.SQL("lock table {} in share row exclusive mode").format(_identifier(plan.table.name)))
        replaced = _replace_months(cur, plan)
        _copy(cur, plan)
        cur.execute(sql.SQL("analyze {}").format(_identifier(plan.table.name)))
    return replaced
