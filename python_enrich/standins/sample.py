"""Generate realistic raw annuity tables: python -m python_enrich.sample --rows N [--seed S] [--files DIR].

Writes raw.annuity_performance and raw.annuity_income with the old warehouse's Chinese column names,
loaded with COPY, or (--files) the exports users receive: a performance workbook (sheet 规模明细,
old header names, number and date cells) and an income CSV, to load with python -m python_enrich.load.
Companies recur under name variants (bracket widths, spaces, status suffixes, full-width letters),
some rows carry a real company code, some names are blank or placeholders, a few plans belong to a
single company, and both domains share customers. Months and amounts come in the formats real
exports use (202412, 2024年11月, 24年11月, 1,234.50, (1,000.00), full-width digits, -, N/A, …) and
a few cells are garbage. Same seed, same data.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from python_enrich.db import connect
from python_enrich.errors import first_line
from python_enrich.load.cells import FULL_WIDTH, HALF_WIDTH
from python_enrich.load.tables import INCOME, PERFORMANCE, RawTable
from python_enrich.load.write import ensure_raw_table, new_batch_id
from python_enrich.standins.companies import Company, build_companies

DEFAULT_ROWS = 30_986
COLLECTIVE_PLANS = ("AN001", "AN002", "AN003", "AN004")  # many companies share these
STATUS_SUFFIXES = ("-已转出", "（终止）", "(已转出)", "-待转出", "（已终止）", "-清算", "(保留)")
BUSINESS_SUFFIXES = ("-养老", "-福利", "(团托)", "-BSU280", "及下属子企业")
PLACEHOLDER_NAMES = ("", "空白", "N/A", "无", "-", None, "null")
SHAPED_PLACEHOLDERS = ("", "空白", "无", "0", "0", "#N/A", "nan", "None", "-", None)
TOTALS_NAMES = ("合计", "小计", "总计", "合 计")
PLACEHOLDER_CODES = ("", "N/A", "NULL", "NAN", "null", "0", "-")

INSTITUTIONS = ("北京分公司", "上海分公司", "深圳分公司", "广东分公司", "江苏分公司", "浙江分公司", "总部")
# How exports write months and amounts; unparseable cells the warehouse must list, not crash on.
MONTH_FORMATS = (
    ("{y}-{m:02d}-01", 40), ("{y}{m:02d}", 15), ("{y}年{m}月", 10), ("{y}-{m:02d}", 10),
    ("{y}{m:02d}01", 8), ("{y}年{m}月1日", 5), ("{yy}年{m}月", 5), ("{y}/{m}/1", 2),
)  # fmt: skip
AMOUNT_PLACEHOLDERS = ("-", "N/A", "NULL", "无", "")
GARBAGE_MONTHS = ("2024-13", "#VALUE!", "二〇二四年一月")
GARBAGE_AMOUNTS = ("abc", "#REF!", "1.2.3", "约100", "12.5万", "1,23,456")
WORKBOOK_HEADERS = {"计划代码": "计划号", "机构名称": "机构", "流失(含待遇支付)": "流失（含待遇支付）"}
_TO_FULL_WIDTH = str.maketrans(HALF_WIDTH, FULL_WIDTH)

log = logging.getLogger(__name__)


@dataclass
class SampleSize:
    performance_rows: int
    income_rows: int
    companies: int


def sample_size(rows: int) -> SampleSize:
    """About one company per 12 performance rows, and one income row per three."""
    return SampleSize(rows, max(1, rows // 3), max(20, rows // 12))


def name_variant(rng: random.Random, company: Company) -> str | None:
    """The name as a clerk might have typed it."""
    roll = rng.random()
    name = company.name
    if roll < 0.02:
        return rng.choice(PLACEHOLDER_NAMES)
    if roll < 0.05 and company.former_names:
        return rng.choice(company.former_names)
    if roll < 0.50:
        return name
    if roll < 0.62:
        return name + rng.choice(STATUS_SUFFIXES)
    if roll < 0.70:
        return name.replace("（", "(").replace("）", ")") if "（" in name else name + rng.choice(BUSINESS_SUFFIXES)
    if roll < 0.80:  # stray spaces of every kind
        cut = rng.randrange(1, len(name))
        return (
            rng.choice([" ", "\u3000", "", "\t"])
            + name[:cut]
            + rng.choice([" ", "\u3000", "\u00a0"])
            + name[cut:]
            + " "
        )
    if roll < 0.88:  # full-width letters and digits
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" and rng.random() < 0.8 else c for c in name)
    if roll < 0.93:
        return rng.choice(["「", "（原）", ""]) + name + rng.choice(["」", "", "-"])
    return name.lower() if any("A" <= c <= "Z" for c in name) else name + rng.choice(STATUS_SUFFIXES)


def _pick(rng: random.Random, companies: list[Company]) -> Company:
    # Pareto-like: a few companies are very frequent, most appear a handful of times.
    index = min(len(companies) - 1, int(rng.paretovariate(1.1)) - 1)
    return companies[(index * 7919 + rng.randrange(len(companies)) * (index == 0)) % len(companies)]


def _company_code(rng: random.Random, company: Company) -> str:
    roll = rng.random()
    if roll < 0.002:  # a typo: a real-looking id of some other company (backflow conflicts)
        return str(rng.randint(100_000_000, 9_999_999_999))
    if roll < 0.15:
        return company.company_id
    if roll < 0.25:
        return rng.choice(PLACEHOLDER_CODES)
    return ""


def _plan(rng: random.Random, company: Company) -> tuple[str, str]:
    if rng.random() < 0.35:
        return rng.choice(COLLECTIVE_PLANS), "集合计划"
    return rng.choice(company.plan_codes), "单一计划"


class CellFormats:
    """Writes months and amounts as exports do. Its own random stream: the data's values (and the
    names, codes and plans other tests rely on) are the same as with plain ISO months and numbers."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"formats:{seed}")

    def month(self, year: int, month: int) -> str:
        roll = self.rng.random()
        if roll < 0.0005:
            return self.rng.choice(GARBAGE_MONTHS)
        pattern = self.rng.choices([p for p, _ in MONTH_FORMATS], [w for _, w in MONTH_FORMATS])[0]
        text = pattern.format(y=year, yy=year % 100, m=month)
        return text.translate(_TO_FULL_WIDTH) if roll > 0.95 else text

    def amount(self, value: float) -> str:
        roll = self.rng.random()
        if roll < 0.002:
            return self.rng.choice(GARBAGE_AMOUNTS)
        if roll < 0.03:
            return self.rng.choice(AMOUNT_PLACEHOLDERS)
        if roll < 0.05:  # a negative amount: a correction
            return self.rng.choice([f"({value:,.2f})", f"-{value:.2f}"])
        if roll < 0.18:
            return f"{value:,.2f}"
        if roll < 0.21:
            return f" {value:.2f} "
        if roll < 0.23:
            return f"{value:,.2f}".translate(_TO_FULL_WIDTH)
        return f"{value:.2f}"


def _month(rng: random.Random, formats: CellFormats) -> str:
    year, month = divmod(rng.randrange(24), 12)
    return formats.month(2024 + year, month + 1)


def performance_rows(
    rng: random.Random, companies: list[Company], count: int, formats: CellFormats
) -> Iterator[tuple[object, ...]]:
    for _, row in performance_rows_of(rng, companies, count, formats):
        yield row


def performance_rows_of(
    rng: random.Random, companies: list[Company], count: int, formats: CellFormats
) -> Iterator[tuple[Company, tuple[object, ...]]]:
    """(the company the row is about, the row)."""
    for _ in range(count):
        company = _pick(rng, companies)
        plan, plan_type = _plan(rng, company)
        name = name_variant(rng, company)
        start = round(rng.lognormvariate(15, 1.5), 2)
        yield company, (
            _month(rng, formats), plan, plan_type, name, name_variant(rng, company) if rng.random() < 0.3 else name,
            f"{rng.randrange(10**11, 10**12)}", f"C{rng.randrange(10**8, 10**9)}" if rng.random() < 0.4 else "",
            _company_code(rng, company), formats.amount(start), formats.amount(start * rng.uniform(0.9, 1.15)),
            formats.amount(rng.uniform(0, start / 50)), rng.choice(["企年受托", "企年投资", "职年受托"]),
            formats.rng.choice(INSTITUTIONS), formats.amount(formats.rng.uniform(0, start / 80)),
        )  # fmt: skip


def income_rows(
    rng: random.Random, companies: list[Company], count: int, formats: CellFormats
) -> Iterator[tuple[object, ...]]:
    for _, row in income_rows_of(rng, companies, count, formats):
        yield row


def income_rows_of(
    rng: random.Random, companies: list[Company], count: int, formats: CellFormats
) -> Iterator[tuple[Company, tuple[object, ...]]]:
    """(the company the row is about, the row)."""
    for _ in range(count):
        company = _pick(rng, companies)
        plan, _ = _plan(rng, company)
        yield company, (
            _month(rng, formats), plan, name_variant(rng, company), _company_code(rng, company),
            formats.amount(rng.lognormvariate(10, 1.2)), rng.choice(["企年受托", "企年投资"]),
            formats.rng.choice(INSTITUTIONS),
        )  # fmt: skip


@dataclass
class Sample:
    """The rows of a seed and the truth about them: the company id each row is about (None for
    totals rows and rows that name no company)."""

    size: SampleSize
    companies: list[Company]
    performance: list[tuple[object, ...]]
    income: list[tuple[object, ...]]
    performance_truth: list[str | None]
    income_truth: list[str | None]


class NameShapes:
    """Rows as real exports have them, from a random stream of their own (the other values stay
    as they were): 客户名称 blank or a placeholder while 年金账户名 names the company, rows whose two
    names are both placeholders, and totals rows (合计, 小计, 总计)."""

    ACCOUNT_NAMED = 0.03  # placeholder customer name, the account name names the company
    NAMELESS = 0.004  # both names placeholders
    TOTALS = 0.002

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"name-shapes:{seed}")

    def performance(self, company: Company, row: tuple[object, ...]) -> tuple[tuple[object, ...], str | None]:
        """The row reshaped, or not, and the company it is about."""
        roll = self.rng.random()
        values = list(row)
        if roll < self.TOTALS:
            values[3], values[4] = self.rng.choice(TOTALS_NAMES), self.rng.choice(("", None, "合计"))
            return tuple(values), None
        if roll < self.TOTALS + self.NAMELESS:
            values[3], values[4] = self.rng.choice(SHAPED_PLACEHOLDERS), self.rng.choice(SHAPED_PLACEHOLDERS)
            return tuple(values), None
        if roll < self.TOTALS + self.NAMELESS + self.ACCOUNT_NAMED:
            values[3] = self.rng.choice(SHAPED_PLACEHOLDERS)
            values[4] = name_variant_of_real_name(self.rng, company)
        elif _is_placeholder_name(values[3]) and _is_placeholder_name(values[4]):
            return row, None  # the generator's own placeholder names: no name says which company
        return tuple(values), company.company_id

    def income(self, company: Company, row: tuple[object, ...]) -> tuple[tuple[object, ...], str | None]:
        """Income rows have no account name: a placeholder customer name names no company."""
        if self.rng.random() < self.TOTALS:
            return (row[0], row[1], self.rng.choice(TOTALS_NAMES), *row[3:]), None
        return row, None if _is_placeholder_name(row[2]) else company.company_id


def _is_placeholder_name(value: object) -> bool:
    """The sample's own placeholders (the warehouse's rule is the with_resolution_name macro)."""
    return value is None or value in PLACEHOLDER_NAMES or value in SHAPED_PLACEHOLDERS or value in TOTALS_NAMES


def name_variant_of_real_name(rng: random.Random, company: Company) -> str:
    """A variant of the company's name that is never a placeholder."""
    while True:
        name = name_variant(rng, company)
        if not _is_placeholder_name(name):
            return str(name)


def build_sample(rows: int, seed: int) -> Sample:
    """The rows of a seed (raw table columns, as text) with the truth about them."""
    if rows < 1:
        raise ValueError("--rows must be at least 1")
    size = sample_size(rows)
    companies = build_companies(size.companies, seed)
    rng = random.Random(f"sample:{seed}")
    formats = CellFormats(seed)
    shapes = NameShapes(seed)
    performance = [
        shapes.performance(c, r) for c, r in performance_rows_of(rng, companies, size.performance_rows, formats)
    ]
    income = [shapes.income(c, r) for c, r in income_rows_of(rng, companies, size.income_rows, formats)]
    return Sample(
        size, companies, [r for r, _ in performance], [r for r, _ in income],
        [t for _, t in performance], [t for _, t in income],
    )  # fmt: skip


def sample_rows(rows: int, seed: int) -> tuple[SampleSize, list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The size and the performance and income rows (raw table columns, as text) for a seed."""
    built = build_sample(rows, seed)
    return built.size, built.performance, built.income


def _copy(cur: object, table: RawTable, rows: list[tuple[object, ...]], key_prefix: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    # One batch, as one load of one file: staging parses it once.
    loader = ["sample", None, new_batch_id(), datetime.now(timezone.utc).isoformat(timespec="microseconds")]
    for number, row in enumerate(rows, start=2):  # numbered as the rows of an export with a header
        loader[1] = f"{key_prefix}:{number}"
        writer.writerow(["\\N" if value is None else value for value in (*row, *loader)])
    buffer.seek(0)
    column_list = ", ".join(f'"{column}"' for column in table.all_columns)
    cur.copy_expert(f"copy raw.{table.name} ({column_list}) from stdin with (format csv, null '\\N')", buffer)  # type: ignore[attr-defined]


def generate(rows: int = DEFAULT_ROWS, seed: int = 42, legacy_cache: bool = False) -> SampleSize:
    """(Re)create the raw tables with generated data (and, legacy_cache, the old warehouse's cache
    table for `cache import`); returns the sizes written."""
    built = build_sample(rows, seed)
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            for table, table_rows in ((PERFORMANCE, built.performance), (INCOME, built.income)):
                cur.execute(f"drop table if exists raw.{table.name}")
                ensure_raw_table(cur, table)
                _copy(cur, table, table_rows, f"sample{seed}")
            cur.execute("analyze raw.annuity_performance; analyze raw.annuity_income")
            if legacy_cache:
                from python_enrich.standins.sample_legacy_cache import legacy_entries, write_legacy_cache

                write_legacy_cache(cur, legacy_entries(built, seed))
    finally:
        conn.close()
    return built.size


def append_month(rows: int, month: str, seed: int = 42) -> SampleSize:
    """Append one more month to the raw tables, one batch per table as a monthly load writes.

    rows counts both tables (three quarters performance); the companies are the history's (same
    seed), and every row's 月度 is month, written as the exports write it (e.g. 202601).
    """
    size, performance, income = sample_rows(max(1, rows * 3 // 4), seed)
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            for table, table_rows in ((PERFORMANCE, performance), (INCOME, income)):
                ensure_raw_table(cur, table)
                _copy(cur, table, [(month, *row[1:]) for row in table_rows], f"month{month}-{seed}")
            cur.execute("analyze raw.annuity_performance; analyze raw.annuity_income")
    finally:
        conn.close()
    return size


PLAIN_NUMBER = re.compile(r"^-?[0-9]+\.[0-9]+$")
ISO_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})-01$")


def _workbook_cell(value: object) -> object:
    """A cell as Excel holds it: plain numbers as numbers, ISO dates as dates, YYYYMM as a number."""
    if not isinstance(value, str):
        return value
    if PLAIN_NUMBER.match(value):
        return float(value)
    if match := ISO_MONTH.match(value):
        return datetime(int(match[1]), int(match[2]), 1)
    if len(value) == 6 and value.isdigit():
        return int(value)
    return value


def write_workbook(path: Path, table: RawTable, rows: list[tuple[object, ...]]) -> Path:
    """The rows as an export workbook: its default sheet, the old header names, typed cells."""
    headers = [WORKBOOK_HEADERS.get(column, column) for column in table.columns]
    frame = pd.DataFrame([[_workbook_cell(v) for v in row] for row in rows], columns=headers)
    frame.to_excel(path, sheet_name=table.default_sheet, index=False, engine="xlsxwriter")
    return path


def write_csv(path: Path, table: RawTable, rows: list[tuple[object, ...]], encoding: str = "utf-8-sig") -> Path:
    """The rows as an export CSV (UTF-8 with a BOM, as Excel writes it, unless told otherwise)."""
    with path.open("w", encoding=encoding, newline="") as file:
        writer = csv.writer(file)
        writer.writerow(table.columns)
        writer.writerows(["" if value is None else value for value in row] for row in rows)
    return path


def write_files(rows: int, seed: int, directory: Path) -> tuple[SampleSize, Path, Path]:
    """The sample as users receive it: a performance workbook and an income CSV in directory."""
    size, performance, income = sample_rows(rows, seed)
    directory.mkdir(parents=True, exist_ok=True)
    workbook = write_workbook(directory / f"规模明细_sample_{seed}.xlsx", PERFORMANCE, performance)
    income_csv = write_csv(directory / f"收入明细_sample_{seed}.csv", INCOME, income)
    return size, workbook, income_csv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m python_enrich.sample", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help=f"performance rows (default {DEFAULT_ROWS})")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--files", type=Path, metavar="DIR", help="write export files into DIR instead of the tables")
    parser.add_argument(
        "--legacy-cache",
        action="store_true",
        help="also write the old warehouse's cache (enterprise.enrichment_index, stale entries included) "
        "for python -m python_enrich.cache import",
    )
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    try:
        if args.files is not None:
            size, workbook, income_csv = write_files(args.rows, args.seed, args.files)
            print(f"wrote {workbook} ({size.performance_rows} rows) and {income_csv} ({size.income_rows} rows)")
            return 0
        size = generate(args.rows, args.seed, legacy_cache=args.legacy_cache)
    except Exception as error:  # one line for the user; psycopg2 errors carry no secrets
        print(f"error: could not write the sample: {first_line(error)}", file=sys.stderr)
        return 1
    print(
        f"wrote raw.annuity_performance ({size.performance_rows} rows) and "
        f"raw.annuity_income ({size.income_rows} rows) for {size.companies} companies, seed {args.seed}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
