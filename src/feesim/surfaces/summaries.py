"""Short summaries for the terminal, in the language in force (:mod:`feesim.i18n`).

``feesim run`` prints :func:`run_summary`: the figures of
:meth:`feesim.SimulationResult.summary`, laid out as
:meth:`~feesim.SimulationResult.summary_text` lays them out in English (the two agree word for
word in English; a test checks it), and in Chinese with the terms of Shanghai practice.

Names of the engine's vote matters and deciding tests are translated here too
(:func:`matter_name`, :func:`test_name`), for the dashboard and the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from feesim.i18n import N_
from feesim.i18n import gettext as _
from feesim.studies.forecast.outcomes import TEST_WORDS

if TYPE_CHECKING:  # pragma: no cover
    from feesim.engine.results import SimulationResult

__all__ = [
    "MATTERS",
    "MATTER_WORDS",
    "TESTS",
    "TEST_WORDS",
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
                "  vote m{month} {matter}: turnout {th} heads / {ta} area, approval {ah} heads / "
                "{aa} area -> {result} ({binding} decides)"
            ).format(
                month=v["month"],
                matter=matter_name(v["matter"]),
                th=f"{v['turnout_heads']:.0%}",
                ta=f"{v['turnout_area']:.0%}",
                ah=f"{v['approval_heads']:.0%}",
                aa=f"{v['approval_area']:.0%}",
                result=vote_result(v["passed"], v["quorum_met"]),
                binding=test_name(v["binding"]),
            )
        )
    if len(d["votes"]) > 12:
        lines.append(_("  ... {n} more votes").format(n=len(d["votes"]) - 12))
    return "\n".join(lines)
