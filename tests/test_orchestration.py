"""The Dagster code location: definitions, schedules and sensor, one materialization of every asset
against the private cluster and the sandbox registry, failures, and the UI's asset graph."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
)

from python_enrich import db
from python_enrich.envvars import environment
from python_enrich.load.tables import PERFORMANCE
from python_enrich.load.write import ensure_raw_table
from python_enrich.orchestration import defs
from python_enrich.orchestration.automation import (
    CYCLE_JOB,
    DRAIN_JOB,
    DRAIN_TAG,
    AutomationSettings,
    SensorCursor,
    build_automation,
)
from python_enrich.orchestration.drain_asset import company_id_drain
from python_enrich.paths import PROJECT_DIR
from python_enrich.salt import check_matches_state
from python_enrich.standins import sample
from python_enrich.standins.sandbox import SandboxConfig, SandboxServer
from tests.conftest import DbtProject, enqueue, fresh_database

ROWS, SEED = 600, 11
TOKEN = f"orchestration-test-token-{secrets.token_hex(8)}"
DOCS = PROJECT_DIR / "docs"
BIN = Path(sys.executable).parent


def test_definitions_validate_from_the_command_line() -> None:
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-m", "python_enrich.orchestration"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr  # dagster logs to either, depending on the terminal
    assert result.returncode == 0, output[-2000:]
    assert "Validation successful for code location python_enrich.orchestration" in output


def test_defs_register_every_dbt_node_the_drain_and_the_automation() -> None:
    repo = defs.get_repository_def()
    keys = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert {"marts/unresolved_names", "marts/temp_id_replacements", "company_id_drain", "rebuild_after_drain"} <= keys
    assert any(key.startswith("enrichment_seeds/company_id_overrides_") for key in keys)  # the seeds
    checks = repo.asset_graph.asset_check_keys
    assert any(check.asset_key.to_user_string() == "marts/unresolved_names" for check in checks)  # dbt tests
    drain_parents = {k.to_user_string() for k in repo.asset_graph.get(defs_key("company_id_drain")).parent_keys}
    assert drain_parents == {"marts/unresolved_names"}
    assert {s.name for s in repo.schedule_defs} == {"monthly_cycle", "daily_drain"}
    assert {s.name for s in repo.sensor_defs} == {"new_month_or_waiting_names"}
    assert company_id_drain.op.pool == "eqc_drain"  # Dagster's concurrency limit applies to it
    for job in (CYCLE_JOB, DRAIN_JOB):  # the run queue admits one run with this tag at a time
        assert defs.resolve_job_def(job).tags[DRAIN_TAG] == "1"


def defs_key(name: str):
    from dagster import AssetKey

    return AssetKey(name)


# -- schedules and sensor ----------------------------------------------------------------------------
def load_month(month: str, file_hash: str, names: list[str]) -> None:
    """Rows of one month as the loader writes them (its row key starts with the file's hash)."""
    conn = db.connect()
    try:
        with conn, conn.cursor() as cur:
            ensure_raw_table(cur, PERFORMANCE)
            cur.execute('delete from raw.annuity_performance where "月度" = %s', (month,))
            for number, name in enumerate(names):
                cur.execute(
                    'insert into raw.annuity_performance ("月度", "计划代码", "客户名称", _row_key) '
                    "values (%s, 'P0001', %s, %s)",
                    (month, name, f"{file_hash}:{number}"),
                )
    finally:
        conn.close()


def test_sensor_and_schedules_decide_from_the_warehouse(dbt_project: DbtProject) -> None:
    dbt_project.run("run-operation", "setup_enrichment_state")
    _, (monthly, daily), (sensor_def,) = build_automation(AutomationSettings(drain_budget=7))
    instance = DagsterInstance.ephemeral()
    cursor: str | None = None
    decisions = {"right": 0, "wrong": 0}

    def tick(expected_job: str | None) -> object:
        nonlocal cursor
        context = build_sensor_context(instance=instance, cursor=cursor)
        result = sensor_def(context)
        cursor = context.cursor
        job = result.job_name if isinstance(result, RunRequest) else None
        decisions["right" if job == expected_job else "wrong"] += 1
        assert isinstance(result, RunRequest if expected_job else SkipReason), result
        assert job == expected_job, (job, expected_job)
        return result

    with dbt_project.selected():
        tick(None)  # nothing loaded, nothing queued
        load_month("202411", "filea", ["甲公司", "乙公司"])
        first = tick(CYCLE_JOB)  # a new month
        assert first.run_config["ops"]["company_id_drain"]["config"]["budget"] == 7
        assert "annuity_performance:2024-11" in first.tags["python_enrich/months"]
        tick(None)  # the same month again: nothing new
        load_month("2024年11月", "filea", ["甲公司", "乙公司"])  # the same file, another spelling
        tick(None)
        load_month("202411", "fileb", ["甲公司（更正）"])  # the month replaced from a corrected file
        replaced = tick(CYCLE_JOB)
        assert replaced.run_key != first.run_key
        load_month("202412", "filec", ["丙公司"])
        tick(CYCLE_JOB)  # another new month
        enqueue(dbt_project, ["丁公司", "戊公司"])
        names = tick(DRAIN_JOB)  # names queued since the last look
        tick(None)  # the same names: the drain run already covers them
        enqueue(dbt_project, ["己公司"])
        assert names.run_key != tick(DRAIN_JOB).run_key
        assert SensorCursor.parse(cursor).last_request_id > 0
        assert SensorCursor.parse("not json").months == {}  # an unreadable cursor starts afresh

        scheduled = monthly(build_schedule_context(instance=instance))
        assert isinstance(scheduled, RunRequest)
        assert scheduled.run_config["ops"]["company_id_drain"]["config"]["budget"] == 7
        assert isinstance(daily(build_schedule_context(instance=instance)), RunRequest)  # names waiting
        dbt_project.query(
            "update enrichment.enrichment_requests set status = 'not_found', "
            "next_attempt_at = now() + interval '30 days'"
        )
        assert isinstance(daily(build_schedule_context(instance=instance)), SkipReason)  # none waiting
        assert isinstance(tick_state := sensor_def(build_sensor_context(instance=instance, cursor=cursor)), SkipReason)
        assert "no month" in str(tick_state.skip_message)
    print(f"sensor decisions against the expected trigger: {decisions['right']} right, {decisions['wrong']} wrong")
    assert decisions == {"right": 9, "wrong": 0}


def test_settings_come_from_the_environment_and_refuse_nonsense() -> None:
    settings = AutomationSettings.from_env(
        {"WDH_CYCLE_CRON": "0 3 1 * *", "WDH_DRAIN_BUDGET": "25", "WDH_AUTOMATION": "off"}
    )
    assert (settings.cycle_cron, settings.drain_budget, settings.enabled) == ("0 3 1 * *", 25, False)
    assert AutomationSettings.from_env({}) == AutomationSettings()
    for bad in ({"WDH_DRAIN_BUDGET": "-1"}, {"WDH_SENSOR_INTERVAL_S": "5"}, {"WDH_AUTOMATION": "maybe"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            AutomationSettings.from_env(bad)
    _, schedules, _ = build_automation(settings)
    assert schedules[0].cron_schedule == "0 3 1 * *"
    assert all(s.default_status.value == "STOPPED" for s in schedules)


# -- the whole cycle, in process -------------------------------------------------------------------------
def run_config(**drain: object) -> dict[str, object]:
    return {"ops": {"company_id_drain": {"config": {"rate_limit": "1000/1", "concurrency": 4, **drain}}}}


def files_containing(root: Path, secret: str) -> list[str]:
    needle = secret.encode()
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """sample data, then the enrichment_cycle job (every asset) in process against the sandbox."""
    work = tmp_path_factory.mktemp("dagster")
    salt = f"orchestration-salt-{secrets.token_hex(8)}"
    registry = SandboxConfig(companies=sample.sample_size(ROWS).companies, seed=SEED, tokens=(TOKEN,))
    with (
        fresh_database() as database,
        SandboxServer(registry) as sandbox,
        environment(
            WDH_ALIAS_SALT=salt,
            WDH_EQC_TOKEN=TOKEN,
            WDH_EQC_BASE_URL=sandbox.url,
            DBT_TARGET_PATH=str(work / "target"),
        ),
    ):
        sample.generate(ROWS, seed=SEED)
        (work / "dagster_home").mkdir()
        instance = DagsterInstance.local_temp(tempdir=str(work / "dagster_home"))
        started = time.monotonic()
        result = defs.resolve_job_def(CYCLE_JOB).execute_in_process(
            run_config=run_config(budget=400), instance=instance, raise_on_error=False
        )
        seconds = time.monotonic() - started
        yield {
            "result": result,
            "instance": instance,
            "project": DbtProject(database, work),
            "work": work,
            "salt": salt,
            "sandbox": sandbox,
            "seconds": seconds,
        }
        instance.dispose()


def test_one_materialization_of_every_asset_replaces_temporary_ids(cycle: dict[str, object]) -> None:
    result, project = cycle["result"], cycle["project"]
    assert result.success, [e.message for e in result.all_events if e.is_failure][:3]  # type: ignore[attr-defined]
    logs = cycle["instance"].all_logs(result.run_id)  # type: ignore[attr-defined]
    steps = {
        e.step_key: e.timestamp for e in logs if e.dagster_event_type and e.dagster_event_type.value == "STEP_START"
    }
    ends = {
        e.step_key: e.timestamp for e in logs if e.dagster_event_type and e.dagster_event_type.value == "STEP_SUCCESS"
    }
    timings = ", ".join(f"{key} {ends[key] - start:.1f} s" for key, start in steps.items() if key in ends)
    print(f"every asset materialized in {cycle['seconds']:.1f} s: {timings}")
    replaced = project.query("select count(*) from marts.temp_id_replacements")[0][0]  # type: ignore[attr-defined]
    assert replaced > 0
    runs = project.query(  # type: ignore[attr-defined]
        "select run_kind, status, count(*) from enrichment.run_log group by 1, 2 order by 1, 2"
    )
    assert runs == [("build", "success", 2), ("drain", "success", 1)]
    figures = result.asset_materializations_for_node("company_id_drain")[0].metadata  # type: ignore[attr-defined]
    statuses = dict(
        project.query("select status, count(*) from enrichment.enrichment_requests group by 1")  # type: ignore[attr-defined]
    )
    # The drain's figures against what the queue records.
    pairs = {"found": "done", "for review": "needs_review", "not found": "not_found"}
    counted = {"right": 0, "wrong": 0}
    for figure, status in pairs.items():
        counted["right" if figures[figure].value == statuses.get(status, 0) else "wrong"] += 1
    print(f"drain figures against the queue: {counted['right']} right, {counted['wrong']} wrong; {statuses}")
    assert counted["wrong"] == 0 and figures["found"].value > 0 and figures["errors"].value == 0
    assert (
        figures["looked up"].value == figures["found"].value + figures["for review"].value + figures["not found"].value
    )
    assert replaced <= figures["found"].value + statuses.get("done", 0)
    outcomes = sum(figures[f"re-check {o}"].value for o in ("confirmed", "retired", "unsettled"))
    assert figures["cache entries re-checked"].value == outcomes, "every re-check has one outcome"
    rebuilt = next(
        m.metadata
        for m in result.asset_materializations_for_node("rebuild_after_drain")  # type: ignore[attr-defined]
        if m.asset_key.to_user_string() == "rebuild_after_drain"
    )
    assert rebuilt["temporary ids replaced"].value == replaced
    # The rebuilt models carry a second materialization in the same run, after the drain's.
    materialized = [
        e.asset_key.to_user_string()
        for e in result.all_events  # type: ignore[attr-defined]
        if e.event_type_value == "ASSET_MATERIALIZATION"
    ]
    assert materialized.count("marts/annuity_performance") == 2
    assert materialized.count("enrichment_seeds/company_id_overrides_plan") == 1
    assert materialized.index("company_id_drain") < len(materialized) - 1 - materialized[::-1].index(
        "marts/temp_id_replacements"
    )


def test_no_salt_or_token_in_dagster_storage_or_dbt_target(cycle: dict[str, object]) -> None:
    work = cycle["work"]
    assert isinstance(work, Path)
    # The builds did use the salt (it reached dbt's connections): the state holds its fingerprint.
    with cycle["project"].selected(), environment(WDH_ALIAS_SALT=str(cycle["salt"])):  # type: ignore[attr-defined]
        assert check_matches_state().stored
    stored = [p for p in (work / "dagster_home").rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in stored) and (work / "target").is_dir()
    for secret in (cycle["salt"], TOKEN):
        assert files_containing(work / "dagster_home", str(secret)) == []
        assert files_containing(work / "target", str(secret)) == []
    # The scan can see: the run's own records are in what it searched.
    run_id = cycle["result"].run_id  # type: ignore[attr-defined]
    assert files_containing(work / "dagster_home", run_id)


def test_a_failed_build_stops_the_drain_and_the_rebuild(cycle: dict[str, object]) -> None:
    project, instance = cycle["project"], cycle["instance"]
    drains_before = project.query("select count(*) from enrichment.run_log where run_kind = 'drain'")  # type: ignore[attr-defined]
    with (
        project.selected(),  # type: ignore[attr-defined]
        environment(WDH_ALIAS_SALT=f"another-salt-{secrets.token_hex(4)}", WDH_EQC_TOKEN=TOKEN),
    ):
        result = defs.resolve_job_def(CYCLE_JOB).execute_in_process(
            run_config=run_config(), instance=instance, raise_on_error=False
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "differs from the salt" in failure.step_failure_data.error.message
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert started == {"enrichment_dbt_assets"}  # neither the drain nor the rebuild ran
    assert project.query("select count(*) from enrichment.run_log where run_kind = 'drain'") == drains_before  # type: ignore[attr-defined]


def test_drain_failures_end_the_asset_with_one_line_and_leave_names_pending(dbt_project: DbtProject) -> None:
    dbt_project.run("run-operation", "setup_enrichment_state")
    enqueue(dbt_project, ["某某有限公司", "另一家有限公司"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens: the registry is down
    expired = "expired-token-0000"
    with SandboxServer(SandboxConfig(companies=50, seed=1, tokens=(TOKEN,))) as sandbox:
        cases = [
            (expired, sandbox.url, "the EQC token is invalid or expired: run python -m python_enrich.auth"),
            (TOKEN, closed, "EQC is not answering the token check"),
        ]
        for token, url, reason in cases:
            with dbt_project.selected(), environment(WDH_EQC_TOKEN=token, WDH_EQC_BASE_URL=url):
                result = defs.resolve_job_def(DRAIN_JOB).execute_in_process(
                    run_config=run_config(budget=5), instance=DagsterInstance.ephemeral(), raise_on_error=False
                )
            assert not result.success and result.dagster_run.status == DagsterRunStatus.FAILURE
            events = [e.event_type_value for e in result.all_events]
            assert events.count("STEP_FAILURE") == 1 and "STEP_UP_FOR_RETRY" not in events  # no retry loop
            assert "rebuild_after_drain" not in {e.step_key for e in result.all_events if e.is_step_start}
            failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
            message = failure.step_failure_data.user_failure_data.description
            assert reason in message and "\n" not in message and token not in message
            pending = dbt_project.query("select status, count(*) from enrichment.enrichment_requests group by 1")
            assert pending == [("pending", 2)]  # nothing claimed, failed or marked not found


# -- the UI ------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_asset_graph_in_the_dagster_ui_shows_the_drain(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from python_enrich.auth import launch_chromium

    # The README's picture is refreshed only on request, so a test run leaves the checkout clean.
    refresh = os.environ.get("WDH_REFRESH_SCREENSHOTS") == "1"
    shot = DOCS / "dagster-asset-graph.png" if refresh else tmp_path / "dagster-asset-graph.png"
    port = free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    command = [str(BIN / "dagster-webserver"), "-m", "python_enrich.orchestration", "-h", "127.0.0.1", "-p", str(port)]
    with environment(DAGSTER_HOME=str(home)):
        server = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:] if server.stderr else ""
                assert time.monotonic() < deadline, "the Dagster UI did not start within 90 s"
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, headless=True)
            page = browser.new_page(viewport={"width": 1800, "height": 1300})
            page.goto(f"http://127.0.0.1:{port}/asset-groups", timeout=60_000)  # the global asset lineage
            graph = page.locator("svg foreignObject")  # the graph's nodes, not the list beside it
            graph.get_by_text("company_id_drain", exact=True).wait_for(timeout=60_000)
            skip = page.get_by_role("button", name="Skip")  # Dagster's newsletter dialog, on a first visit
            if skip.count():
                skip.click()
            assert graph.get_by_text("unresolved_names", exact=True).count() >= 1, "the drain's upstream"
            page.wait_for_timeout(1500)  # the graph settles its layout
            page.screenshot(path=str(shot))
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert shot.stat().st_size > 10_000


def test_run_dagster_keeps_its_instance_private_and_refuses_a_bad_port(tmp_path: Path) -> None:
    from python_enrich.orchestration import dev

    home = dev.prepare_home(tmp_path / "home")
    assert home.stat().st_mode & 0o777 == 0o700
    config = (home / "dagster.yaml").read_text(encoding="utf-8")
    assert f"key: {DRAIN_TAG}" in config and "default_limit: 1" in config
    (home / "dagster.yaml").write_text("# mine\n", encoding="utf-8")
    dev.prepare_home(home)
    assert (home / "dagster.yaml").read_text(encoding="utf-8") == "# mine\n"  # never overwritten
    with pytest.raises(SystemExit) as refused:
        dev.main(["--port", "0"])
    assert refused.value.code == 2
