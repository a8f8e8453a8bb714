"""The report's estimates: the auxiliary regressions, the fitted parameters, the posterior.

Reported against simulated coefficients, the posterior's diagnostics, and the sections
"Auxiliary regressions on the reported cases", "Fitted parameters" (with "The posterior") and
"What the data pin down".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from feesim.studies.calibration.report.common import _md_table, _member_sims, _pct

if TYPE_CHECKING:  # pragma: no cover
    from feesim.studies.calibration.result import CalibrationRun


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


def _posterior_figures(run: CalibrationRun) -> tuple[int, float, float, float]:
    """Draws, effective sample size, acceptance of the moves, and the members' spread.

    The spread is the median over parameters of the members' sd over the Laplace standard
    error: near 1 when the draws spread as the local curvature says, near 0 when they collapsed
    onto a few points.
    """
    ens = run.fit.ensemble
    n = 0 if ens is None else len(ens)
    ess = float(run.fit.extra.get("posterior_ess", np.nan))
    acc = float(run.fit.extra.get("posterior_acceptance", np.nan))
    spread = np.nan
    if ens is not None and n > 1:
        se = run.fit.se.reindex(ens.columns)
        spread = float(np.nanmedian((ens.std() / se.where(se > 0)).to_numpy(float)))
    return n, ess, acc, spread


def _weak_posterior(n: int, ess: float) -> bool:
    """Whether the importance weights collapsed (ESS below a tenth of the draws, or below 2)."""
    return bool(n) and np.isfinite(ess) and ess < max(0.1 * n, 2.0)


def _regressions_section(run: CalibrationRun, coef: pd.DataFrame) -> list[str]:
    cal = run.calibrator
    L = ["## Auxiliary regressions on the reported cases", ""]
    L.append(
        "Censored fractional logit (interval regression on the log-odds, weak normal prior; "
        "`feesim.studies.calibration.regressions`), reliability-weighted. Standard errors from the "
        "inverse Hessian."
    )
    L.append("")
    for name, o in cal.moments.observed.items():
        L.append(f"**{name}** ({o.result.nobs} rows: {', '.join(o.frame.index)}): {o.spec.doc}.")
        L.append("")
        L.append(_md_table(o.result.coef_frame().rename_axis("coefficient")))
        L.append("")
    frozen = cal.moments.cases.rows("frozen")
    if "frozen" not in cal.moments.observed:
        L.append(
            f"**frozen** (collection under a frozen fee on years frozen): not estimable, "
            f"{len(frozen)} row(s) have both a collection figure and the years since the last "
            f"change ({', '.join(frozen.index)}). The drift of collection under a frozen fee "
            "is identified by the national trend instead (target `frozen_drop_5y`)."
        )
        L.append("")
    L.append(
        "Reported against simulated coefficients (the simulated ones refitted on the model's "
        "cases at the fit, with the 90% range over the posterior members):"
    )
    L.append("")
    L.append(_md_table(coef.set_index("coefficient")))
    L.append("")
    L.append("![coefficients](figures/coefficients.png)")
    L.append("")
    return L


def _fit_section(run: CalibrationRun) -> list[str]:
    cal, fit = run.calibrator, run.fit
    n, ess, acc, spread = _posterior_figures(run)
    L = ["## Fitted parameters", ""]
    L.append(
        "Indirect inference: the parameters below are chosen so that the auxiliary regressions "
        "refitted on simulated cases reproduce the reported coefficients (whitened by their "
        "covariance), the time-path targets hold (each divided by its tolerance) and the "
        "second pass's records are reproduced (tallies and takeovers within their reported "
        "intervals, events by the simulated pass rate, the passed fee steps' pass share; "
        "records section), with a weak normal prior around each judgement value (sd a quarter "
        "of the search range; vaguer where the judgement value was itself read off these data, "
        "tighter where a lever must not carry what the data do not show; `approve_step`'s "
        "centre is read off N11a's choice among priced tiers, calibration/README.md 8.10). "
        "`mean` is the fit, "
        "`mean_se` the Laplace standard error, `ensemble_sd` and `mean_ci_lower`/"
        f"`mean_ci_upper` the sd and 5-95% range of the {n} posterior draws (below). The other "
        "behavioural coefficients keep their documented judgement values in "
        "`feesim.config.behaviour`."
    )
    L.append("")
    L.append(_md_table(fit.summary_frame(cal.parameters)))
    L.append("")
    L.append("![parameters](figures/parameters.png)")
    L.append("")
    L.append("### The posterior")
    L.append("")
    L.append(
        "The objective, read as minus the log of a pseudo-posterior (the indirect-inference "
        "likelihood of the moments times the prior), is sampled by one round of sequential "
        "Monte Carlo (`feesim.studies.calibration.posterior`): particles are proposed from a "
        "Student-t around the fit with its Laplace covariance (inflated, kept in the search "
        "box), weighted by the pseudo-posterior over the proposal density, resampled "
        "systematically to equal weights and then moved by random-walk Metropolis steps that "
        "leave the posterior unchanged. Every evaluation simulates all cases on the fit's "
        "common random numbers. The draws are the parameter ensemble shipped in the fitted "
        "file, which forecasts and portfolios use; it replaces the bootstrap over communities "
        "of the first calibration."
    )
    L.append("")
    if np.isfinite(ess):
        frac = ess / n if n else np.nan
        L.append(
            f"This run: {n} particles; effective sample size of the importance weights "
            f"{ess:.1f} ({_pct(frac)} of the particles); acceptance of the moves {_pct(acc)}; "
            f"the members' sd is a median {spread:.2f} of the Laplace standard error (1 when the "
            "draws spread as the curvature at the fit says)."
        )
        if _weak_posterior(n, ess):
            L.append(
                " An effective sample size this small means that a handful of proposals carried "
                "nearly all the weight and the moves did most of the work: the members' spread "
                "understates the posterior's, so read the uncertainty of each parameter from "
                "the larger of `ensemble_sd` and `mean_se` (as the identification below does), "
                "and the predictive intervals of the validation as too narrow."
            )
    else:
        L.append(
            "The effective sample size and acceptance of this run were not recorded (the "
            "posterior was read from a checkpoint)."
        )
    L.append("")
    L.append("Residuals at the fit (whitened: about -2 to 2 is within the reported uncertainty):")
    L.append("")
    L.append(_md_table(fit.residuals.to_frame("residual").rename_axis("moment")))
    L.append("")
    return L


def _identification_section(run: CalibrationRun) -> list[str]:
    cal, fit = run.calibrator, run.fit
    ident = fit.identification(cal.parameters)
    spread = fit.spread()
    L = ["## What the data pin down", ""]
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
    L.append(_md_table(rows))
    L.append("")
    L.append(
        "Posterior spread: the larger of the posterior draws' sd and the Laplace standard "
        "error (a posterior sample with a small effective sample size understates the spread "
        "along directions the data leave flat). Ratio to the prior sd below 0.5: identified; "
        "below 0.8: weakly; else the judgement value still decides. Where the Laplace error is "
        "the larger, it is the better guide to a parameter's uncertainty than the shipped "
        "ensemble."
    )
    L.append("")
    return L
