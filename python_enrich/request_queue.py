"""The lookup queue (enrichment.enrichment_requests) and the shared rate limit, in PostgreSQL.

Every state change is one short transaction, guarded by the lease owner, so a drain killed at any
point leaves requests that the next drain reclaims once their lease expires, and nothing else.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from psycopg2.extensions import connection as Connection
from psycopg2.extras import execute_values

log = logging.getLogger(__name__)

# The schema dbt's on-run-start creates for the durable state (dbt var enrichment_schema).
SCHEMA = "enrichment"


@dataclass(frozen=True)
class Claim:
    request_id: int
    normalized_name: str
    raw_name_example: str | None
    attempts: int


# statement_timestamp(), not now(): a claim runs in the rate limit's transaction, which began before
# it waited for the limit's lock; now() is when it began, so a request given back meanwhile would not
# look due yet (a drain's last worker could stop with it waiting) and a lease would start in the past.
DUE_CONDITION = """
    (status = 'pending' and next_attempt_at <= statement_timestamp())
    or (status = 'in_progress' and lease_expires_at < statement_timestamp())
"""

CLAIM_SQL = f"""
with due as (
    select request_id, status as previous_status
    from {SCHEMA}.enrichment_requests
    where {DUE_CONDITION}
    order by priority desc, request_id
    limit %(limit)s
    for update skip locked
)
update {SCHEMA}.enrichment_requests as request
set status = 'in_progress', attempts = request.attempts + 1, lease_owner = %(owner)s,
    lease_expires_at = statement_timestamp() + %(lease_s)s * interval '1 second', updated_at = now()
from due
where request.request_id = due.request_id
returning request.request_id, request.normalized_name, request.raw_name_example, request.attempts,
    due.previous_status
"""  # noqa: S608 - the schema is our constant

# The one statement every Python writer of the cache uses: it never replaces a more confident entry.
UPSERT_CACHE_SQL = f"""
insert into {SCHEMA}.company_name_index as cache
    (key_type, lookup_key, company_id, official_name, credit_code, match_type, confidence, source, evidence)
values %s
on conflict (key_type, lookup_key) do update
set company_id = excluded.company_id, official_name = excluded.official_name,
    credit_code = excluded.credit_code, match_type = excluded.match_type,
    confidence = excluded.confidence, source = excluded.source, evidence = excluded.evidence, updated_at = now()
where excluded.confidence > cache.confidence
returning (xmax = 0) as inserted
"""  # noqa: S608


def upsert_cache(cur: Any, entries: list[tuple[Any, ...]]) -> tuple[int, int]:
    """Write (key_type, lookup_key, company_id, official_name, credit_code, match_type, confidence,
    source, evidence) rows; returns (inserted, replaced); entries the cache holds more confidently are kept."""
    if not entries:
        return 0, 0
    results = execute_values(cur, UPSERT_CACHE_SQL, entries, fetch=True)
    inserted = sum(1 for (is_new,) in results if is_new)
    return inserted, len(results) - inserted


class RequestQueue:
    """Claims and outcomes for one worker's connection."""

    def __init__(self, conn: Connection, owner: str, lease_s: float, max_attempts: int | None = None) -> None:
        self.conn = conn
        self.owner = owner
        self.lease_s = lease_s
        self.max_attempts = max_attempts

    def claim_in(self, cur: Any) -> Claim | None:
        """Claim the highest-priority due request inside the caller's transaction.  A request with
        no attempt left (its last one was interrupted and its lease expired, or the maximum was
        lowered) fails here, attempts unchanged, instead of being tried again."""
        while True:
            cur.execute(CLAIM_SQL, {"limit": 1, "owner": self.owner, "lease_s": self.lease_s})
            row = cur.fetchone()
            if row is None:
                return None
            claim = Claim(*row[:4])
            if self.max_attempts is None or claim.attempts <= self.max_attempts:
                return claim
            used = claim.attempts - 1
            log.warning("request %s failed: no attempt left (%s used)", claim.request_id, used)
            why = "its last attempt did not finish" if row[4] == "in_progress" else "no attempt left"
            cur.execute(
                f"update {SCHEMA}.enrichment_requests set status = 'failed', attempts = %(used)s, "  # noqa: S608
                "lease_owner = null, lease_expires_at = null, updated_at = now(), "
                "last_error = left(concat_ws('; before: ', %(reason)s, last_error), 500) where request_id = %(id)s",
                {"used": used, "id": claim.request_id,
                 "reason": f"failed after {used} of at most {self.max_attempts} attempts ({why})"},
            )  # fmt: skip

    def _finish(self, cur: Any, claim: Claim, status: str, **fields: Any) -> bool:
        assignments = ", ".join(f"{name} = %({name})s" for name in fields)
        cur.execute(
            f"update {SCHEMA}.enrichment_requests set status = %(status)s, lease_owner = null, "  # noqa: S608
            f"lease_expires_at = null, updated_at = now(){', ' + assignments if assignments else ''} "
            "where request_id = %(request_id)s and lease_owner = %(owner)s and status = 'in_progress'",
            {"status": status, "request_id": claim.request_id, "owner": self.owner, **fields},
        )
        return cur.rowcount == 1

    def found(
        self,
        claim: Claim,
        company_id: str,
        entries: list[tuple[Any, ...]],
        responses: list[tuple[Any, ...]],
        evidence: str | None = None,
    ) -> bool:
        """Cache entries (key_type, key, company_id, official_name, credit_code, match_type,
        confidence, evidence) and the request's completion with its evidence in one transaction:
        both or neither.  A drain whose lease was reclaimed writes neither (False)."""
        with self.conn, self.conn.cursor() as cur:
            if not self._finish(cur, claim, "done", resolved_company_id=company_id, last_error=None, evidence=evidence):
                return False  # the lease first: a late answer must not reach the cache either
            upsert_cache(cur, [(*entry[:7], "eqc", entry[7]) for entry in entries])
            for company, endpoint, key, body in responses:
                cur.execute(
                    f"insert into {SCHEMA}.eqc_responses (company_id, endpoint, request_key, body) "  # noqa: S608
                    "values (%s, %s, %s, %s) on conflict (endpoint, request_key) do update "
                    "set body = excluded.body, company_id = excluded.company_id, fetched_at = now()",
                    (company, endpoint, key, json.dumps(body, ensure_ascii=False)),
                )
            return True

    def needs_review(self, claim: Claim, candidates: list[dict[str, Any]], reason: str) -> bool:
        """No candidate carries evidence: keep the top ones for a person; the name resolves nothing."""
        with self.conn, self.conn.cursor() as cur:
            return self._finish(
                cur, claim, "needs_review", review_candidates=json.dumps(candidates, ensure_ascii=False),
                review_reason=reason, evidence=None,
            )  # fmt: skip

    def not_found(self, claim: Claim, retry_after_days: float, reason: str | None = None) -> bool:
        with self.conn, self.conn.cursor() as cur:
            cur.execute("select now() + %s * interval '1 day'", (retry_after_days,))
            return self._finish(
                cur, claim, "not_found", next_attempt_at=cur.fetchone()[0], last_error=None, review_reason=reason
            )

    def rejected_ids(self, name: str) -> set[str]:
        """Companies a person rejected for this name (review): never accepted for it again."""
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                f"select company_id from {SCHEMA}.review_decisions "  # noqa: S608
                "where normalized_name = %s and decision = 'reject' and undone_at is null",
                (name,),
            )
            return {company_id for (company_id,) in cur.fetchall()}

    def retry_later(self, claim: Claim, delay_s: float, error: str, max_attempts: int) -> str:
        """Give the request back for later, or fail it after its last attempt; returns the status."""
        status = "failed" if claim.attempts >= max_attempts else "pending"
        with self.conn, self.conn.cursor() as cur:
            cur.execute("select now() + %s * interval '1 second'", (delay_s,))
            self._finish(cur, claim, status, next_attempt_at=cur.fetchone()[0], last_error=error[:500])
        return status

    def release(self, claims: list[Claim]) -> None:
        """Hand claims back untouched (the attempt did not happen): used when the token dies."""
        if not claims:
            return
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                f"update {SCHEMA}.enrichment_requests set status = 'pending', attempts = greatest(attempts - 1, 0), "  # noqa: S608
                "lease_owner = null, lease_expires_at = null, updated_at = now() "
                "where request_id = any(%s) and lease_owner = %s and status = 'in_progress'",
                ([c.request_id for c in claims], self.owner),
            )


class Claimer(Protocol):
    """Anything that claims its next piece of work inside a transaction (the lookup queue, the
    cache re-checks), or returns None when nothing is due."""

    def claim_in(self, cur: Any) -> Any: ...


class SharedRateLimit:
    """At most `limit` EQC calls per `window_s` seconds across every drain on this database.

    Each call takes a slot under a transaction-level advisory lock, stamped with the database's
    clock, so processes on different machines agree.  A small margin keeps us under the server's
    own sliding window despite network jitter.
    """

    LOCK_KEY = 0x45514301  # "EQC" + 1

    def __init__(
        self, conn: Connection, limit: int, window_s: float, run_id: int | None, margin_s: float = 0.15
    ) -> None:
        self.conn = conn
        self.limit = limit
        self.window_s = window_s + margin_s
        self.run_id = run_id

    def acquire(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Block until a slot is ours; False if should_stop() turned true while waiting."""
        return self._acquire(should_stop, lambda cur: True) is not None

    def acquire_with_claim(self, queue: Claimer, should_stop: Callable[[], bool]) -> Any:
        """Wait for a slot, then claim the next due request in the same transaction: the slot is
        spent only if a request was claimed, and a lease never ages while we wait for the limit.
        None when nothing is due or we are stopping."""
        return self._acquire(should_stop, queue.claim_in)

    def _acquire(self, should_stop: Callable[[], bool], work: Callable[[Any], Any]) -> Any:
        while not should_stop():
            with self.conn, self.conn.cursor() as cur:
                cur.execute("select pg_advisory_xact_lock(%s)", (self.LOCK_KEY,))
                cur.execute(
                    f"select count(*), min(called_at), clock_timestamp() from {SCHEMA}.eqc_calls "  # noqa: S608
                    "where called_at > clock_timestamp() - %s * interval '1 second'",
                    (self.window_s,),
                )
                count, oldest, now = cur.fetchone()
                if count < self.limit:
                    result = work(cur)
                    if not result:
                        return None
                    cur.execute(f"insert into {SCHEMA}.eqc_calls (run_id) values (%s)", (self.run_id,))  # noqa: S608
                    if count == 0:  # keep the table small
                        cur.execute(
                            f"delete from {SCHEMA}.eqc_calls where called_at < clock_timestamp() - interval '1 day'"  # noqa: S608
                        )
                    return result
                wait = (oldest - now).total_seconds() + self.window_s
            time.sleep(min(max(wait, 0.01), 1.0))
        return None
