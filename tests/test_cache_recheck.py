"""The re-check verdict on an unverified cache entry (python_enrich.cache_recheck.judge / recheck),
case by case against what each answer really says; the decisions are counted and printed."""

from __future__ import annotations

from collections import Counter

from python_enrich.cache_recheck import CONFIRMED, CONTRADICTED, UNSETTLED, RecheckClaim, judge, recheck
from python_enrich.eqc.client import Candidate

NAME = "宁波恒通物流有限公司"


def company(company_id: str, name: str, *formers: str) -> Candidate:
    return Candidate(company_id, name, None, "", 0.5, formers)


# (what the registry answers, the entry's company, the outcome that is right, whether another
# company is cached instead)
CASES = [
    ("exact name is the entry's company", [company("100", NAME)], "100", CONFIRMED, None),
    ("former name is the entry's company", [company("100", "宁波新名能源有限公司", NAME)], "100", CONFIRMED, None),
    ("legal-form variant is it", [company("100", "宁波恒通物流股份有限公司")], "100", CONFIRMED, None),
    ("evidence names another company", [company("200", NAME), company("100", "宁波恒通达物流有限公司")], "100",
     CONTRADICTED, "200"),
    ("entry's company listed under another name", [company("100", "杭州恒通物流有限公司")], "100", CONTRADICTED, None),
    ("evidence for two others", [company("200", NAME), company("300", "宁波恒通物流股份有限公司")], "100",
     CONTRADICTED, None),
    ("evidence for two, the entry among them", [company("100", NAME), company("300", "宁波恒通物流股份有限公司")],
     "100", UNSETTLED, None),
    ("no candidates", [], "100", UNSETTLED, None),
    ("entry's company absent, nothing with evidence", [company("200", "宁波恒通达物流有限公司")], "100", UNSETTLED,
     None),
]  # fmt: skip


def test_each_answer_gives_the_right_outcome() -> None:
    counts: Counter[str] = Counter()
    for label, candidates, entry_id, expected, replacement in CASES:
        result = judge(NAME, entry_id, candidates)
        cached = result.candidate.company_id if result.outcome == CONTRADICTED and result.candidate else None
        right = result.outcome == expected and cached == replacement
        counts["right" if right else "wrong"] += 1
        assert right, (label, result)
    print(f"\nre-check verdicts: {dict(counts)} of {len(CASES)}")
    assert counts == {"right": len(CASES)}


def test_a_person_rejecting_the_company_contradicts_the_entry() -> None:
    result = judge(NAME, "100", [company("100", NAME)], rejected={"100"})
    assert result.outcome == CONTRADICTED and result.candidate is None


def test_former_names_are_learned_before_contradicting() -> None:
    """Search items may lack former names: the entry's company's are fetched (one call) first."""
    claim = RecheckClaim("plan_customer", f"P1|{NAME}", "100")
    fetched: list[str] = []

    def former_names(company_id: str) -> tuple[str, ...]:
        fetched.append(company_id)
        return (NAME,)

    result = recheck(claim, lambda name: [company("100", "宁波新名能源有限公司")], former_names)
    assert (result.outcome, result.evidence, fetched) == (CONFIRMED, "former_name", ["100"])
    absent = recheck(claim, lambda name: [company("200", "宁波恒通达物流有限公司")], former_names)
    assert absent.outcome == UNSETTLED and fetched == ["100"]  # nothing fetched for a company not listed
