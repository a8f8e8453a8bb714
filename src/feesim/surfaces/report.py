"""The forecast report: ``forecast.json``, a printable ``report.html`` and PNG plots.

What ``feesim forecast`` writes. The forecast's data alone (``forecast.json``, the per-run
tables and the provenance sidecar) is :meth:`feesim.studies.forecast.ForecastResult.save`; this
surface draws the report from a result, also one read back with
:meth:`~feesim.studies.forecast.ForecastResult.load`.

The report is written for a subdistrict office's meeting, in Chinese or English
(:mod:`feesim.i18n`; ``lang=``, ``feesim forecast --lang``, else the environment). Page 1 says in
plain words whether the step will pass, why (the test that binds and what would change it),
what each household pays more per month in yuan, and what collection and the firm do if it
passes and if it fails; then come the proposal with its package, the vote, collection, service
and the firm's margin, the step search, one statement of the uncertainty with a dot per
behaviour parameter set, the model's validation record (its leave-one-case-out errors, read
from the fitted parameter file) and every input that took a default.

``report.html`` is self-contained: plots as base64 PNG, style inline, and the Chinese font cut
to the characters of the page embedded (:func:`feesim.surfaces.fonts.css_font_face`), so it
opens and prints the same on any machine, offline. It has a print stylesheet (A4, page 1 on its
own page, tables and figures kept whole). :func:`write_pdf` prints it to ``report.pdf`` with
headless Chromium (Debian's ``chromium`` driven by Playwright; offline).

Files written to the output folder (atomically, :mod:`feesim.io`):

- ``forecast.json``: the figures (keys in :data:`feesim.studies.forecast.result.JSON_KEYS`;
  language-independent);
- ``report.html``: the report;
- ``vote.png``, ``collection.png``, ``firm.png``, ``service.png``, ``sets.png`` (with a
  parameter ensemble) and ``search.png`` (with a step search): its plots;
- ``report.pdf`` with ``pdf=True``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from feesim.errors import FeesimError
from feesim.i18n import N_, ngettext, use_language
from feesim.i18n import gettext as _
from feesim.io import atomic_write_bytes, atomic_write_text, staged_output
from feesim.studies.forecast.mapping import read_default_note
from feesim.studies.forecast.outcomes import QUORUM_TESTS
from feesim.studies.forecast.result import MIN_RUNS_PER_SET as _MIN_RUNS_PER_SET
from feesim.studies.forecast.result import model_error_words, pass_interval
from feesim.surfaces.summaries import test_name

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from feesim.studies.forecast.result import ForecastResult

__all__ = [
    "REPORT_OUTPUTS",
    "check_pdf",
    "household_payments",
    "outcomes_by_result",
    "plot_collection",
    "plot_firm",
    "plot_search",
    "plot_service",
    "plot_sets",
    "plot_vote",
    "uncertainty_statement",
    "validation_record",
    "write_pdf",
    "write_report",
]

#: What :func:`write_report` writes into its folder (and replaces there: a report of an earlier
#: run there is replaced whole, ``search.png`` of an earlier search included).
REPORT_OUTPUTS = (
    "forecast.json",
    "report.html",
    "report.pdf",
    "vote.png",
    "collection.png",
    "firm.png",
    "service.png",
    "sets.png",
    "search.png",
)

PROPOSAL_COLOUR = "#1f6fb4"
STATUS_QUO_COLOUR = "#b4541f"
FAILED_COLOUR = "#7f7f7f"
#: Fewest failed runs from which "if it fails" is read off the failed runs themselves; with
#: fewer, the status quo branch (same streams, no proposal) stands for it.
MIN_FAILED_RUNS = 10
#: Fewest runs per parameter set for a set's own pass probability to be shown as telling (one
#: source of truth with the summary: :meth:`ForecastResult.parameter_spread`).
MIN_RUNS_PER_SET = _MIN_RUNS_PER_SET

#: Why a vote fails, by the test that failed.
FAIL_REASONS = {
    "quorum_heads": N_("too few owners take part (the 2/3 quorum of owners is missed)"),
    "quorum_area": N_("too little floor area takes part (the 2/3 quorum of area is missed)"),
    "approval_heads": N_("too few of the owners taking part vote yes"),
    "approval_area": N_("too little of the area taking part votes yes"),
}
DISCLOSURES = {
    "audit": N_("12-month audit of the firm's accounts"),
    "assessment": N_("third-party price assessment"),
    "accounts": N_("accounts posted for owners"),
    "none": N_("no disclosure"),
}


# ==============================================================================================
# numbers behind the words
# ==============================================================================================
def household_payments(result: ForecastResult) -> list[dict[str, Any]]:
    """What a typical household of each building type pays per month, before and after.

    Returns one dict per building type: ``type``, ``area_m2`` (mean unit area), ``fee_before``,
    ``fee_after`` (yuan/m2/month), ``yuan_before``, ``yuan_after`` and ``yuan_more`` (yuan per
    household per month), and ``share`` of households.
    """
    pr = result.data["proposal"]
    bts = {b.name: b for b in result.input.status_quo.community.building_types}
    out = []
    for name in pr["building_types"]:
        area = float(bts[name].mean_area_m2)
        before, after = float(pr["fee_before"][name]), float(pr["fee_after"][name])
        out.append(
            {
                "type": name,
                "share": float(bts[name].share),
                "area_m2": area,
                "fee_before": before,
                "fee_after": after,
                "yuan_before": before * area,
                "yuan_after": after * area,
                "yuan_more": (after - before) * area,
            }
        )
    return out


def _median(x: np.ndarray) -> float | None:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else None


def outcomes_by_result(result: ForecastResult) -> dict[str, Any]:
    """Collection, service, the firm's margin and exit if the step passes and if it fails.

    "If it passes" are the proposal's runs whose vote passed. "If it fails" are the runs whose
    vote failed when there are at least :data:`MIN_FAILED_RUNS` of them; otherwise the status
    quo branch (same random streams, no proposal) stands for it, and ``fails_from`` says so.

    Returns
    -------
    dict
        ``passes`` and ``fails`` (each ``runs``, ``collection_12m``, ``service_12m``,
        ``margin_12m`` medians and ``exit_36m`` share: the firm's notice or exit within
        ``exit_window`` months of the vote), ``fails_from`` ("failed runs" or "status quo"),
        ``month_12m``, ``exit_window`` (the longest of the exit windows, 12 and 36 months, that
        the runs follow; the months after the vote when they follow neither).
    """
    from feesim.studies.forecast.result import net_margin

    d = result.data
    vm = int(d["vote_month"])
    m12 = int(d["windows"]["collection_12m_month"])
    window = _exit_window(d)

    def summary(branch: Any, pick: np.ndarray) -> dict[str, Any]:
        s = {k: v[pick] for k, v in branch.series.items()}
        exit_m = branch.exit_month[pick]
        return {
            "runs": int(pick.sum()),
            "collection_12m": _median(s["collection_rate"][:, m12]) if pick.any() else None,
            "service_12m": _median(s["service_quality"][:, m12]) if pick.any() else None,
            "margin_12m": _median(net_margin(s, vm + 1, m12 + 1)) if pick.any() else None,
            "exit_36m": float(((exit_m >= vm) & (exit_m < vm + window)).mean())
            if pick.any()
            else None,
        }

    prop, sq = result.proposal, result.status_quo
    passed = prop.vote.passed.astype(bool)
    if d["null_proposal"]:
        passed = np.ones(prop.runs, dtype=bool)
    failed = ~passed
    out: dict[str, Any] = {
        "passes": summary(prop, passed),
        "month_12m": m12,
        "exit_window": window,
    }
    if failed.sum() >= MIN_FAILED_RUNS:
        out["fails"] = summary(prop, failed)
        out["fails_from"] = "failed runs"
    else:
        out["fails"] = summary(sq, np.ones(sq.runs, dtype=bool))
        out["fails_from"] = "status quo"
    return out


def _exit_window(d: dict[str, Any]) -> int:
    """The longest exit window the runs follow, else the months they follow.

    A run ending 13 months after the vote says nothing about 36 months.
    """
    after = int(d["windows"]["months_after_vote"])
    followed = [w for w in d["windows"]["exit_windows"] if w <= after]
    return max(followed) if followed else after


def uncertainty_statement(result: ForecastResult) -> str:
    """The pass probability's uncertainty in one consistent statement (language in force).

    Simulation noise (the binomial interval of the pass probability over all runs) and the
    behaviour parameters (the pass probability under each calibrated parameter set) are told
    apart; sets are only compared when each has enough runs (:data:`MIN_RUNS_PER_SET`).
    """
    d = result.data
    if d["null_proposal"]:
        return _("The proposal changes nothing and is not put to a vote: there is no uncertainty.")
    p, runs = d["pass_probability"], int(d["runs"])
    lo, hi = pass_interval(d)
    text = _(
        "The proposal passes in {p} of {runs} simulated votes; repeating the simulation with "
        "other random draws would give between {lo} and {hi} (95%)."
    ).format(p=_pct(p), runs=runs, lo=_pct(lo), hi=_pct(hi))
    sets = result.per_member_pass()
    m = int(d["ensemble_members"])
    spread = result.parameter_spread()
    if m == 1:
        return (
            text
            + _sp()
            + _(
                "Every run used the same calibrated parameter set (there are fewer runs than "
                "sets, or the ensemble has one set), so the uncertainty of the model's "
                "behavioural coefficients is not included."
            )
        )
    if m == 0:
        return (
            text
            + _sp()
            + _(
                "No calibrated parameter ensemble was used, so the uncertainty of the model's "
                "behavioural coefficients is not included."
            )
        )
    per_set = float(sets["runs"].median())
    if spread is not None and spread["too_few"]:
        return (
            text
            + _sp()
            + ngettext(
                "The runs are spread over {m} calibrated parameter sets, about {n} run each: "
                "too few to tell the sets apart (run at least {k} runs for that).",
                "The runs are spread over {m} calibrated parameter sets, about {n} runs each: "
                "too few to tell the sets apart (run at least {k} runs for that).",
                int(spread["runs_per_set"]),
            ).format(m=m, n=_num(spread["runs_per_set"]), k=spread["runs_needed"])
        )
    probs = sets["pass_probability"].to_numpy()
    if spread is not None and spread["p_value"] is not None and not spread["beyond_noise"]:
        # Sets that differ no more than their runs' binomial noise: a range over them would be
        # seed noise reported as parameter uncertainty.
        return (
            text
            + _sp()
            + _(
                "This figure pools {m} calibrated sets of the model's behavioural coefficients "
                "(about {n} runs each); their pass shares differ no more than the random draws "
                "alone would make them (chi-square test, p = {p}), so there is no spread between "
                "the sets to report."
            ).format(m=m, n=_num(per_set), p=f"{spread['p_value']:.2f}")
        )
    low = probs < 0.5
    text += _sp() + _(
        "This figure averages over {m} calibrated sets of the model's behavioural coefficients "
        "(about {n} runs each); under each set on its own the proposal passes in {lo} to {hi} "
        "of the runs."
    ).format(m=m, n=_num(per_set), lo=_pct(probs.min()), hi=_pct(probs.max()))
    if low.any():
        text += _sp() + ngettext(
            "Under {k} of the {m} sets it passes less than half the time ({lo} to {hi}): the "
            "model cannot rule out that owners react much more strongly than the fit suggests.",
            "Under {k} of the {m} sets it passes less than half the time ({lo} to {hi}): the "
            "model cannot rule out that owners react much more strongly than the fit suggests.",
            int(low.sum()),
        ).format(k=int(low.sum()), m=m, lo=_pct(probs[low].min()), hi=_pct(probs[low].max()))
    else:
        text += _sp() + _("Under every set it passes at least half the time.")
    return text


def validation_record() -> dict[str, Any] | None:
    """The model's leave-one-case-out record, read from the newest fitted parameter file.

    Returns the ``[fit]`` figures (``file``, ``date``, and for ``approval`` and ``collection``
    the reliability-weighted mean absolute errors of the model and of the two baselines: the
    mean of the other cases and a logit on the step), or None when no fitted file has them.
    """
    from feesim.studies.forecast.ensemble import fitted_fit_table

    found = fitted_fit_table()
    if found is None:
        return None
    path, fit = found
    out: dict[str, Any] = {"file": path.name, "date": str(fit.get("date", ""))[:10]}
    for outcome in ("approval", "collection"):
        keys = {k: f"loo_wmae_{k}_{outcome}" for k in ("model", "mean", "step")}
        if not all(v in fit for v in keys.values()):
            return None
        out[outcome] = {k: float(fit[v]) for k, v in keys.items()}
    return out


# ==============================================================================================
# plots
# ==============================================================================================
def _figure(ncols: int = 1, width: float = 7.5, height: float = 3.4) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    from feesim.surfaces.fonts import register

    register()
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def plot_vote(result: ForecastResult) -> Figure:
    """Approval and turnout distributions (heads and area) with the Art. 278 thresholds."""
    fig, (a1, a2) = _figure(2)
    v = result.proposal.vote
    for ax, keys, thr, title in (
        (a1, ("approval_heads", "approval_area"), 0.5, _("Yes votes (share of those voting)")),
        (a2, ("turnout_heads", "turnout_area"), 2 / 3, _("Taking part (share of all owners)")),
    ):
        for key, colour in zip(keys, (PROPOSAL_COLOUR, "#6aa84f"), strict=True):
            x = getattr(v, key)
            x = x[np.isfinite(x)]
            if x.size:
                label = _("by owners") if key.endswith("heads") else _("by floor area")
                ax.hist(x, bins=30, alpha=0.55, color=colour, label=label)
        ax.axvline(thr, color="k", lw=1, ls="--", label=_("threshold {t}").format(t=_pct(thr)))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(_("share"))
        ax.set_ylabel(_("simulated votes"))
        _percent_axis(ax, "x")
        ax.legend(fontsize=8)
    if not v.voted.any():
        a1.text(0.5, 0.5, _("no vote"), transform=a1.transAxes, ha="center")
    return fig


def _percent_axis(ax: Any, which: str = "y") -> None:
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if which == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0, 0))


def _band(ax: Any, x: np.ndarray, data: np.ndarray, colour: str, label: str, **kw: Any) -> None:
    if data.shape[0] == 0:
        return
    with np.errstate(all="ignore"):
        q = np.nanquantile(data, [0.05, 0.5, 0.95], axis=0)
    ax.fill_between(x, q[0], q[2], color=colour, alpha=0.18, lw=0)
    ax.plot(x, q[1], color=colour, lw=1.8, label=label, **kw)


def _branches(result: ForecastResult, key: str, scale: float = 1.0) -> list[tuple]:
    """(data, colour, label, style) of the lines to draw: passes, fails, status quo."""
    sq = result.status_quo.series[key] * scale
    if result.data["null_proposal"]:
        return [(sq, STATUS_QUO_COLOUR, _("no change (median, 5-95%)"), "-")]
    prop = result.proposal.series[key] * scale
    passed = result.proposal.vote.passed.astype(bool)
    out = [(prop[passed], PROPOSAL_COLOUR, _("if it passes (median, 5-95%)"), "-")]
    if (~passed).sum() >= MIN_FAILED_RUNS:
        out.append((prop[~passed], FAILED_COLOUR, _("if it fails"), "--"))
    out.append((sq, STATUS_QUO_COLOUR, _("without the proposal"), ":"))
    return out


def plot_collection(result: ForecastResult) -> Figure:
    """Year-to-date collection if the step passes, if it fails and without it (5-95% bands)."""
    fig, ax = _figure(1, width=8.5)
    x = np.arange(len(result.dates))
    for data, colour, label, style in _branches(result, "collection_rate"):
        _band(ax, x, data, colour, label, ls=style)
    _vote_line(ax, result)
    ax.set_ylim(0, 1.02)
    _percent_axis(ax)
    ax.set_ylabel(_("collection rate, year to date"))
    _date_ticks(ax, result)
    _januaries(ax, result)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(_("Collection rate (收缴率), year to date"), fontsize=10)
    return fig


def plot_service(result: ForecastResult) -> Figure:
    """Service quality and the firm's monthly margin, if it passes, if it fails, without it."""
    fig, (a1, a2) = _figure(2, width=10)
    x = np.arange(len(result.dates))
    for data, colour, label, style in _branches(result, "service_quality"):
        _band(a1, x, data, colour, label, ls=style)
    a1.set_ylim(0, 1.05)
    a1.set_ylabel(_("service quality (1 = liveable standard)"))
    a1.set_title(_("Service delivered"), fontsize=10)
    rev_key, cost_key = "firm_revenue_yuan", "firm_cost_yuan"
    for (rev, colour, label, style), (cost, *_rest) in zip(
        _branches(result, rev_key), _branches(result, cost_key), strict=True
    ):
        margin = _rolling_margin(rev, cost)
        _band(a2, x, margin, colour, label, ls=style)
    a2.axhline(0, color="grey", lw=0.8)
    a2.set_ylim(-0.5, 0.5)
    _percent_axis(a2)
    a2.set_ylabel(_("net margin, last 12 months"))
    a2.set_title(_("The firm's margin"), fontsize=10)
    for ax in (a1, a2):
        _vote_line(ax, result)
        _date_ticks(ax, result)
    a1.legend(fontsize=8, loc="lower left")
    return fig


def _rolling_margin(rev: np.ndarray, cost: np.ndarray, window: int = 12) -> np.ndarray:
    """Net margin over the trailing ``window`` months, per run (NaN without revenue)."""
    r = np.cumsum(np.nan_to_num(rev), axis=1)
    k = np.cumsum(np.nan_to_num(cost), axis=1)
    if rev.shape[1] > window:
        r[:, window:] -= r[:, :-window].copy()
        k[:, window:] -= k[:, :-window].copy()
    out = np.full(r.shape, np.nan)
    np.divide(r - k, r, out=out, where=r > 0)
    return out


def plot_firm(result: ForecastResult) -> Figure:
    """The firm's cash and the share of runs whose firm has left or given notice."""
    fig, (a1, a2) = _figure(2, width=10)
    x = np.arange(len(result.dates))
    for data, colour, label, style in _branches(result, "firm_cash_yuan", 1e-3):
        _band(a1, x, data, colour, label, ls=style)
    a1.set_ylabel(_("cash (thousand yuan)"))
    a1.set_title(_("The firm's cash"), fontsize=10)
    a1.axhline(0, color="grey", lw=0.8)
    ep = result.data["exit_path"]
    a2.plot(
        x,
        ep["status_quo"],
        color=STATUS_QUO_COLOUR,
        lw=1.8,
        ls=":",
        label=_("without the proposal"),
    )
    if not result.data["null_proposal"]:
        a2.plot(x, ep["proposal"], color=PROPOSAL_COLOUR, lw=1.8, label=_("with the proposal"))
    a2.set_ylim(-0.02, 1.02)
    _percent_axis(a2)
    a2.set_ylabel(_("share of simulated runs"))
    a2.set_title(_("Firm has given notice or left (since the vote)"), fontsize=10)
    for ax in (a1, a2):
        _vote_line(ax, result)
        _date_ticks(ax, result)
        ax.legend(fontsize=8)
    return fig


def plot_sets(result: ForecastResult) -> Figure:
    """One dot per behaviour parameter set: its pass probability, with the overall figure."""
    fig, ax = _figure(1, width=8.5, height=2.4)
    sets = result.per_member_pass()
    p = result.data["pass_probability"]
    y = np.random.default_rng(0).uniform(-0.25, 0.25, len(sets))  # jitter: dots stay apart
    ax.scatter(sets["pass_probability"], y, s=26, color=PROPOSAL_COLOUR, alpha=0.75, zorder=3)
    ax.axvline(p, color="k", lw=1.2, label=_("all sets together: {p}").format(p=_pct(p)))
    ax.axvline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.6, 0.6)
    ax.set_yticks([])
    _percent_axis(ax, "x")
    ax.set_xlabel(_("share of runs in which the proposal passes, under one parameter set"))
    ax.set_title(
        _("Each dot: one calibrated parameter set ({n} sets)").format(n=len(sets)), fontsize=10
    )
    ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_search(search: dict[str, Any], levers: dict[str, Any] | None = None) -> Figure:
    """Pass probability against the step, the service, the lead time and the turnout levers."""
    turnout = bool(levers and levers.get("rounds"))
    fig, axes = _figure(5 if turnout else 3, width=16 if turnout else 11, height=3.2)
    c = search["curve"]
    target = search["target"]
    a1 = axes[0]
    a1.plot(np.array(c["step_pct"]) * 100, c["pass_probability"], "o-", color=PROPOSAL_COLOUR)
    a1.axhline(target, color="k", ls="--", lw=1, label=_("target {t}").format(t=_pct(target)))
    a1.axvline(search["proposed_step_pct"] * 100, color="grey", lw=1, label=_("proposed step"))
    if search["largest_step_pct"] is not None:
        a1.axvline(
            search["largest_step_pct"] * 100, color="#6aa84f", lw=1.5, label=_("largest passing")
        )
    a1.set_xlabel(_("fee step (area-weighted, %)"))
    a1.set_title(_("By the size of the step"), fontsize=10)
    panels = [
        (axes[1], search["service"], _("service improvement (quality points)"), _("By service")),
        (
            axes[2],
            search["quality_first"],
            _("quality first (months before the vote)"),
            _("By quality first (先质后价)"),
        ),
    ]
    if turnout:
        panels += [
            (axes[3], levers["rounds"], _("door-to-door rounds"), _("By door-to-door rounds")),
            (
                axes[4],
                levers["reach"],
                _("households reached per round"),
                _("By door-to-door reach"),
            ),
        ]
    for ax, s, xlabel, title in panels:
        ax.plot(s["grid"], s["pass_probability"], "o-", color=PROPOSAL_COLOUR)
        ax.axhline(target, color="k", ls="--", lw=1)
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=10)
    if turnout:
        _percent_axis(axes[4], "x")
    for ax in axes:
        ax.set_ylim(-0.02, 1.02)
        _percent_axis(ax)
        ax.set_ylabel(_("chance of passing"))
    a1.legend(fontsize=8)
    return fig


def _vote_line(ax: Any, result: ForecastResult) -> None:
    vm = result.data["vote_month"]
    ax.axvline(vm, color="grey", lw=1, ls=":")
    ax.text(
        vm,
        1.0,
        " " + _("vote"),
        transform=ax.get_xaxis_transform(),
        fontsize=7,
        va="top",
        color="grey",
    )


def _januaries(ax: Any, result: ForecastResult) -> None:
    """Faint lines at each January, where the year-to-date rate starts again."""
    for t, date in enumerate(result.dates):
        if date.endswith("-01") and t > 0:
            ax.axvline(t, color="#dddddd", lw=0.8, zorder=0)


def _date_ticks(ax: Any, result: ForecastResult) -> None:
    T = len(result.dates)
    step = 6 if T <= 60 else 12
    ticks = list(range(0, T, step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([result.dates[t] for t in ticks], rotation=45, fontsize=7)


# ==============================================================================================
# HTML
# ==============================================================================================
_CSS = """
body{font-family:%(stack)s;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;
line-height:1.5}
h1{font-size:1.55em;margin-bottom:.1em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px
solid #ccc}h3{font-size:1.05em;margin:1em 0 .3em}
.meta{color:#555;font-size:.92em;margin-top:0}
.answer{font-size:1.2em;background:#f3f7fb;border-left:5px solid #1f6fb4;padding:.6em 1em;
margin:.8em 0}
.box{border:1px solid #ccd;border-radius:4px;padding:.4em 1em;margin:.6em 0}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:right;vertical-align:top}th{background:#f3f3f3}td:first-child,th:first-child{
text-align:left}table.wide{width:100%%}td.text{text-align:left;overflow-wrap:anywhere}
img{max-width:100%%;height:auto}code{background:#f3f3f3;font-size:.9em;overflow-wrap:anywhere}
.muted{color:#666;font-size:.9em}.small{font-size:.85em}
.page1{min-height:0}
@page{size:A4;margin:14mm 13mm}
@media print{
body{max-width:none;margin:0;padding:0;font-size:10pt;line-height:1.4}
.page1{break-after:page}
h2,h3{break-after:avoid}
table,img,.box,.answer,figure{break-inside:avoid}
tr{break-inside:avoid}
a{color:inherit;text-decoration:none}
.noprint{display:none}
}
"""


def _sp() -> str:
    """Space between two sentences: none in Chinese, one in English."""
    from feesim.i18n import language

    return "" if language() == "zh_CN" else " "


def _pct(x: float | None, digits: int = 0) -> str:
    return _("n/a") if x is None or not math.isfinite(x) else f"{x:.{digits}%}"


def _num(x: float | None, digits: int = 0) -> str:
    return _("n/a") if x is None or not math.isfinite(x) else f"{x:,.{digits}f}"


def _yes(x: bool) -> str:
    return _("yes") if x else _("no")


def _dist_row(label: str, d: dict[str, Any], fmt: Any = _pct) -> str:
    cells = "".join(f"<td>{fmt(d[k])}</td>" for k in ("p50", "p05", "p95"))
    return f"<tr><td>{html.escape(label)}</td>{cells}</tr>"


def _img(png: bytes, alt: str) -> str:
    b64 = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _e(x: Any) -> str:
    return html.escape(str(x))


def _page1(result: ForecastResult, outcomes: dict[str, Any], payments: list) -> list[str]:
    d = result.data
    pr = d["proposal"]
    parts = ["<section class='page1'>"]
    parts.append(
        "<h1>"
        + _e(
            _("{community}: the fee proposal before the owners' vote").format(
                community=d["community"]
            )
        )
        + "</h1>"
    )
    parts.append(
        "<p class='meta'>"
        + _e(
            _("Forecast made on {today} with feesim {version}; vote planned for {vote}.").format(
                today=_dt.date.today().isoformat(),
                version=d["feesim_version"],
                vote=d["vote_date"] or _("n/a"),
            )
        )
        + "</p>"
    )
    # -- will it pass? -------------------------------------------------------------------------
    verdict = _(d["verdict"])  # forecast.json keeps it in English; the words are in the catalogue
    if d["null_proposal"]:
        parts.append(
            "<p class='answer'>"
            + _e(_("The proposal changes nothing, so there is nothing to vote on."))
            + "</p>"
        )
    else:
        parts.append(
            "<p class='answer'><b>"
            + _e(_("Will it pass? The proposal {verdict}.").format(verdict=verdict))
            + "</b>"
            + _sp()
            + _e(uncertainty_statement(result))
            + "</p>"
        )
    # -- why -----------------------------------------------------------------------------------
    if not d["null_proposal"]:
        parts.append("<h3>" + _e(_("Why")) + "</h3><p>" + _e(_why(result)) + "</p>")
    # -- households ----------------------------------------------------------------------------
    parts.append("<h3>" + _e(_("What each household pays")) + "</h3>")
    rows = "".join(
        "<tr><td>"
        + _e(p["type"])
        + f"</td><td>{p['area_m2']:.0f}</td><td>{p['fee_before']:.2f} → {p['fee_after']:.2f}"
        + f"</td><td>{p['yuan_before']:.1f} → {p['yuan_after']:.1f}</td>"
        + f"<td><b>{p['yuan_more']:+.1f}</b></td></tr>"
        for p in payments
    )
    parts.append(
        "<table><tr><th>"
        + "</th><th>".join(
            _e(h)
            for h in (
                _("building type"),
                _("typical home (m²)"),
                _("fee (yuan per m² per month)"),
                _("per household (yuan per month)"),
                _("more per month (yuan)"),
            )
        )
        + f"</th></tr>{rows}</table>"
    )
    if pr["headline_step_pct"]:
        parts.append(
            "<p class='small'>"
            + _e(
                _(
                    "Across the community the fee rises by {step} on average (weighted by floor "
                    "area). A typical home is the mean floor area of its building type."
                ).format(step=f"{pr['headline_step_pct']:+.0%}")
            )
            + "</p>"
        )
    # -- if it passes, if it fails ---------------------------------------------------------------
    parts.append("<h3>" + _e(_("What happens if it passes, and if it fails")) + "</h3>")
    parts.append(_outcomes_table(result, outcomes))
    # -- the step and the process (the decomposition) ---------------------------------------
    parts.append(_decomposition_html(result))
    # -- how sure --------------------------------------------------------------------------------
    rec = validation_record()
    parts.append(
        "<p class='small'>"
        + _e(_validation_sentence(rec, result.data["uncertainty"].get("model_error")))
        + _sp()
        + _e(_("Details on the following pages."))
        + "</p>"
    )
    parts.append("</section>")
    return parts


def _why(result: ForecastResult) -> str:
    d = result.data
    failed = d["binding_failed"]
    lev = result.search_levers or {}
    p = d["pass_probability"]
    # One deciding test for the summary and the report: the larger outcome group (no quorum
    # or voted down) first, then the test that failed most within it.
    test = result.deciding_test()
    if failed and test:
        nq, rej = d["no_quorum_probability"], d["rejected_probability"]
        text = (
            _(
                "When it fails ({share} of the simulated votes), it is mostly because the "
                "quorum is missed ({nq} of the votes, against {rej} voted down), most often "
                "because {reason}."
            )
            if test in QUORUM_TESTS
            else _(
                "When it fails ({share} of the simulated votes), it is mostly because it is "
                "voted down ({rej} of the votes, against {nq} without a quorum), most often "
                "because {reason}."
            )
        ).format(share=_pct(1 - p), nq=_pct(nq), rej=_pct(rej), reason=_(FAIL_REASONS[test]))
    else:
        text = (
            _(
                "It passed in every simulated vote; the test it came closest to failing is: {test}."
            ).format(test=test_name(test))
            if test
            else ""
        )
    quorum = test in QUORUM_TESTS
    if lev.get("flat"):
        text += _sp() + _flat_sentence(lev)
    if quorum:
        # Named by the same test as the sentence before: they cannot disagree.
        text += _sp() + _(
            "What decides the vote is turnout, here the test of {test}: the levers that bring "
            "owners to vote are the door-to-door rounds before the vote (逐户上门) and how many "
            "households a round reaches."
        ).format(test=test_name(test))
        rounds = lev.get("rounds")
        if rounds:
            chances = ", ".join(
                _("{n} rounds: {p}").format(n=n, p=_pct(q))
                for n, q in zip(rounds["grid"], rounds["pass_probability"], strict=True)
            )
            text += _sp() + _(
                "Chance of passing by the number of rounds ({c} planned): {chances}."
            ).format(c=rounds["current"], chances=chances)
        else:
            text += _sp() + _("Run the forecast with --search to see how many rounds it takes.")
    elif not d["null_proposal"]:
        s = d.get("search")
        if s and s.get("largest_step_pct") is not None:
            text += _sp() + (
                _("The largest step that still passes with a chance of {t} is at least {step}.")
                if s.get("largest_step_bound") == "at_least"
                else _("The largest step that still passes with a chance of {t} is {step}.")
            ).format(t=_pct(s["target"]), step=f"{s['largest_step_pct']:+.0%}")
    return text


def _outcomes_table(result: ForecastResult, o: dict[str, Any]) -> str:
    d = result.data
    date12 = result.dates[o["month_12m"]] if o["month_12m"] < len(result.dates) else ""
    cols = [_("if it passes"), _("if it fails")]
    if o["fails_from"] == "status quo":
        cols[1] = _("if it fails (as without the proposal)")
    rows = [
        (
            _("collection rate (year to date) in {date}").format(date=date12),
            _pct,
            "collection_12m",
        ),
        (
            _("service quality in {date} (1 = liveable standard)").format(date=date12),
            lambda x: _num(x, 2),
            "service_12m",
        ),
        (
            # 12 months, or fewer when the runs end sooner (as the summary says).
            _("the firm's net margin in the {n} months after the vote").format(
                n=o["month_12m"] - d["vote_month"]
            ),
            _pct,
            "margin_12m",
        ),
        (
            _("chance the firm gives notice or leaves within {n} months").format(
                n=o["exit_window"]
            ),
            _pct,
            "exit_36m",
        ),
    ]
    body = "".join(
        f"<tr><td>{_e(label)}</td><td>{fmt(o['passes'][k])}</td><td>{fmt(o['fails'][k])}</td></tr>"
        for label, fmt, k in rows
    )
    note = ""
    if o["fails_from"] == "status quo" and not d["null_proposal"]:
        note = (
            "<p class='small muted'>"
            + _e(
                _(
                    "Too few simulated votes fail ({n}) to describe them on their own; the column "
                    "shows the community without the proposal (same random draws)."
                ).format(n=int((~result.proposal.vote.passed.astype(bool)).sum()))
            )
            + "</p>"
        )
    heads = "".join(f"<th>{_e(c)}</th>" for c in cols)
    return (
        f"<table><tr><th></th>{heads}</tr>{body}</table>"
        + "<p class='small muted'>"
        + _e(_("Medians over the simulated runs; shares for the firm's notice or exit."))
        + f"</p>{note}"
    )


#: The outcomes of the decomposition (``forecast.json`` key ``decomposition``) page 1 shows.
DECOMPOSITION_ROWS: dict[str, str] = {
    "collection_rate_12m": N_("collection rate (year to date) 12 months after the vote"),
    "collection_rate_end": N_("collection rate (year to date) at the end of the forecast"),
    "firm_margin_12m": N_("the firm's net margin in the {n} months after the vote"),
    "firm_exit_probability_36m": N_("chance the firm gives notice or leaves within {n} months"),
}


def _signed_pp(x: float | None) -> str:
    """A change of a share in percentage points, with its sign (n/a when unknown)."""
    if x is None or not math.isfinite(x):
        return _("n/a")
    return _("{x} percentage points").format(x=f"{100 * x:+.1f}")


def _decomposition_html(result: ForecastResult) -> str:
    """How much of the change is the step and how much the process.

    Fed from ``result.decomposition`` (the ``decomposition`` entry of ``forecast.json``: for
    each outcome the mean ``total`` change against the status quo, the ``process`` part, that
    is the same vote, disclosure and door-to-door rounds with the fees unchanged, and the
    ``step`` part, the new fees and what they buy); empty while it is None (a null proposal).
    """
    dec = result.decomposition
    if dec is None:
        return ""
    head = "<h3>" + _e(_("How much is the step, and how much the process")) + "</h3>"
    known = [
        k for k in DECOMPOSITION_ROWS if isinstance(dec, dict) and isinstance(dec.get(k), dict)
    ]
    if not known:  # not the forecast's attribution: show it as given
        items = dec.items() if hasattr(dec, "items") else []
        rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in items)
        return head + (f"<table>{rows}</table>" if rows else f"<p>{_e(dec)}</p>")
    windows = result.data.get("windows", {})
    after = int(windows.get("months_after_vote", 36))
    window = 36  # the decomposition's exit window (null when the runs follow fewer months)
    # The margin covers 12 months after the vote, or fewer when the runs end sooner.
    margin_months = int(windows.get("collection_12m_month", 12)) - int(
        result.data.get("vote_month", 0)
    )
    months = {"firm_margin_12m": margin_months}
    parts = [head]
    c = dec.get("collection_rate_12m")
    if isinstance(c, dict):
        parts.append(
            "<p>"
            + _e(
                _(
                    "Against the community without the proposal, the collection rate 12 months "
                    "after the vote changes by {total}: {process} of it comes from the process "
                    "(the vote with its announcement, disclosure, meetings and door-to-door "
                    "rounds, the fees unchanged) and {step} from the step (the new fees and what "
                    "they buy)."
                ).format(
                    total=_signed_pp(c.get("total")),
                    process=_signed_pp(c.get("process")),
                    step=_signed_pp(c.get("step")),
                )
            )
            + "</p>"
        )
    cols = (_("change in all"), _("of which the process"), _("of which the step"))
    heads = "".join(f"<th>{_e(h)}</th>" for h in cols)
    if window > after:
        # The 36-month exit window is not followed (null in forecast.json): no row, as the
        # exit table below says "not followed".
        known = [k for k in known if k != "firm_exit_probability_36m"]
    body = "".join(
        "<tr><td>"
        + _e(_(DECOMPOSITION_ROWS[k]).format(n=months.get(k, window)))
        + "</td>"
        + "".join(
            f"<td>{_e(_signed_pp(dec[k].get(part)))}</td>" for part in ("total", "process", "step")
        )
        + "</tr>"
        for k in known
    )
    parts.append(f"<table><tr><th></th>{heads}</tr>{body}</table>")
    parts.append(
        "<p class='small muted'>"
        + _e(
            _(
                "Means over the simulated runs, against the community without the proposal on "
                "the same random draws; the process and the step add up to the change in all."
            )
        )
        + "</p>"
    )
    return "".join(parts)


def _validation_sentence(rec: dict[str, Any] | None, err: dict[str, float] | None = None) -> str:
    """How the fitted model did out of sample, and the forecast's own model error.

    ``err`` is None when the forecast ran another model than the package's fit, whose error the
    calibration did not measure.
    """
    if rec is None:
        return _(
            "The model's validation record is not available: the fitted parameter file has no "
            "leave-one-case-out figures (feesim calibrate writes them to "
            "calibration/fitted/params-<version>.toml and calibration/REPORT.md)."
        )
    a, c = rec["approval"], rec["collection"]
    text = _(
        "How well has the model done? Each reported community was predicted with that "
        "community left out of the fit (fit of {date})."
    ).format(date=rec["date"])
    for name, r in ((_("collection rates"), c), (_("approval shares"), a)):
        better = r["model"] < r["mean"]
        text += _sp() + (
            _(
                "Its {what} were off by {m} on average (weighted), better than simply taking "
                "the mean of the other communities ({b})."
            )
            if better
            else _(
                "Its {what} were off by {m} on average (weighted), no better than simply "
                "taking the mean of the other communities ({b})."
            )
        ).format(what=name, m=_pp(r["model"]), b=_pp(r["mean"]))
    if err:
        text += _sp() + _(
            "The ranges in this report are the spread of the simulated runs and do not include "
            "the model's own error: with each reported community left out of the fit in turn, "
            "the model missed the reported ranges by {errors} (root mean square, 0 inside a "
            "range). A range that allowed for this would be wider; the calibration's predictive "
            "intervals add it as a normal error of that size."
        ).format(errors=model_error_words(err))
    return text


def _flat_sentence(lev: dict[str, Any]) -> str:
    """The step curve is flat: say over which steps and at what chance."""
    lo, hi = lev["step_range"]
    plo, phi = lev["pass_range"]
    if round(100 * plo) == round(100 * phi):
        return _(
            "The size of the step hardly matters: from {lo} to {hi} the chance of passing "
            "stays at {p}."
        ).format(lo=f"{lo:+.0%}", hi=f"{hi:+.0%}", p=_pct(plo))
    return _(
        "The size of the step hardly matters: from {lo} to {hi} the chance of passing stays "
        "between {plo} and {phi}."
    ).format(lo=f"{lo:+.0%}", hi=f"{hi:+.0%}", plo=_pct(plo), phi=_pct(phi))


def _pp(x: float) -> str:
    """A difference of shares in percentage points."""
    return _("{x} percentage points").format(x=f"{100 * x:.1f}")


def _html(result: ForecastResult, pngs: dict[str, bytes]) -> str:
    from feesim.i18n import language
    from feesim.surfaces.fonts import CSS_STACK, css_font_face

    d = result.data
    pr = d["proposal"]
    payments = household_payments(result)
    outcomes = outcomes_by_result(result)
    parts = _page1(result, outcomes, payments)
    # -- the proposal --------------------------------------------------------------------------
    parts.append("<h2>" + _e(_("The proposal")) + "</h2>")
    parts.append(
        "<p>"
        + _e(
            _(
                "Vote in {date}, {n} months after the forecast starts ({start}); the new fee is "
                "charged from the next billing cycle after a passed vote."
            ).format(date=d["vote_date"], n=d["vote_month"], start=d["start"])
        )
        + "</p>"
    )
    package = result.input.package.strip()
    parts.append(
        "<p><b>"
        + _e(_("The service package:"))
        + "</b> "
        + _e(package if package else _("(not described in the input file)"))
        + "</p>"
    )
    measures = [
        (
            _("service improvement promised"),
            _("{x} quality points").format(x=f"{pr['service_improvement']:.2f}"),
        ),
        (
            _("quality first (months of better service before the vote)"),
            str(pr["quality_first_months"]),
        ),
        (_("trial period (months of new service before the new fee)"), str(pr["trial_months"])),
        (_("disclosure before the vote"), _(DISCLOSURES.get(pr["disclosure"], pr["disclosure"]))),
        (_("fee negotiation meetings (议价联席)"), _yes(pr["negotiation_meetings"])),
        (_("door-to-door rounds before the vote"), str(pr["door_to_door_rounds"])),
        (_("renovation bundled with the step"), _yes(pr["renovation_bundled"])),
        (_("collection campaign steps with the first new bill"), str(pr["campaign_steps"])),
        (
            _("value-added packages voted separately"),
            ", ".join(p["name"] for p in pr["packages"]) or _("none"),
        ),
    ]
    parts.append(
        "<table>"
        + "".join(f"<tr><td>{_e(k)}</td><td class='text'>{_e(v)}</td></tr>" for k, v in measures)
        + "</table>"
    )
    # -- the vote ------------------------------------------------------------------------------
    parts.append("<h2>" + _e(_("The vote (Civil Code Art. 278, 双过半)")) + "</h2>")
    parts.append(
        "<p>"
        + _e(
            _(
                "The owners' general meeting (业主大会) decides if owners holding at least 2/3 of "
                "the floor area and at least 2/3 of all owners take part, and the fee change then "
                "needs more than half of the area taking part and more than half of the owners "
                "taking part. The figures are for each simulated run's final vote (a vote that "
                "misses the quorum may be held again)."
            )
        )
        + "</p>"
    )
    head = (
        "<tr><th></th><th>"
        + "</th><th>".join(_e(h) for h in (_("median"), _("low (5%)"), _("high (95%)")))
        + "</th></tr>"
    )
    parts.append(
        f"<table>{head}"
        + _dist_row(_("owners taking part"), d["turnout_heads"])
        + _dist_row(_("floor area taking part"), d["turnout_area"])
        + _dist_row(_("owners voting yes (of those taking part)"), d["approval_heads"])
        + _dist_row(_("area voting yes (of the area taking part)"), d["approval_area"])
        + "</table>"
    )
    parts.append(
        "<table><tr><th>"
        + _e(_("outcome"))
        + "</th><th>"
        + _e(_("share of simulated votes"))
        + "</th></tr>"
        + "".join(
            f"<tr><td>{_e(k)}</td><td>{_pct(v, 1)}</td></tr>"
            for k, v in (
                (_("passed"), d["pass_probability"]),
                (_("quorum missed"), d["no_quorum_probability"]),
                (_("quorum met, voted down"), d["rejected_probability"]),
                (_("new fee charged within the forecast"), d["effective_probability"]),
            )
        )
        + "</table>"
    )
    if d["binding"] and any(d["binding"].values()):
        parts.append(
            "<p>"
            + _e(
                _(
                    "Which test decides: for a failed vote the test it failed, for a passed vote "
                    "the one it came closest to failing."
                )
            )
            + "</p><table><tr><th>"
            + "</th><th>".join(_e(h) for h in (_("test"), _("all votes"), _("failed votes")))
            + "</th></tr>"
            + "".join(
                f"<tr><td>{_e(test_name(t))}</td>"
                f"<td>{_pct(d['binding'][t], 1)}</td><td>"
                f"{_pct(d['binding_failed'][t], 1) if d['binding_failed'] else _('n/a')}</td></tr>"
                for t in d["binding"]
            )
            + "</table>"
        )
    parts.append(_img(pngs["vote.png"], _("turnout and approval")))
    # -- collection ----------------------------------------------------------------------------
    parts.append("<h2>" + _e(_("Collection (收缴率)")) + "</h2>")
    parts.append(
        "<p>"
        + _e(
            _(
                "The collection rate is the share of this calendar year's bills paid so far, as "
                "communities report it: it starts again every January (the faint lines), so it "
                "drops at each new year and climbs back as the year's bills are paid. The "
                "proposal and the community without it are simulated on the same random draws, "
                "so their difference is the proposal's effect."
            )
        )
        + "</p>"
    )
    m12 = int(d["windows"]["collection_12m_month"])
    when = _("year to date in {date} ({n} months after the vote)").format(
        date=d["collection_path"]["date"][m12], n=m12 - d["vote_month"]
    )
    parts.append(
        f"<table>{head}"
        + _dist_row(_("with the proposal, {when}").format(when=when), d["collection_rate_12m"])
        + _dist_row(_("without it, {when}").format(when=when), d["status_quo_collection_rate_12m"])
        + _dist_row(_("difference (run by run)"), d["difference_collection_rate_12m"])
        + _dist_row(_("with the proposal, last month"), d["collection_rate_end"])
        + _dist_row(_("without it, last month"), d["status_quo_collection_rate_end"])
        + "</table>"
    )
    parts.append(_img(pngs["collection.png"], _("collection rate")))
    # -- service and the firm ------------------------------------------------------------------
    parts.append("<h2>" + _e(_("Service and the property-service firm (物业服务企业)")) + "</h2>")
    parts.append(_img(pngs["service.png"], _("service quality and the firm's margin")))
    money = lambda x: _num(x)
    parts.append(
        f"<table>{head}"
        + _dist_row(_("net margin, 12 months after the vote"), d["firm_margin_12m"])
        + _dist_row(_("without the proposal"), d["status_quo_firm_margin_12m"])
        + _dist_row(_("cash 12 months after the vote (yuan)"), d["firm_cash_12m_yuan"], money)
        + _dist_row(_("without the proposal"), d["status_quo_firm_cash_12m_yuan"], money)
        + _dist_row(_("cash in the last month (yuan)"), d["firm_cash_end_yuan"], money)
        + _dist_row(_("without the proposal"), d["status_quo_firm_cash_end_yuan"], money)
        + "</table>"
    )
    parts.append(
        "<table><tr><th>"
        + "</th><th>".join(
            _e(h)
            for h in (
                _("the firm gives notice or leaves"),
                _("with the proposal"),
                _("without it"),
            )
        )
        + "</th></tr>"
        + "".join(
            f"<tr><td>{_e(_('within {n} months of the vote').format(n=w))}</td>"
            + (
                f"<td>{_pct(d[f'firm_exit_probability_{w}m'], 1)}</td>"
                f"<td>{_pct(d[f'status_quo_firm_exit_probability_{w}m'], 1)}</td></tr>"
                if w <= d["windows"]["months_after_vote"]
                else "<td colspan='2'>"
                + _e(
                    _("not followed (the runs end {n} months after the vote)").format(
                        n=d["windows"]["months_after_vote"]
                    )
                )
                + "</td></tr>"
            )
            for w in d["windows"]["exit_windows"]
        )
        + "</table>"
    )
    parts.append(_img(pngs["firm.png"], _("the firm's cash and exit")))
    # -- the step search -------------------------------------------------------------------------
    s = d.get("search")
    if s:
        parts += _search_html(s, result.search_levers, pngs)
    # -- uncertainty -----------------------------------------------------------------------------
    parts.append("<h2>" + _e(_("How certain is this?")) + "</h2>")
    parts.append("<p>" + _e(uncertainty_statement(result)) + "</p>")
    if "sets.png" in pngs:
        parts.append(_img(pngs["sets.png"], _("pass probability by parameter set")))
    parts.append("<h3>" + _e(_("The model's validation record")) + "</h3>")
    parts.append(
        "<p>"
        + _e(
            _validation_sentence(validation_record(), result.data["uncertainty"].get("model_error"))
        )
        + "</p>"
    )
    parts.append(
        "<p class='small'>"
        + _e(
            _(
                'Most reported approval figures are bounds ("it passed") that any model '
                "satisfies, so the approval record says little either way; treat the chance of "
                "passing as the model's judgement, not a measured frequency."
            )
        )
        + "</p>"
    )
    # -- inputs ------------------------------------------------------------------------------------
    parts.append(
        "<h2>"
        + _e(_("Inputs that took defaults ({n})").format(n=len(d["defaults"])))
        + "</h2><p>"
        + _e(
            _(
                "The input file left these out; the forecast used the values shown. Add the key "
                "to the file to use your own value."
            )
        )
        + "</p>"
    )
    parts.append(_defaults_table(d["defaults"]))
    parts.append("<h2>" + _e(_("How this was computed")) + "</h2>")
    parts.append(
        "<p class='small'>"
        + _e(
            _(
                "Input {source} ({fmt}); {runs} simulated runs with the proposal and {runs} "
                "without it on the same random draws, seed {seed}, {pop} household populations "
                "per 500 runs, {m} behaviour parameter sets; simulated in {s} seconds. "
                "forecast.json beside this report holds every figure (the keys are documented "
                "in the README); the plots are also saved as PNG files."
            ).format(
                source=d["source"],
                fmt=_("community file") if d["input_format"] == "community" else _("scenario file"),
                runs=d["runs"],
                seed=d["seed"],
                pop=d["populations"],
                m=d["ensemble_members"],
                s=f"{d['elapsed_s']:.1f}",
            )
        )
        + "</p>"
    )
    body = "".join(parts)
    lang = language()
    css = _CSS % {"stack": CSS_STACK}
    title = _("{community}: the fee proposal before the owners' vote").format(
        community=d["community"]
    )
    return (
        f"<!DOCTYPE html><html lang='{'zh-CN' if lang == 'zh_CN' else 'en'}'><head>"
        f"<meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{css_font_face(title + body)}{css}</style></head><body>{body}</body></html>"
    )


def _defaults_table(defaults: list[str]) -> str:
    """The inputs that took defaults, with their notes in the language in force.

    The notes are the ``doc`` of the configuration fields, with the unit in brackets (see
    :func:`feesim.studies.forecast.community.missing_fields`), or what the mapping derived
    (:data:`feesim.studies.forecast.mapping.DEFAULT_NOTES`); the docs and units are in the
    catalogue (``tools/i18n.py`` adds them to the template). A value left empty reads "none".
    """

    def note_text(note: str) -> str:
        if not note:
            return ""
        if _(note) != note:
            return _(note)
        known = read_default_note(note)  # a default the mapping derived (DEFAULT_NOTES)
        if known is not None:
            template, values = known
            return _(template).format(**values)
        doc, sep, unit = note.rpartition(" (")
        if sep and unit.endswith(")") and _(doc) != doc:
            return f"{_(doc)} ({_(unit[:-1])})"
        return note

    if not defaults:
        return "<p>" + _e(_("none")) + "</p>"
    behaviour = re.compile(r"behaviour: (\d+) coefficients? from the package defaults")
    rows = []
    for item in defaults:
        key, _sep, rest = item.partition(" = ")
        value, _sep2, note = rest.partition("  # ")
        count = behaviour.fullmatch(key)
        if not rest and count:
            # the last item of a scenario file's defaults (studies/forecast/mapping.py)
            key = ngettext(
                "behaviour: {n} coefficient from the package defaults",
                "behaviour: {n} coefficients from the package defaults",
                int(count[1]),
            ).format(n=count[1])
        rows.append(
            f"<tr><td class='text'><code>{_e(key)}</code></td>"
            f"<td class='text'>{_e(_('none') if value == 'none' else value)}</td>"
            f"<td class='text'>{_e(note_text(note))}</td></tr>"
        )
    head = "".join(f"<th>{_e(h)}</th>" for h in (_("key"), _("default used"), _("meaning")))
    return f"<table class='wide small'><tr>{head}</tr>{''.join(rows)}</table>"


def _search_html(s: dict[str, Any], levers: dict[str, Any] | None, pngs: dict) -> list[str]:
    parts = ["<h2>" + _e(_("What would pass?")) + "</h2>"]
    target = _pct(s["target"])
    text = _(
        "Target: a chance of passing of at least {t}. Every variant is simulated {n} times on "
        "the same random draws, so the curves differ only by the lever moved."
    ).format(t=target, n=s["runs"])
    if levers and levers.get("flat"):
        text += (
            _sp() + _flat_sentence(levers) + _sp() + _("The step is not what decides this vote.")
        )
    if s["largest_step_pct"] is None:
        text += _sp() + _("No step tried reaches the target.")
    elif s["largest_step_bound"] == "at_least":
        text += _sp() + _(
            "Every step tried reaches it, up to {step}: the largest passing step is at least that."
        ).format(step=f"{s['largest_step_pct']:+.0%}")
    else:
        fees = ", ".join(f"{k} {v:.2f}" for k, v in (s["largest_step_fees"] or {}).items())
        text += _sp() + _(
            "The largest step reaching it is {step} ({fees} yuan per m² per month)."
        ).format(step=f"{s['largest_step_pct']:+.1%}", fees=fees)
    parts.append("<p>" + _e(text) + "</p>")
    sv = s["service"]["smallest_service_improvement"]
    lt = s["quality_first"]["smallest_quality_first_months"]
    items = [
        _(
            "Service: the proposed step reaches the target with {x} quality points of service "
            "improvement."
        ).format(x=f"{sv:.2f}")
        if sv is not None
        else _(
            "Service: no service improvement tried (up to {x} quality points) reaches the "
            "target for the proposed step."
        ).format(x=f"{max(s['service']['grid'] or [0]):.2f}"),
        _("Quality first: {n} months of better service before the vote reach the target.").format(
            n=lt
        )
        if lt is not None
        else _("Quality first: no lead time tried (up to {n} months) reaches the target.").format(
            n=max(s["quality_first"]["grid"] or [0])
        ),
    ]
    if levers and levers.get("rounds"):
        r, a = levers["rounds"], levers["reach"]
        items.append(
            _("Door-to-door rounds: {n} rounds reach the target (planned: {c}).").format(
                n=r["smallest_rounds"], c=r["current"]
            )
            if r["smallest_rounds"] is not None
            else _("Door-to-door rounds: no number tried (up to {n}) reaches the target.").format(
                n=max(r["grid"])
            )
        )
        items.append(
            _(
                "Door-to-door reach: rounds reaching {x} of households reach the target (now {c})."
            ).format(x=_pct(a["smallest_reach"]), c=_pct(a["current"]))
            if a["smallest_reach"] is not None
            else _("Door-to-door reach: no reach tried (up to {x}) reaches the target.").format(
                x=_pct(max(a["grid"]))
            )
        )
    elif levers and not levers.get("quorum_binds"):
        items.append(
            _(
                "The majorities, not the quorum, decide this vote, so the step, the service and "
                "quality first are the levers that matter."
            )
        )
    parts.append("<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>")
    parts.append(_img(pngs["search.png"], _("chance of passing against each lever")))
    return parts


# ==============================================================================================
# writing
# ==============================================================================================
def write_report(
    result: ForecastResult,
    directory: str | os.PathLike[str],
    *,
    lang: str | None = None,
    pdf: bool = False,
) -> Path:
    """Write ``forecast.json``, ``report.html`` and the PNG plots to ``directory``.

    The files are written to a fresh folder beside ``directory`` and moved into place together
    (:func:`feesim.io.staged_output`): a report of an earlier run there is replaced whole
    (``search.png`` of an earlier search included, :data:`REPORT_OUTPUTS`), and a failure
    leaves it as it was. Other files in the folder are left alone.

    Parameters
    ----------
    result : ForecastResult
    directory : path
    lang : str, optional
        ``"zh_CN"`` or ``"en"`` (default: the language in force, see :mod:`feesim.i18n`).
    pdf : bool
        Also print the report to ``report.pdf`` (:func:`write_pdf`).

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    OutputError
        If ``directory`` cannot be written (an existing file, a path under a file, empty).
    """
    with staged_output(directory, REPORT_OUTPUTS) as tmp:
        _write_report(result, tmp, lang=lang, pdf=pdf)
    return Path(directory)


def _write_report(result: ForecastResult, out: Path, *, lang: str | None, pdf: bool) -> None:
    with use_language(lang):
        pngs = {
            "vote.png": _png(plot_vote(result)),
            "collection.png": _png(plot_collection(result)),
            "firm.png": _png(plot_firm(result)),
            "service.png": _png(plot_service(result)),
        }
        if result.data["ensemble_members"] > 1 and not result.data["null_proposal"]:
            pngs["sets.png"] = _png(plot_sets(result))
        if result.data.get("search"):
            pngs["search.png"] = _png(plot_search(result.data["search"], result.search_levers))
        page = _html(result, pngs)
    for name, data in pngs.items():
        atomic_write_bytes(out / name, data)
    atomic_write_text(out / "forecast.json", result.to_json())
    atomic_write_text(out / "report.html", page)
    if pdf:
        write_pdf(out / "report.html", out / "report.pdf")


#: Debian's Chromium (Playwright's own browser download needs the internet).
CHROMIUM = "/usr/bin/chromium"


def check_pdf() -> str:
    """The Chromium executable ``--pdf`` prints with; checked before any simulation runs.

    Raises
    ------
    FeesimError
        When Playwright or Chromium is missing (so a long forecast is not run for nothing).
    """
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise FeesimError(
            _("--pdf needs Playwright: pip install playwright (the browser is Debian's chromium)")
        ) from None
    exe = os.environ.get("FEESIM_CHROMIUM", CHROMIUM)
    if not Path(exe).exists():
        raise FeesimError(
            _(
                "--pdf needs Chromium at {path}: apt-get install chromium, or set FEESIM_CHROMIUM"
            ).format(path=exe)
        )
    return exe


def write_pdf(html_file: str | os.PathLike[str], pdf_file: str | os.PathLike[str]) -> Path:
    """Print an HTML report to PDF (A4, as its print stylesheet lays it out), offline.

    Uses headless Chromium (Debian's ``chromium`` package, or ``$FEESIM_CHROMIUM``) driven by
    Playwright (``pip install playwright``; its own browser download is not needed).

    Raises
    ------
    FeesimError
        When Playwright or Chromium is missing.
    """
    exe = check_pdf()
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    src, dest = Path(html_file).resolve(), Path(pdf_file)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=exe, args=["--no-sandbox", "--headless", "--disable-gpu"]
            )
            try:
                page = browser.new_page()
                page.goto(src.as_uri())
                data = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise FeesimError(_("--pdf: Chromium failed: {error}").format(error=exc)) from None
    atomic_write_bytes(dest, data)
    return dest
