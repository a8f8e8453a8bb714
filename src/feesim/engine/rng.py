"""Random streams: one independent stream per decision and month (common random numbers).

Every random draw of a simulation comes from a generator built from the run's root
:class:`numpy.random.SeedSequence` and a *spawn key* naming the decision and the month. The draws
for "does household i pay in month 14" are therefore the same whatever happened earlier and
whatever the policy: two scenarios run with the same seed differ only by their policy, which is
what makes "step minus status quo" free of seed noise. Nothing reads or touches numpy's global
random state.

Ensemble members get their roots from :meth:`numpy.random.SeedSequence.spawn`.
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = ["Decision", "Streams", "as_seed_sequence"]


class Decision(enum.IntEnum):
    """The decisions with their own random stream."""

    POPULATION = 1
    PAYMENT = 2
    COMPLAINT = 3
    VISIT = 4
    TURNOUT = 5
    APPROVAL = 6
    FUND_PAYMENT = 7
    LEGAL = 8
    PARAMETERS = 9
    FIRM = 10


def as_seed_sequence(seed: int | np.random.SeedSequence | None) -> np.random.SeedSequence:
    """Normalise a seed (int, SeedSequence or None for fresh entropy) to a SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or a numpy SeedSequence, not {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.SeedSequence(int(seed))


class Streams:
    """Factory of per-decision, per-month generators derived from one root seed.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
        Root of all streams of one simulation (a batch of runs).

    Examples
    --------
    >>> s = Streams(7)
    >>> a = s.uniform(Decision.PAYMENT, month=3, n=4)
    >>> b = Streams(7).uniform(Decision.PAYMENT, month=3, n=4)
    >>> bool((a == b).all())
    True
    """

    def __init__(self, seed: int | np.random.SeedSequence) -> None:
        self.root = as_seed_sequence(seed)
        self._philox_base: np.ndarray | None = None

    def generator(self, decision: Decision, month: int = 0, sub: int = 0) -> np.random.Generator:
        """A fresh generator for ``decision`` in ``month`` (``sub`` separates repeated events)."""
        key = (*self.root.spawn_key, int(decision), int(month) + 1, int(sub))
        seq = np.random.SeedSequence(
            self.root.entropy, spawn_key=key, pool_size=self.root.pool_size
        )
        return np.random.Generator(np.random.PCG64(seq))

    def uniform(self, decision: Decision, month: int, n: int, sub: int = 0) -> np.ndarray:
        """``n`` float32 uniforms in [0, 1) for ``decision`` in ``month``."""
        return self.generator(decision, month, sub).random(n, dtype=np.float32)

    def uniform_runs(
        self, decision: Decision, month: int, runs: np.ndarray, sizes: np.ndarray, sub: int = 0
    ) -> np.ndarray:
        """Float32 uniforms for the households of some runs, each run from its own stream.

        Run ``r`` draws ``sizes[i]`` numbers from a Philox stream keyed by (decision, month, sub,
        r), so its draws do not depend on which other runs draw in the same month.
        """
        # Philox is counter-based: every distinct 128-bit key is an independent stream, and a
        # keyed generator is cheap to make. Key = the root's own 128 bits XOR the packed
        # (run, sub, decision, month), distinct for distinct events.
        if self._philox_base is None:
            self._philox_base = self.root.generate_state(2, np.uint64)
        high = np.uint64((int(decision) << 48) | ((int(month) + 1) << 24))
        parts = []
        for r, n in zip(np.asarray(runs).tolist(), np.asarray(sizes).tolist(), strict=True):
            low = np.uint64((int(sub) << 32) | int(r))
            key = self._philox_base ^ np.array([low, high], dtype=np.uint64)
            gen = np.random.Generator(np.random.Philox(key=key))
            parts.append(gen.random(n, dtype=np.float32))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def provenance(self) -> dict[str, object]:
        """The root seed's entropy and spawn key, for result metadata."""
        return {"entropy": str(self.root.entropy), "spawn_key": list(self.root.spawn_key)}
