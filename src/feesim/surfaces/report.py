"""The forecast report: ``forecast.json``, a self-contained ``report.html`` and PNG plots.

What ``feesim forecast`` writes. The forecast's data alone (``forecast.json``, the per-run
tables and the provenance sidecar) is :meth:`feesim.studies.forecast.ForecastResult.save`; this
surface draws the report from a result, also one read back with
:meth:`~feesim.studies.forecast.ForecastResult.load`.

``report.html`` embeds its plots as base64 PNG and its style inline: it opens offline, can be
mailed as one file, and loads nothing from the network. Every file is written atomically
(:mod:`feesim.io`). Plots use matplotlib's Agg backend (no display needed).

Files written to the output folder:

- ``forecast.json``: the figures (keys in :data:`feesim.studies.forecast.result.JSON_KEYS`);
- ``report.html``: the answer in words and numbers, the plots, and every defaulted input;
- ``vote.png``: distributions of approval and turnout, by heads and by area, with the Art. 278
  thresholds;
- ``collection.png``: year-to-date collection, proposal and status quo, median and 5-95% band;
- ``firm.png``: the firm's cash (median, 5-95%) and the share of runs whose firm has left or
  given notice, both branches;
- ``search.png`` (with a step search): pass probability against the step, and against the
  service improvement and the quality-first lead time for the proposed step.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from feesim.io import atomic_write_bytes, atomic_write_text, staged_output

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from feesim.studies.forecast.result import ForecastResult

__all__ = [
    "REPORT_OUTPUTS",
    "plot_collection",
    "plot_firm",
    "plot_search",
    "plot_vote",
    "write_report",
]

#: What :func:`write_report` writes into its folder (and replaces there).
REPORT_OUTPUTS = (
    "forecast.json",
    "report.html",
    "vote.png",
    "collection.png",
    "firm.png",
    "search.png",
)

PROPOSAL_COLOUR = "#1f6fb4"
STATUS_QUO_COLOUR = "#b4541f"


def _figure(ncols: int = 1, width: float = 7.5, height: float = 3.4) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

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
        (a1, ("approval_heads", "approval_area"), 0.5, "Approval (of participants)"),
        (a2, ("turnout_heads", "turnout_area"), 2 / 3, "Turnout (of all owners)"),
    ):
        for key, colour in zip(keys, (PROPOSAL_COLOUR, "#6aa84f"), strict=True):
            x = getattr(v, key)
            x = x[np.isfinite(x)]
            if x.size:
                ax.hist(x, bins=30, alpha=0.55, color=colour, label=key.split("_")[1])
        ax.axvline(thr, color="k", lw=1, ls="--", label=f"threshold {thr:.2f}")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("share")
        ax.set_ylabel("runs")
        ax.legend(fontsize=8)
    if not v.voted.any():
        a1.text(0.5, 0.5, "no vote", transform=a1.transAxes, ha="center")
    return fig


def _band(ax: Any, x: np.ndarray, data: np.ndarray, colour: str, label: str) -> None:
    with np.errstate(all="ignore"):
        q = np.nanquantile(data, [0.05, 0.5, 0.95], axis=0)
    ax.fill_between(x, q[0], q[2], color=colour, alpha=0.2, lw=0)
    ax.plot(x, q[1], color=colour, lw=1.8, label=f"{label} (median, 5-95%)")


def plot_collection(result: ForecastResult) -> Figure:
    """Year-to-date collection rate, proposal and status quo, median and 5-95% band."""
    fig, ax = _figure(1)
    x = np.arange(len(result.dates))
    _band(ax, x, result.status_quo.series["collection_rate"], STATUS_QUO_COLOUR, "status quo")
    if not result.data["null_proposal"]:
        _band(ax, x, result.proposal.series["collection_rate"], PROPOSAL_COLOUR, "proposal")
    _vote_line(ax, result)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("collection rate, year to date")
    _date_ticks(ax, result)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Collection", fontsize=10)
    return fig


def plot_firm(result: ForecastResult) -> Figure:
    """The firm's cash and the share of runs whose firm has left or given notice."""
    fig, (a1, a2) = _figure(2, width=9)
    x = np.arange(len(result.dates))
    _band(a1, x, result.status_quo.series["firm_cash_yuan"] / 1e3, STATUS_QUO_COLOUR, "status quo")
    if not result.data["null_proposal"]:
        _band(a1, x, result.proposal.series["firm_cash_yuan"] / 1e3, PROPOSAL_COLOUR, "proposal")
    a1.set_ylabel("firm cash (thousand yuan)")
    a1.set_title("Firm cash", fontsize=10)
    a1.axhline(0, color="grey", lw=0.8)
    ep = result.data["exit_path"]
    a2.plot(x, ep["status_quo"], color=STATUS_QUO_COLOUR, lw=1.8, label="status quo")
    a2.plot(x, ep["proposal"], color=PROPOSAL_COLOUR, lw=1.8, ls="--", label="proposal")
    a2.set_ylim(-0.02, 1.02)
    a2.set_ylabel("share of runs")
    a2.set_title("Firm has given notice or left (since the vote)", fontsize=10)
    for ax in (a1, a2):
        _vote_line(ax, result)
        _date_ticks(ax, result)
        ax.legend(fontsize=8)
    return fig


def plot_search(search: dict[str, Any]) -> Figure:
    """Pass probability against the step, the service improvement and the lead time."""
    fig, axes = _figure(3, width=11)
    c = search["curve"]
    target = search["target"]
    a1 = axes[0]
    a1.plot(np.array(c["step_pct"]) * 100, c["pass_probability"], "o-", color=PROPOSAL_COLOUR)
    a1.axhline(target, color="k", ls="--", lw=1, label=f"target {target:.0%}")
    a1.axvline(search["proposed_step_pct"] * 100, color="grey", lw=1, label="proposed step")
    if search["largest_step_pct"] is not None:
        a1.axvline(
            search["largest_step_pct"] * 100, color="#6aa84f", lw=1.5, label="largest passing"
        )
    a1.set_xlabel("step (area-weighted, %)")
    a1.set_title("Pass probability by step", fontsize=10)
    for ax, key, xlabel, title in (
        (axes[1], "service", "service improvement (quality points)", "Service for this step"),
        (axes[2], "quality_first", "quality first (months before vote)", "Lead time, this step"),
    ):
        s = search[key]
        ax.plot(s["grid"], s["pass_probability"], "o-", color=PROPOSAL_COLOUR)
        ax.axhline(target, color="k", ls="--", lw=1)
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=10)
    for ax in axes:
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("pass probability")
    a1.legend(fontsize=8)
    return fig


def _vote_line(ax: Any, result: ForecastResult) -> None:
    ax.axvline(result.data["vote_month"], color="grey", lw=1, ls=":")


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
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid
#ddd}.answer{font-size:1.15em;background:#f3f7fb;border-left:4px solid #1f6fb4;padding:.6em 1em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;
text-align:right}th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}
img{max-width:100%}code,pre{background:#f6f6f6;font-size:.9em}pre{padding:.6em;overflow-x:auto}
.muted{color:#666;font-size:.9em}
"""


def _pct(x: float | None, digits: int = 0) -> str:
    return "n/a" if x is None else f"{x:.{digits}%}"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def _dist_row(label: str, d: dict[str, Any], fmt: Any = _pct) -> str:
    cells = "".join(f"<td>{fmt(d[k])}</td>" for k in ("mean", "p05", "p50", "p95"))
    return f"<tr><td>{html.escape(label)}</td>{cells}</tr>"


def _img(png: bytes, alt: str) -> str:
    b64 = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _collection_when(d: dict[str, Any]) -> str:
    """When the headline collection figure is read: its calendar month and months after the vote.

    The figure is year to date, so its calendar month matters (early in a year it reads low).
    """
    m12 = d["windows"]["collection_12m_month"]
    return f"In {d['collection_path']['date'][m12]} ({m12 - d['vote_month']} months after the vote)"


def _html(result: ForecastResult, pngs: dict[str, bytes]) -> str:
    d = result.data
    e = html.escape
    pr = d["proposal"]
    head = "<tr><th></th><th>mean</th><th>5%</th><th>median</th><th>95%</th></tr>"
    fees = "".join(
        f"<tr><td>{e(n)}</td><td>{pr['fee_before'][n]:.3f}</td><td>{pr['fee_after'][n]:.3f}</td>"
        f"<td>{_pct(pr['step_pct'][n], 1)}</td></tr>"
        for n in pr["building_types"]
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Pre-vote forecast: {e(d['community'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>Pre-vote forecast: {e(d['community'])}</h1>",
        f"<p class='muted'>Input {e(d['source'])} ({e(d['input_format'])} file); {d['runs']} runs"
        f" per branch, seed {d['seed']}, {d['populations']} populations per 500 runs, "
        f"{d['ensemble_members']} behaviour parameter sets; feesim {e(d['feesim_version'])}; "
        f"simulated in {d['elapsed_s']:.1f} s.</p>",
        f"<p class='answer'>The proposed step <b>{e(d['verdict'])}</b>: it passes in "
        f"<b>{d['pass_probability']:.1%}</b> of runs (Monte Carlo error "
        f"&plusmn;{d['pass_probability_se']:.1%}).",
    ]
    if not d["null_proposal"]:
        c, s = d["collection_rate_12m"], d["status_quo_collection_rate_12m"]
        after = d["windows"]["months_after_vote"]
        # The longest exit window the runs follow (a run ending 12 months after the vote says
        # nothing about 36 months).
        followed = [w for w in d["windows"]["exit_windows"] if w <= after]
        exit_text = (
            f"the firm leaves or gives notice within {followed[-1]} months in "
            f"{d[f'firm_exit_probability_{followed[-1]}m']:.1%} of runs "
            f"({d[f'status_quo_firm_exit_probability_{followed[-1]}m']:.1%} without the step)."
            if followed
            else f"the runs end {after} months after the vote, too early to count firm exits."
        )
        parts.append(
            f" {_collection_when(d)}, year-to-date collection is {_pct(c['p50'])} "
            f"({_pct(c['p05'])}-{_pct(c['p95'])}) against {_pct(s['p50'])} without the step; "
            + exit_text
        )
    else:
        parts.append(
            " The proposal changes nothing, so no vote is needed: it equals the status quo."
        )
    parts.append("</p>")
    parts += [
        "<h2>The proposal</h2>",
        f"<p>Vote in {e(str(d['vote_date']))} (month {d['vote_month']} from {e(d['start'])}); "
        f"headline step {pr['headline_step_pct']:+.1%} (area-weighted).</p>",
        "<table><tr><th>building type</th><th>fee now</th><th>proposed</th><th>step</th></tr>"
        f"{fees}</table>",
        "<table>"
        + "".join(
            f"<tr><td>{e(k)}</td><td>{e(str(v))}</td></tr>"
            for k, v in (
                ("service improvement (quality points)", pr["service_improvement"]),
                ("quality first (months before the vote)", pr["quality_first_months"]),
                ("trial period (months)", pr["trial_months"]),
                ("disclosure", pr["disclosure"]),
                ("negotiation meetings", pr["negotiation_meetings"]),
                ("door-to-door rounds", pr["door_to_door_rounds"]),
                ("renovation bundled", pr["renovation_bundled"]),
                ("collection campaign steps", pr["campaign_steps"]),
                ("value-added packages", ", ".join(p["name"] for p in pr["packages"]) or "none"),
            )
        )
        + "</table>",
        "<h2>The vote (Civil Code Art. 278)</h2>",
        "<p>Quorum: owners holding at least 2/3 of the area <i>and</i> at least 2/3 of the owners "
        "take part. A fee change then needs more than 1/2 of the participating area <i>and</i> "
        "of the participating owners. Figures below are for the final vote of each run (a vote "
        "without quorum may be retried).</p>",
        f"<table>{head}"
        + _dist_row("turnout, heads", d["turnout_heads"])
        + _dist_row("turnout, area", d["turnout_area"])
        + _dist_row("approval, heads", d["approval_heads"])
        + _dist_row("approval, area", d["approval_area"])
        + "</table>",
        "<table><tr><th>outcome</th><th>share of runs</th></tr>"
        f"<tr><td>passed</td><td>{d['pass_probability']:.1%}</td></tr>"
        f"<tr><td>no quorum</td><td>{d['no_quorum_probability']:.1%}</td></tr>"
        f"<tr><td>rejected</td><td>{d['rejected_probability']:.1%}</td></tr>"
        f"<tr><td>new fee in force within the horizon</td>"
        f"<td>{d['effective_probability']:.1%}</td></tr></table>",
        "<p>Which test decides (the one that failed; for a passed vote, the one closest to "
        f"failing). Most often binding: <b>{e(str(d['binding_test']))}</b>.</p>",
        "<table><tr><th>test</th><th>all votes</th><th>failed votes</th></tr>"
        + "".join(
            f"<tr><td>{t}</td><td>{_pct(d['binding'][t], 1)}</td><td>"
            f"{_pct(d['binding_failed'][t], 1) if d['binding_failed'] else 'n/a'}</td></tr>"
            for t in d["binding"]
        )
        + "</table>",
        _img(pngs["vote.png"], "approval and turnout distributions"),
        "<h2>Collection</h2>",
        "<p>Year-to-date collection rate (share of this year's bills paid so far, as communities "
        "report it), proposal and status quo run on the same random streams, so the difference "
        "is the policy's effect.</p>",
        f"<table>{head}"
        + _dist_row(f"proposal, {_collection_when(d).lower()}", d["collection_rate_12m"])
        + _dist_row(
            f"status quo, {_collection_when(d).lower()}", d["status_quo_collection_rate_12m"]
        )
        + _dist_row("difference (run by run)", d["difference_collection_rate_12m"])
        + _dist_row("proposal, last month", d["collection_rate_end"])
        + _dist_row("status quo, last month", d["status_quo_collection_rate_end"])
        + "</table>",
        _img(pngs["collection.png"], "collection rate bands"),
        "<h2>The firm</h2>",
        f"<table>{head}"
        + _dist_row("net margin, 12 months after the vote", d["firm_margin_12m"], _pct)
        + _dist_row("status quo", d["status_quo_firm_margin_12m"], _pct)
        + _dist_row("cash after 12 months (yuan)", d["firm_cash_12m_yuan"], _num)
        + _dist_row("status quo", d["status_quo_firm_cash_12m_yuan"], _num)
        + _dist_row("cash in the last month (yuan)", d["firm_cash_end_yuan"], _num)
        + _dist_row("status quo", d["status_quo_firm_cash_end_yuan"], _num)
        + "</table>",
        "<table><tr><th>firm gives notice or leaves</th><th>proposal</th><th>status quo</th></tr>"
        + "".join(
            f"<tr><td>within {w} months of the vote</td>"
            f"<td>{d[f'firm_exit_probability_{w}m']:.1%}</td>"
            f"<td>{d[f'status_quo_firm_exit_probability_{w}m']:.1%}</td></tr>"
            if w <= d["windows"]["months_after_vote"]
            else f"<tr><td>within {w} months of the vote</td><td colspan='2'>not followed (the "
            f"runs end {d['windows']['months_after_vote']} months after the vote)</td></tr>"
            for w in d["windows"]["exit_windows"]
        )
        + "</table>",
        _img(pngs["firm.png"], "firm cash and exit"),
    ]
    s = d.get("search")
    if s:
        parts += [
            "<h2>What step would pass?</h2>",
            f"<p>Target pass probability {s['target']:.0%} ({s['runs']} runs per point, same "
            "streams for every step, so the curve can only fall as the step grows). "
            + (
                f"Largest step reaching it: <b>{s['largest_step_pct']:+.1%}</b> "
                + (
                    "(at least: every step tried passes) "
                    if s["largest_step_bound"] == "at_least"
                    else ""
                )
                + "("
                + ", ".join(f"{e(k)} {v:.3f}" for k, v in s["largest_step_fees"].items())
                + " yuan/m2/month)."
                if s["largest_step_pct"] is not None
                else "No step tried reaches it."
            )
            + "</p>",
            "<p>For the proposed step: smallest service improvement reaching the target "
            f"<b>{e(str(s['service']['smallest_service_improvement']))}</b> quality points; "
            "smallest quality-first lead time "
            f"<b>{e(str(s['quality_first']['smallest_quality_first_months']))}</b> months "
            "(none = not within the values tried).</p>",
            _img(pngs["search.png"], "pass probability against step"),
        ]
    u = d["uncertainty"]
    parts += [
        "<h2>Uncertainty</h2>",
        f"<p>Seed (Monte Carlo) standard error of the pass probability: {u['seed_se']:.2%}. ",
        (
            f"Across {u['ensemble_members']} calibrated behaviour parameter sets the pass "
            f"probability ranges {_pct(u['pass_probability_by_member']['p05'])}-"
            f"{_pct(u['pass_probability_by_member']['p95'])} (5-95%); between-set standard "
            f"deviation {_pct(u['between_member_sd'], 1)}.</p>"
            if u["pass_probability_by_member"] is not None
            else "No calibrated parameter ensemble was used: bands show seed uncertainty only "
            "(household draws, payment, turnout and approval decisions).</p>"
        ),
        f"<h2>Items that took defaults ({len(d['defaults'])})</h2>",
        "<p>The input file left these out; the forecast used the values shown.</p>",
        "<pre>" + e("\n".join(d["defaults"]) or "none") + "</pre>",
        "<h2>Files</h2><p><code>forecast.json</code> holds every figure above (keys documented in"
        " the README and in <code>feesim.studies.forecast.result.JSON_KEYS</code>); the plots"
        " are also saved as PNG beside this report.</p>",
        "</body></html>",
    ]
    return "".join(parts)


def write_report(result: ForecastResult, directory: str | os.PathLike[str]) -> Path:
    """Write ``forecast.json``, ``report.html`` and the PNG plots to ``directory``.

    The files are written to a fresh folder beside ``directory`` and moved into place together
    (:func:`feesim.io.staged_output`): a report of an earlier run there is replaced whole
    (``search.png`` of an earlier search included), and a failure leaves it as it was. Other
    files in the folder are left alone. Returns the folder.

    Raises
    ------
    OutputError
        If ``directory`` cannot be written (an existing file, a path under a file, empty).
    """
    with staged_output(directory, REPORT_OUTPUTS) as tmp:
        _write_report(result, tmp)
    return Path(directory)


def _write_report(result: ForecastResult, out: Path) -> None:
    pngs = {
        "vote.png": _png(plot_vote(result)),
        "collection.png": _png(plot_collection(result)),
        "firm.png": _png(plot_firm(result)),
    }
    if result.data.get("search"):
        pngs["search.png"] = _png(plot_search(result.data["search"]))
    for name, data in pngs.items():
        atomic_write_bytes(out / name, data)
    atomic_write_text(out / "forecast.json", result.to_json())
    atomic_write_text(out / "report.html", _html(result, pngs))
