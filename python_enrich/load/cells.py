"""What a raw cell means: placeholders and months, by the same rules as the SQL macros.

`macros/parse_raw_values.sql` parses every cell in the warehouse; this module is its Python twin,
used by the loader to learn each row's month (a reload replaces a month's rows). A test runs both
on the same case list and requires identical answers, so keep the two in step.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

# Full-width digits and punctuation become their ASCII forms before parsing (SQL: translate()).
FULL_WIDTH = "０１２３４５６７８９，．（）－＋／："
HALF_WIDTH = "0123456789,.()-+/:"
_TO_HALF_WIDTH = str.maketrans(FULL_WIDTH, HALF_WIDTH)
# Trimmed from both ends (SQL: btrim() with the same characters).
TRIMMED = " \t\r\n\u00a0\u3000\ufeff"
# A cell that is one of these after trimming (any case) means "no value": NULL, not a problem.
PLACEHOLDERS = ("", "-", "--", "—", "N/A", "NA", "NULL", "NONE", "NAN", "无", "/")

YEARS = (1900, 2099)  # a month outside these years is a typo, not a month
MONTH_PATTERN = re.compile(
    r"^(?:"
    r"([0-9]{4})([0-9]{2})([0-9]{2})?"  # 202411, 20241101
    r"|([0-9]{4})[-/.]([0-9]{1,2})(?:[-/.]([0-9]{1,2})(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?)?"
    r"|([0-9]{2}|[0-9]{4})年([0-9]{1,2})月(?:([0-9]{1,2})日)?"  # 2024年11月, 2024年11月1日, 24年11月
    r")$"
)


def clean_cell(value: str | None) -> str | None:
    """Full-width digits and punctuation to ASCII, surrounding blanks trimmed."""
    return None if value is None else value.translate(_TO_HALF_WIDTH).strip(TRIMMED)


def is_placeholder(value: str | None) -> bool:
    """True for NULL, blank and the placeholders (-, N/A, NULL, 无, ...)."""
    cleaned = clean_cell(value)
    return cleaned is None or cleaned.upper() in PLACEHOLDERS


def parse_month(value: str | None) -> date | None:
    """The first day of the month a cell names, or None (placeholder or not a month).

    Accepts 202411, 20241101, 2024-11, 2024/11, 2024.11, 2024-11-01 (a time may follow), 2024年11月,
    2024年11月1日 and 24年11月, with full-width digits too. Years 1900-2099; a day must exist.
    """
    cleaned = clean_cell(value)
    match = MONTH_PATTERN.match(cleaned) if cleaned else None
    if match is None:
        return None
    groups = match.groups()
    year, month, day = (next((g for g in groups[i::3] if g is not None), None) for i in range(3))
    assert year is not None and month is not None  # every alternative captures both
    full_year = 2000 + int(year) if len(year) == 2 else int(year)
    if not (YEARS[0] <= full_year <= YEARS[1] and 1 <= int(month) <= 12):
        return None
    if day is not None and not 1 <= int(day) <= calendar.monthrange(full_year, int(month))[1]:
        return None
    return date(full_year, int(month), 1)
