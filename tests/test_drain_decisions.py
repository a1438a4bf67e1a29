"""The drain's pure decisions (python_enrich/drain/decisions.py), held without a registry or a
database: a rejection survives the second decision, the Retry-After cap, the waits of a request
given back, and the run's exit code from its figures.  ./run mutate runs these."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from python_enrich.drain import DrainStats
from python_enrich.drain import decisions as d
from python_enrich.eqc.answers import Candidate

NAME = "华岳精密机械有限公司"
OLD_NAME = "华岳机械厂有限公司"  # the name a company carried before


def cand(company_id: str, name: str, formers: tuple[str, ...] = ()) -> Candidate:
    return Candidate(company_id, name, None, "模糊匹配", 0.5, formers)


# -- the second decision, after former names --------------------------------------------------------
def test_a_rejected_company_is_not_accepted_when_business_info_gives_the_former_name() -> None:
    """A person rejected 701 for this name; the registry now says 701 was once called exactly that."""
    rejected = {"701"}
    candidates = [cand("701", "远东重工集团有限公司"), cand("702", "华岳精工贸易有限公司")]
    infos = {"701": {"company_former_name": NAME}, "702": {"company_former_name": ""}}
    verdict = d.verdict_after_former_names(NAME, candidates, infos, rejected)
    assert verdict.outcome != "accept" and verdict.chosen is None
    assert all(a.candidate.company_id != "701" for a in verdict.kept)
    # The same answer without the rejection accepts 701 by its former name: the rejection is what held.
    accepted = d.verdict_after_former_names(NAME, candidates, infos, set())
    assert (accepted.outcome, accepted.chosen.candidate.company_id) == ("accept", "701")  # type: ignore[union-attr]
    assert accepted.chosen.evidence == "former_name"  # type: ignore[union-attr]
    assert accepted.chosen.candidate.former_names == (NAME,)  # type: ignore[union-attr]


def test_the_second_decision_uses_only_what_business_info_said() -> None:
    candidates = [cand("801", "远东重工集团有限公司", formers=("旧名甲有限公司",)), cand("802", "无关贸易有限公司")]
    # 801 was not checked: its former names from the search stay; 802's info names no match.
    verdict = d.verdict_after_former_names(NAME, candidates, {"802": {"company_former_name": "另一公司"}}, ())
    assert verdict.outcome == "not_found"
    formers = {a.candidate.company_id: a.candidate.former_names for a in verdict.kept}
    assert formers == {"801": ("旧名甲有限公司",), "802": ("另一公司",)}


def test_former_name_checks_skip_rejected_and_known_and_keep_the_limit() -> None:
    payload = {
        "list": [
            {"companyId": "1"},  # no former-name field: unknown
            {"companyId": "2", "company_former_name": ""},  # says it has none
            {"companyId": "3"},
            {"companyId": "4"},
            {"companyId": "5"},
        ]
    }
    candidates = [cand(str(i), f"公司{i}") for i in range(1, 6)]
    chosen = [c.company_id for c in d.former_name_checks(candidates, payload, {"3"}, limit=2)]
    assert chosen == ["1", "4"]
    assert [c.company_id for c in d.former_name_checks(candidates, payload, set(), limit=10)] == ["1", "3", "4", "5"]
    assert d.former_name_checks(candidates, payload, set(), limit=0) == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"list": [{"companyId": 7}, {"companyId": " 8 ", "company_former_name": None}]}, {"7", "8"}),
        ({"list": [{"companyId": "9", "company_former_name": []}]}, set()),
        ({"list": [{"companyId": None}, "7", 7]}, {""}),
        ({"list": None}, set()),
        ([{"companyId": "7"}], set()),
        (None, set()),
    ],
)
def test_ids_without_former_names(payload: object, expected: set[str]) -> None:
    assert d.ids_without_former_names(payload) == expected


def test_former_names_of_splits_on_both_comma_widths() -> None:
    assert d.former_names_of({"company_former_name": " 甲公司，乙公司 ,, 丙公司 "}) == ("甲公司", "乙公司", "丙公司")
    assert d.former_names_of({"company_former_name": None}) == ()
    assert d.former_names_of({}) == ()


# -- waits --------------------------------------------------------------------------------------------
def test_a_retry_after_just_above_the_cap_is_not_slept() -> None:
    """120 s is the documented cap (drain --help, README): a longer wait would outlive the lease."""
    assert d.RETRY_AFTER_CAP_S == 120.0
    assert d.rate_limited_wait_s(120.0, backoff=1.5) == 120.0
    assert d.rate_limited_wait_s(120.5, backoff=1.5) is None
    assert d.rate_limited_wait_s(121.0, backoff=1.5) is None
    assert d.rate_limited_wait_s(600.0, backoff=1.5) is None
    assert d.rate_limited_wait_s(2.0, backoff=1.5) == 2.0
    assert d.rate_limited_wait_s(0.0, backoff=1.5) == 0.0  # "retry now" is not "no Retry-After"
    assert d.rate_limited_wait_s(None, backoff=1.5) == 1.5


@pytest.mark.parametrize(
    ("retry_delay", "attempts", "retry_after", "expected"),
    [
        (10.0, 0, None, 10.0),
        (10.0, 1, None, 10.0),
        (10.0, 2, None, 20.0),
        (10.0, 3, None, 40.0),
        (1000.0, 3, None, 3600.0),  # the doubling stops at an hour
        (1800.0, 2, None, 3600.0),
        (0.0, 4, None, 0.0),
        (10.0, 1, 5.0, 10.0),  # a shorter Retry-After does not shorten the wait
        (10.0, 1, 86400.0, 86400.0),  # a longer one defers the request until then
        (10.0, 1, 1e12, 30 * 86400.0),  # at most 30 days
        (10.0, 1, 30 * 86400.0 + 1, 30 * 86400.0),
    ],
)
def test_the_wait_of_a_request_given_back(
    retry_delay: float, attempts: int, retry_after: float | None, expected: float
) -> None:
    assert d.give_back_delay_s(retry_delay, attempts, retry_after) == expected


def test_the_wait_of_a_request_given_back_defaults_to_no_retry_after() -> None:
    assert d.give_back_delay_s(10.0, 2) == 20.0


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    for attempt, centre in [(0, 1.0), (1, 2.0), (2, 4.0), (4, 16.0), (5, 30.0), (9, 30.0)]:
        waits = [d.backoff_s(attempt) for _ in range(400)]
        assert centre * 0.8 <= min(waits) < centre * 0.85, (attempt, min(waits))
        assert centre * 1.15 < max(waits) <= centre * 1.2, (attempt, max(waits))
    assert 4.0 <= d.backoff_s(1, base=2.5) <= 6.0
    assert 8.0 <= d.backoff_s(9, cap=10.0) <= 12.0


# -- the run's end --------------------------------------------------------------------------------------
@dataclass
class Figures:
    found: int = 0
    not_found: int = 0
    needs_review: int = 0
    retried_later: int = 0
    failed: int = 0
    stopped_because: str | None = None


# figures -> (exit code, run-log status); the truth the two functions are counted against
RUN_ENDS: list[tuple[Figures, int, str]] = [
    (Figures(), 0, "success"),  # nothing was due
    (Figures(found=3), 0, "success"),
    (Figures(not_found=1), 0, "success"),
    (Figures(needs_review=1), 0, "success"),
    (Figures(found=1, retried_later=4, failed=2), 0, "success"),  # one success is enough
    (Figures(not_found=1, failed=1), 0, "success"),
    (Figures(needs_review=1, retried_later=1), 0, "success"),
    (Figures(retried_later=1), 1, "error"),  # lookups attempted, none succeeded
    (Figures(failed=1), 1, "error"),
    (Figures(found=2, stopped_because="worker error"), 1, "error"),  # a worker error is a failure
    (Figures(stopped_because="worker error"), 1, "error"),
    (Figures(found=1, stopped_because="token expired"), 3, "error"),
    (Figures(failed=1, stopped_because="token expired"), 3, "error"),
    (Figures(found=1, stopped_because="interrupted"), 130, "interrupted"),
    (Figures(failed=1, stopped_because="interrupted"), 130, "interrupted"),
]


def test_exit_code_and_run_status_from_the_run_figures() -> None:
    codes_right = sum(d.exit_code(figures) == code for figures, code, _ in RUN_ENDS)
    statuses_right = sum(d.run_status(figures) == status for figures, _, status in RUN_ENDS)
    print(f"of {len(RUN_ENDS)} run ends: exit code right {codes_right}, run status right {statuses_right}")
    for figures, code, status in RUN_ENDS:
        assert (d.exit_code(figures), d.run_status(figures)) == (code, status), figures
    assert (d.EXIT_OK, d.EXIT_FAILED, d.EXIT_SETUP, d.EXIT_TOKEN, d.EXIT_INTERRUPTED) == (0, 1, 2, 3, 130)


def test_a_run_stopped_by_a_worker_error_exits_non_zero() -> None:
    stats = DrainStats(found=5, stopped_because="worker error")
    assert d.exit_code(stats) == d.EXIT_FAILED and d.run_status(stats) == "error"


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        (Figures(), False),
        (Figures(retried_later=1), True),
        (Figures(failed=1), True),
        (Figures(failed=1, found=1), False),
        (Figures(failed=1, not_found=1), False),
        (Figures(retried_later=1, needs_review=1), False),
        (Figures(failed=1, found=1, needs_review=1), False),  # successes add up, never cancel out
        (Figures(failed=1, found=1, not_found=1), False),
    ],
)
def test_all_lookups_failed(figures: Figures, expected: bool) -> None:
    assert d.all_lookups_failed(figures) is expected
