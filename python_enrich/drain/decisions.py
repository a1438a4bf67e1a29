"""The drain's pure decisions, apart from its threads and database: what a second decision after
former names may accept, how long to wait before a retry or a later attempt, and the run's exit
code and status from its figures.  Kept free of I/O so that unit tests (and ./run mutate) can
hold every rule without a registry or a database."""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any, Protocol

from python_enrich.eqc.answers import Candidate
from python_enrich.eqc.matching import Verdict, decide

EXIT_OK, EXIT_FAILED, EXIT_SETUP, EXIT_TOKEN, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
RETRY_AFTER_CAP_S = 120.0  # a longer Retry-After gives the request back until then instead of sleeping
MAX_DEFERRAL_S = 30 * 86400.0  # the longest a Retry-After may defer a request
MAX_GIVE_BACK_S = 3600.0  # the longest the doubling wait of a request given back grows


class RunFigures(Protocol):
    """What the exit code is decided from (DrainStats has these)."""

    found: int
    not_found: int
    needs_review: int
    retried_later: int
    failed: int
    stopped_because: str | None


# -- the second decision, after former names ------------------------------------------------------
def ids_without_former_names(payload: Any) -> set[str]:
    """Companies whose search item does not say what their former names are (no field at all)."""
    items = payload.get("list") if isinstance(payload, dict) else None
    return {
        str(item.get("companyId") or "").strip()
        for item in items or []
        if isinstance(item, dict) and item.get("company_former_name") is None
    }


def former_names_of(info: Mapping[str, Any]) -> tuple[str, ...]:
    """findDepart's company_former_name: several names separated by commas (either width)."""
    text = str(info.get("company_former_name") or "").replace("，", ",")
    return tuple(name.strip() for name in text.split(",") if name.strip())


def former_name_checks(
    candidates: list[Candidate], payload: Any, rejected: Collection[str], limit: int
) -> list[Candidate]:
    """The candidates whose former names are worth a business-info call: the search item left
    them out, and a person has not rejected the company for this name; at most `limit`."""
    unknown = ids_without_former_names(payload) - set(rejected)
    return [c for c in candidates if c.company_id in unknown][:limit]


def verdict_after_former_names(
    name: str, candidates: list[Candidate], infos: Mapping[str, Mapping[str, Any]], rejected: Collection[str]
) -> Verdict:
    """Decide again with the former names business info gave (`infos` by company id).  The
    rejections go in again: a company a person rejected is never accepted, whatever it learned."""
    learned = [
        replace(c, former_names=former_names_of(infos[c.company_id])) if c.company_id in infos else c
        for c in candidates
    ]
    return decide(name, learned, rejected)


# -- waits ----------------------------------------------------------------------------------------
def backoff_s(attempt: int, base: float = 1.0, cap: float = 30.0) -> float:
    """Capped exponential backoff with ±20% jitter: 1 s, 2 s, 4 s, … (attempt 0, 1, 2, …)."""
    return min(cap, base * 2**attempt) * random.uniform(0.8, 1.2)


def rate_limited_wait_s(retry_after_s: float | None, backoff: float) -> float | None:
    """Seconds to sleep before retrying a 429 within the run: what the registry asked, up to the
    cap, or the backoff when it asked nothing.  None: longer than the cap, so not slept (the
    request goes back to the queue until then, before its lease runs out)."""
    if retry_after_s is None:
        return backoff
    if retry_after_s > RETRY_AFTER_CAP_S:
        return None
    return retry_after_s


def give_back_delay_s(retry_delay_s: float, attempts: int, retry_after_s: float | None = None) -> float:
    """When a request given back is due again: the retry delay doubling per attempt made (at most
    an hour), or later when the registry asked for a longer Retry-After (at most 30 days)."""
    delay = min(MAX_GIVE_BACK_S, retry_delay_s * 2 ** max(attempts - 1, 0))
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, MAX_DEFERRAL_S))
    return delay


# -- the run's end --------------------------------------------------------------------------------
def all_lookups_failed(figures: RunFigures) -> bool:
    """Lookups were attempted and every one ended in an error."""
    errors = figures.retried_later + figures.failed
    return errors > 0 and figures.found + figures.not_found + figures.needs_review == 0


def run_status(figures: RunFigures) -> str:
    """The run log's status: success, interrupted, or error (a worker error, an expired token, or
    no lookup succeeded)."""
    if figures.stopped_because == "interrupted":
        return "interrupted"
    if figures.stopped_because is not None or all_lookups_failed(figures):
        return "error"
    return "success"


def exit_code(figures: RunFigures) -> int:
    """0 only for a run that finished; see drain --help for the codes."""
    if figures.stopped_because == "token expired":
        return EXIT_TOKEN
    if figures.stopped_because == "interrupted":
        return EXIT_INTERRUPTED
    if figures.stopped_because is not None or all_lookups_failed(figures):
        return EXIT_FAILED  # a worker error, or no lookup succeeded
    return EXIT_OK
