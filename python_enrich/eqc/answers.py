"""Registry answers parsed, not trusted: every EQC response becomes typed records or an error.

One place decides what a usable answer is (DESIGN.md, "Every input is hostile"):
- a company id is an ASCII decimal string of 1-20 digits, not all zeros (a JSON integer is
  accepted and converted; floats, booleans, objects, signs and full-width digits are not);
- names are text without control characters, at most MAX_NAME_CHARS long;
- `company_former_name` is a delimited string or a list of names; `rank_score` a finite number or
  absent; `unite_code` and `type` text or absent.
A search item that fails any check is dropped with its reason (counted, never with the name); a
response whose shape is wrong, or whose items all fail, is a MalformedAnswer for that request:
an error, never "not found".
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from python_enrich.safe_output import for_terminal, is_unsafe_char

MAX_NAME_CHARS = 300
MAX_CODE_CHARS = 64
COMPANY_ID = re.compile(r"[0-9]{1,20}")
FORMER_NAME_SEPARATORS = re.compile(r"[,，;；、]")


class AnswerError(ValueError):
    """Why one value or one answer is unusable; the message never contains the value itself."""


@dataclass(frozen=True)
class Candidate:
    """One usable search item (importable from python_enrich.eqc.client as before)."""

    company_id: str
    full_name: str
    credit_code: str | None
    match_type: str
    rank_score: float
    former_names: tuple[str, ...]


@dataclass
class SearchAnswer:
    candidates: list[Candidate]
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> items


def company_id(value: Any) -> str:
    """The company id as our canonical string, or AnswerError saying why not."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise AnswerError(f"companyId is {_kind(value)}, not a decimal string")
    text = str(value) if isinstance(value, int) else value
    if isinstance(value, int) and value <= 0:
        raise AnswerError("companyId is not a positive number")
    if not COMPANY_ID.fullmatch(text):
        raise AnswerError("companyId is not 1-20 ASCII digits" if text else "companyId is empty")
    if not text.strip("0"):
        raise AnswerError("companyId is all zeros")
    return text


def is_company_id(value: Any) -> bool:
    try:
        company_id(value)
    except AnswerError:
        return False
    return True


def clean_text(value: Any, what: str, max_chars: int = MAX_NAME_CHARS) -> str:
    """Text without control characters or lone surrogates, stripped, 1..max_chars long."""
    if not isinstance(value, str):
        raise AnswerError(f"{what} is {_kind(value)}, not text")
    if any(is_unsafe_char(ch) for ch in value):
        raise AnswerError(f"{what} contains control characters or invalid text")
    text = value.strip()
    if not text:
        raise AnswerError(f"{what} is empty")
    if len(text) > max_chars:
        raise AnswerError(f"{what} is longer than {max_chars} characters")
    return text


def former_names(value: Any) -> tuple[str, ...]:
    """`company_former_name`: absent, a delimited string, or a list of names."""
    if value is None:
        return ()
    if isinstance(value, str):
        parts: list[Any] = [part for part in FORMER_NAME_SEPARATORS.split(value) if part.strip()]
    elif isinstance(value, list):
        parts = value
    else:
        raise AnswerError(f"company_former_name is {_kind(value)}, not text or a list")
    names = [clean_text(part, "a former name") for part in parts]
    return tuple(dict.fromkeys(names))


def optional_text(value: Any, what: str, max_chars: int = MAX_CODE_CHARS) -> str | None:
    if value is None or value == "":
        return None
    return clean_text(value, what, max_chars)


def rank_score(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AnswerError(f"rank_score is {_kind(value)}, not a finite number")
    return float(value)


def candidate(item: Any) -> Candidate:
    """One search item as a Candidate, or AnswerError with the reason it is unusable."""
    if not isinstance(item, dict):
        raise AnswerError(f"an item is {_kind(item)}, not an object")
    if "companyId" not in item:
        raise AnswerError("an item has no companyId")
    return Candidate(
        company_id=company_id(item["companyId"]),
        full_name=clean_text(item.get("companyFullName"), "companyFullName"),
        credit_code=optional_text(item.get("unite_code"), "unite_code"),
        match_type=optional_text(item.get("type"), "type") or "",
        rank_score=rank_score(item.get("rank_score")),
        former_names=former_names(item.get("company_former_name")),
    )


def search_answer(payload: Any) -> SearchAnswer:
    """A search response: `{"list": [item, ...]}` (an empty list means not found)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("list"), list):
        raise AnswerError(f"the search answer is {_shape(payload)}, not an object with a list")
    items = payload["list"]
    answer = SearchAnswer([])
    for item in items:
        try:
            answer.candidates.append(candidate(item))
        except AnswerError as error:
            answer.dropped[str(error)] += 1
    if items and not any(isinstance(item, dict) and "companyId" in item for item in items):
        raise AnswerError("no search item has a companyId (has the answer's shape changed?)")
    if items and not answer.candidates:
        raise AnswerError(f"all {len(items)} search items are unusable ({describe(answer.dropped)})")
    return answer


def business_info(payload: Any) -> dict[str, Any]:
    """findDepart: `{"businessInfodto": {...}}`; missing or empty means not found ({})."""
    if payload is None:  # 404
        return {}
    if not isinstance(payload, dict):
        raise AnswerError(f"the business info answer is {_shape(payload)}, not an object")
    info = payload.get("businessInfodto")
    if info in (None, {}, ""):
        return {}
    if not isinstance(info, dict):
        raise AnswerError(f"businessInfodto is {_kind(info)}, not an object")
    former_names(info.get("company_former_name"))  # checked here; read with former_names()
    return info


def labels(payload: Any) -> Any:
    """findLabels: `{"labels": [...]}` (kept as a raw response only)."""
    if payload is not None and not (isinstance(payload, dict) and isinstance(payload.get("labels", []), list)):
        raise AnswerError(f"the labels answer is {_shape(payload)}, not an object with a list")
    return payload


def describe(reasons: Counter[str]) -> str:
    return "; ".join(f"{count} × {reason}" for reason, count in reasons.most_common())


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _shape(payload: Any) -> str:
    if isinstance(payload, dict):
        keys = for_terminal(", ".join(sorted(str(k) for k in payload)[:5])[:80])
        return f"an object with keys [{keys}]" if keys else "an empty object"
    return _kind(payload)
