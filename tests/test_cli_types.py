"""The command-line value types: what each accepts, exactly at its limits, and what it refuses."""

from __future__ import annotations

import argparse

import pytest

from python_enrich.cli_types import (
    OneLineErrorParser,
    bounded_float,
    bounded_int,
    fraction,
    millisecond_range,
    rate_limit,
)


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


# (low, high, text) -> the value, or the exact message of the refusal (the bounds as drain uses them)
BOUNDED_INTS: list[tuple[int, int | None, str, int | str]] = [
    (0, None, "0", 0),
    (0, None, "5000", 5000),
    (0, None, "-1", "must be >= 0, got -1"),
    (1, None, "1", 1),
    (1, None, "0", "must be >= 1, got 0"),
    (1, 64, "1", 1),
    (1, 64, "64", 64),
    (1, 64, "0", "must be between 1 and 64, got 0"),
    (1, 64, "65", "must be between 1 and 64, got 65"),
    (0, 10, "10", 10),
    (0, 10, "11", "must be between 0 and 10, got 11"),
    (0, None, "five", "expected a whole number, got 'five'"),
    (0, None, "1.5", "expected a whole number, got '1.5'"),
    (0, None, "", "expected a whole number, got ''"),
    (0, None, "\x1b[2J", "expected a whole number, got '\\\\x1b[2J'"),  # the escape shown, never sent
]


@pytest.mark.parametrize(("low", "high", "text", "expected"), BOUNDED_INTS)
def test_bounded_int(low: int, high: int | None, text: str, expected: int | str) -> None:
    parse = bounded_int(low, high)
    if isinstance(expected, int):
        assert parse(text) == expected
        return
    with pytest.raises(argparse.ArgumentTypeError) as error:
        parse(text)
    assert str(error.value) == expected


# (low, high, low_inclusive, text) -> the value, or the exact message of the refusal
BOUNDED_FLOATS: list[tuple[float, float | None, bool, str, float | str]] = [
    (0, None, False, "0.001", 0.001),
    (0, None, False, "1e9", 1e9),
    (0, None, False, "0", "must be a number > 0, got '0'"),
    (0, None, False, "-0.5", "must be a number > 0, got '-0.5'"),
    (0, None, False, "inf", "must be a number > 0, got 'inf'"),
    (0, None, False, "nan", "must be a number > 0, got 'nan'"),
    (0, 600, False, "600", 600.0),
    (0, 600, False, "600.5", "must be a number > 0 and <= 600, got '600.5'"),
    (0, 600, False, "0", "must be a number > 0 and <= 600, got '0'"),
    (0, 600, False, "-inf", "must be a number > 0 and <= 600, got '-inf'"),
    (0, None, True, "0", 0.0),
    (0, None, True, "2.5", 2.5),
    (0, None, True, "-0.001", "must be a number >= 0, got '-0.001'"),
    (0.5, 2.5, True, "0.5", 0.5),
    (0.5, 2.5, True, "2.5", 2.5),
    (0.5, 2.5, True, "2.6", "must be a number >= 0.5 and <= 2.5, got '2.6'"),
    (0, None, False, "soon", "expected a number, got 'soon'"),
    (0, None, False, "\u202e5", "expected a number, got '\\\\u202e5'"),
]


@pytest.mark.parametrize(("low", "high", "low_inclusive", "text", "expected"), BOUNDED_FLOATS)
def test_bounded_float(low: float, high: float | None, low_inclusive: bool, text: str, expected: float | str) -> None:
    parse = bounded_float(low, high, low_inclusive=low_inclusive)
    if isinstance(expected, float):
        assert parse(text) == expected
        return
    with pytest.raises(argparse.ArgumentTypeError) as error:
        parse(text)
    assert str(error.value) == expected


def drain_like_parser() -> OneLineErrorParser:
    parser = OneLineErrorParser(prog="drain")
    parser.add_argument("--budget", type=bounded_int(0), required=True)
    parser.add_argument("--retries", type=bounded_int(0, 10), default=2)
    return parser


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--budget", "5", "--retries", "11"], "argument --retries: must be between 0 and 10, got 11"),
        (["--budget", "-1"], "argument --budget: must be >= 0, got -1"),
        ([], "the following arguments are required: --budget"),
        (["--budget", "5", "--\x1b[2J"], "unrecognized arguments: --\\x1b[2J"),  # no escape reaches the terminal
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        drain_like_parser().parse_args(argv)
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"drain: error: {message} (see --help)\n")


def test_good_arguments_pass_through_the_one_line_parser() -> None:
    args = drain_like_parser().parse_args(["--budget", "0"])
    assert (args.budget, args.retries) == (0, 2)


def test_bounded_float_excludes_its_low_bound_by_default() -> None:
    positive = bounded_float(0)  # as drain declares its positive durations
    assert positive("0.001") == 0.001
    with pytest.raises(argparse.ArgumentTypeError) as error:
        positive("0")
    assert str(error.value) == "must be a number > 0, got '0'"
