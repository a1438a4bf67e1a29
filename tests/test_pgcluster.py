"""The private PostgreSQL and the clear one-line errors for bad set-up."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from python_enrich.pgcluster import HBA_CONF, PrivateCluster, free_port


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
    remove_cluster(PrivateCluster(path / "pg"))
    shutil.rmtree(path, ignore_errors=True)


def remove_cluster(cluster: PrivateCluster) -> None:
    if cluster.initialized():
        cluster.stop()
    if cluster.server_dir != cluster.directory:
        shutil.rmtree(cluster.server_dir, ignore_errors=True)


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
    conn = first.connect()
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


def psql_as(user: str, port: int, **env: str) -> subprocess.CompletedProcess[str]:
    command = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "enrich", "-d", "warehouse", "-Atc", "select 1"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    prefix = ["runuser", "-u", user, "--"] if user != "me" else []
    return subprocess.run(
        [*prefix, *command], capture_output=True, text=True, env={**clean, **env}, check=False, timeout=60, cwd="/"
    )


def test_only_the_owner_gets_in(cluster_dir: Path) -> None:
    server = PrivateCluster(cluster_dir).start()
    passfile = Path(server.passfile)
    assert passfile.stat().st_mode & 0o777 == 0o600 and passfile.stat().st_uid == os.geteuid()
    hba = (PrivateCluster(cluster_dir).data / "pg_hba.conf").read_text()
    assert hba == HBA_CONF and "trust" not in hba
    assert psql_as("me", server.port, PGPASSFILE=server.passfile).stdout.strip() == "1"  # the owner
    refused = psql_as("me", server.port)  # no password file: no way in
    assert refused.returncode != 0 and "password" in refused.stderr
    if os.geteuid() == 0:  # another OS account, even one pointed at the owner's password file
        for env in ({}, {"PGPASSFILE": server.passfile}):
            other = psql_as("nobody", server.port, **env)
            assert other.returncode != 0 and "password" in other.stderr, other


def test_a_trust_cluster_is_converted_on_its_next_start(cluster_dir: Path) -> None:
    """A cluster made by an older version (initdb --auth=trust, no password file)."""
    cluster = PrivateCluster(cluster_dir)
    cluster.start()
    cluster.stop()
    cluster.passfile.unlink()
    hba = cluster.data / "pg_hba.conf"
    hba.write_text("host all all 127.0.0.1/32 trust\n")
    before = hba.stat()
    server = PrivateCluster(cluster_dir).start()
    assert hba.read_text() == HBA_CONF and hba.stat().st_uid == before.st_uid
    assert psql_as("me", server.port).returncode != 0  # trust is gone
    assert psql_as("me", server.port, PGPASSFILE=server.passfile).stdout.strip() == "1"


def test_cluster_starts_under_a_directory_only_root_can_enter() -> None:
    """A project under /root (mode 700): the server's files go elsewhere; nothing is chmod-ed."""
    private = Path(tempfile.mkdtemp(prefix="wdh-root-only-", dir="/var/tmp"))
    private.chmod(0o700)
    cluster = PrivateCluster(private / "proj" / ".pgdata")
    cluster.directory.parent.mkdir()
    try:
        server = cluster.start()
        assert private.stat().st_mode & 0o777 == 0o700 and cluster.directory.stat().st_uid == os.geteuid()
        # As root the server runs as `postgres`, which cannot enter: its files live in its own home.
        assert (cluster.server_dir != cluster.directory) == (os.geteuid() == 0)
        assert (cluster.data / "PG_VERSION").is_file()
        assert psql_as("me", server.port, PGPASSFILE=server.passfile).stdout.strip() == "1"
        assert PrivateCluster(cluster.directory).start() == server  # found again by a later run
    finally:
        remove_cluster(cluster)
        shutil.rmtree(private, ignore_errors=True)


def test_env_notes_the_missing_salt_once_per_shell(tmp_path: Path) -> None:
    """`eval "$(./run py pgcluster env)"` in a shell without WDH_ALIAS_SALT notes it once, not at every eval."""
    env = {k: v for k, v in os.environ.items() if k != "WDH_ALIAS_SALT"} | {"XDG_CACHE_HOME": str(tmp_path)}
    notes = []
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-m", "python_enrich.pgcluster", "env"],
            capture_output=True, text=True, env=env, check=True, timeout=120,
        )  # fmt: skip
        assert "export PGPORT=" in done.stdout and "WDH_ALIAS_SALT" not in done.stdout
        notes.append("WDH_ALIAS_SALT is not set in this shell" in done.stderr)
    print(f"salt notes over three evals in one shell: {notes}")
    assert notes == [True, False, False]


def private_cluster_databases() -> set[str]:
    """The databases of the private cluster itself (connected to directly: the suite may run on
    another server that PG* names), or an empty set while it is not running."""
    cluster = PrivateCluster()
    if not cluster.running():
        return set()
    conn = cluster.server().connect("postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("select datname from pg_database")
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def test_pgdatabase_alone_picks_a_database_of_the_private_cluster() -> None:
    """Real data apart from the demo's: `PGDATABASE=real ./run …` uses (and creates) that database of the
    private cluster, and the databases it held are left alone."""
    name = f"wdh_apart_{os.getpid()}"
    before = private_cluster_databases()
    try:
        done = run_cluster_command("env", PGDATABASE=name)  # no other PG* variable: the private cluster
        assert done.returncode == 0, done.stderr
        assert f"export PGDATABASE={name}" in done.stdout and "export PGHOST=127.0.0.1" in done.stdout
        after = private_cluster_databases()
        assert name in after and before <= after, (before, after)
        exports = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines())
        again = subprocess.run(  # with those exports in the shell as well: the same database
            [sys.executable, "-m", "python_enrich.pgcluster", "env", "--quiet"],
            capture_output=True, text=True, check=False, timeout=120,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("PG")}, **exports},
        )  # fmt: skip
        assert again.returncode == 0 and f"export PGDATABASE={name}" in again.stdout
    finally:
        admin = PrivateCluster().server().connect("postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()
