"""Migrating from the old warehouse: override YAML files and the old cache table."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from python_enrich import cache, overrides
from python_enrich.normalization import normalize_company_name
from tests.conftest import DbtProject


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


def test_override_files_become_seed_csvs(tmp_path: Path) -> None:
    old, seeds = tmp_path / "old", tmp_path / "seeds"
    old.mkdir()
    write(old, "company_id_overrides_plan.yml", "# plans\n'P0001': '600000001'\n\"P0002\": \"600000002\"\n")
    write(old, "company_id_overrides_name.yml", "'某公司（已转出）': '600000003'\n'内部账户': '__EMPTY__'\n")
    assert overrides.main(["import", str(old), "--seeds-dir", str(seeds)]) == 0
    with (seeds / "company_id_overrides_plan.csv").open(encoding="utf-8") as handle:
        assert [row[:2] for row in csv.reader(handle)] == [
            ["plan_code", "company_id"],
            ["P0001", "600000001"],
            ["P0002", "600000002"],
        ]
    with (seeds / "company_id_overrides_name.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["customer_name"], r["company_id"]) for r in rows] == [
        ("某公司（已转出）", "600000003"),
        ("内部账户", "__EMPTY__"),
    ]
    assert not (seeds / "company_id_overrides_hardcode.csv").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "'P1': '600000001'\n'P2': 600000002\n",
            "company_id_overrides_plan.yml, line 2: the company id 600000002 is an unquoted number",
        ),
        ("'P1': '600000001'\n1234: '600000002'\n", "line 2: the key 1234 is an unquoted number"),
        ("'P1': '__EMPTY__'\n", "line 1: company id '__EMPTY__' must be digits"),
        ("'P1': '600000001'\n'P1': '600000009'\n", "line 2: key 'P1' repeats line 1"),
        ("'P1': ['600000001']\n", "line 1: the company id must be a quoted string"),
        ("'P1': '6000\n", "not valid YAML"),
    ],
)
def test_bad_override_entries_name_file_and_line_and_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    old, seeds = tmp_path / "old", tmp_path / "seeds"
    old.mkdir()
    seeds.mkdir()
    (seeds / "company_id_overrides_plan.csv").write_text("plan_code,company_id,note\nKEEP,1,\n", encoding="utf-8")
    write(old, "company_id_overrides_plan.yml", text)
    assert overrides.main(["import", str(old), "--seeds-dir", str(seeds)]) == 1
    assert message in capsys.readouterr().err
    assert "KEEP" in (seeds / "company_id_overrides_plan.csv").read_text(encoding="utf-8")


def test_old_cache_is_rekeyed_and_never_downgrades(dbt_project: DbtProject, capsys: pytest.CaptureFixture[str]) -> None:
    dbt_project.run(
        "run", "--select", "int_company_id_overrides", "--exclude", "resource_type:seed", expect_success=False
    )
    dbt_project.query(
        "create schema enterprise; create table enterprise.enrichment_index (lookup_key text, lookup_type text, "
        "company_id text, confidence numeric, source text, created_at timestamptz default now())"
    )
    dbt_project.query(
        "insert into enterprise.enrichment_index (lookup_key, lookup_type, company_id, confidence, source) values "
        "('中国平安（已转出）', 'customer_name', '100', 0.9, 'eqc'), "
        "('中国平安-已转出', 'customer_name', '101', 0.8, 'eqc'), "  # same key after re-keying, less confident
        "('p001|某 公司', 'plan_customer', '102', 1, 'manual'), "
        "('老名字有限公司', 'former_name', '103', 1, 'eqc'), "
        "('P002', 'plan_code', '104', 1, 'manual'), "
        "('N/A', 'customer_name', '105', 1, 'eqc'), "
        "('某公司', 'account_number', '106', 1, 'eqc'), "
        "('某公司2', 'customer_name', 'IN7KZNPWPCVQXJ6AY7', 1, 'temp'), "
        "('某公司3', 'customer_name', '107', 1.5, 'eqc'), "
        "('已有公司', 'customer_name', '108', 0.5, 'eqc')"
    )
    dbt_project.query(
        "insert into enrichment.company_name_index (key_type, lookup_key, company_id, confidence, source) "
        "values ('customer_name', '已有公司', '999', 0.95, 'manual')"
    )
    assert cache.main(["import"]) == 0
    out = capsys.readouterr().out
    rows = dict(
        ((t, k), c)
        for t, k, c in dbt_project.query("select key_type, lookup_key, company_id from enrichment.company_name_index")
    )
    assert rows[("customer_name", normalize_company_name("中国平安（已转出）"))] == "100"
    assert rows[("plan_customer", "P001|某公司")] == "102"
    assert rows[("former_name", "老名字有限公司")] == "103"
    assert rows[("plan_code", "P002")] == "104"
    assert rows[("customer_name", "已有公司")] == "999"  # a more confident entry is kept
    assert "read 10 old entries" in out
    for reason in (
        "name normalizes to empty",
        "unknown lookup_type 'account_number'",
        "not a real id",
        "outside 0..1",
        "duplicate",
    ):
        assert reason in out
    assert cache.main(["import"]) == 0  # idempotent
    assert len(dbt_project.query("select * from enrichment.company_name_index")) == len(rows)


def test_cache_import_without_state_says_what_to_run(
    dbt_project: DbtProject, capsys: pytest.CaptureFixture[str]
) -> None:
    dbt_project.query(
        "create schema enterprise; create table enterprise.enrichment_index "
        "(lookup_key text, lookup_type text, company_id text, confidence numeric, source text)"
    )
    assert cache.main(["import"]) == 1
    assert "run dbt build" in capsys.readouterr().err


def test_import_never_replaces_a_verified_entry_nor_brings_back_a_retired_one(
    dbt_project: DbtProject, capsys: pytest.CaptureFixture[str]
) -> None:
    dbt_project.run("run-operation", "setup_enrichment_state")
    checked, retired, new = (normalize_company_name(n) for n in ("甲科技有限公司", "乙实业有限公司", "丙能源有限公司"))
    dbt_project.query(
        "create schema enterprise; create table enterprise.enrichment_index (lookup_key text, lookup_type text, "
        "company_id text, confidence numeric, source text)"
    )
    dbt_project.query(
        "insert into enterprise.enrichment_index values (%s, 'customer_name', '200', 1, 'eqc'), "
        "(%s, 'customer_name', '300', 1, 'eqc'), (%s, 'customer_name', '400', 1, 'eqc')",
        (checked, retired, new),
    )
    dbt_project.query(
        "insert into enrichment.company_name_index (key_type, lookup_key, company_id, confidence, source, evidence) "
        "values ('customer_name', %s, '201', 0.95, 'eqc', 'legal_form_variant')",
        (checked,),
    )
    dbt_project.query(
        "insert into enrichment.retired_cache_entries (key_type, lookup_key, company_id, source, retired_reason) "
        "values ('customer_name', %s, '300', 'legacy_import', 'the registry names company 301 (exact_name)')",
        (retired,),
    )
    assert cache.main(["import"]) == 0
    out = capsys.readouterr().out
    rows = {
        k: (c, v)
        for k, c, v in dbt_project.query(
            "select lookup_key, company_id, is_verified from enrichment.company_name_index"
        )
    }
    assert rows == {checked: ("201", True), new: ("400", False)}  # imported entries are unverified
    assert "a verified entry holds the key" in out and "retired by a re-check" in out
