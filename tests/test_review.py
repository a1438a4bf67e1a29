"""Review: decisions from the command line and from the page in headless Chromium, their effect on
the next build, their durability (full refresh, later drains), undo, export, and the cache audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg2
import pytest
import requests
from playwright.sync_api import sync_playwright

from python_enrich.auth import launch_chromium
from python_enrich.drain import Drain, DrainOptions
from python_enrich.normalization import normalize_company_name
from python_enrich.review import state
from python_enrich.review.__main__ import main as review_main
from python_enrich.review.__main__ import say
from python_enrich.review.page import ReviewServer
from python_enrich.standins import sample
from python_enrich.standins.registry import Registry
from python_enrich.standins.sample import sample_size
from python_enrich.standins.sandbox import SandboxConfig, SandboxServer
from tests.conftest import DbtProject, fresh_database

ROWS, SEED = 4000, 7
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def drain_all(sandbox: SandboxServer, budget: int = 10_000) -> None:
    options = DrainOptions(
        budget=budget, concurrency=2, rate_limit=(100_000, 1.0), base_url=sandbox.url, progress="none"
    )
    Drain(options, sandbox.issue_token()).run()


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DbtProject, SandboxServer]]:
    """Sample data built, every queued name drained through the sandbox, built again."""
    with (
        fresh_database() as name,
        SandboxServer(SandboxConfig(companies=sample_size(ROWS).companies, seed=SEED)) as sandbox,
    ):
        project = DbtProject(name, tmp_path_factory.mktemp("dbt"))
        sample.generate(ROWS, seed=SEED)
        project.run("seed")
        project.run("run")  # the state to drain; dbt's tests run on the build after the drain
        with project.selected():
            drain_all(sandbox)
        project.run("build")
        yield project, sandbox


def waiting_names(project: DbtProject) -> list[state.WaitingName]:
    conn = psycopg2.connect(dbname=project.database)
    try:
        with conn, conn.cursor() as cur:
            return state.waiting(cur)
    finally:
        conn.close()


def rows_of(project: DbtProject, name: str) -> set[tuple[object, ...]]:
    return set(project.query(
        "select company_id, company_id_source, is_temporary_id from marts.annuity_performance "
        "where customer_name_normalized = %s union select company_id, company_id_source, is_temporary_id "
        "from marts.annuity_income where customer_name_normalized = %s", (name, name)))  # fmt: skip


def test_the_page_decides_and_the_next_build_and_drain_respect_it(reviewed) -> None:
    project, sandbox = reviewed
    names = [w for w in waiting_names(project) if w.candidates and w.spellings]
    assert len(names) >= 3, "the sample must leave names for review"
    accepted, rejected, nobody = names[0], names[1], names[2]
    assert all(rows_of(project, w.normalized_name) and all(t for *_, t in rows_of(project, w.normalized_name))
               for w in names[:3])  # waiting names keep their temporary ids  # fmt: skip
    queued_again = project.query(
        "select count(*) from enrichment.enrichment_requests where status = 'pending' and normalized_name = any(%s)",
        ([w.normalized_name for w in names],),
    )
    assert queued_again == [(0,)]  # the build after the drain did not queue waiting names again
    chosen = accepted.candidates[0]["company_id"]
    with project.selected(), ReviewServer(who="pytest-reviewer") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright, headless=True)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(server.url)
        page.wait_for_selector("body[data-loaded]")
        card = page.locator(f'.card[data-name="{accepted.normalized_name}"]')
        assert card.locator("mark.differs, .lacks").count() > 0  # differences are highlighted
        assert card.locator(".spellings code").count() == len(accepted.spellings)
        card.locator(f'tr[data-id="{chosen}"] button.accept').click()
        page.locator(f'.card[data-name="{accepted.normalized_name}"]').wait_for(state="detached")
        page.locator(f'.card[data-name="{rejected.normalized_name}"] button.reject-all').click()
        page.locator(f'.card[data-name="{rejected.normalized_name}"]').wait_for(state="detached")
        page.locator(f'.card[data-name="{nobody.normalized_name}"] button.no-company').click()
        page.locator(f'.card[data-name="{nobody.normalized_name}"]').wait_for(state="detached")
        assert page.locator("#decisions tbody tr").count() == 2 + len(rejected.candidates)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review.png"), full_page=True)
        browser.close()
    decided = project.query(
        "select normalized_name, decision, company_id, decided_by from enrichment.review_decisions order by decision_id"
    )
    assert decided[0] == (accepted.normalized_name, "accept", chosen, "pytest-reviewer")
    assert {(n, d) for n, d, _, _ in decided[1:]} == {
        (rejected.normalized_name, "reject"),
        (nobody.normalized_name, "no_company"),
    }

    project.run("build")
    assert rows_of(project, accepted.normalized_name) == {(chosen, "cache_customer_name", False)}
    assert {(c, t) for c, _, t in rows_of(project, rejected.normalized_name)} == {(rejected.temp_id, True)}
    assert rows_of(project, nobody.normalized_name) == {(None, "name_override", False)}
    # Decisions are state, not models: a full refresh changes nothing.
    project.run("run", "--full-refresh")
    assert rows_of(project, accepted.normalized_name) == {(chosen, "cache_customer_name", False)}
    assert rows_of(project, nobody.normalized_name) == {(None, "name_override", False)}

    # The registry now lists a rejected company under exactly the rejected name: still never accepted.
    victim = rejected.candidates[0]["company_id"]
    registry = sandbox.state.registry
    registry.by_id[victim].full_name = rejected.raw_name_example or rejected.normalized_name
    sandbox.state.registry = Registry(registry.companies)
    project.query(
        "update enrichment.enrichment_requests set next_attempt_at = now() - interval '1 second' "
        "where normalized_name = %s", (rejected.normalized_name,))  # fmt: skip
    project.run("run")  # the retry time has passed: queued again
    assert project.query(
        "select count(*) from enrichment.enrichment_requests where normalized_name = %s and status = 'pending'",
        (rejected.normalized_name,),
    ) == [(1,)]
    with project.selected():
        drain_all(sandbox)
    status = project.query(
        "select status, resolved_company_id from enrichment.enrichment_requests where normalized_name = %s "
        "order by request_id desc limit 1", (rejected.normalized_name,))  # fmt: skip
    assert status[0][0] in {"not_found", "needs_review"} and status[0][1] is None
    assert not project.query(
        "select 1 from enrichment.company_name_index where lookup_key = %s", (rejected.normalized_name,)
    )
    project.run("run")
    assert {t for *_, t in rows_of(project, rejected.normalized_name)} == {True}


def test_the_page_refuses_other_sites_and_missing_tokens(reviewed) -> None:
    project, _ = reviewed
    with project.selected(), ReviewServer() as server:
        decide = server.url + "api/decide"
        body = json.dumps({"action": "no_company", "name": "x"})
        good = {"Content-Type": "application/json", "X-Review-Token": server.token}
        assert (
            requests.post(decide, data=body, headers={"Content-Type": "application/json"}, timeout=5).status_code == 403
        )
        assert (
            requests.post(decide, data=body, headers={**good, "Origin": "http://evil.example"}, timeout=5).status_code
            == 403
        )
        assert requests.post(decide, data=body, headers={**good, "Host": "evil.example"}, timeout=5).status_code == 403
        assert requests.get(server.url + "api/names", headers={"Host": "evil.example"}, timeout=5).status_code == 403
        assert (
            requests.post(
                decide, data="action=undo", headers={**good, "Content-Type": "text/plain"}, timeout=5
            ).status_code
            == 415
        )
        answer = requests.post(decide, data=body, headers=good, timeout=5)
        assert answer.status_code == 400 and "not waiting for review" in answer.json()["error"]
        assert server.httpd.server_address[0] == "127.0.0.1"


def test_command_line_decisions_undo_export_and_audit(reviewed, tmp_path: Path, capsys) -> None:
    project, _ = reviewed
    with project.selected():
        assert review_main(["--list", "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert listed and [w["row_count"] for w in listed] == sorted((w["row_count"] for w in listed), reverse=True)
        first = listed[0]
        name, company = first["normalized_name"], first["candidates"][0]["company_id"]
        assert review_main(["--accept", name, "1"]) == 1
        assert "not a candidate" in capsys.readouterr().err
        assert review_main(["--accept", name, company]) == 0
        assert review_main(["--no-company", name]) == 1  # one verdict per name
        assert "not waiting for review" in capsys.readouterr().err
        cache = (
            "select company_id, source, evidence, confidence from enrichment.company_name_index where lookup_key = %s"
        )
        assert project.query(cache, (name,)) == [(company, "manual", "manual", 1)]
        assert review_main(["--undo", name]) == 0
        assert project.query(cache, (name,)) == []
        latest = "select status from enrichment.enrichment_requests where normalized_name = %s order by request_id desc"
        assert project.query(latest, (name,))[0] == ("needs_review",)
        assert review_main(["--undo", name]) == 1
        # Export: a no-company decision becomes an __EMPTY__ line of the name-override seed.
        assert review_main(["--no-company", name]) == 0
        seeds = tmp_path / "seeds"
        seeds.mkdir()
        (seeds / state.NAME_SEED).write_text(
            "customer_name,company_id,note\n保留账户管理,__EMPTY__,x\n", encoding="utf-8"
        )
        capsys.readouterr()
        assert review_main(["--export-overrides", "--seeds-dir", str(seeds)]) == 0
        lines = (seeds / state.NAME_SEED).read_text(encoding="utf-8").splitlines()
        in_force = project.query("select count(*) from enrichment.review_decisions "
                                 "where undone_at is null and decision <> 'reject'")[0][0]  # fmt: skip
        assert lines[1] == "保留账户管理,__EMPTY__,x" and len(lines) == 2 + in_force
        exported = {spelling: (value, note) for spelling, value, note in (line.split(",") for line in lines[2:])}
        value, note = exported[name]
        assert value == "__EMPTY__" and note.startswith(f"review: no company by {state.current_user()} at ")
        assert all(normalize_company_name(spelling) == spelling for spelling in exported)
        assert review_main(["--undo", name]) == 0

        # The audit: an entry an earlier drain cached without evidence (a near name of another company).
        for key, company_id, official, match_type, source in [
            ("某某测试科技有限公司", "123456789", "某某测评科技有限公司", "fuzzy", "eqc"),
            ("另一测试实业有限公司", "223456789", "另一测试实业股份有限公司", "fuzzy", "eqc"),
            ("旧仓库导入有限公司", "323456789", None, "legacy:eqc", "legacy_import"),
        ]:
            project.query(
                "insert into enrichment.company_name_index (key_type, lookup_key, company_id, official_name, "
                "match_type, confidence, source) values ('customer_name', %s, %s, %s, %s, 0.8, %s)",
                (key, company_id, official, match_type, source),
            )
        capsys.readouterr()
        assert review_main(["--audit-cache", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        flagged = {f["lookup_key"]: f["problem"] for f in report["findings"]}
        assert flagged["某某测试科技有限公司"] == "no evidence" and flagged["旧仓库导入有限公司"] == "unverifiable"
        assert "另一测试实业有限公司" not in flagged  # a legal-form variant: passes, evidence recorded
        assert project.query(
            "select evidence from enrichment.company_name_index where lookup_key = '另一测试实业有限公司'"
        ) == [("legal_form_variant",)]
        assert review_main(["--audit-cache", "--feed"]) == 0
        assert project.query(cache, ("某某测试科技有限公司",)) == [
            ("123456789", "eqc", None, Decimal("0.800"))
        ]  # nothing deleted
        assert review_main(["--reject", "某某测试科技有限公司"]) == 0
        assert project.query(cache, ("某某测试科技有限公司",)) == []  # removed by the decision, kept in it
        assert review_main(["--undo", "某某测试科技有限公司"]) == 0
        assert project.query(cache, ("某某测试科技有限公司",)) == [("123456789", "eqc", None, Decimal("0.800"))]
        assert project.query("select count(*) from enrichment.run_log where run_kind = 'review'")[0][0] >= 8


def test_terminal_output_carries_no_control_characters(capsys) -> None:
    say("某\x1b[2J公司\u202e\tok")
    assert capsys.readouterr().out == "某\\u001b[2J公司\\u202e\tok\n"
