"""Command-line value types shared by the commands (argparse `type=` functions)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn

from python_enrich.safe_output import for_terminal


def rate_limit(text: str) -> tuple[int, float]:
    """'R/W': at most R requests in any W seconds, e.g. 10/60."""
    count, _, window = text.partition("/")
    try:
        parsed = int(count), float(window)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected REQUESTS/SECONDS such as 10/60, got {text!r}") from None
    if parsed[0] < 1 or parsed[1] <= 0:
        raise argparse.ArgumentTypeError("the rate limit needs at least 1 request per a positive window")
    return parsed


def millisecond_range(text: str) -> tuple[int, int]:
    """'MIN..MAX' milliseconds (or one number for both)."""
    low, separator, high = text.partition("..")
    high = high if separator else low
    if not (low + high).isascii() or not low.isdigit() or not high.isdigit() or int(high) < int(low):
        raise argparse.ArgumentTypeError(f"expected MIN..MAX in milliseconds, got {text!r}")
    return int(low), int(high)


def fraction(text: str) -> float:
    """A rate between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a rate between 0 and 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("expected a rate between 0 and 1")
    return value


def bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    """An integer in low..high (inclusive); the error says which bound, naming nothing else."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {for_terminal(text)!r}") from None
        if value < low or (high is not None and value > high):
            allowed = f"between {low} and {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {value}")
        return value

    return parse


def bounded_float(low: float, high: float | None = None, *, low_inclusive: bool = False) -> Callable[[str], float]:
    """A finite number above low (or at least low) and at most high."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {for_terminal(text)!r}") from None
        too_low = value < low if low_inclusive else value <= low
        if not math.isfinite(value) or too_low or (high is not None and value > high):
            bound = f"{'>=' if low_inclusive else '>'} {low:g}" + (f" and <= {high:g}" if high is not None else "")
            raise argparse.ArgumentTypeError(f"must be a number {bound}, got {for_terminal(text)!r}")
        return value

    return parse


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (naming the setting) and exit 2, without the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {for_terminal(message)} (see --help)\n")
