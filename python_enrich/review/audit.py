"""Check the cache entries made before the evidence rules (earlier drains, the old warehouse's
import) against today's rules: python -m python_enrich.review --audit-cache [--feed].

An entry with an official name is checked like a registry candidate for its key's name (former
names from the stored business info, when a drain kept it); one that passes gets its evidence
recorded, one that fails is listed, with the rows it resolves, and (--feed) put up for review.
Entries without an official name (the old warehouse's import) cannot be checked: they are listed
as unverifiable and fed only with --include-unverifiable.  Nothing is deleted: an entry leaves the
cache only by a person's decision (reject, or no company).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from python_enrich.eqc.client import Candidate
from python_enrich.eqc.matching import evidence_for, is_branch
from python_enrich.request_queue import SCHEMA


@dataclass
class Finding:
    key_type: str
    lookup_key: str
    name: str  # the normalized name the entry answers
    company_id: str
    official_name: str | None
    source: str
    match_type: str
    problem: str  # "no evidence" or "unverifiable"
    rows: int = 0
    recheck: str = ""  # the drain's last re-check: "unsettled: <why>", or "" when not re-checked yet

    def as_candidate(self) -> dict[str, Any]:
        why = "a branch (分公司…), not the company" if self.official_name and is_branch(self.official_name) else ""
        return {
            "company_id": self.company_id, "full_name": self.official_name or "(no official name kept)",
            "credit_code": None, "match_type": self.match_type, "rank_score": 0, "score": None, "former_names": [],
            "evidence": None,
            "why_not": why or self.problem_text(),
        }  # fmt: skip

    def problem_text(self) -> str:
        if self.problem == "no evidence":
            return f"cached by {self.source} ({self.match_type}) without evidence"
        return f"cached by {self.source}: no official name to check"


def _former_names(cur: Any) -> dict[str, set[str]]:
    """Former names of companies whose business info a drain kept (drain --details)."""
    cur.execute(
        f"select company_id, body->>'company_former_name' from {SCHEMA}.eqc_responses "  # noqa: S608
        "where endpoint = 'findDepart'"
    )
    result: dict[str, set[str]] = {}
    for company_id, text in cur.fetchall():
        names = {n.strip() for n in str(text or "").replace("，", ",").split(",") if n.strip()}
        result.setdefault(company_id, set()).update(names)
    return result


def _rows_affected(cur: Any, findings: list[Finding]) -> None:
    """Rows of the built marts that each entry resolves (0 before the first build)."""
    cur.execute("select to_regclass('marts.annuity_performance'), to_regclass('marts.annuity_income')")
    if None in cur.fetchone() or not findings:
        return
    cur.execute(
        "select 'cache_' || key_type, lookup_key, count(*) "
        "from unnest(%s::text[], %s::text[]) as entry(key_type, lookup_key) join ("
        "select company_id_source, plan_code, resolution_name_normalized from marts.annuity_performance union all "
        "select company_id_source, plan_code, resolution_name_normalized from marts.annuity_income) as resolved "
        "on resolved.company_id_source = 'cache_' || entry.key_type and entry.lookup_key = case entry.key_type "
        "when 'plan_customer' then resolved.plan_code || '|' || resolved.resolution_name_normalized "
        "else resolved.resolution_name_normalized end group by 1, 2",
        ([f.key_type for f in findings], [f.lookup_key for f in findings]),
    )
    rows = {(tier.removeprefix("cache_"), key): count for tier, key, count in cur.fetchall()}
    for finding in findings:
        finding.rows = int(rows.get((finding.key_type, finding.lookup_key), 0))


def audit_cache(conn: Any, feed: bool = False, include_unverifiable: bool = False) -> dict[str, Any]:
    """Check every registry-made or imported entry that carries no evidence yet."""
    with conn, conn.cursor() as cur:
        cur.execute(
            f"select key_type, lookup_key, company_id, official_name, credit_code, source, match_type, "  # noqa: S608
            "case when recheck_outcome = 'unsettled' then 'unsettled: ' || coalesce(recheck_reason, '') else '' end "
            f"from {SCHEMA}.company_name_index where evidence is null and source in ('eqc', 'legacy_import') "
            "and key_type in ('customer_name', 'former_name', 'plan_customer') order by key_type, lookup_key"
        )
        entries = cur.fetchall()
        formers = _former_names(cur)
        verified: list[tuple[str, str, str]] = []
        findings: list[Finding] = []
        for key_type, key, company_id, official, credit, source, match_type, recheck in entries:
            name = key.split("|", 1)[1] if key_type == "plan_customer" else key
            if not official:
                findings.append(
                    Finding(key_type, key, name, company_id, None, source, match_type, "unverifiable", 0, recheck)
                )
                continue
            candidate = Candidate(company_id, official, credit, "", 0.0, tuple(sorted(formers.get(company_id, ()))))
            evidence = evidence_for(name, candidate)
            if evidence:
                verified.append((evidence, key_type, key))
            else:
                findings.append(
                    Finding(key_type, key, name, company_id, official, source, match_type, "no evidence", 0, recheck)
                )
        for evidence, key_type, key in verified:  # recording what was checked; no id changes
            cur.execute(
                f"update {SCHEMA}.company_name_index set evidence = %s "  # noqa: S608
                "where key_type = %s and lookup_key = %s and evidence is null",
                (evidence, key_type, key),
            )
        _rows_affected(cur, findings)
        findings.sort(key=lambda f: (-f.rows, f.name))
        fed = 0
        if feed:
            for finding in findings:
                if finding.problem == "unverifiable" and not include_unverifiable:
                    continue
                fed += _put_up_for_review(cur, finding)
    return {
        "checked": len(entries),
        "verified": len(verified),
        "no_evidence": sum(1 for f in findings if f.problem == "no evidence"),
        "unverifiable": sum(1 for f in findings if f.problem == "unverifiable"),
        "fed_to_review": fed,
        "findings": findings,
    }


def _put_up_for_review(cur: Any, finding: Finding) -> int:
    """A needs_review request carrying the cached company as its candidate (one per name); the
    entry keeps resolving rows until a person decides."""
    cur.execute(
        f"select review_candidates from {SCHEMA}.enrichment_requests "  # noqa: S608
        "where normalized_name = %s and status = 'needs_review' order by request_id desc limit 1 for update",
        (finding.name,),
    )
    row = cur.fetchone()
    candidate = finding.as_candidate()
    if row is None:
        cur.execute(
            f"insert into {SCHEMA}.enrichment_requests (normalized_name, raw_name_example, status, row_count, "  # noqa: S608
            "priority, review_candidates, review_reason) values (%s, %s, 'needs_review', %s, %s, %s, %s)",
            (finding.name, finding.name, finding.rows, finding.rows, json.dumps([candidate], ensure_ascii=False),
             f"audit: a cached {finding.source} entry fails today's evidence rules"),
        )  # fmt: skip
        return 1
    kept = row[0] if isinstance(row[0], list) else []
    if any(str(c.get("company_id")) == finding.company_id for c in kept if isinstance(c, dict)):
        return 0
    cur.execute(
        f"update {SCHEMA}.enrichment_requests set review_candidates = %s, updated_at = now() "  # noqa: S608
        "where normalized_name = %s and status = 'needs_review'",
        (json.dumps([*kept, candidate], ensure_ascii=False), finding.name),
    )
    return 1
