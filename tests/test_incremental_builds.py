"""Incremental builds give the marts a full refresh would, after every kind of change.

Each test changes the state, builds incrementally, and compares every row of the incrementally
built marts (by checksum) with a --full-refresh build started from the same state (a copy of the
database taken just before). The durable state both builds leave (cache, queue, decisions) must be
the same too: --full-refresh writes what any build writes and removes nothing.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg2
import pytest

from python_enrich.drain import Drain, DrainOptions
from python_enrich.envvars import environment
from python_enrich.load import load_file
from python_enrich.load.tables import INCOME, PERFORMANCE
from python_enrich.review import state
from python_enrich.standins import sample
from python_enrich.standins.sandbox import SandboxConfig, SandboxServer
from python_enrich.tools.full_refresh_check import database_copy, differing_rows, model_checksums
from tests.conftest import DbtProject, kept_database

ROWS, SEED = 2400, 7
MONTHS = ("202401", "202402", "202403", "202404")
PROJECT_DIR = Path(__file__).resolve().parents[1]


def monthly_rows() -> dict[tuple[str, str], list[tuple[object, ...]]]:
    """The sample's rows split into four monthly exports per table (月度 set to the month)."""
    _, performance, income = sample.sample_rows(ROWS, SEED)
    months: dict[tuple[str, str], list[tuple[object, ...]]] = {}
    for table, rows in ((PERFORMANCE, performance), (INCOME, income)):
        for number, row in enumerate(rows):
            month = MONTHS[number % len(MONTHS)]
            months.setdefault((table.name, month), []).append((month, *row[1:]))
    return months


MONTHLY = monthly_rows()


def load(project: DbtProject, tmp_path: Path, month: str, rows_of: dict | None = None) -> None:
    """Load one month of both tables through the loader, as a user would (a file per table)."""
    for table in (PERFORMANCE, INCOME):
        rows = (rows_of or MONTHLY)[(table.name, month)]
        path = sample.write_csv(tmp_path / f"{table.name}_{month}_{time.monotonic_ns()}.csv", table, rows)
        with project.selected():
            load_file(table.name, path)


def durable_state(project: DbtProject) -> dict[str, list[tuple[object, ...]]]:
    """The durable state's content, without the times it was written at."""
    queries = {
        "cache": "select key_type, lookup_key, company_id, confidence, source, match_type "
        "from enrichment.company_name_index order by 1, 2",
        "queue": "select normalized_name, status, temp_id, priority from enrichment.enrichment_requests "
        "order by 1, 2, 3",
        "decisions": "select normalized_name, decision, company_id, undone_at is null "
        "from enrichment.review_decisions order by 1, 2, 3",
    }
    return {name: project.query(sql) for name, sql in queries.items()}


# The leading columns of durable_state's rows that identify an entry (a build may update the rest,
# e.g. cancel a queued name whose rows are gone).
KEY_COLUMNS = {"cache": 2, "queue": 1, "decisions": 2}


def build_and_compare_with_full_refresh(
    project: DbtProject, dbt_tests: bool = False, dbt_args: tuple[str, ...] = ()
) -> dict[str, int]:
    """Build incrementally (and, dbt_tests, run every dbt test on the result); build --full-refresh
    in a copy of the state before; compare the marts and the per-key answers. Returns the rows each
    mart compared. Equal rows already make the incremental marts pass what the full refresh passes
    (test_warehouse runs every dbt test on full builds), so only the issue's sequence and the
    killed build run the dbt tests again. dbt_args go to both builds (e.g. --vars)."""
    # The copy's name and dbt folder stay the same from one compare to the next, so that dbt parses
    # the project once per module rather than at every compare (2.5 s each).
    with database_copy(project.database, name=f"{project.database}_refresh") as copy:
        # run (+ test): a build without `dbt seed`, which would put the seeds back as the CSVs say
        # (a test changes an override in the seed table itself).
        project.run("run", *dbt_args)
        if dbt_tests:
            project.run("test")
        refreshed = DbtProject(copy, project.work_dir / "full-refresh")
        before = durable_state(refreshed)
        refreshed.run("run", "--full-refresh", *dbt_args)
        incremental, full = model_checksums(project.database), model_checksums(copy)
        differing = {model: differing_rows(project.database, copy, model) for model in incremental}
        print(f"rows compared with a full refresh: {', '.join(f'{m} {s.rows}' for m, s in full.items())}; "
              f"rows differing: {differing}")  # fmt: skip
        assert incremental == full, f"rows differing from a full refresh: {differing}"
        assert_batch_records_match_rows(project)
        after = durable_state(refreshed)
        for name, rows in before.items():  # --full-refresh removes nothing durable (a build may update)
            key = KEY_COLUMNS[name]
            assert {row[:key] for row in rows} <= {row[:key] for row in after[name]}, f"--full-refresh lost {name}"
        assert durable_state(project) == after
    return {model: s.rows for model, s in full.items() if model.startswith("marts.")}


INCREMENTAL_MODELS = (
    "staging.stg_annuity__performance",
    "staging.stg_annuity__income",
    "marts.annuity_performance",
    "marts.annuity_income",
)


def assert_batch_records_match_rows(project: DbtProject) -> None:
    """Each incremental model's record of the batches it holds (`<model>__batches`) says what a
    count of its rows by batch says."""
    for model in INCREMENTAL_MODELS:
        counted = project.query(
            f"select load_batch_id, count(*), sum(raw_version) from {model} group by 1 order by 1 nulls first"
        )
        recorded = project.query(
            f"select load_batch_id, row_count, version_sum from {model}__batches order by 1 nulls first"
        )
        assert recorded == counted, f"{model}__batches disagrees with the rows of {model}"


def raw_rows(project: DbtProject) -> int:
    return project.query(
        "select (select count(*) from raw.annuity_performance) + (select count(*) from raw.annuity_income)"
    )[0][0]


@pytest.fixture(scope="module")
def three_months_built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtProject]:
    """Three months loaded and built twice (the second build finds what the first taught the
    cache), once per module: each test changes a copy of it."""
    with kept_database(f"wdh_three_months_{secrets.token_hex(4)}") as name:
        project = DbtProject(name, tmp_path_factory.mktemp("dbt-three-months"))
        exports = tmp_path_factory.mktemp("exports")
        for month in MONTHS[:3]:
            load(project, exports, month)
        project.run("seed")
        project.run("run")
        project.run("run")
        yield project


@pytest.fixture
def built(three_months_built: DbtProject) -> Iterator[DbtProject]:
    """A test's own copy of three_months_built: a copy takes about a second, the builds ten. Every
    test's copy has the same name and dbt folder, so that dbt parses the project once per module,
    not once per test (it parses again whenever the database's name changes)."""
    name = f"{three_months_built.database}_test"
    with kept_database(name, template=three_months_built.database):
        with environment(PGDATABASE=name):
            yield DbtProject(name, three_months_built.work_dir / "test-copies")


def drain_all(sandbox: SandboxServer, project: DbtProject) -> None:
    options = DrainOptions(
        budget=10_000, concurrency=2, rate_limit=(100_000, 1.0), base_url=sandbox.url, progress="none"
    )
    with project.selected():
        Drain(options, sandbox.issue_token()).run()


def corrected(month: str) -> dict[tuple[str, str], list[tuple[object, ...]]]:
    """The month's exports again, corrected: every 5th performance row names another company and
    carries no code, and the last income row is gone."""
    rows = dict(MONTHLY)
    performance = rows[(PERFORMANCE.name, month)]
    donors = rows[(PERFORMANCE.name, MONTHS[0])]
    rows[(PERFORMANCE.name, month)] = [
        (*row[:3], donors[n][3], *row[4:7], None, *row[8:]) if n % 5 == 0 else row for n, row in enumerate(performance)
    ]
    rows[(INCOME.name, month)] = rows[(INCOME.name, month)][:-1]
    return rows


def test_loads_drain_reload_and_review_then_one_build_equals_a_full_refresh(built: DbtProject, tmp_path: Path) -> None:
    with SandboxServer(SandboxConfig(companies=sample.sample_size(ROWS).companies, seed=SEED)) as sandbox:
        drain_all(sandbox, built)
    load(built, tmp_path, MONTHS[3])
    load(built, tmp_path, MONTHS[1], corrected(MONTHS[1]))
    conn = psycopg2.connect(dbname=built.database)
    try:
        with conn, conn.cursor() as cur:
            waiting = [w for w in state.waiting(cur) if w.candidates]
        assert waiting, "the drain left no name for review: the test would decide nothing"
        decided = waiting[0]
        accepted_id = decided.candidates[0]["company_id"]
        state.accept(conn, decided.normalized_name, accepted_id, who="test")
    finally:
        conn.close()
    rows = build_and_compare_with_full_refresh(built, dbt_tests=True)
    assert sum(rows.values()) == raw_rows(built)
    # Known truth: every row of the decided name now carries the accepted id; none keeps its temporary id.
    answers = built.query(
        "select company_id, count(*) from (select company_id, customer_name_normalized from marts.annuity_performance "
        "union all select company_id, customer_name_normalized from marts.annuity_income) as r "
        "where customer_name_normalized = %s group by 1",
        (decided.normalized_name,),
    )
    right = sum(n for company_id, n in answers if company_id == accepted_id)
    wrong = sum(n for company_id, n in answers if company_id != accepted_id)
    print(f"rows of the decided name: right {right}, wrong {wrong}")
    assert right > 0 and wrong == 0
    # The corrected month replaced the old one: no row of it is left over.
    month_rows = built.query("select count(*) from marts.annuity_income where report_month = '2024-02-01'")[0][0]
    assert month_rows == len(corrected(MONTHS[1])[(INCOME.name, MONTHS[1])])


KEYS_MODELS = (
    "intermediate.int_annuity_performance__company_keys",
    "intermediate.int_annuity_income__company_keys",
)


def keys_build_state(project: DbtProject) -> list[tuple[bool, int]]:
    """What the last build did to each per-key answers table: (rebuilt_every_key, keys_resolved_again)."""
    return [project.query(f"select rebuilt_every_key, keys_resolved_again from {m}__state")[0] for m in KEYS_MODELS]


def assert_keys_resolved_incrementally(project: DbtProject) -> None:
    """The last build resolved again some keys of each per-key answers table, not every key."""
    for model, (rebuilt, again) in zip(KEYS_MODELS, keys_build_state(project), strict=True):
        keys = project.query(f"select count(*) from {model}")[0][0]
        print(f"{model}: {again} of {keys} keys resolved again (every key: {rebuilt})")
        assert not rebuilt and 0 < again < keys


BACKFLOW = "intermediate.int_existing_code_backflow"


def backflow_build_state(project: DbtProject) -> tuple[bool, int]:
    """What the last build did to backflow: (every name counted again, names counted again)."""
    return project.query(f"select rebuilt_every_key, keys_resolved_again from {BACKFLOW}__state")[0]


def assert_backflow_counted_incrementally(project: DbtProject) -> None:
    """The last build counted and judged again the keys of some names of backflow, not every name."""
    rebuilt, again = backflow_build_state(project)
    names = project.query(f"select count(distinct normalized_name) from {BACKFLOW}")[0][0]
    print(f"{BACKFLOW}: {again} of {names} names counted again (every name: {rebuilt})")
    assert not rebuilt and 0 < again < names


def test_a_new_month(built: DbtProject, tmp_path: Path) -> None:
    """The monthly case: only the new month's keys, and the keys whose inputs it changed (backflow
    learns from its codes), are resolved again; the rest keep their answers and equal a full refresh.
    Backflow counts again only the names of the month's coded rows and of changed inputs."""
    waiting = "select normalized_name, row_count, priority from enrichment.enrichment_requests where status = 'pending'"
    before = set(built.query(waiting))
    load(built, tmp_path, MONTHS[3])
    rows = build_and_compare_with_full_refresh(built)
    assert sum(rows.values()) == raw_rows(built)
    assert_keys_resolved_incrementally(built)
    assert_backflow_counted_incrementally(built)
    # Impact figures stay true: a waiting name the month adds rows to carries its new figures.
    after = set(built.query(waiting))
    stale = built.query(
        "select count(*) from enrichment.enrichment_requests as r "
        "join marts.unresolved_names as u using (normalized_name) "
        "where r.status = 'pending' and (r.row_count, r.priority) is distinct from (u.row_count, u.priority)"
    )[0][0]
    print(f"waiting names whose figures the month changed: {len(after - before)}; stale: {stale}")
    assert after - before and stale == 0


def test_changed_resolution_vars_resolve_every_key_once(built: DbtProject) -> None:
    """The answers depend on the code and vars that resolve, not only on the inputs: a build with
    another cache_min_confidence resolves every key again; the next, with nothing changed, none."""
    stricter = "{cache_min_confidence: 0.95}"
    built.run("run", "--vars", stricter)
    assert keys_build_state(built) == [(True, 0), (True, 0)]
    assert backflow_build_state(built) == (True, 0)
    built.run("run", "--vars", stricter)
    assert keys_build_state(built) == [(False, 0), (False, 0)]
    assert backflow_build_state(built) == (False, 0)


def test_a_changed_backflow_majority_reaches_the_per_key_answers(built: DbtProject) -> None:
    """A var only backflow reads: it counts every name again, and the per-key answers, whose own
    code did not change, resolve again every key (its log says every name changed)."""
    learned_before = built.query(f"select count(*) from {BACKFLOW} where is_learned")[0][0]
    rows = build_and_compare_with_full_refresh(built, dbt_args=("--vars", "{backflow_majority: 0.5}"))
    assert sum(rows.values()) == raw_rows(built)
    learned_after = built.query(f"select count(*) from {BACKFLOW} where is_learned")[0][0]
    print(f"keys learned with a majority of 0.9: {learned_before}, of 0.5: {learned_after}")
    assert learned_after > learned_before, "the sample has no key between the two majorities: the test decides nothing"
    assert backflow_build_state(built)[0] and keys_build_state(built) == [(True, 0), (True, 0)]


def test_per_key_answers_older_than_backflows_log_resolve_every_key(built: DbtProject) -> None:
    """Backflow's log keeps its last 100 builds: per-key answers last built before its oldest entry
    cannot tell what backflow learned since, and resolve every key (here: its first build is gone,
    and the answers say they were built before it)."""
    built.query(f"delete from {BACKFLOW}__changes where build_seq = (select min(build_seq) from {BACKFLOW}__changes)")
    for model in KEYS_MODELS:
        built.query(f"update {model}__state set learned_through = 0")
    built.run("run")  # a whole rebuild equals a full refresh: the other tests check that
    assert keys_build_state(built) == [(True, 0), (True, 0)]


def test_a_key_backflow_learned_then_unlearned(built: DbtProject, tmp_path: Path) -> None:
    """A name too long for the cache's key (beyond 2,000 bytes: backflow learns it but never caches
    it) answers its rows without a code as `backflow`; a later month whose rows carry another code
    for it ends the majority, and those rows lose the learned id (backflow's log names the key)."""
    long_name = "长" * 700 + "有限公司"
    template = MONTHLY[(PERFORMANCE.name, MONTHS[3])][0]

    def rows(month: str, count: int, code: str | None) -> list[tuple[object, ...]]:
        return [(month, "PLONG", *template[2:3], long_name, long_name, *template[5:7], code, *template[8:])] * count

    month_four = dict(MONTHLY)
    month_four[(PERFORMANCE.name, MONTHS[3])] = [
        *MONTHLY[(PERFORMANCE.name, MONTHS[3])],
        *rows(MONTHS[3], 10, "6990000001"),
        *rows(MONTHS[3], 1, None),
    ]
    load(built, tmp_path, MONTHS[3], month_four)
    built.run("run")
    answered = (
        "select company_id_source from marts.annuity_performance "
        "where plan_code = 'PLONG' and existing_company_id is null"
    )
    assert built.query(answered) == [("backflow",)]
    later = "202405"
    load(
        built,
        tmp_path,
        later,
        {
            (PERFORMANCE.name, later): rows(later, 20, "6990000002"),
            (INCOME.name, later): [(later, *MONTHLY[(INCOME.name, MONTHS[3])][0][1:])],
        },
    )
    build_and_compare_with_full_refresh(built)
    learned = built.query(f"select count(*) from {BACKFLOW} where plan_key = 'PLONG' and is_learned")[0][0]
    print(f"learned keys of the long name after the later month: {learned}; its uncoded row: {built.query(answered)}")
    assert learned == 0 and built.query(answered) == [("temporary",)]


def test_a_cache_entry_for_a_plan_and_name_and_a_plan_override(built: DbtProject) -> None:
    """Inputs looked up by a key's plan and name together, and by its plan alone, reach exactly the
    keys they answer (the other tests change inputs looked up by name)."""
    plan, name = built.query(
        "select plan_code, resolution_name_normalized from marts.annuity_performance "
        "where plan_code is not null and resolution_name_normalized <> '' "
        "group by 1, 2 having bool_and(company_id_source not like '%%override') order by count(*) desc, 1, 2 limit 1"
    )[0]
    # A plan no code is seen with, in either table: backflow learns nothing of it, so the override
    # is the only input that changes for its keys.
    other_plan = built.query(
        "select plan_code from marts.annuity_performance as p where plan_code is not null and plan_code <> %s "
        "and not exists (select from intermediate.int_existing_code_backflow as b "
        "where b.key_type = 'plan_customer' and split_part(b.lookup_key, '|', 1) = p.plan_code) "
        "group by 1 having bool_and(plan_type is distinct from '集合计划' and company_id_source not like '%%override') "
        "order by count(*) desc, 1 limit 1",
        (plan,),
    )[0][0]
    built.query(
        "insert into enrichment.company_name_index (key_type, lookup_key, company_id, confidence, source) "
        "values ('plan_customer', %s, '990000003', 1, 'manual') on conflict (key_type, lookup_key) "
        "do update set company_id = excluded.company_id, confidence = 1, source = 'manual'",
        (f"{plan}|{name}",),
    )
    built.query(
        "insert into enrichment_seeds.company_id_overrides_plan (plan_code, company_id, note) values (%s, %s, %s)",
        (other_plan, "990000004", "test"),
    )
    build_and_compare_with_full_refresh(built)
    assert_keys_resolved_incrementally(built)
    answers = built.query(
        "select plan_code = %s, company_id = case when plan_code = %s then '990000004' else '990000003' end, "
        "count(*) from marts.annuity_performance "
        "where (plan_code = %s and resolution_name_normalized <> '') "  # a row without a usable name: none
        "or (plan_code = %s and resolution_name_normalized = %s) group by 1, 2",
        (other_plan, other_plan, other_plan, plan, name),
    )
    for overridden_plan, label in ((False, "plan + name entry"), (True, "plan override")):
        right = sum(n for is_plan, ok, n in answers if is_plan == overridden_plan and ok)
        wrong = sum(n for is_plan, ok, n in answers if is_plan == overridden_plan and not ok)
        print(f"rows answered by the new {label}: right {right}, wrong {wrong}")
        assert right > 0 and wrong == 0


def decided_rows(project: DbtProject, name: str, expected_id: str | None) -> tuple[int, int]:
    """Rows of the name, in both marts, that carry the decided id (right) and that do not (wrong)."""
    answers = project.query(
        "select company_id is not distinct from %s, count(*) from (select company_id, customer_name_normalized "
        "from marts.annuity_performance union all select company_id, customer_name_normalized "
        "from marts.annuity_income) as r where customer_name_normalized = %s group by 1",
        (expected_id, name),
    )
    counts = dict(answers)
    return counts.get(True, 0), counts.get(False, 0)


def test_a_drain_then_review_decisions_each_alone(built: DbtProject) -> None:
    """No new rows: the cache entries a drain wrote, then an accepted candidate, then that decision
    undone and the name declared no company, each reach exactly the keys they answer."""
    with SandboxServer(SandboxConfig(companies=sample.sample_size(ROWS).companies, seed=SEED)) as sandbox:
        drain_all(sandbox, built)
    build_and_compare_with_full_refresh(built)
    assert_keys_resolved_incrementally(built)
    # A connection per step: comparing with a full refresh copies the database, ending its sessions.
    with closing(psycopg2.connect(dbname=built.database)) as conn:
        with conn, conn.cursor() as cur:
            waiting = [w for w in state.waiting(cur) if w.candidates]
        assert waiting, "the drain left no name for review: the test would decide nothing"
        name, accepted_id = waiting[0].normalized_name, waiting[0].candidates[0]["company_id"]
        state.accept(conn, name, accepted_id, who="test")
    build_and_compare_with_full_refresh(built)
    assert_keys_resolved_incrementally(built)
    accepted = decided_rows(built, name, accepted_id)
    with closing(psycopg2.connect(dbname=built.database)) as conn:
        state.undo(conn, name, who="test")
        state.no_company(conn, name, who="test")
    build_and_compare_with_full_refresh(built)
    assert_keys_resolved_incrementally(built)
    nobody = decided_rows(built, name, None)
    print(f"rows of the decided name: accepted right {accepted[0]}, wrong {accepted[1]}; "
          f"no company right {nobody[0]}, wrong {nobody[1]}")  # fmt: skip
    assert accepted[0] > 0 and accepted[1] == 0 and nobody[0] == accepted[0] and nobody[1] == 0


def test_a_month_loaded_twice(built: DbtProject, tmp_path: Path) -> None:
    load(built, tmp_path, MONTHS[2])
    rows = build_and_compare_with_full_refresh(built)
    assert (
        sum(rows.values())
        == raw_rows(built)
        == sum(len(MONTHLY[(t.name, m)]) for t in (PERFORMANCE, INCOME) for m in MONTHS[:3])
    )


def test_a_month_deleted_from_raw(built: DbtProject) -> None:
    for table in ("annuity_performance", "annuity_income"):
        built.query(f"delete from raw.{table} where 月度 = %s", (MONTHS[0],))
    rows = build_and_compare_with_full_refresh(built)
    assert sum(rows.values()) == raw_rows(built)
    left = built.query("select count(*) from marts.annuity_performance where report_month = '2024-01-01'")[0][0]
    assert left == 0


def test_a_changed_override(built: DbtProject) -> None:
    name, raw_name = built.query(
        "select customer_name_normalized, min(customer_name) from marts.annuity_performance "
        "where company_id_source like 'cache%%' group by 1 order by count(*) desc limit 1"
    )[0]
    built.query(
        "insert into enrichment_seeds.company_id_overrides_name (customer_name, company_id, note) values (%s, %s, %s)",
        (raw_name, "990000001", "test"),
    )
    build_and_compare_with_full_refresh(built)
    answers = built.query(
        "select company_id = '990000001' and company_id_source = 'name_override', count(*) "
        "from marts.annuity_performance where customer_name_normalized = %s group by 1",
        (name,),
    )
    counts = dict(answers)
    print(f"rows of the overridden name: right {counts.get(True, 0)}, wrong {counts.get(False, 0)}")
    assert counts.get(True, 0) > 0 and counts.get(False, 0) == 0


def test_a_retired_cache_entry(built: DbtProject) -> None:
    """The drain retires an entry the registry contradicts (moved to retired_cache_entries, never
    used again): every month stops using it."""
    used = built.query(
        "select lookup_key, company_id from enrichment.company_name_index where key_type = 'customer_name' "
        "and lookup_key in (select customer_name_normalized from marts.annuity_performance "
        "where company_id_source = 'cache_customer_name') order by lookup_key limit 1"
    )
    # The second build must have re-resolved the rows the first one's backflow taught the cache.
    assert used, "no row is answered by a cache entry after two builds"
    key, company_id = used[0]
    used_before = built.query(
        "select count(distinct report_month) from marts.annuity_performance "
        "where customer_name_normalized = %s and company_id_source = 'cache_customer_name'",
        (key,),
    )[0][0]
    built.query(
        "with retired as (delete from enrichment.company_name_index "
        "where key_type = 'customer_name' and lookup_key = %s returning *) "
        "insert into enrichment.retired_cache_entries (key_type, lookup_key, company_id, confidence, source, "
        "created_at, retired_reason) select key_type, lookup_key, company_id, confidence, source, created_at, "
        "'test: the registry names another company' from retired",
        (key,),
    )
    build_and_compare_with_full_refresh(built)
    stale = built.query(
        "select count(*) from marts.annuity_performance where customer_name_normalized = %s "
        "and company_id_source = 'cache_customer_name'",
        (key,),
    )[0][0]
    print(f"months that used the retired entry before: {used_before}; rows still using it: {stale}")
    assert used_before > 0 and stale == 0 and company_id


def _active_queries(project: DbtProject) -> list[str]:
    return [q for (q,) in project.query(
        "select query from pg_stat_activity where datname = %s and pid <> pg_backend_pid() and state = 'active'",
        (project.database,),
    )]  # fmt: skip


def test_a_build_killed_part_way_then_the_next_equals_a_full_refresh(built: DbtProject, tmp_path: Path) -> None:
    load(built, tmp_path, MONTHS[3])
    built.query(
        "insert into enrichment_seeds.company_id_overrides_name (customer_name, company_id, note) "
        "select min(customer_name), '990000002', 'test' from marts.annuity_income group by customer_name_normalized "
        "order by count(*) desc limit 1"
    )
    env = {**os.environ, "PGDATABASE": built.database}
    args = [sys.executable, "-m", "python_enrich.run_dbt", "run", "--target-path", str(tmp_path / "killed")]
    # The mart waits for its record of answers, locked here, so the build is caught in the middle of
    # writing a model whatever the machine's speed (a month of test data builds in a blink).
    with closing(psycopg2.connect(dbname=built.database)) as holder:
        with holder.cursor() as cur:
            cur.execute(
                "lock table intermediate.int_annuity_performance__company_keys__applied in access exclusive mode"
            )
        build = subprocess.Popen(args, cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL, start_new_session=True)
        # Kill it while it writes a model after staging committed this month's rows (a mart, or keys).
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and build.poll() is None:
            staged = built.query("select count(*) from staging.stg_annuity__performance")[0][0]
            if staged > sum(len(MONTHLY[(PERFORMANCE.name, m)]) for m in MONTHS[:3]) and any(
                "company_keys" in q or "marts" in q for q in _active_queries(built)
            ):
                break
            time.sleep(0.02)
        assert build.poll() is None, "the build ended before it could be killed part-way"
        os.killpg(build.pid, signal.SIGKILL)
        build.wait()
        holder.rollback()  # the killed build's server process gets the lock, then finds no client
    deadline = time.monotonic() + 30
    while _active_queries(built) and time.monotonic() < deadline:  # the server rolls the killed model back
        time.sleep(0.1)
    rows = build_and_compare_with_full_refresh(built, dbt_tests=True)
    assert sum(rows.values()) == raw_rows(built)


def test_a_cell_edited_in_place_in_raw(built: DbtProject) -> None:
    """No load, only an update of raw cells: the rows' new versions make their batch build again."""
    built.query(
        "update raw.annuity_performance set 客户名称 = '更正后的客户有限公司' where _row_key in ("
        "select _row_key from raw.annuity_performance order by _row_key limit 25)"
    )
    build_and_compare_with_full_refresh(built)
    corrected = built.query(
        "select count(*) from marts.annuity_performance where customer_name = '更正后的客户有限公司'"
    )[0][0]
    print(f"rows edited in place: 25; rows that carry the edit in the mart: {corrected}")
    assert corrected == 25


def test_raw_rows_without_a_row_key_are_parsed_by_every_build(built: DbtProject) -> None:
    """Rows another tool put into raw with a batch id but no _row_key have no batch for staging (their
    key comes from their content): every build parses them again, the one after an unchanged raw too."""
    built.query(
        "update raw.annuity_performance set _row_key = null where _row_key in ("
        "select _row_key from raw.annuity_performance order by _row_key limit 30)"
    )
    unkeyed = "select count(*) from staging.stg_annuity__performance where load_batch_id is null"
    built.run("run")  # their batch changed: every row of it is read again
    after_update = built.query(unkeyed)[0][0]
    # The build that matters: their batch is held now, and they must still be read.
    rows = build_and_compare_with_full_refresh(built)
    print(f"rows without a row key in staging: after the update {after_update}, "
          f"after a build with nothing changed {built.query(unkeyed)[0][0]} (of 30)")  # fmt: skip
    assert after_update == built.query(unkeyed)[0][0] == 30
    assert rows["marts.annuity_performance"] == built.query("select count(*) from raw.annuity_performance")[0][0]


def test_models_built_before_they_kept_batch_records(built: DbtProject, tmp_path: Path) -> None:
    """A warehouse built by a version without `<model>__batches`: the next build counts each
    model's rows once, forgets a replaced month and loads a new one as if the records had been there."""
    for model in INCREMENTAL_MODELS:
        built.query(f"drop table {model}__batches")
    load(built, tmp_path, MONTHS[1], corrected(MONTHS[1]))
    load(built, tmp_path, MONTHS[3])
    rows = build_and_compare_with_full_refresh(built)
    assert sum(rows.values()) == raw_rows(built)
