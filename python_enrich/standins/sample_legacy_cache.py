"""The old warehouse's enrichment cache for the sample data, as `cache import` reads it.

The old warehouse cached the registry's first search hit for a name, with full confidence and no
evidence. For most names that hit is the company; for a company the registry lists only under
near names (or lists a near name first) it is another company, and a few hits were answered by the
registry as it was back then: stale wrong entries. Built from
the same seed as the sample and the sandbox registry, so the truth about every entry is known:
`true_company_id` is the company the entry's name really is (never written to the table).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from psycopg2 import sql

from python_enrich.standins.companies import Company
from python_enrich.standins.registry import Registry, build_registry

SCHEMA, TABLE = "enterprise", "enrichment_index"  # where the old warehouse kept it (cache import's defaults)
IN_OLD_CACHE = 0.85  # share of the sample's companies the old warehouse had looked up
STALE_KEPT = 0.35  # of the names whose first hit is wrong, the share it had cached (about 4% of entries)
OUTDATED = 0.03  # of the right first hits, the share the registry answered otherwise back then
PLAN_CUSTOMER_SHARE = 0.1  # companies with a plan + name entry as well


@dataclass(frozen=True)
class LegacyEntry:
    lookup_key: str
    lookup_type: str
    company_id: str
    confidence: Decimal
    source: str
    true_company_id: str  # the truth, for tests and the demo; not a column of the old table

    @property
    def is_stale(self) -> bool:
        return self.company_id != self.true_company_id


class SampleTruth(Protocol):
    """What this module reads of sample.Sample (named by its fields: sample.py imports this module)."""

    companies: list[Company]
    performance_truth: list[str | None]
    income_truth: list[str | None]


def _first_hit(registry: Registry, name: str) -> str | None:
    hits = registry.search(name)
    return str(hits[0]["companyId"]) if hits else None


def legacy_entries(sample: SampleTruth, seed: int) -> list[LegacyEntry]:
    """One customer_name entry per looked-up company (its name as the rows spell it most), and a
    plan_customer entry for some of them; each holds the registry's first search hit."""
    rng = random.Random(f"legacy-cache:{seed}")
    registry = Registry(build_registry(len(sample.companies), seed))
    seen = {t for t in [*sample.performance_truth, *sample.income_truth] if t is not None}
    entries: list[LegacyEntry] = []
    for company in sample.companies:
        if company.company_id not in seen or rng.random() >= IN_OLD_CACHE:
            continue
        hit = _first_hit(registry, company.name)
        if hit == company.company_id and rng.random() < OUTDATED:  # the registry's answer back then
            hit = rng.choice(sample.companies).company_id
        if hit is None or (hit != company.company_id and rng.random() >= STALE_KEPT):
            continue
        truth = company.company_id
        entries.append(LegacyEntry(company.name, "customer_name", hit, Decimal("1.0"), "eqc_search", truth))
        if rng.random() < PLAN_CUSTOMER_SHARE:
            key = f"{company.plan_codes[0]}|{company.name}"
            entries.append(LegacyEntry(key, "plan_customer", hit, Decimal("1.0"), "eqc_search", truth))
    return entries


def write_legacy_cache(cur: Any, entries: Iterable[LegacyEntry], schema: str = SCHEMA, table: str = TABLE) -> int:
    """(Re)create the old table and fill it; returns the rows written."""
    target = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    cur.execute(sql.SQL("drop table if exists {}").format(target))
    cur.execute(
        sql.SQL(
            "create table {} (lookup_key text, lookup_type text, company_id text, confidence numeric, source text)"
        ).format(target)
    )
    rows = [(e.lookup_key, e.lookup_type, e.company_id, e.confidence, e.source) for e in entries]
    cur.executemany(sql.SQL("insert into {} values (%s, %s, %s, %s, %s)").format(target), rows)
    return len(rows)
