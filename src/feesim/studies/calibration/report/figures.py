"""The report's figures, as PNG bytes (matplotlib, imported when a figure is drawn).

Observed against simulated figures per case; reported against simulated coefficients;
leave-one-out predictions with their 90% predictive intervals and the errors of the model and
the baselines; the time paths behind the targets; prior against posterior of every parameter.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from feesim.studies.calibration.report.common import OUTCOME_COLS
from feesim.studies.calibration.validate import VALIDATION_OUTCOMES

if TYPE_CHECKING:  # pragma: no cover
    from feesim.studies.calibration.result import CalibrationRun


def _fig_bytes(fig: object) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return buf.getvalue()


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


#: How the leave-one-out figures name the predictors (pass/fail's ``mean`` is the base rate).
_PREDICTOR_LABELS = {
    "model": ("model, case left out", "tab:blue"),
    "mean": ("mean of the other cases", "0.5"),
    "step": ("logit on the step", "tab:orange"),
    "no_change": ("no change", "tab:green"),
}


def _baseline_columns(outcome: str) -> list[str]:
    """Prediction columns of an outcome's baselines (those of ``validation.json``)."""
    cols = VALIDATION_OUTCOMES.get(outcome, {"baseline_mean": "mean", "baseline_logit": "step"})
    return list(dict.fromkeys(cols.values()))


def _outcomes(frame: pd.DataFrame) -> list[str]:
    """Outcomes of a leave-one-out frame, in the order of ``validation.json``."""
    present = set(frame["outcome"])
    return [o for o in VALIDATION_OUTCOMES if o in present] + sorted(
        present - set(VALIDATION_OUTCOMES)
    )


def fig_loo(frame: pd.DataFrame, summary: pd.DataFrame) -> bytes:
    """Leave-one-out errors per figure: the model against each outcome's baselines.

    Errors are distances from the reported interval; for pass/fail, Brier scores.
    """
    plt = _plt()
    outs = _outcomes(frame)
    height = 0.3 * max((frame["outcome"] == o).sum() for o in outs) + 2.5
    fig, axes = plt.subplots(1, len(outs), figsize=(5.5 * len(outs), height))
    axes = np.atleast_1d(axes)
    for ax, o in zip(axes, outs, strict=True):
        g = frame[frame["outcome"] == o].reset_index(drop=True)
        y = np.arange(len(g))
        cols = ["model", *_baseline_columns(o)]
        h = 0.8 / len(cols)
        for k, col in enumerate(cols):
            label, colour = _PREDICTOR_LABELS[col]
            if o == "pass_fail" and col == "mean":
                label = "base rate of the other votes"
            ax.barh(
                y + (k - (len(cols) - 1) / 2) * h,
                g[f"err_{col}"],
                height=h,
                color=colour,
                label=label,
            )
        ax.set_yticks(
            y,
            [f"{a} ({b})" for a, b in zip(g["obs_id"], g["kind"], strict=True)]
            if "kind" in g
            else g["obs_id"],
        )
        ax.invert_yaxis()
        s = summary.loc[o]
        short = {"model": "model", "mean": "rate" if o == "pass_fail" else "mean"}
        short |= {"step": "logit on step", "no_change": "no change"}
        parts = [f"{short[c]} {s.get(f'wmae_{c}', np.nan):.3f}" for c in cols]
        ax.set_title(f"{o}\nweighted: " + ", ".join(parts), fontsize=9)
        ax.set_xlabel("Brier score" if o == "pass_fail" else "distance from the reported interval")
        ax.legend(fontsize=7, loc="lower right")
    return _fig_bytes(fig)


def fig_validation(frame: pd.DataFrame) -> bytes:
    """Left-out predictions with their 90% predictive intervals against the reported figures.

    One panel per outcome. Horizontal grey bars: the reported interval (pass/fail: 1 passed, 0
    failed); points: the model re-solved without the case; vertical bars: its 90% predictive
    interval (blue where it meets the reported interval, red where it misses): thick, the
    parameters and chance; thin, with the model's own error added.
    """
    plt = _plt()
    outs = _outcomes(frame)
    fig, axes = plt.subplots(1, len(outs), figsize=(4.8 * len(outs), 4.9), squeeze=False)
    has_pi = "pi_lower" in frame
    for ax, o in zip(axes[0], outs, strict=True):
        g = frame[frame["outcome"] == o].reset_index(drop=True)
        mid = ((g["lo"] + g["hi"]) / 2).to_numpy(float)
        if o == "pass_fail":  # spread the 0/1 outcomes so that the votes can be told apart
            mid = mid + np.linspace(-0.08, 0.08, len(g)) if len(g) > 1 else mid
        ax.plot([0, 1], [0, 1], color="0.8", lw=1, zorder=0)
        for i, r in g.iterrows():
            x = mid[i]  # type: ignore[index]
            if o != "pass_fail":  # the reported interval at the prediction's height: it
                # crosses the diagonal exactly when the prediction lies inside it
                ax.plot(
                    [r["lo"], r["hi"]],
                    [r["model"]] * 2,
                    color="0.6",
                    lw=5,
                    solid_capstyle="butt",
                    alpha=0.6,
                    zorder=1,
                )
            covered = bool(r["covered"]) if has_pi and pd.notna(r["pi_lower"]) else None
            colour = "0.3" if covered is None else "tab:blue" if covered else "tab:red"
            if covered is not None:
                ax.plot([x, x], [r["pi_lower"], r["pi_upper"]], color=colour, lw=1.0, zorder=2)
                if pd.notna(r.get("pi_lower_sim", np.nan)):
                    ax.plot(
                        [x, x],
                        [r["pi_lower_sim"], r["pi_upper_sim"]],
                        color=colour,
                        lw=3.0,
                        zorder=2,
                    )
            ax.plot(x, r["model"], "o", color=colour, ms=5, zorder=3)
            ax.annotate(
                str(r["obs_id"]),
                (x, r["model"]),
                fontsize=6,
                xytext=(3, 2),
                textcoords="offset points",
            )
        ax.set_xlim(-0.12 if o == "pass_fail" else 0.0, 1.12 if o == "pass_fail" else 1.02)
        ax.set_ylim(-0.02, 1.05)
        cov = g["covered"].astype(bool)[g["pi_lower"].notna()].mean() if has_pi else np.nan
        ax.set_title(f"{o}: {len(g)} figures, 90% intervals meet {cov:.0%}", fontsize=9)
        ax.set_xlabel("reported (1 passed, 0 failed)" if o == "pass_fail" else "reported")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("predicted with the case left out (90% interval)")
    handles = [
        plt.Line2D([], [], color="0.6", lw=5, alpha=0.6, label="reported interval"),
        plt.Line2D([], [], color="tab:blue", marker="o", label="interval meets the report"),
        plt.Line2D([], [], color="tab:red", marker="o", label="interval misses it"),
        plt.Line2D([], [], color="0.3", lw=3.0, label="parameters and chance"),
        plt.Line2D([], [], color="0.3", lw=1.0, label="with the model's own error"),
    ]
    axes[0][0].legend(handles=handles, fontsize=7, loc="upper left")
    fig.suptitle("Leave one case out: predictions and 90% predictive intervals")
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
