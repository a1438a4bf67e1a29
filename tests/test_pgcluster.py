"""The private PostgreSQL and the clear one-line errors for bad set-up."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2
import pytest

from python_enrich.pgcluster import PrivateCluster, free_port


def run_cluster_command(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run(
        [sys.executable, "-m", "python_enrich.pgcluster", *args],
        capture_output=True, text=True, env={**clean, **env}, check=False, timeout=120,
    )  # fmt: skip


def test_unreachable_pg_server_is_one_clear_line() -> None:
    done = run_cluster_command("env", PGHOST="127.0.0.1", PGPORT=str(free_port()), PGUSER="nobody")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect to the PostgreSQL server")
    assert "unset them all to use the private cluster" in lines[0]


def test_missing_server_binaries_say_what_to_install() -> None:
    done = run_cluster_command("start", PG_BINDIR="/nonexistent/bin")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install postgresql" in lines[0]


@pytest.fixture
def cluster_dir() -> Path:
    # /tmp's pytest folders are private to root; the postgres user must reach the cluster's folder.
    path = Path(tempfile.mkdtemp(prefix="wdh-cluster-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path / "pg"
    cluster = PrivateCluster(path / "pg")
    if cluster.initialized():
        cluster.stop()
    shutil.rmtree(path, ignore_errors=True)


def test_busy_port_is_reported(cluster_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        monkeypatch.setenv("WDH_PG_PORT", str(busy.getsockname()[1]))
        with pytest.raises(Exception, match=r"port \d+ on 127.0.0.1 is busy.*WDH_PG_PORT"):
            PrivateCluster(cluster_dir).start()


def test_private_cluster_starts_once_and_is_reused(cluster_dir: Path) -> None:
    cluster = PrivateCluster(cluster_dir)
    first = cluster.start()
    assert cluster.running()
    second = PrivateCluster(cluster_dir).start()  # a later run finds it running
    assert second == first
    conn = psycopg2.connect(host=first.host, port=first.port, user=first.user, dbname=first.database)
    with conn, conn.cursor() as cur:
        cur.execute("create extension if not exists pgcrypto")
        cur.execute("select pg_encoding_to_char(encoding) from pg_database where datname = current_database()")
        assert cur.fetchone() == ("UTF8",)
    conn.close()
    assert cluster.stop() is True
    assert not cluster.running()
    assert cluster.start().port == first.port  # restarts on the remembered port


def test_commands_find_the_running_private_cluster_without_pg_variables() -> None:
    PrivateCluster().start()  # already running when the tests use it; started otherwise
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    done = subprocess.run(
        [sys.executable, "-m", "python_enrich.export", "unresolved", "--out", "/dev/null"],
        capture_output=True, text=True, env=clean, check=False, timeout=60,
    )  # fmt: skip
    # It reached the cluster's warehouse database: either it exported, or it says what to build.
    assert done.returncode == 0 or "run dbt build" in done.stderr, done.stderr
