"""Helpers of the comparative-statics suite: paired runs on common random numbers.

A *lever effect* is measured as run-by-run differences between two ensembles simulated with the
same root seed and the same number of runs: run ``r`` of each uses the same household
population and the same random stream of every decision, so their difference is the lever's
effect, not seed noise (:mod:`feesim.engine.rng`). A direction is asserted when the mean
difference clears both a minimum size and ``Z`` standard errors of the paired differences.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from feesim import FeeModel
from feesim.config.scenario import Scenario
from feesim.engine.results import SimulationResult

#: Standard errors a mean paired difference must clear.
Z = 3.0


@dataclass(frozen=True, repr=False)
class Effect:
    """Paired differences (lever minus base) of one outcome, run by run."""

    diff: np.ndarray
    base: np.ndarray
    lever: np.ndarray

    @property
    def mean(self) -> float:
        """Mean difference."""
        return float(np.mean(self.diff))

    @property
    def se(self) -> float:
        """Standard error of the mean difference."""
        n = len(self.diff)
        return float(np.std(self.diff, ddof=1) / np.sqrt(n)) if n > 1 else 0.0

    def positive(self, minimum: float) -> bool:
        """The lever raises the outcome, by at least ``minimum`` and ``Z`` standard errors."""
        return self.mean >= minimum and self.mean > Z * self.se

    def negative(self, minimum: float) -> bool:
        """The lever lowers the outcome, by at least ``minimum`` and ``Z`` standard errors."""
        return self.mean <= -minimum and -self.mean > Z * self.se

    def __repr__(self) -> str:
        return (
            f"base {np.mean(self.base):.3f}, lever {np.mean(self.lever):.3f}, "
            f"difference {self.mean:+.3f} (se {self.se:.3f}, n {len(self.diff)})"
        )


Outcome = Callable[[SimulationResult], np.ndarray]


#: Ensembles already run in this session, by scenario, size and seed. Many tests share a base
#: community and a lever is read on several outcomes: each ensemble is simulated once (the
#: results are deterministic in these three, and only read).
_RUNS: dict[tuple[str, int, int], SimulationResult] = {}
_MAX_RUNS = 96


def run(
    scenario: Scenario,
    replicates: int,
    seed: int,
    before: Callable[[FeeModel], None] | None = None,
    at: int | None = None,
    *,
    cache: bool = False,
) -> SimulationResult:
    """``replicates`` runs of ``scenario``; ``before(model)`` is called at the start of ``at``.

    With ``cache`` an ensemble already run is reused (:func:`effect`'s default); off by default,
    since a test may watch the engine while it runs (a spy sees nothing on a reused result).
    """
    key = (repr(scenario), replicates, seed)
    if cache and before is None and key in _RUNS:
        return _RUNS[key]
    model = FeeModel([scenario] * replicates, rng=seed)
    if before is not None:
        model.run(at)
        before(model)
    result = model.run()
    if cache and before is None:
        if len(_RUNS) >= _MAX_RUNS:
            _RUNS.pop(next(iter(_RUNS)))  # the oldest
        _RUNS[key] = result
    return result


def effect(
    base: Scenario,
    lever: Scenario | None,
    outcome: Outcome,
    *,
    replicates: int = 24,
    seed: int = 11,
    switch: Callable[[FeeModel], None] | None = None,
    at: int | None = None,
) -> Effect:
    """Paired effect on ``outcome`` of ``lever`` (a scenario) or of ``switch`` applied at ``at``."""
    a = outcome(run(base, replicates, seed, cache=True))
    b = outcome(run(lever if lever is not None else base, replicates, seed, switch, at, cache=True))
    return Effect(b - a, a, b)


# -- outcomes ------------------------------------------------------------------------------------
def collection_at(month: int) -> Outcome:
    """Year-to-date collection of each run at ``month`` (a December for a year's figure)."""

    def get(result: SimulationResult) -> np.ndarray:
        return result.at(month, "collection_rate")

    return get


def trailing(column: str, months: int = 12) -> Outcome:
    """Mean of ``column`` over each run's last ``months`` months."""

    def get(result: SimulationResult) -> np.ndarray:
        s = result.series
        last = s[s["month"] >= s["month"].max() - months + 1]
        return last.groupby("run")[column].mean().to_numpy()

    return get


def notice_month(result: SimulationResult) -> np.ndarray:
    """First month each run's firm gave notice or left (the horizon if never)."""
    s = result.series
    horizon = int(s["month"].max()) + 1
    gone = s[s["firm_state"] != "regular"].groupby("run")["month"].min()
    return gone.reindex(range(result.n_runs), fill_value=horizon).to_numpy(dtype=float)


def firm_margin(result: SimulationResult) -> np.ndarray:
    """Net margin of the community's providers over each whole run (share of revenue).

    What every provider that held the contract earned over what it spent, summed over the
    months before it is divided: month-to-month margins swing with the billing cycle (a
    quarterly bill is cash in one month of three), a run's total does not.
    """
    s = result.series
    g = s.groupby("run")[["firm_revenue_yuan", "firm_cost_yuan"]].sum()
    revenue = g["firm_revenue_yuan"].to_numpy()
    return (revenue - g["firm_cost_yuan"].to_numpy()) / np.maximum(revenue, 1e-9)


def exited(result: SimulationResult) -> np.ndarray:
    """1 where the run's firm gave notice or left within the horizon."""
    return (notice_month(result) < result.series["month"].max() + 1).astype(float)


def vote(column: str, matter: str = "fee") -> Outcome:
    """``column`` of each run's first vote on ``matter`` (NaN where none was held)."""

    def get(result: SimulationResult) -> np.ndarray:
        v = result.votes[result.votes["matter"] == matter]
        first = v.groupby("run")[column].first()
        return first.reindex(range(result.n_runs)).to_numpy(dtype=float)

    return get


def with_(scenario: Scenario, path: str, value: object) -> Scenario:
    """``scenario`` with one field changed (``section.field``), validated."""
    return scenario.with_changes(**{path: value})


def replace(scenario: Scenario, **sections: object) -> Scenario:
    """``scenario`` with whole sections replaced (no validation)."""
    return dataclasses.replace(scenario, **sections)
