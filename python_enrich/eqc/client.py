"""The EQC registry client (contract: shared/spec/eqc-api.md): one method per endpoint.

Classifies every answer so that callers can act on it: TokenExpired (401 or a 200 body saying so)
stops the run; RateLimited (429) and TransientError (timeouts, 5xx, dropped connections) may be
retried; an empty list or 404 is "not found".  The token is sent in the `token` header and never
appears in an exception or log message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

DEFAULT_BASE_URL = "https://eqc.pingan.com"
BASE_URL_ENV_VAR = "WDH_EQC_BASE_URL"
SEARCH_PATH = "/kg-api-hfd/api/search/"
BROWSER_HEADERS = {
    "Accept": "application/json",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36",
}

log = logging.getLogger(__name__)


class EQCError(Exception):
    """Base of the classified failures; messages never contain the token."""


class TokenExpired(EQCError):
    pass


class RateLimited(EQCError):
    def __init__(self, retry_after_s: float | None) -> None:
        super().__init__(f"rate limited (Retry-After {retry_after_s})")
        self.retry_after_s = retry_after_s


class TransientError(EQCError):
    pass


class RequestFailed(EQCError):
    """A non-retryable answer for this one request (other 4xx, an error in a 200 body)."""


class Stopped(EQCError):
    """The caller's throttle declined to let another request out (the run is stopping)."""


@dataclass(frozen=True)
class Candidate:
    company_id: str
    full_name: str
    credit_code: str | None
    match_type: str
    rank_score: float
    former_names: tuple[str, ...]


def base_url_from_env() -> str:
    return (os.environ.get(BASE_URL_ENV_VAR) or DEFAULT_BASE_URL).rstrip("/")


def mask_token(token: str) -> str:
    """What may be shown of a token: its length and last four characters."""
    return f"…{token[-4:]} ({len(token)} chars)" if len(token) > 8 else "(hidden)"


def parse_candidates(payload: Any) -> list[Candidate]:
    """Usable search items (a company id and a full name), in the service's order."""
    items = payload.get("list") if isinstance(payload, dict) else None
    candidates = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        company_id = str(item.get("companyId") or "").strip()
        full_name = str(item.get("companyFullName") or "").strip()
        if not company_id or not full_name:
            continue
        former = str(item.get("company_former_name") or "")
        candidates.append(
            Candidate(
                company_id=company_id,
                full_name=full_name,
                credit_code=item.get("unite_code") or None,
                match_type=str(item.get("type") or ""),
                rank_score=float(item.get("rank_score") or 0),
                former_names=tuple(name.strip() for name in former.split(",") if name.strip()),
            )
        )
    return candidates


class EQCClient:
    """One client per worker thread (a requests.Session is not shared between threads)."""

    def __init__(
        self,
        token: str,
        base_url: str | None = None,
        timeout_s: float = 5.0,
        throttle: Callable[[], bool] | None = None,
    ) -> None:
        """throttle runs before every HTTP request (the 403 re-send too) and may block to keep a
        rate limit; returning False stops the request with Stopped."""
        self._token = token
        self.base_url = (base_url or base_url_from_env()).rstrip("/")
        self.timeout_s = timeout_s
        self.throttle = throttle
        self.session = requests.Session()

    def __repr__(self) -> str:  # never show the token
        return f"EQCClient({self.base_url!r}, token={mask_token(self._token)})"

    def _get(self, path: str, params: dict[str, str]) -> Any:
        url = self.base_url + SEARCH_PATH + path
        headers = {"token": self._token, "Referer": self.base_url + "/", **BROWSER_HEADERS}
        for attempt in range(2):
            if self.throttle is not None and not self.throttle():
                raise Stopped("stopping")
            try:
                response = self.session.get(url, params=params, headers=headers, timeout=self.timeout_s)
            except (requests.Timeout, requests.ConnectionError) as error:
                raise TransientError(f"{type(error).__name__} calling {path or 'search'}") from None
            if response.status_code == 403 and attempt == 0:
                headers = {"token": self._token}  # the real service's quirk: once, with only the token
                continue
            break
        status = response.status_code
        if status == 401:
            raise TokenExpired("the EQC token was refused (401)")
        if status == 429:
            retry_after = response.headers.get("Retry-After")
            raise RateLimited(float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None)
        if status >= 500:
            raise TransientError(f"HTTP {status} from {path or 'search'}")
        if status == 404:
            return None
        if status != 200:
            raise RequestFailed(f"HTTP {status} from {path or 'search'}")
        try:
            payload = response.json()
        except ValueError:
            raise TransientError(f"a response of {path or 'search'} was not JSON") from None
        if isinstance(payload, dict) and payload.get("error"):
            if payload["error"] == "TokenExpired":
                raise TokenExpired("the EQC token has expired")
            raise RequestFailed(f"error {str(payload['error'])[:80]!r} from {path or 'search'}")
        return payload

    def search(self, name: str) -> tuple[list[Candidate], Any]:
        payload = self._get("", {"key": name})
        return parse_candidates(payload), payload

    def business_info(self, company_id: str) -> dict[str, Any]:
        payload = self._get("findDepart", {"targetId": company_id})
        info = payload.get("businessInfodto") if isinstance(payload, dict) else None
        return info if isinstance(info, dict) else {}

    def labels(self, company_id: str) -> Any:
        return self._get("findLabels", {"targetId": company_id})

    def check_token(self) -> None:
        """The cheap call that proves the token works; raises TokenExpired when it does not."""
        self._get("searchAll", {"keyword": "test", "currentPage": "1", "pageSize": "1"})

    def close(self) -> None:
        self.session.close()
