"""Re-checking what we inherit: the drain's second job, after the names waiting for lookup.

Cache entries without recorded evidence (the old warehouse's import, registry entries made before
the evidence rules) are unverified: they never outrank a row's own real code, and each is looked up
again (one search, the same budget and rate limit as the waiting names). The registry's answer
decides one of three outcomes:

- confirmed: a candidate with evidence is the entry's company: the evidence is recorded and the
  entry becomes verified;
- contradicted: the evidence names another company, or the registry shows the entry's company
  under a name that is not this one (no former name either): the entry is retired (moved to
  retired_cache_entries, kept for audit, never used); a company the answer names with evidence is
  cached as a verified match, otherwise the entry's rows fall to the next tier;
- unsettled: nothing above (no candidates, the entry's company absent, evidence for several
  companies including it): the entry stays unverified, is tried again after the retry days, and
  `review --audit-cache` lists it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

from psycopg2.extensions import connection as Connection

from python_enrich.eqc.client import Candidate
from python_enrich.eqc.matching import EVIDENCE_CONFIDENCE, decide, evidence_for, match_kind
from python_enrich.request_queue import SCHEMA, upsert_cache

CONFIRMED, CONTRADICTED, UNSETTLED = "confirmed", "contradicted", "unsettled"
# Key types whose key names a company (plan_code entries cannot be checked by name).
CHECKABLE_KEY_TYPES = ("customer_name", "former_name", "plan_customer")

# An entry is due for a re-check while unverified, not leased, and not waiting after an unsettled one
# (statement_timestamp(), as request_queue.DUE_CONDITION says why).
DUE_RECHECK_CONDITION = f"""
    not is_verified
    and key_type in {CHECKABLE_KEY_TYPES!r}
    and (recheck_next_at is null or recheck_next_at <= statement_timestamp())
    and (recheck_lease_expires_at is null or recheck_lease_expires_at < statement_timestamp())
"""


@dataclass(frozen=True)
class RecheckClaim:
    key_type: str
    lookup_key: str
    company_id: str

    @property
    def name(self) -> str:
        """The normalized name the entry answers (a plan + name key without its plan)."""
        return self.lookup_key.split("|", 1)[1] if self.key_type == "plan_customer" else self.lookup_key


@dataclass(frozen=True)
class RecheckResult:
    outcome: str  # confirmed, contradicted or unsettled
    reason: str
    candidate: Candidate | None = None  # confirmed: the entry's company; contradicted: the one to cache
    evidence: str | None = None


def judge(
    name: str, company_id: str, candidates: list[Candidate], rejected: Collection[str] = frozenset()
) -> RecheckResult:
    """What the registry's candidates for `name` say about an entry claiming `company_id`."""
    if company_id in rejected:
        return RecheckResult(CONTRADICTED, "a person rejected this company for the name")
    verdict = decide(name, candidates, rejected)
    if verdict.outcome == "accept" and verdict.chosen is not None and verdict.chosen.evidence:
        chosen, evidence = verdict.chosen.candidate, verdict.chosen.evidence
        if chosen.company_id == company_id:
            return RecheckResult(CONFIRMED, f"evidence: {evidence}", chosen, evidence)
        return RecheckResult(
            CONTRADICTED, f"the registry names company {chosen.company_id} ({evidence})", chosen, evidence
        )
    with_evidence = {c.company_id for c in candidates if c.company_id not in rejected and evidence_for(name, c)}
    if with_evidence and company_id not in with_evidence:
        return RecheckResult(CONTRADICTED, f"evidence points at {len(with_evidence)} other companies")
    if with_evidence:
        return RecheckResult(UNSETTLED, f"evidence points at {len(with_evidence)} companies, this one among them")
    if any(c.company_id == company_id for c in candidates):
        return RecheckResult(CONTRADICTED, "the registry names this company otherwise (no former name matches)")
    return RecheckResult(
        UNSETTLED, "the registry's answer does not mention this company" if candidates else "no candidates"
    )


def recheck(
    claim: RecheckClaim,
    search: Callable[[str], list[Candidate]],
    former_names: Callable[[str], tuple[str, ...]],
    rejected: Collection[str] = frozenset(),
) -> RecheckResult:
    """One search for the entry's name; when the entry's company is listed without evidence and
    without former names, one business-info call learns them before judging (as the drain does)."""
    candidates = search(claim.name)
    result = judge(claim.name, claim.company_id, candidates, rejected)
    listed = next((c for c in candidates if c.company_id == claim.company_id), None)
    if result.outcome == CONFIRMED or listed is None or listed.former_names:
        return result
    learned = replace(listed, former_names=former_names(claim.company_id))
    return judge(claim.name, claim.company_id, [learned if c is listed else c for c in candidates], rejected)


CLAIM_RECHECK_SQL = f"""
with due as (
    select key_type, lookup_key
    from {SCHEMA}.company_name_index
    where {DUE_RECHECK_CONDITION}
    order by recheck_priority desc, key_type, lookup_key
    limit 1
    for update skip locked
)
update {SCHEMA}.company_name_index as cache
set recheck_lease_owner = %(owner)s,
    recheck_lease_expires_at = statement_timestamp() + %(lease_s)s * interval '1 second'
from due
where cache.key_type = due.key_type and cache.lookup_key = due.lookup_key
returning cache.key_type, cache.lookup_key, cache.company_id
"""  # noqa: S608 - the schema is our constant

_OWNED = "key_type = %(key_type)s and lookup_key = %(lookup_key)s and recheck_lease_owner = %(owner)s"


class RecheckQueue:
    """Claims and outcomes of re-checks for one worker's connection; each write is one transaction
    guarded by the lease owner, so a killed drain leaves leases the next one reclaims."""

    def __init__(self, conn: Connection, owner: str, lease_s: float, run_id: int | None = None) -> None:
        self.conn = conn
        self.owner = owner
        self.lease_s = lease_s
        self.run_id = run_id

    def claim_in(self, cur: Any) -> RecheckClaim | None:
        cur.execute(CLAIM_RECHECK_SQL, {"owner": self.owner, "lease_s": self.lease_s})
        row = cur.fetchone()
        return RecheckClaim(*row) if row else None

    def _params(self, claim: RecheckClaim, **extra: Any) -> dict[str, Any]:
        return {"key_type": claim.key_type, "lookup_key": claim.lookup_key, "owner": self.owner, **extra}

    def confirm(self, claim: RecheckClaim, candidate: Candidate, evidence: str) -> bool:
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                f"update {SCHEMA}.company_name_index set evidence = %(evidence)s, "  # noqa: S608
                "official_name = coalesce(official_name, %(official)s), "
                "credit_code = coalesce(credit_code, %(credit)s), "
                "confidence = %(confidence)s, recheck_outcome = 'confirmed', recheck_reason = null, "
                "rechecked_at = now(), recheck_lease_owner = null, recheck_lease_expires_at = null, updated_at = now() "
                f"where {_OWNED} and company_id = %(company_id)s",
                self._params(
                    claim, evidence=evidence, official=candidate.full_name, credit=candidate.credit_code,
                    confidence=EVIDENCE_CONFIDENCE[evidence], company_id=claim.company_id,
                ),
            )  # fmt: skip
            return cur.rowcount == 1

    def contradict(self, claim: RecheckClaim, result: RecheckResult) -> bool:
        """Retire the entry (kept in retired_cache_entries) and, when the answer names another
        company with evidence, cache that one under the same key, verified: both or neither."""
        replacement = result.candidate if result.evidence else None
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                f"with gone as (delete from {SCHEMA}.company_name_index where {_OWNED} "  # noqa: S608
                "and company_id = %(company_id)s returning *) "
                f"insert into {SCHEMA}.retired_cache_entries (key_type, lookup_key, company_id, official_name, "
                "credit_code, match_type, confidence, source, created_at, retired_reason, replaced_by_company_id, "
                "run_id) "
                "select key_type, lookup_key, company_id, official_name, credit_code, match_type, confidence, source, "
                "created_at, %(reason)s, %(replaced_by)s, %(run_id)s from gone",
                self._params(
                    claim, company_id=claim.company_id, reason=result.reason[:300],
                    replaced_by=replacement.company_id if replacement else None, run_id=self.run_id,
                ),
            )  # fmt: skip
            if cur.rowcount != 1:
                return False
            if replacement is not None:
                upsert_cache(
                    cur,
                    [(claim.key_type, claim.lookup_key, replacement.company_id, replacement.full_name,
                      replacement.credit_code, match_kind(replacement), EVIDENCE_CONFIDENCE[result.evidence],
                      "eqc", result.evidence)],
                )  # fmt: skip
            return True

    def unsettled(self, claim: RecheckClaim, reason: str, retry_days: float) -> bool:
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                f"update {SCHEMA}.company_name_index set recheck_outcome = 'unsettled', "  # noqa: S608
                "recheck_reason = %(reason)s, rechecked_at = now(), "
                "recheck_next_at = now() + %(days)s * interval '1 day', "
                f"recheck_lease_owner = null, recheck_lease_expires_at = null where {_OWNED}",
                self._params(claim, reason=reason[:300], days=retry_days),
            )
            return cur.rowcount == 1

    def release(self, claims: list[RecheckClaim], delay_s: float = 0.0) -> None:
        """Hand claims back (an error or a stop): due again after delay_s."""
        with self.conn, self.conn.cursor() as cur:
            for claim in claims:
                cur.execute(
                    f"update {SCHEMA}.company_name_index set recheck_lease_owner = null, "  # noqa: S608
                    "recheck_lease_expires_at = null, "
                    "recheck_next_at = case when %(delay)s > 0 then now() + %(delay)s * interval '1 second' "
                    f"else recheck_next_at end where {_OWNED}",
                    self._params(claim, delay=delay_s),
                )


def due_rechecks(cur: Any) -> int:
    """Unverified entries a drain would re-check now."""
    cur.execute(f"select count(*) from {SCHEMA}.company_name_index where {DUE_RECHECK_CONDITION}")  # noqa: S608
    return int(cur.fetchone()[0])


def verification_counts(cur: Any) -> dict[str, int]:
    """How many cache entries are verified, unverified (of which unsettled re-checks) and retired."""
    cur.execute(
        f"select count(*) filter (where is_verified), count(*) filter (where not is_verified), "  # noqa: S608
        "count(*) filter (where not is_verified and recheck_outcome = 'unsettled'), "
        f"(select count(*) from {SCHEMA}.retired_cache_entries), "
        f"(select count(*) from {SCHEMA}.retired_cache_entries where replaced_by_company_id is not null) "
        f"from {SCHEMA}.company_name_index"
    )
    verified, unverified, unsettled, retired, replaced = cur.fetchone()
    return {
        "verified": int(verified), "unverified": int(unverified), "unsettled": int(unsettled),
        "retired": int(retired), "retired_and_replaced": int(replaced),
    }  # fmt: skip
