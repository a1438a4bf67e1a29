"""One temp-id salt whatever runs dbt, remembered by the state, never written anywhere.

The module's warehouse is built in-process the way `./run dbt build` does it (salt in PGOPTIONS);
then plain `dbt` (a subprocess with only WDH_ALIAS_SALT and the PG* variables exported) builds the
same database. Last, the salt is rotated. The tests run in file order on one database.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from python_enrich.db import libpq_options_with_salt
from python_enrich.paths import PROJECT_DIR
from python_enrich.pgcluster import PrivateCluster
from python_enrich.run_dbt import ensure_profiles
from python_enrich.salt import fingerprint
from python_enrich.temp_id import temp_company_id, temp_id_for_normalized
from tests.conftest import DbtProject, fresh_database

OTHER_SALT = "a-different-salt-456"
NEW_SALT = "rotated salt with spaces \\ and ünïcode"  # also exercises the PGOPTIONS escaping


def plain_dbt(project: DbtProject, work: Path, *args: str, salt: str) -> subprocess.CompletedProcess[str]:
    """`dbt ARGS` as a user types it in the project directory: no PGOPTIONS, only PG* + WDH_ALIAS_SALT."""
    ensure_profiles()
    env = {k: v for k, v in os.environ.items() if k != "PGOPTIONS"}
    env.update(PGDATABASE=project.database, WDH_ALIAS_SALT=salt)
    dbt = shutil.which("dbt", path=str(Path(sys.executable).parent))
    assert dbt is not None
    return subprocess.run(
        [dbt, *args, "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip


def project_command(project: DbtProject, *args: str, salt: str) -> subprocess.CompletedProcess[str]:
    """python -m python_enrich.ARGS on the project's database with WDH_ALIAS_SALT=salt."""
    env = {k: v for k, v in os.environ.items() if k != "PGOPTIONS"}
    env.update(PGDATABASE=project.database, WDH_ALIAS_SALT=salt)
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False,
        timeout=900,
    )  # fmt: skip


def state_snapshot(project: DbtProject) -> dict[str, object]:
    """Everything a build writes, row by row (md5 of each table's sorted rows)."""
    tables = [
        "enrichment.temporary_ids", "enrichment.enrichment_requests", "enrichment.company_name_index",
        "enrichment.temp_id_salt", "marts.annuity_performance", "marts.unresolved_names",
    ]  # fmt: skip
    return {
        table: project.query(f"select count(*), md5(string_agg(t::text, '|' order by t::text)) from {table} as t")
        for table in tables
    } | {"builds": project.query("select count(*) from enrichment.run_log where run_kind = 'build'")}


def assert_salt_nowhere(salt: str, files: list[Path], texts: list[str]) -> None:
    leaking = [str(p) for p in files if p.is_file() and salt.encode() in p.read_bytes()]
    assert leaking == []
    assert [t for t in texts if salt in t] == []
    log = PrivateCluster().log_file  # the private cluster's log, when tests run on it
    if log.exists():
        assert salt.encode() not in log.read_bytes()


def test_build_used_the_salt(built_warehouse: DbtProject) -> None:
    rows = built_warehouse.query(
        "select resolution_name, company_id from marts.annuity_performance where is_temporary_id limit 50"
    )
    assert rows, "the sample should leave some names with temporary ids"
    for name, company_id in rows:
        assert company_id == temp_company_id(name, built_warehouse.salt)


def test_state_remembers_only_a_fingerprint_of_the_salt(built_warehouse: DbtProject) -> None:
    stored, pepper, print_ = built_warehouse.query(
        "select stored, pepper, fingerprint from enrichment.temp_id_salt_status()"
    )[0]
    assert stored is True and print_ == fingerprint(pepper, built_warehouse.salt)
    # Another role of the server may make temporary ids but cannot read the salt.
    conn = psycopg2.connect(dbname=built_warehouse.database)
    try:
        with conn.cursor() as cur:
            cur.execute("create role wdh_salt_probe nologin")
            cur.execute("grant usage on schema enrichment to wdh_salt_probe")
            cur.execute("set local role wdh_salt_probe")
            cur.execute("select enrichment.temp_id_for_normalized('某公司')")
            assert cur.fetchone()[0] == temp_id_for_normalized("某公司", built_warehouse.salt)
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("select salt from enrichment.temp_id_salt")
    finally:
        conn.rollback()
        conn.close()


def test_plain_dbt_build_gives_exactly_the_same_ids(built_warehouse: DbtProject, tmp_path: Path) -> None:
    before = built_warehouse.query("select temp_id, normalized_name from enrichment.temporary_ids order by 1")
    marts_before = built_warehouse.query(
        "select customer_name, company_id from marts.annuity_performance where is_temporary_id order by 1, 2"
    )
    for command in ("seed", "run", "build"):
        done = plain_dbt(built_warehouse, tmp_path, command, salt=built_warehouse.salt)
        assert done.returncode == 0, done.stdout[-2000:]
        assert "WARNING" not in done.stdout  # the salt is known: no public-default warning
        built_warehouse.messages.extend([done.stdout, done.stderr])
    after = built_warehouse.query("select temp_id, normalized_name from enrichment.temporary_ids order by 1")
    assert after == before and len(after) > 50
    names = built_warehouse.query("select count(distinct normalized_name), count(*) from enrichment.temporary_ids")
    assert names[0][0] == names[0][1]  # exactly one temporary id per name
    assert (
        built_warehouse.query(
            "select customer_name, company_id from marts.annuity_performance where is_temporary_id order by 1, 2"
        )
        == marts_before
    )
    # Neither the plain runs' nor the in-process (./run dbt) runs' target/, logs/ and messages hold it.
    files = [*tmp_path.rglob("*"), *built_warehouse.work_dir.rglob("*")]
    assert any(p.name == "partial_parse.msgpack" for p in files) and any(p.name == "dbt.log" for p in files)
    assert any(p.name == "run_results.json" for p in files) and any(p.suffix == ".sql" for p in files)
    assert_salt_nowhere(built_warehouse.salt, files, built_warehouse.messages)


@pytest.mark.parametrize("how", ["plain dbt build", "./run dbt build", "demo"])
def test_a_different_salt_fails_before_writing_anything(built_warehouse: DbtProject, tmp_path: Path, how: str) -> None:
    before = state_snapshot(built_warehouse)
    if how == "plain dbt build":
        done = plain_dbt(built_warehouse, tmp_path, "build", salt=OTHER_SALT)
        message = [line for line in done.stdout.splitlines() if "differs from the salt" in line]
    else:
        args = (
            ["python_enrich.run_dbt", "build"] if how == "./run dbt build" else ["python_enrich.demo", "--budget", "0"]
        )
        done = project_command(built_warehouse, *args, salt=OTHER_SALT)
        message = done.stderr.strip().splitlines()
        assert len(message) == 1, done.stderr
    assert done.returncode != 0
    assert len(message) == 1 and "python -m python_enrich.salt rotate" in message[0], done.stdout[-1500:]
    assert state_snapshot(built_warehouse) == before
    assert_salt_nowhere(OTHER_SALT, list(tmp_path.rglob("*")), [done.stdout, done.stderr])
    assert_salt_nowhere(built_warehouse.salt, list(tmp_path.rglob("*")), [done.stdout, done.stderr])


def test_unset_salt_is_refused_when_the_state_has_its_own(built_warehouse: DbtProject) -> None:
    done = project_command(built_warehouse, "python_enrich.salt", "status", salt="")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: WDH_ALIAS_SALT is not set (the public default")


def test_a_salt_that_does_not_reproduce_the_issued_ids_is_never_stored(built_warehouse: DbtProject) -> None:
    """A state from before the salt was stored: the first salt offered must remake its ids."""
    saved = built_warehouse.query("select salt, fingerprint from enrichment.temp_id_salt")[0]

    def store(salt: str) -> str:
        conn = psycopg2.connect(dbname=built_warehouse.database, options=libpq_options_with_salt("", salt))
        try:
            with conn, conn.cursor() as cur:
                cur.execute("update enrichment.temp_id_salt set salt = null, fingerprint = null")
                cur.execute("select enrichment.store_session_salt()")
                return str(cur.fetchone()[0])
        finally:
            conn.close()

    with pytest.raises(psycopg2.errors.RaiseException, match=r"\d+ of the \d+ temporary ids already issued"):
        store(OTHER_SALT)
    assert built_warehouse.query("select salt, fingerprint from enrichment.temp_id_salt")[0] == saved
    assert store(built_warehouse.salt) == "stored"
    assert built_warehouse.query("select fingerprint from enrichment.temp_id_salt")[0][0] == saved[1]


def test_commands_print_no_salt(built_warehouse: DbtProject) -> None:
    outputs = [
        project_command(built_warehouse, "python_enrich.salt", "status", salt=built_warehouse.salt),
        project_command(built_warehouse, "python_enrich.salt", "rotate", "--dry-run", salt=OTHER_SALT),
        project_command(built_warehouse, "python_enrich.pgcluster", "env", salt=built_warehouse.salt),
        project_command(built_warehouse, "python_enrich.normalize", "某公司", salt=built_warehouse.salt),
    ]
    assert [done.returncode for done in outputs] == [0, 0, 0, 0], [done.stderr for done in outputs]
    assert "would re-key" in outputs[1].stdout
    texts = [text for done in outputs for text in (done.stdout, done.stderr)]
    assert_salt_nowhere(built_warehouse.salt, [], texts)
    assert_salt_nowhere(OTHER_SALT, [], texts)


def test_rotation_rekeys_and_records_every_id(built_warehouse: DbtProject, tmp_path: Path) -> None:
    old = dict(built_warehouse.query("select temp_id, normalized_name from enrichment.temporary_ids"))
    requests = built_warehouse.query("select count(*) from enrichment.enrichment_requests where temp_id is not null")
    done = project_command(built_warehouse, "python_enrich.salt", "rotate", salt=NEW_SALT)
    assert done.returncode == 0, done.stderr
    assert f"re-keyed {len(old):,} temporary ids" in done.stdout
    rotations = built_warehouse.query(
        "select old_temp_id, new_temp_id, normalized_name from enrichment.temp_id_rotations"
    )
    assert len(rotations) == len(old)
    wrong = [r for r in rotations if old.get(r[0]) != r[2] or r[1] != temp_id_for_normalized(r[2], NEW_SALT)]
    print(f"rotation: {len(rotations)} ids re-keyed, {len(wrong)} wrong")
    assert wrong == []
    now = dict(built_warehouse.query("select normalized_name, temp_id from enrichment.temporary_ids"))
    assert now == {name: temp_id_for_normalized(name, NEW_SALT) for name in old.values()}
    stale = built_warehouse.query(
        "select count(*) from enrichment.enrichment_requests "
        "where temp_id is not null and temp_id <> enrichment.hmac_temp_id(normalized_name, %s)",
        (NEW_SALT,),
    )
    assert stale == [(0,)] and requests[0][0] > 0
    assert built_warehouse.query("select count(*) from enrichment.run_log where run_kind = 'salt'") == [(1,)]
    # The next build (plain dbt, new salt) uses the new ids; the old salt is now the different one.
    assert plain_dbt(built_warehouse, tmp_path, "build", salt=NEW_SALT).returncode == 0
    for name, company_id in built_warehouse.query(
        "select resolution_name, company_id from marts.annuity_performance where is_temporary_id limit 50"
    ):
        assert company_id == temp_company_id(name, NEW_SALT)
    assert plain_dbt(built_warehouse, tmp_path, "build", salt=built_warehouse.salt).returncode != 0
    assert_salt_nowhere(NEW_SALT, list(tmp_path.rglob("*")), [done.stdout, done.stderr])


@pytest.mark.slow  # the demo end to end: two minutes
def test_what_run_dbt_and_the_demo_print_holds_no_salt_or_token(tmp_path: Path) -> None:
    """The commands people watch, each in a subprocess with a distinctive salt and token set: the demo
    end to end as a user runs it (it loads its exports, builds, drains, builds again and prints its
    summary), then `./run dbt` and run_dbt with --debug (every SQL statement and connection event)."""
    salt, token = f"printed-salt-{secrets.token_hex(8)}", f"printed-token-{secrets.token_hex(12)}"
    with fresh_database("wdh_printed") as database:
        env = {k: v for k, v in os.environ.items() if k != "PGOPTIONS"}
        env.update(PGDATABASE=database, WDH_ALIAS_SALT=salt, WDH_EQC_TOKEN=token)

        def run(*command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                list(command), cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False, timeout=900
            )

        paths = ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
        outputs = [
            run(sys.executable, "-m", "python_enrich.demo", "--rows", "2000", "--seed", "3", "--budget", "5"),
            run("./run", "dbt", "build", "--debug", "--select", "stg_annuity__income", *paths),
            run(
                sys.executable,
                "-m",
                "python_enrich.run_dbt",
                "run",
                "--debug",
                "--select",
                "stg_annuity__income",
                *paths,
            ),
        ]
    assert [done.returncode for done in outputs] == [0, 0, 0], [done.stderr[-500:] for done in outputs]
    demo = outputs[0].stdout
    assert "python -m python_enrich.load annuity_performance sample_exports/" in demo  # as a user would
    assert "规模明细_sample_3.xlsx!规模明细 -> raw.annuity_performance: 2,000 rows" in demo
    assert "收入明细_sample_3.csv -> raw.annuity_income: 666 rows" in demo
    assert re.search(r"total rows\s+2,000\s+666", demo) and re.search(r"real company id on [\d,]+ of 2,666 rows", demo)
    assert "cache_plan_customer" in demo and "temporary" in demo
    assert "stg_annuity__income" in outputs[1].stdout and "stg_annuity__income" in outputs[2].stdout
    texts = [text for done in outputs for text in (done.stdout, done.stderr)]
    files = [*tmp_path.rglob("*"), *(PROJECT_DIR / "target").rglob("*"), *(PROJECT_DIR / "logs").rglob("*")]
    assert_salt_nowhere(salt, files, texts)
    assert_salt_nowhere(token, files, texts)
