"""The evidence rules (docs/candidate-evidence.md): each rule, each counter-example, and a drain of
more than 1,000 queued names against the sandbox counted against the sandbox's own truth."""

from __future__ import annotations

from collections import Counter

import pytest

from python_enrich import drain
from python_enrich.eqc.client import Candidate
from python_enrich.eqc.matching import decide, distinctive_part, evidence_for, identity_core, similarity
from python_enrich.eqc.registry import sandbox_truth
from python_enrich.eqc.sandbox import SandboxConfig, SandboxServer
from python_enrich.normalization import normalize_company_name
from tests.conftest import DbtProject

TOKEN = "evidence-test-token-0123456789abcdef"


def cand(name: str, company_id: str = "101", formers: tuple[str, ...] = (), match: str = "模糊匹配") -> Candidate:
    return Candidate(company_id, name, None, match, 0.5, formers)


def evidence(query: str, name: str, formers: tuple[str, ...] = ()) -> str | None:
    return evidence_for(normalize_company_name(query), cand(name, formers=formers))


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("北京华信科技有限公司", "北京华信科技有限公司"),
        ("北京华信科技有限公司（已转出）", "北京华信科技有限公司"),  # the query's status marker is normalized away
        ("北京ＴＣＬ科技有限公司", "北京TCL科技 有限公司"),  # width and spacing
        ("北京tcl科技有限公司", "北京TCL科技有限公司"),  # case
        ("北京华信科技（集团）有限公司", "北京华信科技(集团)有限公司"),  # bracket width
    ],
)
def test_exact_name(query: str, name: str) -> None:
    assert evidence(query, name) == "exact_name"


def test_former_name() -> None:
    assert (
        evidence("江苏华润通信有限公司", "青岛水务通信有限公司", ("旧名甲有限公司", "江苏华润通信有限公司"))
        == "former_name"
    )
    assert evidence("江苏华润通信有限公司", "青岛水务通信有限公司", ("江苏华润通信实业有限公司",)) is None


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("北京华信科技有限公司", "北京华信科技有限责任公司"),
        ("北京华信科技有限公司", "北京华信科技股份有限公司"),
        ("北京华信科技集团有限公司", "北京华信科技（集团）有限公司"),
        ("北京华信科技（集团）有限公司", "北京华信科技(集团)股份有限公司"),
        ("北京华信科技有限公司", "北京华信科技(集团)有限公司"),
        ("北京华信科技有限公司", "北京华信（集团）科技有限公司"),
        ("北京华信科技有限公司", "北京华信·科技有限公司"),
        ("山东电力材料（集团）有限公司", "山东电力材料集团有限公司"),  # a trade name that is an industry word
    ],
)
def test_legal_form_variant(query: str, name: str) -> None:
    assert evidence(query, name) == "legal_form_variant"


@pytest.mark.parametrize(
    ("query", "name", "why"),
    [
        ("北京华信科技有限公司", "北京华通科技有限公司", "a different trade name"),
        ("北京华信科技有限公司", "北京华信达科技有限公司", "a longer trade name"),
        ("北京华信科技有限公司", "上海华信科技有限公司", "a different city"),
        ("北京华信科技有限公司", "北京华信实业有限公司", "a different industry word"),
        ("北京华信科技有限公司", "北京华信科技有限公司上海分公司", "a branch versus its parent"),
        ("北京华信科技有限公司上海分公司", "北京华信科技有限公司", "a parent versus its branch"),
        ("北京华信科技有限公司上海分公司", "北京华信科技有限公司广州分公司", "another branch"),
        ("北京华信科技有限公司", "北京华信科技有限公司（北京）", "a bracket the normalizer would cut"),
        ("北京科技有限公司", "北京科技股份有限公司", "nothing but a region and an industry"),
    ],
)
def test_counter_examples_carry_no_evidence(query: str, name: str, why: str) -> None:
    assert evidence(query, name) is None, why


def test_similarity_ranks_but_never_accepts() -> None:
    query = normalize_company_name("北京华信科技有限公司")
    near = cand("北京华信达科技有限公司", "1")
    assert similarity(query, near.full_name) > 85
    verdict = decide(query, [near, cand("北京远洋航运有限公司", "2")])
    assert verdict.outcome == "needs_review" and verdict.chosen is None
    assert [a.candidate.company_id for a in verdict.kept] == ["1", "2"]  # ranked by similarity


def test_distinctive_part_is_the_trade_name() -> None:
    assert distinctive_part("深圳市华信科技有限公司") == "华信"
    assert distinctive_part("北京华信金融服务集团有限公司") == "华信"
    assert identity_core("北京华信科技（集团）股份有限公司") == "北京华信科技"


def test_decisions() -> None:
    query = normalize_company_name("北京华信科技有限公司")
    exact = cand("北京华信科技有限公司", "1", match="全称精确匹配")
    assert decide(query, [cand("北京华信达科技有限公司", "2"), exact]).chosen.candidate.company_id == "1"
    # Evidence for two different companies: a person decides.
    two = decide(query, [cand("北京华信科技股份有限公司", "1"), cand("北京华信科技有限责任公司", "2")])
    assert (two.outcome, two.reason) == ("needs_review", "evidence points at 2 different companies")
    # A rejected candidate is never accepted, whatever its evidence.
    rejected = decide(query, [exact, cand("北京华信达科技有限公司", "2")], rejected={"1"})
    assert rejected.outcome == "needs_review" and [a.candidate.company_id for a in rejected.kept] == ["2"]
    assert decide(query, [exact], rejected={"1"}).outcome == "not_found"
    # Candidates sharing nothing distinctive (same city and industry only): not found.
    assert decide(query, [cand("北京远洋科技有限公司")]).outcome == "not_found"
    assert decide(query, []).outcome == "not_found"


def test_former_names_missing_from_search_items_are_fetched() -> None:
    payload = {"list": [{"companyId": 7, "companyFullName": "甲"}, {"companyId": "8", "company_former_name": ""}]}
    assert drain.ids_without_former_names(payload) == {"7"}
    assert drain.former_names_of({"company_former_name": "甲公司， 乙公司,,"}) == ("甲公司", "乙公司")


ACCEPT_KINDS = {"exact", "branch", "decoy_other_city", "decoy_longer_trade_name", "decoy_branch"}  # listed by name
EVIDENCE_KINDS = {"variant", "former", "former_name_query"}  # listed under a legal-form variant or a former name


def test_draining_over_a_thousand_names_accepts_no_wrong_company(dbt_project: DbtProject, monkeypatch) -> None:
    dbt_project.run("run-operation", "setup_enrichment_state")
    probes = sandbox_truth(650, seed=42)
    truth = {normalize_company_name(p.name): p for p in probes}
    assert len(truth) == len(probes) >= 1000  # every probe a distinct queued name
    for priority, name in enumerate(truth):
        dbt_project.query(
            "insert into enrichment.enrichment_requests (normalized_name, priority) values (%s, %s)", (name, -priority)
        )
    monkeypatch.setenv("WDH_EQC_TOKEN", TOKEN)
    with SandboxServer(SandboxConfig(companies=650, seed=42, tokens=(TOKEN,))) as sandbox:
        monkeypatch.setenv("WDH_EQC_BASE_URL", sandbox.url)
        assert drain.main(["--budget", str(len(truth)), "--rate-limit", "100000/1", "--progress", "none"]) == 0
        calls = sandbox.stats()["counts"]
    rows = dbt_project.query("select normalized_name, status, resolved_company_id from enrichment.enrichment_requests")
    confusion: Counter[str] = Counter()
    by_kind: Counter[tuple[str, str]] = Counter()
    for name, status, company_id in rows:
        probe = truth[name]
        outcome = {"done": "accepted right" if company_id == probe.company_id else "accepted wrong"}.get(status, status)
        confusion[outcome] += 1
        by_kind[(probe.kind, outcome)] += 1
    print(f"\n{len(rows)} names: " + ", ".join(f"{k} {v}" for k, v in sorted(confusion.items())))
    print("by kind: " + ", ".join(f"{k}/{o} {v}" for (k, o), v in sorted(by_kind.items())))
    print("calls: " + ", ".join(f"{endpoint} {sum(v.values())}" for endpoint, v in sorted(calls.items())))
    assert sum(confusion.values()) == len(truth) and set(confusion) <= {
        "accepted right", "accepted wrong", "needs_review", "not_found"}  # fmt: skip
    assert confusion["accepted wrong"] == 0
    listed_by_evidence = sum(v for (k, _), v in by_kind.items() if k in EVIDENCE_KINDS)
    accepted_by_evidence = sum(v for (k, o), v in by_kind.items() if k in EVIDENCE_KINDS and o == "accepted right")
    assert accepted_by_evidence >= 0.95 * listed_by_evidence
    exact = sum(v for (k, _), v in by_kind.items() if k in ACCEPT_KINDS)
    assert sum(v for (k, o), v in by_kind.items() if k in ACCEPT_KINDS and o == "accepted right") == exact
    assert confusion["needs_review"] > 0 and confusion["not_found"] > 0  # both other paths are exercised
    assert sum(calls["findDepart"].values()) > 0  # former names the search items lacked were fetched
