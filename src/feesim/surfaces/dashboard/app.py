"""The feesim dashboard: a Mesa ``SolaraViz`` page of the two cycles.

Run it with ``feesim dashboard [SCENARIO.toml]`` (or ``solara run feesim.surfaces.dashboard.app``).
It works offline: the front-end comes from the ``solara-assets`` package, Vue 2 widgets from
``ipyvuetify<3``, and every plot is a matplotlib PNG (no CDN, no Vega).

Page 0 ("the run"):

- **Presets**: the vicious cycle, the virtuous cycle (quality first), a price step without
  quality first; a click sets the sliders and starts the community afresh;
- **The cycle**: fee, service quality, collection (year to date), firm cash, trust and hotline
  complaints, with fee changes, votes and exits marked;
- **The community**: stairwell groups of households coloured by payment, and by their owners'
  ballots in the latest vote;
- **The vote**: turnout and approval by heads and by area against the Art. 278 thresholds.

Page 1 ("the two equilibria"): the phase diagram of the base community (constant wages, no
intervention, see :mod:`feesim.studies.phase`) and the current run's path in the quality-collection
plane.

The sliders are Mesa model parameters (constructor keywords of
:class:`~feesim.surfaces.dashboard.model.DashboardModel`); they hold solara reactive variables, so a
preset moves them and Mesa's Reset builds the model the sliders show.
"""

from __future__ import annotations

import functools
import logging
from html import escape
from typing import Any

import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz
from mesa.visualization.user_param import Slider
from mesa.visualization.utils import force_update, update_counter

from feesim.surfaces.dashboard.levers import LEVERS, PRESETS, levers_from_scenario
from feesim.surfaces.dashboard.model import DashboardModel, base_scenario
from feesim.surfaces.plotting import (
    plot_community,
    plot_overview,
    plot_phase_diagram,
    plot_phase_plane,
    plot_vote,
)

log = logging.getLogger(__name__)

#: Phase-diagram settings of page 1 (small enough to draw in about a second).
PHASE_STARTS = (0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95)
PHASE_YEARS = 15


@functools.cache
def _base() -> Any:
    return base_scenario()


#: The sliders' values (solara keeps one value per browser session).
LEVER_STATE: dict[str, solara.Reactive] = {
    lever.name: solara.reactive(value)
    for lever, value in zip(
        LEVERS, (levers_from_scenario(_base())[lv.name] for lv in LEVERS), strict=True
    )
}


def current_levers() -> dict[str, Any]:
    """The sliders' current values."""
    return {name: r.value for name, r in LEVER_STATE.items()}


def model_params() -> dict[str, Any]:
    """Mesa ``model_params``: one input per lever, bound to :data:`LEVER_STATE`."""
    params: dict[str, Any] = {"base": _base()}
    for lever in LEVERS:
        state = LEVER_STATE[lever.name]
        if lever.kind == "bool":
            params[lever.name] = {"type": "Checkbox", "value": state, "label": lever.label}
        else:
            hi = lever.hi if lever.name != "vote_month" else 12 * 20 - 1
            params[lever.name] = Slider(
                lever.label,
                value=state,
                min=lever.lo,
                max=hi,
                step=lever.step,
                dtype=float if lever.kind == "float" else int,
            )
    return params


def _html(text: str, tag: str = "div") -> None:
    """Trusted HTML text (solara.Markdown would load KaTeX from a CDN, which is not offline)."""
    solara.HTML(tag=tag, unsafe_innerHTML=text, style={"font-size": "0.9rem"})


def _placeholder(text: str) -> None:
    _html(f"<i>{escape(text)}</i>")


def lever_summary(levers: dict[str, Any]) -> str:
    """One line naming every lever value (the sliders show no numbers until dragged)."""
    step = (
        f"+{levers['price_step']:.0%} step voted in month {levers['vote_month']}"
        if levers["price_step"] > 0
        else "no price step"
    )
    campaign = levers["campaign_steps"]
    return "; ".join(
        [
            step,
            f"quality first {levers['quality_first_months']} months",
            f"service package {levers['service_package']:.2f}",
            f"wages {levers['wage_growth']:+.1%} a year",
            f"door-to-door {levers['door_to_door']:.0%}",
            f"campaign {campaign} step{'s' if campaign != 1 else ''}"
            if campaign
            else "no campaign",
            "evaluation with rollback" if levers["evaluation_rollback"] else "no rollback",
            "renovation" if levers["renovation"] else "no renovation",
            f"{levers['years']} years",
            f"seed {levers['seed']}",
        ]
    )


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) != bool(b)
    try:
        return abs(float(a) - float(b)) > 1e-9
    except (TypeError, ValueError):
        return a != b


@solara.component
def PresetPanel(model: DashboardModel, model_state: solara.Reactive) -> None:
    """Buttons that put the sliders on a preset and start the community afresh."""
    update_counter.get()

    def apply(name: str) -> None:
        for key, value in PRESETS[name].items():
            LEVER_STATE[key].value = value
        model_state.value = DashboardModel(base=_base(), **current_levers())
        force_update()

    with solara.Card("Presets", style={"width": "100%"}):
        with solara.Row(style={"flex-wrap": "wrap"}):
            for name in PRESETS:
                solara.Button(
                    label=name,
                    on_click=functools.partial(apply, name),
                    color="primary",
                    outlined=True,
                    classes=["feesim-preset"],
                )
        date = model.result().series["date"].iloc[-1] if model.month else "start"
        _html(
            f"<b>{escape(model.base.meta.name)}</b>, month <b class='feesim-month'>"
            f"{model.month}</b> of {model.months} ({date})."
        )
        _html(f"<span class='feesim-levers'>In force: {escape(lever_summary(model.levers))}</span>")
        pending = {k: v for k, v in current_levers().items() if _differs(model.levers.get(k), v)}
        if pending:
            _html(
                "<span class='feesim-pending'>Sliders moved: "
                f"{escape(lever_summary({**model.levers, **pending}))}. Press Reset to apply."
                "</span>"
            )


@solara.component
def CyclePlots(model: DashboardModel) -> None:
    """Fee, service quality, collection, firm cash, trust and complaints so far."""
    update_counter.get()
    if model.month == 0:
        _placeholder("Press Step or ▶ to run the community month by month.")
        return
    fig = Figure(figsize=(9.0, 5.2), layout="constrained")
    plot_overview(model.result(), fig=fig)
    with solara.Column(classes=["feesim-cycle"]):
        solara.FigureMatplotlib(fig, format="png", dependencies=[id(model), model.month])


@solara.component
def CommunityView(model: DashboardModel) -> None:
    """Stairwell groups coloured by payment and by the latest vote."""
    update_counter.get()
    frame = model.household_frame(0)
    fig = Figure(figsize=(8.0, 5.6), layout="constrained")
    ax_pay, ax_vote = fig.subplots(2, 1)
    plot_community(frame, ax=ax_pay, color_by="payment")
    vote = model.last_vote
    if vote is not None and bool(vote.voting[0]):
        plot_community(frame, ax=ax_vote, color_by="vote")
        ax_vote.set_title(
            f"Ballots in the vote of month {vote.month}: "
            f"{frame['voted'].mean():.0%} of units voted",
            fontsize="medium",
            loc="left",
        )
    else:
        ax_vote.set_axis_off()
        ax_vote.set_title("Ballots: no vote yet", fontsize="medium", loc="left")
    with solara.Column(classes=["feesim-community"]):
        solara.FigureMatplotlib(fig, format="png", dependencies=[id(model), model.month])


@solara.component
def VotePanel(model: DashboardModel) -> None:
    """Turnout and approval by heads and by area of the latest vote, with quorum and result."""
    update_counter.get()
    fig = Figure(figsize=(5.0, 3.4), layout="constrained")
    ax = fig.subplots()
    votes = model.result().votes if model.month else None
    if votes is None or votes.empty:
        plot_vote(model.result().votes if model.month else _empty_votes(), ax=ax)
        solara.FigureMatplotlib(fig, format="png", dependencies=[id(model), model.month])
        return
    last = votes.iloc[-1]
    plot_vote(votes, ax=ax, month=int(last["month"]), matter=str(last["matter"]))
    solara.FigureMatplotlib(fig, format="png", dependencies=[id(model), model.month])
    verdict = "passed" if last["passed"] else ("rejected" if last["quorum_met"] else "no quorum")
    _html(
        f"<span class='feesim-vote'>Month {int(last['month'])}, {escape(str(last['matter']))} "
        "motion: turnout "
        f"{last['turnout_heads']:.0%} of owners / {last['turnout_area']:.0%} of area; approval "
        f"{last['approval_heads']:.0%} / {last['approval_area']:.0%}; quorum "
        f"{'met' if last['quorum_met'] else 'not met'}: <b>{verdict}</b> "
        f"({escape(str(last['binding']))} decides).</span>"
    )


def _empty_votes() -> Any:
    import pandas as pd

    from feesim.engine.results import VOTE_COLUMNS

    return pd.DataFrame(columns=list(VOTE_COLUMNS))


@functools.cache
def _phase_diagram(variable: str) -> Any:
    from feesim.studies.phase import phase_diagram

    return phase_diagram(_base(), PHASE_STARTS, variable=variable, years=PHASE_YEARS, runs=1)


@solara.component
def PhaseView(model: DashboardModel) -> None:
    """The phase diagram of the base community, with this run's path in the plane."""
    update_counter.get()
    diagram = _phase_diagram("collection")
    fig = Figure(figsize=(5.6, 8.4), layout="constrained")
    ax_d, ax_p = fig.subplots(2, 1)
    plot_phase_diagram(diagram, ax=ax_d)
    plot_phase_plane(diagram, ax=ax_p, live=model.trace_frame())
    with solara.Column(classes=["feesim-phase"]):
        solara.FigureMatplotlib(fig, format="png", dependencies=[id(model), model.month])
    _html(
        "Top: where collection ends, 15 years after a payment shock, for each starting "
        "collection (wages constant, no intervention, the firm held in place). Bottom: the same "
        "paths in the quality-collection plane; stars are the stable states, the black line is "
        "this run."
    )
    _html(escape(diagram.summary_text()), tag="pre")


@solara.component
def Page() -> None:
    """The dashboard page."""
    initial = solara.use_memo(lambda: DashboardModel(base=_base(), **current_levers()), [])
    model = solara.use_reactive(initial)

    def make_components() -> list[tuple[Any, int]]:
        def presets(m: DashboardModel) -> None:
            PresetPanel(m, model)

        return [(presets, 0), (CyclePlots, 0), (CommunityView, 0), (VotePanel, 0), (PhaseView, 1)]

    components = solara.use_memo(make_components, [])
    SolaraViz(
        model,
        components=components,
        model_params=model_params(),
        name="feesim: the two cycles",
        play_interval=150,
    )
