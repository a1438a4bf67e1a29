"""The command-line value types: what each accepts, exactly at its limits, and what it refuses."""

from __future__ import annotations

import argparse

import pytest

from python_enrich.cli_types import fraction, millisecond_range, rate_limit


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10/60", (10, 60.0)), ("1/0.5", (1, 0.5)), ("600/60", (600, 60.0)), ("1/1e-9", (1, 1e-9))],
)
def test_rate_limit_accepts(text: str, expected: tuple[int, float]) -> None:
    assert rate_limit(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/60", "the rate limit needs at least 1 request per a positive window"),
        ("-1/60", "the rate limit needs at least 1 request per a positive window"),
        ("10/0", "the rate limit needs at least 1 request per a positive window"),
        ("10/-5", "the rate limit needs at least 1 request per a positive window"),
        ("10", "expected REQUESTS/SECONDS such as 10/60, got '10'"),
        ("ten/60", "expected REQUESTS/SECONDS such as 10/60, got 'ten/60'"),
        ("1.5/60", "expected REQUESTS/SECONDS such as 10/60, got '1.5/60'"),
    ],
)
def test_rate_limit_refuses(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as error:
        rate_limit(text)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("500..2000", (500, 2000)), ("0..0", (0, 0)), ("7", (7, 7)), ("300..300", (300, 300)), ("0..1", (0, 1))],
)
def test_millisecond_range_accepts(text: str, expected: tuple[int, int]) -> None:
    assert millisecond_range(text) == expected


@pytest.mark.parametrize(
    "text", ["2000..500", "1..0", "-1..5", "a..b", "5..x", "", "..5", "1.5..2", "5..", "５..６", "²"]
)
def test_millisecond_range_refuses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as error:
        millisecond_range(text)
    assert str(error.value) == f"expected MIN..MAX in milliseconds, got {text!r}"


@pytest.mark.parametrize(("text", "expected"), [("0", 0.0), ("1", 1.0), ("0.25", 0.25), ("1.0", 1.0)])
def test_fraction_accepts_zero_to_one_inclusive(text: str, expected: float) -> None:
    assert fraction(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.0001", "expected a rate between 0 and 1"),
        ("-0.0001", "expected a rate between 0 and 1"),
        ("half", "expected a rate between 0 and 1, got 'half'"),
        ("", "expected a rate between 0 and 1, got ''"),
    ],
)
def test_fraction_refuses(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as error:
        fraction(text)
    assert str(error.value) == message
