"""Argparse types shared by the sub-commands: whole numbers, seeds, percentages, probabilities.

Each turns the text of one command-line value into a number or raises
:class:`argparse.ArgumentTypeError` with what is allowed (argparse adds the option's name).
They live apart from :mod:`feesim.surfaces.cli.main` so that the sub-command modules, which
``main`` imports, do not import ``main`` back.
"""

from __future__ import annotations

import argparse

__all__ = ["nonnegative_int", "percent", "positive_int", "probability", "seed_int"]


def _whole(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what} >= {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """Argparse type: a whole number >= 1."""
    return _whole(text, 1, "a number")


def nonnegative_int(text: str) -> int:
    """Argparse type: a whole number >= 0."""
    return _whole(text, 0, "a number")


def seed_int(text: str) -> int:
    """Argparse type: a seed, a whole number >= 0."""
    return _whole(text, 0, "a seed")


def percent(text: str) -> float:
    """Argparse type: a step in percent (``29`` or ``29%`` = +29%), in (-90, 1000]."""
    raw = text.strip().rstrip("%")
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a percentage such as 29 or 29% (= +29%), got {text!r}"
        ) from None
    if not -90 < value <= 1000:
        raise argparse.ArgumentTypeError(f"expected a step in (-90, 1000] percent, got {text!r}")
    return value


def probability(text: str) -> float:
    """Argparse type: a probability in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a probability in (0, 1], e.g. 0.8, got {text!r}"
        ) from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a probability in (0, 1], got {text!r}")
    return value
