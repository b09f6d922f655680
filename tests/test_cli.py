"""The argparse conventions every command shares (videossr/cli.py): value types and exit codes."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from videossr.cli import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, choice_type, float_in, int_at_least, run
from videossr.procs import OutputLockedError


@pytest.mark.parametrize(
    "convert, text, expected",
    [
        (float_in(0.0, 1.0, low_open=True), "1", 1.0),
        (float_in(0.0, 1.0, low_open=True), "0.25", 0.25),
        (float_in(0.0, 1.0), "0", 0.0),
        (float_in(0.0), "1e9", 1e9),
        (int_at_least(0), "0", 0),
        (choice_type(["smooth", "strict"]), " Strict ", "strict"),
    ],
)
def test_accepted_values(convert, text, expected):
    assert convert(text) == expected


@pytest.mark.parametrize(
    "convert, text, message",
    [
        (float_in(0.0, 1.0, low_open=True), "0", "must be in (0, 1], got 0.0"),
        (float_in(0.0, 1.0), "1.5", "must be in [0, 1], got 1.5"),
        (float_in(0.0, 1.0), "nan", "must be in [0, 1], got nan"),
        (float_in(0.0, low_open=True), "-2", "must be a finite number > 0, got -2.0"),
        (float_in(0.0), "inf", "must be a finite number >= 0, got inf"),
        (float_in(0.0), "abc", "not a number: 'abc'"),
        (int_at_least(1), "0", "must be >= 1, got 0"),
        (int_at_least(1), "1.5", "not an integer: '1.5'"),
        (choice_type(["smooth", "strict"]), "soft", "invalid choice: 'soft' (choose from smooth, strict)"),
    ],
)
def test_refused_values_say_why(convert, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as e:
        convert(text)
    assert str(e.value) == message


def _raising(error: BaseException):
    def main(argv):
        raise error

    return main


@pytest.mark.parametrize(
    "error, code",
    [
        (ValueError("bad value"), EXIT_USAGE),
        (FileNotFoundError("no such file"), EXIT_USAGE),
        (OutputLockedError(Path("out"), "held by another run"), EXIT_USAGE),
        (KeyboardInterrupt(), EXIT_INTERRUPTED),
    ],
)
def test_run_turns_errors_into_exit_codes(error, code, capsys):
    assert run(_raising(error), [], name="prog") == code
    assert capsys.readouterr().err.startswith("prog: ")


def test_run_returns_mains_code_and_lets_bugs_through():
    assert run(lambda argv: None, []) == EXIT_OK
    assert run(lambda argv: 1, []) == 1
    with pytest.raises(ZeroDivisionError):
        run(_raising(ZeroDivisionError()), [])
