"""One claimed name: search with in-run retries, decide on evidence (learning former names), write
found / not found / needs review, or give it back; and one re-check of an unverified cache entry."""

from __future__ import annotations

import logging
import threading
from typing import Any

from python_enrich.cache_recheck import CONFIRMED, CONTRADICTED, RecheckClaim, RecheckQueue, recheck
from python_enrich.drain.decisions import (
    backoff_s,
    former_name_checks,
    former_names_of,
    give_back_delay_s,
    rate_limited_wait_s,
    verdict_after_former_names,
)
from python_enrich.drain.options import DrainOptions, DrainStats
from python_enrich.eqc import answers
from python_enrich.eqc.client import (
    Candidate,
    EQCClient,
    EQCError,
    RateLimited,
    RequestFailed,
    Stopped,
    TokenExpired,
    TransientError,
)
from python_enrich.eqc.matching import EVIDENCE_CONFIDENCE, Verdict, decide, match_kind
from python_enrich.errors import first_line
from python_enrich.normalization import normalize_company_name
from python_enrich.request_queue import Claim, RequestQueue
from python_enrich.safe_output import for_terminal

log = logging.getLogger(__name__)


class Lookup:
    """The lookups of one run: its options, its figures and its stop signal, shared by the workers."""

    def __init__(self, options: DrainOptions, stats: DrainStats, stop: threading.Event) -> None:
        self.options = options
        self.stats = stats
        self.stop = stop

    def _call(self, action: Any) -> Any:
        """One EQC call with in-run retries for transient errors; raises the last error.
        (The client's throttle takes a rate-limit slot before every request.)"""
        last: EQCError | None = None
        for attempt in range(self.options.retries + 1):
            try:
                return action()
            except RateLimited as error:
                last = error
                self.stats.add(transient_errors=1)
                wait = rate_limited_wait_s(error.retry_after_s, backoff_s(attempt))
                if wait is None:
                    raise  # not slept here: the request goes back to the queue until then
            except TransientError as error:
                last = error
                self.stats.add(transient_errors=1)
                wait = backoff_s(attempt)
            if attempt < self.options.retries and self.stop.wait(wait):
                raise Stopped("stopping")
        assert last is not None
        raise last

    def _token_died(self) -> None:
        """401 or TokenExpired: every worker stops; unfinished claims go back to the queue."""
        self.stats.stopped_because = "token expired"
        self.stop.set()

    def _verdict(
        self, name: str, candidates: list[Candidate], payload: Any, client: EQCClient, queue: RequestQueue
    ) -> Verdict:
        """Evidence first; when none, learn the former names the search items left out (business
        info, at most --former-name-checks calls, each taking a rate-limit slot) and decide again."""
        rejected = queue.rejected_ids(name)
        verdict = decide(name, candidates, rejected)
        if verdict.outcome == "accept":
            return verdict
        to_check = former_name_checks(candidates, payload, rejected, self.options.former_name_checks)
        if not to_check:
            return verdict
        infos = {}
        for candidate in to_check:
            infos[candidate.company_id] = self._call(
                lambda company_id=candidate.company_id: client.business_info(company_id)
            )
        return verdict_after_former_names(name, candidates, infos, rejected)

    def _lookup(self, claim: Claim, queue: RequestQueue, client: EQCClient) -> None:
        options = self.options
        try:
            candidates, payload = self._call(lambda: client.search(claim.normalized_name))
            verdict = self._verdict(claim.normalized_name, candidates, payload, client, queue)
        except Stopped:
            queue.release([claim])
            self.stats.add(released=1)
            return
        except TokenExpired:
            self._token_died()
            queue.release([claim])
            self.stats.add(released=1)
            return
        except (TransientError, RateLimited, RequestFailed) as error:
            self._give_back(claim, queue, str(error), error)
            return
        self.stats.add(lookups=1)
        if verdict.outcome == "not_found":
            queue.not_found(claim, options.not_found_retry_days, verdict.reason)
            self.stats.add(not_found=1)
            return
        if verdict.chosen is None or verdict.chosen.evidence is None:
            queue.needs_review(claim, [a.as_review() for a in verdict.kept], verdict.reason)
            self.stats.add(needs_review=1)
            return
        chosen, evidence = verdict.chosen.candidate, verdict.chosen.evidence
        entry = (chosen.company_id, chosen.full_name, chosen.credit_code, match_kind(chosen))
        entries = [("customer_name", claim.normalized_name, *entry, EVIDENCE_CONFIDENCE[evidence], evidence)]
        responses: list[tuple[Any, ...]] = []
        if options.details:
            responses.append((chosen.company_id, "search", claim.normalized_name, payload))
            formers = set(chosen.former_names)
            try:
                info = self._call(lambda: client.business_info(chosen.company_id))
                labels = self._call(lambda: client.labels(chosen.company_id))
                responses += [
                    (chosen.company_id, "findDepart", chosen.company_id, info),
                    (chosen.company_id, "findLabels", chosen.company_id, labels),
                ]
                formers |= set(answers.former_names(info.get("company_former_name")))
            except EQCError as error:  # details are extra: the match stands
                if isinstance(error, TokenExpired):
                    self._token_died()
                log.warning("details for request %s incomplete: %s", claim.request_id, type(error).__name__)
            for former in sorted(formers):
                key = normalize_company_name(former)
                if key and key != claim.normalized_name:
                    entries.append(("former_name", key, *entry, EVIDENCE_CONFIDENCE["former_name"], "former_name"))
        queue.found(claim, chosen.company_id, entries, responses, evidence)
        self.stats.add(found=1)

    def _give_back(self, claim: Claim, queue: RequestQueue, reason: str, error: BaseException | None = None) -> None:
        """Back to the queue for a later attempt, or `failed` after the last one, with the reason."""
        options = self.options
        retry_after_s = error.retry_after_s if isinstance(error, RateLimited) else None
        delay = give_back_delay_s(options.retry_delay_s, claim.attempts, retry_after_s)
        if queue.retry_later(claim, delay, for_terminal(reason), options.max_attempts) == "failed":
            self.stats.add(failed=1)
        else:
            self.stats.add(retried_later=1)

    def lookup_safely(self, claim: Claim, queue: RequestQueue, client: EQCClient) -> None:
        """One lookup; whatever it raises stays with this request, and the worker goes on."""
        try:
            self._lookup(claim, queue, client)
        except Exception as error:
            queue.conn.rollback()
            log.warning("request %s: lookup failed (%s); given back", claim.request_id, type(error).__name__)
            self._give_back(claim, queue, f"{type(error).__name__}: {first_line(error)}"[:300])

    def recheck_safely(
        self, entry: RecheckClaim, rechecks: RecheckQueue, queue: RequestQueue, client: EQCClient
    ) -> None:
        """One re-check (python_enrich.cache_recheck); an error gives the entry back for later."""
        try:
            result = recheck(
                entry,
                lambda name: self._call(lambda: client.search(name))[0],
                lambda company_id: former_names_of(self._call(lambda: client.business_info(company_id))),
                queue.rejected_ids(entry.name),
            )
        except TokenExpired:
            self._token_died()
            rechecks.release([entry])
            return
        except Stopped:
            rechecks.release([entry])
            return
        except Exception as error:  # one re-check's failure stays with its entry
            queue.conn.rollback()
            log.warning("re-check of a cache entry failed (%s); given back", type(error).__name__)
            rechecks.release([entry], self.options.retry_delay_s)
            return
        self.stats.add(rechecked=1)
        if result.outcome == CONFIRMED and result.candidate and result.evidence:
            rechecks.confirm(entry, result.candidate, result.evidence)
            self.stats.add(recheck_confirmed=1)
        elif result.outcome == CONTRADICTED:
            rechecks.contradict(entry, result)
            self.stats.add(recheck_contradicted=1, recheck_replaced=int(result.evidence is not None))
        else:
            rechecks.unsettled(entry, result.reason, self.options.not_found_retry_days)
            self.stats.add(recheck_unsettled=1)
