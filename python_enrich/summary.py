"""The short human-readable summary of the warehouse's state, printed by the demo."""

from __future__ import annotations

from typing import Any

from python_enrich.request_queue import SCHEMA

# The documented company_id_source values, in resolution order.
TIERS = (
    "plan_override", "hardcode_override", "name_override", "cache_plan_customer", "cache_customer_name",
    "cache_former_name", "cache_plan_code", "existing_code", "temporary", "none",
)  # fmt: skip
DOMAINS = ("annuity_performance", "annuity_income")


def fetch_tier_counts(cur: Any) -> dict[tuple[str, str], int]:
    cur.execute("select domain_name, company_id_source, row_count from marts.resolution_statistics")
    return {(domain, tier): int(rows) for domain, tier, rows in cur.fetchall()}


def fetch_state_counts(cur: Any, schema: str = SCHEMA) -> dict[str, int]:
    cur.execute(
        f"select (select count(*) from {schema}.company_name_index), "  # noqa: S608 - schema is ours
        f"(select count(*) from {schema}.enrichment_requests where status = 'pending'), "
        f"(select count(*) from {schema}.temporary_ids where replaced_at is not null)"
    )
    cache, pending, replaced = cur.fetchone()
    return {"cache_entries": cache, "pending_requests": pending, "replaced_temp_ids": replaced}


def render(tiers: dict[tuple[str, str], int], state: dict[str, int]) -> str:
    totals = {domain: sum(n for (d, _), n in tiers.items() if d == domain) for domain in DOMAINS}
    lines = [f"{'resolved by':<22}{'performance':>14}{'income':>12}"]
    for tier in TIERS:
        counts = [tiers.get((domain, tier), 0) for domain in DOMAINS]
        if any(counts):
            lines.append(f"  {tier:<20}" + "".join(f"{n:>{w},}" for n, w in zip(counts, (14, 12), strict=True)))
    lines.append(
        f"  {'total rows':<20}" + "".join(f"{totals[d]:>{w},}" for d, w in zip(DOMAINS, (14, 12), strict=True))
    )
    all_rows = sum(totals.values()) or 1
    temporary = sum(tiers.get((d, "temporary"), 0) for d in DOMAINS)
    unresolved = temporary + sum(tiers.get((d, "none"), 0) for d in DOMAINS)
    lines.append(
        f"real company id on {all_rows - unresolved:,} of {all_rows:,} rows "
        f"({(all_rows - unresolved) / all_rows:.1%}); temporary ids on {temporary:,} ({temporary / all_rows:.1%})"
    )
    lines.append(
        f"cache: {state['cache_entries']:,} entries; queue: {state['pending_requests']:,} names waiting for "
        f"lookup; temporary ids replaced so far: {state['replaced_temp_ids']:,}"
    )
    return "\n".join(lines)
