"""How commands report failures: one line that says what is wrong and what to do."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import psycopg2

T = TypeVar("T")


def first_line(error: BaseException) -> str:
    """The first line of an error (PostgreSQL adds DETAIL and HINT lines)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def read_warehouse(action: Callable[[], T], doing: str) -> T | None:
    """Run a command that reads the built warehouse; on failure print one line and return None."""
    try:
        return action()
    except psycopg2.errors.UndefinedTable:
        print(f"error: nothing to {doing} yet: run dbt build (./run dbt build) first", file=sys.stderr)
    except (psycopg2.Error, OSError) as error:
        print(f"error: could not {doing}: {first_line(error)}", file=sys.stderr)
    return None
