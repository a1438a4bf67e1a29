"""Generate realistic raw annuity tables: python -m python_enrich.sample --rows N [--seed S].

Writes raw.annuity_performance and raw.annuity_income with the old warehouse's Chinese column names,
loaded with COPY.  Companies recur under name variants (bracket widths, spaces, status suffixes,
full-width letters), some rows carry a real company code, some names are blank or placeholders, a
few plans belong to a single company, and both domains share customers.  Same seed, same data.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from python_enrich.companies import Company, build_companies
from python_enrich.db import connect
from python_enrich.errors import first_line

DEFAULT_ROWS = 30_986
COLLECTIVE_PLANS = ("AN001", "AN002", "AN003", "AN004")  # many companies share these
STATUS_SUFFIXES = ("-已转出", "（终止）", "(已转出)", "-待转出", "（已终止）", "-清算", "(保留)")
BUSINESS_SUFFIXES = ("-养老", "-福利", "(团托)", "-BSU280", "及下属子企业")
PLACEHOLDER_NAMES = ("", "空白", "N/A", "无", "-", None, "null")
PLACEHOLDER_CODES = ("", "N/A", "NULL", "NAN", "null", "0", "-")

PERFORMANCE_COLUMNS = (
    "月度", "计划代码", "计划类型", "客户名称", "年金账户名", "年金账户号", "集团企业客户号", "公司代码",
    "期初资产规模", "期末资产规模", "供款", "业务类型",
)  # fmt: skip
INCOME_COLUMNS = ("月度", "计划代码", "客户名称", "公司代码", "收入金额", "业务类型")

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


def _month(rng: random.Random) -> str:
    year, month = divmod(rng.randrange(24), 12)
    return f"{2024 + year}-{month + 1:02d}-01"


def performance_rows(rng: random.Random, companies: list[Company], count: int) -> Iterator[tuple[object, ...]]:
    for _ in range(count):
        company = _pick(rng, companies)
        plan, plan_type = _plan(rng, company)
        name = name_variant(rng, company)
        start = round(rng.lognormvariate(15, 1.5), 2)
        yield (
            _month(rng), plan, plan_type, name, name_variant(rng, company) if rng.random() < 0.3 else name,
            f"{rng.randrange(10**11, 10**12)}", f"C{rng.randrange(10**8, 10**9)}" if rng.random() < 0.4 else "",
            _company_code(rng, company), f"{start:.2f}", f"{start * rng.uniform(0.9, 1.15):.2f}",
            f"{rng.uniform(0, start / 50):.2f}", rng.choice(["企年受托", "企年投资", "职年受托"]),
        )  # fmt: skip


def income_rows(rng: random.Random, companies: list[Company], count: int) -> Iterator[tuple[object, ...]]:
    for _ in range(count):
        company = _pick(rng, companies)
        plan, _ = _plan(rng, company)
        yield (
            _month(rng), plan, name_variant(rng, company), _company_code(rng, company),
            f"{rng.lognormvariate(10, 1.2):.2f}", rng.choice(["企年受托", "企年投资"]),
        )  # fmt: skip


def _copy(cur: object, table: str, columns: tuple[str, ...], rows: Iterator[tuple[object, ...]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(["\\N" if value is None else value for value in row])
    buffer.seek(0)
    column_list = ", ".join(f'"{column}"' for column in columns)
    cur.copy_expert(f"copy raw.{table} ({column_list}) from stdin with (format csv, null '\\N')", buffer)  # type: ignore[attr-defined]


def generate(rows: int = DEFAULT_ROWS, seed: int = 42) -> SampleSize:
    """(Re)create the raw tables with generated data; returns the sizes written."""
    if rows < 1:
        raise ValueError("--rows must be at least 1")
    size = sample_size(rows)
    companies = build_companies(size.companies, seed)
    rng = random.Random(f"sample:{seed}")
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("create schema if not exists raw")
            for table, columns in (("annuity_performance", PERFORMANCE_COLUMNS), ("annuity_income", INCOME_COLUMNS)):
                cur.execute(f"drop table if exists raw.{table}")
                column_defs = ", ".join(f'"{column}" text' for column in columns)
                cur.execute(f"create table raw.{table} ({column_defs})")
            _copy(
                cur, "annuity_performance", PERFORMANCE_COLUMNS, performance_rows(rng, companies, size.performance_rows)
            )
            _copy(cur, "annuity_income", INCOME_COLUMNS, income_rows(rng, companies, size.income_rows))
            cur.execute("analyze raw.annuity_performance; analyze raw.annuity_income")
    finally:
        conn.close()
    return size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m python_enrich.sample", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help=f"performance rows (default {DEFAULT_ROWS})")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    try:
        size = generate(args.rows, args.seed)
    except Exception as error:  # one line for the user; psycopg2 errors carry no secrets
        print(f"error: could not write the sample tables: {first_line(error)}", file=sys.stderr)
        return 1
    print(
        f"wrote raw.annuity_performance ({size.performance_rows} rows) and "
        f"raw.annuity_income ({size.income_rows} rows) for {size.companies} companies, seed {args.seed}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
