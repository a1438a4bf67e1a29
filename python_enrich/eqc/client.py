"""The EQC registry client (contract: docs/registry-api.md): one method per endpoint.

Classifies every answer so that callers can act on it: TokenExpired (401 or a 200 body saying so)
stops the run; RateLimited (429) and TransientError (timeouts, 5xx, dropped connections) may be
retried; an empty list or 404 is "not found"; MalformedAnswer (a body that is not JSON, or whose
shape or values fail python_enrich.eqc.answers) is an error for that one request.  The token is
sent in the `token` header, never follows a redirect to another scheme, host or port, and never
appears in an exception or log message.  Every HTTP request has a total deadline that a slowly
trickled body cannot stretch, and a body size limit.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from python_enrich.eqc import answers
from python_enrich.eqc.answers import AnswerError, Candidate
from python_enrich.safe_output import for_terminal

DEFAULT_BASE_URL = "https://eqc.pingan.com"
BASE_URL_ENV_VAR = "WDH_EQC_BASE_URL"
SEARCH_PATH = "/kg-api-hfd/api/search/"
MAX_REDIRECTS = 3  # followed only within the same scheme, host and port
MAX_BODY_BYTES = 8 * 1024 * 1024
__all__ = ["Candidate", "EQCClient", "EQCError", "MalformedAnswer", "RateLimited", "RequestFailed", "TokenExpired"]
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


class MalformedAnswer(RequestFailed):
    """The registry answered something we cannot trust: an error for this request, never "not found"."""


class Stopped(EQCError):
    """The caller's throttle declined to let another request out (the run is stopping)."""


class BadBaseURL(ValueError):
    """WDH_EQC_BASE_URL is not a usable http(s) URL; the message names the setting."""


def check_base_url(url: str) -> str:
    """The base URL without a trailing slash, or BadBaseURL: http(s), a host, a valid port, no
    credentials, query or fragment, no spaces or control characters."""
    problem = ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        problem = str(error)
    else:
        if parts.scheme not in ("http", "https"):
            problem = "it must start with http:// or https://"
        elif not parts.hostname:
            problem = "it names no host"
        elif parts.username or parts.password:
            problem = "it must not carry a user name or password"
        elif parts.query or parts.fragment or any(ch.isspace() or not ch.isprintable() for ch in url):
            problem = "it must not carry a query, a fragment, spaces or control characters"
    if problem:
        shown = "(value not shown: it may hold credentials)" if "@" in url else repr(for_terminal(url)[:100])
        raise BadBaseURL(f"{BASE_URL_ENV_VAR} {shown} is not a usable registry URL: {problem}")
    return url.rstrip("/")


def base_url_from_env() -> str:
    return (os.environ.get(BASE_URL_ENV_VAR) or DEFAULT_BASE_URL).rstrip("/")


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds (a number or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.replace(".", "", 1).isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    seconds = when.timestamp() - time.time()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def same_origin(first: str, second: str) -> bool:
    a, b = urlsplit(first), urlsplit(second)
    default = {"http": 80, "https": 443}
    try:
        return (a.scheme, a.hostname, a.port or default.get(a.scheme)) == (
            b.scheme,
            b.hostname,
            b.port or default.get(b.scheme),
        )
    except ValueError:
        return False


def mask_token(token: str) -> str:
    """What may be shown of a token: its length and last four characters."""
    return f"…{token[-4:]} ({len(token)} chars)" if len(token) > 8 else "(hidden)"


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
        endpoint = path or "search"
        url = self.base_url + SEARCH_PATH + path
        headers = {"token": self._token, "Referer": self.base_url + "/", **BROWSER_HEADERS}
        for attempt in range(2):
            if self.throttle is not None and not self.throttle():
                raise Stopped("stopping")
            status, response_headers, body = self._fetch(url, params, headers, endpoint)
            if status == 403 and attempt == 0:
                headers = {"token": self._token}  # the real service's quirk: once, with only the token
                continue
            break
        if status == 401:
            raise TokenExpired("the EQC token was refused (401)")
        if status == 429:
            raise RateLimited(retry_after_seconds(response_headers.get("Retry-After")))
        if status >= 500:
            raise TransientError(f"HTTP {status} from {endpoint}")
        if status == 404:
            return None
        if status != 200:
            raise RequestFailed(f"HTTP {status} from {endpoint}")
        try:
            payload = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise MalformedAnswer(f"the {endpoint} answer is not JSON in UTF-8") from None
        if payload is None:
            raise MalformedAnswer(f"the {endpoint} answer is null")
        if isinstance(payload, dict) and payload.get("error"):
            if payload["error"] == "TokenExpired":
                raise TokenExpired("the EQC token has expired")
            raise RequestFailed(f"error {str(payload['error'])[:80]!r} from {endpoint}")  # repr escapes controls
        return payload

    def _fetch(
        self, url: str, params: dict[str, str] | None, headers: dict[str, str], endpoint: str
    ) -> tuple[int, Any, bytes]:
        """One request, redirects followed only to the same scheme, host and port (the token never
        leaves), the body read against a total deadline and a size limit."""
        deadline = time.monotonic() + self.timeout_s
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = self.session.get(
                    url, params=params, headers=headers, timeout=self.timeout_s, allow_redirects=False, stream=True
                )
            except (requests.Timeout, requests.ConnectionError) as error:
                raise TransientError(f"{type(error).__name__} calling {endpoint}") from None
            except requests.RequestException as error:
                raise RequestFailed(f"{type(error).__name__} calling {endpoint}") from None
            with response:
                if not response.is_redirect:
                    return response.status_code, response.headers, self._read_body(response, deadline, endpoint)
                target = urljoin(response.url, response.headers.get("Location", ""))
            if not same_origin(url, target):
                raise RequestFailed(
                    f"HTTP {response.status_code} from {endpoint} redirects to another host: not followed"
                )
            url, params = target, None
        raise RequestFailed(f"more than {MAX_REDIRECTS} redirects from {endpoint}")

    def _read_body(self, response: requests.Response, deadline: float, endpoint: str) -> bytes:
        body = bytearray()
        try:
            while True:
                if time.monotonic() > deadline:
                    raise TransientError(f"the {endpoint} answer took longer than {self.timeout_s:g} s")
                chunk = response.raw.read1(65536, decode_content=True)
                if not chunk:
                    return bytes(body)
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise MalformedAnswer(f"the {endpoint} answer is larger than {MAX_BODY_BYTES // 2**20} MB")
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError) as error:
            raise TransientError(f"{type(error).__name__} reading the {endpoint} answer") from None

    def search(self, name: str) -> tuple[list[Candidate], Any]:
        """The usable candidates and the raw answer; MalformedAnswer when the answer cannot be trusted
        (items that fail a check are dropped and logged by reason, never by name)."""
        payload = self._get("", {"key": name})
        if payload is None:
            return [], payload
        try:
            answer = answers.search_answer(payload)
        except AnswerError as error:
            raise MalformedAnswer(str(error)) from None
        if answer.dropped:
            log.warning(
                "dropped %d unusable search items: %s", answer.dropped.total(), answers.describe(answer.dropped)
            )
        return answer.candidates, payload

    def business_info(self, company_id: str) -> dict[str, Any]:
        try:
            return answers.business_info(self._get("findDepart", {"targetId": company_id}))
        except AnswerError as error:
            raise MalformedAnswer(str(error)) from None

    def labels(self, company_id: str) -> Any:
        try:
            return answers.labels(self._get("findLabels", {"targetId": company_id}))
        except AnswerError as error:
            raise MalformedAnswer(str(error)) from None

    def check_token(self) -> None:
        """The cheap call that proves the token works; raises TokenExpired when it does not."""
        self._get("searchAll", {"keyword": "test", "currentPage": "1", "pageSize": "1"})

    def close(self) -> None:
        self.session.close()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
