"""python -m python_enrich.normalize, as a person debugging a name uses it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from python_enrich.normalize import main
from python_enrich.temp_id import PUBLIC_DEFAULT_SALT, temp_company_id


def test_argument_prints_normalized_name_and_temp_id(monkeypatch) -> None:
    monkeypatch.setenv("WDH_ALIAS_SALT", "cli-salt")
    out = io.StringIO()
    assert main(["某公司（已转出）"], stdout=out) == 0
    assert out.getvalue().splitlines() == [
        "normalized: 某公司",
        f"temp_id:    {temp_company_id('某公司', 'cli-salt')}",
    ]


def test_json_lines_from_stdin_with_null_and_bad_lines(monkeypatch) -> None:
    monkeypatch.setenv("WDH_ALIAS_SALT", "cli-salt")
    stdin = io.StringIO('{"name": "中国平安-已转出"}\n{"name": null}\nnot json\n{"nom": 1}\n{"name": "中国平安"}\n')
    out = io.StringIO()
    assert main([], stdin=stdin, stdout=out) == 1  # bad lines make the exit code non-zero
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records == [
        {"name": "中国平安-已转出", "normalized": "中国平安", "temp_id": temp_company_id("中国平安", "cli-salt")},
        {"name": None, "normalized": "", "temp_id": None},
        {"name": "中国平安", "normalized": "中国平安", "temp_id": temp_company_id("中国平安", "cli-salt")},
    ]


def test_subprocess_warns_about_the_public_default_salt(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path)}  # a shell not warned yet
    done = subprocess.run(
        [sys.executable, "-m", "python_enrich.normalize", "平安相伴今生企业年金集合计划"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0
    assert "temp_id:    INXELNISM3IAVLLWF5" in done.stdout
    assert "PUBLIC default salt" in done.stderr
    assert PUBLIC_DEFAULT_SALT not in done.stdout + done.stderr


def test_the_public_salt_warning_is_said_once_per_shell(tmp_path: Path) -> None:
    """The first command in a shell warns; the next ones in that shell do not; a new shell (a new
    session) is warned again. Counted over commands run like a user would."""
    env = {k: v for k, v in os.environ.items() if k != "WDH_ALIAS_SALT"} | {"XDG_CACHE_HOME": str(tmp_path)}

    def warned(new_session: bool) -> bool:
        done = subprocess.run(
            [sys.executable, "-m", "python_enrich.normalize", "中国平安"],
            capture_output=True, text=True, env=env, check=True, timeout=60, start_new_session=new_session,
        )  # fmt: skip
        assert "INQ7R63KMJIXWW7VGM" in done.stdout  # the public default's id all the same
        return "PUBLIC default salt" in done.stderr

    this_shell = [warned(new_session=False) for _ in range(3)]
    other_shells = [warned(new_session=True) for _ in range(2)]
    print(f"warnings in one shell: {this_shell}; in two new shells: {other_shells}")
    assert this_shell == [True, False, False] and other_shells == [True, True]
    markers = list((tmp_path / "python-enrich" / "public-salt-notices").iterdir())
    assert len(markers) == 3 and all(m.stat().st_mode & 0o077 == 0 for m in markers)
