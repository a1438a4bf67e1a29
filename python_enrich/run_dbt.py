"""Run dbt for this project with the temp-id salt on its connections.

    python -m python_enrich.run_dbt build [dbt arguments...]      (what `./run dbt ...` calls)

The salt (WDH_ALIAS_SALT) reaches PostgreSQL only as the session setting wdh.alias_salt inside
libpq's PGOPTIONS, so it is never part of dbt's SQL, logs or target/ artifacts; the first build
stores it in the state, from where plain `dbt build` uses it too.  A salt that differs from the
state's stops here with one line (exit 2), before dbt starts.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

from python_enrich.db import env_with_salt
from python_enrich.paths import PROJECT_DIR
from python_enrich.salt import SaltMismatch, check_matches_state
from python_enrich.salt_notice import SHOWN_ENV_VAR, first_time_in_this_shell
from python_enrich.temp_id import SALT_ENV_VAR

# dbt commands that run the on-run-start hooks (and so build with the salt).
BUILDING_COMMANDS = {"build", "run", "seed", "test", "snapshot", "run-operation"}


def ensure_profiles(project_dir: Path = PROJECT_DIR) -> Path:
    """profiles.yml beside dbt_project.yml, copied from the example when missing."""
    profiles = project_dir / "profiles.yml"
    if not profiles.exists():
        shutil.copyfile(project_dir / "profiles.yml.example", profiles)
    return project_dir


def dbt_arguments(args: list[str]) -> list[str]:
    extra = [] if "--project-dir" in args else ["--project-dir", str(PROJECT_DIR)]
    extra += [] if "--profiles-dir" in args else ["--profiles-dir", str(ensure_profiles())]
    return [*args, *extra] if args and not args[0].startswith("-") else args


def public_salt_notice_env() -> dict[str, str]:
    """{SHOWN_ENV_VAR: "1"} when no salt is set and this shell was warned already: dbt's on-run-start
    macro then does not warn again (the first build in a shell does)."""
    if os.environ.get(SALT_ENV_VAR) or first_time_in_this_shell():
        return {}
    return {SHOWN_ENV_VAR: "1"}


@contextmanager
def salted_environment() -> Iterator[None]:
    """os.environ with the salt in PGOPTIONS for the duration (for in-process dbt)."""
    changes = {**public_salt_notice_env()}
    salted = env_with_salt().get("PGOPTIONS")
    if salted is not None:
        changes["PGOPTIONS"] = salted
    saved = {key: os.environ.get(key) for key in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def invoke(args: list[str]) -> object:
    """Run dbt in this process (fast for repeated calls); returns dbt's dbtRunnerResult."""
    from dbt.cli.main import dbtRunner  # imported late: dbt is slow to import

    with salted_environment():
        return dbtRunner().invoke(dbt_arguments(args))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    dbt = shutil.which("dbt", path=str(Path(sys.executable).parent)) or shutil.which("dbt")
    if dbt is None:
        print("error: dbt is not installed in this environment: run ./run demo or ./run test first", file=sys.stderr)
        return 2
    if args and args[0] in BUILDING_COMMANDS:
        try:
            check_matches_state()
        except SaltMismatch as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except psycopg2.Error:
            pass  # dbt itself reports a server it cannot reach
    os.chdir(PROJECT_DIR)
    os.execve(dbt, [dbt, *dbt_arguments(args)], {**env_with_salt(), **public_salt_notice_env()})
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
