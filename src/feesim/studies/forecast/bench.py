"""Speed benchmark of the pre-vote forecast.

Issue 4's target: 1,000 runs of a 2,000-household community over 36 months in under 5 s on a
2-core machine.

:func:`benchmark_forecast` times complete forecasts (status quo and proposal, 1,000 runs each,
worker pool start-up included) of a stylised 2,000-household community over 36 months and
returns the seconds of each repeat with the best and the median. It makes no assertion: timings
depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any

from feesim.studies.forecast.engine import run_forecast
from feesim.studies.forecast.mapping import ForecastInput, community_to_input

__all__ = ["bench_community", "bench_forecast", "benchmark_forecast"]

log = logging.getLogger(__name__)


def bench_community(households: int = 2000, months: int = 36) -> ForecastInput:
    """A stylised old estate of ``households`` units: +25% with a package, voted in month 2."""
    multi = round(households * 0.6)
    data = {
        "community": {"name": f"benchmark {households} households", "billing": "quarterly"},
        "committee": {"capacity": 0.7},
        "buildings": [
            {"type": "multi-storey", "households": multi, "area_m2": multi * 60.0, "fee": 0.7},
            {
                "type": "high-rise",
                "households": households - multi,
                "area_m2": (households - multi) * 85.0,
                "fee": 1.2,
            },
        ],
        "proposal": {
            "vote": 2,
            "step_percent": 25,
            "service_improvement": 0.1,
            "door_to_door_rounds": 2,
            "door_to_door_reach": 0.5,
        },
        "forecast": {"start": "2025-01", "months_after_vote": months - 2, "seed": 1},
    }
    return community_to_input(data, source="benchmark")


def benchmark_forecast(
    runs: int = 1000,
    households: int = 2000,
    months: int = 36,
    repeats: int = 3,
    workers: int | None = None,
    populations: int = 20,
) -> dict[str, Any]:
    """Time ``repeats`` forecasts; returns seconds per repeat, best and median.

    Parameters
    ----------
    runs : int
        Runs per branch (the forecast runs the status quo and the proposal: 2 x ``runs``).
    households, months : int
        Size and horizon of the community.
    repeats : int
        Forecasts timed (the first includes importing the model code into workers).
    workers : int, optional
        Worker processes (default: up to two).

    Returns
    -------
    dict
        ``seconds`` (list), ``best``, ``median``, ``runs``, ``households``, ``months``,
        ``household_months_per_s`` (both branches, best repeat), ``pass_probability``.
    """
    inp = bench_community(households, months)
    seconds = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = run_forecast(
            inp,
            runs=runs,
            populations=populations,
            workers=workers,
            ensemble=None,
            progress=False,
        )
        seconds.append(time.perf_counter() - t0)
        log.info("forecast benchmark: %.2f s", seconds[-1])
    best = min(seconds)
    return {
        "name": "forecast",
        "runs": runs,
        "households": households,
        "months": months,
        "workers": workers,
        "seconds": seconds,
        "best": best,
        "median": statistics.median(seconds),
        "household_months_per_s": 2 * runs * households * months / best,
        "pass_probability": None if result is None else result.pass_probability,
    }


def bench_forecast(
    runs: int = 1000, households: int = 2000, months: int = 36, repeats: int = 1
) -> float:
    """Best wall time (seconds) of ``repeats`` complete forecasts (for ``feesim bench``)."""
    return float(
        benchmark_forecast(runs=runs, households=households, months=months, repeats=repeats)["best"]
    )
