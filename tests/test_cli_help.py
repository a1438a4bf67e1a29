"""Every command explains itself: --help prints help (and changes nothing), options show defaults."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from python_enrich import drain
from python_enrich.tools import sqlgen


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, check=False, timeout=60)


@pytest.mark.parametrize(("args", "code"), [(["--help"], 0), (["--bogus"], 2), (["extra"], 2)])
def test_sqlgen_help_and_bad_arguments_write_nothing(args: list[str], code: int) -> None:
    before = sqlgen.TABLES_FILE.stat().st_mtime_ns
    done = run_module("python_enrich.sqlgen", *args)
    assert done.returncode == code
    assert ("usage: python -m python_enrich.sqlgen" in done.stdout + done.stderr) and "wrote" not in done.stdout
    assert sqlgen.TABLES_FILE.stat().st_mtime_ns == before


def test_sqlgen_check_tells_whether_the_tables_are_stale() -> None:
    done = run_module("python_enrich.sqlgen", "--check")
    assert done.returncode == 0 and "up to date" in done.stdout


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (["python_enrich.bench", "drain"], ["names to look up (default: 600)", "(default: 60/60)", "(default: 4)"]),
        (["python_enrich.bench", "names"], ["(default: 100000)"]),
        (["python_enrich.bench", "warehouse"], ["performance rows (default:"]),
        (
            ["python_enrich.sandbox"],
            ["(default 127.0.0.1)", "(default 0.0)", "(default 5xx,slow,drop)", "(default 1800.0)"],
        ),
        (["python_enrich.salt", "rotate"], ["--dry-run"]),
        (["python_enrich.drain"], ["looked up again (default 30)", "auto: a bar on a terminal", "(default auto)"]),
    ],
)
def test_options_show_what_they_do_and_their_defaults(module: list[str], expected: list[str]) -> None:
    done = run_module(*module, "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())  # argparse wraps lines
    assert [e for e in expected if e not in text] == []


def test_every_drain_option_says_what_it_does_and_its_default() -> None:
    undocumented, no_default = [], []
    for action in drain.build_parser()._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if not action.help:
            undocumented.append(action.dest)
        elif action.default not in (None, False) and "default" not in action.help:
            no_default.append(action.dest)
    print(f"drain options: undocumented {undocumented}, without their default {no_default}")
    assert (undocumented, no_default) == ([], [])


def test_sandbox_help_names_the_contract_inside_the_project() -> None:
    done = run_module("python_enrich.sandbox", "--help")
    assert done.returncode == 0
    assert "docs/registry-api.md" in done.stdout and "shared/" not in done.stdout
