"""Dagster's UI and daemon for this project, on 127.0.0.1 only (`./run dagster [--port N]`).

Dagster's instance (runs, event log, compute logs, schedule state) lives in .dagster/ (mode 0700),
whose dagster.yaml admits one run with the drain at a time and one drain step (pool eqc_drain).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from python_enrich.cli_types import OneLineErrorParser, bounded_int
from python_enrich.paths import PROJECT_DIR

DAGSTER_HOME = PROJECT_DIR / ".dagster"
HOST = "127.0.0.1"
INSTANCE_YAML = """\
# Written by ./run dagster (python_enrich/orchestration/dev.py); yours to edit, never overwritten.
# Two drains never run at once: one run with the drain at a time (runs carrying the tag), and one
# step in the drain's pool.
concurrency:
  runs:
    tag_concurrency_limits:
      - key: python_enrich/eqc_drain
        limit: 1
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def prepare_home(home: Path = DAGSTER_HOME) -> Path:
    """The instance directory, private to its owner (it holds run logs), with our dagster.yaml."""
    home.mkdir(mode=0o700, exist_ok=True)
    home.chmod(0o700)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML, encoding="utf-8")
    return home


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrorParser(prog="./run dagster", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=bounded_int(1, 65535), default=3000, help="the UI's port (default 3000)")
    args = parser.parse_args(argv)
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent))
    if dagster is None:
        print("error: Dagster is not installed: pip install -e '.[dagster]' (./run dagster does it)", file=sys.stderr)
        return 2
    env = {**os.environ, "DAGSTER_HOME": str(prepare_home())}
    print(f"Dagster for this project: http://{HOST}:{args.port} (Ctrl-C stops it)", file=sys.stderr)
    command = [dagster, "dev", "-m", "python_enrich.orchestration", "-h", HOST, "-p", str(args.port)]
    os.chdir(PROJECT_DIR)
    os.execve(dagster, command, env)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
