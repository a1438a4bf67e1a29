"""Staging parses every month and amount format; garbage becomes NULL, keeps its row and is listed.

The month rules exist twice (the SQL macro, the loader's Python): both run on the same cases.
"""

from __future__ import annotations

import random
import re
from datetime import date
from decimal import Decimal

import psycopg2
import pytest

from python_enrich.eqc.answers import is_company_id
from python_enrich.load.cells import is_placeholder, parse_month
from python_enrich.load.tables import PERFORMANCE
from python_enrich.load.write import ensure_raw_table
from python_enrich.temp_id import temp_id_for_normalized
from tests.conftest import DbtProject

D = date
MONTH_CASES: list[tuple[str | None, date | None]] = [
    ("202412", D(2024, 12, 1)), ("2024年11月", D(2024, 11, 1)), ("2024年11月1日", D(2024, 11, 1)),
    ("2024-11", D(2024, 11, 1)), ("2024-11-01", D(2024, 11, 1)), ("20241101", D(2024, 11, 1)),
    ("24年11月", D(2024, 11, 1)), ("２０２４年１１月", D(2024, 11, 1)), ("２０２４１２", D(2024, 12, 1)),
    ("２４年３月", D(2024, 3, 1)), ("2025年1月", D(2025, 1, 1)), ("2025-1", D(2025, 1, 1)),
    ("2025/01", D(2025, 1, 1)), ("2025.02", D(2025, 2, 1)), ("2025/2/15", D(2025, 2, 1)),
    ("2024-11-01 00:00:00", D(2024, 11, 1)), ("2024-11-30T13:45", D(2024, 11, 1)), (" 202501 ", D(2025, 1, 1)),
    ("\u3000202501\t", D(2025, 1, 1)), ("2024-02-29", D(2024, 2, 1)), ("2024年2月29日", D(2024, 2, 1)),
    ("2025－03", D(2025, 3, 1)), ("1900-01", D(1900, 1, 1)), ("2099-12", D(2099, 12, 1)),
    ("99年12月", D(2099, 12, 1)), ("20250131", D(2025, 1, 1)),
    # not months
    ("202413", None), ("202400", None), ("2024-13", None), ("2024-00-01", None), ("20240230", None),
    ("2023-02-29", None), ("2024-11-31", None), ("1899-12", None), ("2100-01", None), ("2024年13月", None),
    ("2024年11月32日", None), ("2024", None), ("24-11", None), ("2411", None), ("2024111", None),
    ("202411011", None), ("11/2024", None), ("Nov 2024", None), ("二〇二四年一月", None), ("#VALUE!", None),
    ("2024-11-01 garbage", None), ("2024年11月份", None), ("45627", None), ("2024--11", None),
    # blanks and placeholders
    ("", None), ("   ", None), ("-", None), ("N/A", None), ("n/a", None), ("NULL", None), ("无", None), (None, None),
]  # fmt: skip
MONTH_GARBAGE = [raw for raw, month in MONTH_CASES if month is None and not is_placeholder(raw)]

AMOUNT_CASES: list[tuple[str | None, Decimal | None]] = [
    ("1234567.89", Decimal("1234567.89")), ("1,234,567.89", Decimal("1234567.89")), (" 12.5 ", Decimal("12.50")),
    ("(1,000.00)", Decimal("-1000.00")), ("(12)", Decimal("-12.00")), ("-12.34", Decimal("-12.34")),
    ("+7", Decimal("7.00")), ("0", Decimal("0.00")), ("１，２３４．５０", Decimal("1234.50")),
    ("（１，０００）", Decimal("-1000.00")), ("\u300088\u00a0", Decimal("88.00")), ("1.5E+07", Decimal("15000000.00")),
    ("2e3", Decimal("2000.00")), ("12.345", Decimal("12.35")), ("9999999999999999.99", Decimal("9999999999999999.99")),
    ("123,456", Decimal("123456.00")), ("-1,000", Decimal("-1000.00")),
    # not amounts
    ("abc", None), ("1.2.3", None), ("12.5万", None), ("约100", None), ("1,23,456", None), ("#REF!", None),
    ("12,34", None), ("(-5)", None), ("(12", None), ("1 234", None), ("12345678901234567", None), ("1e99", None),
    ("1e999", None), ("--5", None), ("¥100", None), (".5", None),
    # blanks and placeholders
    ("", None), (" ", None), ("-", None), ("N/A", None), ("NULL", None), ("null", None), ("无", None), (None, None),
]  # fmt: skip
USERS_INCOME_TABLE = (
    "create table raw.annuity_income "
    "(月度 text, 计划代码 text, 客户名称 text, 公司代码 text, 收入金额 text, 业务类型 text)"
)
AMOUNT_GARBAGE = [raw for raw, amount in AMOUNT_CASES if amount is None and not is_placeholder(raw)]


def compiled_sql(project: DbtProject, inline: str) -> str:
    """A query with the project's macros expanded, by dbt compile --inline."""
    result = project.run("compile", "--inline", inline, "--quiet", "--output", "json")
    return result.result.results[0].node.compiled_code  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def macro_sql(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from tests.conftest import fresh_database

    with fresh_database() as name:
        project = DbtProject(name, tmp_path_factory.mktemp("dbt_parse"))
        for bad_call, message in (
            ("parse_month('')", "parse_month(expr) needs a SQL expression"),
            ("parse_amount(none)", "parse_amount(expr) needs a SQL expression"),
            ("cell_problems('x')", "checks must be a non-empty list"),
            ("cell_problems([['a', 'b']])", "each check must be [raw column, parsed column, problem]"),
            ("raw_column_or_null('raw.t', 'x')", "relation must be a source() or ref()"),
            ("raw_column_or_null(source('annuity', 'annuity_income'), 'x', 'x')", "columns must be a list"),
            ("raw_columns('raw.t')", "relation must be a source() or ref()"),
        ):  # compile-time argument checks
            project.messages.clear()
            result = project.run("compile", "--inline", "select {{ " + bad_call + " }}", expect_success=False)
            assert not result.success and message in str(result.exception) + " ".join(project.messages), bad_call
        yield {
            "database": name,
            "query": compiled_sql(
                project,
                "select {{ parse_month('v') }}, {{ parse_amount('v') }}, {{ is_blank_or_placeholder('v') }} "
                "from unnest(%(values)s::text[]) with ordinality as cells (v, n) order by n",
            ),
            **{
                f"is_company_id {allow}": compiled_sql(
                    project,
                    "{{ test_is_company_id(model='(select unnest(%(values)s::text[]) as v) as cells', "
                    f"column_name='v', allow_temporary={allow}) }}}}",
                )
                for allow in ("true", "false")
            },
        }


def run_parsers(macro_sql: dict[str, str], values: list[str | None]) -> list[tuple[date | None, Decimal | None, bool]]:
    conn = psycopg2.connect(dbname=macro_sql["database"])
    try:
        with conn, conn.cursor() as cur:
            cur.execute(macro_sql["query"], {"values": values})
            return cur.fetchall()
    finally:
        conn.close()


def test_month_parsers_agree_in_python_and_sql(macro_sql: dict[str, str]) -> None:
    values = [raw for raw, _ in MONTH_CASES]
    sql_months = [month for month, _, _ in run_parsers(macro_sql, values)]
    python_months = [parse_month(raw) for raw in values]
    truth = [month for _, month in MONTH_CASES]
    right_sql = sum(got == want for got, want in zip(sql_months, truth, strict=True))
    right_python = sum(got == want for got, want in zip(python_months, truth, strict=True))
    print(f"months: SQL {right_sql} right, {len(truth) - right_sql} wrong; Python {right_python} right")
    assert [(v, s, p) for v, s, p in zip(values, sql_months, python_months, strict=True) if s != p] == []
    assert right_sql == len(truth)


def test_month_parsers_agree_on_generated_spellings(macro_sql: dict[str, str]) -> None:
    """Random digit strings and separators near the formats: the two parsers never disagree."""
    rng = random.Random(12)
    years = ["2024", "24", "1999", "2100", "1899", "２０２５", "0000", "202"]
    separators = ["", "-", "/", ".", "年", "－", " "]
    months = ["1", "01", "12", "13", "0", "00", "１１", "2", "021"]
    tails = ["", "月", "-01", "月1日", "月31日", "-31", "01", "29", "-29 00:00", "/30T12:00", "日", " x", "月份"]
    values = [rng.choice(years) + rng.choice(separators) + rng.choice(months) + rng.choice(tails) for _ in range(5000)]
    sql_months = [month for month, _, _ in run_parsers(macro_sql, values)]
    python_months = [parse_month(raw) for raw in values]
    disagreements = [(v, s, p) for v, s, p in zip(values, sql_months, python_months, strict=True) if s != p]
    print(f"generated spellings: {len(values)}, parsed as months: {sum(m is not None for m in python_months)}")
    assert disagreements[:5] == []
    assert sum(m is not None for m in python_months) > 100  # the generator reaches the formats


def test_amounts_and_placeholders_in_sql(macro_sql: dict[str, str]) -> None:
    values = [raw for raw, _ in AMOUNT_CASES]
    results = run_parsers(macro_sql, values)
    amounts = [amount for _, amount, _ in results]
    right = sum(got == want for got, want in zip(amounts, (a for _, a in AMOUNT_CASES), strict=True))
    print(f"amounts: {right} right / {len(values) - right} wrong")
    assert [(v, g, w) for (v, w), g in zip(AMOUNT_CASES, amounts, strict=True) if g != w] == []
    placeholders = [flag for _, _, flag in results]
    assert placeholders == [is_placeholder(v) for v in values]


def _write_raw_tables(project: DbtProject, rows: int) -> dict[str, dict[str, tuple[object, ...]]]:
    """Performance as the loader writes it (keys, optional columns); income as a user's own table
    (Chinese columns only, no keys). Returns the truth per customer name."""
    conn = psycopg2.connect(dbname=project.database)
    truth: dict[str, dict[str, tuple[object, ...]]] = {"annuity_performance": {}, "annuity_income": {}}
    try:
        with conn, conn.cursor() as cur:
            ensure_raw_table(cur, PERFORMANCE)
            cur.execute(USERS_INCOME_TABLE)
            for i in range(rows):
                month_raw, month = MONTH_CASES[i % len(MONTH_CASES)]
                amounts = [AMOUNT_CASES[(i * step) % len(AMOUNT_CASES)] for step in (1, 3, 5, 7)]
                name = f"解析测试{i}有限公司"
                cur.execute(
                    "insert into raw.annuity_performance (月度, 计划代码, 计划类型, 客户名称, 期初资产规模, "
                    '期末资产规模, 供款, "流失(含待遇支付)", _row_key) '
                    "values (%s, 'P1', '单一计划', %s, %s, %s, %s, %s, %s)",
                    (month_raw, name, *(raw for raw, _ in amounts), f"test:{i + 2}"),
                )
                truth["annuity_performance"][name] = (month_raw, month, *amounts)
                income_amount = AMOUNT_CASES[(i * 11) % len(AMOUNT_CASES)]
                cur.execute(
                    "insert into raw.annuity_income (月度, 计划代码, 客户名称, 收入金额) values (%s, 'P1', %s, %s)",
                    (month_raw, name, income_amount[0]),
                )
                truth["annuity_income"][name] = (month_raw, month, income_amount)
    finally:
        conn.close()
    return truth


def test_build_over_every_format_and_garbage(dbt_project: DbtProject) -> None:
    truth = _write_raw_tables(dbt_project, 600)
    dbt_project.run("seed")
    result = dbt_project.run("build")  # succeeds: cells never fail a build
    warned = {r.node.name: r.failures for r in result.result.results if r.status == "warn"}  # type: ignore[attr-defined]

    right = wrong = 0
    expected_issues: set[tuple[str, str, str, str]] = set()
    columns = {
        "annuity_performance": ("starting_assets", "ending_assets", "contribution", "outflow_incl_benefits"),
        "annuity_income": ("income_amount",),
    }
    raw_columns = {
        "annuity_performance": ("期初资产规模", "期末资产规模", "供款", "流失(含待遇支付)"),
        "annuity_income": ("收入金额",),
    }
    for table, by_name in truth.items():
        rows = dbt_project.query(
            f"select customer_name, row_key, report_month, {', '.join(columns[table])} from marts.{table}"
        )
        assert len(rows) == len(by_name)  # every row reached the mart
        keys = {}
        for name, row_key, month, *amounts in rows:
            month_raw, want_month, *want_cells = truth[table][name]
            keys[name] = row_key
            for got, want in zip([month, *amounts], [want_month, *(a for _, a in want_cells)], strict=True):
                right, wrong = (right + 1, wrong) if got == want else (right, wrong + 1)
            if month_raw in MONTH_GARBAGE:
                expected_issues.add((table, row_key, "月度", month_raw))
            for column, (raw, _) in zip(raw_columns[table], want_cells, strict=True):
                if raw in AMOUNT_GARBAGE:
                    expected_issues.add((table, row_key, column, raw))
        assert len(set(keys.values())) == len(keys)  # row keys are unique
    print(f"parsed values against truth: {right} right, {wrong} wrong")
    assert wrong == 0 and right == 600 * 7

    listed = dbt_project.query("select table_name, row_key, column_name, raw_value from marts.data_quality_issues")
    assert len(listed) == len(set(listed))
    assert set(listed) == expected_issues
    print(f"garbage cells: {len(expected_issues)}, listed: {len(listed)}")
    assert warned["has_no_rows_data_quality_issues_"] == len(expected_issues)  # the build warns with the count
    # Loader rows keep their key; a user's own rows get a derived one.
    loader_keys = "select count(*) from marts.data_quality_issues where row_key like %s"
    assert dbt_project.query(loader_keys, ("test:%",))[0][0] > 0
    derived = "select count(*) from marts.data_quality_issues where table_name = %s and row_key ~ '^h[0-9a-f]{32}:1$'"
    income_issues = sum(1 for t, *_ in expected_issues if t == "annuity_income")
    assert dbt_project.query(derived, ("annuity_income",))[0][0] == income_issues


def test_derived_row_keys_are_stable_and_distinct_for_identical_rows(dbt_project: DbtProject) -> None:
    conn = psycopg2.connect(dbname=dbt_project.database)
    with conn, conn.cursor() as cur:
        cur.execute("create schema raw")
        cur.execute(USERS_INCOME_TABLE)
        cur.execute(
            "insert into raw.annuity_income (月度, 计划代码, 客户名称, 收入金额) values "
            "('202501', 'P1', '甲公司', 'x'), ('202501', 'P1', '甲公司', 'x'), ('202501', 'P2', '乙公司', '1')"
        )
        ensure_raw_table(cur, PERFORMANCE)
    conn.close()
    dbt_project.run("run", "--select", "stg_annuity__income")
    first = dbt_project.query("select row_key from staging.stg_annuity__income order by 1")
    dbt_project.run("run", "--select", "stg_annuity__income")
    assert dbt_project.query("select row_key from staging.stg_annuity__income order by 1") == first
    assert len(set(first)) == 3


COMPANY_ID_CASES = [
    "1", "123456789", "00012", "9" * 20, "0" * 19 + "1", temp_id_for_normalized("甲公司", "salt"),
    # never an id
    "0", "000", "", " 123", "123 ", "123\n", "12a", "-1", "+1", "1.0", "1e5", "9" * 21, "１２３", "١٢٣", "IN",
    "IN" + "A" * 15, "IN" + "A" * 17, "in" + "a" * 16, "IN" + "0" * 16, "IN" + "A" * 15 + "1", "IN%", "IN_" + "A" * 15,
    " IN" + "A" * 16, "N/A", "NULL", "#N/A", "\t",
]  # fmt: skip


@pytest.mark.parametrize("allow_temporary", [True, False])
def test_the_is_company_id_test_keeps_the_python_rule(macro_sql: dict[str, str], allow_temporary: bool) -> None:
    """dbt's is_company_id test fails exactly the values that are no company id by the rule the drain
    checks registry answers with (and, with allow_temporary, no temporary id)."""
    conn = psycopg2.connect(dbname=macro_sql["database"])
    try:
        with conn, conn.cursor() as cur:
            cur.execute(macro_sql[f"is_company_id {str(allow_temporary).lower()}"], {"values": COMPANY_ID_CASES})
            failed = {value for (value,) in cur.fetchall()}
    finally:
        conn.close()
    temporary = {v for v in COMPANY_ID_CASES if re.fullmatch(r"IN[A-Z2-7]{16}", v)}
    truth = {v for v in COMPANY_ID_CASES if not is_company_id(v) and not (allow_temporary and v in temporary)}
    right = sum((v in failed) == (v in truth) for v in COMPANY_ID_CASES)
    print(f"allow_temporary={allow_temporary}: {right} right, {len(COMPANY_ID_CASES) - right} wrong")
    assert failed == truth
    assert len(temporary) == 1 and len(truth) > 25  # the cases reach both kinds
