"""Plots of feesim outcomes (matplotlib), shared by reports, notebooks and the dashboard.

Every function draws on the axes it is given (``ax=None`` makes a new figure) and returns them,
so plots compose into any layout. Ensembles are drawn as a centre line (the median across runs,
or the mean) with a band between two quantiles (5% and 95% by default); a single run is a line.
The numbers drawn are exactly those of :meth:`feesim.SimulationResult.quantiles`.

Outcomes over time
    :func:`plot_outcome` (any column of ``result.series``) and the named shortcuts
    :func:`plot_fee`, :func:`plot_quality`, :func:`plot_collection`, :func:`plot_satisfaction`,
    :func:`plot_trust`, :func:`plot_firm_cash`, :func:`plot_firm_margin`, :func:`plot_staff`,
    :func:`plot_complaints`, :func:`plot_arrears`; :func:`plot_compare` for several results on
    one axes; :func:`plot_overview` for the six main outcomes in one figure;
    :func:`mark_events` adds fee changes, votes and firm exits.
Votes and campaigns
    :func:`plot_vote` (turnout and approval by heads and by area against the Art. 278
    thresholds), :func:`plot_campaign` (share of a campaign's bill paid after each step).
The community and the two cycles
    :func:`plot_community` (stairwell groups: who pays, who voted yes), :func:`plot_cycle`
    (a run's path in the quality-collection plane), :func:`plot_phase_diagram` and
    :func:`plot_phase_plane` (see :mod:`feesim.studies.phase`).
Sensitivity
    :func:`plot_sensitivity` (Sobol' indices or Morris effects of
    :mod:`feesim.studies.sensitivity`, with their intervals).

The numbers behind the drawings are available without drawing: :func:`outcome_bands`,
:func:`vote_bars` and :func:`community_grid`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from feesim.errors import ConfigError
from feesim.i18n import N_
from feesim.i18n import gettext as _

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from feesim.engine.results import SimulationResult
    from feesim.studies.phase import PhaseDiagram
    from feesim.studies.sensitivity.analysis import SensitivityResult

__all__ = [
    "OUTCOMES",
    "OVERVIEW",
    "community_grid",
    "mark_events",
    "outcome_bands",
    "plot_arrears",
    "plot_campaign",
    "plot_collection",
    "plot_community",
    "plot_compare",
    "plot_complaints",
    "plot_cycle",
    "plot_fee",
    "plot_firm_cash",
    "plot_firm_margin",
    "plot_outcome",
    "plot_overview",
    "plot_phase_diagram",
    "plot_phase_plane",
    "plot_quality",
    "plot_satisfaction",
    "plot_sensitivity",
    "plot_staff",
    "plot_trust",
    "plot_vote",
    "vote_bars",
]

#: Title and kind ("share" for 0-1 rates drawn as percentages, else a unit) of each outcome
#: (English; drawn in the language in force, :mod:`feesim.i18n`).
OUTCOMES: dict[str, tuple[str, str]] = {
    "fee_per_m2": (N_("Fee"), N_("yuan/m² per month")),
    "service_quality": (N_("Service quality"), N_("0-1, 1 = liveable standard")),
    "quality_cleaning": (N_("Cleaning quality"), N_("0-1")),
    "quality_security": (N_("Security quality"), N_("0-1")),
    "quality_greening": (N_("Greening quality"), N_("0-1")),
    "quality_repairs": (N_("Repairs quality"), N_("0-1")),
    "perceived_quality": (N_("Quality residents see"), N_("0-1")),
    "satisfaction": (N_("Satisfaction"), N_("0-1")),
    "trust": (N_("Trust"), N_("0-1")),
    "payment_record": (N_("Payment record"), "share"),
    "collection_rate": (N_("Collection, year to date"), "share"),
    "collection_rate_month": (N_("Collection of what was due this month"), "share"),
    "arrears_yuan": (N_("Arrears"), N_("yuan")),
    "receivable_yuan": (N_("Unpaid fees"), N_("yuan")),
    "billed_yuan": (N_("Fees billed"), N_("yuan per month")),
    "paid_yuan": (N_("Fees paid"), N_("yuan per month")),
    "written_off_yuan": (N_("Fees written off"), N_("yuan per month")),
    "firm_revenue_yuan": (N_("Firm revenue"), N_("yuan per month")),
    "firm_cost_yuan": (N_("Firm cost"), N_("yuan per month")),
    "firm_margin": (N_("Firm margin"), "share"),
    "firm_cash_yuan": (N_("Firm cash"), N_("yuan")),
    "firm_payout_yuan": (N_("Remitted to the parent company"), N_("yuan")),
    "firm_staff": (N_("Firm staff"), N_("full-time staff")),
    "firm_active": (N_("Regular firm in place"), "share"),
    "firm_serial": (N_("Providers so far"), N_("count")),
    "service_cost_yuan": (N_("Service cost"), N_("yuan per month")),
    "subsidy_yuan": (N_("Subsidy"), N_("yuan per month")),
    "public_income_to_firm_yuan": (N_("Public income to the firm"), N_("yuan per month")),
    "owners_account_yuan": (N_("Owners' account"), N_("yuan")),
    "fund_balance_yuan": (N_("Maintenance fund"), N_("yuan")),
    "fund_collection_rate": (N_("Fund top-up collected"), "share"),
    "complaints": (N_("Hotline complaints"), N_("per month")),
    "suits_filed": (N_("Suits filed"), N_("per month")),
    "min_wage_yuan": (N_("Minimum wage"), N_("yuan per month")),
    "assessment_score": (N_("District assessment score"), N_("0-100")),
}

#: The six outcomes of :func:`plot_overview` (and of the dashboard).
OVERVIEW: tuple[str, ...] = (
    "fee_per_m2",
    "service_quality",
    "collection_rate",
    "firm_cash_yuan",
    "trust",
    "complaints",
)

#: Colours shared by all plots (colour-blind safe pairs).
COLOURS = {
    "line": "#1f4e79",
    "band": "#6fa8dc",
    "paid": "#2e7d32",
    "open": "#a5d6a7",
    "unpaid": "#c62828",
    "yes": "#1565c0",
    "no": "#ef6c00",
    "absent": "#cfd8dc",
    "low": "#c62828",
    "high": "#2e7d32",
    "mid": "#f9a825",
    "exit": "#6a1b9a",
}


# ==============================================================================================
# helpers
# ==============================================================================================
def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 3.6)) -> Axes:
    # Every plot function passes here first, also with the caller's axes: the Chinese font must
    # be in matplotlib's family list before any text is created.
    from feesim.surfaces.fonts import register

    register()
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _label(column: str) -> tuple[str, str]:
    """Title and unit of a column (translated; the unit "share" stays the code it is)."""
    if column in OUTCOMES:
        name, unit = OUTCOMES[column]
        return (_(name), unit if unit == "share" else _(unit))
    if column.startswith("fee_"):
        return (_("Fee, {type}").format(type=column[4:]), _("yuan/m² per month"))
    return (column.replace("_", " ").capitalize(), "")


def _percent_axis(ax: Axes, which: str = "y") -> None:
    from matplotlib.ticker import PercentFormatter

    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def _style(ax: Axes, column: str, title: str | None) -> None:
    name, unit = _label(column)
    ax.set_title(name if title is None else title, fontsize="medium", loc="left")
    if unit == "share":
        _percent_axis(ax)
    elif unit:
        ax.set_ylabel(unit, fontsize="small")
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize="small")


def _date_axis(ax: Axes) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _x_values(result: SimulationResult, months: np.ndarray, x: str) -> np.ndarray:
    if x == "month":
        return months
    if x == "date":
        dates = result.series.drop_duplicates("month").set_index("month")["date"]
        return pd.to_datetime(dates.reindex(months).to_numpy()).to_numpy()
    raise ConfigError(f"x: got {x!r}; expected 'date' or 'month'")


def _check_column(result: SimulationResult, column: str) -> None:
    if column not in result.series.columns:
        allowed = ", ".join(c for c in result.series.columns if c not in ("run", "date"))
        raise ConfigError(f"column: got {column!r}; expected one of {allowed}")


def outcome_bands(
    result: SimulationResult,
    column: str,
    band: tuple[float, float] = (0.05, 0.95),
    center: str = "median",
) -> pd.DataFrame:
    """The numbers :func:`plot_outcome` draws: per month ``center``, ``lower`` and ``upper``.

    Parameters
    ----------
    result : SimulationResult
    column : str
        A column of ``result.series``.
    band : (float, float)
        Quantiles of the band across runs.
    center : {"median", "mean"}

    Returns
    -------
    pandas.DataFrame
        Indexed by month.
    """
    _check_column(result, column)
    if center not in ("median", "mean"):
        raise ConfigError(f"center: got {center!r}; expected 'median' or 'mean'")
    lo, hi = band
    if not 0 <= lo < hi <= 1:
        raise ConfigError(f"band: got {band!r}; expected two quantiles 0 <= lower < upper <= 1")
    q = result.quantiles(column, q=(lo, 0.5, hi))
    name = lambda p: f"p{round(p * 100):02d}"
    return pd.DataFrame(
        {
            "center": q["p50"] if center == "median" else q["mean"],
            "lower": q[name(lo)],
            "upper": q[name(hi)],
        }
    )


# ==============================================================================================
# outcomes over time
# ==============================================================================================
def plot_outcome(
    result: SimulationResult,
    column: str,
    *,
    ax: Axes | None = None,
    band: tuple[float, float] | None = (0.05, 0.95),
    center: str = "median",
    x: str = "date",
    label: str | None = None,
    color: str | None = None,
    title: str | None = None,
) -> Axes:
    """One outcome over time: the centre line across runs and a band between two quantiles.

    Parameters
    ----------
    result : SimulationResult
    column : str
        A column of ``result.series`` (see :data:`OUTCOMES` for titles and units).
    ax : matplotlib.axes.Axes, optional
    band : (float, float) or None
        Quantiles across runs shaded around the line (no band for one run or None).
    center : {"median", "mean"}
    x : {"date", "month"}
        Calendar dates or simulated months on the x axis.
    label, color, title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import feesim
    >>> from feesim.surfaces.plotting import plot_outcome
    >>> result = feesim.simulate(feesim.load_scenario("examples/frozen_fee.toml"))  # doctest: +SKIP
    >>> ax = plot_outcome(result, "collection_rate")                               # doctest: +SKIP
    """
    ax = _axes(ax)
    data = outcome_bands(result, column, band or (0.05, 0.95), center)
    xs = _x_values(result, data.index.to_numpy(), x)
    colour = color or COLOURS["line"]
    (line,) = ax.plot(xs, data["center"].to_numpy(), color=colour, lw=1.6, label=label)
    if band is not None and result.n_runs > 1:
        ax.fill_between(
            xs,
            data["lower"].to_numpy(),
            data["upper"].to_numpy(),
            color=line.get_color(),
            alpha=0.2,
            lw=0,
        )
    _style(ax, column, title)
    if x == "month":
        ax.set_xlabel(_("month"), fontsize="small")
    else:
        _date_axis(ax)
    if label is not None:
        ax.legend(fontsize="small")
    return ax


def plot_fee(result: SimulationResult, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Area-weighted fee per m2 (yuan per month)."""
    return plot_outcome(result, "fee_per_m2", ax=ax, **kwargs)


def plot_quality(result: SimulationResult, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Delivered service quality (1 = the liveable standard fully staffed)."""
    return plot_outcome(result, "service_quality", ax=ax, **kwargs)


def plot_collection(
    result: SimulationResult, ax: Axes | None = None, kind: str = "ytd", **kwargs: Any
) -> Axes:
    """Collection rate: ``kind`` "ytd" (year to date, as communities report it) or "month"."""
    columns = {"ytd": "collection_rate", "month": "collection_rate_month"}
    if kind not in columns:
        raise ConfigError(f"kind: got {kind!r}; expected 'ytd' or 'month'")
    ax = plot_outcome(result, columns[kind], ax=ax, **kwargs)
    ax.set_ylim(0, 1.02)
    return ax


def plot_satisfaction(result: SimulationResult, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Mean satisfaction of households (0-1)."""
    return plot_outcome(result, "satisfaction", ax=ax, **kwargs)


def plot_trust(result: SimulationResult, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Mean trust of households in firm and committee (0-1)."""
    return plot_outcome(result, "trust", ax=ax, **kwargs)


def plot_firm_cash(result: SimulationResult, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Cash of the provider serving the community (yuan); a new provider starts afresh."""
    ax = plot_outcome(result, "firm_cash_yuan", ax=ax, **kwargs)
    ax.axhline(0.0, color="0.3", lw=0.8)
    return ax


def plot_firm_margin(result: SimulationResult, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Monthly net margin of the firm."""
    return plot_outcome(result, "firm_margin", ax=ax, **kwargs)


def plot_staff(result: SimulationResult, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Staff employed by the firm (full-time equivalents)."""
    return plot_outcome(result, "firm_staff", ax=ax, **kwargs)


def plot_complaints(result: SimulationResult, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Complaints to the 12345 hotline per month."""
    return plot_outcome(result, "complaints", ax=ax, **kwargs)


def plot_arrears(result: SimulationResult, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Past-due fees (yuan)."""
    return plot_outcome(result, "arrears_yuan", ax=ax, **kwargs)


def plot_compare(
    results: Mapping[str, SimulationResult],
    column: str,
    *,
    ax: Axes | None = None,
    colors: Sequence[str] | None = None,
    **kwargs: Any,
) -> Axes:
    """Several results (e.g. policies) on one axes, each with its band, labelled by its key."""
    ax = _axes(ax)
    palette = list(colors) if colors else ["#1f4e79", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a"]
    for k, (name, res) in enumerate(results.items()):
        plot_outcome(res, column, ax=ax, label=name, color=palette[k % len(palette)], **kwargs)
    return ax


_EVENT_STYLE = {
    "fee_changed": (N_("fee change"), "#2e7d32", "-"),
    "rolled_back": (N_("rollback"), "#ef6c00", "-"),
    "firm_exit": (N_("firm leaves"), "#6a1b9a", "--"),
    "firm_hired": (N_("new firm"), "#1565c0", "--"),
    "notice": (N_("notice given"), "#6a1b9a", ":"),
}


def mark_events(
    result: SimulationResult,
    ax: Axes,
    *,
    run: int = 0,
    x: str = "date",
    events: Sequence[str] = tuple(_EVENT_STYLE),
    votes: bool = True,
) -> Axes:
    """Vertical lines at fee changes, rollbacks, notices, exits and new firms, and at votes."""
    ev = result.events[(result.events["run"] == run) & result.events["event"].isin(events)]
    seen: set[str] = set()
    for _row, e in ev.iterrows():
        name, colour, style = _EVENT_STYLE[str(e["event"])]
        name = _(name)
        xv = _x_values(result, np.array([int(e["month"])]), x)[0]
        ax.axvline(
            xv, color=colour, ls=style, lw=1, alpha=0.8, label=None if name in seen else name
        )
        seen.add(name)
    if votes and len(result.votes):
        vs = result.votes[result.votes["run"] == run]
        for _row, v in vs.iterrows():
            xv = _x_values(result, np.array([int(v["month"])]), x)[0]
            vote = _("vote")
            ax.axvline(xv, color="0.4", ls=":", lw=1, label=None if vote in seen else vote)
            seen.add(vote)
    return ax


def plot_overview(
    result: SimulationResult,
    *,
    fig: Figure | None = None,
    columns: Sequence[str] = OVERVIEW,
    ncols: int = 3,
    events: bool = True,
    **kwargs: Any,
) -> np.ndarray:
    """The main outcomes in one figure (fee, quality, collection, firm cash, trust, complaints).

    Parameters
    ----------
    result : SimulationResult
    fig : matplotlib.figure.Figure, optional
        Figure to draw in (cleared first); a new one if None.
    columns : sequence of str
    ncols : int
    events : bool
        Mark fee changes, votes and firm exits of run 0 (single runs only).
    **kwargs
        Passed to :func:`plot_outcome`.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
    """
    from feesim.surfaces.fonts import register

    register()
    nrows = -(-len(columns) // ncols)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(4.0 * ncols, 2.8 * nrows), layout="constrained")
    else:
        fig.clear()
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax, column in zip(axes, columns, strict=False):
        if column == "collection_rate":
            plot_collection(result, ax=ax, **kwargs)
        elif column == "firm_cash_yuan":
            plot_firm_cash(result, ax=ax, **kwargs)
        else:
            plot_outcome(result, column, ax=ax, **kwargs)
        if events and result.n_runs == 1:
            mark_events(result, ax, x=kwargs.get("x", "date"))
    for ax in axes[len(columns) :]:
        ax.set_visible(False)
    if events and result.n_runs == 1:
        handles, labels = [], []
        for ax in axes[: len(columns)]:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        if handles:
            axes[0].legend(handles, labels, fontsize="x-small", loc="best")
    return axes


# ==============================================================================================
# votes and campaigns
# ==============================================================================================
def vote_bars(votes: pd.DataFrame, matter: str | None = None, month: int | None = None) -> dict:
    """The numbers :func:`plot_vote` draws for one vote (means across runs).

    Returns a dict with ``turnout_heads``, ``turnout_area``, ``approval_heads``,
    ``approval_area`` (means; with ``*_lo`` / ``*_hi`` 5% and 95% quantiles), ``passed`` (share
    of runs), ``quorum_met`` (share), ``month``, ``matter``, ``supermajority``, ``runs``.
    """
    v = votes
    if matter is not None:
        v = v[v["matter"] == matter]
    if v.empty:
        return {}
    if month is None:
        # The first vote of each run (the proposal put to the owners).
        v = v.sort_values(["run", "month"]).groupby("run", as_index=False).head(1)
    else:
        v = v[v["month"] == month]
    out: dict[str, Any] = {}
    for c in ("turnout_heads", "turnout_area", "approval_heads", "approval_area"):
        vals = v[c].to_numpy(dtype=float)
        out[c] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
        out[c + "_lo"] = float(np.nanquantile(vals, 0.05)) if np.isfinite(vals).any() else np.nan
        out[c + "_hi"] = float(np.nanquantile(vals, 0.95)) if np.isfinite(vals).any() else np.nan
    out["passed"] = float(v["passed"].astype(bool).mean())
    out["quorum_met"] = float(v["quorum_met"].astype(bool).mean())
    out["month"] = int(v["month"].iloc[0])
    out["matter"] = str(v["matter"].iloc[0])
    out["supermajority"] = bool(v["supermajority"].astype(bool).any())
    out["runs"] = len(v)
    return out


def plot_vote(
    result: SimulationResult | pd.DataFrame,
    ax: Axes | None = None,
    *,
    matter: str | None = None,
    month: int | None = None,
) -> Axes:
    """Turnout and approval, by heads and by area, against the thresholds of Art. 278.

    Draws the first vote of each run (or the vote of ``month``), as the mean across runs with
    a 5-95% range. Dashed lines: the 2/3 quorum for turnout; 1/2 (or 3/4 for a maintenance-fund
    top-up) for approval.

    Parameters
    ----------
    result : SimulationResult or pandas.DataFrame
        A result, or its ``votes`` table.
    ax : matplotlib.axes.Axes, optional
    matter : str, optional
        Only votes on this matter ("fee", "maintenance_fund", "hire_firm", "package").
    month : int, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, figsize=(5.0, 3.4))
    votes = result if isinstance(result, pd.DataFrame) else result.votes
    bars = vote_bars(votes, matter, month)
    ax.set_ylim(0, 1.05)
    _percent_axis(ax)
    ax.grid(True, axis="y", alpha=0.3)
    ax.tick_params(labelsize="small")
    if not bars:
        ax.set_title(_("Owners' vote"), fontsize="medium", loc="left")
        ax.text(0.5, 0.5, _("no vote yet"), ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        return ax
    names = ["turnout_heads", "turnout_area", "approval_heads", "approval_area"]
    labels = [
        _("turnout\nowners"),
        _("turnout\narea"),
        _("approval\nowners"),
        _("approval\narea"),
    ]
    colours = ["#90a4ae", "#607d8b", COLOURS["yes"], "#0d47a1"]
    xs = np.arange(4)
    heights = np.array([bars[n] for n in names])
    ax.bar(xs, heights, color=colours, width=0.65)
    if bars["runs"] > 1:
        lo = heights - np.array([bars[n + "_lo"] for n in names])
        hi = np.array([bars[n + "_hi"] for n in names]) - heights
        ax.errorbar(xs, heights, yerr=[lo, hi], fmt="none", ecolor="0.2", capsize=3, lw=1)
    approve = 0.75 if bars["supermajority"] else 0.5
    ax.hlines(2 / 3, -0.4, 1.4, colors="0.2", linestyles="--", lw=1)
    ax.hlines(approve, 1.6, 3.4, colors="0.2", linestyles="--", lw=1)
    ax.text(0.5, 2 / 3 + 0.02, _("quorum 2/3"), ha="center", fontsize="x-small")
    ax.text(
        2.5,
        approve + 0.02,
        _("pass > {p}").format(p=f"{approve:.0%}") if approve == 0.5 else _("pass 3/4"),
        ha="center",
        fontsize="x-small",
    )
    for x, h in zip(xs, heights, strict=True):
        if np.isfinite(h):
            ax.text(
                x,
                h / 2,
                f"{h:.0%}",
                ha="center",
                va="center",
                color="white",
                fontsize="small",
                fontweight="bold",
            )
    ax.set_xticks(xs, labels, fontsize="x-small")
    from feesim.surfaces.summaries import matter_name, vote_result

    if bars["runs"] > 1:
        verdict = _("passed in {p} of {n} runs").format(p=f"{bars['passed']:.0%}", n=bars["runs"])
    else:
        verdict = vote_result(bool(bars["passed"]), bool(bars["quorum_met"]))
    ax.set_title(
        _("Vote in month {month} ({matter}): {verdict}").format(
            month=bars["month"], matter=matter_name(bars["matter"]), verdict=verdict
        ),
        fontsize="medium",
        loc="left",
    )
    return ax


def plot_campaign(result: SimulationResult, ax: Axes | None = None, campaign: int = 0) -> Axes:
    """Share of a campaign's bill paid after each step, by day since the bills went out."""
    ax = _axes(ax, figsize=(5.0, 3.4))
    c = result.campaigns
    if c.empty:
        ax.text(0.5, 0.5, _("no campaign"), ha="center", va="center", transform=ax.transAxes)
        return ax
    ids = sorted(c["campaign"].unique())
    if campaign >= len(ids):
        raise ConfigError(f"campaign: got {campaign}; expected 0 to {len(ids) - 1}")
    first = c[c["campaign"] == ids[campaign]]
    g = first.groupby("day")["share_paid"]
    days = np.concatenate([[0], g.mean().index.to_numpy()])
    mean = np.concatenate([[0.0], g.mean().to_numpy()])
    ax.plot(days, mean, marker="o", color=COLOURS["line"])
    if result.n_runs > 1:
        lo = np.concatenate([[0.0], g.quantile(0.05).to_numpy()])
        hi = np.concatenate([[0.0], g.quantile(0.95).to_numpy()])
        ax.fill_between(days, lo, hi, color=COLOURS["band"], alpha=0.3, lw=0)
    ax.set_ylim(0, 1.02)
    _percent_axis(ax)
    ax.set_xlabel(_("days since the bills went out"), fontsize="small")
    ax.set_title(_("Campaign: share of the bill paid"), fontsize="medium", loc="left")
    ax.grid(True, alpha=0.3)
    return ax


# ==============================================================================================
# the community and the two cycles
# ==============================================================================================
def community_grid(
    frame: pd.DataFrame, color_by: str = "payment", max_columns: int = 40
) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The picture :func:`plot_community` draws: a category code per cell and the legend.

    Each stairwell group is a column of cells, one per household; columns wrap into bands of
    at most ``max_columns`` groups. Codes: for ``"payment"`` 0 paid up, 1 bill open but pays
    regularly (payment record at least 1/2), 2 not paying; for ``"vote"`` 0 yes, 1 no, 2 did
    not vote. NaN marks empty cells.
    """
    if color_by == "payment":
        code = np.where(
            frame["paying"].to_numpy(dtype=bool),
            0,
            np.where(frame["payment_record"].to_numpy() >= 0.5, 1, 2),
        )
        legend = [
            (_("paid up"), COLOURS["paid"]),
            (_("bill open, pays regularly"), COLOURS["open"]),
            (_("not paying"), COLOURS["unpaid"]),
        ]
    elif color_by == "vote":
        voted = frame["voted"].to_numpy(dtype=bool)
        code = np.where(voted, np.where(frame["approved"].to_numpy(dtype=bool), 0, 1), 2)
        legend = [
            (_("yes"), COLOURS["yes"]),
            (_("no"), COLOURS["no"]),
            (_("did not vote"), COLOURS["absent"]),
        ]
    else:
        raise ConfigError(f"color_by: got {color_by!r}; expected 'payment' or 'vote'")
    groups = frame["group"].to_numpy()
    order = np.argsort(groups, kind="stable")
    ids, starts, sizes = np.unique(groups[order], return_index=True, return_counts=True)
    n_groups, height = len(ids), int(sizes.max())
    ncol = min(max_columns, n_groups)
    bands = -(-n_groups // ncol)
    grid = np.full((bands * (height + 1) - 1, ncol), np.nan)
    for g in range(n_groups):
        band, col = divmod(g, ncol)
        cells = code[order[starts[g] : starts[g] + sizes[g]]]
        top = band * (height + 1)
        grid[top : top + len(cells), col] = cells
    return grid, legend


def plot_community(
    frame: pd.DataFrame,
    ax: Axes | None = None,
    *,
    color_by: str = "payment",
    max_columns: int = 40,
    title: str | None = None,
) -> Axes:
    """A picture of the community: stairwell groups as columns of households.

    Parameters
    ----------
    frame : pandas.DataFrame
        :meth:`feesim.FeeModel.household_frame` of one run.
    ax : matplotlib.axes.Axes, optional
    color_by : {"payment", "vote"}
        Colour households by payment (paid up / bill open but pays regularly / not paying) or
        by their owner's ballot in the latest vote (yes / no / did not vote).
    max_columns : int
        Stairwell groups per band before wrapping.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    ax = _axes(ax, figsize=(6.4, 3.6))
    grid, legend = community_grid(frame, color_by, max_columns)
    cmap = ListedColormap([c for _lab, c in legend])
    ax.imshow(
        np.ma.masked_invalid(grid),
        cmap=cmap,
        vmin=-0.5,
        vmax=2.5,
        interpolation="nearest",
        aspect="auto",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    n = len(frame)
    if title is None:
        if color_by == "payment":
            share = float(frame["paying"].mean()) if n else float("nan")
            regular = float((frame["payment_record"] >= 0.5).mean()) if n else float("nan")
            title = _("Households by stairwell: {a} paid up, {b} pay regularly").format(
                a=f"{share:.0%}", b=f"{regular:.0%}"
            )
        else:
            voted = frame["voted"].astype(bool)
            yes = float(frame.loc[voted, "approved"].mean()) if voted.any() else float("nan")
            title = (
                _("Latest vote by stairwell: {a} of units voted, {b} yes").format(
                    a=f"{voted.mean():.0%}", b=f"{yes:.0%}"
                )
                if voted.any()
                else _("Latest vote by stairwell: no ballots")
            )
    ax.set_title(title, fontsize="medium", loc="left")
    ax.legend(
        handles=[Patch(color=c, label=lab) for lab, c in legend],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncols=3,
        fontsize="x-small",
        frameon=False,
    )
    return ax


def plot_cycle(
    result: SimulationResult,
    ax: Axes | None = None,
    *,
    run: int | None = None,
    color: str | None = None,
    label: str | None = None,
    until: int | None = None,
    years: bool = True,
) -> Axes:
    """A run's path in the quality-collection plane: one point per calendar year, in order.

    Each point is a December: the service quality delivered that month and the share of the
    year's bills paid by the year's end (the year-to-date collection rate at December, a whole
    year's figure). Arrows lead from each year to the next; ``years`` labels the points; the
    first year is a square. ``until`` (a month) stops the path at the last December before it
    (e.g. the firm's exit). For several runs the median path is drawn unless ``run`` is given.

    Partial years are left out: a year-to-date rate early in a year (month 0 of a run starting
    in January is one month's bills) is not a year's collection.
    """
    ax = _axes(ax, figsize=(4.8, 4.0))
    s = result.series if run is None else result.series[result.series["run"] == run]
    dec = s[s["calendar_month"] == 12]
    if until is not None:
        dec = dec[dec["month"] < until]
    pts = dec.groupby(["month", "year"])[["service_quality", "collection_rate"]].median()
    colour = color or COLOURS["line"]
    x = pts["service_quality"].to_numpy()
    y = pts["collection_rate"].to_numpy()
    ax.plot(x, y, "o", color=colour, ms=4, label=label)
    if len(x):
        ax.plot(x[:1], y[:1], "s", color=colour, ms=7)
    for k in range(len(x) - 1):
        ax.annotate(
            "",
            xy=(x[k + 1], y[k + 1]),
            xytext=(x[k], y[k]),
            arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.2, "shrinkA": 3, "shrinkB": 3},
        )
    if years:
        for (_m, year), xi, yi in zip(pts.index, x, y, strict=True):
            ax.annotate(
                str(year),
                (xi, yi),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize="x-small",
                color=colour,
            )
    _plane_style(ax)
    ax.set_ylabel(_("collection (share of the year's bills paid by December)"), fontsize="small")
    if label:
        ax.legend(fontsize="small")
    return ax


def _plane_style(ax: Axes) -> None:
    ax.set_xlabel(_("service quality (1 = liveable standard)"), fontsize="small")
    ax.set_ylabel(_("collection"), fontsize="small")
    _percent_axis(ax)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, 1.1)
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize="small")


def _state_colour(k: int, n: int) -> str:
    if n == 1:
        return COLOURS["high"]
    if k == 0:
        return COLOURS["low"]
    if k == n - 1:
        return COLOURS["high"]
    return COLOURS["mid"]


def _state_name(k: int, n: int) -> str:
    if n == 1:
        return _("single stable state")
    if k == 0:
        return _("low trap")
    if k == n - 1:
        return _("high equilibrium")
    return _("state {k}").format(k=k)


def plot_phase_diagram(diagram: PhaseDiagram, ax: Axes | None = None) -> Axes:
    """Start value against long-run collection: stable states (lines) and thresholds.

    Each dot is one simulated start (filled in the colour of the state it ended in, hollow if
    it had not settled).
    """
    ax = _axes(ax, figsize=(5.6, 4.0))
    t = diagram.table
    n = diagram.n_states
    for _row, s in diagram.states.iterrows():
        k = int(s["state"])
        colour = _state_colour(k, n)
        ax.axhline(s["collection"], color=colour, lw=1, ls="--", alpha=0.7)
        ax.text(
            1.0,
            s["collection"] + 0.015,
            f"{_state_name(k, n)}: {s['collection']:.0%}",
            color=colour,
            ha="right",
            va="bottom",
            fontsize="small",
            transform=ax.get_yaxis_transform(),
        )
        sel = t[t["state"] == k]
        ax.scatter(sel["start"], sel["collection"], color=colour, s=28, zorder=3)
    loose = t[t["state"] < 0]
    if len(loose):
        ax.scatter(
            loose["start"],
            loose["collection"],
            facecolors="none",
            edgecolors="0.4",
            s=28,
            zorder=3,
            label=_("not settled"),
        )
    for th in diagram.thresholds:
        if np.isfinite(th):
            ax.axvline(th, color="0.2", ls=":", lw=1.2)
            ax.text(
                th,
                0.02,
                " " + _("threshold {x}").format(x=f"{th:.2f}"),
                fontsize="small",
                rotation=90,
                va="bottom",
            )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0, 1.05)
    _percent_axis(ax)
    if diagram.variable == "collection":
        _percent_axis(ax, "x")
    start_label = (
        _("starting collection") if diagram.variable == "collection" else _("starting trust")
    )
    ax.set_xlabel(start_label, fontsize="small")
    ax.set_ylabel(
        _("collection after {n} years").format(n=diagram.meta.get("years")), fontsize="small"
    )
    ax.set_title(diagram.meta.get("scenario", ""), fontsize="medium", loc="left")
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize="small")
    if len(loose):
        ax.legend(fontsize="x-small", loc="center right")
    return ax


def plot_phase_plane(
    diagram: PhaseDiagram, ax: Axes | None = None, live: pd.DataFrame | None = None
) -> Axes:
    """Paths of a phase diagram in the quality-collection plane, ending in its stable states.

    Each thin line is one start (coloured by the state it ends in); stars are the stable
    states. ``live`` (columns ``quality`` and ``collection``) is drawn on top in black.
    """
    ax = _axes(ax, figsize=(4.8, 4.0))
    n = diagram.n_states
    end = diagram.table.set_index(["start", "replicate"])["state"]
    for (start, rep), path in diagram.paths.groupby(["start", "replicate"], sort=False):
        state = int(end.loc[(start, rep)])
        colour = _state_colour(state, n) if state >= 0 else "0.6"
        ax.plot(path["quality"], path["collection"], color=colour, lw=0.8, alpha=0.55)
        ax.plot(path["quality"].iloc[0], path["collection"].iloc[0], "o", color=colour, ms=2.5)
    for _row, s in diagram.states.iterrows():
        k = int(s["state"])
        ax.plot(
            s["quality"],
            s["collection"],
            "*",
            ms=16,
            color=_state_colour(k, n),
            mec="black",
            label=f"{_state_name(k, n)} ({s['collection']:.0%})",
        )
    if live is not None and len(live):
        ax.plot(live["quality"], live["collection"], color="black", lw=2, label=_("this run"))
        ax.plot(live["quality"].iloc[-1], live["collection"].iloc[-1], "o", color="black", ms=6)
    _plane_style(ax)
    ax.set_ylabel(_("collection (trailing 12 months)"), fontsize="small")
    ax.legend(fontsize="x-small", loc="lower right")
    ax.set_title(_("The cycle in the quality-collection plane"), fontsize="medium", loc="left")
    return ax


# ==============================================================================================
# sensitivity analysis
# ==============================================================================================
def plot_sensitivity(
    result: SensitivityResult,
    outcome: str | Sequence[str] | None = None,
    ax: Axes | Sequence[Axes] | None = None,
) -> Axes | np.ndarray:
    """Sensitivity indices with their confidence intervals, one bar chart per outcome.

    Sobol': first-order (``S1``) and total (``ST``) bars; Morris: ``mu_star`` bars with
    ``sigma`` as a marker. Factors are sorted by the main index of the first outcome drawn;
    levers and uncertainties are marked in the labels.

    Parameters
    ----------
    result : SensitivityResult
        From :func:`feesim.studies.sensitivity.analyse`.
    outcome : str or sequence of str, optional
        Outcome(s) to draw (default: all).
    ax : Axes or sequence of Axes, optional
        One axes per outcome; a new figure is made if None.

    Returns
    -------
    matplotlib.axes.Axes or numpy.ndarray of Axes
        The axes (one per outcome; a single Axes when one outcome is drawn).
    """
    names = (
        list(result.outcomes.index)
        if outcome is None
        else [outcome]
        if isinstance(outcome, str)
        else list(outcome)
    )
    for name in names:
        result.check_outcome(name)
    from feesim.surfaces.fonts import register

    register()
    if ax is None:
        import matplotlib.pyplot as plt

        _fig, axes = plt.subplots(
            1,
            len(names),
            figsize=(2.2 + 2.9 * len(names), 0.9 + 0.32 * len(result.factors)),
            sharey=True,
            layout="constrained",
            squeeze=False,
        )
        axes = axes[0]
    else:
        axes = np.atleast_1d(np.asarray(ax, dtype=object))
        if len(axes) != len(names):
            raise ConfigError(
                f"ax: got {len(axes)} axes for {len(names)} outcome(s); give one per outcome"
            )
    frame = result.summary_frame()
    main = result.main_index
    order = frame[frame["outcome"] == names[0]].sort_values(main, ascending=True)["factor"].tolist()
    kinds = {f.name: f.kind for f in result.factors}
    labels = [f"{n} ({'L' if kinds[n] == 'lever' else 'U'})" for n in order]
    y = np.arange(len(order))
    for a, name in zip(axes, names, strict=True):
        sub = frame[frame["outcome"] == name].set_index("factor").loc[order]
        row = result.outcomes.loc[name]
        if result.method == "sobol":
            for k, (col, colour, off) in enumerate(
                (("S1", "#90caf9", -0.2), ("ST", "#1565c0", 0.2))
            ):
                v = sub[col].to_numpy(dtype=float)
                err = np.vstack(
                    [
                        v - sub[f"{col}_ci_lower"].to_numpy(dtype=float),
                        sub[f"{col}_ci_upper"].to_numpy(dtype=float) - v,
                    ]
                )
                a.barh(
                    y + off,
                    v,
                    height=0.38,
                    color=colour,
                    xerr=np.clip(err, 0, None),
                    error_kw={"lw": 0.8, "capsize": 2},
                    label=(_("first-order S1"), _("total ST"))[k],
                )
            a.set_xlim(left=min(0.0, a.get_xlim()[0]))
            a.set_xlabel(_("share of variance"), fontsize="small")
        else:
            v = sub["mu_star"].to_numpy(dtype=float)
            err = np.vstack(
                [
                    v - sub["mu_star_ci_lower"].to_numpy(dtype=float),
                    sub["mu_star_ci_upper"].to_numpy(dtype=float) - v,
                ]
            )
            a.barh(
                y,
                v,
                height=0.6,
                color="#1565c0",
                xerr=np.clip(err, 0, None),
                error_kw={"lw": 0.8, "capsize": 2},
                label=_("mu* (mean |effect|)"),
            )
            a.plot(sub["sigma"], y, "o", color="#ef6c00", ms=4, label=_("sigma"))
            unit = f" ({row['unit']})" if row["unit"] else ""
            a.set_xlabel(_("effect over the range") + unit, fontsize="small")
        a.axvline(0, color="0.3", lw=0.6)
        a.set_yticks(y, labels)
        a.set_title(str(row["label"]), fontsize="medium", loc="left")
        a.grid(True, axis="x", alpha=0.3)
        a.tick_params(labelsize="small")
    axes[0].legend(fontsize="x-small", loc="lower right")
    return axes[0] if len(axes) == 1 else axes
