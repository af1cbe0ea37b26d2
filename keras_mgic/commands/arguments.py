"""``argparse`` types shared by the subcommands: a malformed number is a usage error (exit 2,
one line) before anything runs."""

import argparse
import math


def _parse(text, kind, ok, expected):
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or (kind is float and not math.isfinite(value)) or not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text):
    return _parse(text, int, lambda v: v > 0, "a positive integer")


def non_negative_int(text):
    return _parse(text, int, lambda v: v >= 0, "an integer >= 0")


def positive_float(text):
    return _parse(text, float, lambda v: v > 0, "a positive number")


def non_negative_float(text):
    return _parse(text, float, lambda v: v >= 0, "a number >= 0")


def fraction(text):
    """A number in [0, 1) (momentum, dropout rate)."""
    return _parse(text, float, lambda v: 0 <= v < 1, "a number in [0, 1)")
