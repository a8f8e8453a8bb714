"""Argparse types and limits shared by the sub-commands.

Each type turns the text of one command-line value into a number or raises
:class:`argparse.ArgumentTypeError` with what is allowed (argparse adds the option's name).
:func:`check_limit` and :func:`check_workers` refuse sizes beyond what this machine can do
sensibly, unless ``--force``. They live apart from :mod:`feesim.surfaces.cli.main` so that the
sub-command modules, which ``main`` imports, do not import ``main`` back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from feesim.errors import LimitError

__all__ = [
    "MAX_MEMBERS",
    "MAX_RUNS",
    "WORKERS_PER_CORE",
    "add_force",
    "check_limit",
    "check_workers",
    "nonempty_path",
    "nonnegative_int",
    "percent",
    "positive_int",
    "probability",
    "seed_int",
]

#: Runs per branch of a forecast (and per step of its search) without ``--force``. Each run
#: keeps its monthly outcomes and vote in memory (about 5 KB for four years), so a million
#: runs per branch is about 10 GB for the two branches: near this project's 24 GB machines.
MAX_RUNS = 1_000_000
#: Members of an ensemble (scenarios x parameter sets x replicates) without ``--force``: the
#: parent keeps one summary row per member (and, without ``--out``, every table in memory).
MAX_MEMBERS = 1_000_000
#: Worker processes per core without ``--force``: beyond a few per core, processes only
#: compete for the cores and memory (each holds the model, about 150 MB).
WORKERS_PER_CORE = 4


def add_force(parser: argparse.ArgumentParser) -> None:
    """Add ``--force``: lift the limits on runs, replicates and workers."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="allow more runs, replicates or workers than the limits for this machine",
    )


def check_limit(option: str, value: int, limit: int, why: str, force: bool) -> None:
    """Refuse ``value`` above ``limit`` unless ``force``.

    Raises
    ------
    LimitError
        Naming the option, the value, the limit and why it is there.
    """
    if value > limit and not force:
        raise LimitError(
            f"{option}: got {value:,}; at most {limit:,} without --force ({why}); add --force "
            "if you mean it"
        )


def check_workers(workers: int | None, force: bool) -> None:
    """Refuse more than :data:`WORKERS_PER_CORE` worker processes per core unless ``force``."""
    if workers is None:
        return
    from feesim.studies.runner import available_cores

    cores = available_cores()
    check_limit(
        "--workers",
        workers,
        cores * WORKERS_PER_CORE,
        f"this machine has {cores} core(s); more than {WORKERS_PER_CORE} processes per core "
        "only compete for them and for memory",
        force,
    )


def _whole(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what} >= {minimum}, got {value}")
    return value


def nonempty_path(text: str) -> Path:
    """Argparse type: a path, not empty (``Path("")`` would silently be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty one")
    return Path(text)


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
