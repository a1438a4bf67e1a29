"""The registry answer parser decides what is a company id, a name and a usable answer: counted
against known truth."""

from __future__ import annotations

import json

import pytest

from python_enrich.eqc import answers
from python_enrich.eqc.answers import AnswerError
from python_enrich.eqc.client import Candidate
from python_enrich.paths import SHARED_DIR

EXAMPLES = SHARED_DIR / "reference" / "eqc_examples.json"

# value -> the canonical id, or None when it must be refused
IDS: list[tuple[object, str | None]] = [
    ("123456789", "123456789"),
    ("1", "1"),
    ("000123", "000123"),
    ("9" * 20, "9" * 20),
    (1000065057, "1000065057"),
    (10**19, "1" + "0" * 19),
    ("9" * 21, None),
    (10**20, None),
    ("0", None),
    ("0000", None),
    (0, None),
    ("", None),
    (" 123", None),
    ("123\n", None),
    ("-5", None),
    ("+5", None),
    (-5, None),
    ("ABC-123", None),
    ("12a", None),
    ("１２３", None),  # full-width digits
    ("١٢٣", None),  # Arabic-Indic digits
    ("1.0", None),
    ("6.1e9", None),
    (6.1e9, None),
    (123.0, None),
    (True, None),
    (False, None),
    (None, None),
    ({}, None),
    ([], None),
    (["123"], None),
]


def test_company_ids_counted_against_truth() -> None:
    right = wrong = 0
    for value, expected in IDS:
        try:
            got: str | None = answers.company_id(value)
        except AnswerError:
            got = None
        right += got == expected
        wrong += got != expected
    print(f"company ids: {right} right, {wrong} wrong of {len(IDS)}")
    assert (right, wrong) == (len(IDS), 0)


NAMES: list[tuple[object, str | None]] = [
    ("中国平安保险（集团）股份有限公司", "中国平安保险（集团）股份有限公司"),
    ("  测试公司A ", "测试公司A"),
    ("Valid Company Ltd.", "Valid Company Ltd."),
    ("甲" * 300, "甲" * 300),
    ("甲" * 301, None),
    ("", None),
    ("   ", None),
    ("\x1b[31m红色公司", None),
    ("甲\x00公司", None),
    ("甲\n公司", None),
    ("甲\u202e司公", None),  # right-to-left override
    ("甲\udc80公司", None),  # lone surrogate
    ("\x85公司", None),  # C1 control
    (12345, None),
    (None, None),
    (["甲公司"], None),
]


def test_names_counted_against_truth() -> None:
    right = wrong = 0
    for value, expected in NAMES:
        try:
            got: str | None = answers.clean_text(value, "companyFullName")
        except AnswerError:
            got = None
        right += got == expected
        wrong += got != expected
    print(f"names: {right} right, {wrong} wrong of {len(NAMES)}")
    assert (right, wrong) == (len(NAMES), 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ()),
        ("", ()),
        ("甲公司,乙公司", ("甲公司", "乙公司")),
        ("甲公司，乙公司；丙公司、甲公司", ("甲公司", "乙公司", "丙公司")),
        (["甲公司", "乙公司"], ("甲公司", "乙公司")),
        ("['甲公司']", ("['甲公司']",)),  # text that looks like a list stays one (odd) name, never split into junk
    ],
)
def test_former_names_from_text_or_list(value: object, expected: tuple[str, ...]) -> None:
    assert answers.former_names(value) == expected


@pytest.mark.parametrize("value", [{"a": 1}, 7, ["甲公司", 7], ["甲\x1b公司"], [""]])
def test_bad_former_names_are_refused(value: object) -> None:
    with pytest.raises(AnswerError):
        answers.former_names(value)


def test_reference_examples_parse_as_the_spec_says() -> None:
    examples = json.loads(EXAMPLES.read_text(encoding="utf-8"))["examples"]
    search = {e["context"]: e["payload"] for e in examples if e["endpoint"] == "search"}
    success = answers.search_answer(search["test_search_company_success"])
    assert success.candidates == [
        Candidate("123456789", "测试公司A", "91110000000000001X", "", 0.0, ()),
        Candidate("987654321", "测试公司B", None, "", 0.0, ()),
    ]
    assert answers.search_answer(search["test_search_company_empty_results"]).candidates == []
    mixed = answers.search_answer(search["test_search_company_malformed_result_items"])
    assert [c.company_id for c in mixed.candidates] == ["123", "456"]  # the unusable items dropped
    assert mixed.dropped == {"companyId is empty": 1, "an item has no companyId": 1}
    departs = {e["context"]: e["payload"] for e in examples if e["endpoint"] == "findDepart"}
    assert answers.business_info(departs["test_get_company_detail_empty_business_info"]) == {}
    assert answers.business_info(departs["test_get_business_info_success"])["company_id"] == "1000065057"


@pytest.mark.parametrize(
    "item",
    [
        {"companyId": "7", "companyFullName": "甲", "rank_score": "high"},
        {"companyId": "7", "companyFullName": "甲", "rank_score": float("nan")},
        {"companyId": "7", "companyFullName": "甲", "rank_score": float("inf")},
        {"companyId": "7", "companyFullName": "甲", "rank_score": True},
        {"companyId": "7", "companyFullName": "甲", "unite_code": {}},
        {"companyId": "7", "companyFullName": "甲", "unite_code": 91110000},
        {"companyId": "7", "companyFullName": "甲", "type": ["全称精确匹配"]},
    ],
)
def test_a_bad_field_drops_the_item_with_its_reason(item: dict[str, object]) -> None:
    good = {"companyId": 8, "companyFullName": "乙", "rank_score": 0.5, "unite_code": None, "type": "模糊匹配"}
    answer = answers.search_answer({"list": [item, good]})
    assert answer.candidates == [Candidate("8", "乙", None, "模糊匹配", 0.5, ())]
    (reason,) = answer.dropped
    assert "甲" not in reason and "7" not in reason  # reasons never carry the values


@pytest.mark.parametrize(
    "payload",
    [None, [], "list", 7, {}, {"data": {"list": []}}, {"list": None}, {"list": {"0": {}}}, {"list": [{"id": "1"}]}],
)
def test_a_wrong_shape_is_an_error_never_not_found(payload: object) -> None:
    with pytest.raises(AnswerError):
        answers.search_answer(payload)


@pytest.mark.parametrize("payload", [[], {"businessInfodto": []}, {"businessInfodto": "x"}, 7])
def test_bad_business_info_is_an_error(payload: object) -> None:
    with pytest.raises(AnswerError):
        answers.business_info(payload)
