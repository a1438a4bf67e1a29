"""The report as a reader sees it, in headless Chromium, on figures chosen to expose the rough edges:
rows and yuan on separate scales, builds numbered in order, repeated builds folded into one row of a
compact table, and charts with nothing to show saying "none yet"."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from python_enrich.auth import launch_chromium
from python_enrich.report import render

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)


def build(run_id: int, temporary: int, cached: int) -> tuple[int, datetime, dict[str, Any]]:
    tiers = [{"company_id_source": "temporary", "row_count": temporary},
             {"company_id_source": "cache_customer_name", "row_count": cached}]  # fmt: skip
    return run_id, NOW + timedelta(minutes=run_id), {"tiers": tiers}


def report_data(empty: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "tiers": [], "builds": [], "build_count": 0, "queue": [], "drains": [], "drain_count": 0,
        "drain_call_times": {}, "unresolved": [], "last_report_at": None, "replaced": [], "lookup_errors": [],
        "review_waiting": [], "review_decided": [], "evidence_mix": [],
    }  # fmt: skip
    if empty:
        return data
    # Run-log ids with gaps (drains and reports take ids too); builds 2-4 alike, then one different.
    data["builds"] = [build(1, 50, 50), build(3, 10, 90), build(5, 10, 90), build(6, 10, 90), build(9, 5, 95)]
    data["build_count"] = 5
    # Many rows of little money, and few rows of much: one scale would hide one of them.
    data["unresolved"] = [
        ("甲公司", "INAAAAAAAAAAAAAAAA", 900, 1_000.5),
        ("乙公司", "INBBBBBBBBBBBBBBBB", 3, 96_401_668.5),
        ("丙公司", "INCCCCCCCCCCCCCCCC", 450, 48_200_834.25),
    ]
    return data


def open_report(data: dict[str, Any], path: Path, page: Page) -> None:
    path.write_text(render(data, NOW), encoding="utf-8")
    page.goto(path.as_uri())


def bar_widths(page: Page, series: str) -> list[float]:
    return page.locator(f"figure#unresolved rect[data-series='{series}']").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().width)"
    )


def test_the_report_reads_as_people_expect(tmp_path: Path) -> None:
    checks: dict[str, bool] = {}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        open_report(report_data(), tmp_path / "report.html", page)

        rows, assets = bar_widths(page, "rows"), bar_widths(page, "assets")
        # Each unit on its own scale: the most rows and the most yuan each get a full bar.
        checks["rows and yuan in separate columns"] = page.locator("figure#unresolved th").all_inner_texts()[1:3] == [
            "rows", "assets (yuan)"]  # fmt: skip
        checks["the most rows fill the rows column"] = rows[0] == max(rows) > 100 and rows[1] < 2
        checks["the most yuan fill the yuan column"] = assets[1] == max(assets) > 100 and assets[0] < 2
        cells = page.locator("figure#unresolved td .value").all_inner_texts()
        checks["yuan with two decimals and separators"] = cells[1::2] == ["1,000.50", "96,401,668.50", "48,200,834.25"]

        labels = page.locator("figure#builds th.label").all_inner_texts()
        checks["builds numbered in order, alike ones folded"] = [label.split(" (")[0] for label in labels] == [
            "build 1", "builds 2–4", "build 5"]  # fmt: skip
        checks["run-log ids are not build numbers"] = not any("build 9" in label for label in labels)
        checks["the folded row says how many"] = "(3 alike)" in labels[1]
        checks["the builds total counts builds"] = page.locator("figure#builds .total").inner_text() == "5 builds"

        open_report(report_data(empty=True), tmp_path / "empty.html", page)
        figures = page.locator("figure.chart")
        empty = [figures.nth(i).get_attribute("id") for i in range(figures.count())
                 if figures.nth(i).locator(".none-yet").count() == 1]  # fmt: skip
        checks["every empty chart says none yet"] = figures.count() >= 8 and len(empty) == figures.count()
        checks["and shows no bars"] = page.locator("figure.chart rect").count() == 0
        checks["none yet is visible"] = page.locator(".none-yet").first.is_visible()
        browser.close()
    wrong = [name for name, ok in checks.items() if not ok]
    print(f"report checks: {len(checks) - len(wrong)} right, {len(wrong)} wrong {wrong}")
    assert wrong == []
