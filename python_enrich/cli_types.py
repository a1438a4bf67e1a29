"""Command-line value types shared by the commands (argparse `type=` functions)."""

from __future__ import annotations

import argparse


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
