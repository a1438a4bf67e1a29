"""The drain as an asset downstream of unresolved_names: python_enrich.drain's Drain, run once.

Its run config carries the command's options (budget, concurrency, rate limit, details) with the
command's defaults; its figures are the asset's metadata. The token (WDH_EQC_TOKEN or the env file)
and the registry (WDH_EQC_BASE_URL) come from the environment, never from run config, so that
neither reaches Dagster's storage. Failures end the asset with the command's one-line reason and
no retry: an expired token needs a person, and a registry outage leaves the names pending (claims
are handed back) for the next schedule or sensor tick.
"""

# No `from __future__ import annotations`: Dagster reads the context and config annotations at runtime.

import argparse
from typing import Any

import psycopg2
from dagster import AssetExecutionContext, Config, Failure, MaterializeResult, asset
from pydantic import Field

from python_enrich.cli_types import rate_limit
from python_enrich.drain import CAPTURE_COMMAND, MAX_CONCURRENCY, Drain, DrainOptions, DrainSetupError, DrainStats
from python_enrich.eqc.client import BadBaseURL, base_url_from_env, check_base_url
from python_enrich.errors import first_line
from python_enrich.orchestration.dbt_assets import DRAIN_KEY, UNRESOLVED_NAMES_KEY
from python_enrich.safe_output import for_terminal
from python_enrich.token_store import read_token

# Dagster's concurrency pool of the drain: limit 1 (docs/orchestration.md), so two drains never
# run at once, on top of the queue's own claims and shared rate limit.
DRAIN_POOL = "eqc_drain"
DEFAULT_BUDGET = 100  # the command requires --budget; the demo's default
DEFAULTS = DrainOptions(budget=DEFAULT_BUDGET)


class DrainConfig(Config):
    """python -m python_enrich.drain's options, with its defaults."""

    budget: int = Field(default=DEFAULT_BUDGET, ge=0, description="most registry lookups (names) this run; 0: none")
    concurrency: int = Field(
        default=DEFAULTS.concurrency, ge=1, le=MAX_CONCURRENCY, description="requests in flight at once"
    )
    rate_limit: str = Field(
        default=f"{DEFAULTS.rate_limit[0]}/{DEFAULTS.rate_limit[1]:g}",
        description="R/W: R calls per W seconds, shared by all drains",
    )
    details: bool = Field(default=False, description="also fetch business info and labels; keep raw responses")

    def options(self) -> DrainOptions:
        try:
            limit = rate_limit(self.rate_limit)
            base_url = check_base_url(base_url_from_env())
        except (argparse.ArgumentTypeError, BadBaseURL) as error:
            raise Failure(description=f"drain not started: {for_terminal(error)}", allow_retries=False) from None
        return DrainOptions(
            budget=self.budget,
            concurrency=self.concurrency,
            rate_limit=limit,
            details=self.details,
            base_url=base_url,
            progress="none",  # Dagster shows the figures; no progress lines in its compute logs
        )


def figures(stats: DrainStats, drain: Drain) -> dict[str, Any]:
    """The drain's figures, named as the command prints them."""
    return {
        "looked up": stats.lookups,
        "found": stats.found,
        "for review": stats.needs_review,
        "not found": stats.not_found,
        "errors": stats.retried_later + stats.failed,
        "registry calls": stats.calls,
        # The re-checks of unverified (imported) cache entries, after the waiting names.
        "cache entries re-checked": stats.rechecked,
        "re-check confirmed": stats.recheck_confirmed,
        "re-check retired": stats.recheck_contradicted,
        "re-check unsettled": stats.recheck_unsettled,
        "due before": drain.queue_total,
        "seconds": stats.wall_s,
        "run_log run_id": drain.run_id,
    }


def run_drain(config: DrainConfig) -> dict[str, Any]:
    """One drain; its figures, or Failure with the command's one-line reason."""
    drain = Drain(config.options(), read_token())
    try:
        stats = drain.run()
    except DrainSetupError as error:
        raise Failure(description=for_terminal(error), allow_retries=False) from None
    except psycopg2.OperationalError as error:
        raise Failure(
            description=f"cannot reach PostgreSQL ({for_terminal(first_line(error))})", allow_retries=False
        ) from None
    result = figures(stats, drain)
    reason = None
    if stats.stopped_because == "token expired":
        reason = f"the EQC token expired during the run: run {CAPTURE_COMMAND}, then drain again"
    elif drain.all_lookups_failed():
        reason = (
            f"no lookup succeeded ({stats.retried_later} given back, {stats.failed} failed): "
            "the names stay pending for the next run"
        )
    elif stats.stopped_because:
        reason = f"the drain stopped: {stats.stopped_because}"
    if reason:
        raise Failure(description=reason, metadata=result, allow_retries=False)
    return result


@asset(key=DRAIN_KEY, deps=[UNRESOLVED_NAMES_KEY], pool=DRAIN_POOL, kinds={"python"})
def company_id_drain(context: AssetExecutionContext, config: DrainConfig) -> MaterializeResult:
    """Look queued names up in the EQC registry within the budget; accepted answers go into the cache."""
    result = run_drain(config)
    context.log.info(
        "drain: %s looked up, %s found, %s for review, %s not found, %s errors",
        *(result[k] for k in ("looked up", "found", "for review", "not found", "errors")),
    )
    return MaterializeResult(metadata=result)
