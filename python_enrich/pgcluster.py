"""The private PostgreSQL cluster, or the server the standard PG* variables point at.

With none of PGHOST, PGPORT, PGUSER, PGPASSWORD set, a cluster is created from the installed server
binaries in .pgdata/ (git-ignored), on a free loopback port, and reused by later runs; PGDATABASE
alone picks (and creates) a database of it, `warehouse` by default.  initdb refuses to run as
root, so as root the server runs as the `postgres` user; when that user cannot reach the project
(a checkout under /root, mode 700) its data lives in a directory of its own under its home
(.pgdata/server-location says where), and no permission of the user's directories is changed.

Only the owner gets in: scram-sha-256 over loopback TCP, no Unix socket, no `trust` line, with a
password generated at initdb and kept in .pgdata/pgpass (mode 0600, the invoking user's), which our
commands and `pgcluster env` hand to libpq as PGPASSFILE.  A cluster made with trust authentication
by an older version is converted on its next start.

    python -m python_enrich.pgcluster start|stop|status|env
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import secrets
import shlex
import socket
import subprocess
import sys
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

import psycopg2
from psycopg2.extensions import encrypt_password

from python_enrich.errors import first_line
from python_enrich.paths import PROJECT_DIR
from python_enrich.salt_notice import first_time_in_this_shell

PG_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
# These name another server; PGDATABASE alone picks a database of the private cluster (created when
# missing), e.g. real data in a database apart from the demo's.
SERVER_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD")
CLUSTER_DIR = PROJECT_DIR / ".pgdata"
SUPERUSER = "enrich"
DATABASE = "warehouse"
SETTINGS_FILE = "company_enrichment.conf"
# The whole pg_hba.conf: the owner's role, by password, over loopback TCP only (no Unix socket).
HBA_CONF = (
    "# company-enrichment private cluster: only its owner, with the password in .pgdata/pgpass\n"
    f"host all {SUPERUSER} 127.0.0.1/32 scram-sha-256\n"
)
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "shared_buffers": "'512MB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'256MB'",
    "max_connections": "100",
    "log_min_messages": "warning",
    # Warehouse tables are rebuilt from raw data by every build: no WAL for a table created and
    # filled in one transaction, no replication, fewer checkpoints. Commits stay durable.
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "'4GB'",
    # Many mid-sized queries per build: JIT compilation costs more than it saves here.
    "jit": "off",
    "password_encryption": "'scram-sha-256'",
}


class SetupError(RuntimeError):
    """A set-up problem the user must fix; the message says what to do."""


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    database: str
    private: bool
    passfile: str = ""  # the private cluster's password file (libpq's PGPASSFILE)

    def env(self) -> dict[str, str]:
        env = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.database,
            "PGPASSFILE": self.passfile,
        }
        return {key: value for key, value in env.items() if value}

    def connect(self, dbname: str | None = None) -> psycopg2.extensions.connection:
        """A connection to this server itself (its own database, or dbname), whatever PG* says."""
        password = {"passfile": self.passfile} if self.passfile else {}
        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, dbname=dbname or self.database, **password
        )


def external_server_requested(environ: dict[str, str] | None = None) -> bool:
    environ = dict(os.environ) if environ is None else environ
    return any(environ.get(name) for name in SERVER_VARIABLES)


def check_reachable(timeout_s: int = 5) -> None:
    """Connect once with the PG* variables; raise SetupError saying what to fix."""
    where = f"{os.environ.get('PGHOST', 'localhost')}:{os.environ.get('PGPORT', '5432')}"
    try:
        psycopg2.connect(connect_timeout=timeout_s).close()
    except psycopg2.OperationalError as error:
        raise SetupError(
            f"cannot connect to the PostgreSQL server the PG* variables name ({where}): {first_line(error)}. "
            "Fix PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE, or unset them all to use the private cluster."
        ) from None


def server_binaries() -> Path:
    """The directory holding initdb and pg_ctl (PG_BINDIR, else the newest Debian/Ubuntu install)."""
    if os.environ.get("PG_BINDIR"):  # an explicit choice is the only place looked at
        candidates = [os.environ["PG_BINDIR"]]
    else:
        versions = glob.glob("/usr/lib/postgresql/*/bin")
        candidates = sorted(
            versions, key=lambda p: [int(part) for part in p.split("/")[-2].split(".") if part.isdigit()], reverse=True
        )
        candidates += ["/usr/local/pgsql/bin", "/usr/bin"]
    for candidate in candidates:
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    raise SetupError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install them "
        "(Debian/Ubuntu: apt-get install postgresql postgresql-contrib) and set PG_BINDIR if they are "
        "elsewhere, or set PGHOST/PGPORT/PGUSER/PGDATABASE to use an existing server."
    )


class PrivateCluster:
    """A PostgreSQL cluster owned by this project checkout."""

    def __init__(self, directory: Path = CLUSTER_DIR) -> None:
        self.directory = directory  # ours: port, password file, where the server's files are
        self.port_file = directory / "port"
        self.passfile = directory / "pgpass"
        self.location_file = directory / "server-location"
        self.as_root = os.geteuid() == 0

    # -- where the server's own files are ------------------------------------------------------
    @property
    def server_dir(self) -> Path:
        """.pgdata itself, or (as root, when `postgres` cannot reach the project) a directory of
        the `postgres` user's own, named in .pgdata/server-location."""
        try:
            return Path(self.location_file.read_text().strip())
        except OSError:
            return self.directory

    @property
    def data(self) -> Path:
        return self.server_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.server_dir / "server.log"

    # -- running commands as the cluster's owner -------------------------------------------
    def _owner_command(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self.as_root else args

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self._owner_command(args), capture_output=True, text=True, check=False, cwd="/")
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise SetupError(f"{Path(args[0]).name} failed: {detail[-1] if detail else result.returncode}")
        return result

    def _server_owner(self) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise SetupError(
                "running as root, the private cluster needs a non-root `postgres` user to own it "
                "(initdb refuses root): create one with `useradd --system postgres`, or run as a normal user."
            ) from None

    def _give_to_server_owner(self, path: Path) -> None:
        if self.as_root:
            owner = self._server_owner()
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def _prepare_directory(self) -> None:
        self.directory.mkdir(mode=0o700, exist_ok=True)
        if not self.as_root or self.initialized():
            return
        owner = self._server_owner()
        if self.server_dir == self.directory and not self._reachable_by_server_owner(self.directory.parent):
            # The project is private to root (e.g. /root is mode 700): leave its permissions alone
            # and keep the server's files in a directory of the postgres user's own.
            home = Path(owner.pw_dir)
            if not home.is_dir() or home.stat().st_uid != owner.pw_uid:
                raise SetupError(
                    f"the `postgres` user cannot reach {self.directory} and has no home directory of its own "
                    f"({home}) to keep the cluster in: create it (owned by postgres), or run as a normal user."
                )
            digest = sha256(str(self.directory.resolve()).encode()).hexdigest()[:12]
            self.location_file.write_text(f"{home / f'company-enrichment-{digest}'}\n")
        server_dir = self.server_dir
        server_dir.mkdir(mode=0o700, exist_ok=True)
        os.chown(server_dir, owner.pw_uid, owner.pw_gid)
        probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(server_dir)], check=False, cwd="/")
        if probe.returncode != 0:
            raise SetupError(f"the `postgres` user cannot write {server_dir}: check the permissions of its parents.")

    @staticmethod
    def _reachable_by_server_owner(directory: Path) -> bool:
        probe = ["runuser", "-u", "postgres", "--", "test", "-x", str(directory)]
        return subprocess.run(probe, check=False, cwd="/").returncode == 0

    # -- the owner's password ------------------------------------------------------------------
    def password(self) -> str | None:
        try:
            line = self.passfile.read_text().strip().splitlines()[-1]
        except (OSError, IndexError):
            return None
        return line.rsplit(":", 1)[-1] or None

    def _write_passfile(self, password: str, port: int) -> None:
        """libpq's password file, readable by the invoking user only (written before it holds anything)."""
        descriptor = os.open(self.passfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(f"127.0.0.1:{port}:*:{SUPERUSER}:{password}\n")

    # -- state ------------------------------------------------------------------------------
    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").is_file()

    def running(self) -> bool:
        if not self.initialized():
            return False
        return (
            self._run([str(server_binaries() / "pg_ctl"), "status", "-D", str(self.data)], check=False).returncode == 0
        )

    def port(self) -> int | None:
        try:
            return int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def server(self) -> Server:
        port = self.port()
        if port is None:
            raise SetupError("the private cluster has no port yet: run `python -m python_enrich.pgcluster start`")
        database = os.environ.get("PGDATABASE") or DATABASE
        return Server("127.0.0.1", port, SUPERUSER, database, private=True, passfile=str(self.passfile))

    # -- lifecycle --------------------------------------------------------------------------
    def _choose_port(self) -> int:
        wanted = os.environ.get("WDH_PG_PORT")
        if wanted:
            if not wanted.isdigit() or not 0 < int(wanted) < 65536:
                raise SetupError(f"WDH_PG_PORT must be a port number, got {wanted!r}")
            if not port_is_free(int(wanted)):
                raise SetupError(
                    f"port {wanted} on 127.0.0.1 is busy (another program listens there): "
                    "set WDH_PG_PORT to a free port, or unset it to let the project pick one."
                )
            return int(wanted)
        remembered = self.port()
        if remembered and port_is_free(remembered):
            return remembered
        if remembered:
            print(f"note: port {remembered} is now busy; the private cluster moves to a free port", file=sys.stderr)
        return free_port()

    def start(self) -> Server:
        bindir = server_binaries()
        self._prepare_directory()
        if not self.initialized():
            password = secrets.token_urlsafe(24)  # letters, digits, - and _: nothing to escape
            # initdb reads it from a file the server's account can read: briefly, in its own directory.
            pwfile = self.server_dir / "initdb-password"
            pwfile.unlink(missing_ok=True)  # left by an interrupted initdb
            descriptor = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as out:
                out.write(f"{password}\n")
            self._give_to_server_owner(pwfile)
            try:
                self._run([
                    str(bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}",
                    "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-instructions",
                ])  # fmt: skip
            finally:
                pwfile.unlink()
            self._write_passfile(password, self.port() or 0)
        if not self.running():
            self._write_settings()
            port = self._choose_port()
            result = self._run([
                str(bindir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data),
                "-l", str(self.log_file), "-o", f"-p {port}",
            ], check=False)  # fmt: skip
            if result.returncode != 0:
                tail = (
                    self.log_file.read_text(errors="replace").strip().splitlines()[-1:]
                    if self.log_file.exists()
                    else []
                )
                raise SetupError(
                    f"the private PostgreSQL did not start on port {port}: {' '.join(tail) or result.stderr.strip()}"
                )
            self.port_file.write_text(f"{port}\n")
        server = self.server()
        self._admit_only_the_owner(server)
        _create_database(server)
        return server

    def _admit_only_the_owner(self, server: Server) -> None:
        """Password authentication only; converts a trust cluster of an older version in place."""
        hba = self.data / "pg_hba.conf"
        password = self.password()
        if password is not None and hba.read_text() == HBA_CONF:
            self._write_passfile(password, server.port)  # the port may have moved
            return
        if password is None:
            if hba.read_text() == HBA_CONF:
                raise SetupError(
                    f"the private cluster's password file {self.passfile} is missing: restore it, or stop "
                    "the cluster and delete .pgdata to start afresh (its data is lost)."
                )
            password = secrets.token_urlsafe(24)
        # Still trust (an older cluster): give the role its password, then allow passwords only.
        conn = psycopg2.connect(
            host=server.host, port=server.port, user=server.user, dbname="postgres", password=password
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                verifier = encrypt_password(password, SUPERUSER, conn, "scram-sha-256")
                cur.execute(f"alter role {SUPERUSER} password %s", (verifier,))
                self._write_passfile(password, server.port)
                hba.write_text(HBA_CONF)
                self._give_to_server_owner(hba)
                cur.execute("select pg_reload_conf()")
        finally:
            conn.close()

    def _write_settings(self) -> None:
        """Our settings, rewritten at each start so that clusters made by older versions get them."""
        conf = self.data / "postgresql.conf"
        include = f"include_if_exists = '{SETTINGS_FILE}'"
        if include not in conf.read_text():
            with conf.open("a") as out:
                out.write(f"\n# company-enrichment private cluster\n{include}\n")
        settings = self.data / SETTINGS_FILE
        settings.write_text("".join(f"{key} = {value}\n" for key, value in SERVER_SETTINGS.items()))
        self._give_to_server_owner(settings)
        if self.password() is not None:  # a trust cluster keeps trust until its role has a password
            hba = self.data / "pg_hba.conf"
            hba.write_text(HBA_CONF)
            self._give_to_server_owner(hba)

    def stop(self) -> bool:
        if not self.running():
            return False
        self._run([str(server_binaries() / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w"])
        return True


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As PostgreSQL does: connections lingering in TIME_WAIT do not make a port busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _create_database(server: Server) -> None:
    conn = server.connect("postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (server.database,))
            if cur.fetchone() is None:
                cur.execute(f"create database \"{server.database}\" template template0 encoding 'UTF8'")
    finally:
        conn.close()


def ensure_server() -> Server:
    """The server to use: the one PG* names (checked), else the private cluster (started)."""
    cluster = PrivateCluster()
    if external_server_requested():
        if _names_private_cluster(cluster, running=False) and not os.environ.get("PGPASSFILE"):
            os.environ["PGPASSFILE"] = str(cluster.passfile)  # exported by an older `pgcluster env`
        if _names_private_cluster(cluster):  # PG* exported by ./run for our own cluster
            with contextlib.suppress(psycopg2.Error):  # unreachable: check_reachable says why
                _create_database(cluster.server())  # PGDATABASE may name a database of its own
        check_reachable()
        if _names_private_cluster(cluster):
            return cluster.server()
        return Server(
            os.environ.get("PGHOST", ""),
            int(os.environ.get("PGPORT") or 5432),
            os.environ.get("PGUSER", ""),
            os.environ.get("PGDATABASE", ""),
            private=False,
        )
    server = cluster.start()
    os.environ.update(server.env())
    return server


def _names_private_cluster(cluster: PrivateCluster, running: bool = True) -> bool:
    return (
        os.environ.get("PGHOST") == "127.0.0.1"
        and os.environ.get("PGPORT") == str(cluster.port())
        and os.environ.get("PGUSER") == SUPERUSER
        and (not running or cluster.running())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m python_enrich.pgcluster",
        description="Start, stop or show the project's private PostgreSQL cluster. "
        "`env` prints shell exports for the server to use (starting the private cluster when no PG* is set): "
        'PGHOST, PGPORT, PGUSER, PGDATABASE and PGPASSFILE; use it as eval "$(./run py pgcluster env)" '
        "before plain dbt or psql. The temp-id salt is never printed: export WDH_ALIAS_SALT yourself. "
        "Exit codes: 0 ok, 1 not running (status), 2 set-up error.",
    )
    parser.add_argument("action", choices=["start", "stop", "status", "env"])
    parser.add_argument("--quiet", action="store_true", help="env: no note when WDH_ALIAS_SALT is not set")
    args = parser.parse_args(argv)
    try:
        if args.action == "stop":
            stopped = PrivateCluster().stop()
            print("private PostgreSQL stopped" if stopped else "private PostgreSQL is not running")
        elif args.action == "status":
            cluster = PrivateCluster()
            if cluster.running():
                print(
                    f"private PostgreSQL running on 127.0.0.1:{cluster.port()} ({cluster.data}); "
                    f"password authentication only, password file {cluster.passfile}"
                )
            else:
                print("private PostgreSQL is not running")
                return 1
        elif args.action == "start":
            server = ensure_server()
            where = "private PostgreSQL" if server.private else "PostgreSQL from PG* variables"
            print(f"{where} ready on {server.host}:{server.port}, database {server.database}")
        else:
            for key, value in ensure_server().env().items():
                print(f"export {key}={shlex.quote(value)}")
            # The salt is a secret: never printed. Its absence is said once per shell, not at every eval.
            if not os.environ.get("WDH_ALIAS_SALT") and not args.quiet and first_time_in_this_shell():
                print(
                    "note: WDH_ALIAS_SALT is not set in this shell: temporary ids use the PUBLIC default salt; "
                    "export your own salt (README: Choosing a salt)",
                    file=sys.stderr,
                )
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
