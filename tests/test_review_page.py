"""The review page in headless Chromium, on names chosen to be hard: each candidate is shown by its
own name with what differs highlighted (never a text merged from both names), and amounts are
written one way. The page is served by the real ReviewServer; its data comes from a fixed answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, Route, sync_playwright

from python_enrich.auth import launch_chromium
from python_enrich.review.page import ReviewServer

# (name looked up, candidate's own name, highlighted runs in the candidate, pieces the candidate lacks)
CASES: list[tuple[str, str, list[str], list[str]]] = [
    ("广东电力能源", "广东博远能源有限责任公司", ["博远", "有限责任公司"], ["电力"]),
    ("中国平安", "中国平安", [], []),
    ("中国平安", "中国平安保险（集团）股份有限公司", ["保险（集团）股份有限公司"], []),
    ("北京华联商厦", "华联商厦", [], ["北京"]),
    ("ABC科技有限公司", "abc科技有限公司", [], []),  # compared upper-cased, shown as the registry wrote it
    ("上海甲乙丙", "上海丙乙甲", ["丙乙"], ["乙丙"]),
    ("深圳𠀋园公司", "深圳𠀋园有限公司", ["有限"], []),  # a character outside the BMP stays whole
]
# (asset volume as the API sends it, as the page must write it)
AMOUNTS: list[tuple[Any, str]] = [
    (96401668.5, "96,401,668.50"),
    ("1234.5678", "1,234.57"),
    (0, "0.00"),
    (-5, "-5.00"),
    (None, "—"),
]


def answer() -> dict[str, Any]:
    names = []
    for number, (name, candidate, _, _) in enumerate(CASES):
        assets = AMOUNTS[number % len(AMOUNTS)][0]
        names.append({
            "name": name, "raw_name": name, "temp_id": None, "rows": 3, "assets": assets,
            "reason": "no evidence", "spellings": [], "rejected": [],
            "candidates": [{"company_id": str(1000 + number), "full_name": candidate, "credit_code": None,
                            "match_type": "fuzzy", "score": 0.8, "former_names": [], "why_not": "names differ"}],
        })  # fmt: skip
    return {"names": names, "decisions": []}


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with ReviewServer(who="pytest") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright, headless=True)
        page = browser.new_page()

        def fixed(route: Route) -> None:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(answer()))

        page.route("**/api/names", fixed)
        page.goto(server.url)
        page.wait_for_selector("body[data-loaded]")
        yield page
        browser.close()


def shown(page: Page, number: int) -> dict[str, Any]:
    return page.evaluate(
        """(number) => {
            const card = document.querySelectorAll(".card")[number];  // in the answer's order
            const cell = card.querySelector("td .candidate-name");
            const lacks = cell.querySelector(".lacks");
            const own = [...cell.childNodes].filter(n => n !== lacks).map(n => n.textContent).join("");
            return {
                own: own,
                marked: [...cell.querySelectorAll("mark.differs")].map(m => m.textContent),
                lacks: lacks ? [...lacks.querySelectorAll("s")].map(s => s.textContent) : [],
                meta: card.querySelector(".meta").textContent,
            };
        }""",
        number,
    )


def test_each_candidate_is_shown_by_its_own_name_with_the_differences_marked(page: Page) -> None:
    right, wrong = 0, []
    for number, (name, candidate, marked, lacks) in enumerate(CASES):
        got = shown(page, number)
        if (got["own"], got["marked"], got["lacks"]) == (candidate, marked, lacks):
            right += 1
        else:
            wrong.append((name, candidate, got))
    print(f"candidate names: {right} shown right, {len(wrong)} wrong")
    assert wrong == []
    # The example: the merged text that exists nowhere never appears on the page.
    assert "广东电力博远能源有限责任公司" not in page.inner_text("body")


def test_amounts_are_written_with_two_decimals_and_separators(page: Page) -> None:
    right, wrong = 0, []
    for number in range(len(CASES)):
        expected = AMOUNTS[number % len(AMOUNTS)][1]
        meta = shown(page, number)["meta"]
        if f"assets {expected}," in meta or meta.startswith(f"3 rows, assets {expected} "):
            right += 1
        else:
            wrong.append((expected, meta))
    print(f"amounts: {right} written right, {len(wrong)} wrong")
    assert wrong == []
