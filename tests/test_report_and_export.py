"""The HTML report in a real headless Chromium, and the unresolved-names export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from playwright.sync_api import sync_playwright

from python_enrich import export, report
from python_enrich.auth import launch_chromium
from python_enrich.drain import Drain, DrainOptions
from python_enrich.paths import PROJECT_DIR
from python_enrich.safe_output import for_csv
from python_enrich.standins.sandbox import SandboxConfig, SandboxServer
from python_enrich.summary import DOMAINS
from tests.conftest import DbtProject

ARTIFACTS = PROJECT_DIR / "test-artifacts"


def test_report_charts_render_and_match_the_database(built_warehouse: DbtProject, tmp_path: Path) -> None:
    with SandboxServer(SandboxConfig(companies=4000 // 12, seed=7)) as sandbox:  # the fixture's sample size
        options = DrainOptions(budget=10, concurrency=2, rate_limit=(600, 60.0), base_url=sandbox.url, progress="none")
        assert Drain(options, sandbox.issue_token()).run().lookups == 10
    built_warehouse.run("run")
    out = tmp_path / "report.html"
    with built_warehouse.selected():
        assert report.main(["--out", str(out)]) == 0
    assert "<script" not in out.read_text() and "http" not in out.read_text().split("<body>")[1]  # self-contained

    expected = {
        f"tiers-{domain}": built_warehouse.query(
            "select coalesce(sum(row_count), 0) from marts.resolution_statistics where domain_name = %s", (domain,)
        )[0][0]
        for domain in DOMAINS
    }
    expected["queue"] = built_warehouse.query("select count(*) from enrichment.enrichment_requests")[0][0]
    expected["drains"] = built_warehouse.query(
        "select sum((details->'stats'->>'lookups')::int) from enrichment.run_log where run_kind = 'drain'"
    )[0][0]
    expected["builds"] = min(
        20, built_warehouse.query("select count(*) from enrichment.run_log where run_kind = 'build'")[0][0]
    )
    expected["unresolved"] = built_warehouse.query(
        "select sum(row_count) from "
        "(select row_count from marts.unresolved_names order by impact_rank, normalized_name limit 15) t"
    )[0][0]
    expected["evidence-mix"] = built_warehouse.query("select count(*) from enrichment.company_name_index")[0][0]
    waiting = built_warehouse.query(
        "select count(distinct normalized_name) from enrichment.enrichment_requests where status = 'needs_review'"
    )[0][0]
    replaced = built_warehouse.query("select count(*) from enrichment.temporary_ids where replaced_at is not null")[0][
        0
    ]
    assert replaced > 0

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(out.as_uri())
        for chart_id, total in expected.items():
            figure = page.locator(f"figure#{chart_id}")
            assert float(figure.get_attribute("data-total")) == float(total), chart_id
            bars = figure.locator("svg rect")
            assert bars.count() > 0, chart_id
            assert bars.first.bounding_box()["width"] >= 0 and figure.locator("svg").first.bounding_box()["height"] > 0
        for domain in DOMAINS:  # distinct names per tier, counted from the mart's rows (not from keys)
            names = page.locator(f"figure#tiers-{domain} rect[data-series='distinct names']")
            shown_names = sorted(float(v) for v in names.evaluate_all("els => els.map(e => e.dataset.value)"))
            counted = built_warehouse.query(
                f"select count(distinct resolution_name_normalized) from marts.{domain} group by company_id_source"
            )
            assert shown_names == sorted(float(n) for (n,) in counted), domain
        shown = page.locator("figure#tiers-annuity_performance rect[data-series='rows']")
        assert sum(float(v) for v in shown.evaluate_all("els => els.map(e => e.dataset.value)")) == float(
            expected["tiers-annuity_performance"]
        )
        assert int(page.locator("#replaced-title").get_attribute("data-total")) == replaced  # first report: all so far
        assert int(page.locator("#review-title").get_attribute("data-waiting")) == waiting
        assert page.locator("#review-top tbody tr").count() == min(waiting, 15)
        assert page.locator("figure#evidence-mix rect[data-series='entries']").count() >= 2  # eqc evidence, backflow
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000

    with built_warehouse.selected():
        second = report.write_report(tmp_path / "again.html")
    assert second["replaced"] == []  # nothing replaced since the last report


def test_export_round_trips_with_chinese_names(built_warehouse: DbtProject, tmp_path: Path) -> None:
    with built_warehouse.selected():
        assert export.main(["unresolved", "--out", str(tmp_path / "plain.csv")]) == 0
        assert export.main(["unresolved", "--out", str(tmp_path / "excel.csv"), "--bom"]) == 0
    expected = built_warehouse.query(
        "select raw_name_example, temporary_id, row_count from marts.unresolved_names "
        "order by impact_rank, normalized_name"
    )
    assert (tmp_path / "excel.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert not (tmp_path / "plain.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    for name, encoding in (("plain.csv", "utf-8"), ("excel.csv", "utf-8-sig")):
        with (tmp_path / name).open(encoding=encoding, newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert list(rows[0])[:4] == ["company_name", "temporary_id", "first_seen", "occurrence_count"]
        # A name starting with a tab (the sample has some) is written behind a ' (never a formula).
        assert [(r["company_name"], r["temporary_id"], int(r["occurrence_count"])) for r in rows] == [
            (for_csv(name), temp_id, count) for name, temp_id, count in expected
        ]
        assert any(any("\u4e00" <= ch <= "\u9fff" for ch in r["company_name"]) for r in rows)


def test_every_model_seed_and_source_column_is_documented(built_warehouse: DbtProject) -> None:
    built_warehouse.run("docs", "generate")
    manifest = json.loads((built_warehouse.target_dir / "manifest.json").read_text())
    catalog = json.loads((built_warehouse.target_dir / "catalog.json").read_text())
    undocumented = []
    for kind in ("nodes", "sources"):
        for unique_id, node in manifest[kind].items():
            if node["resource_type"] not in ("model", "seed", "source"):
                continue
            if not node.get("description"):
                undocumented.append(unique_id)
            for column in catalog[kind].get(unique_id, {}).get("columns", {}):
                if not node["columns"].get(column, {}).get("description"):
                    undocumented.append(f"{unique_id}.{column}")
    assert undocumented == []
    exposures = {e["name"] for e in manifest["exposures"].values()}
    assert exposures == {"eqc_drain", "enrichment_report"}
