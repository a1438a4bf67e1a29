"""The evidence rules (docs/candidate-evidence.md): each rule, each counter-example, and a drain of
more than 1,000 queued names against the sandbox counted against the sandbox's own truth."""

from __future__ import annotations

from collections import Counter

import pytest

from python_enrich import drain
from python_enrich.drain import decisions as drain_decisions
from python_enrich.eqc.client import Candidate
from python_enrich.eqc.matching import (
    assess,
    decide,
    display_form,
    distinctive_part,
    evidence_for,
    identity_core,
    match_kind,
    similarity,
)
from python_enrich.normalization import normalize_company_name
from python_enrich.standins.registry import sandbox_truth
from python_enrich.standins.sandbox import SandboxConfig, SandboxServer
from tests.conftest import DbtProject

TOKEN = "evidence-test-token-0123456789abcdef"


def cand(
    name: str, company_id: str = "101", formers: tuple[str, ...] = (), match: str = "模糊匹配", rank: float = 0.5
) -> Candidate:
    return Candidate(company_id, name, None, match, rank, formers)


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
        # a trailing bracket the normalizer keeps (it names a legal form): still the exact name
        ("北京华信会计师事务所（特殊普通合伙）", "北京华信会计师事务所(特殊普通合伙)"),
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
        ("华信科技有限公司", "（北京）华信科技有限公司", "a leading bracket the normalizer would cut"),
        ("北京华信科技有限公司", "原北京华信科技有限公司", "a 原 prefix the normalizer would cut"),
        ("北京华信科技有限公司", "北京华信科技有限公司-2", "a -2 suffix the normalizer would cut"),
        ("北京华信科技有限公司", "北京华信科技有限公司-A", "a -A suffix the normalizer would cut"),
        ("北京华信科技有限公司", "北京华信科技有限公司及下属子企业", "及下属子企业 the normalizer would cut"),
        ("北京科技有限公司", "北京科技股份有限公司", "nothing but a region and an industry"),
        ("中国工商银行股份有限公司", "中国工商银行股份有限公司北京市分行", "a bank branch versus its bank"),
        ("中国工商银行股份有限公司北京市分行", "中国工商银行股份有限公司北京市西城支行", "a sub-branch of the branch"),
        ("北京华信科技有限公司", "北京华信科技有限公司上海营业部", "a business office"),
        ("北京华信科技有限公司", "北京华信科技有限公司驻上海办事处", "a representative office"),
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


def test_display_form_is_the_light_form() -> None:
    assert display_form(" 北京 ｔｃｌ科技(集团)有限公司\u3000") == "北京TCL科技（集团）有限公司"


def test_the_registry_match_type_is_not_evidence() -> None:
    near = cand("北京华信达科技有限公司", match="全称精确匹配")
    assert evidence_for(normalize_company_name("北京华信科技有限公司"), near) is None


@pytest.mark.parametrize(
    ("match", "kind"),
    [("全称精确匹配", "exact"), ("模糊匹配", "fuzzy"), ("拼音", "pinyin"), ("", "other"), ("精确", "other")],
)
def test_match_kind(match: str, kind: str) -> None:
    assert match_kind(cand("北京华信科技有限公司", match=match)) == kind


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("北京华信科技（集团）股份有限公司", "北京华信科技"),
        ("北京华信科技集团有限公司", "北京华信科技"),  # 集团 + 有限公司, removed one after the other
        ("北京·华信-科技 (集团) 有限责任公司", "北京华信科技"),
        ("有限公司", "有限"),  # a whole name is never removed: the core is never empty
        ("公司", "公司"),
        ("集团有限公司", "集团"),
    ],
)
def test_identity_core(name: str, core: str) -> None:
    assert identity_core(name) == core


@pytest.mark.parametrize(
    ("name", "trade"),
    [
        ("深圳市华信科技有限公司", "华信"),
        ("广东省华信科技有限公司", "华信"),
        ("北京华信金融服务集团有限公司", "华信"),  # the longest industry word first
        ("北京华信达科技有限公司", "华信达"),  # a trade name longer than the industry word
        ("北京华信科技发展有限公司", "华信"),  # several industry words, all removed
        ("北京鑫科技有限公司", "鑫"),
        ("山东电力材料集团有限公司", "电力"),  # only industry words: the first stays
        ("北京科技有限公司", ""),  # a region and one industry word: no trade name
    ],
)
def test_distinctive_part(name: str, trade: str) -> None:
    assert distinctive_part(name) == trade


def test_similarity_is_rounded_to_one_decimal() -> None:
    query = normalize_company_name("北京华信科技有限公司")
    assert similarity(query, "北京华信达科技有限公司") == 92.3  # cores 北京华信科技 / 北京华信达科技: 12/13
    assert similarity(query, "青岛水务通信有限公司") == 16.7
    assert similarity(query, "北京华信科技股份有限公司") == 100.0


def test_a_score_of_100_is_still_no_evidence() -> None:
    """Names long enough that one more character still rounds to 100.0: the variant ranks first anyway,
    and the near name alone is never accepted."""
    query = normalize_company_name("北京华信" + "甲乙" * 500 + "科技有限公司")
    near = cand("北京华信" + "甲乙" * 500 + "达科技有限公司", "2", rank=0.9)
    variant = cand("北京华信" + "甲乙" * 500 + "科技股份有限公司", "1", rank=0.1)
    assert similarity(query, near.full_name) == similarity(query, variant.full_name) == 100.0
    assert [(a.candidate.company_id, a.evidence) for a in assess(query, [near, variant])] == [
        ("1", "legal_form_variant"),
        ("2", None),
    ]
    assert decide(query, [near]).outcome == "needs_review"


def test_a_rejected_candidate_has_no_evidence_and_comes_last() -> None:
    query = normalize_company_name("北京华信科技有限公司")
    assessed = assess(query, [cand("北京华信科技有限公司", "1"), cand("上海远洋航运有限公司", "2")], rejected={"1"})
    assert [(a.candidate.company_id, a.evidence, a.rejected) for a in assessed] == [
        ("2", None, False),
        ("1", None, True),
    ]


HUAXIN = "北京华信科技有限公司"
EXACT = cand(HUAXIN, "1", match="全称精确匹配")
VARIANT = cand("北京华信科技股份有限公司", "2")
FORMER = cand("青岛水务通信有限公司", "3", formers=("旧名甲有限公司", HUAXIN))
NEAR = cand("北京华信达科技有限公司", "4")
NEARER_CITY = cand("上海华信达实业有限公司", "5")
OTHER = cand("北京远洋科技有限公司", "6")
NO_EVIDENCE, NOTHING = "no candidate carries evidence", "no candidate shares anything distinctive with the name"


@pytest.mark.parametrize(
    ("query", "candidates", "rejected", "expected"),
    [
        (HUAXIN, [NEAR, EXACT], (), ("accept", "evidence: exact_name", "1", ["1", "4"])),
        (HUAXIN, [NEAR, FORMER], (), ("accept", "evidence: former_name", "3", ["3", "4"])),
        (HUAXIN, [OTHER, VARIANT], (), ("accept", "evidence: legal_form_variant", "2", ["2", "6"])),
        # one company listed twice (under its name and a variant): the strongest evidence is recorded
        (HUAXIN, [cand(VARIANT.full_name, "1"), EXACT], (), ("accept", "evidence: exact_name", "1", ["1", "1"])),
        # evidence for several companies: a person decides; the stronger evidence is listed first
        (HUAXIN, [NEAR, VARIANT, FORMER, EXACT], (),
         ("needs_review", "evidence points at 3 different companies", None, ["1", "3", "2", "4"])),
        (HUAXIN, [EXACT, NEAR], ("1",), ("needs_review", NO_EVIDENCE, None, ["4"])),
        # no evidence: the nearer name first, whatever order the registry gave
        (HUAXIN, [NEARER_CITY, OTHER, NEAR], (), ("needs_review", NO_EVIDENCE, None, ["4", "5", "6"])),
        (HUAXIN, [EXACT], ("1",), ("not_found", "all candidates were rejected in review", None, [])),
        (HUAXIN, [], (), ("not_found", "no candidates", None, [])),
        (HUAXIN, [OTHER], (), ("not_found", NOTHING, None, ["6"])),
        # the trade name's pieces: two consecutive characters, or the whole of a one-character trade name
        ("北京华信达科技有限公司", [cand("上海华信实业有限公司")], (), ("needs_review", NO_EVIDENCE, None, ["101"])),
        ("北京华信达科技有限公司", [cand("上海信达实业有限公司")], (), ("needs_review", NO_EVIDENCE, None, ["101"])),
        ("北京华信达科技有限公司", [cand("青岛水务有限公司", formers=("上海华信实业有限公司",))], (),
         ("needs_review", NO_EVIDENCE, None, ["101"])),
        ("北京华信达科技有限公司", [cand("上海华达实业有限公司")], (), ("not_found", NOTHING, None, ["101"])),
        ("北京鑫科技有限公司", [cand("上海鑫实业有限公司")], (), ("needs_review", NO_EVIDENCE, None, ["101"])),
        ("北京鑫科技有限公司", [cand("北京金科技有限公司")], (), ("not_found", NOTHING, None, ["101"])),
        # no trade name: nothing distinctive to share, not even with the same words
        ("北京科技有限公司", [cand("北京科技股份有限公司")], (), ("not_found", NOTHING, None, ["101"])),
    ],
)  # fmt: skip
def test_outcomes(query: str, candidates: list[Candidate], rejected: tuple[str, ...], expected: tuple) -> None:
    verdict = decide(normalize_company_name(query), candidates, rejected=set(rejected))
    chosen = verdict.chosen.candidate.company_id if verdict.chosen else None
    assert (verdict.outcome, verdict.reason, chosen, [a.candidate.company_id for a in verdict.kept]) == expected


def test_review_keeps_the_top_five_in_the_registry_order_when_equal() -> None:
    six = [cand("上海华信达实业有限公司", str(i)) for i in range(1, 7)]
    verdict = decide(normalize_company_name(HUAXIN), six)
    assert [a.candidate.company_id for a in verdict.kept] == ["1", "2", "3", "4", "5"]
    five = decide(normalize_company_name(HUAXIN), [VARIANT, *six[:2], EXACT, *six[2:]])
    assert [a.candidate.company_id for a in five.kept] == ["1", "2", "1", "2", "3"]


@pytest.mark.parametrize(
    ("candidate", "rejected", "why_not"),
    [
        (EXACT, ("1",), "rejected in review for this name"),
        (EXACT, (), ""),
        (cand("北京华信科技有限公司上海分公司"), (), "a branch (分公司…), not the company"),
        (cand("北京华信科技有限公司朝阳分店"), (), "a branch (分公司…), not the company"),
        (OTHER, (), "shares nothing distinctive with the name"),
        (NEAR, (), "name differs beyond legal form, brackets and punctuation"),
    ],
)
def test_why_not(candidate: Candidate, rejected: tuple[str, ...], why_not: str) -> None:
    [assessment] = assess(normalize_company_name(HUAXIN), [candidate], set(rejected))
    assert assessment.why_not == why_not


def test_as_review_is_what_a_person_sees() -> None:
    candidate = Candidate(
        "4", "北京华信达科技有限公司", "91110000000000004X", "模糊匹配", 0.75, ("北京华达科技有限公司",)
    )
    [assessment] = assess(normalize_company_name(HUAXIN), [candidate])
    assert assessment.as_review() == {
        "company_id": "4",
        "full_name": "北京华信达科技有限公司",
        "credit_code": "91110000000000004X",
        "match_type": "模糊匹配",
        "rank_score": 0.75,
        "score": 92.3,
        "former_names": ["北京华达科技有限公司"],
        "evidence": None,
        "why_not": "name differs beyond legal form, brackets and punctuation",
    }


def test_former_names_missing_from_search_items_are_fetched() -> None:
    payload = {"list": [{"companyId": 7, "companyFullName": "甲"}, {"companyId": "8", "company_former_name": ""}]}
    assert drain_decisions.ids_without_former_names(payload) == {"7"}
    assert drain_decisions.former_names_of({"company_former_name": "甲公司， 乙公司,,"}) == ("甲公司", "乙公司")


ACCEPT_KINDS = {"exact", "branch", "decoy_other_city", "decoy_longer_trade_name", "decoy_branch"}  # listed by name
EVIDENCE_KINDS = {"variant", "former", "former_name_query"}  # listed under a legal-form variant or a former name


def test_draining_many_names_accepts_no_wrong_company(dbt_project: DbtProject, monkeypatch, full_proofs: bool) -> None:
    """572 names of every kind (at least 10 each) by default; 1,134 names with --full-proofs."""
    dbt_project.run("run-operation", "setup_enrichment_state")
    companies = 650 if full_proofs else 325
    probes = sandbox_truth(companies, seed=42)
    truth = {normalize_company_name(p.name): p for p in probes}
    assert len(truth) == len(probes) >= (1000 if full_proofs else 500)  # every probe a distinct queued name
    kinds = Counter(p.kind for p in probes)
    assert set(kinds) == ACCEPT_KINDS | EVIDENCE_KINDS | {"absent", "unlisted_branch"} and min(kinds.values()) >= 6
    for priority, name in enumerate(truth):
        dbt_project.query(
            "insert into enrichment.enrichment_requests (normalized_name, priority) values (%s, %s)", (name, -priority)
        )
    monkeypatch.setenv("WDH_EQC_TOKEN", TOKEN)
    with SandboxServer(SandboxConfig(companies=companies, seed=42, tokens=(TOKEN,))) as sandbox:
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
