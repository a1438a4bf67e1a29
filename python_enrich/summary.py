"""The short human-readable summary of the warehouse's state, printed by the demo."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from python_enrich.request_queue import SCHEMA

# The documented company_id_source values, in resolution order. cache_* tiers are entries that
# existed before the build; existing_code is a row's own code; backflow a key the same build learned
# from other rows' codes.
TIERS = (
    "plan_override", "hardcode_override", "name_override", "cache_plan_customer", "cache_customer_name",
    "cache_former_name", "cache_plan_code", "existing_code", "backflow", "temporary", "none",
)  # fmt: skip
DOMAINS = ("annuity_performance", "annuity_income")
# How a build's rows split by evidence: the cache hit rate counts pre-existing cache entries only.
EVIDENCE = ("cache", "existing_code", "backflow", "temporary")


def evidence_of(tier: str) -> str:
    """'cache' for every cache_* tier, else the tier itself."""
    return "cache" if tier.startswith("cache_") else tier


def split_by_evidence(tier_rows: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Rows per EVIDENCE class plus 'rows' (all rows), from (company_id_source, rows) pairs."""
    split = dict.fromkeys((*EVIDENCE, "rows"), 0)
    for tier, rows in tier_rows:
        split["rows"] += rows
        if evidence_of(tier) in split:
            split[evidence_of(tier)] += rows
    return split


def fetch_tier_counts(cur: Any) -> dict[tuple[str, str], int]:
    cur.execute("select domain_name, company_id_source, row_count from marts.resolution_statistics")
    return {(domain, tier): int(rows) for domain, tier, rows in cur.fetchall()}


def fetch_real_id_rows(cur: Any) -> int:
    """Rows of the last build with a real company id (not temporary, not NULL)."""
    cur.execute("select coalesce(sum(real_id_rows), 0) from marts.resolution_statistics")
    return int(cur.fetchone()[0])


def fetch_recent_builds(cur: Any, schema: str = SCHEMA, limit: int = 2) -> list[tuple[int, dict[str, int]]]:
    """The last `limit` successful builds, oldest first, as (run_id, split_by_evidence) from the run log."""
    cur.execute(
        f"select run_id, details from {schema}.run_log "  # noqa: S608 - schema is ours
        "where run_kind = 'build' and status = 'success' order by run_id desc limit %s",
        (limit,),
    )
    builds = [
        (run_id, split_by_evidence((e["company_id_source"], int(e["row_count"])) for e in details.get("tiers", [])))
        for run_id, details in cur.fetchall()
    ]
    return builds[::-1]


def fetch_state_counts(cur: Any, schema: str = SCHEMA) -> dict[str, int]:
    cur.execute(
        f"select (select count(*) from {schema}.company_name_index), "  # noqa: S608 - schema is ours
        f"(select count(*) from {schema}.enrichment_requests where status = 'pending'), "
        f"(select count(*) from {schema}.temporary_ids where replaced_at is not null), "
        f"(select count(*) from {schema}.company_name_index where is_verified), "
        f"(select count(*) from {schema}.retired_cache_entries), "
        f"(select count(*) from {schema}.retired_cache_entries where replaced_by_company_id is not null)"
    )
    cache, pending, replaced, verified, retired, retired_replaced = cur.fetchone()
    counts = {
        "cache_entries": cache, "pending_requests": pending, "replaced_temp_ids": replaced,
        "verified_entries": verified, "unverified_entries": cache - verified,
        "retired_entries": retired, "retired_and_replaced": retired_replaced,
    }  # fmt: skip
    cur.execute(
        "select count(*) filter (where resolved_by_name = 'account_name'), "
        "count(*) filter (where resolved_by_name is null) from ("
        "select resolved_by_name from marts.annuity_performance union all "
        "select resolved_by_name from marts.annuity_income) as resolved"
    )
    counts["account_name_rows"], counts["nameless_rows"] = cur.fetchone()
    cur.execute("select count(*), coalesce(sum(row_count), 0) from marts.unverified_cache_conflicts")
    counts["overruled_entries"], counts["overruled_rows"] = (int(n) for n in cur.fetchone())
    cur.execute(
        f"select details -> 'stats' from {schema}.run_log where run_kind = 'drain' "  # noqa: S608 - schema is ours
        "and status <> 'running' order by run_id desc limit 1"
    )
    last_drain = (cur.fetchone() or [None])[0] or {}
    for figure in ("rechecked", "recheck_confirmed", "recheck_contradicted", "recheck_replaced", "recheck_unsettled"):
        counts[f"last_drain_{figure}"] = int(last_drain.get(figure, 0))
    return counts


def render(
    tiers: dict[tuple[str, str], int],
    state: dict[str, int],
    real_id_rows: int,
    builds: Sequence[tuple[int, dict[str, int]]] = (),
) -> str:
    totals = {domain: sum(n for (d, _), n in tiers.items() if d == domain) for domain in DOMAINS}
    lines = [f"{'resolved by':<22}{'performance':>14}{'income':>12}"]
    for tier in TIERS:
        counts = [tiers.get((domain, tier), 0) for domain in DOMAINS]
        if any(counts):
            lines.append(f"  {tier:<20}" + "".join(f"{n:>{w},}" for n, w in zip(counts, (14, 12), strict=True)))
    lines.append(
        f"  {'total rows':<20}" + "".join(f"{totals[d]:>{w},}" for d, w in zip(DOMAINS, (14, 12), strict=True))
    )
    all_rows = sum(totals.values())
    temporary = sum(tiers.get((d, "temporary"), 0) for d in DOMAINS)
    lines.append(
        f"real company id on {real_id_rows:,} of {all_rows:,} rows ({percent(real_id_rows, all_rows)}); "
        f"temporary ids on {temporary:,} ({percent(temporary, all_rows)})"
    )
    if builds:
        lines.append("cache hit rate (rows answered by cache entries that existed before the build):")
    for index, (run_id, split) in enumerate(builds):
        lines.append(
            f"  {build_label(len(builds) - 1 - index) + f' (run {run_id}):':<26}{split['cache']:>8,} of "
            f"{split['rows']:,} rows ({percent(split['cache'], split['rows'])}); "
            f"own code {split['existing_code']:,}; backflow {split['backflow']:,}"
        )
    if "account_name_rows" in state:
        lines.append(
            f"rows resolved by their account name (年金账户名; the customer name is blank or a placeholder): "
            f"{state['account_name_rows']:,}; rows no name can resolve (totals rows, both names placeholders; "
            f"none, listed in data_quality_issues): {state['nameless_rows']:,}"
        )
    lines.append(
        f"cache: {state['cache_entries']:,} entries; queue: {state['pending_requests']:,} names waiting for "
        f"lookup; temporary ids replaced so far: {state['replaced_temp_ids']:,}"
    )
    if "verified_entries" in state:
        lines.append(
            f"rows whose own code overrules an unverified cache entry: {state.get('overruled_rows', 0):,} "
            f"({state.get('overruled_entries', 0):,} entries listed in marts.unverified_cache_conflicts, "
            f"re-checked first)"
        )
        lines.append(
            f"cache entries verified: {state['verified_entries']:,}; unverified (imported or without evidence, "
            f"re-checked by the drain after the waiting names): {state['unverified_entries']:,}; retired after a "
            f"re-check contradicted them: {state['retired_entries']:,} "
            f"({state['retired_and_replaced']:,} replaced by the company the registry names)"
        )
        last = {k.removeprefix("last_drain_"): v for k, v in state.items() if k.startswith("last_drain_")}
        lines.append(
            f"last drain's re-checks: {last['rechecked']:,} (confirmed {last['recheck_confirmed']:,}, "
            f"retired {last['recheck_contradicted']:,}, unsettled {last['recheck_unsettled']:,})"
        )
    return "\n".join(lines)


def build_label(age: int) -> str:
    """'last build', 'previous build', 'build 2 before the last', ..."""
    return ("last build", "previous build")[age] if age < 2 else f"build {age} before the last"


def percent(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"
