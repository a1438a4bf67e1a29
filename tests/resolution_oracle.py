"""A plain-Python oracle of the resolution order and of what backflow learns, fed from the same
overrides and from the cache as it stood before the build under test."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from python_enrich.temp_id import temp_id_for_normalized
from tests.conftest import DbtProject

CACHE_ORDER = ("plan_customer", "customer_name", "former_name", "plan_code")
LEARNED_ORDER = ("plan_customer", "customer_name")
MIN_CONFIDENCE = 0.6  # cache_min_confidence
MAJORITY = 0.9  # backflow_majority
DOMAINS = ("annuity_performance", "annuity_income")

CacheEntry = tuple[str, str, str, float, bool]  # key_type, lookup_key, company_id, confidence, is_verified
Resolution = tuple[str, str | None]  # company_id_source, company_id


def cache_snapshot(project: DbtProject) -> list[CacheEntry]:
    return [
        (t, k, c, float(conf), bool(verified))
        for t, k, c, conf, verified in project.query(
            "select key_type, lookup_key, company_id, confidence, is_verified from enrichment.company_name_index"
        )
    ]


@dataclass
class Oracle:
    overrides: dict[tuple[str, str], str | None]
    collective: set[str]
    cache: list[CacheEntry]  # the cache before the build
    salt: str

    @classmethod
    def of(cls, project: DbtProject, cache_before: list[CacheEntry]) -> Oracle:
        overrides = {
            (t, k): c
            for t, k, c in project.query(
                "select override_type, match_key, company_id from intermediate.int_company_id_overrides"
            )
        }
        collective = {p for (p,) in project.query("select plan_code from intermediate.int_collective_plans")}
        return cls(overrides, collective, cache_before, project.salt)

    def above_backflow(self, plan: str | None, normalized: str) -> Resolution | None:
        """What overrides and the usable cache say about (plan, normalized name), if anything."""
        answer = self.above_backflow_verified(plan, normalized)
        return None if answer is None else answer[:2]  # type: ignore[return-value]

    def above_backflow_verified(self, plan: str | None, normalized: str) -> tuple[str, str | None, bool] | None:
        """above_backflow, with whether the answer is verified (overrides are)."""
        plan_key = plan or ""
        if plan_key not in self.collective and ("plan", plan_key) in self.overrides:
            return "plan_override", self.overrides[("plan", plan_key)], True
        if ("hardcode", plan_key) in self.overrides:
            return "hardcode_override", self.overrides[("hardcode", plan_key)], True
        if normalized and ("name", normalized) in self.overrides:
            return "name_override", self.overrides[("name", normalized)], True
        usable = {(t, k): (c, verified) for t, k, c, conf, verified in self.cache if conf >= MIN_CONFIDENCE}
        keys = {
            "plan_customer": f"{plan_key}|{normalized}",
            "customer_name": normalized,
            "former_name": normalized,
            "plan_code": plan_key if plan_key not in self.collective else None,
        }
        for key_type in CACHE_ORDER:
            if (key_type, keys[key_type]) in usable:
                return f"cache_{key_type}", *usable[(key_type, keys[key_type])]
        return None

    def learned_keys(self, pairs: Iterable[tuple[str | None, str, str]]) -> dict[tuple[str, str], str]:
        """What backflow may learn from (plan, normalized name, real code) pairs."""
        ids: dict[tuple[str, str, str | None, str], Counter[str]] = defaultdict(Counter)
        for plan, normalized, code in pairs:
            if code and normalized:
                ids[("customer_name", normalized, None, normalized)][code] += 1
                if plan is not None:
                    ids[("plan_customer", f"{plan}|{normalized}", plan, normalized)][code] += 1
        same_key = {(t, k): c for t, k, c, _, _ in self.cache}
        learned = {}
        for (key_type, lookup_key, plan, normalized), counts in ids.items():
            top_count = max(counts.values())
            top_id = min(code for code, n in counts.items() if n == top_count)
            prevailing = self.above_backflow(plan, normalized)
            if prevailing is not None and prevailing[1] != top_id:
                continue
            if same_key.get((key_type, lookup_key), top_id) != top_id:
                continue
            if top_count >= MAJORITY * sum(counts.values()):
                learned[(key_type, lookup_key)] = top_id
        return learned

    def resolver(self, learned: dict[tuple[str, str], str]) -> Callable[[str | None, str, str | None], Resolution]:
        def resolve(plan: str | None, normalized: str, code: str | None) -> Resolution:
            if not normalized:  # no usable name: nothing answers the row
                return "none", None
            answer = self.above_backflow_verified(plan, normalized)
            if answer is not None:
                source, company_id, verified = answer
                if code and not verified and company_id != code:  # unverified: the row's own code wins
                    return "existing_code", code
                return source, company_id
            if code:
                return "existing_code", code
            for key_type, key in zip(LEARNED_ORDER, (f"{plan or ''}|{normalized}", normalized), strict=True):
                if (key_type, key) in learned:
                    return "backflow", learned[(key_type, key)]
            if normalized:
                return "temporary", temp_id_for_normalized(normalized, self.salt)
            return "none", None

        return resolve


def mart_rows(project: DbtProject, domain: str) -> list[tuple[object, ...]]:
    """plan_code, resolution name, its normalized form, existing code, company_id, source, is_temporary_id."""
    return project.query(
        f"select plan_code, resolution_name, resolution_name_normalized, existing_company_id, company_id, "
        f"company_id_source, is_temporary_id from marts.{domain}"
    )


def check_build(project: DbtProject, cache_before: list[CacheEntry]) -> tuple[Counter[str], list[object]]:
    """Every row of both domains against the oracle: (rows per tier, wrong rows). Also checks that
    the model learned exactly the keys the oracle learns."""
    oracle = Oracle.of(project, cache_before)
    rows = {domain: mart_rows(project, domain) for domain in DOMAINS}
    learned = oracle.learned_keys((r[0], r[2], r[3]) for domain_rows in rows.values() for r in domain_rows)  # type: ignore[misc]
    model_learned = {
        (t, k): c
        for t, k, c in project.query(
            "select key_type, lookup_key, company_id from intermediate.int_existing_code_backflow where is_learned"
        )
    }
    wrong: list[object] = [("learned", key) for key in set(learned.items()) ^ set(model_learned.items())]
    resolve = oracle.resolver(learned)
    tiers: Counter[str] = Counter()
    for domain_rows in rows.values():
        for plan, _, normalized, code, company_id, source, is_temporary in domain_rows:
            tiers[source] += 1  # type: ignore[index]
            expected = resolve(plan, normalized, code)  # type: ignore[arg-type]
            if expected != (source, company_id) or is_temporary != (source == "temporary"):
                wrong.append((plan, normalized, code, source, company_id, expected))
    return tiers, wrong
