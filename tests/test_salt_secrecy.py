"""The temp-id salt reaches PostgreSQL but never dbt's target/, logs or output."""

from __future__ import annotations

from python_enrich.pgcluster import CLUSTER_DIR
from python_enrich.temp_id import temp_company_id
from tests.conftest import DbtProject


def test_build_used_the_salt(built_warehouse: DbtProject) -> None:
    rows = built_warehouse.query(
        "select customer_name, company_id from marts.annuity_performance where is_temporary_id limit 50"
    )
    assert rows, "the sample should leave some names with temporary ids"
    for name, company_id in rows:
        assert company_id == temp_company_id(name, built_warehouse.salt)


def test_salt_is_in_no_artifact_log_or_message(built_warehouse: DbtProject) -> None:
    salt = built_warehouse.salt.encode()
    files = [p for p in built_warehouse.work_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sql" for p in files) and any(p.name == "dbt.log" for p in files)
    leaking = [str(p) for p in files if salt in p.read_bytes()]
    assert leaking == []
    assert all(built_warehouse.salt not in message for message in built_warehouse.messages)
    server_log = CLUSTER_DIR / "server.log"  # the private cluster's log, when tests run on it
    if server_log.exists():
        assert salt not in server_log.read_bytes()
