"""The one-call entry point: run a scenario and get its result."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from feesim.config.scenario import Scenario
from feesim.engine.model import FeeModel
from feesim.engine.results import SimulationResult

__all__ = ["simulate"]


def simulate(
    scenario: Scenario | Sequence[Scenario],
    *,
    seed: int | np.random.SeedSequence | None = None,
    months: int | None = None,
    strict_ledger: bool = False,
) -> SimulationResult:
    """Run one scenario (or a batch of them side by side) to the end and return the result.

    Parameters
    ----------
    scenario : Scenario or sequence of Scenario
    seed : int or SeedSequence, optional
        Root seed; defaults to ``scenario.simulation.seed``.
    months : int, optional
        Override the horizon (``simulation.months``).
    strict_ledger : bool
        Check household by household every month that no money is lost or created.

    Returns
    -------
    SimulationResult
    """
    runs = [scenario] if isinstance(scenario, Scenario) else list(scenario)
    if months is not None:
        runs = [sc.with_changes(**{"simulation.months": months}) for sc in runs]
    return FeeModel(runs, rng=seed, strict_ledger=strict_ledger).run()
