"""Token capture in a real headless Chromium against the sandbox's login page, and token checks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from python_enrich import auth, drain
from python_enrich.normalization import normalize_company_name
from python_enrich.standins.companies import build_companies
from python_enrich.standins.sandbox import SandboxConfig, SandboxServer
from python_enrich.token_store import read_token, save_token
from tests.conftest import DbtProject


def log_in(page) -> None:
    """What a person does on the login page."""
    page.fill("#username", "demo")
    page.fill("#password", "demo")
    page.click("#login")


def test_capture_save_validate_and_drain_with_the_token(
    dbt_project: DbtProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    env_file = tmp_path / "secrets.env"
    env_file.write_text("# my settings\nPGHOST=db.example\nWDH_EQC_TOKEN=old-token\nexport OTHER='x y'\n")
    env_file.chmod(0o644)
    monkeypatch.delenv("WDH_EQC_TOKEN", raising=False)
    company = next(c for c in build_companies(200, 42) if c.registry_presence == "exact")
    with SandboxServer(SandboxConfig(companies=200, seed=42)) as sandbox:
        monkeypatch.setenv("WDH_EQC_BASE_URL", sandbox.url)
        monkeypatch.setattr(auth, "capture_token", _capturing_with(log_in))
        assert auth.main(["--capture", "--save", "--env-file", str(env_file), "--headless", "--timeout", "30"]) == 0
        out = capsys.readouterr()
        token = read_token(env_file)
        assert token and token != "old-token" and token in sandbox.state.tokens  # the sandbox issued it
        assert token not in out.out + out.err and "saved WDH_EQC_TOKEN" in out.out
        assert env_file.read_text().splitlines() == [
            "# my settings",
            "PGHOST=db.example",
            f"WDH_EQC_TOKEN={token}",
            "export OTHER='x y'",
        ]
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600

        assert auth.main(["--check", "--env-file", str(env_file)]) == 0
        assert "is valid" in capsys.readouterr().out

        dbt_project.run("run-operation", "setup_enrichment_state")
        name = normalize_company_name(company.name)
        dbt_project.query("insert into enrichment.enrichment_requests (normalized_name) values (%s)", (name,))
        assert drain.main(["--budget", "1", "--env-file", str(env_file), "--progress", "none"]) == 0
        assert token not in capsys.readouterr().out
    assert dbt_project.query("select status, resolved_company_id from enrichment.enrichment_requests") == [
        ("done", company.company_id)
    ]


def _capturing_with(person):
    real = auth.capture_token

    def capture(url: str, timeout_s: float, headless: bool = False, on_page=None):
        return real(url, timeout_s, headless=True, on_page=person)

    return capture


def test_check_says_invalid_with_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    with SandboxServer(SandboxConfig(companies=50, seed=42)) as sandbox:
        monkeypatch.setenv("WDH_EQC_BASE_URL", sandbox.url)
        monkeypatch.setenv("WDH_EQC_TOKEN", "a-token-nobody-issued-1234")
        assert auth.main(["--check"]) == 1
        line = capsys.readouterr().out
        assert "invalid or expired" in line and "a-token-nobody-issued-1234" not in line and "1234" in line
        monkeypatch.delenv("WDH_EQC_TOKEN")
        monkeypatch.setenv("WDH_ENV_FILE", str(tmp_path / "none.env"))
        assert auth.main(["--check"]) == 1
        assert "no EQC token" in capsys.readouterr().out


def test_capture_timeout_is_a_clear_failure() -> None:
    with SandboxServer(SandboxConfig(companies=50, seed=42)) as sandbox:
        env = {**os.environ, "WDH_EQC_BASE_URL": sandbox.url}
        done = subprocess.run(
            [sys.executable, "-m", "python_enrich.auth", "--capture", "--headless", "--timeout", "3"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == "error: no login within 3 s: run the command again and log in, or raise --timeout"


def test_closed_browser_is_a_clear_failure() -> None:
    with SandboxServer(SandboxConfig(companies=50, seed=42)) as sandbox:
        with pytest.raises(auth.CaptureFailed, match="browser was closed"):
            auth.capture_token(sandbox.url + "/", 30, headless=True, on_page=lambda page: page.close())


def test_save_token_replaces_only_its_line(tmp_path: Path) -> None:
    env_file = tmp_path / "nested" / ".wdh_env"
    save_token("first-token", env_file)
    assert env_file.read_text() == "WDH_EQC_TOKEN=first-token\n"
    env_file.write_text("A=1\n# comment\nexport WDH_EQC_TOKEN='quoted'\nWDH_EQC_TOKEN=dup\nB=2\n")
    save_token("second-token", env_file)
    assert env_file.read_text() == "A=1\n# comment\nWDH_EQC_TOKEN=second-token\nB=2\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    with pytest.raises(ValueError):
        save_token("bad token", env_file)
