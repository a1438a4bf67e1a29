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


def _identifier(model: str) -> sql.Identifier:
    schema, table = model.split(".")
    return sql.Identifier(schema, table)


@dataclass(frozen=True)
class ModelChecksum:
    rows: int
    checksum: str | None  # md5 over the rows' sorted md5s; None for an empty model


def model_checksums(database: str) -> dict[str, ModelChecksum]:
    """Row count and checksum of every incrementally built model, by its schema-qualified name."""
    conn = psycopg2.connect(dbname=database)
    try:
        with conn, conn.cursor() as cur:
            sums = {}
            for model in INCREMENTAL_MODELS:
                cur.execute(
                    sql.SQL(
                        "select count(*), md5(string_agg(h, '' order by h)) "
                        "from (select md5(cast(t as text)) as h from {} as t) as hashed"
                    ).format(_identifier(model))
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
                cur.execute(sql.SQL("select md5(cast(t as text)) from {} as t").format(_identifier(model)))
                return {h for (h,) in cur.fetchall()}
        finally:
            conn.close()

    return len(row_hashes(database) ^ row_hashes(other))


@contextlib.contextmanager
def database_copy(database: str) -> Iterator[str]:
    """The name of a copy of the database as it stands now, dropped after the block."""
    name = f"{database[:40]}_copy_{secrets.token_hex(3)}"
    admin = psycopg2.connect(dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            # A template must have no other session: dbt's pool may keep one open after a run.
            cur.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
                (database,),
            )
            create = sql.SQL("create database {} template {}")
            cur.execute(create.format(sql.Identifier(name), sql.Identifier(database)))
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        admin.close()
