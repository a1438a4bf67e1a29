"""Blank customer names and the inherited cache, on the real-shaped sample: placeholder 客户名称
resolved by 年金账户名, nameless and totals rows, and the old warehouse's cache (stale entries
included) imported, re-checked by one drain against the sandbox, and rebuilt. Every decision is
counted against the truth the sample generator and the sandbox share, and the counts are printed."""

from __future__ import annotations

import secrets
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from python_enrich import cache, drain, report, summary
from python_enrich.cache_recheck import verification_counts
from python_enrich.db import connect
from python_enrich.envvars import environment
from python_enrich.review.__main__ import main as review_main
from python_enrich.review.audit import audit_cache
from python_enrich.standins import sample
from python_enrich.standins.sample_legacy_cache import legacy_entries
from python_enrich.standins.sandbox import SandboxConfig, SandboxServer
from tests.conftest import DbtProject, fresh_database

ROWS, SEED = 6000, 42
TOKEN = "recheck-test-token-0123456789abcdef"
UNKNOWN_TO_THE_REGISTRY = "ZZQ无此单位"


def _counts(project: DbtProject) -> dict[str, int]:
    with project.selected():
        conn = connect()
        try:
            with conn, conn.cursor() as cur:
                return verification_counts(cur)
        finally:
            conn.close()


def _rows(project: DbtProject) -> list[tuple[object, ...]]:
    """Every performance row in raw order (its row key's number), with its resolution."""
    return project.query(
        "select split_part(row_key, ':', 2)::int, resolved_by_name, resolution_name_normalized, company_id, "
        "company_id_source, is_temporary_id, existing_company_id from marts.annuity_performance "
        "where row_key like 'sample%%' order by 1"
    )


def _typo_codes(built: sample.Sample) -> set[str]:
    """Codes the sample's rows carry that are another company's (typos in the data)."""
    pairs = [(row[7], t) for row, t in zip(built.performance, built.performance_truth, strict=True)]
    pairs += [(row[3], t) for row, t in zip(built.income, built.income_truth, strict=True)]
    return {
        str(code)
        for code, t in pairs
        if t and isinstance(code, str) and code.isdigit() and code.strip("0") and code != t
    }


def _judge(rows: list[tuple[object, ...]], built: sample.Sample) -> tuple[Counter[str], list[object]]:
    """right / wrong / temporary / none per row against the company each row is about. A row whose
    own code is a typo in the data, or whose id backflow learned from such a typo, and a row the
    demo override seeds map to another id, are counted apart: the user's data and mappings say so,
    not the inherited cache."""
    truth, typos = built.performance_truth, _typo_codes(built)
    counts: Counter[str] = Counter()
    wrong: list[object] = []
    for number, _, name, company_id, source, is_temporary, code in rows:
        true_id = truth[int(number) - 2]  # type: ignore[call-overload]
        if company_id is None:
            counts["none"] += 1
        elif is_temporary:
            counts["temporary"] += 1
        elif (code is not None and code != true_id) or (company_id != true_id and company_id in typos):
            counts["a typo code in the data"] += 1
        elif company_id != true_id and str(source).endswith("_override"):
            counts["the user's override seeds (demo entries)"] += 1
        elif company_id == true_id:
            counts["right"] += 1
        else:
            counts["wrong"] += 1
            wrong.append((number, name, company_id, source, true_id))
    return counts, wrong


@dataclass
class Shaped:
    project: DbtProject
    built: sample.Sample
    before: dict[str, object]  # figures after the import's build, before the drain
    stats: dict[str, int]  # the drain's


@pytest.fixture(scope="module")
def shaped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shaped]:
    """The sample with its old cache: seeded, the cache imported, built (figures kept),
    one drain over every waiting name and every unverified entry against the sandbox, built again."""
    salt = f"pytest-salt-{secrets.token_hex(8)}"
    with environment(WDH_ALIAS_SALT=salt), fresh_database() as name:
        project = DbtProject(name, tmp_path_factory.mktemp("dbt"), salt=salt)
        with project.selected():
            sample.generate(ROWS, seed=SEED, legacy_cache=True)
        project.run("seed")
        project.run("run-operation", "setup_enrichment_state")
        with project.selected():  # as a migrating user does: the old cache first, then the first build
            imported = cache.import_cache("enterprise", "enrichment_index")
        assert imported["inserted"] > 0
        project.query(  # an entry for a name the registry knows nothing about: its re-check settles nothing
            "insert into enrichment.company_name_index (key_type, lookup_key, company_id, confidence, source) "
            "values ('customer_name', %s, '123456789', 1, 'legacy_import')",
            (UNKNOWN_TO_THE_REGISTRY,),
        )
        project.run("run")  # dbt's tests run on the build after the drain, over the same models
        built = sample.build_sample(ROWS, SEED)
        judged, wrong = _judge(_rows(project), built)
        waiting = project.query("select count(*) from enrichment.enrichment_requests where status = 'pending'")[0][0]
        before = {
            "judged": judged, "wrong": wrong, "cache": _counts(project),
            "conflicts": project.query("select count(*) from marts.unverified_cache_conflicts")[0][0],
            "waiting": waiting,
        }  # fmt: skip
        budget = int(before["waiting"]) + before["cache"]["unverified"]  # type: ignore[index]
        config = SandboxConfig(companies=built.size.companies, seed=SEED, tokens=(TOKEN,))
        with SandboxServer(config) as sandbox, project.selected():
            with environment(WDH_EQC_TOKEN=TOKEN, WDH_EQC_BASE_URL=sandbox.url):
                code = drain.main(
                    ["--budget", str(budget), "--rate-limit", "100000/1", "--concurrency", "4", "--progress", "none"]
                )
        assert code == 0
        stats = project.query("select details -> 'stats' from enrichment.run_log where run_kind = 'drain'")[-1][0]
        project.run("build")
        yield Shaped(project, built, before, stats)  # type: ignore[arg-type]


def test_placeholder_names_resolve_by_the_account_name(shaped: Shaped) -> None:
    """After the drain: every row resolved by its account name has its company's id, or a temporary
    id while the registry cannot say; no temporary id stands for two companies."""
    project, built = shaped.project, shaped.built
    rows = _rows(project)
    by_account = [r for r in rows if r[1] == "account_name"]
    counts, wrong = _judge(by_account, built)
    print(f"\nrows resolved by 年金账户名: {len(by_account)}; {dict(counts)}")
    assert counts["right"] > 0 and counts["temporary"] > 0
    assert wrong == []
    # No temporary id stands for two companies.
    companies_of: dict[object, set[str]] = defaultdict(set)
    for number, _, _, company_id, _, is_temporary, _ in rows:
        true_id = built.performance_truth[int(number) - 2]  # type: ignore[call-overload]
        if is_temporary and true_id is not None:
            companies_of[company_id].add(true_id)
    shared = {temp_id: ids for temp_id, ids in companies_of.items() if len(ids) > 1}
    print(f"temporary ids: {len(companies_of)}, shared by rows of different companies: {len(shared)}")
    assert shared == {}


def test_nameless_and_totals_rows_are_none_listed_and_never_queued(shaped: Shaped) -> None:
    project, built = shaped.project, shaped.built
    nameless = project.query(
        "select p.row_key, p.company_id_source, p.company_id, q.problem from marts.annuity_performance as p "
        "left join marts.data_quality_issues as q on q.row_key = p.row_key and q.column_name = '客户名称' "
        "where p.resolved_by_name is null"
    )
    problems = Counter(problem for _, _, _, problem in nameless)
    print(f"\nrows no name can resolve: {len(nameless)}; {dict(problems)}")
    assert problems["totals row"] > 0 and problems["no company name"] > 0
    assert {(source, company_id) for _, source, company_id, _ in nameless} == {("none", None)}
    assert None not in problems
    # A name the row really has is never one of these: the truth has no company for each of them.
    numbers = [int(str(key).split(":")[1]) for key, *_ in nameless]
    assert all(built.performance_truth[n - 2] is None for n in numbers)
    queued = project.query(
        "select normalized_name from enrichment.enrichment_requests where normalized_name in "
        "('合计', '小计', '总计', '0', 'NAN', 'NONE', '#N/A')"
    )
    assert queued == []


def test_one_drain_rechecks_the_imported_cache_and_leaves_no_wrong_id(shaped: Shaped) -> None:
    project, built, before, stats = shaped.project, shaped.built, shaped.before, shaped.stats
    stale = [e for e in legacy_entries(built, SEED) if e.is_stale]
    print(f"\nplanted stale entries: {len(stale)}; entries contradicted by rows' own codes: {before['conflicts']}")
    print(f"before the drain: {dict(before['judged'])}; cache {before['cache']}")  # type: ignore[call-overload]
    assert before["conflicts"] and before["wrong"], "the sample must plant stale entries that answer rows"
    assert before["cache"]["unverified"] > 0  # type: ignore[index]
    print(f"drain: {stats}")
    assert stats["rechecked"] == before["cache"]["unverified"]  # type: ignore[index]  # the budget covered both
    assert stats["recheck_confirmed"] > 0 and stats["recheck_contradicted"] > stats["recheck_replaced"] > 0

    after, wrong_after = _judge(_rows(project), built)
    counts_after = _counts(project)
    print(f"after one drain and a build: {dict(after)}; cache {counts_after}")
    assert wrong_after == [], wrong_after
    assert counts_after["retired"] == stats["recheck_contradicted"]
    # Every planted stale entry is retired, or answers only rows whose own code overrules it.
    live = {
        (t, k): c
        for t, k, c in project.query("select key_type, lookup_key, company_id from enrichment.company_name_index")
    }
    still_stale = [e for e in stale if live.get(cache.rekey(e.lookup_type, e.lookup_key)) == e.company_id]  # type: ignore[arg-type]
    retired = {(t, k, c) for t, k, c in project.query(
        "select key_type, lookup_key, company_id from enrichment.retired_cache_entries")}  # fmt: skip
    stale_retired = [e for e in stale if (*cache.rekey(e.lookup_type, e.lookup_key), e.company_id) in retired]
    print(f"planted stale entries still in the cache: {len(still_stale)}; retired by a re-check: {len(stale_retired)}")
    assert still_stale == []
    assert stale_retired
    # What stays unverified is what the registry could not settle, and the audit lists it.
    with project.selected():
        conn = connect()
        try:
            report = audit_cache(conn)
        finally:
            conn.close()
    listed = {(f.key_type, f.lookup_key) for f in report["findings"] if f.recheck.startswith("unsettled")}
    unsettled = set(
        project.query(
            "select key_type, lookup_key from enrichment.company_name_index "
            "where not is_verified and recheck_outcome = 'unsettled'"
        )
    )
    print(f"unsettled entries: {len(unsettled)}, listed by review --audit-cache: {len(listed & unsettled)}")
    assert ("customer_name", UNKNOWN_TO_THE_REGISTRY) in unsettled
    assert unsettled == listed


def test_figures_agree_with_the_marts_after_a_corrected_month(
    shaped: Shaped, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Summary, report and review --list show the cache's verified / unverified entries, and every
    build recomputes the rows and assets of the names waiting (here: after rows are corrected)."""
    project = shaped.project
    counts = _counts(project)
    with project.selected():
        conn = connect()
        try:
            with conn, conn.cursor() as cur:
                state = summary.fetch_state_counts(cur)
        finally:
            conn.close()
        report.write_report(tmp_path / "report.html")
    assert (state["verified_entries"], state["unverified_entries"], state["retired_entries"]) == (
        counts["verified"], counts["unverified"], counts["retired"],
    )  # fmt: skip
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f'data-verified="{counts["verified"]}" data-unverified="{counts["unverified"]}"' in html

    def waiting_vs_marts() -> list[tuple[object, ...]]:
        return project.query(
            "select r.normalized_name, r.row_count, u.row_count, r.asset_volume, u.asset_volume "
            "from enrichment.enrichment_requests as r join marts.unresolved_names as u using (normalized_name) "
            "where r.status in ('needs_review', 'not_found', 'pending') order by r.row_count desc, 1"
        )

    name, rows, *_ = waiting_vs_marts()[0]
    assert int(rows) >= 2  # type: ignore[call-overload]
    # A corrected month: half the name's rows now carry another customer name.
    project.query(
        "update raw.annuity_performance set 客户名称 = '更正后的客户有限公司' where _row_key in ("
        "select row_key from marts.annuity_performance where resolution_name_normalized = %s "
        "order by row_key limit %s)",
        (name, int(rows) // 2),  # type: ignore[call-overload]
    )
    project.run("build")
    figures = waiting_vs_marts()
    stale = [f for f in figures if (f[1], f[3]) != (f[2], f[4])]
    print(f"\nnames waiting: {len(figures)}; figures that differ from the marts after the build: {len(stale)}")
    assert stale == []
    assert [f[1] for f in figures if f[0] == name] == [int(rows) - int(rows) // 2]  # type: ignore[call-overload]
    waiting = project.query("select count(distinct normalized_name) from enrichment.enrichment_requests "
                            "where status = 'needs_review'")[0][0]  # fmt: skip
    with project.selected():
        assert review_main(["--list", "--limit", "1"]) == 0
    assert f"{waiting} name(s) waiting for review, by impact (the first 1)" in capsys.readouterr().out
