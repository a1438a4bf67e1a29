"""Shared fixtures: a real PostgreSQL (the private cluster unless PG* is set), one database per
test module or test, and dbt run in-process with its target/ and logs in a temporary directory."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest

from python_enrich import run_dbt, sample
from python_enrich.db import temporary_database
from python_enrich.envvars import environment
from python_enrich.pgcluster import ensure_server


@pytest.fixture(scope="session", autouse=True)
def postgres_server() -> None:
    """Every test run talks to a real server; set up once (never skipped)."""
    ensure_server()


@pytest.fixture(autouse=True)
def fresh_shell_for_notices(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test is a new shell for the once-per-shell salt notice (its markers live in the cache
    folder), so a test that expects the warning sees it whatever ran before."""
    notices = tmp_path_factory.getbasetemp() / "notices" / secrets.token_hex(6)
    monkeypatch.setenv("XDG_CACHE_HOME", str(notices))


def fresh_database(prefix: str = "wdh_test") -> contextlib.AbstractContextManager[str]:
    """A new empty UTF8 database, selected through PGDATABASE while the block runs."""
    return temporary_database(prefix)


@dataclass
class DbtProject:
    """dbt invoked in-process against one test database, artifacts kept in a temporary folder."""

    database: str
    work_dir: Path
    messages: list[str] = field(default_factory=list)
    salt: str = ""  # the WDH_ALIAS_SALT its builds used

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


@pytest.fixture
def dbt_project(tmp_path: Path) -> Iterator[DbtProject]:
    """An empty database of its own and dbt pointed at it."""
    with fresh_database() as name:
        yield DbtProject(name, tmp_path)


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtProject]:
    """Sample data (4,000 rows), dbt seed and dbt build, with a distinctive salt set."""
    salt = f"pytest-salt-{secrets.token_hex(8)}"
    with environment(WDH_ALIAS_SALT=salt), fresh_database() as name:
        project = DbtProject(name, tmp_path_factory.mktemp("dbt"), salt=salt)
        sample.generate(4000, seed=7)
        project.run("seed")
        project.run("build")
        yield project
