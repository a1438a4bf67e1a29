"""People's decisions on doubtful names, kept in the enrichment state (enrichment.review_decisions).

A decision is made on a name waiting for review (request status needs_review) and takes effect at
once in the state; the next `dbt build` shows it in the warehouse:

- accept a candidate: a cache entry (customer_name key, source manual, evidence manual,
  confidence 1) replacing whatever the cache held for the name; the request is done;
- reject candidates: a durable negative judgement, consulted by every later drain (a rejected
  company is never accepted for that name); non-manual cache entries of that name and company are
  removed (kept in the decision, for undo); when no candidate is left, the name counts as not
  found and is looked up again after the usual retry time;
- no company: the warehouse treats the name like an `__EMPTY__` name override (NULL company id,
  never queued); non-manual cache entries of the name are removed (kept in the decision).

Every decision records who (the OS user) and when, survives `dbt build --full-refresh` (the
state is not a dbt model), can be undone (the latest one per name first) and exported to the
name-override seed.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from psycopg2.extensions import connection as Connection

from python_enrich.eqc.matching import MATCH_KINDS
from python_enrich.normalization import normalize_company_name
from python_enrich.overrides import EMPTY_MARKER
from python_enrich.request_queue import SCHEMA

NOT_FOUND_RETRY_DAYS = 30.0
CACHE_COLUMNS = (
    "key_type", "lookup_key", "company_id", "official_name", "credit_code", "match_type", "confidence", "source",
    "evidence",
)  # fmt: skip
NAME_SEED = "company_id_overrides_name.csv"


class ReviewError(ValueError):
    """A decision that cannot be made (the message says why, in one line)."""


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


@dataclass
class WaitingName:
    request_id: int
    normalized_name: str
    raw_name_example: str | None
    temp_id: str | None
    row_count: int
    asset_volume: float
    reason: str
    candidates: list[dict[str, Any]]  # not rejected
    rejected: list[dict[str, Any]]
    spellings: list[tuple[str, int]] = field(default_factory=list)  # raw spelling, rows


def _candidates(review_candidates: Any, review_candidate: Any) -> list[dict[str, Any]]:
    """The kept candidates (a list since evidence rules; one object from older drains)."""
    if isinstance(review_candidates, list):
        return [c for c in review_candidates if isinstance(c, dict) and c.get("company_id")]
    if isinstance(review_candidate, dict) and review_candidate.get("company_id"):
        return [review_candidate]
    return []


def rejected_for(cur: Any, names: list[str]) -> dict[str, set[str]]:
    cur.execute(
        f"select normalized_name, company_id from {SCHEMA}.review_decisions "  # noqa: S608
        "where decision = 'reject' and undone_at is null and normalized_name = any(%s)",
        (names,),
    )
    result: dict[str, set[str]] = {}
    for name, company_id in cur.fetchall():
        result.setdefault(name, set()).add(company_id)
    return result


def waiting(cur: Any, limit: int = 500, name: str | None = None) -> list[WaitingName]:
    """Names waiting for review, by impact: rows affected, then asset volume."""
    cur.execute(
        f"select distinct on (normalized_name) request_id, normalized_name, raw_name_example, temp_id, "  # noqa: S608
        "row_count, asset_volume, coalesce(review_reason, ''), review_candidates, review_candidate "
        f"from {SCHEMA}.enrichment_requests where status = 'needs_review' "
        "and (%s::text is null or normalized_name = %s) order by normalized_name, request_id desc",
        (name, name),
    )
    rows = sorted(cur.fetchall(), key=lambda r: (-r[4], -float(r[5]), r[1]))[:limit]
    rejected = rejected_for(cur, [r[1] for r in rows])
    result = []
    for request_id, normalized, raw, temp_id, row_count, assets, reason, kept, single in rows:
        candidates = _candidates(kept, single)
        no = rejected.get(normalized, set())
        result.append(
            WaitingName(
                request_id, normalized, raw, temp_id, int(row_count), float(assets), reason,
                [c for c in candidates if str(c["company_id"]) not in no],
                [c for c in candidates if str(c["company_id"]) in no],
            )
        )  # fmt: skip
    spellings = raw_spellings(cur, [w.normalized_name for w in result])
    for item in result:
        item.spellings = spellings.get(item.normalized_name, [])
    return result


def waiting_count(cur: Any) -> int:
    """How many names wait for review (whatever --limit shows)."""
    cur.execute(
        f"select count(distinct normalized_name) from {SCHEMA}.enrichment_requests "  # noqa: S608
        "where status = 'needs_review'"
    )
    return int(cur.fetchone()[0])


def raw_spellings(cur: Any, names: list[str]) -> dict[str, list[tuple[str, int]]]:
    """How the rows spell each name (from the built marts; empty before the first build)."""
    cur.execute("select to_regclass('marts.annuity_performance'), to_regclass('marts.annuity_income')")
    if None in cur.fetchone() or not names:
        return {}
    cur.execute(
        "select resolution_name_normalized, resolution_name, count(*) from ("
        "select resolution_name_normalized, resolution_name from marts.annuity_performance "
        "where resolution_name_normalized = any(%s) union all "
        "select resolution_name_normalized, resolution_name from marts.annuity_income "
        "where resolution_name_normalized = any(%s)) as spelled group by 1, 2 order by 1, 3 desc, 2",
        (names, names),
    )
    result: dict[str, list[tuple[str, int]]] = {}
    for normalized, raw, rows in cur.fetchall():
        result.setdefault(normalized, []).append((raw or "", int(rows)))
    return result


# -- decisions ----------------------------------------------------------------------------------
def _waiting_request(cur: Any, name: str) -> tuple[int, list[dict[str, Any]]]:
    found = waiting(cur, 1, name)
    if not found:
        raise ReviewError(f"{name!r} is not waiting for review (see --list)")
    return found[0].request_id, found[0].candidates


def _active_verdict(cur: Any, name: str) -> str | None:
    cur.execute(
        f"select decision from {SCHEMA}.review_decisions where normalized_name = %s "  # noqa: S608
        "and decision in ('accept', 'no_company') and undone_at is null",
        (name,),
    )
    row = cur.fetchone()
    return row[0] if row else None


def _take_cache_entries(cur: Any, name: str, company_id: str | None) -> list[dict[str, Any]]:
    """Remove the non-manual cache entries that resolve this name (to that company, if given) and
    return them, so that the decision keeps them and undo can restore them."""
    cur.execute(
        f"delete from {SCHEMA}.company_name_index where source <> 'manual' "  # noqa: S608
        "and (lookup_key = %s and key_type in ('customer_name', 'former_name') "
        "     or key_type = 'plan_customer' and split_part(lookup_key, '|', 2) = %s) "
        "and (%s::text is null or company_id = %s) "
        f"returning {', '.join(CACHE_COLUMNS)}",
        (name, name, company_id, company_id),
    )
    return [dict(zip(CACHE_COLUMNS, (float(v) if isinstance(v, Decimal) else v for v in row), strict=True))
            for row in cur.fetchall()]  # fmt: skip


def _restore_cache_entries(cur: Any, entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        cur.execute(
            f"insert into {SCHEMA}.company_name_index ({', '.join(CACHE_COLUMNS)}) "  # noqa: S608
            f"values ({', '.join(['%s'] * len(CACHE_COLUMNS))}) on conflict (key_type, lookup_key) do nothing",
            [entry.get(column) for column in CACHE_COLUMNS],
        )


def _record(cur: Any, name: str, decision: str, who: str, request_id: int, **values: Any) -> int:
    columns = ["normalized_name", "decision", "decided_by", "request_id", *values]
    cur.execute(
        f"insert into {SCHEMA}.review_decisions ({', '.join(columns)}) "  # noqa: S608
        f"values ({', '.join(['%s'] * len(columns))}) returning decision_id",
        [name, decision, who, request_id, *values.values()],
    )
    return int(cur.fetchone()[0])


def accept(conn: Connection, name: str, company_id: str, who: str | None = None) -> str:
    """Accept one of the name's candidates: a manual cache entry (confidence 1); the request is done."""
    who = who or current_user()
    with conn, conn.cursor() as cur:
        request_id, candidates = _waiting_request(cur, name)
        if _active_verdict(cur, name):
            raise ReviewError(f"{name!r} is already decided: --undo it first")
        chosen = next((c for c in candidates if str(c["company_id"]) == company_id), None)
        if chosen is None:
            ids = ", ".join(str(c["company_id"]) for c in candidates) or "none left"
            raise ReviewError(f"{company_id} is not a candidate of {name!r} (candidates: {ids})")
        replaced = _take_cache_entries(cur, name, None)
        kind = MATCH_KINDS.get(str(chosen.get("match_type") or ""), "other")
        cur.execute(
            f"insert into {SCHEMA}.company_name_index ({', '.join(CACHE_COLUMNS)}) "  # noqa: S608
            "values ('customer_name', %s, %s, %s, %s, %s, 1, 'manual', 'manual') "
            "on conflict (key_type, lookup_key) do update set company_id = excluded.company_id, "
            "official_name = excluded.official_name, credit_code = excluded.credit_code, "
            "match_type = excluded.match_type, confidence = 1, source = 'manual', evidence = 'manual', "
            "updated_at = now()",
            (name, company_id, chosen.get("full_name"), chosen.get("credit_code"), f"review:{kind}"),
        )
        cur.execute(
            f"update {SCHEMA}.enrichment_requests set status = 'done', resolved_company_id = %s, "  # noqa: S608
            "evidence = 'manual', updated_at = now() where request_id = %s",
            (company_id, request_id),
        )
        _record(
            cur, name, "accept", who, request_id, company_id=company_id, official_name=chosen.get("full_name"),
            credit_code=chosen.get("credit_code"), replaced_cache_entries=json.dumps(replaced, ensure_ascii=False),
        )  # fmt: skip
    return f"accepted {company_id} for {name}"


def reject(conn: Connection, name: str, company_ids: list[str] | None = None, who: str | None = None) -> str:
    """Reject some (default: all) of the name's candidates, for good; with none left the name is not found."""
    who = who or current_user()
    with conn, conn.cursor() as cur:
        request_id, candidates = _waiting_request(cur, name)
        by_id = {str(c["company_id"]): c for c in candidates}
        ids = company_ids or list(by_id)
        unknown = [i for i in ids if i not in by_id]
        if unknown or not ids:
            raise ReviewError(f"{', '.join(unknown) or 'nothing'}: not a candidate of {name!r} left to reject")
        for company_id in ids:
            removed = _take_cache_entries(cur, name, company_id)
            _record(cur, name, "reject", who, request_id, company_id=company_id,
                    official_name=by_id[company_id].get("full_name"), credit_code=by_id[company_id].get("credit_code"),
                    replaced_cache_entries=json.dumps(removed, ensure_ascii=False))  # fmt: skip
        left = len(by_id) - len(ids)
        if not left:
            cur.execute(
                f"update {SCHEMA}.enrichment_requests set status = 'not_found', "  # noqa: S608
                "next_attempt_at = now() + %s * interval '1 day', review_reason = 'all candidates rejected in review', "
                "updated_at = now() where request_id = %s",
                (NOT_FOUND_RETRY_DAYS, request_id),
            )
    return f"rejected {len(ids)} candidate(s) of {name}" + (f"; {left} left to review" if left else "; none left")


def no_company(conn: Connection, name: str, who: str | None = None) -> str:
    """The name is no company: NULL id in the warehouse (like __EMPTY__), never looked up again."""
    who = who or current_user()
    with conn, conn.cursor() as cur:
        request_id, _ = _waiting_request(cur, name)
        if _active_verdict(cur, name):
            raise ReviewError(f"{name!r} is already decided: --undo it first")
        removed = _take_cache_entries(cur, name, None)
        cur.execute(
            f"update {SCHEMA}.enrichment_requests set status = 'cancelled', "  # noqa: S608
            "last_error = 'no company (review)', updated_at = now() where request_id = %s",
            (request_id,),
        )
        _record(
            cur, name, "no_company", who, request_id, replaced_cache_entries=json.dumps(removed, ensure_ascii=False)
        )
    return f"{name}: no company"


def undo(conn: Connection, name: str, who: str | None = None) -> str:
    """Undo the latest decision still in force for the name; the name waits for review again."""
    who = who or current_user()
    with conn, conn.cursor() as cur:
        cur.execute(
            f"select decision_id, decision, company_id, request_id, replaced_cache_entries "  # noqa: S608
            f"from {SCHEMA}.review_decisions where normalized_name = %s and undone_at is null "
            "order by decided_at desc, decision_id desc limit 1 for update",
            (name,),
        )
        row = cur.fetchone()
        if row is None:
            raise ReviewError(f"no decision on {name!r} to undo")
        decision_id, decision, company_id, request_id, replaced = row
        if decision == "accept":
            cur.execute(
                f"delete from {SCHEMA}.company_name_index where key_type = 'customer_name' "  # noqa: S608
                "and lookup_key = %s and source = 'manual' and company_id = %s",
                (name, company_id),
            )
        _restore_cache_entries(cur, replaced or [])
        cur.execute(
            f"update {SCHEMA}.review_decisions set undone_at = now(), undone_by = %s "  # noqa: S608
            "where decision_id = %s",
            (who, decision_id),
        )
        cur.execute(
            f"update {SCHEMA}.enrichment_requests set status = 'needs_review', resolved_company_id = null, "  # noqa: S608
            "evidence = null, last_error = null, updated_at = now() where request_id = %s",
            (request_id,),
        )
    return f"undid {decision.replace('_', ' ')}{' of ' + company_id if company_id else ''} for {name}"


# -- listing and export -------------------------------------------------------------------------
def decisions(cur: Any, include_undone: bool = False) -> list[tuple[Any, ...]]:
    cur.execute(
        "select d.normalized_name, d.decision, d.company_id, d.official_name, d.decided_by, d.decided_at, "  # noqa: S608
        f"d.undone_by, d.undone_at, r.raw_name_example from {SCHEMA}.review_decisions as d "
        f"left join {SCHEMA}.enrichment_requests as r on r.request_id = d.request_id "
        "where %s or d.undone_at is null order by d.decided_at, d.decision_id",
        (include_undone,),
    )
    return cur.fetchall()


def export_name_overrides(cur: Any, seeds_dir: Path) -> tuple[int, list[str]]:
    """Add accepted names (their id) and no-company names (__EMPTY__) to the name-override seed;
    returns (rows added, conflicts left alone).  Names already in the seed are kept as they are."""
    path = seeds_dir / NAME_SEED
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines())) if path.exists() else []
    header, existing = (rows[0], rows[1:]) if rows else (["customer_name", "company_id", "note"], [])
    present = {normalize_company_name(r[0]): r[1] for r in existing if r}
    added, conflicts = [], []
    for name, decision, company_id, _, who, when, _, _, raw in decisions(cur):
        if decision == "reject":
            continue
        value = company_id if decision == "accept" else EMPTY_MARKER
        # The build normalizes the seed's name: write the key itself, or (the normalizer is not
        # idempotent on a few quirky names) a raw spelling that normalizes to it.
        spelling = name if normalize_company_name(name) == name or not raw else raw
        if name in present:
            if present[name] != value:
                conflicts.append(f"{name}: seed says {present[name]}, review says {value}")
            continue
        present[name] = value
        added.append([spelling, value, f"review: {decision.replace('_', ' ')} by {who} at {when:%Y-%m-%d %H:%M}"])
    if added:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([header, *existing, *added])
        handle, temporary = tempfile.mkstemp(dir=seeds_dir, suffix=".csv.tmp")
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(buffer.getvalue())
        os.replace(temporary, path)
    return len(added), conflicts
