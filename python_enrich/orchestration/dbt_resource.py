"""dbt for Dagster: the project's manifest, and a dbt CLI resource that carries the temp-id salt.

The salt travels the way `./run dbt` sends it (python_enrich.run_dbt): in libpq's PGOPTIONS of the
dbt process only, never in dbt's arguments, SQL, logs or target/, nor in Dagster's run config or
event log. A salt that differs from the state's stops the build with one line before dbt starts.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg2
from dagster import Failure
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from python_enrich.db import use_private_cluster_if_unset
from python_enrich.paths import PROJECT_DIR
from python_enrich.run_dbt import BUILDING_COMMANDS, ensure_profiles, salted_environment
from python_enrich.salt import SaltMismatch, check_matches_state

# What the manifest is made from: a newer file here means the manifest is stale.
PROJECT_SOURCES = ("dbt_project.yml", "models", "macros", "seeds")


def manifest_is_stale(project: DbtProject) -> bool:
    """True when manifest.json is missing, older than the project's sources, or not one whole JSON
    document (a file cut short or overwritten would otherwise stop every load of the code location)."""
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for source in PROJECT_SOURCES:
        path = project.project_dir / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        if any(f.stat().st_mtime > built for f in files):
            return True
    try:
        json.loads(manifest.read_bytes())
    except ValueError:
        return True
    return False


def dbt_executable() -> str:
    """dbt beside this Python (the project's .venv), else the one on PATH."""
    return shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"


def prepared_project(project_dir: Path = PROJECT_DIR) -> DbtProject:
    """The dbt project with a current manifest.json (parsed again when missing or older than the
    models, so that `dagster dev`, `dagster asset materialize` and a deployment all see the models)."""
    ensure_profiles(project_dir)
    use_private_cluster_if_unset()  # dbt's profile reads PG*; the private cluster when none is set
    project = DbtProject(project_dir=project_dir, profiles_dir=project_dir)
    if manifest_is_stale(project):
        # Several processes load the code location at once (Dagster's, pytest's workers): one parses,
        # the others wait for it and then find the manifest current.
        target = project.project_dir / project.target_path
        target.mkdir(parents=True, exist_ok=True)
        with open(target / ".manifest.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if manifest_is_stale(project):
                parse_manifest(project, target)
    return project


def parse_manifest(project: DbtProject, target: Path) -> None:
    """`dbt parse` into a folder of its own, then manifest.json moved into place in one step: no
    reader ever sees a manifest half written."""
    scratch = Path(tempfile.mkdtemp(prefix=".parse-", dir=target))
    try:
        resource = DbtCliResource(project_dir=project, dbt_executable=dbt_executable())
        resource.cli(["parse", "--quiet"], target_path=scratch).wait()
        os.replace(scratch / "manifest.json", project.manifest_path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class EnrichmentTranslator(DagsterDbtTranslator):
    """dbt tests become asset checks. Every asset stays in one group, so that the asset graph shows
    the cycle end to end (seeds, staging, intermediate, marts, drain, rebuild)."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class SaltedDbtCliResource(DbtCliResource):
    """DbtCliResource whose dbt processes get the salt in PGOPTIONS, after the salt check."""

    def cli(self, args: Sequence[str], **kwargs: Any) -> DbtCliInvocation:  # type: ignore[override]
        if args and args[0] in BUILDING_COMMANDS:
            try:
                check_matches_state()
            except SaltMismatch as error:
                raise Failure(description=str(error), allow_retries=False) from None
            except psycopg2.Error:
                pass  # dbt itself reports a server it cannot reach
        # dagster-dbt copies os.environ when it starts dbt, inside cli(): the salt is in it only then.
        with salted_environment():
            return super().cli(args, **kwargs)
