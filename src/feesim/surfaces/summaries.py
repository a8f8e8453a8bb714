"""Short summaries for the terminal, in the language in force (:mod:`feesim.i18n`).

``feesim run`` prints :func:`run_summary`: the figures of
:meth:`feesim.SimulationResult.summary`, laid out as
:meth:`~feesim.SimulationResult.summary_text` lays them out in English (the two agree word for
word in English but for the vote lines, which name the matter and the deciding test in words
instead of the engine's keys; a test checks it), and in Chinese with the terms of Shanghai
practice.

``feesim bench`` prints :func:`bench_summary`. The ensemble, portfolio and calibration results
translate their own ``summary_text`` where it is written (:mod:`feesim.studies`). The results'
data keys and files stay English.

Names of the engine's vote matters and deciding tests are translated here too
(:func:`matter_name`, :func:`test_name`), for the dashboard and the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from feesim.i18n import N_
from feesim.i18n import gettext as _
from feesim.studies.forecast.outcomes import TEST_WORDS

if TYPE_CHECKING:  # pragma: no cover
    from feesim.engine.results import SimulationResult

__all__ = [
    "BENCH_GOALS",
    "MATTERS",
    "MATTER_WORDS",
    "TESTS",
    "TEST_WORDS",
    "bench_summary",
    "matter_name",
    "run_summary",
    "test_name",
    "vote_result",
]

#: Vote matters of the engine (``votes.matter``), for translation.
MATTERS = {
    "fee": N_("fee"),
    "maintenance_fund": N_("maintenance_fund"),
    "hire_firm": N_("hire_firm"),
    "package": N_("package"),
}
#: Deciding tests of a vote (``votes.binding``), for translation.
TESTS = {
    "quorum_heads": N_("quorum_heads"),
    "quorum_area": N_("quorum_area"),
    "approval_heads": N_("approval_heads"),
    "approval_area": N_("approval_area"),
}


#: The same in words for a page (the dashboard, the report).
MATTER_WORDS = {
    "fee": N_("fee change"),
    "maintenance_fund": N_("maintenance fund top-up"),
    "hire_firm": N_("hiring a new firm"),
    "package": N_("value-added package"),
}


def matter_name(matter: str, *, plain: bool = False) -> str:
    """A vote matter in the language in force.

    ``plain=True`` gives words for a page (``"fee"``: "fee change", 物业费调整) instead of the
    engine's key (what the terminal summary prints in English).
    """
    table = MATTER_WORDS if plain else MATTERS
    return _(table.get(matter, matter))


def test_name(test: str, *, plain: bool = False) -> str:
    """A deciding test in the language in force (``plain``: words for a page)."""
    table = TEST_WORDS if plain else TESTS
    return _(table.get(test, test))


def vote_result(passed: bool, quorum_met: bool) -> str:
    """``passed``, ``rejected`` or ``no quorum``, in the language in force."""
    if passed:
        return _("passed")
    return _("rejected") if quorum_met else _("no quorum")


def run_summary(result: SimulationResult) -> str:
    """What ``feesim run`` prints: the run's key figures (language in force)."""
    d = result.summary()
    cash0, cash1 = d["firm_cash_yuan_start"], d["firm_cash_yuan_end"]
    years = ", ".join(f"{y}: {v:.0%}" for y, v in d["collection_rate_by_year_end"].items())
    lines = [
        _("{scenario}: {months} months, {runs} run(s)").format(
            scenario=d["scenario"], months=d["months"], runs=d["runs"]
        ),
        _("  fee per m2        {a} -> {b} yuan/month").format(
            a=f"{d['fee_per_m2_start']:.3f}", b=f"{d['fee_per_m2_end']:.3f}"
        ),
        _("  service quality   {a} -> {b}").format(
            a=f"{d['service_quality_start']:.2f}", b=f"{d['service_quality_end']:.2f}"
        ),
        _("  satisfaction      {a} -> {b}").format(
            a=f"{d['satisfaction_start']:.2f}", b=f"{d['satisfaction_end']:.2f}"
        ),
        _("  trust             {a} -> {b}").format(
            a=f"{d['trust_start']:.2f}", b=f"{d['trust_end']:.2f}"
        ),
        _("  firm cash         {a} -> {b} yuan").format(a=f"{cash0:,.0f}", b=f"{cash1:,.0f}"),
        _("  collection (year to date at December): {years}").format(
            years=years or _("no December in the horizon")
        ),
        _("  firm exits        {n}").format(n=d["firm_exits"]),
        _("  complaints/month  {n}").format(n=f"{d['complaints_per_month']:.1f}"),
    ]
    for v in d["votes"][:12]:
        lines.append(
            _(
                "  vote in month {month}, {matter}: turnout {th} of owners / {ta} of area, in "
                "favour {ah} of owners / {aa} of area -> {result} (deciding test: {binding})"
            ).format(
                month=v["month"],
                matter=matter_name(v["matter"], plain=True),
                th=f"{v['turnout_heads']:.0%}",
                ta=f"{v['turnout_area']:.0%}",
                ah=f"{v['approval_heads']:.0%}",
                aa=f"{v['approval_area']:.0%}",
                result=vote_result(v["passed"], v["quorum_met"]),
                binding=test_name(v["binding"], plain=True),
            )
        )
    if len(d["votes"]) > 12:
        lines.append(_("  ... {n} more votes").format(n=len(d["votes"]) - 12))
    return "\n".join(lines)


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
        (
            _(
                "calibration (quick budget): {n} simulations in {one} s in one process ({each} "
                "s each), {two} s on 2 workers -> {speedup}x; one at a time on 2 workers "
                "{serial} s -> {serial_speedup}x"
            )
            if cb["quick"]
            else _(
                "calibration (full budget): {n} simulations in {one} s in one process ({each} "
                "s each), {two} s on 2 workers -> {speedup}x; one at a time on 2 workers "
                "{serial} s -> {serial_speedup}x"
            )
        ).format(
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
