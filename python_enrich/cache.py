"""Copy the old warehouse's cache into ours, re-keyed with our normalizer.

    python -m python_enrich.cache import [--schema enterprise] [--table enrichment_index] [--dry-run]

Reads lookup_key, lookup_type (plan_code / customer_name / plan_customer / former_name), company_id,
confidence and source from the old table on the same server, normalizes every name part of the key,
and upserts into enrichment.company_name_index without ever replacing a more confident entry or a
verified one, and leaves out entries a re-check retired. Imported entries carry no evidence: they are
unverified (never outrank a row's own real code) until the drain re-checks them.
Rows whose company id is not a real id (1-20 ASCII digits, not all zeros) or whose confidence is
NULL, not a number (NaN) or outside 0..1 are skipped.  Reports what it imported and what it
skipped, by reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import psycopg2
from psycopg2 import sql

from python_enrich.db import connect
from python_enrich.eqc.answers import is_company_id
from python_enrich.errors import first_line
from python_enrich.normalization import normalize_company_name
from python_enrich.request_queue import SCHEMA, upsert_cache
from python_enrich.safe_output import for_terminal

NAME_TYPES = ("customer_name", "former_name")


@dataclass(frozen=True)
class CacheEntry:
    key_type: str
    lookup_key: str
    company_id: str
    confidence: Decimal
    match_type: str


def rekey(lookup_type: str, lookup_key: Any) -> tuple[str, str] | str:
    """(key_type, our lookup key), or the reason the old key cannot be used."""
    if not isinstance(lookup_key, str) or not lookup_key.strip():
        return "empty lookup_key"
    if lookup_type == "plan_code":
        return "plan_code", lookup_key.strip().upper()
    if lookup_type in NAME_TYPES:
        normalized = normalize_company_name(lookup_key)
        return (lookup_type, normalized) if normalized else "name normalizes to empty"
    if lookup_type == "plan_customer":
        plan, separator, name = lookup_key.partition("|")
        normalized = normalize_company_name(name)
        if not separator or not plan.strip() or not normalized:
            return "plan_customer key is not PLAN|NAME"
        return "plan_customer", f"{plan.strip().upper()}|{normalized}"
    return f"unknown lookup_type {lookup_type!r}"


def confidence_level(value: Any) -> Decimal | str:
    """The confidence as a Decimal in 0..1, or the reason it is unusable."""
    if value is None:
        return "confidence is NULL"
    try:
        level = Decimal(str(value).strip())
    except InvalidOperation:
        return "confidence is not a number"
    if not level.is_finite():
        return "confidence is NaN or infinite"
    if not Decimal(0) <= level <= Decimal(1):
        return "confidence outside 0..1"
    return level


def convert(rows: list[tuple[Any, ...]]) -> tuple[list[CacheEntry], Counter[str]]:
    """Old rows → our entries (one per key, the most confident), plus skip reasons."""
    skipped: Counter[str] = Counter()
    best: dict[tuple[str, str], CacheEntry] = {}
    tied: set[tuple[str, str]] = set()
    for lookup_key, lookup_type, company_id, confidence, source in rows:
        key = rekey(str(lookup_type or ""), lookup_key)
        if isinstance(key, str):
            skipped[key] += 1
            continue
        company = company_id.strip() if isinstance(company_id, str) else company_id
        if not is_company_id(company):
            skipped["company_id is not a real id (1-20 digits, not all zeros)"] += 1
            continue
        level = confidence_level(confidence)
        if isinstance(level, str):
            skipped[level] += 1
            continue
        entry = CacheEntry(key[0], key[1], str(company), level, f"legacy:{source or 'unknown'}"[:60])
        current = best.get(key)
        if current is None or entry.confidence > current.confidence:
            best[key] = entry
            tied.discard(key)
        elif entry.confidence == current.confidence and entry.company_id != current.company_id:
            tied.add(key)
        else:
            skipped["duplicate after re-keying (a more confident entry kept)"] += 1
    for key in tied:
        del best[key]
        skipped["keys that re-key alike with different ids (left out)"] += 1
    return list(best.values()), skipped


def keep_importable(cur: Any, entries: list[CacheEntry], skipped: Counter[str]) -> list[CacheEntry]:
    """What we inherit never replaces what we checked: entries whose key a verified entry holds,
    and entries a re-check retired (same key, same id), are left out."""
    cur.execute(
        f"select key_type, lookup_key, null from {SCHEMA}.company_name_index where is_verified "  # noqa: S608
        f"union all select key_type, lookup_key, company_id from {SCHEMA}.retired_cache_entries"
    )
    verified: set[tuple[str, str]] = set()
    retired: set[tuple[str, str, str]] = set()
    for key_type, lookup_key, company_id in cur.fetchall():
        if company_id is None:
            verified.add((key_type, lookup_key))
        else:
            retired.add((key_type, lookup_key, company_id))
    kept = []
    for entry in entries:
        if (entry.key_type, entry.lookup_key) in verified:
            skipped["a verified entry holds the key (kept)"] += 1
        elif (entry.key_type, entry.lookup_key, entry.company_id) in retired:
            skipped["retired by a re-check (the registry contradicted it)"] += 1
        else:
            kept.append(entry)
    return kept


def import_cache(schema: str, table: str, dry_run: bool = False) -> dict[str, Any]:
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "select to_regclass(%s), to_regclass(%s)", (f"{schema}.{table}", f"{SCHEMA}.company_name_index")
            )
            old_table, our_table = cur.fetchone()
            if old_table is None:
                raise LookupError(f"table {schema}.{table} not found in database {conn.info.dbname}")
            if our_table is None:
                raise LookupError("the enrichment state does not exist yet: run dbt build (./run dbt build) first")
            cur.execute(
                sql.SQL("select lookup_key, lookup_type, company_id, confidence, source from {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
            )
            rows = cur.fetchall()
            entries, skipped = convert(rows)
            entries = keep_importable(cur, entries, skipped)
            inserted = updated = 0
            if not dry_run:
                inserted, updated = upsert_cache(
                    cur,
                    [
                        (
                            e.key_type,
                            e.lookup_key,
                            e.company_id,
                            None,
                            None,
                            e.match_type,
                            e.confidence,
                            "legacy_import",
                            None,  # no evidence: python -m python_enrich.review --audit-cache checks
                        )
                        for e in entries
                    ],
                )
            summary = {
                "read": len(rows),
                "usable": len(entries),
                "inserted": inserted,
                "updated": updated,
                "kept_existing": 0 if dry_run else len(entries) - inserted - updated,
                "skipped": dict(skipped),
                "dry_run": dry_run,
            }
            if not dry_run:
                cur.execute(
                    sql.SQL(
                        "insert into {}.run_log (run_kind, finished_at, status, details) "
                        "values ('import', now(), 'success', %s)"
                    ).format(sql.Identifier(SCHEMA)),
                    (json.dumps(summary, ensure_ascii=False),),
                )
            if dry_run:
                conn.rollback()
            return summary
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m python_enrich.cache",
        description=__doc__.splitlines()[1].strip(),
        epilog="exit codes: 0 imported (rows with bad ids or confidences skipped and counted by reason); "
        "1 the old table or our state is missing, or the database refused; 2 bad arguments",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    importer = commands.add_parser("import", help="copy the old enrichment_index into company_name_index")
    importer.add_argument("--schema", default="enterprise", help="schema of the old table (default enterprise)")
    importer.add_argument("--table", default="enrichment_index", help="old table name (default enrichment_index)")
    importer.add_argument("--dry-run", action="store_true", help="report only; write nothing")
    importer.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = import_cache(args.schema, args.table, args.dry_run)
    except (LookupError, psycopg2.Error) as error:
        print(f"error: {for_terminal(first_line(error))}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    verb = "would import" if args.dry_run else "imported"
    print(
        f"read {report['read']} old entries; {verb} {report['usable']} "
        f"({report['inserted']} new, {report['updated']} replaced less confident ones, "
        f"{report['kept_existing']} kept the existing more confident entry)"
    )
    for reason, count in sorted(report["skipped"].items(), key=lambda item: -item[1]):
        print(f"  skipped {count}: {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
