"""The SQL normalizer and temporary ids give exactly the Python results (reference + 100,000 names)."""

from __future__ import annotations

import json

import psycopg2

from python_enrich.normalization import normalize_company_name
from python_enrich.temp_id import temp_company_id
from tests.conftest import DbtProject
from tests.name_generator import generated_names
from tests.reference_data import DATA_DIR

REFERENCE = DATA_DIR / "normalization_cases.json"


def sql_results(project: DbtProject, names: list[str | None], salt: str) -> list[tuple[str, str | None]]:
    """(normalized, temp_id) per name from PostgreSQL's normalizer and HMAC under `salt` (a test salt;
    builds use the salt stored in the state, see test_salt_secrecy.py)."""
    conn = psycopg2.connect(dbname=project.database)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "select n, case when n <> '' then enrichment.hmac_temp_id(n, %s) end "
                "from unnest(%s::text[]) with ordinality as t(name, position) "
                "cross join lateral (select enrichment.normalize_company_name(name) as n) as normalized "
                "order by position",
                (salt, names),
            )
            return cur.fetchall()
    finally:
        conn.close()


def test_reference_cases_in_sql(built_warehouse: DbtProject) -> None:
    cases = json.loads(REFERENCE.read_text(encoding="utf-8"))["cases"]
    salt = "default_dev_salt_change_in_prod"
    results = sql_results(built_warehouse, [c["input"] for c in cases], salt)
    mismatches = [
        (c["input"], got)
        for c, got in zip(cases, results, strict=True)
        if got != (c["expected"], temp_company_id(c["input"], salt))
    ]
    assert mismatches == []
    assert sql_results(built_warehouse, ["平安相伴今生企业年金集合计划"], salt) == [
        ("平安相伴今生企业年金集合计划", "INXELNISM3IAVLLWF5")
    ]


def test_generated_names_agree_in_python_and_sql(built_warehouse: DbtProject, full_proofs: bool) -> None:
    """Generated names reach every rule many times over: 25,000 by default, 100,000 with --full-proofs."""
    count = 100_000 if full_proofs else 25_000
    names = generated_names(count, seed=2026)
    salt = "parity salt with spaces \\ and ünïcode"
    expected = [(normalize_company_name(n), temp_company_id(n, salt)) for n in names]
    got = sql_results(built_warehouse, names, salt)
    differences = [(n, e, g) for n, e, g in zip(names, expected, got, strict=True) if e != g]
    changed = sum(1 for n, (norm, _) in zip(names, expected, strict=True) if isinstance(n, str) and norm != n)
    empty = sum(1 for norm, _ in expected if norm == "")
    print(
        f"{count:,} names: {count - len(differences):,} agree, {len(differences):,} differ; "
        f"{changed:,} changed, {empty:,} empty"
    )
    assert differences[:5] == []
    # The generator really reaches the rules: many names change, some become empty, some get cut.
    assert changed > 0.9 * count
    assert empty > 0.01 * count


def test_macros_fail_at_compile_time_on_bad_arguments(dbt_project: DbtProject, tmp_path) -> None:
    result = dbt_project.run("compile", "--inline", "select {{ normalize_company_name('') }}", expect_success=False)
    assert not result.success
    assert "needs a SQL expression" in str(result.exception) + " ".join(dbt_project.messages)
