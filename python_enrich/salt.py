"""The temp-id salt the state was built with: check it, or rotate it deliberately.

    python -m python_enrich.salt status            does WDH_ALIAS_SALT match the state? (exit 0 / 1)
    python -m python_enrich.salt rotate [--dry-run]   re-key every temporary id to WDH_ALIAS_SALT

The state keeps the salt once (enrichment.temp_id_salt, readable by its owner only) and compares
fingerprints, never salts: md5 over a label, the state's random pepper and the salt (the same value
macros/run_start_checks.sql computes with dbt's local_md5).  The salt reaches PostgreSQL only as the
connection setting wdh.alias_salt in libpq's PGOPTIONS, never in SQL text.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass

import psycopg2
from psycopg2.extensions import connection as Connection

from python_enrich.db import connect
from python_enrich.errors import first_line
from python_enrich.request_queue import SCHEMA
from python_enrich.temp_id import SALT_ENV_VAR, salt_from_env

FINGERPRINT_LABEL = "company_enrichment temp-id salt:"
ROTATE_HINT = "re-key every temporary id to the new one with `python -m python_enrich.salt rotate`"


class SaltMismatch(RuntimeError):
    """WDH_ALIAS_SALT is not the salt the state was built with; the message says what to do."""


def fingerprint(pepper: str, salt: str) -> str:
    return hashlib.md5(f"{FINGERPRINT_LABEL}{pepper}:{salt}".encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class SaltStatus:
    stored: bool  # False: no build has stored a salt yet (or the state predates it)
    pepper: str = ""
    fingerprint: str = ""


def state_status(conn: Connection) -> SaltStatus:
    """What the state knows of its salt; SaltStatus(False) when it has no salt table yet."""
    with conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null", (f"{SCHEMA}.temp_id_salt",))
        if not cur.fetchone()[0]:
            return SaltStatus(stored=False)
        cur.execute(f"select stored, pepper, coalesce(fingerprint, '') from {SCHEMA}.temp_id_salt_status()")  # noqa: S608
        row = cur.fetchone()
    return SaltStatus(stored=bool(row[0]), pepper=row[1], fingerprint=row[2]) if row else SaltStatus(stored=False)


def mismatch_message(status: SaltStatus, salt: str, env_set: bool) -> str | None:
    """One line when `salt` is not the state's, else None."""
    if not status.stored:
        return None
    yours = fingerprint(status.pepper, salt)
    if yours == status.fingerprint:
        return None
    what = f"{SALT_ENV_VAR} (fingerprint" if env_set else f"{SALT_ENV_VAR} is not set (the public default, fingerprint"
    return (
        f"{what} {yours[:8]}) differs from the salt this state's temporary ids were made with (fingerprint "
        f"{status.fingerprint[:8]}): nothing was changed. Export the original {SALT_ENV_VAR}, or {ROTATE_HINT}."
    )


def check_matches_state() -> SaltStatus:
    """Raise SaltMismatch when WDH_ALIAS_SALT differs from the state's salt (before anything writes).

    A database without state, or whose state has no salt yet, passes: the next build stores it.
    """
    conn = connect()
    try:
        status = state_status(conn)
    finally:
        conn.close()
    message = mismatch_message(status, salt_from_env(), env_set=_env_salt_set())
    if message:
        raise SaltMismatch(message)
    return status


def _env_salt_set() -> bool:
    return bool(os.environ.get(SALT_ENV_VAR))


def rotate(dry_run: bool) -> dict[str, object]:
    """Re-key every temporary id to WDH_ALIAS_SALT in one transaction; old -> new in temp_id_rotations."""
    if not _env_salt_set():
        raise SaltMismatch(f"set {SALT_ENV_VAR} to the new salt first (rotating to the public default is refused)")
    conn = connect(with_salt=True)
    try:
        with conn, conn.cursor() as cur:
            status = state_status(conn)
            if not status.stored:
                raise SaltMismatch("this database has no temp-id salt stored yet: run `./run dbt build` first")
            unchanged = fingerprint(status.pepper, salt_from_env()) == status.fingerprint
            cur.execute(f"select {SCHEMA}.rotate_temp_id_salt(%s)", (dry_run,))
            rekeyed = int(cur.fetchone()[0])
            result: dict[str, object] = {
                "rekeyed": 0 if unchanged else rekeyed,
                "dry_run": dry_run,
                "unchanged": unchanged,
                "old_fingerprint": status.fingerprint[:8],
            }
            if not dry_run and not unchanged:
                cur.execute(
                    f"insert into {SCHEMA}.run_log (run_kind, finished_at, status, details) "  # noqa: S608
                    "values ('salt', now(), 'success', %s)",
                    (json.dumps(result),),
                )
    finally:
        conn.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m python_enrich.salt",
        description=f"Check {SALT_ENV_VAR} against the salt the enrichment state was built with, or rotate it: "
        "re-key every temporary id (old -> new recorded in enrichment.temp_id_rotations) in one transaction. "
        "Exit codes: 0 ok, 1 the salt differs (status), 2 error.",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("status", help="does WDH_ALIAS_SALT match the state? (exit 0 yes, 1 no)")
    rotate_parser = sub.add_parser(
        "rotate", help="re-key every temporary id to the salt now in WDH_ALIAS_SALT (then run ./run dbt build)"
    )
    rotate_parser.add_argument("--dry-run", action="store_true", help="count what would be re-keyed; change nothing")
    args = parser.parse_args(argv)
    try:
        if args.action == "status":
            try:
                status = check_matches_state()
            except SaltMismatch as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
            default = "" if _env_salt_set() else " (the PUBLIC default: set your own secret)"
            if status.stored:
                print(f"{SALT_ENV_VAR} matches the state's salt (fingerprint {status.fingerprint[:8]}){default}")
            else:
                print(f"no temp-id salt is stored yet: the next ./run dbt build stores {SALT_ENV_VAR}{default}")
            return 0
        result = rotate(args.dry_run)
    except SaltMismatch as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except psycopg2.Error as error:
        print(f"error: salt {args.action} failed, nothing was changed: {first_line(error)}", file=sys.stderr)
        return 2
    if result["unchanged"]:
        print(f"{SALT_ENV_VAR} already is the state's salt: nothing to re-key")
    elif result["dry_run"]:
        print(f"would re-key {result['rekeyed']:,} temporary ids (dry run: nothing changed)")
    else:
        print(
            f"re-keyed {result['rekeyed']:,} temporary ids (old -> new in {SCHEMA}.temp_id_rotations); "
            "run ./run dbt build to rebuild the tables that carry them"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
