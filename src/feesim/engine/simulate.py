"""The one-call entry point: run a scenario and get its result."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from feesim.config.scenario import Scenario
from feesim.engine.model import FeeModel
from feesim.engine.results import SimulationResult
from feesim.seeding import check_rng, rng_alias

__all__ = ["simulate"]


def simulate(
    scenario: Scenario | Sequence[Scenario],
    *,
    rng: int | np.random.SeedSequence | None = None,
    months: int | None = None,
    strict_ledger: bool = False,
    seed: int | np.random.SeedSequence | None = None,
) -> SimulationResult:
    """Run one scenario (or a batch of them side by side) to the end and return the result.

    Parameters
    ----------
    scenario : Scenario or sequence of Scenario
    rng : int or SeedSequence, optional
        Root seed (SPEC 7); defaults to ``scenario.simulation.seed``.
    months : int, optional
        Override the horizon (``simulation.months``).
    strict_ledger : bool
        Check household by household every month that no money is lost or created.
    seed : int or SeedSequence, optional
        Deprecated alias of ``rng``.

    Returns
    -------
    SimulationResult
    """
    runs = [scenario] if isinstance(scenario, Scenario) else list(scenario)
    if months is not None:
        runs = [sc.with_changes(**{"simulation.months": months}) for sc in runs]
    root = check_rng(rng_alias(rng, seed), "rng")
    return FeeModel(runs, rng=root, strict_ledger=strict_ledger).run()
