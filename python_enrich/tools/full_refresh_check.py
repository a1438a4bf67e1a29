"""Does an incremental build give the marts a full refresh would? (bench and tests use this.)

A full refresh of "the same state" must start from the state the incremental build started from:
a build writes durable state (learned keys into the cache, names into the queue), so the check
copies the database first (`create database … template …`) and builds --full-refresh in the copy.
The incremental models (the marts and the per-key answers they are built from) are compared row
by row through checksums.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

# The models built incrementally after staging: the marts users query, and the per-key answers
# that the other marts are built from (tables rebuilt whole by every build).
INCREMENTAL_MODELS = (
    "marts.annuity_performance",
    "marts.annuity_income",
    "intermediate.int_annuity_performance__company_keys",
    "intermediate.int_annuity_income__company_keys",
    "intermediate.int_existing_code_backflow",
)

# Build bookkeeping, not results: the transaction that wrote a key differs from a full refresh's.
BOOKKEEPING_COLUMNS = frozenset({"resolved_in_transaction"})


def _identifier(model: str) -> sql.Identifier:
    schema, table = model.split(".")
    return sql.Identifier(schema, table)


@dataclass(frozen=True)
class ModelChecksum:
    rows: int
    checksum: str | None  # md5 over the rows' sorted md5s; None for an empty model


def _row_hashes(cur: psycopg2.extensions.cursor, model: str) -> sql.Composed:
    """A query of one md5 per row of the model, over every column but the bookkeeping ones."""
    schema, table = model.split(".")
    cur.execute(
        "select column_name from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        (schema, table),
    )
    columns = [sql.Identifier("t", name) for (name,) in cur.fetchall() if name not in BOOKKEEPING_COLUMNS]
    return sql.SQL("select md5(cast(row({}) as text)) as h from {} as t").format(
        sql.SQL(", ").join(columns), _identifier(model)
    )


def model_checksums(database: str) -> dict[str, ModelChecksum]:
    """Row count and checksum of every incrementally built model, by its schema-qualified name."""
    conn = psycopg2.connect(dbname=database)
    try:
        with conn, conn.cursor() as cur:
            sums = {}
            for model in INCREMENTAL_MODELS:
                cur.execute(
                    sql.SQL("select count(*), md5(string_agg(h, '' order by h)) from ({}) as hashed").format(
                        _row_hashes(cur, model)
                    )
                )
                rows, checksum = cur.fetchone()
                sums[model] = ModelChecksum(int(rows), checksum)
            return sums
    finally:
        conn.close()


def differing_rows(database: str, other: str, model: str) -> int:
    """Rows of a model ("schema.table") that one database has and the other has not (for a readable failure)."""

    def row_hashes(name: str) -> set[str]:
        conn = psycopg2.connect(dbname=name)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(_row_hashes(cur, model))
                return {h for (h,) in cur.fetchall()}
        finally:
            conn.close()

    return len(row_hashes(database) ^ row_hashes(other))


@contextlib.contextmanager
def database_copy(database: str, name: str | None = None) -> Iterator[str]:
    """The name of a copy of the database as it stands now, dropped after the block. A caller that
    copies the same database again and again can give the copy one name (a copy left by a killed
    run is dropped first): dbt parses a project again whenever the database's name changes."""
    name = name or f"{database[:40]}_copy_{secrets.token_hex(3)}"
    admin = psycopg2.connect(dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            # A template must have no other session: dbt's pool may keep one open after a run.
            cur.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
                (database,),
            )
            cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
            create = sql.SQL("create database {} template {}")
            cur.execute(create.format(sql.Identifier(name), sql.Identifier(database)))
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        admin.close()
