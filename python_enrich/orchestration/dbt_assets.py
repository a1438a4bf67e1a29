"""Every dbt seed and model as an asset, dbt tests as asset checks; and the rebuild after the drain.

The rebuild is its own asset because a model cannot be both upstream of the drain (it queues the
names) and downstream of it (it picks up the answers): it runs `dbt build` over the models that read
the cache, and records their new materializations and test results on their assets.
"""

# No `from __future__ import annotations`: Dagster reads the context and config annotations at runtime.

from collections.abc import Iterator
from typing import Any

import psycopg2
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset
from dagster_dbt import dbt_assets, get_asset_key_for_model

from python_enrich import db
from python_enrich.errors import first_line
from python_enrich.orchestration.dbt_resource import EnrichmentTranslator, SaltedDbtCliResource, prepared_project
from python_enrich.request_queue import SCHEMA

DBT_PROJECT = prepared_project()
TRANSLATOR = EnrichmentTranslator()
# The models whose answers a drain can change: everything downstream of the cache it writes.
REBUILD_SELECTION = "source:enrichment.company_name_index+"
DRAIN_KEY = AssetKey("company_id_drain")
REBUILD_KEY = AssetKey("rebuild_after_drain")


@dbt_assets(manifest=DBT_PROJECT.manifest_path, project=DBT_PROJECT, dagster_dbt_translator=TRANSLATOR)
def enrichment_dbt_assets(context: AssetExecutionContext, dbt: SaltedDbtCliResource) -> Iterator[Any]:
    """dbt build: seeds, resolution, backflow, the queue, reports, and their tests."""
    yield from dbt.cli(["build"], context=context).stream()


UNRESOLVED_NAMES_KEY = get_asset_key_for_model([enrichment_dbt_assets], "unresolved_names")


def rebuild_figures() -> dict[str, Any]:
    """What the rebuild left: temporary ids replaced in total, and its run-log row."""
    conn = db.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select count(*) from marts.temp_id_replacements")
            replaced = int(cur.fetchone()[0])
            cur.execute(f"select max(run_id) from {SCHEMA}.run_log where run_kind = 'build'")  # noqa: S608
            run_id = cur.fetchone()[0]
    finally:
        conn.close()
    return {"temporary ids replaced": replaced, "run_log build run_id": run_id}


@asset(key=REBUILD_KEY, deps=[DRAIN_KEY], kinds={"dbt", "postgres"})
def rebuild_after_drain(context: AssetExecutionContext, dbt: SaltedDbtCliResource) -> MaterializeResult:
    """dbt build of the models that read the cache: temporary ids the drain answered
    are replaced by real ones (marts.temp_id_replacements)."""
    invocation = dbt.cli(
        ["build", "--select", REBUILD_SELECTION],
        manifest=DBT_PROJECT.manifest_path,
        dagster_dbt_translator=TRANSLATOR,
    )
    rebuilt = 0
    # Without a dbt_assets context, dagster-dbt gives materializations and check evaluations of
    # the dbt assets themselves: logged here, the models show when they were last rebuilt.
    for event in invocation.stream():
        context.log_event(event)
        rebuilt += 1
    try:
        figures = rebuild_figures()
    except psycopg2.Error as error:  # the build succeeded; only the figures are missing
        context.log.warning(f"rebuild figures unavailable: {first_line(error)}")
        figures = {}
    return MaterializeResult(metadata={"dbt events": rebuilt, **figures})
