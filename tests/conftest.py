"""Shared fixtures: a real PostgreSQL (the private cluster unless PG* is set), one database per
test module or test, and dbt run in-process with its target/ and logs in a temporary directory."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import inspect
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest

from python_enrich import run_dbt
from python_enrich.db import temporary_database
from python_enrich.envvars import environment
from python_enrich.pgcluster import ensure_server
from python_enrich.standins import sample


# Tests that build a warehouse with dbt are `slow`: `./run test --fast` leaves them out. A test is
# slow when a fixture it uses (directly or through others) makes a DbtProject, so new fixtures are
# covered without a list; a module whose tests make one in their own body marks itself.
@functools.cache
def makes_a_dbt_project(function: object) -> bool:
    try:
        return "DbtProject(" in inspect.getsource(function)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return False


def uses_dbt(item: pytest.Item) -> bool:
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return any(
        makes_a_dbt_project(definition.func)
        for name in getattr(item, "fixturenames", ())
        for definition in definitions.get(name, ())
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full-proofs",
        action="store_true",
        help="run the long proofs at full size: SQL parity on 100,000 generated names (default 25,000), the "
        "evidence drain on 1,134 names (default 572)",
    )


@pytest.fixture(scope="session")
def full_proofs(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--full-proofs"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: builds a warehouse with dbt (left out by ./run test --fast)")
    config.addinivalue_line(
        "markers", "alone: runs while no other xdist worker runs a test (it exhausts a shared resource)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if uses_dbt(item):
            item.add_marker(pytest.mark.slow)


def run_lock_file() -> Path | None:
    """A lock file shared by the xdist workers of this run only (None without xdist)."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    return Path(tempfile.gettempdir()) / f"wdh-pytest-{os.getuid()}-{run_id}.lock" if run_id else None


@contextlib.contextmanager
def run_lock(exclusive: bool) -> Iterator[None]:
    path = run_lock_file()
    if path is None:
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session", autouse=True)
def postgres_server() -> None:
    """Every test run talks to a real server; set up once (never skipped). xdist workers take turns,
    so that two of them never start the private cluster at once."""
    with run_lock(exclusive=True):
        ensure_server()


@pytest.fixture(autouse=True)
def one_worker_alone(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked `alone` waits until no other worker runs a test, and the others wait for it."""
    with run_lock(exclusive=request.node.get_closest_marker("alone") is not None):
        yield


@pytest.fixture(autouse=True)
def fresh_shell_for_notices(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test is a new shell for the once-per-shell salt notice (its markers live in the cache
    folder), so a test that expects the warning sees it whatever ran before."""
    notices = tmp_path_factory.getbasetemp() / "notices" / secrets.token_hex(6)
    monkeypatch.setenv("XDG_CACHE_HOME", str(notices))


def fresh_database(prefix: str = "wdh_test") -> contextlib.AbstractContextManager[str]:
    """A new empty UTF8 database, selected through PGDATABASE while the block runs."""
    return temporary_database(prefix)


# dbt's unit tests check the models' SQL on rows given in the YAML, whatever the warehouse holds: the
# built warehouse's template runs them (once per worker, every dbt test with them) and other builds
# leave them out, as dbt advises for production (about 2 s of every build here).
UNIT_TESTS_SKIPPED = {"build", "test"}
ARTIFACTS_SKIPPED = {"build", "run", "test", "seed"}


@dataclass
class DbtProject:
    """dbt invoked in-process against one test database, artifacts kept in a temporary folder."""

    database: str
    work_dir: Path
    messages: list[str] = field(default_factory=list)
    salt: str = ""  # the WDH_ALIAS_SALT its builds used
    # Whether dbt writes its JSON artifacts (manifest.json twice per call, run_results.json): only
    # for a project whose files a test reads (the built warehouse: the salt's secrecy, the docs).
    artifacts: bool = False
    unit_tests: bool = False  # whether its builds and tests run dbt's unit tests (UNIT_TESTS_SKIPPED)

    @property
    def target_dir(self) -> Path:
        return self.work_dir / "target"

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"

    def run(self, *args: str, expect_success: bool = True) -> object:
        from dbt.cli.main import dbtRunner

        def collect(event: object) -> None:
            self.messages.append(event.info.msg)  # type: ignore[attr-defined]

        full_args = [*args, "--target-path", str(self.target_dir), "--log-path", str(self.log_dir)]
        if args[0] in UNIT_TESTS_SKIPPED and not self.unit_tests:
            full_args += ["--exclude-resource-type", "unit_test"]
        if args[0] in ARTIFACTS_SKIPPED and not self.artifacts:
            full_args.append("--no-write-json")
        with self.selected(), run_dbt.salted_environment():
            result = dbtRunner(callbacks=[collect]).invoke(run_dbt.dbt_arguments(full_args))
        if expect_success:
            failures = [m for m in self.messages if "ERROR" in m or "FAIL" in m][-10:]
            assert result.success, f"dbt {' '.join(args)} failed: {failures or result.exception}"
        return result

    def selected(self) -> contextlib.AbstractContextManager[None]:
        """PGDATABASE points at this project's database while the block runs."""
        return environment(PGDATABASE=self.database)

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        conn = psycopg2.connect(dbname=self.database)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()


def enqueue(project: DbtProject, names: list[str]) -> None:
    """Queue names for the drain; the first gets the highest priority (it is claimed first)."""
    for priority, name in enumerate(reversed(names)):
        project.query(
            "insert into enrichment.enrichment_requests (normalized_name, raw_name_example, priority) "
            "values (%s, %s, %s)",
            (name, name, priority),
        )


@pytest.fixture(scope="module")
def state_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtProject]:
    """A database with only the durable enrichment state (no warehouse), shared by a module's tests."""
    with fresh_database("wdh_state") as name:
        project = DbtProject(name, tmp_path_factory.mktemp("dbt"))
        project.run("run-operation", "setup_enrichment_state")
        yield project


@pytest.fixture
def state(state_database: DbtProject) -> DbtProject:
    """The state database with its queue, cache, calls, answers, run log, decisions, retired entries
    and temporary ids emptied: a test's own state, without a database and a dbt parse apiece."""
    state_database.query(
        "truncate enrichment.enrichment_requests, enrichment.company_name_index, enrichment.eqc_calls, "
        "enrichment.eqc_responses, enrichment.run_log, enrichment.review_decisions, "
        "enrichment.retired_cache_entries, enrichment.temporary_ids"
    )
    return state_database


@pytest.fixture
def dbt_project(tmp_path: Path) -> Iterator[DbtProject]:
    """An empty database of its own and dbt pointed at it."""
    with fresh_database() as name:
        yield DbtProject(name, tmp_path)


@contextlib.contextmanager
def kept_database(name: str, template: str = "template0") -> Iterator[str]:
    """A database created (empty, or as a copy of `template`) and dropped at the end, NOT selected:
    PGDATABASE is left alone, so a session-scoped database does not leak into other tests."""
    admin = psycopg2.connect(dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            if template != "template0":  # a copy needs the template to have no session open
                cur.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity "
                    "where datname = %s and pid <> pg_backend_pid()",
                    (template,),
                )
            cur.execute(f'create database "{name}" template "{template}" encoding \'UTF8\'')
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


@pytest.fixture(scope="session")
def built_warehouse_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtProject]:
    """Sample data (4,000 rows), dbt seed and dbt build with a distinctive salt, ONCE per test run (per
    xdist worker): the database that every module's built_warehouse copies."""
    salt = f"pytest-salt-{secrets.token_hex(8)}"
    with kept_database(f"wdh_template_{secrets.token_hex(4)}") as name:
        project = DbtProject(name, tmp_path_factory.mktemp("dbt-template"), salt=salt, artifacts=True, unit_tests=True)
        with environment(WDH_ALIAS_SALT=salt, PGDATABASE=name):
            sample.generate(4000, seed=7)
            project.run("seed")
            project.run("build")
        yield project


@pytest.fixture(scope="module")
def built_warehouse(
    built_warehouse_template: DbtProject, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DbtProject]:
    """A module's own copy of the built warehouse (sample data, dbt seed and build, its salt set while
    the module runs): a copy takes about a second where a build takes half a minute, and a module
    that changes its copy changes nothing for the others."""
    template = built_warehouse_template
    with kept_database(f"wdh_test_{secrets.token_hex(4)}", template=template.database) as name:
        project = DbtProject(name, tmp_path_factory.mktemp("dbt"), salt=template.salt, artifacts=True)
        # What the build wrote and said comes along, so that a module checking them (the salt's
        # secrecy) checks the build's own target/, logs/ and messages.
        shutil.copytree(template.work_dir, project.work_dir, dirs_exist_ok=True)
        project.messages = list(template.messages)
        with environment(WDH_ALIAS_SALT=template.salt, PGDATABASE=name):
            yield project
