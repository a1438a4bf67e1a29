"""The warehouse's decisions exactly at their limits, on a built sample: the cache threshold, existing
codes as users' cells write them, the queue's priority, and names waiting for a person's review."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from decimal import Decimal

import pytest

from python_enrich.envvars import environment
from python_enrich.normalization import normalize_company_name
from python_enrich.standins import sample
from tests.conftest import DbtProject, fresh_database

AT_THRESHOLD = "阈值恰好科技有限公司"  # cache entry at exactly cache_min_confidence (0.6): used
BELOW_THRESHOLD = "阈值之下科技有限公司"  # at 0.599: kept, never used
PRIORITY_NAME = "优先级测试有限公司"  # 3 rows of 2,500,000.00 assets: priority 3 + 7.5
# Existing codes as cells write them -> what staging keeps (None: not a company id).
CODES = {
    "0": None,
    "000": None,
    " 123 ": "123",
    "N/A": None,
    "NAN": None,
    "null": None,
    "-": None,
    "１２３": None,  # full-width digits are not an id
    "12345678901234567890": "12345678901234567890",  # 20 digits: the longest id
    "123456789012345678901": None,  # 21 digits: too long to be an id
    "6.1e9": None,
    "-5": None,
}


def code_name(index: int) -> str:
    return f"代码测试{index:02d}有限公司"


@pytest.fixture(scope="module")
def limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtProject]:
    salt = f"limits-salt-{secrets.token_hex(6)}"
    with environment(WDH_ALIAS_SALT=salt), fresh_database() as name:
        project = DbtProject(name, tmp_path_factory.mktemp("dbt"), salt=salt)
        sample.generate(600, seed=11)
        project.run("seed")
        project.run("run")  # creates the state; the crafted rows and entries come after (then a build)
        rows = [("202501", "PL001", AT_THRESHOLD, "", "100"), ("202501", "PL001", BELOW_THRESHOLD, "", "100")]
        rows += [("202501", "PL002", PRIORITY_NAME, "", "2,500,000.00")] * 3
        rows += [("2025-01", "PL003", code_name(i), code, "1") for i, code in enumerate(CODES)]
        for row in rows:
            project.query(
                "insert into raw.annuity_performance (月度, 计划代码, 客户名称, 公司代码, 期末资产规模) "
                "values (%s, %s, %s, %s, %s)",
                row,
            )
        for key, company_id, confidence in [
            (AT_THRESHOLD, "600000601", "0.600"),
            (BELOW_THRESHOLD, "600000599", "0.599"),
        ]:
            project.query(
                "insert into enrichment.company_name_index (key_type, lookup_key, company_id, confidence, source) "
                "values ('customer_name', %s, %s, %s, 'legacy_import')",
                (normalize_company_name(key), company_id, confidence),
            )
        project.run("build")
        yield project


def resolved(project: DbtProject, name: str) -> set[tuple[object, ...]]:
    return set(
        project.query(
            "select company_id, company_id_source, company_id_confidence, is_temporary_id "
            "from marts.annuity_performance where customer_name = %s",
            (name,),
        )
    )


def test_a_cache_entry_exactly_at_the_threshold_resolves_and_one_just_below_does_not(limits: DbtProject) -> None:
    assert resolved(limits, AT_THRESHOLD) == {("600000601", "cache_customer_name", Decimal("0.600"), False)}
    ((company_id, source, confidence, is_temporary),) = resolved(limits, BELOW_THRESHOLD)
    assert (source, confidence, is_temporary) == ("temporary", Decimal("0.000"), True)
    assert company_id.startswith("IN")
    queued = limits.query(
        "select status from enrichment.enrichment_requests where normalized_name = %s",
        (normalize_company_name(BELOW_THRESHOLD),),
    )
    assert queued == [("pending",)]  # the doubtful entry is kept for review, the name still looked up


def test_existing_codes_count_only_when_they_are_real_ids(limits: DbtProject) -> None:
    staged = dict(
        limits.query(
            "select customer_name, existing_company_id from staging.stg_annuity__performance "
            "where customer_name like '代码测试%%'"
        )
    )
    right = [code for i, code in enumerate(CODES) if staged[code_name(i)] == CODES[code]]
    wrong = [(code, staged[code_name(i)]) for i, code in enumerate(CODES) if staged[code_name(i)] != CODES[code]]
    print(f"existing codes from raw cells: {len(right)} right, {len(wrong)} wrong {wrong}")
    assert wrong == []
    for index, code in enumerate(CODES):
        ((company_id, source, _, is_temporary),) = resolved(limits, code_name(index))
        if CODES[code] is None:  # a placeholder never answers a row: the name gets a temporary id
            assert (source, is_temporary) == ("temporary", True), code
        else:
            assert (company_id, source) == (CODES[code], "existing_code"), code
    zero_ids = limits.query(
        "select count(*) from marts.annuity_performance where company_id ~ '^0+$' "
        "union all select count(*) from enrichment.company_name_index where company_id ~ '^0+$'"
    )
    assert zero_ids == [(0,), (0,)]


def test_the_queue_priority_is_rows_plus_assets_in_millions(limits: DbtProject) -> None:
    row = limits.query(
        "select priority, row_count, asset_volume from enrichment.enrichment_requests where normalized_name = %s",
        (normalize_company_name(PRIORITY_NAME),),
    )
    assert row == [(Decimal("10.5"), 3, Decimal("7500000.00"))]


def test_a_name_waiting_for_review_is_not_queued_again_by_the_next_build(limits: DbtProject) -> None:
    name = normalize_company_name(BELOW_THRESHOLD)
    limits.query(
        "update enrichment.enrichment_requests set status = 'needs_review' where normalized_name = %s", (name,)
    )
    queued_before = limits.query("select count(*) from enrichment.enrichment_requests")[0][0]
    limits.run("build")
    assert limits.query("select status from enrichment.enrichment_requests where normalized_name = %s", (name,)) == [
        ("needs_review",)
    ]
    assert limits.query("select count(*) from enrichment.enrichment_requests")[0][0] == queued_before
    ((_, source, _, is_temporary),) = resolved(limits, BELOW_THRESHOLD)
    assert (source, is_temporary) == ("temporary", True)  # review resolves nothing meanwhile
