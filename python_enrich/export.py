"""Export for people: python -m python_enrich.export unresolved --out unresolved.csv [--bom]

Writes the unresolved names in the old warehouse's export format
(company_name,temporary_id,first_seen,occurrence_count) plus normalized_name, rows per domain,
asset_volume and impact_rank, most important first, and the name's lookup: lookup_status
(pending, failed, not_found, needs_review, ...), lookup_attempts and lookup_error (why the last
lookup failed).  UTF-8; --bom adds a byte-order mark so that Excel opens the Chinese names
correctly.  A text cell that starts with = + - @ tab or carriage return is prefixed with ' so
that no spreadsheet runs it as a formula.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from python_enrich.db import connect
from python_enrich.errors import read_warehouse
from python_enrich.request_queue import SCHEMA
from python_enrich.safe_output import for_csv, for_terminal

COLUMNS = [
    "company_name", "temporary_id", "first_seen", "occurrence_count",
    "normalized_name", "performance_rows", "income_rows", "asset_volume", "impact_rank",
    "lookup_status", "lookup_attempts", "lookup_error",
]  # fmt: skip

QUERY = f"""
select u.raw_name_example, u.temporary_id, coalesce(t.first_seen_at, now()), u.row_count,
    u.normalized_name, u.performance_rows, u.income_rows, u.asset_volume, u.impact_rank,
    r.status, r.attempts, r.last_error
from marts.unresolved_names as u
left join {SCHEMA}.temporary_ids as t on t.temp_id = u.temporary_id
left join lateral (
    select request.status, request.attempts, request.last_error
    from {SCHEMA}.enrichment_requests as request
    where request.normalized_name = u.normalized_name
    order by request.request_id desc
    limit 1
) as r on true
order by u.impact_rank, u.normalized_name
"""  # noqa: S608 - the schema is our constant


def export_unresolved(out: Path, bom: bool = False) -> int:
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(QUERY)
            rows = cur.fetchall()
    finally:
        conn.close()
    with out.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for name, temp_id, first_seen, *rest in rows:
            writer.writerow(
                [for_csv(cell) for cell in (name, temp_id, first_seen.isoformat(timespec="seconds"), *rest)]
            )
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m python_enrich.export",
        description=__doc__.splitlines()[0],
        epilog="exit codes: 0 written; 1 the warehouse is not built or cannot be read, or the file cannot be "
        "written; 2 bad arguments",
    )
    commands = parser.add_subparsers(dest="what", required=True)
    unresolved = commands.add_parser("unresolved", help="the names left with temporary ids, ranked by impact")
    unresolved.add_argument("--out", type=Path, required=True, help="CSV file to write")
    unresolved.add_argument("--bom", action="store_true", help="start with a UTF-8 byte-order mark (for Excel)")
    args = parser.parse_args(argv)
    count = read_warehouse(lambda: export_unresolved(args.out, args.bom), "export")
    if count is None:
        return 1
    print(f"wrote {count} unresolved names to {for_terminal(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
