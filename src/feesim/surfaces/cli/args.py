"""Argument types shared by the sub-commands of ``feesim``.

Apart from :mod:`feesim.surfaces.cli.main` so that the sub-command modules it registers
(:mod:`~feesim.surfaces.cli.forecast`, :mod:`~feesim.surfaces.cli.calibrate`) do not import it
back.
"""

from __future__ import annotations

import argparse

__all__ = ["nonnegative_int", "positive_int", "seed_int"]


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
