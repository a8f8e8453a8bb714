"""``calibration/REPORT.md`` and its figures, from a calibration run.

The input is a :class:`~feesim.studies.calibration.result.CalibrationRun`.

Figures (PNG, written atomically to ``<out>/figures``): observed against simulated figures per
case with intervals; reported against simulated regression coefficients; leave-one-out errors
of the model and the baselines; the time paths behind the targets; prior against posterior of
every parameter.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from feesim.io import atomic_write_bytes, atomic_write_text
from feesim.studies.calibration.moments import _example, _main_votes, _on_case_calendar, _run

if TYPE_CHECKING:  # pragma: no cover
    from feesim.studies.calibration.result import CalibrationRun

__all__ = ["write_report"]

log = logging.getLogger(__name__)

OUTCOME_COLS = ("approval", "turnout", "collection")


def _fig_bytes(fig: object) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return buf.getvalue()


def _relative(gain: float) -> str:
    """'35% below' for a gain of 0.35, '20% above' for -0.2."""
    return f"{100 * gain:.0f}% below" if gain >= 0 else f"{-100 * gain:.0f}% above"


def _md_table(df: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join([df.index.name or "", *cols]) + " |"]
    lines.append("|" + "---|" * (len(cols) + 1))
    for idx, row in df.iterrows():
        cells = []
        for v in row:
            if isinstance(v, float | np.floating):
                cells.append("" if np.isnan(v) else floatfmt.format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join([str(idx), *cells]) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# what the report shows
# ----------------------------------------------------------------------------------------------
def _member_sims(run: CalibrationRun) -> list:
    cal = run.calibrator
    return [cal.simulate(np.array(u)) for u in run.fit.extra.get("ensemble_u", [])]


def case_table(run: CalibrationRun) -> pd.DataFrame:
    """Observed interval and simulated median / bands for every simulated figure."""
    cal, fit = run.calibrator, run.fit
    sim = cal.simulate(fit.u)
    members = _member_sims(run)
    f = run.cases.frame
    rows = []
    for obs, cid, _di, _m in cal.simulator.observations:
        r = f.loc[obs]
        for outcome in OUTCOME_COLS:
            use = r[f"use_{outcome}"]
            lo, hi = r[f"{outcome}_lo"], r[f"{outcome}_hi"]
            if use not in ("fit", "target") or not np.isfinite(lo):
                continue
            s = sim.cases[sim.cases["obs_id"] == obs][outcome].to_numpy(float)
            med = [np.nanmedian(m.cases[m.cases["obs_id"] == obs][outcome]) for m in members]
            band = np.nanquantile(med, [0.05, 0.95]) if members else [np.nan, np.nan]
            rows.append(
                {
                    "obs_id": obs,
                    "case_id": cid,
                    "outcome": outcome,
                    "use": use,
                    "weight": r["weight"],
                    "observed_lo": lo,
                    "observed_hi": hi,
                    "simulated": float(np.nanmedian(s)) if np.isfinite(s).any() else np.nan,
                    "seed_lo": float(np.nanmin(s)) if np.isfinite(s).any() else np.nan,
                    "seed_hi": float(np.nanmax(s)) if np.isfinite(s).any() else np.nan,
                    "param_lo": float(band[0]),
                    "param_hi": float(band[1]),
                }
            )
    return pd.DataFrame(rows)


def coefficient_table(run: CalibrationRun) -> pd.DataFrame:
    """Reported coefficients (with 95% interval) against those refitted on simulated cases."""
    cal, fit = run.calibrator, run.fit
    ms = cal.moments
    sims = ms.simulated_regressions(cal.simulate(fit.u))
    members = [ms.simulated_regressions(m) for m in _member_sims(run)]
    rows = []
    for name, o in ms.observed.items():
        cf = o.result.coef_frame()
        for coef in o.spec.exog_names:
            mem = [m[name].params[coef] for m in members]
            rows.append(
                {
                    "regression": name,
                    "coefficient": coef,
                    "reported": cf.loc[coef, "Coef."],
                    "reported_se": cf.loc[coef, "Std.Err."],
                    "reported_lo": cf.loc[coef, "[0.025"],
                    "reported_hi": cf.loc[coef, "0.975]"],
                    "simulated": sims[name].params[coef],
                    "simulated_lo": float(np.quantile(mem, 0.05)) if mem else np.nan,
                    "simulated_hi": float(np.quantile(mem, 0.95)) if mem else np.nan,
                }
            )
    return pd.DataFrame(rows)


def target_table(run: CalibrationRun) -> pd.DataFrame:
    """Every target and check: figure, kind, se, simulated mean, ensemble band, in objective."""
    cal, fit = run.calibrator, run.fit
    sim = cal.simulate(fit.u)
    members = _member_sims(run)
    rows = []
    for t in run.targets:
        vals = [m.moment(t.name) for m in members]
        rows.append(
            {
                "target": t.name,
                "source": t.source_id,
                "use": t.use,
                "kind": t.kind,
                "figure": t.value,
                "se": t.se,
                "simulated": sim.moment(t.name),
                "param_lo": float(np.nanquantile(vals, 0.05)) if members else np.nan,
                "param_hi": float(np.nanquantile(vals, 0.95)) if members else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("target")


def example_paths(run: CalibrationRun) -> dict[str, np.ndarray]:
    """Full paths of the examples at the fit (for the figures)."""
    cal, fit = run.calibrator, run.fit
    beh = cal.behaviour(fit.u)
    S = max(cal.settings.replicates, 4)
    n = cal.settings.example_households
    put = lambda sc: dataclasses.replace(sc, behaviour=beh)
    seed = np.random.SeedSequence([cal.settings.seed, 99])
    x = _run([put(_on_case_calendar(_example("xianghe_2025", n)))] * S, seed)
    fz = _run([put(_example("frozen_fee", n))] * S, seed)
    fu = _run([put(_example("fund_topup", n))] * S, seed)
    camp = pd.DataFrame(fu.recorder.campaigns)
    fund = {}
    if not camp.empty:
        sel = camp[camp["bill"] == "fund"].groupby("day")["share_paid"].agg(["mean", "min", "max"])
        fund = {int(d): sel.loc[d].to_numpy() for d in sel.index}
    xv = _main_votes(x)
    return {
        "xianghe": x.recorder.series["collection_rate"],
        "xianghe_approval": np.array([xv[r]["approval_heads"] for r in xv]),
        "frozen": fz.recorder.series["collection_rate"],
        "frozen_active": fz.recorder.series["firm_active"],
        "fund": fund,  # type: ignore[dict-item]
    }


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fig_cases(ct: pd.DataFrame) -> bytes:
    """Observed intervals (grey) against simulated medians with seed and parameter bands."""
    plt = _plt()
    outs = [o for o in OUTCOME_COLS if (ct["outcome"] == o).any()]
    fig, axes = plt.subplots(1, len(outs), figsize=(5 * len(outs), 0.35 * len(ct) + 2))
    axes = np.atleast_1d(axes)
    for ax, o in zip(axes, outs, strict=True):
        g = ct[ct["outcome"] == o].reset_index(drop=True)
        y = np.arange(len(g))
        for i, r in g.iterrows():
            mid = (r["observed_lo"] + r["observed_hi"]) / 2  # points drawn at least 0.008 wide
            ax.plot(
                [min(r["observed_lo"], mid - 0.004), max(r["observed_hi"], mid + 0.004)],
                [i, i],
                color="0.6",
                lw=7,
                solid_capstyle="butt",
                label="reported" if i == 0 else None,
            )
            ax.plot(
                [r["param_lo"], r["param_hi"]],
                [i + 0.18] * 2,
                color="tab:blue",
                lw=1.5,
                label="parameter 90%" if i == 0 else None,
            )
            ax.plot(
                [r["seed_lo"], r["seed_hi"]],
                [i - 0.18] * 2,
                color="tab:orange",
                lw=1.5,
                label="seed range" if i == 0 else None,
            )
        ax.plot(g["simulated"], y, "o", color="tab:blue", label="simulated median")
        ax.set_yticks(y, [f"{a} ({u})" for a, u in zip(g["obs_id"], g["use"], strict=True)])
        ax.set_xlim(0.0, 1.02)
        ax.set_title(o)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle("Reported figures (grey intervals) and the fitted model")
    return _fig_bytes(fig)


def fig_coefficients(coef: pd.DataFrame) -> bytes:
    """Reported coefficients with 95% intervals against the simulated ones."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(coef) + 1.5))
    y = np.arange(len(coef))
    ax.errorbar(
        coef["reported"],
        y - 0.12,
        xerr=[coef["reported"] - coef["reported_lo"], coef["reported_hi"] - coef["reported"]],
        fmt="s",
        color="0.3",
        label="reported (95% CI)",
    )
    ax.errorbar(
        coef["simulated"],
        y + 0.12,
        xerr=[
            np.clip(coef["simulated"] - coef["simulated_lo"], 0, None),
            np.clip(coef["simulated_hi"] - coef["simulated"], 0, None),
        ],
        fmt="o",
        color="tab:blue",
        label="simulated (ensemble 90%)",
    )
    ax.set_yticks(
        y, [f"{r}: {c}" for r, c in zip(coef["regression"], coef["coefficient"], strict=True)]
    )
    ax.axvline(0, color="0.8", lw=1)
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    ax.set_xlabel("coefficient (log-odds)")
    ax.set_title("Auxiliary regressions: reported cases against simulated cases")
    return _fig_bytes(fig)


def fig_loo(frame: pd.DataFrame, summary: pd.DataFrame) -> bytes:
    """Leave-one-out interval errors per figure: model against the two baselines."""
    plt = _plt()
    outs = list(summary.index)
    fig, axes = plt.subplots(1, len(outs), figsize=(6 * len(outs), 0.3 * len(frame) + 2.5))
    axes = np.atleast_1d(axes)
    for ax, o in zip(axes, outs, strict=True):
        g = frame[frame["outcome"] == o].reset_index(drop=True)
        y = np.arange(len(g))
        for k, (col, lab, c) in enumerate(
            (
                ("err_model", "model", "tab:blue"),
                ("err_mean", "mean of others", "0.5"),
                ("err_step", "logit on step", "tab:orange"),
            )
        ):
            ax.barh(y + (k - 1) * 0.27, g[col], height=0.27, color=c, label=lab)
        ax.set_yticks(y, g["obs_id"])
        ax.invert_yaxis()
        s = summary.loc[o]
        ax.set_title(
            f"{o}: weighted MAE model {s['wmae_model']:.3f}, mean {s['wmae_mean']:.3f}, "
            f"step {s['wmae_step']:.3f}",
            fontsize=9,
        )
        ax.set_xlabel("distance from the reported interval")
    axes[0].legend(fontsize=8)
    return _fig_bytes(fig)


def fig_paths(paths: dict[str, np.ndarray], targets: pd.DataFrame) -> bytes:
    """Xianghe's collection ramp, the frozen-fee drift and the fund curve against the figures."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    x = paths["xianghe"]
    months = np.arange(x.shape[0])
    axes[0].fill_between(months, x.min(1), x.max(1), alpha=0.3)
    axes[0].plot(months, np.median(x, 1), label="simulated (year to date)")
    axes[0].plot([14, 23], [0.60, 0.97], "ks", label="reported: 60% end of March, 97% December")
    axes[0].axvline(12, color="0.7", ls=":")
    axes[0].set_title("Xianghe Jiayuan (seed 002)", fontsize=10)
    axes[0].set_xlabel("month since January 2024")
    axes[0].legend(fontsize=8)
    fz = paths["frozen"][11::12]
    years = 2015 + np.arange(fz.shape[0])
    axes[1].fill_between(years, fz.min(1), fz.max(1), alpha=0.3)
    axes[1].plot(years, np.median(fz, 1), label="simulated year-end collection")
    start = float(np.median(fz[0]))
    axes[1].plot(
        [2015, 2020], [start, start - 0.075], "k--", label="national drift: -7.5 points in 5 years"
    )
    axes[1].axhline(0.8, color="tab:red", ls=":", label="80%: service not sustainable")
    axes[1].set_title("Frozen fee, wages +3.1%/year", fontsize=10)
    axes[1].legend(fontsize=8)
    fund = paths["fund"]
    if fund:
        days = sorted(fund)
        vals = np.array([fund[d] for d in days])
        axes[2].errorbar(
            days,
            vals[:, 0],
            yerr=[vals[:, 0] - vals[:, 1], vals[:, 2] - vals[:, 0]],
            fmt="o-",
            label="simulated share of fund bill paid",
        )
    axes[2].plot([12], [0.70], "k^", label="reported: more than 70% by day 12")
    axes[2].plot([30], [0.90], "ks", label="reported: 90% by day 30")
    axes[2].set_ylim(0, 1.02)
    axes[2].set_xlabel("day since the bills went out")
    axes[2].set_title("Fund top-up, five-step campaign (seed 004)", fontsize=10)
    axes[2].legend(fontsize=8)
    return _fig_bytes(fig)


def fig_parameters(run: CalibrationRun) -> bytes:
    """Prior (judgement +/- sd) against the posterior ensemble, on each parameter's bounds."""
    plt = _plt()
    cal, fit = run.calibrator, run.fit
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(cal.parameters) + 1.5))
    for i, p in enumerate(cal.parameters):
        span = p.hi - p.lo
        sc = lambda v, p=p, span=span: (v - p.lo) / span
        ax.plot(
            [sc(max(p.lo, p.judgement - p.sd)), sc(min(p.hi, p.judgement + p.sd))],
            [i - 0.15] * 2,
            color="0.6",
            lw=4,
            label="prior: judgement +/- sd" if i == 0 else None,
        )
        if fit.ensemble is not None:
            e = fit.ensemble[p.name]
            ax.plot(
                [sc(e.quantile(0.05)), sc(e.quantile(0.95))],
                [i + 0.15] * 2,
                color="tab:blue",
                lw=2,
                label="posterior ensemble 90%" if i == 0 else None,
            )
        ax.plot(
            sc(fit.theta[p.name]), i + 0.15, "o", color="tab:blue", label="fit" if i == 0 else None
        )
    ax.set_yticks(range(len(cal.parameters)), [p.name for p in cal.parameters])
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("position within the search bounds (0 = lower, 1 = upper)")
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")
    return _fig_bytes(fig)


# ----------------------------------------------------------------------------------------------
# the report
# ----------------------------------------------------------------------------------------------
def write_report(
    run: CalibrationRun, out_dir: str | Path, total_seconds: float = float("nan")
) -> Path:
    """Write ``REPORT.md`` and ``figures/*.png`` under ``out_dir``; returns the report path."""
    out = Path(out_dir)
    figdir = out / "figures"
    loo = run.loo
    ct = case_table(run)
    coef = coefficient_table(run)
    tt = target_table(run)
    paths = example_paths(run)
    summ = loo.summary_frame()
    atomic_write_bytes(figdir / "cases.png", fig_cases(ct))
    atomic_write_bytes(figdir / "coefficients.png", fig_coefficients(coef))
    atomic_write_bytes(figdir / "loo.png", fig_loo(loo.frame, summ))
    atomic_write_bytes(figdir / "paths.png", fig_paths(paths, tt))
    atomic_write_bytes(figdir / "parameters.png", fig_parameters(run))
    text = _report_text(run, ct, coef, tt, paths, summ, total_seconds)
    return atomic_write_text(out / "REPORT.md", text)


def _report_text(
    run: CalibrationRun,
    ct: pd.DataFrame,
    coef: pd.DataFrame,
    tt: pd.DataFrame,
    paths: dict,
    summ: pd.DataFrame,
    total_seconds: float,
) -> str:
    cal, fit, loo, rec = run.calibrator, run.fit, run.loo, run.recovery
    f = run.cases.frame
    st = run.settings
    L: list[str] = []
    add = L.append
    add("# Calibration report")
    add("")
    kind = "a quick run: small budget, not for use" if run.quick else "a full run"
    add(
        f"Written by `feesim calibrate` ({kind}) on {pd.Timestamp.now(tz='UTC'):%Y-%m-%d}. "
        f"Fitted file: `{run.params_file.name}` (calibration version {run.params_file.stem[7:]}). "
        "Data: `calibration/cases.csv` and `calibration/targets.toml`, documented in "
        "`calibration/README.md`."
    )
    add("")
    # -- summary ---------------------------------------------------------------------------------
    add("## Summary")
    add("")
    beats = loo.beats_baselines
    for o in summ.index:
        s = summ.loc[o]
        add(
            f"- **{o}**, leave one case out ({int(s['n'])} figures): reliability-weighted mean "
            f"absolute error {s['wmae_model']:.3f} for the model against {s['wmae_mean']:.3f} for "
            f"the mean of the other cases and {s['wmae_step']:.3f} for a one-variable logit on the "
            f"step: the model's error is {_relative(s['gain_vs_mean'])} the first and "
            f"{_relative(s['gain_vs_step'])} the second. Unweighted: {s['mae_model']:.3f} "
            f"against {s['mae_mean']:.3f} and {s['mae_step']:.3f}."
        )
    add(
        f"- The model {'beats' if beats else 'does not beat'} both baselines on every outcome "
        "(weighted errors)."
    )
    ident = fit.identification(cal.parameters)
    for label in ("identified", "weakly identified", "not identified"):
        names = [n for n in ident.index if ident[n] == label]
        add(f"- {label.capitalize()} by the data: {', '.join(f'`{n}`' for n in names) or 'none'}.")
    if rec is not None:
        n_ok = int(rec.frame["recovered"].sum())
        add(
            f"- Parameter recovery: {n_ok} of {len(rec.frame)} parameters recovered within their "
            "tolerance (table below)."
        )
    add(
        f"- Objective {fit.cost:.2f} (half the sum of squared whitened residuals, prior included); "
        f"{len(cal.cache.store)} simulations; {total_seconds / 60:.1f} minutes in all."
    )
    add("")
    # -- data ------------------------------------------------------------------------------------
    add("## Data")
    add("")
    counts = []
    for o in ("approval", "turnout", "collection"):
        vc = f[f"use_{o}"].replace("", "(no figure)").value_counts()
        counts.append(pd.Series(vc, name=o))
    add(
        f"`cases.csv` has {len(f)} rows, {run.cases.n_sourced_outcomes} of them with a sourced "
        "outcome. Which figures feed what:"
    )
    add("")
    add(_md_table(pd.concat(counts, axis=1).fillna(0).astype(int).rename_axis("use"), "{:.0f}"))
    add("")
    add(
        "`fit`: a row of an auxiliary regression; `target`: the community is a time-path "
        "target simulated with its curated example; `no`: excluded, with the reason in the "
        "row's `use_note` (fee cuts, parking fees, maintenance-fund votes, steps of unknown size, "
        "disputed tallies with no usable interval, collection levels observed without any "
        "change, which the model takes as input). Censored figures are intervals: '>0.95' is "
        "[0.95, 1], a rounded 85% is [0.845, 0.855], a disputed tally is the interval between "
        "the competing counts, and a share of all owners bounds the share of participants from "
        "below."
    )
    add("")
    # -- regressions -----------------------------------------------------------------------------
    add("## Auxiliary regressions on the reported cases")
    add("")
    add(
        "Censored fractional logit (interval regression on the log-odds, weak normal prior; "
        "`feesim.studies.calibration.regressions`), reliability-weighted. Standard errors from the "
        "inverse Hessian."
    )
    add("")
    for name, o in cal.moments.observed.items():
        add(f"**{name}** ({o.result.nobs} rows: {', '.join(o.frame.index)}): {o.spec.doc}.")
        add("")
        add(_md_table(o.result.coef_frame().rename_axis("coefficient")))
        add("")
    frozen = cal.moments.cases.rows("frozen")
    if "frozen" not in cal.moments.observed:
        add(
            f"**frozen** (collection under a frozen fee on years frozen): not estimable, "
            f"{len(frozen)} row(s) have both a collection figure and the years since the last "
            f"change ({', '.join(frozen.index)}). The drift of collection under a frozen fee "
            "is identified by the national trend instead (target `frozen_drop_5y`)."
        )
        add("")
    add("Reported against simulated coefficients (the simulated ones refitted on the model's ")
    add("cases at the fit, with the 90% range over the parameter ensemble):")
    add("")
    add(_md_table(coef.set_index("coefficient")))
    add("")
    add("![coefficients](figures/coefficients.png)")
    add("")
    # -- fit -------------------------------------------------------------------------------------
    add("## Fitted parameters")
    add("")
    add(
        "Indirect inference: the parameters below are chosen so that the auxiliary regressions "
        "refitted on simulated cases reproduce the reported coefficients (whitened by their "
        "covariance) and the time-path targets hold (each divided by its tolerance), with a "
        "weak normal prior around each judgement value (sd a quarter of the search range; "
        "vaguer where the judgement value was itself read off these data). `mean` is the fit, "
        "`mean_se` the Laplace standard error, `mean_ci_lower`/`mean_ci_upper` the 5-95% range "
        f"of the {0 if fit.ensemble is None else len(fit.ensemble)}-member ensemble (bootstrap "
        "over communities with randomised priors and targets). The other behavioural "
        "coefficients keep their documented judgement values in `feesim.config.behaviour`."
    )
    add("")
    add(_md_table(fit.summary_frame(cal.parameters)))
    add("")
    add("![parameters](figures/parameters.png)")
    add("")
    add("Residuals at the fit (whitened: about -2 to 2 is within the reported uncertainty):")
    add("")
    add(_md_table(fit.residuals.to_frame("residual").rename_axis("moment")))
    add("")
    # -- targets ---------------------------------------------------------------------------------
    add("## Time-path targets and checks")
    add("")
    add(_md_table(tt))
    add("")
    x = paths["xianghe"]
    add(
        f"Xianghe (examples/xianghe_2025.toml at the fit, {x.shape[1]} runs): approval "
        f"{np.median(paths['xianghe_approval']):.2f}, year-to-date collection "
        f"{np.median(x[14]):.2f} at the end of March 2025 and {np.median(x[23]):.2f} in "
        "December (reported 0.85, 0.60, 0.97; https://www.163.com/dy/article/KIA1LC6C055040N3.html)."
    )
    add("")
    add("![paths](figures/paths.png)")
    add("")
    # -- cases -----------------------------------------------------------------------------------
    add("## Reported against simulated, case by case")
    add("")
    add(
        "Median of the replicates at the fit; `seed_lo/hi`: range over replicates (seed "
        "noise); `param_lo/hi`: 5-95% of the replicate medians over the ensemble (parameter "
        "uncertainty)."
    )
    add("")
    add(_md_table(ct.set_index("obs_id")))
    add("")
    add("![cases](figures/cases.png)")
    add("")
    # -- loo -------------------------------------------------------------------------------------
    add("## Leave one case out")
    add("")
    add(
        "For each community with an approval or collection figure, the fit is re-solved "
        "without it (its rows and targets dropped; damped Gauss-Newton steps from the full fit "
        "with the Jacobian recomputed for the reduced data) and the model predicts the "
        "community. Baselines fitted on the same other cases with the censored likelihood: the "
        "mean of the other cases (intercept only) and a logit on the step. Error: distance from "
        "the reported interval (zero inside it)."
    )
    add("")
    add(_md_table(summ))
    add("")
    add(_md_table(loo.frame.set_index("obs_id").drop(columns=["case_id"])))
    add("")
    add("![loo](figures/loo.png)")
    add("")
    # -- recovery --------------------------------------------------------------------------------
    add("## Parameter recovery")
    add("")
    if rec is None:
        add("Not run in this (quick) calibration; `tests/test_calibration.py` runs a small one.")
    else:
        add(
            "Cases and targets simulated from the fitted parameters (another seed, one "
            "realisation per case printed to whole percentages), then calibrated again from the "
            "judgement values with the same budget (one start). Tolerance: twice the posterior "
            "spread, at least a twentieth of the search range."
        )
        add("")
        add(_md_table(rec.frame))
    add("")
    # -- identification --------------------------------------------------------------------------
    add("## What the data pin down")
    add("")
    spread = fit.spread()
    rows = pd.DataFrame(
        {
            "prior_sd": [p.sd for p in cal.parameters],
            "posterior_sd": [float(spread[p.name]) for p in cal.parameters],
            "ratio": [float(spread[p.name]) / p.sd for p in cal.parameters],
            "identification": [ident[p.name] for p in cal.parameters],
            "evidence": [p.doc for p in cal.parameters],
        },
        index=pd.Index([p.name for p in cal.parameters], name="parameter"),
    )
    add(_md_table(rows))
    add("")
    add(
        "Posterior spread: the larger of the ensemble's sd and the Laplace standard error (the "
        "ensemble's re-solves take capped steps and can understate the spread along directions "
        "the data leave flat). Ratio to the prior sd below 0.5: identified; below 0.8: weakly; "
        "else the judgement value still decides. The ensemble shipped with the fit is the "
        "bootstrap one: for the parameters marked not identified its spread is narrower than "
        "the Laplace one, which is the better guide to their uncertainty."
    )
    add("")
    # -- shortfalls ------------------------------------------------------------------------------
    add("## Limitations")
    add("")
    worse = [
        o
        for o in summ.index
        if summ.loc[o, "wmae_model"] >= min(summ.loc[o, "wmae_mean"], summ.loc[o, "wmae_step"])
    ]
    for o in worse:
        add(f"- Out of sample the model does not beat both baselines on {o}.")
    if "approval" in worse:
        add(
            "  The reported approvals are mostly bounds from passed votes ('more than half', "
            "'over 80%'), which a constant near 0.86 satisfies; the model spreads its predictions "
            "by step, process and quality first, and the few figures that could confirm that "
            "spread are disputed (A04, A06) or single (Xianghe). In sample its weighted approval "
            f"error is {summ.loc['approval', 'wmae_fitted']:.3f}."
        )
    col = loo.frame[loo.frame["outcome"] == "collection"]
    early_ids = [i for i in col["obs_id"] if f.loc[i, "months_after"] < 12]
    late = col[~col["obs_id"].isin(early_ids)]
    if early_ids and len(late):
        w = late["weight"].to_numpy()
        werr = {p: float((w * late[f"err_{p}"]).sum() / w.sum()) for p in ("model", "mean", "step")}
        add(
            "- The collection baselines have no variable for the time since the step, so they "
            "cannot follow a ramp; whatever advantage the model has on collection comes largely "
            f"from {', '.join(early_ids)} (read fewer than 12 months after the step). Without it "
            "the weighted "
            f"errors are {werr['model']:.3f} for the model, {werr['mean']:.3f} for the mean of "
            f"the other cases and {werr['step']:.3f} for the logit on the step."
        )
    if rec is not None:
        for name, r in rec.frame[~rec.frame["recovered"]].iterrows():
            add(
                f"- Parameter recovery misses `{name}`: from data simulated at {r['truth']:.2f} "
                f"it is re-estimated at {r['estimate']:.2f}, beyond the tolerance of "
                f"{r['tolerance']:.2f}; its posterior spread understates how far one "
                "realisation of the cases and targets can move it."
            )
    add(
        "- Approval depends on the relative step in the model; communities that passed +100% "
        "steps from fees far below cost (A08, B17, B04) are what its step response fits worst. A "
        "step measured against a fair, cost-covering fee would be a change to "
        "`feesim.engine.rules.vote`."
    )
    add(
        "- The regression of collection under a frozen fee on years frozen is not estimable (one "
        "row); the collection regression after steps has four rows. The time paths carry most "
        "of the information on payment."
    )
    add(
        "- Costs of other cities and years are not in the sources: cases are put on a common "
        "footing (fee before the step = 60% of full service, or the stated fee/cost ratio)."
    )
    add("")
    # -- budget ----------------------------------------------------------------------------------
    add("## Budget and timings")
    add("")
    add(
        f"Seed {st.seed}; {st.replicates} replicates per parameter set; communities of at most "
        f"{st.max_households} households; screen {st.screen} points; {st.starts} local fits of "
        f"at most {st.max_nfev} evaluations; ensemble {st.bootstrap}; chord iterations "
        f"{st.chord_iterations}."
    )
    add("")
    tim = pd.Series(run.timings, name="seconds").rename_axis("phase").to_frame()
    add(_md_table(tim, "{:.0f}"))
    add("")
    add(
        "Reproduce: `feesim calibrate` (full, about ten minutes on two cores) or "
        "`feesim calibrate --quick --out DIR` (10-20 s)."
    )
    add("")
    return "\n".join(L)
