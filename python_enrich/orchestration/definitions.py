"""defs: the assets, jobs, schedules and sensor of the cycle, with the dbt resource."""

from __future__ import annotations

from dagster import Definitions

from python_enrich.orchestration.automation import AutomationSettings, build_automation
from python_enrich.orchestration.dbt_assets import DBT_PROJECT, enrichment_dbt_assets, rebuild_after_drain
from python_enrich.orchestration.dbt_resource import SaltedDbtCliResource, dbt_executable
from python_enrich.orchestration.drain_asset import company_id_drain

jobs, schedules, sensors = build_automation(AutomationSettings.from_env())

defs = Definitions(
    assets=[enrichment_dbt_assets, company_id_drain, rebuild_after_drain],
    jobs=jobs,
    schedules=schedules,
    sensors=sensors,
    resources={"dbt": SaltedDbtCliResource(project_dir=DBT_PROJECT, dbt_executable=dbt_executable())},
)
