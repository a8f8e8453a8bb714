"""The model behind the dashboard: a :class:`feesim.FeeModel` built from lever values."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from feesim.config.scenario import Scenario, load_scenario
from feesim.engine.model import FeeModel
from feesim.surfaces.dashboard.levers import default_base, resolve_levers, scenario_from_levers

if TYPE_CHECKING:  # pragma: no cover
    from feesim.engine.results import SimulationResult

__all__ = ["SCENARIO_ENV", "DashboardModel", "base_scenario"]

#: Environment variable through which ``feesim dashboard`` tells the app its scenario file.
SCENARIO_ENV = "FEESIM_DASHBOARD_SCENARIO"


def base_scenario(path: str | os.PathLike[str] | None = None) -> Scenario:
    """The dashboard's base community.

    ``path``, else the file named by ``$FEESIM_DASHBOARD_SCENARIO``, else the built-in old
    public-housing estate (:func:`feesim.surfaces.dashboard.levers.default_base`).
    """
    chosen = path if path is not None else os.environ.get(SCENARIO_ENV) or None
    return default_base() if chosen is None else load_scenario(chosen)


class DashboardModel(FeeModel):
    """One community under the dashboard's levers, stepped month by month.

    Every keyword but ``base`` and ``rng`` is a lever of
    :data:`feesim.surfaces.dashboard.levers.LEVERS`; values left at None take what the base scenario
    stands for. Values may also be solara reactive variables (the dashboard passes its sliders'
    state).

    Parameters
    ----------
    base : Scenario or path, optional
        The community (default: :func:`base_scenario`).
    price_step, vote_month, quality_first_months, service_package, wage_growth, door_to_door,
    campaign_steps, evaluation_rollback, renovation, years, seed
        The levers.
    rng : int or numpy.random.SeedSequence, optional
        Root seed; overrides ``seed``.

    Attributes
    ----------
    levers : dict
        The lever values in force (see :func:`feesim.surfaces.dashboard.levers.resolve_levers`).
    lever_scenario : Scenario
        The scenario the levers make (``scenario`` is Mesa's own attribute).
    trace : list of dict
        Per month: ``month``, ``quality`` (delivered) and ``collection`` (the firm's trailing
        twelve-month collection), the path drawn in the quality-collection plane.
    lock : threading.RLock
        Held while a month is simulated and while the tables are read: the page's play loop
        steps the model in one thread while the page may be drawn in another.
    """

    def __init__(
        self,
        base: Scenario | str | os.PathLike[str] | None = None,
        *,
        price_step: Any = None,
        vote_month: Any = None,
        quality_first_months: Any = None,
        service_package: Any = None,
        wage_growth: Any = None,
        door_to_door: Any = None,
        campaign_steps: Any = None,
        evaluation_rollback: Any = None,
        renovation: Any = None,
        years: Any = None,
        seed: Any = None,
        rng: int | np.random.SeedSequence | None = None,
    ) -> None:
        sc = base if isinstance(base, Scenario) else base_scenario(base)
        given = {
            "price_step": price_step,
            "vote_month": vote_month,
            "quality_first_months": quality_first_months,
            "service_package": service_package,
            "wage_growth": wage_growth,
            "door_to_door": door_to_door,
            "campaign_steps": campaign_steps,
            "evaluation_rollback": evaluation_rollback,
            "renovation": renovation,
            "years": years,
            "seed": seed,
        }
        given = {k: getattr(v, "value", v) for k, v in given.items()}
        self.base = sc
        self.levers = resolve_levers(sc, {k: v for k, v in given.items() if v is not None})
        self.lever_scenario = scenario_from_levers(sc, self.levers)
        super().__init__(self.lever_scenario, rng=int(self.levers["seed"]) if rng is None else rng)
        self.running = True
        self.trace: list[dict[str, float]] = []
        self._result: tuple[int, SimulationResult] | None = None
        self.lock = threading.RLock()

    def advance(self) -> None:
        """:meth:`step` under :attr:`lock` (what the page's play loop calls).

        Mesa wraps ``step`` and moves the clock (``time``) before the model's own step runs; a
        table read in that moment would see a month not yet recorded. Taking the lock before
        Mesa's wrapper keeps readers out until the month is complete.
        """
        with self.lock:
            self.step()

    def step(self) -> None:
        """Advance one month; stops (``running`` False) at the end of the horizon."""
        t = self.simulating()
        if t >= self.months:
            self.time = float(self.months)  # nothing to simulate: keep the clock at the end
            self.running = False
            return
        super().step()
        coll = self.trailing_collection()
        self.trace.append(
            {
                "month": t,
                "quality": float(self.firms.quality[0]),
                # fees received over fees billed: recovered arrears count, so it can pass 1
                "collection": float(coll[0]),
            }
        )
        if self.month >= self.months:
            self.running = False

    def result(self) -> SimulationResult:
        """The tables of the months run so far (cached until the next step)."""
        with self.lock:
            if self._result is None or self._result[0] != self.month:
                self._result = (self.month, super().result())
            return self._result[1]

    def trace_frame(self) -> pd.DataFrame:
        """:attr:`trace` as a table."""
        with self.lock:
            return pd.DataFrame(list(self.trace), columns=["month", "quality", "collection"])

    def household_frame(self, run: int = 0) -> pd.DataFrame:
        """The households of ``run`` now (see :meth:`feesim.FeeModel.household_frame`)."""
        with self.lock:
            return super().household_frame(run)
