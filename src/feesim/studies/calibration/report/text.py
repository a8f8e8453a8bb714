"""``REPORT.md`` from its sections, and :func:`write_report` (the report and its figures).

The sections in order: summary, data, auxiliary regressions, fitted parameters, time-path
targets, the second pass's records, the cases, validation, recovery, identification,
limitations, budget. The summary, the limitations and the budget are written here; the other
sections come from the modules of their concepts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from feesim.io import atomic_write_bytes, atomic_write_text
from feesim.studies.calibration.report.cases import (
    _cases_section,
    _targets_section,
    case_table,
    example_paths,
    target_table,
)
from feesim.studies.calibration.report.common import (
    _NO_INTERVALS,
    BASELINE_NAMES,
    PASSED_FLOOR,
    _md_table,
    _pct,
    _verdict,
)
from feesim.studies.calibration.report.data import (
    PassedShare,
    _data_section,
    _exits_section,
    _records_section,
    exit_check,
    passed_share,
    record_table,
    second_pass_table,
    unsimulated_exits,
)
from feesim.studies.calibration.report.figures import (
    _baseline_columns,
    fig_cases,
    fig_coefficients,
    fig_loo,
    fig_parameters,
    fig_paths,
    fig_validation,
)
from feesim.studies.calibration.report.fit import (
    _fit_section,
    _identification_section,
    _posterior_figures,
    _regressions_section,
    _weak_posterior,
    coefficient_table,
)
from feesim.studies.calibration.report.validation import (
    _recovery_section,
    _skill_line,
    _validation,
    _validation_section,
    criteria_frame,
)
from feesim.studies.calibration.validate import VALIDATION_OUTCOMES, tally_check

if TYPE_CHECKING:  # pragma: no cover
    from feesim.studies.calibration.result import CalibrationRun


#: The predictors in running text.
_TEXT_NAMES = {
    "model": "the model",
    "mean": "the mean of the other cases",
    "step": "the logit on the step",
    "no_change": "'no change'",
}


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
    atomic_write_bytes(figdir / "validation.png", fig_validation(loo.frame))
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
    validation = _validation(run)
    rec_frame = None if run.recovery is None else run.recovery.frame
    crit = criteria_frame(validation, run.loo.frame, rec_frame)
    records = record_table(run)
    passed = passed_share(run)
    L: list[str] = []
    add = L.append
    add("# Calibration report")
    add("")
    kind = "a quick run: small budget, not for use" if run.quick else "a full run"
    add(
        f"Written by `feesim calibrate` ({kind}) on {pd.Timestamp.now(tz='UTC'):%Y-%m-%d}. "
        f"Fitted file: `{run.params_file.name}` (calibration version {run.params_file.stem[7:]}). "
        "Data: `calibration/cases.csv` and `calibration/targets.toml`, documented in "
        "`calibration/README.md`. The validation figures are also in `validation.json`."
    )
    add("")
    L += _summary_section(run, validation, crit, records, passed, total_seconds)
    L += _data_section(run)
    L += _regressions_section(run, coef)
    L += _fit_section(run)
    L += _targets_section(tt, paths)
    L += _records_section(run, records, passed)
    L += _exits_section(exit_check(run))
    L += _cases_section(ct)
    L += _validation_section(run, validation, crit, summ)
    L += _recovery_section(run, crit)
    L += _identification_section(run)
    L += _limitations_section(run, summ, crit, passed)
    L += _budget_section(run)
    return "\n".join(L)


def _summary_section(
    run: CalibrationRun,
    validation: dict,
    crit: pd.DataFrame,
    records: pd.DataFrame,
    passed: PassedShare,
    total_seconds: float,
) -> list[str]:
    cal, fit = run.calibrator, run.fit
    L = ["## Summary", ""]
    L.append("What the calibration issue asks for when it is done, and where this run stands:")
    L.append("")
    skill = crit[crit["criterion"] == "skill"]
    for outcome in VALIDATION_OUTCOMES:
        n = int(validation.get(outcome, {}).get("n", 0))
        L.append("- " + _skill_line(outcome, n, skill[skill["outcome"] == outcome], run.loo.frame))
    cov = crit[crit["criterion"] == "coverage"].iloc[0]
    if cov["met"] is None:
        L.append(f"- **Coverage**: {_NO_INTERVALS}")
    else:
        L.append(
            f"- **Coverage**: the 90% predictive intervals meet the reported interval for "
            f"{_pct(cov['value'])} of the {cov['outcome']} left out (at least 80% asked): "
            f"{_verdict(cov['met'])}"
            + (f", {100 * cov['shortfall']:.0f} points short." if cov["met"] is False else ".")
        )
    rec = crit[crit["criterion"] == "recovery"].iloc[0]
    pcov = crit[crit["criterion"] == "posterior coverage"].iloc[0]
    if run.recovery is None:
        L.append("- **Recovery** on synthetic data: not run in this (quick) calibration.")
    else:
        n_rec = len(run.recovery.frame)
        L.append(
            f"- **Recovery** on synthetic data: {round(rec['value'] * n_rec)} of {n_rec} "
            f"parameters re-estimated within their tolerance: {_verdict(rec['met'])}. The "
            f"posterior's 90% intervals cover the truth for {_pct(pcov['value'])} of them "
            f"(at least {_pct(pcov['required'])} expected if they cover 90%): "
            f"{_verdict(pcov['met'])}."
        )
    if np.isfinite(passed.share):
        band = (
            f" (posterior 90% range {_pct(passed.lo)}-{_pct(passed.hi)})"
            if np.isfinite(passed.lo)
            else ""
        )
        L.append(
            f"- **Passed fee steps**: {_pct(passed.share)} of the simulated runs of the "
            f"{len(passed.by_case)} fee steps reported passed pass in the model{band}; the "
            f"institutions issue asks for at least {_pct(PASSED_FLOOR)}: "
            f"{_verdict(passed.share >= PASSED_FLOOR)}."
        )
    tallies = records[records["kind"] == "tally"]
    if len(tallies):
        L.append(_tally_line(tallies, tally_check(run.loo.frame)))
    n, ess, acc, spread = _posterior_figures(run)
    L.append(
        f"- **Posterior**: {n} draws by sequential Monte Carlo; effective sample size of the "
        f"importance weights {ess:.1f} of {n}, acceptance of the Metropolis moves "
        f"{_pct(acc)}; the members' sd is a median {spread:.2f} of the Laplace standard error."
        + (
            " The importance weights collapsed: the members' spread understates the "
            "uncertainty (section 'The posterior')."
            if _weak_posterior(n, ess)
            else ""
        )
    )
    ident = fit.identification(cal.parameters)
    for label in ("identified", "weakly identified", "not identified"):
        names = [k for k in ident.index if ident[k] == label]
        L.append(
            f"- {label.capitalize()} by the data: {', '.join(f'`{k}`' for k in names) or 'none'}."
        )
    L.append(
        f"- Objective {fit.cost:.2f} (half the sum of squared whitened residuals, prior included); "
        f"{len(cal.cache.store)} simulations; {total_seconds / 60:.1f} minutes in all."
    )
    L.append("")
    return L


def _tally_line(tallies: pd.DataFrame, check: pd.DataFrame) -> str:
    """The summary's line on the firm-vote tallies: inside at the fit, and how close the rest are.

    ``tallies`` are the records table's tally rows (the simulated mean at the fit against the
    reported figure); ``check`` is :func:`~feesim.studies.calibration.validate.tally_check` of the
    leave-one-out frame (the model's error from the other communities, the predictive interval).
    """
    inside = tallies["distance"] <= 1e-9
    line = (
        f"- **Firm-vote tallies**: {int(inside.sum())} of {len(tallies)} reproduced within their "
        "reported interval at the simulated mean"
    )
    outside = tallies[~inside].sort_values("distance", ascending=False)
    errors = {(r["obs_id"], r["outcome"]): r["in_errors"] for _, r in check.iterrows()}
    parts = []
    for _, r in outside.iterrows():
        part = f"{r['obs_id']} ({r['measure']}) {r['distance']:.3f} outside"
        e = errors.get((r["obs_id"], r["measure"]), np.nan)
        if np.isfinite(e):
            part += f", {e:.1f} times the model's {r['measure']} error"
        parts.append(part)
    if parts:
        line += "; " + "; ".join(parts)
    covered = check["covered"].dropna() if len(check) else pd.Series(dtype=bool)
    if len(covered):
        line += (
            f". With each community left out, {int(covered.astype(bool).sum())} of "
            f"{len(covered)} lie inside the model's 90% predictive interval (chance, parameters "
            "and the model's error measured on the other communities; section 'Validation')"
        )
    return line + "."


def _limitations_section(
    run: CalibrationRun, summ: pd.DataFrame, crit: pd.DataFrame, passed: PassedShare
) -> list[str]:
    f = run.cases.frame
    loo = run.loo
    L = ["## Limitations", ""]
    skill = crit[crit["criterion"] == "skill"]
    for outcome in VALIDATION_OUTCOMES:
        lost = skill[(skill["outcome"] == outcome) & (skill["value"] <= 0)]
        if len(lost):
            L.append(
                "- Out of sample the model does no better than "
                + " or ".join(BASELINE_NAMES[b] for b in lost["baseline"])
                + f" on {outcome}."
            )
    app = loo.frame[loo.frame["outcome"] == "approval"]
    if len(app) and "approval" in summ.index:
        bounds = int(((app["hi"] >= 0.999) & (app["lo"] <= 0.5 + 1e-9)).sum())
        L.append(
            f"- Of the {len(app)} left-out approval figures {bounds} are bare majority bounds "
            f"([0.5, 1]) from passed votes, which a constant (the mean baseline predicts about "
            f"{app['mean'].median():.2f}) satisfies; the model spreads its predictions by step, "
            "process and quality first, and is penalised wherever that spread leaves a bound. "
            f"In sample its weighted approval error is {summ.loc['approval', 'wmae_fitted']:.3f}."
        )
    col = loo.frame[(loo.frame["outcome"] == "collection")]
    if "kind" in col:
        col = col[col["kind"] == "case"]
    early_ids = [i for i in col["obs_id"] if f.loc[i, "months_after"] < 12]
    late = col[~col["obs_id"].isin(early_ids)]
    if early_ids and len(late):
        w = late["weight"].to_numpy()
        preds = ["model", *_baseline_columns("collection")]
        werr = {p: float((w * late[f"err_{p}"]).sum() / w.sum()) for p in preds}
        L.append(
            "- The collection baselines have no variable for the time since the step, so they "
            f"cannot follow a ramp, where the model can: {', '.join(early_ids)} (read fewer "
            "than 12 months after the step) favours the model. Without "
            f"{'them' if len(early_ids) > 1 else 'it'} the weighted errors of the other case "
            "rows are " + ", ".join(f"{werr[p]:.3f} for {_TEXT_NAMES[p]}" for p in preds) + "."
        )
    if run.recovery is not None:
        for name, r in run.recovery.frame[~run.recovery.frame["recovered"]].iterrows():
            L.append(
                f"- Parameter recovery misses `{name}`: from data simulated at {r['truth']:.2f} "
                f"it is re-estimated at {r['estimate']:.2f}, beyond the tolerance of "
                f"{r['tolerance']:.2f}; its posterior spread understates how far one "
                "realisation of the figures can move it."
            )
    if np.isfinite(passed.share) and passed.share < PASSED_FLOOR:
        low = passed.by_case[passed.by_case < 0.5]
        L.append(
            f"- Reported-passed fee steps fail in the model in {_pct(1 - passed.share)} of their "
            f"runs; those that fail in most runs: {', '.join(low.index) or 'none'}."
        )
    if unsimulated_exits(second_pass_table(run)):
        L.append(
            "- Firm exits (with their fee and collection circumstances) are compared with the "
            "model in a check, not fitted: the objective does not hold the model to when "
            "firms leave (section 'Firm exits: a check, not fitted')."
        )
    L.append(
        "- Approval depends on the relative step in the model; communities that passed +100% "
        "steps from fees far below cost (A08, B17, B04) are what its step response fits worst. A "
        "step measured against a fair, cost-covering fee would be a change to "
        "`feesim.engine.rules.vote`."
    )
    L.append(
        "- The regression of collection under a frozen fee on years frozen is not estimable; "
        f"the collection regression after steps has {len(run.cases.rows('collection'))} rows. "
        "The time paths and the takeovers carry most of the information on payment."
    )
    L.append(
        "- Costs of other cities and years are not in the sources: cases are put on a common "
        "footing (fee before the step = 60% of full service, or the stated fee/cost ratio)."
    )
    L.append("")
    return L


def _budget_section(run: CalibrationRun) -> list[str]:
    st = run.settings
    L = ["## Budget and timings", ""]
    L.append(
        f"Seed {st.seed}; {st.replicates} replicates per parameter set; communities of at most "
        f"{st.max_households} households; screen {st.screen} points; {st.starts} local fits of "
        f"at most {st.max_nfev} evaluations; posterior particles {st.bootstrap}; chord "
        f"iterations {st.chord_iterations}."
    )
    L.append("")
    tim = pd.Series(run.timings, name="seconds").rename_axis("phase").to_frame()
    L.append(_md_table(tim, "{:.0f}"))
    L.append("")
    L.append(
        "Reproduce: `feesim calibrate` (full; it writes `calibration/fitted/`, this report and "
        "`calibration/validation.json`) or `feesim calibrate --quick --out DIR` (one to two "
        "minutes)."
    )
    L.append("")
    return L
