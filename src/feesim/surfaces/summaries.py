"""Short summaries for the terminal, in the language in force (:mod:`feesim.i18n`).

``feesim bench`` prints :func:`bench_summary`. The other results translate their own
``summary_text`` where it is written (the engine's :class:`~feesim.SimulationResult` and the
studies' results); the results' data keys and files stay English.

The names of the engine's vote matters and deciding tests in words (:func:`matter_name`,
:func:`test_name`, :func:`vote_result`) are the engine's (:mod:`feesim.engine.results`),
re-exported here for the dashboard, the plots and the report.
"""

from __future__ import annotations

from typing import Any

from feesim.engine.results import (
    MATTER_WORDS,
    TEST_WORDS,
    matter_name,
    test_name,
    vote_result,
)
from feesim.i18n import N_
from feesim.i18n import gettext as _

__all__ = [
    "BENCH_GOALS",
    "MATTER_WORDS",
    "TEST_WORDS",
    "bench_summary",
    "matter_name",
    "test_name",
    "vote_result",
]

#: The goals of ``feesim bench`` (keys of its ``goals``), for translation.
BENCH_GOALS = {
    "household_steps_per_s >= 20e6": N_("household_steps_per_s >= 20e6"),
    "ratio >= 100": N_("ratio >= 100"),
    "forecast_s < 5": N_("forecast_s < 5"),
    "scaling >= 1.8": N_("scaling >= 1.8"),
    "city_s < 60 (full city only)": N_("city_s < 60 (full city only)"),
    "city_memory_gib < 8": N_("city_memory_gib < 8"),
}


def bench_summary(result: dict[str, Any]) -> str:
    """What ``feesim bench`` prints: the figures of :func:`~feesim.studies.bench.run_benchmarks`."""
    m = result["machine"]
    eng = result["engine"]
    f = result["forecast"]
    sc = result["scaling"]
    cb = result["calibration"]
    c = result["city"]
    lines = [
        _("machine: {cpu}, {cores} cores, {memory} GiB, Python {python}").format(
            cpu=m["cpu"], cores=m["cores"], memory=m["memory_gib"], python=m["python"]
        ),
        _(
            "engine (1 core): {rate} M household-steps/s ({households} households x {months} "
            "months)"
        ).format(
            rate=f"{result['household_steps_per_s'] / 1e6:.1f}",
            households=f"{eng['households']:,}",
            months=eng["months"],
        ),
        _("per-agent Mesa reference: {rate} k household-steps/s; ratio {ratio}x").format(
            rate=f"{result['reference_household_steps_per_s'] / 1e3:.1f}",
            ratio=f"{result['ratio']:.0f}",
        ),
        _("forecast: {runs} runs x {households} households x {months} months in {s} s").format(
            runs=f"{f['runs']:,}",
            households=f"{f['households']:,}",
            months=f["months"],
            s=f"{f['seconds']:.2f}",
        ),
        _(
            "scaling (warm pools, best of {repeat}): 1 worker {one} s, 2 workers {two} s -> "
            "{speedup}x (median {median}x; cold, pool start included: {cold}x)"
        ).format(
            repeat=sc["repeat"],
            one=f"{sc['one_worker_s']:.1f}",
            two=f"{sc['two_workers_s']:.1f}",
            speedup=f"{sc['speedup']:.2f}",
            median=f"{sc['speedup_median']:.2f}",
            cold=f"{sc['speedup_cold']:.2f}",
        ),
        _(
            "calibration ({budget}): {n} simulations in {one} s in one process ({each} s each), "
            "{two} s on 2 workers -> {speedup}x; one at a time on 2 workers {serial} s -> "
            "{serial_speedup}x"
        ).format(
            budget=_("quick budget") if cb["quick"] else _("full budget"),
            n=cb["simulations"],
            one=f"{cb['one_process_s']:.1f}",
            each=f"{cb['seconds_per_simulation']:.2f}",
            two=f"{cb['two_workers_s']:.1f}",
            speedup=f"{cb['speedup']:.2f}",
            serial=f"{cb['one_at_a_time_two_workers_s']:.1f}",
            serial_speedup=f"{cb['speedup_one_at_a_time']:.2f}",
        ),
    ]
    if "error" in c:
        lines.append(_("city: failed ({error})").format(error=c["error"]))
    else:
        lines.append(
            _(
                "city ({fraction}): {communities} communities, {households} households x "
                "{months} months in {s} s on {workers} workers, peak memory {memory} GiB "
                "(parent and workers)"
            ).format(
                fraction=f"{c['fraction_of_city']:.0%}",
                communities=f"{c['communities']:,}",
                households=f"{c['households']:,}",
                months=c["months"],
                s=f"{c['wall_s']:.1f}",
                workers=c["workers"],
                memory=f"{c['peak_memory_gib']:.2f}",
            )
        )
    for goal, met in result["goals"].items():
        mark = _("n/a ") if met is None else _("met ") if met else _("MISS")
        lines.append(f"  {mark} {_(BENCH_GOALS.get(goal, goal))}")
    return "\n".join(lines)
