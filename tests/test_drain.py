"""The drain against the sandbox and a real PostgreSQL: budget, choice, outcomes, failures, safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from python_enrich import drain
from python_enrich.drain import lookup, preflight
from python_enrich.eqc.client import EQCClient
from python_enrich.normalization import normalize_company_name
from python_enrich.standins.companies import build_companies
from python_enrich.standins.registry import sandbox_truth
from python_enrich.standins.sandbox import SandboxConfig, SandboxServer
from tests.conftest import DbtProject, enqueue

COMPANIES = build_companies(200, seed=42)
TOKEN = "drain-test-token-0123456789abcdef"
TERMINAL = {"done", "not_found", "needs_review", "failed"}


def names_with(presence: str, count: int) -> list[str]:
    return [normalize_company_name(c.name) for c in COMPANIES if c.registry_presence == presence][:count]


def statuses(project: DbtProject) -> dict[str, str]:
    return dict(project.query("select normalized_name, status from enrichment.enrichment_requests"))


def sandbox_with(**knobs: object) -> SandboxServer:
    return SandboxServer(SandboxConfig(companies=200, seed=42, tokens=(TOKEN,), **knobs))


def run_drain(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, *args: str, token: str | None = TOKEN) -> int:
    monkeypatch.setenv("WDH_EQC_BASE_URL", sandbox.url)
    if token is None:
        monkeypatch.delenv("WDH_EQC_TOKEN", raising=False)
        monkeypatch.setenv("WDH_ENV_FILE", "/nonexistent/.wdh_env")
    else:
        monkeypatch.setenv("WDH_EQC_TOKEN", token)
    return drain.main([*args, "--progress", "none"])


def search_calls(sandbox: SandboxServer) -> int:
    return sum(sandbox.stats()["counts"].get("search", {}).values())


# -- pre-flight --------------------------------------------------------------------------------
def test_preflight_failures_are_one_clear_sentence(
    dbt_project: DbtProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with sandbox_with() as sandbox:
        assert run_drain(monkeypatch, sandbox, "--budget", "5") == 2  # no state tables yet
        assert "run dbt build" in capsys.readouterr().err
        dbt_project.run("run-operation", "setup_enrichment_state")
        assert run_drain(monkeypatch, sandbox, "--budget", "5", token=None) == 2
        assert "python -m python_enrich.auth --capture --save" in capsys.readouterr().err
        assert run_drain(monkeypatch, sandbox, "--budget", "5", token="not-a-valid-token") == 3
        assert "invalid or expired" in capsys.readouterr().err
        assert search_calls(sandbox) == 0


def test_budget_counts_lookups_and_zero_makes_no_calls(state: DbtProject, monkeypatch: pytest.MonkeyPatch) -> None:
    enqueue(state, names_with("exact", 8))
    with sandbox_with() as sandbox:
        assert run_drain(monkeypatch, sandbox, "--budget", "0") == 0
        assert sandbox.stats()["total"] == 0
        assert run_drain(monkeypatch, sandbox, "--budget", "3", "--rate-limit", "100/1") == 0
        assert search_calls(sandbox) == 3
        assert sorted(statuses(state).values()).count("done") == 3
        assert run_drain(monkeypatch, sandbox, "--budget", "3", "--dry-run") == 0
        assert search_calls(sandbox) == 3  # a dry run calls nothing
    runs = state.query("select status, (details->'stats'->>'lookups')::int from enrichment.run_log order by run_id")
    assert runs == [("success", 0), ("success", 3)]  # every run is logged, the dry run writes nothing


def test_outcomes_by_evidence_review_and_not_found(state: DbtProject, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    truth = {probe.kind: probe for probe in reversed(sandbox_truth(200, seed=42))}  # the first of each kind
    exact, renamed, variant = names_with("exact", 2), names_with("former", 1), names_with("variant", 1)
    branch = normalize_company_name(truth["unlisted_branch"].name)  # its parent is listed: review, never accepted
    absent = ["完全不存在的名字有限公司"]
    enqueue(state, exact + renamed + variant + [branch] + absent)
    with sandbox_with() as sandbox:
        assert run_drain(monkeypatch, sandbox, "--budget", "10", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["found"], summary["needs_review"], summary["not_found"]) == (4, 1, 1)
    rows = {name: (status, evidence) for name, status, evidence in state.query(
        "select normalized_name, status, evidence from enrichment.enrichment_requests")}  # fmt: skip
    assert [rows[n] for n in exact] == [("done", "exact_name")] * 2
    assert rows[renamed[0]] == ("done", "former_name") and rows[variant[0]] == ("done", "legal_form_variant")
    assert rows[branch] == ("needs_review", None) and rows[absent[0]] == ("not_found", None)
    cache_sql = "select lookup_key, company_id, evidence from enrichment.company_name_index where key_type = %s"
    cache = {key: (company, evidence) for key, company, evidence in state.query(cache_sql, ("customer_name",))}
    ids = {normalize_company_name(c.name): c.company_id for c in COMPANIES}
    assert {n: cache[n] for n in exact} == {n: (ids[n], "exact_name") for n in exact}  # the warehouse's key
    assert cache[renamed[0]] == (ids[renamed[0]], "former_name") and branch not in cache
    kept, reason = state.query(
        "select review_candidates, review_reason from enrichment.enrichment_requests where normalized_name = %s",
        (branch,),
    )[0]
    assert reason == "no candidate carries evidence" and kept and all(c["why_not"] for c in kept)
    assert {"company_id", "full_name", "credit_code", "match_type", "score"} <= set(kept[0])
    retry = state.query(
        "select next_attempt_at > now() + interval '29 days' from enrichment.enrichment_requests "
        "where normalized_name = %s",
        (absent[0],),
    )
    assert retry == [(True,)]
    with sandbox_with() as sandbox:  # nothing is due any more: no budget spent on repeats
        assert run_drain(monkeypatch, sandbox, "--budget", "10") == 0
        assert search_calls(sandbox) == 0


def test_details_store_responses_and_former_names(state: DbtProject, monkeypatch: pytest.MonkeyPatch) -> None:
    company = next(c for c in COMPANIES if c.registry_presence == "exact" and c.former_names)
    enqueue(state, [normalize_company_name(company.name)])
    with sandbox_with() as sandbox:
        assert run_drain(monkeypatch, sandbox, "--budget", "1", "--details") == 0
        counts = sandbox.stats()["counts"]
    assert {name: sum(v.values()) for name, v in counts.items()} == {
        "searchAll": 1,
        "search": 1,
        "findDepart": 1,
        "findLabels": 1,
    }
    keys = state.query("select key_type, lookup_key, company_id from enrichment.company_name_index order by 1")
    assert ("former_name", normalize_company_name(company.former_names[0]), company.company_id) in keys
    endpoints = {e for (e,) in state.query("select endpoint from enrichment.eqc_responses")}
    assert endpoints == {"search", "findDepart", "findLabels"}


def test_transient_errors_are_retried_then_given_back_or_failed(
    state: DbtProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = names_with("exact", 1)
    enqueue(state, name)
    with sandbox_with(fault_rate=1.0, fault_kinds=("5xx",)) as sandbox:
        sandbox.state.config.fault_rate = 0.0  # let the token check through
        monkeypatch.setattr(lookup, "backoff_s", lambda attempt: 0.01)
        original = preflight.check_token

        def check_then_fail(*args):
            original(*args)
            sandbox.state.config.fault_rate = 1.0

        monkeypatch.setattr(preflight, "check_token", check_then_fail)
        # Every lookup of the run ended in an error: the drain says so with exit 1.
        assert (
            run_drain(
                monkeypatch, sandbox, "--budget", "1", "--retries", "2", "--max-attempts", "2", "--retry-delay", "0"
            )
            == drain.EXIT_FAILED
        )
        assert search_calls(sandbox) == 3  # the call and its two retries
        row = state.query("select status, attempts, last_error from enrichment.enrichment_requests")[0]
        assert row[0] == "pending" and row[1] == 1 and "HTTP 50" in row[2]
        sandbox.state.config.fault_rate = 0.0
        assert (
            run_drain(
                monkeypatch, sandbox, "--budget", "1", "--retries", "0", "--max-attempts", "2", "--retry-delay", "0"
            )
            == drain.EXIT_FAILED
        )
        assert state.query("select status, attempts from enrichment.enrichment_requests")[0] == ("failed", 2)


def test_429_retry_after_is_honoured(state: DbtProject, monkeypatch: pytest.MonkeyPatch) -> None:
    enqueue(state, names_with("exact", 3))
    with sandbox_with(rate_limit=(2, 1.0)) as sandbox:
        # The drain believes it may make 100/s; the server allows 2/s and answers 429 beyond.
        assert run_drain(monkeypatch, sandbox, "--budget", "3", "--rate-limit", "100/1", "--concurrency", "1") == 0
        assert sandbox.stats()["counts"]["search"].get("429", 0) >= 1
    assert set(statuses(state).values()) == {"done"}


@pytest.mark.parametrize("style", ["401", "body"])
def test_expired_token_stops_every_worker_and_releases_claims(
    state: DbtProject, monkeypatch: pytest.MonkeyPatch, capsys, style: str
) -> None:
    enqueue(state, names_with("exact", 12))
    with sandbox_with(latency_ms={"search": (100, 150)}, expiry_style=style) as sandbox:

        def expire_soon() -> None:
            time.sleep(0.5)
            sandbox.state.tokens.clear()  # the session dies mid-run

        threading.Thread(target=expire_soon, daemon=True).start()
        code = run_drain(monkeypatch, sandbox, "--budget", "12", "--concurrency", "3", "--rate-limit", "1000/1")
    assert code == 3
    assert "python -m python_enrich.auth --capture --save" in capsys.readouterr().err
    rows = state.query("select status, attempts, lease_owner from enrichment.enrichment_requests")
    assert {status for status, _, _ in rows} <= {"done", "pending"} and any(s == "pending" for s, _, _ in rows)
    assert all(owner is None for _, _, owner in rows)  # no claim left behind
    assert all(attempts == 0 for status, attempts, _ in rows if status == "pending")


# -- robustness --------------------------------------------------------------------------------
def drain_process(sandbox: SandboxServer, *args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WDH_EQC_BASE_URL": sandbox.url, "WDH_EQC_TOKEN": TOKEN}
    return subprocess.Popen(
        [sys.executable, "-m", "python_enrich.drain", *args, "--progress", "log"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip


def test_kill_9_mid_run_then_another_drain_finishes_without_repeats(state: DbtProject, tmp_path: Path) -> None:
    names = names_with("exact", 30)
    enqueue(state, names)
    log = tmp_path / "drain.log"
    with sandbox_with(latency_ms={"search": (200, 300)}) as sandbox:
        first = drain_process(
            sandbox, "--budget", "30", "--concurrency", "3", "--rate-limit", "1000/1", "--lease", "2", log=log
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(1 for s in statuses(state).values() if s == "done") < 8:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        in_flight = sum(1 for s in statuses(state).values() if s == "in_progress")
        assert in_flight > 0
        time.sleep(2.2)  # the dead drain's leases expire
        second = drain_process(
            sandbox, "--budget", "30", "--concurrency", "3", "--rate-limit", "1000/1", "--lease", "2", log=log
        )
        assert second.wait(timeout=60) == 0
        calls = search_calls(sandbox)
    assert set(statuses(state).values()) == {"done"}
    assert len(names) <= calls <= len(names) + in_flight
    assert TOKEN not in log.read_text()


def test_four_drains_at_once_share_the_rate_limit_and_never_repeat(state: DbtProject, tmp_path: Path) -> None:
    names = names_with("exact", 40)
    enqueue(state, names)
    log = tmp_path / "drains.log"
    limit, window = 10, 1.0
    with sandbox_with(latency_ms={"search": (50, 150)}, rate_limit=(limit, window)) as sandbox:
        drains = [
            drain_process(
                sandbox, "--budget", "40", "--concurrency", "3", "--rate-limit", f"{limit}/{window:g}", log=log
            )
            for _ in range(4)
        ]
        assert [d.wait(timeout=120) for d in drains] == [0, 0, 0, 0]
        counts = sandbox.stats()["counts"]
        busiest = sandbox.max_admitted_in_any_window()
    assert set(statuses(state).values()) == {"done"}
    assert counts["search"] == {"200": len(names)}  # each name looked up exactly once, never a 429
    assert counts["searchAll"] == {"200": 4}
    assert busiest <= limit
    # Slots were spent on real calls only (none on claims that found the queue empty).
    assert state.query("select count(*) from enrichment.eqc_calls") == [(len(names) + 4,)]
    assert TOKEN not in log.read_text()


def test_twenty_percent_faults_still_end_every_request(state: DbtProject, monkeypatch: pytest.MonkeyPatch) -> None:
    names = names_with("exact", 25) + names_with("absent", 5)
    enqueue(state, names)
    monkeypatch.setattr(lookup, "backoff_s", lambda attempt: 0.01)
    with sandbox_with(fault_rate=0.2, fault_kinds=("5xx", "drop", "slow"), slow_ms=1500, fault_seed=3) as sandbox:
        for _ in range(10):
            due = state.query("select count(*) from enrichment.enrichment_requests where status = 'pending'")[0][0]
            if not due:
                break
            run_drain(
                monkeypatch,
                sandbox,
                "--budget",
                "30",
                "--timeout",
                "1",
                "--retry-delay",
                "0",
                "--max-attempts",
                "4",
                "--rate-limit",
                "1000/1",
            )
    rows = state.query("select status, attempts from enrichment.enrichment_requests")
    assert {status for status, _ in rows} <= TERMINAL
    assert all(attempts <= 4 for _, attempts in rows)


def test_token_is_in_no_table(state: DbtProject, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    enqueue(state, names_with("exact", 3))
    with sandbox_with() as sandbox:
        assert run_drain(monkeypatch, sandbox, "--budget", "3", "--details") == 0
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    dump = state.query(
        "select string_agg(t::text, ' ') from (select * from enrichment.run_log) t "
        "union all select string_agg(t::text, ' ') from (select * from enrichment.enrichment_requests) t "
        "union all select string_agg(t::text, ' ') from (select * from enrichment.eqc_responses) t "
        "union all select string_agg(t::text, ' ') from (select * from enrichment.company_name_index) t"
    )
    assert all(TOKEN not in (text or "") for (text,) in dump)
    assert TOKEN not in repr(EQCClient(TOKEN))
