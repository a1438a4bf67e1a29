"""The sample data generator and the demo command (the README's main job)."""

from __future__ import annotations

import hashlib
import re

import psycopg2
import pytest

from python_enrich.standins import sample
from tests.conftest import fresh_database


def table_digest(table: str) -> str:
    """The table's data, without the load's own batch id and time (new for every load)."""
    conn = psycopg2.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"select * from raw.{table}")
            loader = {"_batch_id", "_loaded_at"}
            keep = [i for i, column in enumerate(cur.description) if column.name not in loader]
            assert len(keep) == len(cur.description) - len(loader)
            return hashlib.sha256(repr([[row[i] for i in keep] for row in cur.fetchall()]).encode()).hexdigest()
            return hashlib.sha256(repr(cur.fetchall()).encode()).hexdigest()
    finally:
        conn.close()


def test_sample_is_deterministic_and_realistic() -> None:
    with fresh_database():
        size = sample.generate(3000, seed=5)
        first = table_digest("annuity_performance"), table_digest("annuity_income")
        sample.generate(3000, seed=5)
        assert (table_digest("annuity_performance"), table_digest("annuity_income")) == first
        sample.generate(3000, seed=6)
        assert table_digest("annuity_performance") != first[0]

        conn = psycopg2.connect()
        with conn.cursor() as cur:
            cur.execute("select count(*) from raw.annuity_performance")
            assert cur.fetchone() == (3000,)
            cur.execute("select count(*) from raw.annuity_income")
            assert cur.fetchone() == (size.income_rows,)
            cur.execute("select 客户名称, 公司代码, 计划类型 from raw.annuity_performance")
            rows = cur.fetchall()
            cur.execute("select 月度, 期初资产规模, 期末资产规模, 供款 from raw.annuity_performance")
            cells = cur.fetchall()
            cur.execute(
                "select count(*) from raw.annuity_income i where exists "
                "(select 1 from raw.annuity_performance p where p.客户名称 = i.客户名称)"
            )
            shared_customers = cur.fetchone()[0]
        conn.close()
    names = [name for name, _, _ in rows]
    codes = [code for _, code, _ in rows]
    assert any(n and re.search(r"-已转出$|（终止）$", n) for n in names)  # status suffixes
    assert any(n and "\u3000" in n for n in names) and any(n and re.search("[Ａ-Ｚ０-９]", n) for n in names)
    assert any(n in ("", "空白", "N/A", None) for n in names)  # blanks and placeholders
    assert sum(1 for c in codes if c and c.isdigit() and c != "0") > 100  # real company codes
    assert {t for _, _, t in rows} == {"单一计划", "集合计划"}
    assert shared_customers > 100  # the two domains share customers
    # Months and amounts as exports write them, placeholders, and a few garbage cells.
    months = {month for month, *_ in cells}
    for pattern in (r"^\d{6}$", r"^\d{4}年\d{1,2}月$", r"^\d{2}年\d{1,2}月$", r"^\d{4}-\d{2}$", r"^\d{8}$", "[０-９]"):
        assert any(re.search(pattern, m) for m in months), pattern
    amounts = [a for _, *row in cells for a in row]
    for pattern in (r"^\d{1,3}(,\d{3})+\.\d\d$", r"^\(.*\)$", r"^ .* $", "[０-９]", r"^(-|N/A|NULL|无)$"):
        assert any(re.search(pattern, a) for a in amounts), pattern
    garbage = sum(a in sample.GARBAGE_AMOUNTS for a in amounts) + sum(m in sample.GARBAGE_MONTHS for m, *_ in cells)
    assert 0 < garbage < len(cells) * 4 * 0.005


def test_sample_writes_export_files(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sample.main(["--rows", "60", "--seed", "2", "--files", str(tmp_path)]) == 0
    assert "规模明细_sample_2.xlsx (60 rows)" in capsys.readouterr().out
    assert {p.name for p in tmp_path.iterdir()} == {"规模明细_sample_2.xlsx", "收入明细_sample_2.csv"}
    assert (tmp_path / "收入明细_sample_2.csv").read_bytes().startswith(b"\xef\xbb\xbf\xe6\x9c\x88")  # BOM, 月度


def test_sample_rejects_bad_size() -> None:
    with pytest.raises(SystemExit):
        sample.main(["--rows", "0"])
