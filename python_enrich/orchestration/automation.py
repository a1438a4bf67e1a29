"""Jobs, the two schedules and the sensor that start the cycle without a person.

- enrichment_cycle: every asset (dbt build, drain, rebuild); monthly by default, and when the sensor
  sees a month loaded or replaced.
- drain_and_rebuild: the drain and the rebuild; daily by default when names are waiting, and when
  the sensor sees names queued since its last look.
Schedules are configurable through the environment (AutomationSettings.from_env, read when Dagster
loads the code location); their runs carry the drain's budget in run config.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg2
from dagster import (
    AssetSelection,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from python_enrich import db
from python_enrich.errors import first_line
from python_enrich.orchestration.dbt_assets import DRAIN_KEY, REBUILD_KEY
from python_enrich.orchestration.drain_asset import DEFAULT_BUDGET
from python_enrich.orchestration.warehouse_state import changed_months, loaded_months, waiting_names

CYCLE_JOB = "enrichment_cycle"
DRAIN_JOB = "drain_and_rebuild"
# Runs that contain the drain carry this tag; the run queue admits one at a time (docs/orchestration.md).
DRAIN_TAG = "python_enrich/eqc_drain"
ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


@dataclass(frozen=True)
class AutomationSettings:
    cycle_cron: str = "0 6 2 * *"  # monthly, on the 2nd: the month's exports have arrived
    drain_cron: str = "0 7 * * *"  # daily
    timezone: str = "UTC"
    drain_budget: int = DEFAULT_BUDGET
    sensor_interval_s: int = 300
    enabled: bool = True  # schedules and sensor start as soon as the Dagster daemon runs

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AutomationSettings:
        """WDH_CYCLE_CRON, WDH_DRAIN_CRON, WDH_SCHEDULE_TIMEZONE, WDH_DRAIN_BUDGET,
        WDH_SENSOR_INTERVAL_S, WDH_AUTOMATION (on/off); unset ones keep the defaults."""
        env = os.environ if env is None else env
        default = cls()

        def number(name: str, fallback: int, low: int) -> int:
            text = env.get(name, "").strip()
            if not text:
                return fallback
            if not text.isdigit() or int(text) < low:
                raise ValueError(f"{name} must be a whole number >= {low}, got {text[:20]!r}")
            return int(text)

        switch = env.get("WDH_AUTOMATION", "on").strip().lower()
        if switch not in ("on", "off"):
            raise ValueError(f"WDH_AUTOMATION must be on or off, got {switch[:20]!r}")
        return cls(
            cycle_cron=env.get("WDH_CYCLE_CRON", "").strip() or default.cycle_cron,
            drain_cron=env.get("WDH_DRAIN_CRON", "").strip() or default.drain_cron,
            timezone=env.get("WDH_SCHEDULE_TIMEZONE", "").strip() or default.timezone,
            drain_budget=number("WDH_DRAIN_BUDGET", default.drain_budget, 0),
            sensor_interval_s=number("WDH_SENSOR_INTERVAL_S", default.sensor_interval_s, 30),
            enabled=switch == "on",
        )

    def drain_run_config(self) -> dict[str, Any]:
        return {"ops": {DRAIN_KEY.to_python_identifier(): {"config": {"budget": self.drain_budget}}}}


@dataclass
class SensorCursor:
    """What the sensor saw last: each loaded month's fingerprint, and the newest request it acted on."""

    months: dict[str, str] = field(default_factory=dict)
    last_request_id: int = 0

    @classmethod
    def parse(cls, text: str | None) -> SensorCursor:
        try:
            data = json.loads(text or "{}")
            return cls(dict(data.get("months", {})), int(data.get("last_request_id", 0)))
        except (ValueError, TypeError, AttributeError):
            return cls()  # an unreadable cursor: look at everything again

    def dump(self) -> str:
        return json.dumps({"months": self.months, "last_request_id": self.last_request_id}, sort_keys=True)


def build_jobs() -> tuple[UnresolvedAssetJobDefinition, UnresolvedAssetJobDefinition]:
    cycle = define_asset_job(
        CYCLE_JOB,
        selection=AssetSelection.all(),  # every asset and its checks; sources are not materialized
        description="The whole cycle: dbt build, drain, rebuild of the models whose answers changed.",
        tags={DRAIN_TAG: "1"},
    )
    drain = define_asset_job(
        DRAIN_JOB,
        selection=AssetSelection.assets(DRAIN_KEY, REBUILD_KEY),
        description="Look waiting names up within the budget, then rebuild the models whose answers changed.",
        tags={DRAIN_TAG: "1"},
    )
    return cycle, drain


def _run_in_progress(context: SensorEvaluationContext) -> bool:
    for job in (CYCLE_JOB, DRAIN_JOB):
        if context.instance.get_run_records(filters=RunsFilter(job_name=job, statuses=ACTIVE), limit=1):
            return True
    return False


def build_automation(
    settings: AutomationSettings,
) -> tuple[list[UnresolvedAssetJobDefinition], list[ScheduleDefinition], list[SensorDefinition]]:
    cycle, drain = build_jobs()
    schedule_status = DefaultScheduleStatus.RUNNING if settings.enabled else DefaultScheduleStatus.STOPPED
    sensor_status = DefaultSensorStatus.RUNNING if settings.enabled else DefaultSensorStatus.STOPPED
    run_config = settings.drain_run_config()

    @schedule(
        name="monthly_cycle",
        job=cycle,
        cron_schedule=settings.cycle_cron,
        execution_timezone=settings.timezone,
        default_status=schedule_status,
        description=f"The whole cycle ({settings.cycle_cron}, {settings.timezone}); drain budget "
        f"{settings.drain_budget}.",
    )
    def monthly_cycle(context: ScheduleEvaluationContext) -> RunRequest:
        return RunRequest(run_config=run_config, tags={"python_enrich/trigger": "monthly_cycle"})

    @schedule(
        name="daily_drain",
        job=drain,
        cron_schedule=settings.drain_cron,
        execution_timezone=settings.timezone,
        default_status=schedule_status,
        description=f"Drain within budget {settings.drain_budget} when names are waiting, then rebuild "
        f"({settings.drain_cron}, {settings.timezone}).",
    )
    def daily_drain(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        try:
            conn = db.connect()
            try:
                waiting = waiting_names(conn)
            finally:
                conn.close()
        except psycopg2.Error as error:
            return SkipReason(f"the warehouse is unreachable: {first_line(error)}")
        if waiting.due == 0:
            return SkipReason("no names are waiting for lookup")
        return RunRequest(run_config=run_config, tags={"python_enrich/trigger": "daily_drain"})

    @sensor(
        name="new_month_or_waiting_names",
        jobs=[cycle, drain],
        minimum_interval_seconds=settings.sensor_interval_s,
        default_status=sensor_status,
        description="Starts the cycle when a month is loaded or replaced, the drain when names were queued "
        "since its last look.",
    )
    def new_month_or_waiting_names(context: SensorEvaluationContext) -> RunRequest | SkipReason:
        seen = SensorCursor.parse(context.cursor)
        try:
            conn = db.connect()
            try:
                months, waiting = loaded_months(conn), waiting_names(conn)
            finally:
                conn.close()
        except psycopg2.Error as error:
            return SkipReason(f"the warehouse is unreachable: {first_line(error)}")
        changed = changed_months(seen.months, months)
        if changed:
            context.update_cursor(SensorCursor(months, max(seen.last_request_id, waiting.newest_request_id)).dump())
            key = hashlib.sha256(json.dumps({k: months[k] for k in changed}, sort_keys=True).encode()).hexdigest()
            shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
            return RunRequest(
                job_name=CYCLE_JOB,
                run_key=f"months:{key[:16]}",
                run_config=run_config,
                tags={"python_enrich/trigger": "new month", "python_enrich/months": shown[:200]},
            )
        if waiting.due and waiting.newest_request_id > seen.last_request_id:
            if _run_in_progress(context):  # its drain may take these names; look again next tick
                return SkipReason(f"{waiting.due} names are waiting; a cycle or drain run is in progress")
            context.update_cursor(SensorCursor(months, waiting.newest_request_id).dump())
            return RunRequest(
                job_name=DRAIN_JOB,
                run_key=f"names:{waiting.newest_request_id}",
                run_config=run_config,
                tags={"python_enrich/trigger": "names waiting"},
            )
        context.update_cursor(SensorCursor(months, seen.last_request_id).dump())
        return SkipReason("no month loaded or replaced, and no names queued since the last look")

    return [cycle, drain], [monthly_cycle, daily_drain], [new_month_or_waiting_names]
