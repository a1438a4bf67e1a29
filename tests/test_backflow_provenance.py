"""Two builds on the sample: the first, with an empty cache, counts no cache hits (rows say
existing_code or backflow); the second counts the first build's learned keys as cache entries."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from pathlib import Path

import pytest

from python_enrich import summary
from python_enrich.db import cursor
from python_enrich.envvars import environment
from python_enrich.standins import sample
from tests.conftest import DbtProject, fresh_database
from tests.resolution_oracle import DOMAINS, cache_snapshot, check_build, mart_rows

pytestmark = pytest.mark.slow  # builds the sample warehouse in each test (./run test --fast leaves it out)


def build_figures(project: DbtProject) -> dict[str, int]:
    """The last build's run-log figures by evidence class."""
    with project.selected(), cursor() as cur:
        [(_, split)] = summary.fetch_recent_builds(cur, limit=1)
    return split


def row_ids(project: DbtProject) -> dict[tuple[str, int], tuple[object, ...]]:
    """(domain, n) -> (plan, name, code, company_id, source), rows ordered by their inputs alone."""
    ids = {}
    for domain in DOMAINS:
        rows = sorted(mart_rows(project, domain), key=lambda row: repr(row[:4]))
        for n, (plan, _, normalized, code, company_id, source, _) in enumerate(rows):
            ids[(domain, n)] = (plan, normalized, code, company_id, source)
    return ids


def test_first_build_counts_no_cache_hits_and_second_counts_learned_keys_as_cache(tmp_path: Path) -> None:
    salt = f"pytest-salt-{secrets.token_hex(8)}"
    with environment(WDH_ALIAS_SALT=salt), fresh_database() as name:
        project = DbtProject(name, tmp_path, salt=salt)
        sample.generate(4000, seed=11)
        project.run("seed")

        project.run("run")  # dbt's tests run on the second build
        first_tiers, wrong = check_build(project, cache_before=[])
        first = build_figures(project)
        print(f"\nbuild 1 (empty cache) tiers: {dict(sorted(first_tiers.items()))}; wrong rows: {len(wrong)}")
        print(f"build 1 by evidence: {first}")
        assert wrong[:5] == []
        assert first["cache"] == 0 and not any(t.startswith("cache_") for t in first_tiers)
        assert first["existing_code"] > 0 and first["backflow"] > 0
        assert first["existing_code"] == first_tiers["existing_code"] and first["backflow"] == first_tiers["backflow"]
        learned = project.query("select count(*) from intermediate.int_backflow_learned_keys")[0][0]
        cache_after_first = cache_snapshot(project)
        assert learned > 0 and len(cache_after_first) == learned  # written after resolution, all of them
        before = row_ids(project)

        project.run("build")
        second_tiers, wrong = check_build(project, cache_before=cache_after_first)
        second = build_figures(project)
        print(f"build 2 tiers: {dict(sorted(second_tiers.items()))}; wrong rows: {len(wrong)}")
        print(f"build 2 by evidence: {second}")
        assert wrong[:5] == []
        assert second["cache"] == sum(n for t, n in second_tiers.items() if t.startswith("cache_")) > 0
        assert second["backflow"] == 0  # every key learned last build is a cache entry now
        assert cache_snapshot(project) == cache_after_first  # nothing new to learn from the same data

        # Rows answered by their own code or by backflow keep their id, now from the cache; only rows
        # whose own code lost to the majority of their name's codes change (to the learned id).
        after = row_ids(project)
        changes = Counter((before[key][4], after[key][4]) for key in before if before[key][3] != after[key][3])
        moved = Counter((before[key][4], after[key][4]) for key in before)
        print(f"tier moves build 1 -> build 2: {dict(moved)}; id changes: {dict(changes)}")
        assert set(changes) <= {("existing_code", "cache_customer_name"), ("existing_code", "cache_plan_customer")}
        assert sum(n for (old, new), n in moved.items() if old == "backflow" and not new.startswith("cache_")) == 0


def mart_counts(project: DbtProject) -> list[int]:
    """Over both domains: rows, real ids, temporary ids, NULL ids, cache_*, existing_code, backflow."""
    per_domain = [
        project.query(
            "select count(*), count(*) filter (where company_id is not null and not is_temporary_id), "
            "count(*) filter (where is_temporary_id), count(*) filter (where company_id is null), "
            "count(*) filter (where company_id_source like 'cache%%'), "
            "count(*) filter (where company_id_source = 'existing_code'), "
            f"count(*) filter (where company_id_source = 'backflow') from marts.{domain}"
        )[0]
        for domain in DOMAINS
    ]
    return [sum(int(counts[i]) for counts in per_domain) for i in range(7)]


def test_summary_counts_match_the_marts(tmp_path: Path) -> None:
    """The demo's summary lines against counts queried from the marts, with rows of a name that an
    override says has no company (NULL id: not a real id) in the data."""
    with fresh_database() as name:
        project = DbtProject(name, tmp_path)
        sample.generate(2000, seed=5)
        project.query(
            "insert into raw.annuity_performance (月度, 计划代码, 客户名称, 公司代码) values "
            "('2025-01-01', 'PZ1', '保留账户管理', null), ('2025-01-01', 'PZ2', '保留账户管理', '123456')"
        )
        project.run("seed")
        project.run("build")
        with project.selected(), cursor() as cur:
            text = summary.render(
                summary.fetch_tier_counts(cur),
                summary.fetch_state_counts(cur),
                summary.fetch_real_id_rows(cur),
                summary.fetch_recent_builds(cur, limit=2),
            )
        total, real, temporary, null, cache, own, backflow = mart_counts(project)
        empty_override_rows = project.query(
            "select count(*) from marts.annuity_performance where company_id_source = 'name_override' "
            "and company_id is null"
        )
    print(f"\n{text}")
    print(f"from the marts: rows {total}, real ids {real}, temporary {temporary}, NULL {null}")
    assert empty_override_rows == [(2,)]
    assert real + temporary + null == total
    line = re.search(r"real company id on ([\d,]+) of ([\d,]+) rows \(([\d.]+)%\); temporary ids on ([\d,]+)", text)
    assert line, text
    assert [int(g.replace(",", "")) for g in line.group(1, 2, 4)] == [real, total, temporary]
    assert float(line.group(3)) == round(100 * real / total, 1)
    build = re.search(
        r"last build \(run \d+\):\s+([\d,]+) of ([\d,]+) rows \([\d.]+%\); own code ([\d,]+); backflow ([\d,]+)", text
    )
    assert build, text
    assert [int(g.replace(",", "")) for g in build.groups()] == [cache, total, own, backflow]
    assert cache == 0 and own > 0 and backflow > 0
