"""Load a monthly export into its raw table: python -m python_enrich.load TABLE FILE [--sheet S] [--dry-run]

TABLE is annuity_performance or annuity_income; FILE a CSV (UTF-8 or GB18030) or a workbook. Every
cell is loaded as text (staging parses it); known header variants are mapped (计划号 -> 计划代码,
机构 -> 机构名称, full-width brackets, stray blanks), other columns are left out with a note. The
load is one transaction and idempotent per month: loading a month again replaces its rows.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from python_enrich.db import connect
from python_enrich.errors import first_line
from python_enrich.load.read import FileError, read_source
from python_enrich.load.tables import TABLES, MappingError, is_sample_source, map_headers
from python_enrich.load.write import PlannedLoad, count_replaced, plan_load, write_load

log = logging.getLogger(__name__)
SHOWN_MONTHLESS = 3


@dataclass
class LoadResult:
    plan: PlannedLoad
    replaced: int | None  # None for a dry run
    # Rows loaded before that this load replaces (or, for a dry run, would), per source file; None
    # when a dry run could not ask the database.
    replacing: Counter[str] | None = None
    unreachable: str = ""  # why a dry run could not count them

    @property
    def loaded(self) -> int:
        return len(self.plan.rows)


class LoadError(ValueError):
    """One line for the user: what is wrong with the file or the database, and nothing was written."""


def shown(value: object, limit: int = 40) -> str:
    """A value from a file, quoted and of bounded length (repr escapes control characters)."""
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def printable(line: str) -> str:
    """A line safe for a terminal: file names and cells may carry control characters."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in line)


def load_file(table_name: str, path: Path, sheet: str | None = None, dry_run: bool = False) -> LoadResult:
    """Read, map and (unless dry_run) write one file; raises LoadError with a one-line reason."""
    table = TABLES.get(table_name)
    if table is None:
        raise LoadError(f"unknown table {shown(table_name)}: expected one of {', '.join(TABLES)}")
    try:
        source = read_source(path, sheet, table.default_sheet)
        mapping = map_headers(table, source.headers)
    except (FileError, MappingError) as error:
        raise LoadError(f"{path.name}: {error}" if isinstance(error, MappingError) else str(error)) from None
    plan = plan_load(table, source, mapping)
    if not plan.months:
        raise LoadError(
            f"{source.source_name}: no row has a recognisable 月度 (first: {shown(plan.monthless[0][1])}), "
            "so a later load could not replace these rows: nothing was loaded"
        )
    try:
        conn = connect()
    except psycopg2.Error as error:
        if dry_run:  # the file's own checks stand without a database
            return LoadResult(plan, None, None, first_line(error))
        raise LoadError(f"cannot connect to PostgreSQL: {first_line(error)}") from None
    try:
        replacing = count_replaced(conn, plan)
    except psycopg2.Error as error:
        conn.close()
        if dry_run:
            return LoadResult(plan, None, None, first_line(error))
        raise LoadError(f"{source.source_name}: nothing was loaded: {first_line(error)}") from None
    if dry_run:
        conn.close()
        return LoadResult(plan, None, replacing)
    try:
        replaced = write_load(conn, plan)
    except psycopg2.Error as error:
        raise LoadError(f"{source.source_name}: nothing was loaded: {first_line(error)}") from None
    finally:
        conn.close()
    log.info("loaded %d rows into raw.%s, replaced %d", len(plan.rows), table.name, replaced)
    return LoadResult(plan, replaced, replacing)


def describe(result: LoadResult) -> list[str]:
    """What the load did (or would do), for people."""
    plan = result.plan
    months = sorted(plan.months)
    span = f"{months[0]:%Y-%m}"
    if len(months) > 1:
        span += f" … {months[-1]:%Y-%m} ({len(months)} months)"
    lines = [f"{plan.source.source_name} -> raw.{plan.table.name}: {result.loaded:,} rows, {span}"]
    lines += [f"note: {note}" for note in plan.source.notes]
    if plan.mapping.ignored:
        ignored = ", ".join(shown(h, 20) for h in plan.mapping.ignored)
        lines.append(f"note: left out columns that raw.{plan.table.name} does not have: {ignored}")
    if plan.monthless:
        first = ", ".join(f"row {n} {shown(v, 20)}" for n, v in plan.monthless[:SHOWN_MONTHLESS])
        more = ", …" if len(plan.monthless) > SHOWN_MONTHLESS else ""
        lines.append(
            f"warning: {len(plan.monthless):,} rows have no recognisable 月度 ({first}{more}): loaded as they are,"
            " listed in marts.data_quality_issues by the next build, replaced with this file's months"
        )
    if result.replaced is None:
        lines.append("columns:")
        lines += [f"  {shown(header, 30)} -> {column}" for header, column in plan.mapping.mapped.items()]
        if plan.mapping.missing_optional:
            lines.append(f"  not in the file (NULL): {', '.join(plan.mapping.missing_optional)}")
        lines.append("months:")
        lines += [f"  {month:%Y-%m}  {count:>9,} rows" for month, count in sorted(plan.months.items())]
        if plan.monthless:
            lines.append(f"  no month  {len(plan.monthless):>9,} rows")
        if result.replacing is None:
            lines.append(f"could not count the rows it would replace (database: {result.unreachable})")
        else:
            lines.append(
                f"a load would replace {sum(result.replacing.values()):,} rows loaded before for these months"
                + sample_note(result.replacing)
            )
        lines.append("dry run: nothing was written")
    else:
        lines.append(
            f"loaded {result.loaded:,} rows; replaced {result.replaced:,} rows loaded before for these months"
            + sample_note(result.replacing or Counter())
        )
    return lines


def sample_note(replacing: Counter[str]) -> str:
    """Which of the replaced rows are the demo's sample data, by source file."""
    samples = {source: count for source, count in replacing.items() if is_sample_source(source)}
    if not samples:
        return ""
    listed = ", ".join(f"{shown(source)} {count:,}" for source, count in sorted(samples.items()))
    return f" ({sum(samples.values()):,} of them the demo's sample data: {listed})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m python_enrich.load", description=__doc__.splitlines()[0])
    parser.add_argument("table", help=f"the raw table to fill: {' or '.join(TABLES)}")
    parser.add_argument("file", type=Path, help="a CSV file (UTF-8 or GB18030) or a workbook (.xlsx, .xls, .ods, …)")
    parser.add_argument(
        "--sheet", help="the workbook's sheet (default: 规模明细 for performance, 收入明细 for income, else the first)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="show the column mapping, months, row counts and how many rows loaded before it would replace",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        result = load_file(args.table, args.file, args.sheet, args.dry_run)
    except LoadError as error:
        print(printable(f"error: {error}"), file=sys.stderr)
        return 1
    print("\n".join(printable(line) for line in describe(result)))
    return 0
