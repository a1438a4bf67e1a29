"""Safety rules that live in SQL and need a real PostgreSQL, each test named after its rule: the
queue claims the higher priority first, an outcome is written only by the lease's owner, review undo
reverses the latest decision, a rejection survives the drain's second decision, and a state with no
stored salt stores only the configured WDH_ALIAS_SALT."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from python_enrich import drain, run_dbt
from python_enrich.cache_recheck import RecheckQueue
from python_enrich.db import libpq_options_with_salt
from python_enrich.envvars import environment
from python_enrich.request_queue import RequestQueue, SharedRateLimit
from python_enrich.review import state as review
from tests.conftest import DbtProject, enqueue, fresh_database
from tests.hostile_registry import HostileRegistry, json_answer

TOKEN = "rules-test-token-0123456789abcdef"


@pytest.fixture
def conn(state: DbtProject) -> Iterator[psycopg2.extensions.connection]:
    connection = psycopg2.connect(dbname=state.database)
    yield connection
    connection.close()


def claim(connection: psycopg2.extensions.connection, owner: str, lease_s: float = 300.0) -> tuple[int, str] | None:
    queue = RequestQueue(connection, owner, lease_s)
    with connection, connection.cursor() as cur:
        got = queue.claim_in(cur)
    return None if got is None else (got.request_id, got.normalized_name)


def test_the_queue_claims_the_higher_priority_first_when_priorities_differ_by_one(
    state: DbtProject, conn: psycopg2.extensions.connection
) -> None:
    # Inserted lowest first, so that the request ids' order is the opposite of the priorities'.
    for name, priority in [("低一级", 4), ("高一级", 5), ("最高", 6), ("同级较晚", 5)]:
        state.query(
            "insert into enrichment.enrichment_requests (normalized_name, priority) values (%s, %s)", (name, priority)
        )
    order = [claim(conn, "drain-a") for _ in range(5)]
    names = [c[1] if c else None for c in order]
    truth = ["最高", "高一级", "同级较晚", "低一级", None]  # equal priorities: the older request first
    print(f"claim order: {sum(a == b for a, b in zip(names, truth, strict=True))} of {len(truth)} right")
    assert names == truth


def test_an_outcome_is_written_only_by_the_drain_that_holds_the_lease(
    state: DbtProject, conn: psycopg2.extensions.connection
) -> None:
    """Drain A's lease ran out and drain B reclaimed the request: A's late answer must not land."""
    enqueue(state, ["租约公司"])
    first = RequestQueue(conn, "drain-a", 300.0)
    with conn, conn.cursor() as cur:
        claimed_by_a = first.claim_in(cur)
    assert claimed_by_a is not None
    state.query("update enrichment.enrichment_requests set lease_expires_at = now() - interval '1 second'")
    other = psycopg2.connect(dbname=state.database)
    try:
        second = RequestQueue(other, "drain-b", 300.0)
        with other, other.cursor() as cur:
            claimed_by_b = second.claim_in(cur)
        assert claimed_by_b is not None and claimed_by_b.request_id == claimed_by_a.request_id
        # A's every outcome is refused now, its cache entries and raw answer too; the request stays B's.
        late = ("customer_name", "租约公司", "700000001", "租约公司", None, "exact", 1.0, "exact_name")
        assert first.found(claimed_by_a, "700000001", [late], [("700000001", "search", "租约公司", {})]) is False
        assert state.query("select count(*) from enrichment.company_name_index") == [(0,)]
        assert state.query("select count(*) from enrichment.eqc_responses") == [(0,)]
        assert first.not_found(claimed_by_a, 30.0, "late") is False
        assert first.needs_review(claimed_by_a, [], "late") is False
        assert first.retry_later(claimed_by_a, 0.0, "late", 5) == "pending"  # what A asked, not what happened
        first.release([claimed_by_a])
        row = state.query("select status, lease_owner, resolved_company_id from enrichment.enrichment_requests")
        assert row == [("in_progress", "drain-b", None)]
        assert second.found(claimed_by_b, "700000002", [], []) is True
    finally:
        other.close()
    row = state.query("select status, lease_owner, resolved_company_id, attempts from enrichment.enrichment_requests")
    assert row == [("done", None, "700000002", 2)]


def test_a_claim_sees_what_fell_due_while_it_waited_for_the_rate_limit(
    state: DbtProject, conn: psycopg2.extensions.connection
) -> None:
    """A claim runs in the rate limit's transaction, which began before it waited for the limit's
    lock: a request given back meanwhile (due at once) and a re-check that fell due meanwhile are
    claimed, and their leases run from the claim, not from the transaction's start."""
    enqueue(state, ["等待期间交回有限公司"])
    state.query(
        "insert into enrichment.company_name_index (key_type, lookup_key, company_id, confidence, source) "
        "values ('customer_name', '等待期间到期有限公司', '700000001', 0.9, 'legacy_import')"
    )
    with conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(%s)", (SharedRateLimit.LOCK_KEY,))  # as each claim begins
        time.sleep(1.0)  # the wait for the limit
        state.query("update enrichment.enrichment_requests set next_attempt_at = clock_timestamp()")
        state.query("update enrichment.company_name_index set recheck_next_at = clock_timestamp()")
        request = RequestQueue(conn, "drain-a", 300.0).claim_in(cur)
        entry = RecheckQueue(conn, "drain-a", 300.0).claim_in(cur)
        cur.execute(
            "select extract(epoch from r.lease_expires_at - clock_timestamp()), "
            "extract(epoch from c.recheck_lease_expires_at - clock_timestamp()) "
            "from enrichment.enrichment_requests as r, enrichment.company_name_index as c"
        )
        leases = [float(s) for s in cur.fetchone()]
    print(f"claimed after the wait: request {request is not None}, re-check {entry is not None}; leases {leases} s")
    assert request is not None and entry is not None
    assert all(299.0 < lease <= 300.0 for lease in leases)


def waiting_for_review(state: DbtProject, name: str, company_ids: list[str]) -> None:
    candidates = [{"company_id": i, "full_name": f"候选{i}有限公司", "match_type": "模糊匹配"} for i in company_ids]
    state.query(
        "insert into enrichment.enrichment_requests (normalized_name, status, review_candidates) "
        "values (%s, 'needs_review', %s)",
        (name, json.dumps(candidates, ensure_ascii=False)),
    )


def test_review_undo_reverses_the_latest_decision_in_force(
    state: DbtProject, conn: psycopg2.extensions.connection
) -> None:
    name = "撤销测试有限公司"
    waiting_for_review(state, name, ["101", "102", "103"])
    review.reject(conn, name, ["101"], who="first")
    review.reject(conn, name, ["102"], who="second")
    review.accept(conn, name, "103", who="third")
    queue = RequestQueue(conn, "drain-x", 300.0)
    assert review.undo(conn, name, who="undoer") == f"undid accept of 103 for {name}"
    assert queue.rejected_ids(name) == {"101", "102"}
    assert review.undo(conn, name, who="undoer") == f"undid reject of 102 for {name}"
    assert queue.rejected_ids(name) == {"101"}  # the first rejection stays in force
    assert review.undo(conn, name, who="undoer") == f"undid reject of 101 for {name}"
    undone = state.query(
        "select decided_by from enrichment.review_decisions where undone_at is not null order by undone_at"
    )
    assert undone == [("third",), ("second",), ("first",)]


def test_a_rejection_holds_when_the_registry_now_gives_the_rejected_company_the_name_as_former_name(
    state: DbtProject, conn: psycopg2.extensions.connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second decision (after business info for another candidate) must keep the rejection."""
    name = "拒绝保持有限公司"
    waiting_for_review(state, name, ["701"])
    review.reject(conn, name, ["701"], who="person")
    state.query("update enrichment.enrichment_requests set status = 'pending', next_attempt_at = now()")
    with HostileRegistry(TOKEN) as registry:
        registry.answers[name] = json_answer(
            {
                "list": [
                    # 701 now says it was once called exactly this name: evidence, but a person said no.
                    {"companyId": "701", "companyFullName": "远东重工集团有限公司", "company_former_name": name},
                    # 702 leaves its former names out: the drain asks business info, then decides again.
                    {"companyId": "702", "companyFullName": "拒绝保持贸易有限公司"},
                ]
            }
        )
        monkeypatch.setenv("WDH_EQC_BASE_URL", registry.url)
        monkeypatch.setenv("WDH_EQC_TOKEN", TOKEN)
        code = drain.main(["--budget", "1", "--progress", "none", "--rate-limit", "1000/1"])
        assert [s.path.rsplit("/", 1)[1] for s in registry.seen][1:] == ["", "findDepart"]
    assert code == 0
    status, resolved = state.query("select status, resolved_company_id from enrichment.enrichment_requests")[0]
    assert status != "done" and resolved is None
    assert state.query("select count(*) from enrichment.company_name_index where company_id = '701'") == [(0,)]


def build_hooks(project: DbtProject, *, session_salt: str | None, configured: str) -> object:
    """dbt's on-run-start hooks (a seed run) with WDH_ALIAS_SALT=configured and the connection's
    salt session_salt (None: none passed, as with plain dbt)."""
    from dbt.cli.main import dbtRunner

    options = None if session_salt is None else libpq_options_with_salt("", session_salt)
    args = ["seed", "--select", "company_id_overrides_plan", "--target-path", str(project.target_dir)]
    args += ["--log-path", str(project.log_dir)]
    with environment(PGDATABASE=project.database, WDH_ALIAS_SALT=configured, PGOPTIONS=options):
        return dbtRunner().invoke(run_dbt.dbt_arguments(args))


def test_a_state_with_no_stored_salt_stores_only_the_configured_salt(tmp_path: Path) -> None:
    configured = "configured-salt-9f2c"
    with fresh_database("wdh_rules_salt") as name:
        project = DbtProject(name, tmp_path)
        stored = "select salt is not null from enrichment.temp_id_salt"
        # The connection carries another salt than WDH_ALIAS_SALT names, or none at all (plain dbt).
        for session_salt in ("another-session-salt", None):
            result = build_hooks(project, session_salt=session_salt, configured=configured)
            assert not result.success  # type: ignore[attr-defined]
            assert "no temp-id salt stored yet" in str(result.exception)  # type: ignore[attr-defined]
            assert project.query(stored) == [(False,)]
        result = build_hooks(project, session_salt=configured, configured=configured)
        assert result.success  # type: ignore[attr-defined]
        assert project.query(stored) == [(True,)]
