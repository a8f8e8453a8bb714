"""The report's validation: the done-when criteria, leave one case out, recovery.

Each done-when criterion of the calibration issue with its figure and verdict
(:func:`criteria_frame`), the pooled coverage of the predictive intervals, the left-out figures
that decide a criterion or miss their interval, and the sections "Validation: leave one case
out" and "Parameter recovery".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from feesim.studies.calibration.report.common import (
    _NO_INTERVALS,
    BASELINE_NAMES,
    REQUIRED_COVERAGE,
    REQUIRED_GAIN,
    _fmt_interval,
    _md_table,
    _num,
    _pct,
    _relative,
    _verdict,
)
from feesim.studies.calibration.validate import VALIDATION_OUTCOMES, validation_figures

if TYPE_CHECKING:  # pragma: no cover
    from feesim.studies.calibration.result import CalibrationRun


def _coverage_floor(n: int, level: float = 0.9) -> int:
    """Fewest of ``n`` intervals that cover in 95% of realisations when each covers at ``level``.

    A rough guide only: the parameters' intervals come from one posterior and are not
    independent.
    """
    return int(stats.binom.ppf(0.05, n, level)) if n else 0


def pooled_coverage(frame: pd.DataFrame) -> tuple[float, int]:
    """Share of left-out figures (with a predictive interval) whose interval meets the report."""
    if "pi_lower" not in frame:
        return np.nan, 0
    has = frame[frame["pi_lower"].notna()]
    return (float(has["covered"].astype(bool).mean()) if len(has) else np.nan), len(has)


def criteria_frame(
    validation: dict, frame: pd.DataFrame, recovery: pd.DataFrame | None
) -> pd.DataFrame:
    """The done-when criteria of the calibration issue, each with its figure and verdict.

    Parameters
    ----------
    validation : dict
        :func:`~feesim.studies.calibration.validate.validation_figures` of the run.
    frame : pandas.DataFrame
        The leave-one-out frame (:attr:`LooResult.frame`), for the pooled coverage.
    recovery : pandas.DataFrame or None
        :attr:`RecoveryResult.frame` (``None``: recovery not run).

    Returns
    -------
    pandas.DataFrame
        One row per criterion: ``criterion`` (``skill``, ``coverage``, ``recovery``,
        ``posterior coverage``), ``outcome``, ``baseline``, ``value``, ``required``, ``met``
        (``True``, ``False`` or ``None`` when not assessed) and ``shortfall`` (``required -
        value`` when missed). For ``skill`` also ``model`` and ``baseline_error``; ``value`` is
        the gain, the relative reduction of the model's error against the baseline's.

    Examples
    --------
    >>> v = {"approval": {"n": 3, "model": 0.08, "baseline_mean": 0.1, "baseline_logit": 0.2},
    ...      "pass_fail": {"n": 0}}
    >>> c = criteria_frame(v, pd.DataFrame(), None)
    >>> c[["outcome", "baseline", "value", "met"]].round(2).values.tolist()[:2]
    [['approval', 'baseline_mean', 0.2, True], ['approval', 'baseline_logit', 0.6, True]]
    """
    rows: list[dict[str, object]] = []
    for outcome, baselines in VALIDATION_OUTCOMES.items():
        entry = validation.get(outcome, {"n": 0})
        for key in baselines:
            model, base = entry.get("model"), entry.get(key)
            gain = np.nan
            if entry.get("n") and model is not None and base is not None and base > 0:
                gain = 1.0 - model / base
            elif entry.get("n") and model is not None and base == 0:
                gain = 0.0 if model == 0 else -np.inf  # a baseline without error cannot be beaten
            rows.append(
                {
                    "criterion": "skill",
                    "outcome": outcome,
                    "baseline": key,
                    "model": np.nan if model is None else model,
                    "baseline_error": np.nan if base is None else base,
                    "value": gain,
                    "required": REQUIRED_GAIN,
                }
            )
    cov, n_cov = pooled_coverage(frame) if len(frame) else (np.nan, 0)
    rows.append(
        {"criterion": "coverage", "outcome": f"{n_cov} figures", "value": cov}
        | {"required": REQUIRED_COVERAGE}
    )
    if recovery is None:
        rows.append({"criterion": "recovery", "value": np.nan, "required": 1.0})
        rows.append({"criterion": "posterior coverage", "value": np.nan, "required": 0.9})
    else:
        n = len(recovery)
        rows.append(
            {
                "criterion": "recovery",
                "outcome": f"{n} parameters",
                "value": float(recovery["recovered"].mean()),
                "required": 1.0,
            }
        )
        if "covered_90" in recovery:
            rows.append(
                {
                    "criterion": "posterior coverage",
                    "outcome": f"{n} parameters",
                    "value": float(recovery["covered_90"].astype(bool).mean()),
                    "required": _coverage_floor(n) / n,
                }
            )
        else:
            rows.append({"criterion": "posterior coverage", "value": np.nan, "required": 0.9})
    out = pd.DataFrame(rows)
    for col in ("outcome", "baseline"):
        out[col] = out[col].fillna("")
    value = out["value"].astype(float)
    out["met"] = [
        None if np.isnan(v) else bool(v >= r - 1e-12)
        for v, r in zip(value, out["required"], strict=True)
    ]
    out["shortfall"] = np.where(out["met"] == False, out["required"] - value, np.nan)  # noqa: E712
    return out


def deciding_cases(frame: pd.DataFrame, outcome: str, column: str, k: int = 3) -> pd.DataFrame:
    """The left-out figures that most raise the model's error above a baseline's.

    ``column`` is the baseline's prediction column (``mean``, ``step``, ``no_change``). Each
    figure's ``excess`` is its share of the weighted difference of mean errors,
    ``w * (err_model - err_<column>) / sum(w)``; the ``k`` largest positive ones are returned.
    """
    g = frame[frame["outcome"] == outcome]
    if g.empty or f"err_{column}" not in g:
        return g.iloc[:0]
    w = g["weight"].to_numpy(float)
    excess = w * (g["err_model"] - g[f"err_{column}"]).to_numpy(float) / w.sum()
    g = g.assign(baseline=g[column], err_baseline=g[f"err_{column}"], excess=excess)
    g = g[g["excess"] > 0].sort_values("excess", ascending=False).head(k)
    return g[["obs_id", "kind", "lo", "hi", "model", "baseline", "err_model", "err_baseline"]].join(
        g[["excess"]]
    )


def _dominant_misses(frame: pd.DataFrame, share: float = 0.5) -> str:
    """Figures that carry at least ``share`` of an outcome's squared left-out error."""
    out = []
    g = frame[(frame["outcome"] != "pass_fail") & frame["model"].notna()]
    for outcome, h in g.groupby("outcome"):
        sq = h["err_model"].to_numpy(float) ** 2
        if sq.sum() <= 0:
            continue
        i = int(np.argmax(sq))
        if sq[i] / sq.sum() >= share:
            out.append(
                f"{100 * sq[i] / sq.sum():.0f}% of {outcome}'s squared error comes from one "
                f"figure, {h['obs_id'].iloc[i]} (left-out error {h['err_model'].iloc[i]:.3f})"
            )
    # Each entry starts with its percentage, so the sentence needs no capital.
    return (" " + "; ".join(out) + ".") if out else ""


def coverage_misses(frame: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Left-out figures whose 90% predictive interval misses the report, the farthest first."""
    if "pi_lower" not in frame:
        return frame.iloc[:0]
    g = frame[frame["pi_lower"].notna() & ~frame["covered"].astype(bool)]
    gap = np.maximum(g["lo"] - g["pi_upper"], g["pi_lower"] - g["hi"])
    g = g.assign(gap=gap).sort_values("gap", ascending=False).head(k)
    return g[["obs_id", "outcome", "kind", "lo", "hi", "model", "pi_lower", "pi_upper", "gap"]]


def _validation(run: CalibrationRun) -> dict:
    """``validation.json``'s figures for the run (as :mod:`~feesim.studies.calibration.run`)."""
    rec = run.recovery
    synthetic = None
    if rec is not None and "covered_90" in rec.frame:
        synthetic = float(rec.frame["covered_90"].astype(bool).mean())
    return validation_figures(run.loo, synthetic)


def _missing(frame: pd.DataFrame, outcome: str, column: str) -> list[str]:
    """Left-out figures of ``outcome`` without a ``column`` prediction (scored as 0.5)."""
    if column not in frame:
        return []
    g = frame[(frame["outcome"] == outcome) & frame[column].isna()]
    return [str(x) for x in g["obs_id"]]


def _skill_line(outcome: str, n: int, rows: pd.DataFrame, frame: pd.DataFrame) -> str:
    """One outcome's out-of-sample skill against each of its baselines, with the verdict.

    Figures without a prediction are scored as a coin toss (0.5) by the leave-one-out; where
    that happened the line says so, because it flatters whichever predictor did predict.
    """
    if not n:
        return f"**{outcome}**: no left-out figures, not assessed."
    measure = "Brier score" if outcome == "pass_fail" else "weighted error"
    parts = []
    for _, r in rows.iterrows():
        gain, name = r["value"], BASELINE_NAMES[r["baseline"]]
        if gain == -np.inf:
            parts.append(f"{r['baseline_error']:.3f} for {name}, which cannot be beaten")
        else:
            parts.append(
                f"{r['baseline_error']:.3f} for {name} (the model's is {_relative(gain)} it)"
            )
    met = all(bool(m) for m in rows["met"])
    short = rows[rows["met"] == False]  # noqa: E712
    miss = ""
    if len(short):
        miss = "; short of a 20% gain by " + ", ".join(
            f"{100 * s:.0f} points against {BASELINE_NAMES[b]}"
            for s, b in zip(short["shortfall"], short["baseline"], strict=True)
            if np.isfinite(s)
        )
    notes, baseline_missing = [], False
    for col, who in [("model", "the model")] + [
        (VALIDATION_OUTCOMES[outcome][b], BASELINE_NAMES[b]) for b in rows["baseline"]
    ]:
        ids = _missing(frame, outcome, col)
        if ids:
            notes.append(f"{who} has no prediction for {', '.join(ids)}")
            baseline_missing |= col != "model"
    caveat = (
        " Caution: "
        + "; ".join(notes)
        + ". The leave-one-out scores a missing prediction as 0.5, which flatters the other "
        "predictor."
        if notes
        else ""
    )
    verdict = "**met as scored**" if met and baseline_missing else _verdict(met)
    return (
        f"**{outcome}** ({n} figures): {measure} {rows['model'].iloc[0]:.3f} for the model "
        f"against {'; '.join(parts)}: {verdict}{miss}.{caveat}"
    )


def _validation_section(
    run: CalibrationRun, validation: dict, crit: pd.DataFrame, summ: pd.DataFrame
) -> list[str]:
    loo = run.loo
    L = ["## Validation: leave one case out", ""]
    L.append(
        "For each community with a figure (a case row's approval, turnout or collection, or a "
        "second-pass record), the fit is re-solved without it (its rows, targets and records "
        "dropped; damped Gauss-Newton steps from the full fit with the Jacobian recomputed for "
        "the reduced data) and the model predicts the community. Baselines use the same other "
        "cases: for approval and turnout the mean of the other cases (intercept only) and a "
        "logit on the step, both with the censored likelihood; for collection after a step, a "
        "new firm or a takeover the mean of the other cases and 'no change' (the figure before "
        "the change; 0.80 where none is reported); for pass/fail the base rate of the other "
        "votes' results. Error: distance from the reported interval (zero inside it), weighted "
        "by reliability; for pass/fail the Brier score of the pass probability. The 90% "
        "predictive interval of a prediction carries three errors: the parameters' (the "
        "posterior members), the community's own chance (every replicate of every member, "
        "around the full fit and moved to the left-out prediction) and the model's own error "
        "(a normal term whose sd, `model_error`, is the root mean square of the other "
        "communities' left-out errors of the same outcome, so a case never widens its own "
        "interval; Kennedy & O'Hagan 2001). For pass/fail it is the members' spread of the "
        "pass probability. A figure counts as covered when that interval meets the reported "
        "one; `coverage without model error` is the same with the parameters and chance only."
    )
    L.append("")
    L.append(
        "The figures of `validation.json` (`gain`: the relative reduction of the model's error "
        "against the baseline's; the issue asks for at least 20% against every baseline):"
    )
    L.append("")
    rows = []
    skill = crit[crit["criterion"] == "skill"]
    for outcome in VALIDATION_OUTCOMES:
        entry = validation.get(outcome, {"n": 0})
        for _, r in skill[skill["outcome"] == outcome].iterrows():
            rows.append(
                {
                    "outcome": outcome,
                    "n": entry.get("n", 0),
                    "model": r["model"],
                    "baseline": r["baseline"].removeprefix("baseline_"),
                    "baseline error": r["baseline_error"],
                    "gain": "n/a" if not np.isfinite(r["value"]) else f"{100 * r['value']:.0f}%",
                    ">= 20%": "n/a" if r["met"] is None else "yes" if r["met"] else "no",
                    "coverage_90": _num(entry.get("coverage_90")),
                    "coverage without model error": _num(
                        entry.get("coverage_90_without_model_error")
                    ),
                    "model_error": _num(entry.get("model_error")),
                }
            )
    L.append(_md_table(pd.DataFrame(rows).set_index("outcome")))
    L.append("")
    L.append("![validation](figures/validation.png)")
    L.append("")
    L.append("### Against the done-when criteria")
    L.append("")
    frame = loo.frame
    for outcome in VALIDATION_OUTCOMES:
        n = int(validation.get(outcome, {}).get("n", 0))
        rows_o = skill[skill["outcome"] == outcome]
        L.append("- " + _skill_line(outcome, n, rows_o, frame))
        for _, r in rows_o[rows_o["met"] == False].iterrows():  # noqa: E712
            col = VALIDATION_OUTCOMES[outcome][r["baseline"]]
            dec = deciding_cases(frame, outcome, col)
            if dec.empty:
                continue
            L.append(
                f"  Against {BASELINE_NAMES[r['baseline']]}, the figures adding most to the "
                "model's excess weighted error: "
                + "; ".join(
                    f"{d['obs_id']} ({d['kind']}: reported {_fmt_interval(d['lo'], d['hi'])}, "
                    f"model {d['model']:.2f}, baseline {d['baseline']:.2f}; "
                    f"{d['excess']:+.3f})"
                    for _, d in dec.iterrows()
                )
                + "."
            )
    cov = crit[crit["criterion"] == "coverage"].iloc[0]
    if cov["met"] is None:
        L.append(f"- **Coverage of the 90% predictive intervals**: {_NO_INTERVALS}")
    else:
        L.append(
            f"- **Coverage of the 90% predictive intervals**: {_pct(cov['value'])} of the "
            f"{cov['outcome']} left out (by outcome: "
            + ", ".join(
                f"{o} {_pct(_num(validation[o].get('coverage_90')))}"
                for o in VALIDATION_OUTCOMES
                if validation.get(o, {}).get("n")
            )
            + f"); at least 80% asked: {_verdict(cov['met'])}"
            + (f", {100 * cov['shortfall']:.0f} points short." if cov["met"] is False else ".")
        )
        if "covered_sim" in frame:
            has = frame["pi_lower_sim"].notna()
            errors = ", ".join(
                f"{o} {_num(validation[o].get('model_error')):.3f}"
                for o in VALIDATION_OUTCOMES
                if validation.get(o, {}).get("n") and "model_error" in validation[o]
            )
            L.append(
                "  Without the model's own error (the parameters and chance only) the intervals "
                f"cover {_pct(float(frame.loc[has, 'covered_sim'].mean()))} (median width "
                f"{(frame['pi_upper_sim'] - frame['pi_lower_sim']).median():.3f}). The model "
                f"error's sd over all left-out figures, by outcome: {errors}. It is set from the "
                "same left-out errors whose coverage is counted here, so this coverage says that "
                "the intervals are as wide as the model's misses, not that an independent test "
                "confirmed them; the errors are distances from the reported intervals (zero "
                "inside them), and the chance is that of communities of at most "
                f"{run.calibrator.simulator.settings.max_households} households."
                + _dominant_misses(frame)
            )
    misses = coverage_misses(frame)
    if len(misses):
        if "pi_lower" in frame:
            width = (frame["pi_upper"] - frame["pi_lower"]).median()
            narrow = (
                " (the members barely differ: the intervals are points)" if width < 1e-3 else ""
            )
            L.append(
                f"  The intervals' median width is {width:.3f}{narrow}. The farthest misses "
                "(`gap`: from the predictive interval to the reported one):"
            )
        L.append("")
        L.append(_md_table(misses.set_index("obs_id")))
    L.append("")
    L.append(
        "Every left-out figure (`model`: re-solved without the case; `fitted`: with all cases; "
        "`pi_lower`/`pi_upper`: its 90% predictive interval; `err_*`: errors, Brier scores for "
        "pass/fail):"
    )
    L.append("")
    first = ["outcome", "lo", "hi", "kind", "weight", "model", "pi_lower", "pi_upper", "covered"]
    cols = [c for c in first if c in frame] + [
        c for c in frame.columns if c not in first and c not in ("obs_id", "case_id")
    ]
    L.append(_md_table(frame.set_index("obs_id")[cols]))
    L.append("")
    L.append("The errors of the model and the baselines, figure by figure:")
    L.append("")
    L.append("![loo](figures/loo.png)")
    L.append("")
    L.append("All summary figures per outcome (`wmae_*`: weighted, `mae_*`: unweighted):")
    L.append("")
    L.append(_md_table(summ))
    L.append("")
    return L


def _recovery_section(run: CalibrationRun, crit: pd.DataFrame) -> list[str]:
    rec = run.recovery
    L = ["## Parameter recovery", ""]
    if rec is None:
        L += [
            "Not run in this (quick) calibration; `tests/test_calibration.py` runs a small one.",
            "",
        ]
        return L
    L.append(
        "Cases, targets and the second pass's records simulated from the fitted parameters "
        "(another seed, one realisation per figure printed to whole percentages), then "
        "calibrated again from the judgement values with the same budget (one start), and the "
        "posterior drawn again on the synthetic data. Tolerance: twice the posterior spread, at "
        "least a twentieth of the search range. `covered_90`: whether the synthetic posterior's "
        "90% interval holds the truth."
    )
    L.append("")
    L.append(_md_table(rec.frame))
    L.append("")
    r = crit[crit["criterion"] == "recovery"].iloc[0]
    p = crit[crit["criterion"] == "posterior coverage"].iloc[0]
    n = len(rec.frame)
    L.append(f"{round(r['value'] * n)} of {n} parameters within tolerance: {_verdict(r['met'])}.")
    if "covered_90" in rec.frame:
        k = int(rec.frame["covered_90"].astype(bool).sum())
        L.append(
            f"The posterior's 90% intervals cover the truth for {k} of {n} parameters "
            f"({_pct(k / n)}). If each covered 90% of the time, at least "
            f"{_coverage_floor(n)} of {n} would in 95% of realisations (a binomial guide: the "
            f"intervals come from one posterior and are not independent): {_verdict(p['met'])}."
            + (
                " Not covered: "
                + ", ".join(
                    f"`{x}`" for x in rec.frame.index[~rec.frame["covered_90"].astype(bool)]
                )
                + "."
                if k < n
                else ""
            )
        )
    L.append("")
    return L
