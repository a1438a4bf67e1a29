"""The Dagster code location's dbt manifest: parsed again when it is stale or damaged, by one
process at a time, and moved into place whole (several processes load the code location at once)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from dagster_dbt import DbtProject

from python_enrich.orchestration import dbt_resource
from python_enrich.paths import PROJECT_DIR

PROJECT_FILES = ("dbt_project.yml", "profiles.yml.example", "models", "macros", "seeds")


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The dbt project's sources, without any target/ folder."""
    for name in PROJECT_FILES:
        source = PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy2(source, tmp_path / name)
    return tmp_path


def counting_parse(calls: list[str], seconds: float = 0.0):
    """A stand-in for `dbt parse` that writes a small valid manifest after `seconds`."""

    def parse(project: DbtProject, target: Path) -> None:
        calls.append(threading.current_thread().name)
        time.sleep(seconds)
        project.manifest_path.write_text(json.dumps({"nodes": {}}), encoding="utf-8")

    return parse


def test_a_damaged_manifest_is_parsed_again(project_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(dbt_resource, "parse_manifest", counting_parse(calls))
    project = dbt_resource.prepared_project(project_copy)
    assert calls == ["MainThread"]
    dbt_resource.prepared_project(project_copy)
    assert len(calls) == 1, "a current manifest is not parsed again"
    # What two writers at once can leave behind: a whole document followed by the tail of another.
    with project.manifest_path.open("a", encoding="utf-8") as manifest:
        manifest.write("}")
    assert dbt_resource.manifest_is_stale(project)
    dbt_resource.prepared_project(project_copy)
    assert len(calls) == 2
    assert json.loads(project.manifest_path.read_text(encoding="utf-8")) == {"nodes": {}}


def test_processes_loading_at_once_parse_once(project_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(dbt_resource, "parse_manifest", counting_parse(calls, seconds=1.0))
    loaders = [
        threading.Thread(target=dbt_resource.prepared_project, args=(project_copy,), name=f"loader-{n}")
        for n in range(3)
    ]
    for loader in loaders:
        loader.start()
    for loader in loaders:
        loader.join()
    print(f"parses by 3 loaders at once: {len(calls)}")
    assert len(calls) == 1, calls


def test_dbt_parse_writes_the_manifest_whole_and_leaves_no_scratch_folder(project_copy: Path) -> None:
    project = dbt_resource.prepared_project(project_copy)
    manifest = json.loads(project.manifest_path.read_text(encoding="utf-8"))
    assert "model.company_enrichment.annuity_performance" in manifest["nodes"]
    target = project_copy / project.target_path
    assert not list(target.glob(".parse-*"))
    assert not dbt_resource.manifest_is_stale(project)
