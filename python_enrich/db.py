"""Database connections for the Python side: the standard libpq PG* variables, nothing else."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
from psycopg2.extensions import connection as Connection

from python_enrich.envvars import environment
from python_enrich.temp_id import SALT_ENV_VAR, SALT_SETTING


def libpq_options_with_salt(existing: str = "", salt: str | None = None) -> str:
    """PGOPTIONS text that also sets the temp-id salt as a session setting.

    The salt travels in the connection start-up packet, so it is in no SQL text, log line or
    command line.  libpq splits options on spaces; backslash escapes spaces and backslashes.
    """
    salt = os.environ.get(SALT_ENV_VAR, "") if salt is None else salt
    if not salt:
        return existing
    escaped = salt.replace("\\", "\\\\").replace(" ", "\\ ")
    return f"{existing} -c {SALT_SETTING}={escaped}".strip()


def env_with_salt(base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment whose PGOPTIONS carries the salt (for dbt and other clients)."""
    env = dict(os.environ if base is None else base)
    env["PGOPTIONS"] = libpq_options_with_salt(env.get("PGOPTIONS", ""), env.get(SALT_ENV_VAR, ""))
    if not env["PGOPTIONS"]:
        del env["PGOPTIONS"]
    return env


def use_private_cluster_if_unset() -> None:
    """With no PG* variable set, point them at the project's private cluster when it is running,
    so that `python -m python_enrich.…` works without ./run once the cluster exists."""
    from python_enrich.pgcluster import PrivateCluster, external_server_requested

    if external_server_requested():
        return
    cluster = PrivateCluster()
    if cluster.port() is not None and (cluster.data / "postmaster.pid").exists():
        os.environ.update(cluster.server().env())


def connect(*, with_salt: bool = False, **overrides: object) -> Connection:
    """A psycopg2 connection from the PG* variables (optionally with the salt setting)."""
    use_private_cluster_if_unset()
    if with_salt:
        overrides.setdefault("options", libpq_options_with_salt(os.environ.get("PGOPTIONS", "")))
    return psycopg2.connect(connect_timeout=10, **overrides)


@contextmanager
def cursor(**overrides: object) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor in one committed transaction; the connection is closed afterwards."""
    conn = connect(**overrides)
    try:
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


@contextmanager
def temporary_database(prefix: str) -> Iterator[str]:
    """A new empty UTF8 database, selected through PGDATABASE while the block runs, then dropped."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = psycopg2.connect(dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"create database \"{name}\" template template0 encoding 'UTF8'")
    try:
        with environment(PGDATABASE=name):
            yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()
