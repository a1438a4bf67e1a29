"""A clone is complete on its own: nothing points outside the repository, the contract documents are
there, their links resolve, and their known values are what the code computes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from python_enrich.paths import PROJECT_DIR
from python_enrich.temp_id import temp_company_id, temp_id_for_normalized

# Built from parts so that this file does not match itself.
OUTSIDE_POINTERS = ["../" + "shared", "shared" + "/spec", "shared" + "/reference", "WDH_" + "SHARED_DIR"]
SKIPPED_DIRS = {
    ".git",
    ".venv",
    "target",
    "dbt_packages",
    "logs",
    "mutants",
    ".pgdata",
    "__pycache__",
    ".ruff_cache",
    ".pytest_cache",
}
TEXT_SUFFIXES = {".py", ".md", ".sql", ".yml", ".yaml", ".toml", ".json", ".html", ".txt", ".csv", ".example", ""}
CONTRACTS = ["normalization.md", "temp-ids.md", "registry-api.md", "candidate-evidence.md"]
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def project_text_files() -> list[Path]:
    files = []
    for path in PROJECT_DIR.rglob("*"):
        if any(part in SKIPPED_DIRS for part in path.relative_to(PROJECT_DIR).parts):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES and path.stat().st_size < 2_000_000:
            files.append(path)
    return files


def test_nothing_in_the_project_points_outside_it() -> None:
    files = project_text_files()
    hits = [
        f"{path.relative_to(PROJECT_DIR)}: {pointer}"
        for path in files
        for pointer in OUTSIDE_POINTERS
        if pointer in path.read_text(encoding="utf-8", errors="replace")
    ]
    print(f"{len(files)} files read, {len(hits)} pointers outside the project")
    assert len(files) > 50 and hits == []


@pytest.mark.parametrize("name", CONTRACTS)
def test_the_contract_documents_are_in_docs(name: str) -> None:
    text = (PROJECT_DIR / "docs" / name).read_text(encoding="utf-8")
    assert text.startswith("# ") and len(text) > 1500


def test_every_relative_link_in_the_readme_and_docs_resolves() -> None:
    pages = [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]
    links = [(page, target) for page in pages for target in MARKDOWN_LINK.findall(page.read_text(encoding="utf-8"))]
    local = [(page, target) for page, target in links if "://" not in target]
    broken = [f"{page.name} -> {target}" for page, target in local if not (page.parent / target).exists()]
    print(f"{len(local)} local links in {len(pages)} pages, {len(broken)} broken")
    assert local and broken == []


def test_the_known_temporary_ids_in_the_docs_are_what_the_code_computes() -> None:
    rows = re.findall(r"^\| `([^`]+)` \| (message )?`([^`]+)` \| `(IN[A-Z2-7]{16})` \|$", read_doc("temp-ids.md"), re.M)
    computed = [
        temp_id_for_normalized(text, salt) if message else temp_company_id(text, salt)
        for salt, message, text, _ in rows
    ]
    right = sum(got == row[3] for got, row in zip(computed, rows, strict=True))
    print(f"known values in docs/temp-ids.md: {right} right, {len(rows) - right} wrong")
    assert len(rows) == 2 and right == len(rows)


def test_the_reference_data_is_carried_in_tests_data() -> None:
    data = PROJECT_DIR / "tests" / "data"
    assert sorted(p.name for p in data.glob("*.json")) == ["eqc_examples.json", "normalization_cases.json"]
    for path in data.glob("*.json"):
        assert "docs/" in path.read_text(encoding="utf-8")[:300], path.name


def read_doc(name: str) -> str:
    return (PROJECT_DIR / "docs" / name).read_text(encoding="utf-8")
