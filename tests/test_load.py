"""The loader: python -m python_enrich.load TABLE FILE against a real PostgreSQL."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import psycopg2
import pytest

from python_enrich import load
from python_enrich.load.tables import INCOME, PERFORMANCE
from python_enrich.standins import sample
from tests.conftest import fresh_database

INCOME_HEADER = ["月度", "计划代码", "客户名称", "公司代码", "收入金额", "业务类型"]


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database() as name:
        yield name


def query(sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = psycopg2.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def table_state(table: str) -> tuple[int, str]:
    """Row count and a digest of every row: 'nothing changed' means both are equal."""
    rows = query(f"select * from raw.{table} order by _row_key")
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


def income_csv(path: Path, rows: list[list[str]], header: list[str] = INCOME_HEADER, encoding: str = "utf-8") -> Path:
    frame = pd.DataFrame(rows, columns=header)
    path.write_bytes(frame.to_csv(index=False).encode(encoding))
    return path


def run_load(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = load.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


JANUARY = [
    ["202501", "P1", "甲公司", "", "1,000.00", "企年受托"],
    ["2025年1月", "P2", "乙公司", "123456789", "(5.00)", "企年投资"],
    ["2025-01-01", "P3", "丙公司", "", "N/A", "企年受托"],
]
FEBRUARY = [["２０２５年２月", "P1", "甲公司", "", "12", "企年受托"], ["20250201", "P4", "丁公司", "", "-", ""]]


def test_old_header_workbook_with_typed_cells_loads(database: str, tmp_path: Path, capsys) -> None:
    _, performance, _ = sample.sample_rows(300, seed=9)
    workbook = sample.write_workbook(tmp_path / "规模.xlsx", PERFORMANCE, performance)
    headers = pd.read_excel(workbook, engine="calamine", nrows=0).columns.tolist()
    assert {"计划号", "机构", "流失（含待遇支付）"} <= set(headers)  # the old names
    code, out, err = run_load(capsys, "annuity_performance", workbook)
    assert code == 0, err
    assert "规模.xlsx!规模明细 -> raw.annuity_performance: 300 rows" in out
    loaded = query('select 计划代码, 机构名称, "流失(含待遇支付)", 月度, _row_key from raw.annuity_performance')
    assert len(loaded) == 300
    assert all(plan for plan, *_ in loaded) and all(institution for _, institution, *_ in loaded)
    assert sum(outflow is not None for _, _, outflow, *_ in loaded) > 250  # 流失（含待遇支付） mapped
    # Date and number cells arrive as text a month parser understands; every row is numbered.
    months = {month for *_, month, _ in loaded}
    assert any(m.endswith(" 00:00:00") for m in months) and any(m.isdigit() and len(m) == 6 for m in months)
    assert sorted(int(key.split(":")[1]) for *_, key in loaded) == list(range(2, 302))


def test_loading_a_month_again_replaces_it(database: str, tmp_path: Path, capsys) -> None:
    both = income_csv(tmp_path / "both.csv", JANUARY + FEBRUARY)
    assert run_load(capsys, "annuity_income", both)[0] == 0
    assert table_state("annuity_income")[0] == 5
    code, out, _ = run_load(capsys, "annuity_income", both)
    assert code == 0 and "loaded 5 rows; replaced 5 rows" in out
    assert table_state("annuity_income")[0] == 5  # never duplicated
    # A corrected January export replaces January only, whatever the month's spelling.
    corrected = income_csv(tmp_path / "jan.csv", [["2025-01", "P9", "戊公司", "", "1", ""]])
    code, out, _ = run_load(capsys, "annuity_income", corrected)
    assert code == 0 and "replaced 3 rows" in out
    assert sorted(query("select 客户名称 from raw.annuity_income")) == [("丁公司",), ("戊公司",), ("甲公司",)]


def test_rows_without_a_month_load_and_are_replaced_with_their_file(database: str, tmp_path: Path, capsys) -> None:
    rows = [*JANUARY, ["#VALUE!", "P5", "己公司", "", "1", ""], ["", "P6", "庚公司", "", "1", ""]]
    path = income_csv(tmp_path / "jan.csv", rows)
    code, out, _ = run_load(capsys, "annuity_income", path)
    assert code == 0 and "warning: 2 rows have no recognisable 月度 (row 5 '#VALUE!', row 6 '')" in out
    assert run_load(capsys, "annuity_income", path)[0] == 0
    assert table_state("annuity_income")[0] == 5
    # A fixed file for the same month replaces them too.
    fixed = income_csv(tmp_path / "jan_fixed.csv", [*JANUARY, ["202501", "P5", "己公司", "", "1", ""]])
    assert run_load(capsys, "annuity_income", fixed)[0] == 0
    assert table_state("annuity_income")[0] == 4
    only_garbage = income_csv(tmp_path / "bad.csv", [["#VALUE!", "P5", "己公司", "", "1", ""]])
    code, _, err = run_load(capsys, "annuity_income", only_garbage)
    assert code == 1 and "no row has a recognisable 月度" in err and table_state("annuity_income")[0] == 4


def test_missing_required_column_changes_nothing_and_names_it(database: str, tmp_path: Path, capsys) -> None:
    assert run_load(capsys, "annuity_income", income_csv(tmp_path / "ok.csv", JANUARY))[0] == 0
    before = table_state("annuity_income")
    header = ["月度", "计划代码", "公司代码", "收入金额", "业务类型"]
    no_name = income_csv(tmp_path / "no_name.csv", [[r[0], r[1], *r[3:]] for r in JANUARY], header)
    code, out, err = run_load(capsys, "annuity_income", no_name)
    assert code == 1 and out == ""
    assert err.startswith("error: no_name.csv: missing required column 客户名称") and err.count("\n") == 1
    assert table_state("annuity_income") == before


def test_header_variants_unknown_columns_and_dry_run(database: str, tmp_path: Path, capsys) -> None:
    header = [" 月度 ", "计划号", "客户名称", "收入金额", "机构", "组合代码"]
    path = income_csv(tmp_path / "old.csv", [["202501", "P1", "甲公司", "1", "总部", "X1"]], header)
    code, out, _ = run_load(capsys, "annuity_income", path, "--dry-run")
    assert code == 0
    assert "'计划号' -> 计划代码" in out and "'机构' -> 机构名称" in out
    assert "left out columns that raw.annuity_income does not have: '组合代码'" in out
    assert "2025-01          1 rows" in out and "dry run: nothing was written" in out
    assert query("select count(*) from pg_tables where schemaname = 'raw'") == [(0,)]  # nothing written
    assert run_load(capsys, "annuity_income", path)[0] == 0
    assert query("select 计划代码, 机构名称 from raw.annuity_income") == [("P1", "总部")]
    twins = income_csv(
        tmp_path / "twins.csv", [["202501", "P1", "P1", "甲公司"]], ["月度", "计划号", "计划代码", "客户名称"]
    )
    code, _, err = run_load(capsys, "annuity_income", twins)
    assert code == 1 and "'计划号' and '计划代码' both mean 计划代码" in err


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_load_the_same_text(database: str, tmp_path: Path, capsys, encoding: str) -> None:
    path = income_csv(tmp_path / "enc.csv", JANUARY, encoding=encoding)
    assert run_load(capsys, "annuity_income", path)[0] == 0
    assert sorted(query("select 客户名称 from raw.annuity_income")) == [("丙公司",), ("乙公司",), ("甲公司",)]
    assert query("select 计划代码 from raw.annuity_income where 月度 = '202501'") == [("P1",)]  # no BOM in 月度


def test_bad_inputs_end_with_one_line_and_change_nothing(database: str, tmp_path: Path, capsys) -> None:
    assert run_load(capsys, "annuity_income", income_csv(tmp_path / "ok.csv", JANUARY))[0] == 0
    before = table_state("annuity_income")
    utf16 = income_csv(tmp_path / "utf16.csv", JANUARY, encoding="utf-16")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("月度,计划代码,客户名称\n".encode() + b"202501,P1,caf\xe9\n")
    empty, header_only, ragged = tmp_path / "empty.csv", tmp_path / "header.csv", tmp_path / "ragged.csv"
    empty.write_bytes(b"")
    header_only.write_text(",".join(INCOME_HEADER) + "\n", encoding="utf-8")
    ragged.write_text("月度,计划代码,客户名称\n202501,P1,甲,x,y\n", encoding="utf-8")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is no workbook")
    workbook = tmp_path / "wb.xlsx"
    with pd.ExcelWriter(workbook, engine="xlsxwriter") as writer:
        pd.DataFrame().to_excel(writer, sheet_name="收入明细", index=False)
        pd.DataFrame([["202501", "P1", "甲"]], columns=["月度", "计划代码", "客户名称"]).to_excel(
            writer, sheet_name="其他", index=False
        )
    cases = [
        (("annuity_income", utf16), "utf16.csv is UTF-16 text"),
        (("annuity_income", latin), "latin.csv is neither UTF-8 nor GB18030"),
        (("annuity_income", empty), "empty.csv is empty"),
        (("annuity_income", header_only), "header.csv has a header but no data rows"),
        (("annuity_income", ragged), "ragged.csv is not a readable CSV file"),
        (("annuity_income", broken), "broken.xlsx is not a readable workbook"),
        (("annuity_income", tmp_path / "missing.csv"), "cannot read"),
        (("annuity_income", workbook), "wb.xlsx!收入明细 is empty"),
        (
            ("annuity_income", workbook, "--sheet", "规模明细"),
            "wb.xlsx has no sheet '规模明细' (its sheets: 收入明细, 其他)",
        ),
        (("annuity_income", utf16, "--sheet", "x"), "utf16.csv is a CSV file: it has no sheets"),
        (("annuity_incomes", tmp_path / "ok.csv"), "unknown table 'annuity_incomes'"),
    ]
    for args, message in cases:
        code, out, err = run_load(capsys, *args)
        assert (code, out) == (1, ""), args
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, (args, err)
    assert table_state("annuity_income") == before


def test_a_failing_load_is_rolled_back_whole(database: str, tmp_path: Path, capsys) -> None:
    assert run_load(capsys, "annuity_income", income_csv(tmp_path / "ok.csv", JANUARY))[0] == 0
    before = table_state("annuity_income")
    query("alter table raw.annuity_income add constraint no_boom check (客户名称 <> 'BOOM')")
    boom = income_csv(tmp_path / "boom.csv", [*JANUARY[:2], ["202501", "P9", "BOOM", "", "1", ""]])
    code, _, err = run_load(capsys, "annuity_income", boom)
    assert code == 1 and err.startswith("error: boom.csv: nothing was loaded: ")
    assert table_state("annuity_income") == before  # the January rows it would replace are still there


def test_command_line_entry_point(database: str, tmp_path: Path) -> None:
    path = income_csv(tmp_path / "jan.csv", JANUARY)
    help_text = subprocess.run(
        [sys.executable, "-m", "python_enrich.load", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--dry-run" in help_text and "--sheet" in help_text
    done = subprocess.run(
        [sys.executable, "-m", "python_enrich.load", "annuity_income", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0 and "loaded 3 rows" in done.stdout
    assert table_state(INCOME.name)[0] == 3


def test_sample_files_load_to_the_same_values_as_the_sample_tables(database: str, tmp_path: Path, capsys) -> None:
    size, workbook, income_file = sample.write_files(500, 4, tmp_path)
    for table, path in (("annuity_performance", workbook), ("annuity_income", income_file)):
        assert run_load(capsys, table, path)[0] == 0
    loaded = query("select 客户名称, 公司代码, 年金账户号 from raw.annuity_performance order by _row_key")
    assert len(loaded) == size.performance_rows
    sample.generate(500, 4)
    generated = query("select 客户名称, 公司代码, 年金账户号 from raw.annuity_performance order by _row_key")
    assert sorted(loaded, key=repr) == sorted(
        [tuple(None if v == "" else v for v in row) for row in generated], key=repr
    )


def test_workbook_month_cells_of_every_type(database: str, tmp_path: Path, capsys) -> None:
    frame = pd.DataFrame(
        {
            "月度": [datetime(2025, 3, 1), 202503, "2025年3月", 20250301.0],
            "计划代码": ["P1"] * 4,
            "客户名称": ["甲", "乙", "丙", "丁"],
        }
    )
    path = tmp_path / "typed.xlsx"
    frame.to_excel(path, sheet_name="收入明细", index=False, engine="xlsxwriter")
    code, out, _ = run_load(capsys, "annuity_income", path)
    assert code == 0 and "raw.annuity_income: 4 rows, 2025-03\n" in out and "warning" not in out


def test_a_users_own_table_gets_the_loader_columns_and_keeps_its_rows(database: str, tmp_path: Path, capsys) -> None:
    query("create schema raw")
    query(f"create table raw.annuity_income ({', '.join(f'{c} text' for c in INCOME_HEADER)})")
    query("insert into raw.annuity_income (月度, 计划代码, 客户名称) values ('2024-12-01', 'P0', '旧公司')")
    assert run_load(capsys, "annuity_income", income_csv(tmp_path / "jan.csv", JANUARY))[0] == 0
    columns = {
        c for (c,) in query("select column_name from information_schema.columns where table_name = %s", (INCOME.name,))
    }
    assert set(INCOME.all_columns) <= columns
    assert query("select 客户名称, _row_key from raw.annuity_income where 计划代码 = 'P0'") == [("旧公司", None)]


def test_output_carries_no_control_characters(database: str, tmp_path: Path, capsys) -> None:
    header = ["月度", "计划代码", "客户名称", "\x1b[31mred"]
    path = income_csv(
        tmp_path / "x\x1b]0;title\x07.csv", [["\x1b[2J", "P1", "甲公司", "1"], *[["202501", "P1", "乙", "1"]]], header
    )
    code, out, err = run_load(capsys, "annuity_income", path)
    assert code == 0 and "\x1b" not in out + err and "\x07" not in out + err
    assert "\\x1b" in out  # shown, escaped


def test_dry_run_counts_the_rows_a_load_would_replace_and_names_sample_data(
    database: str, tmp_path: Path, capsys
) -> None:
    """A user's first real export over months the demo filled: the dry run says how many rows it would
    replace and which are the demo's sample data; the load then says the same, and the counts are right."""
    _, _, sample_income = sample.write_files(60, 3, tmp_path)
    assert run_load(capsys, "annuity_income", sample_income)[0] == 0
    own = income_csv(tmp_path / "own_2024.csv", [["202401", "P9", "戊公司", "", "1", ""]])
    assert run_load(capsys, "annuity_income", own)[0] == 0
    months = query("select 月度, _source_file from raw.annuity_income")
    sample_month = next(m for m, source in months if source.startswith("收入明细_sample_3"))
    counts = dict(
        query(
            "select _source_file, count(*) from raw.annuity_income where 月度 = any(%s) group by 1",
            ([sample_month, "202401"],),
        )
    )
    export = income_csv(
        tmp_path / "export.csv", [[sample_month, "P1", "甲公司", "", "5", ""], ["202401", "P9", "戊公司", "", "2", ""]]
    )
    before = table_state("annuity_income")
    code, out, _ = run_load(capsys, "annuity_income", export, "--dry-run")
    assert code == 0 and table_state("annuity_income") == before
    total, of_sample = sum(counts.values()), counts["收入明细_sample_3.csv"]
    print(out.splitlines()[-2])
    assert (
        f"a load would replace {total:,} rows loaded before for these months "
        f"({of_sample:,} of them the demo's sample data: '收入明细_sample_3.csv' {of_sample:,})"
    ) in out
    code, out, _ = run_load(capsys, "annuity_income", export)
    assert code == 0
    assert f"replaced {total:,} rows loaded before for these months ({of_sample:,} of them the demo's sample" in out
    left = dict(
        query(
            "select _source_file, count(*) from raw.annuity_income where 月度 = any(%s) group by 1",
            ([sample_month, "202401"],),
        )
    )
    assert left == {"export.csv": 2}  # the replaced rows are gone, the export's are in


def test_dry_run_of_a_first_load_replaces_nothing_and_says_so(database: str, tmp_path: Path, capsys) -> None:
    path = income_csv(tmp_path / "first.csv", [["202501", "P1", "甲公司", "", "1", ""]])
    code, out, _ = run_load(capsys, "annuity_income", path, "--dry-run")
    assert code == 0 and "a load would replace 0 rows loaded before for these months\n" in out
    assert "sample" not in out
