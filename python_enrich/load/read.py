"""Reading a user's CSV or workbook as text: every cell a string, nothing guessed.

CSV: UTF-8 (with or without BOM) or GB18030, anything else refused with the file's name. Workbooks
(.xlsx, .xlsm, .xlsb, .xls, .ods) are read by pandas' calamine engine. The first row is the header;
row numbers are the ones a user sees in Excel (header = row 1). Fully blank rows are not data.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
ZIP_MAGIC, OLE_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"


class FileError(ValueError):
    """A file the loader cannot use; the message names the file and says why, in one line."""


@dataclass
class SourceTable:
    """The cells of one CSV file or sheet."""

    headers: list[str]
    frame: pd.DataFrame  # one column per header position, str cells ('' when blank), index = row number
    source_name: str  # file name, plus !sheet for a workbook
    digest: str  # the first 12 hex digits of the file's SHA-256: rows' keys are digest:row
    notes: list[str] = field(default_factory=list)


def _decode_csv(data: bytes, name: str) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileError(f"{name} is UTF-16 text: save it as UTF-8 (or GB18030) CSV")
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise FileError(f"{name} contains NUL characters: not a text CSV file (UTF-16?)")
        return text, encoding
    raise FileError(f"{name} is neither UTF-8 nor GB18030 text: save it as UTF-8 CSV")


def _read_csv(data: bytes, name: str) -> tuple[pd.DataFrame, list[str]]:
    text, encoding = _decode_csv(data, name)
    try:
        frame = pd.read_csv(
            io.StringIO(text), header=None, dtype=str, keep_default_na=False, skip_blank_lines=False, engine="c"
        )
    except pd.errors.EmptyDataError:
        raise FileError(f"{name} is empty") from None
    except (pd.errors.ParserError, ValueError) as error:
        raise FileError(f"{name} is not a readable CSV file: {str(error).strip().splitlines()[-1]}") from None
    return frame, [] if encoding == "utf-8-sig" else [f"read as {encoding.upper()}"]


def _read_sheet(data: bytes, name: str, sheet: str | None, default_sheet: str) -> tuple[pd.DataFrame, str, list[str]]:
    try:
        workbook = pd.ExcelFile(io.BytesIO(data), engine="calamine")
    except Exception as error:  # calamine raises its own error types for every kind of damage
        raise FileError(f"{name} is not a readable workbook: {str(error).strip().splitlines()[0]}") from None
    sheets = [str(s) for s in workbook.sheet_names]
    notes = []
    if sheet is None:
        sheet = default_sheet if default_sheet in sheets else sheets[0] if sheets else None
        if sheet != default_sheet and sheet is not None:
            notes.append(f"no sheet {default_sheet}: read the first sheet, {sheet} (choose with --sheet)")
    if sheet not in sheets:
        raise FileError(f"{name} has no sheet {sheet!r} (its sheets: {', '.join(sheets) or 'none'})")
    try:
        frame = pd.read_excel(workbook, sheet_name=sheet, header=None, dtype=str, keep_default_na=False)
    except Exception as error:
        raise FileError(f"{name}: sheet {sheet} cannot be read: {str(error).strip().splitlines()[0]}") from None
    return frame, sheet, notes


def _blank_rows(rows: pd.DataFrame) -> pd.Series:
    """True for rows whose every cell is blank. Column by column, only over the rows still in
    doubt: the first column usually settles almost every row."""
    blank = pd.Series(True, index=rows.index)
    for position in range(rows.shape[1]):
        doubtful = blank[blank].index
        if doubtful.empty:
            break
        has_text = rows.iloc[:, position].loc[doubtful].str.strip() != ""
        blank.loc[has_text[has_text].index] = False
    return blank


def read_source(path: Path, sheet: str | None = None, default_sheet: str = "") -> SourceTable:
    """The header and data rows of a CSV file or a workbook's sheet; raises FileError."""
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as error:
        raise FileError(f"cannot read {path}: {error.strerror or error}") from None
    if not data.strip():
        raise FileError(f"{name} is empty")
    is_workbook = path.suffix.lower() in WORKBOOK_SUFFIXES or data.startswith((ZIP_MAGIC, OLE_MAGIC))
    if is_workbook:
        frame, sheet_name, notes = _read_sheet(data, name, sheet, default_sheet)
        source_name = f"{name}!{sheet_name}"
    else:
        if sheet is not None:
            raise FileError(f"{name} is a CSV file: it has no sheets (leave out --sheet)")
        frame, notes = _read_csv(data, name)
        source_name = name
    frame = frame.fillna("").astype(str)
    if frame.empty:
        raise FileError(f"{source_name} is empty")
    headers = [h.strip() for h in frame.iloc[0]]
    rows = frame.iloc[1:]
    rows.index = range(2, len(frame) + 1)  # row numbers as a spreadsheet shows them
    blank = _blank_rows(rows)
    if blank.any():
        notes.append(f"skipped {int(blank.sum())} blank rows")
    rows = rows[~blank]
    if rows.empty:
        raise FileError(f"{source_name} has a header but no data rows")
    return SourceTable(headers, rows, source_name, hashlib.sha256(data).hexdigest()[:12], notes)
