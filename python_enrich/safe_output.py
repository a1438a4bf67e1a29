"""Text we write for people is safe to open: terminals see no control characters, spreadsheets
see no formulas."""

from __future__ import annotations

import unicodedata
from typing import Any

# OWASP CSV injection: a cell starting with one of these may run as a formula in Excel/LibreOffice.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_unsafe_char(ch: str) -> bool:
    """Control characters, lone surrogates, and the bidirectional controls that disguise text."""
    return unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI_CONTROLS


def for_terminal(text: Any) -> str:
    """The text with every control character shown as an escape (\\x1b, \\n, \\u202e, ...)."""
    text = str(text)
    if not any(is_unsafe_char(ch) for ch in text):
        return text
    return "".join(ch.encode("unicode_escape").decode("ascii") if is_unsafe_char(ch) else ch for ch in text)


def for_csv(value: Any) -> Any:
    """A text cell that cannot start a formula (prefixed with '); other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
