"""The registry answer parser decides what is a company id, a name and a usable answer: counted
against known truth."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import pytest

from python_enrich.eqc import answers
from python_enrich.eqc.answers import AnswerError
from python_enrich.eqc.client import Candidate
from tests.reference_data import DATA_DIR

EXAMPLES = DATA_DIR / "eqc_examples.json"

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
    ("field", "reason"),
    [
        ({"rank_score": "high"}, "rank_score is text, not a finite number"),
        ({"rank_score": float("nan")}, "rank_score is a float, not a finite number"),
        ({"rank_score": float("inf")}, "rank_score is a float, not a finite number"),
        ({"rank_score": True}, "rank_score is a boolean, not a finite number"),
        ({"unite_code": {}}, "unite_code is an object, not text"),
        ({"unite_code": 91110000}, "unite_code is an integer, not text"),
        ({"unite_code": "9" * 65}, "unite_code is longer than 64 characters"),
        ({"unite_code": "911\x1b[2J"}, "unite_code contains control characters or invalid text"),
        ({"type": ["全称精确匹配"]}, "type is a list, not text"),
        ({"type": "   "}, "type is empty"),
        ({"companyFullName": None}, "companyFullName is null, not text"),
        ({"companyFullName": "甲" * 301}, "companyFullName is longer than 300 characters"),
        ({"company_former_name": 7}, "company_former_name is an integer, not text or a list"),
        ({"company_former_name": ["甲\x1b公司"]}, "a former name contains control characters or invalid text"),
        ({"company_former_name": "甲公司，" + "乙" * 301}, "a former name is longer than 300 characters"),
    ],
)
def test_a_bad_field_drops_the_item_with_its_reason(field: dict[str, object], reason: str) -> None:
    item = {"companyId": "7", "companyFullName": "甲", **field}
    good = {"companyId": 8, "companyFullName": "乙", "rank_score": 0.5, "unite_code": None, "type": "模糊匹配"}
    answer = answers.search_answer({"list": [item, good]})
    assert answer.candidates == [Candidate("8", "乙", None, "模糊匹配", 0.5, ())]
    assert answer.dropped == {reason: 1}  # the reason names the field, never its value


def test_every_field_of_a_good_item_is_read() -> None:
    item = {
        "companyId": "1000065057",
        "companyFullName": " 中国平安保险（集团）股份有限公司 ",
        "unite_code": "9" * 64,  # exactly at the limit
        "type": "全称精确匹配",
        "rank_score": 3,
        "company_former_name": "中国平安保险公司，平安保险公司、中国平安保险公司",
    }
    assert answers.candidate(item) == Candidate(
        "1000065057",
        "中国平安保险（集团）股份有限公司",
        "9" * 64,
        "全称精确匹配",
        3.0,
        ("中国平安保险公司", "平安保险公司"),
    )
    # blank optional fields are absent, not errors
    bare = {"companyId": 7, "companyFullName": "测试公司A", "unite_code": "", "type": "", "rank_score": None}
    assert answers.candidate(bare) == Candidate("7", "测试公司A", None, "", 0.0, ())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: answers.company_id(True), "companyId is a boolean, not a decimal string"),
        (lambda: answers.company_id(6.1e9), "companyId is a float, not a decimal string"),
        (lambda: answers.company_id(None), "companyId is null, not a decimal string"),
        (lambda: answers.company_id(["123"]), "companyId is a list, not a decimal string"),
        (lambda: answers.company_id({}), "companyId is an object, not a decimal string"),
        (lambda: answers.company_id(b"123"), "companyId is bytes, not a decimal string"),
        (lambda: answers.company_id(-5), "companyId is not a positive number"),
        (lambda: answers.company_id(0), "companyId is not a positive number"),
        (lambda: answers.company_id(10**20), "companyId is not 1-20 ASCII digits"),
        (lambda: answers.company_id("12a"), "companyId is not 1-20 ASCII digits"),
        (lambda: answers.company_id(""), "companyId is empty"),
        (lambda: answers.company_id("0000"), "companyId is all zeros"),
        (lambda: answers.clean_text(12345, "companyFullName"), "companyFullName is an integer, not text"),
        (
            lambda: answers.clean_text("甲\x00公司", "companyFullName"),
            "companyFullName contains control characters or invalid text",
        ),
        (lambda: answers.clean_text("   ", "companyFullName"), "companyFullName is empty"),
        (lambda: answers.clean_text("甲" * 301, "companyFullName"), "companyFullName is longer than 300 characters"),
        (lambda: answers.clean_text("甲公司", "unite_code", 2), "unite_code is longer than 2 characters"),
        (lambda: answers.former_names({"a": 1}), "company_former_name is an object, not text or a list"),
        (lambda: answers.former_names(["甲公司", ""]), "a former name is empty"),
        (lambda: answers.former_names(["甲公司", 7]), "a former name is an integer, not text"),
        (lambda: answers.rank_score("0.9"), "rank_score is text, not a finite number"),
        (lambda: answers.rank_score(float("-inf")), "rank_score is a float, not a finite number"),
        (lambda: answers.candidate(["123"]), "an item is a list, not an object"),
        (lambda: answers.candidate("123"), "an item is text, not an object"),
        (lambda: answers.candidate({"companyFullName": "甲公司"}), "an item has no companyId"),
    ],
)
def test_refusals_say_exactly_why(call: Callable[[], object], message: str) -> None:
    with pytest.raises(AnswerError) as error:
        call()
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("value", "expected"), [("123456789", True), (1, True), ("0", False), ("１２３", False), (None, False)]
)
def test_is_company_id(value: object, expected: bool) -> None:
    assert answers.is_company_id(value) is expected


def test_the_same_reason_is_counted_once_per_item() -> None:
    payload = {"list": [{"companyId": ""}, {"companyId": "123", "companyFullName": "测试公司A"}, {"companyId": ""}]}
    answer = answers.search_answer(payload)
    assert [c.company_id for c in answer.candidates] == ["123"]
    assert answer.dropped == {"companyId is empty": 2}


# payload -> ids found, [] for "not found", or the error message (an error is never "not found")
SEARCHES: list[tuple[object, list[str] | str]] = [
    ({"list": []}, []),
    ({"list": [{"companyId": "123", "companyFullName": "测试公司A"}]}, ["123"]),
    ({"list": [{"companyId": 7, "companyFullName": "甲公司"}, 7]}, ["7"]),
    (None, "the search answer is null, not an object with a list"),
    ([], "the search answer is a list, not an object with a list"),
    ("list", "the search answer is text, not an object with a list"),
    ({}, "the search answer is an empty object, not an object with a list"),
    ({"data": {"list": []}}, "the search answer is an object with keys [data], not an object with a list"),
    ({"list": None}, "the search answer is an object with keys [list], not an object with a list"),
    (
        {"list": {"0": {}}, "total": 1, "page": 1, "size": 10, "code": 0, "msg": "ok"},
        "the search answer is an object with keys [code, list, msg, page, size], not an object with a list",
    ),
    ({"k" * 100: []}, f"the search answer is an object with keys [{'k' * 80}], not an object with a list"),
    ({"\x1b[2J": []}, "the search answer is an object with keys [\\x1b[2J], not an object with a list"),
    ({"list": [7]}, "no search item has a companyId (has the answer's shape changed?)"),
    ({"list": [{"id": "1"}, ["companyId"]]}, "no search item has a companyId (has the answer's shape changed?)"),
    (
        {"list": [{"companyId": ""}, {"companyId": "0"}, {"companyId": ""}]},
        "all 3 search items are unusable (2 × companyId is empty; 1 × companyId is all zeros)",
    ),
    (
        {"list": [{"companyId": "123"}]},
        "all 1 search items are unusable (1 × companyFullName is null, not text)",
    ),
]


def test_search_answers_counted_against_truth() -> None:
    right = wrong = 0
    for payload, expected in SEARCHES:
        try:
            got: list[str] | str = [c.company_id for c in answers.search_answer(payload).candidates]
        except AnswerError as error:
            got = str(error)
        right += got == expected
        wrong += got != expected
    print(f"search answers: {right} right, {wrong} wrong of {len(SEARCHES)}")
    assert (right, wrong) == (len(SEARCHES), 0)


@pytest.mark.parametrize(
    "payload",
    [None, [], "list", 7, {}, {"data": {"list": []}}, {"list": None}, {"list": {"0": {}}}, {"list": [{"id": "1"}]}],
)
def test_a_wrong_shape_is_an_error_never_not_found(payload: object) -> None:
    with pytest.raises(AnswerError):
        answers.search_answer(payload)


@pytest.mark.parametrize(
    "payload", [None, {}, {"businessInfodto": None}, {"businessInfodto": {}}, {"businessInfodto": ""}]
)
def test_empty_business_info_is_not_found(payload: object) -> None:
    assert answers.business_info(payload) == {}


def test_business_info_is_returned_as_given_once_checked() -> None:
    info = {"company_id": "1000065057", "company_former_name": "中国平安保险公司，平安保险公司"}
    assert answers.business_info({"businessInfodto": info}) == info


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "the business info answer is a list, not an object"),
        (7, "the business info answer is an integer, not an object"),
        ({"businessInfodto": []}, "businessInfodto is a list, not an object"),
        ({"businessInfodto": "x"}, "businessInfodto is text, not an object"),
        ({"businessInfodto": {"company_former_name": 7}}, "company_former_name is an integer, not text or a list"),
        ({"businessInfodto": {"company_former_name": ["甲公司", None]}}, "a former name is null, not text"),
    ],
)
def test_bad_business_info_is_an_error(payload: object, message: str) -> None:
    with pytest.raises(AnswerError) as error:
        answers.business_info(payload)
    assert str(error.value) == message


@pytest.mark.parametrize("payload", [None, {}, {"labels": []}, {"labels": [{"name": "高新技术企业"}], "total": 1}])
def test_labels_kept_as_given(payload: object) -> None:
    assert answers.labels(payload) == payload


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "the labels answer is a list, not an object with a list"),
        ({"labels": "高新技术企业"}, "the labels answer is an object with keys [labels], not an object with a list"),
        ({"labels": None}, "the labels answer is an object with keys [labels], not an object with a list"),
    ],
)
def test_bad_labels_are_an_error(payload: object, message: str) -> None:
    with pytest.raises(AnswerError) as error:
        answers.labels(payload)
    assert str(error.value) == message


def test_describe_lists_the_commonest_reason_first() -> None:
    reasons = Counter({"companyId is empty": 1, "an item has no companyId": 3})
    assert answers.describe(reasons) == "3 × an item has no companyId; 1 × companyId is empty"
    assert answers.describe(Counter()) == ""
