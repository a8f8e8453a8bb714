"""Designs: the points to simulate, a Saltelli (Sobol') or a Morris sample of the factors.

Holds :class:`Design` and :func:`design`, and the helper that turns an ``rng`` argument into a
random generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from feesim.errors import ConfigError
from feesim.studies.sensitivity.factors import Factor, _check_factors

Method = Literal["sobol", "morris"]
METHODS: tuple[str, ...] = ("sobol", "morris")


@dataclass(frozen=True)
class Design:
    """Points to simulate: the unit-cube sample and the field values it stands for.

    Attributes
    ----------
    factors : tuple of Factor
    method : {"sobol", "morris"}
    n : int
        Base samples (Sobol') or trajectories (Morris).
    unit : numpy.ndarray
        ``(points, D)`` sample of the unit cube, in the order the estimators expect
        (Saltelli blocks ``A, AB_1 .. AB_D, B``; Morris trajectories of ``D + 1`` points).
    levels : int
        Grid levels of a Morris design (0 for Sobol').
    seed : dict
        Provenance of the random generator that drew the design.
    """

    factors: tuple[Factor, ...]
    method: str
    n: int
    unit: np.ndarray = field(repr=False)
    levels: int = 0
    seed: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def points(self) -> int:
        """Number of design points (simulated scenarios or portfolios)."""
        return int(self.unit.shape[0])

    def __len__(self) -> int:
        return self.points

    @property
    def names(self) -> list[str]:
        """Factor names in design order."""
        return [f.name for f in self.factors]

    @property
    def values(self) -> pd.DataFrame:
        """One row per point, one column per factor: the field values simulated."""
        cols = {f.name: f.values(self.unit[:, j]) for j, f in enumerate(self.factors)}
        frame = pd.DataFrame(cols)
        frame.index.name = "point"
        return frame

    def factors_frame(self) -> pd.DataFrame:
        """The factors as a table (name, path, kind, range, type, unit, meaning)."""
        return pd.DataFrame([f.describe() for f in self.factors])


def _generator(
    rng: int | np.random.Generator | np.random.SeedSequence | None,
) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0:
        raise ConfigError(
            f"rng: got {rng!r}; expected an integer >= 0, a SeedSequence or a Generator"
        )
    return np.random.default_rng(int(rng))


def design(
    factors: Sequence[Factor],
    n: int,
    method: Method = "sobol",
    *,
    levels: int = 4,
    rng: int | np.random.Generator | np.random.SeedSequence | None = None,
) -> Design:
    """Draw a Sobol' (Saltelli) or Morris design.

    Parameters
    ----------
    factors : sequence of Factor
    n : int
        Sobol': base samples, a power of 2 (``n * (D + 2)`` points; 64-256 is typical, more
        for narrow intervals). Morris: trajectories (``n * (D + 1)`` points; 10-50 is typical).
    method : {"sobol", "morris"}
    levels : int
        Morris grid levels (even, >= 2); the step is ``levels / (2 (levels - 1))`` of the range.
    rng : int, SeedSequence or Generator, optional
        Randomness of the design (Sobol' scrambling, Morris starts and orders). ``None`` draws
        fresh entropy.

    Returns
    -------
    Design

    Raises
    ------
    ConfigError
        For an unknown method, ``n`` not allowed, bad levels or duplicated factors.
    """
    factors = _check_factors(factors)
    if method not in METHODS:
        raise ConfigError(f"method: got {method!r}; expected one of {', '.join(METHODS)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ConfigError(f"n: got {n!r}; expected an integer")
    n = int(n)
    gen = _generator(rng)
    seed_info = {"bit_generator": type(gen.bit_generator).__name__}
    D = len(factors)
    if method == "sobol":
        if n < 2 or n & (n - 1):
            raise ConfigError(
                f"n: got {n}; expected a power of 2 >= 2 (a Sobol' sequence keeps its balance "
                "only for powers of 2)"
            )
        from scipy.stats import qmc

        base = qmc.Sobol(d=2 * D, scramble=True, rng=gen).random(n)
        A, B = base[:, :D], base[:, D:]
        blocks = np.empty((n, D + 2, D))
        blocks[:, 0] = A
        for j in range(D):
            blocks[:, j + 1] = A
            blocks[:, j + 1, j] = B[:, j]
        blocks[:, D + 1] = B
        return Design(factors, "sobol", n, blocks.reshape(n * (D + 2), D), 0, seed_info)
    if n < 2:
        raise ConfigError(f"n: got {n}; expected at least 2 Morris trajectories")
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2 or levels % 2:
        raise ConfigError(f"levels: got {levels!r}; expected an even integer >= 2")
    half = levels // 2
    traj = np.empty((n, D + 1, D))
    for t in range(n):
        low = gen.integers(0, half, D)
        start_high = gen.random(D) < 0.5
        level = np.where(start_high, low + half, low)
        traj[t, 0] = level
        for k, i in enumerate(gen.permutation(D)):
            level = level.copy()
            level[i] = low[i] if start_high[i] else low[i] + half
            traj[t, k + 1] = level
    unit = traj.reshape(n * (D + 1), D) / (levels - 1)
    return Design(factors, "morris", n, unit, levels, seed_info)
