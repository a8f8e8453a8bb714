"""Validation of a calibration: leave one case out, and parameter recovery.

**Leave one case out** (:func:`leave_one_out`): for every community ``k`` with an approval or
collection figure (a regression row, or a target case such as Xianghe), the fit is re-solved
without it (its rows and its targets are dropped; chord iterations from the full fit, with the
full fit's weighting; :meth:`Calibrator.chord_solve`) and the model then predicts ``k``: the
median over replicates of the simulated share. Two naive baselines are fitted on the same other
cases with the censored likelihood of :mod:`feesim.studies.calibration.regressions`: the *mean of
the other cases* (intercept only) and a *one-variable logit on the step* (intercept and
``step_pct``). Each predicts ``expit(x' beta)``.

Errors respect censoring: the error of a prediction ``p`` against a reported interval
``[lo, hi]`` is its distance to the interval (zero inside it), so a bound (">0.95") is missed
only when the prediction falls short of it. The summary gives the mean absolute error per
outcome, unweighted and weighted by reliability (the primary figure: disputed tallies count
less, as in the fit).

**Parameter recovery** (:func:`recovery`): cases are simulated from known parameters (one
realisation per case, rounded to whole percentages; the time-path targets from the simulated
examples), the calibration is run on them from the judgement values, and the estimates are
compared with the truth.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from feesim.protocol import estimate, load_result, save_result
from feesim.seeding import rng_alias, root_seed
from feesim.studies.calibration.data import CaseData, Target, rounding_interval
from feesim.studies.calibration.fit import Calibrator, EvaluationCache, FitResult, FitSettings
from feesim.studies.calibration.moments import MomentSet, SimOutcome
from feesim.studies.calibration.regressions import fit_interval_logit

__all__ = [
    "LooResult",
    "RecoveryResult",
    "baseline_predictions",
    "interval_error",
    "leave_one_out",
    "recovery",
]

log = logging.getLogger(__name__)

OUTCOMES = ("approval", "collection")


def interval_error(pred: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Distance of predictions from reported intervals (0 inside).

    Examples
    --------
    >>> interval_error(np.array([0.9, 0.5, 0.99]), np.array([0.95, 0.5, 0.95]),
    ...                np.array([1.0, 0.6, 1.0])).round(3).tolist()
    [0.05, 0.0, 0.0]
    """
    pred, lo, hi = (np.asarray(a, float) for a in (pred, lo, hi))
    return np.maximum(lo - pred, 0.0) + np.maximum(pred - hi, 0.0)


def baseline_predictions(train: pd.DataFrame, test: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Predictions of the two naive baselines for ``test`` rows, fitted on ``train`` rows.

    Returns a frame with columns ``mean`` (intercept-only censored logit) and ``step``
    (censored logit on ``step_pct``; the mean model when fewer than four rows remain), indexed
    like ``test``.
    """
    lo, hi = train[f"{outcome}_lo"].to_numpy(float), train[f"{outcome}_hi"].to_numpy(float)
    w = train["weight"].to_numpy(float)
    one = np.ones((len(train), 1))
    mean = fit_interval_logit(lo, hi, one, ["const"], weights=w, fast=True)
    x = np.column_stack([one, train["step_pct"].to_numpy(float)])
    step = fit_interval_logit(lo, hi, x, ["const", "step_pct"], weights=w, fast=True)
    xt = np.column_stack([np.ones(len(test)), test["step_pct"].to_numpy(float)])
    p_mean = mean.predict(xt[:, :1])
    # Too few rows for two coefficients (n < 4): the step model falls back to the mean.
    p_step = step.predict(xt) if step.estimable else p_mean
    return pd.DataFrame({"mean": p_mean, "step": p_step}, index=test.index)


def _predictions(sim: SimOutcome, obs: Sequence[str], outcome: str) -> pd.Series:
    c = sim.cases
    c = c[c["obs_id"].isin(obs)]
    return c.groupby("obs_id")[outcome].median()


@dataclass
class LooResult:
    """Leave-one-case-out predictions of the model and the baselines.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per reported figure: ``obs_id``, ``case_id``, ``outcome``, ``lo``, ``hi``,
        ``weight``, predictions ``model``, ``mean``, ``step``, ``fitted`` (the model with all
        cases) and the interval errors ``err_model``, ``err_mean``, ``err_step``, ``err_fitted``.
    thetas : pandas.DataFrame
        Re-solved parameters without each case.
    """

    frame: pd.DataFrame
    thetas: pd.DataFrame

    def summary_frame(self) -> pd.DataFrame:
        """Mean absolute (interval) error per outcome and predictor, and the model's gain.

        Columns: ``n``, ``mae_<predictor>`` (unweighted), ``wmae_<predictor>`` (weighted by
        reliability), and ``gain_vs_mean`` / ``gain_vs_step``: the relative reduction of the
        weighted error by the model (0.3 = 30% lower than the baseline).
        """
        rows = []
        for outcome, g in self.frame.groupby("outcome"):
            w = g["weight"].to_numpy()
            row: dict[str, object] = {"outcome": outcome, "n": len(g)}
            for p in ("model", "mean", "step", "fitted"):
                e = g[f"err_{p}"].to_numpy()
                row[f"mae_{p}"] = float(e.mean())
                row[f"wmae_{p}"] = float((w * e).sum() / w.sum())
            for p in ("mean", "step"):
                base = row[f"wmae_{p}"]
                row[f"gain_vs_{p}"] = (
                    float(1 - row["wmae_model"] / base) if base > 0 else float("nan")
                )
            rows.append(row)
        return pd.DataFrame(rows).set_index("outcome")

    @property
    def beats_baselines(self) -> bool:
        """Whether the model's weighted error is below both baselines' for every outcome."""
        s = self.summary_frame()
        return bool(((s["wmae_model"] < s["wmae_mean"]) & (s["wmae_model"] < s["wmae_step"])).all())

    def summary_text(self) -> str:
        """The weighted errors of the model and the baselines, per outcome."""
        lines = []
        for outcome, s in self.summary_frame().iterrows():
            lines.append(
                f"leave one out, {outcome}: weighted MAE model {s['wmae_model']:.3f}, mean of "
                f"others {s['wmae_mean']:.3f}, logit on step {s['wmae_step']:.3f}"
            )
        return "\n".join(lines)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``frame`` and ``thetas`` as Parquet and the sidecar; returns the folder."""
        tables = {"frame": self.frame, "thetas": self.thetas}
        return save_result(
            directory, self, tables, provenance={"left_out": list(self.thetas.index)}
        )

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> LooResult:
        """Read a result written by :meth:`save`."""
        t = load_result(directory, cls).tables
        return cls(frame=t["frame"], thetas=t["thetas"])


def leave_one_out(calibrator: Calibrator, fit: FitResult, progress: bool = False) -> LooResult:
    """Leave each community out, re-solve, predict it; baselines on the same other cases."""
    from tqdm.auto import tqdm

    cases = calibrator.cases
    full = calibrator.simulate(fit.u)
    f = cases.frame
    simulated = set(calibrator.simulator.case_ids)
    test_rows = {
        o: f[f[f"use_{o}"].isin(["fit", "target"]) & f["case_id"].isin(simulated)] for o in OUTCOMES
    }
    ids = sorted(set(test_rows["approval"]["case_id"]) | set(test_rows["collection"]["case_id"]))
    records, thetas = [], []
    for cid in tqdm(ids, desc="leave one out", disable=not progress):
        mult = pd.Series(1.0, index=calibrator.simulator.case_ids)
        mult[cid] = 0.0
        ms = MomentSet(
            cases, calibrator.targets, multiplicity=mult, base=calibrator.moments, exclude_case=cid
        )
        u, sim = calibrator.chord_solve(ms, fit)
        thetas.append({"case_id": cid, **calibrator.theta(u).to_dict()})
        for outcome in OUTCOMES:
            rows = test_rows[outcome]
            test = rows[rows["case_id"] == cid]
            if test.empty:
                continue
            train = cases.rows(outcome)
            train = train[train["case_id"] != cid]
            base = baseline_predictions(train, test, outcome)
            model = _predictions(sim, list(test.index), outcome)
            fitted = _predictions(full, list(test.index), outcome)
            for obs, r in test.iterrows():
                records.append(
                    {
                        "obs_id": obs,
                        "case_id": cid,
                        "outcome": outcome,
                        "lo": r[f"{outcome}_lo"],
                        "hi": r[f"{outcome}_hi"],
                        "weight": r["weight"],
                        "step_pct": r["step_pct"],
                        "model": model.get(obs, np.nan),
                        "fitted": fitted.get(obs, np.nan),
                        "mean": base.loc[obs, "mean"],
                        "step": base.loc[obs, "step"],
                    }
                )
    frame = pd.DataFrame(records)
    for p in ("model", "mean", "step", "fitted"):
        pred = frame[p].fillna(0.5).to_numpy()  # a missing prediction counts as a coin toss
        frame[f"err_{p}"] = interval_error(pred, frame["lo"], frame["hi"])
    return LooResult(frame=frame, thetas=pd.DataFrame(thetas).set_index("case_id"))


# ----------------------------------------------------------------------------------------------
# parameter recovery
# ----------------------------------------------------------------------------------------------
@dataclass
class RecoveryResult:
    """Estimates from synthetic data against the parameters that generated them.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per parameter: ``truth``, ``estimate``, ``error``, ``tolerance``, ``recovered``.
    fit : FitResult
        The calibration on the synthetic data.
    """

    frame: pd.DataFrame
    fit: FitResult

    @property
    def all_recovered(self) -> bool:
        """Whether every parameter is within its tolerance."""
        return bool(self.frame["recovered"].all())

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row per parameter: truth, estimate, error, tolerance, whether recovered.

        Also the estimate in statsmodels' names, ``mean`` with its asymptotic standard error
        ``mean_se`` (from the recovery fit) and the normal ``1 - alpha`` interval
        ``mean_ci_lower``, ``mean_ci_upper``: whether the truth lies inside reads off directly.
        """
        se = self.fit.se.reindex(self.frame.index)
        est = estimate(self.frame["estimate"].to_numpy(), se.to_numpy(), alpha)
        return self.frame.assign(**est)

    def summary_text(self) -> str:
        """How many parameters came back within their tolerance, and each one."""
        f = self.frame
        lines = [f"parameter recovery: {int(f['recovered'].sum())} of {len(f)} within tolerance"]
        for name, r in f.iterrows():
            lines.append(
                f"  {name:<28} truth {r['truth']:8.3f}, estimate {r['estimate']:8.3f}, error "
                f"{r['error']:+.3f} (tolerance {r['tolerance']:.3f})"
                + ("" if r["recovered"] else "  NOT RECOVERED")
            )
        return "\n".join(lines)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``frame`` as Parquet, the recovery fit in ``fit/`` and the sidecar."""
        out = Path(directory)
        self.fit.save(out / "fit")
        return save_result(out, self, {"frame": self.frame})

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> RecoveryResult:
        """Read a result written by :meth:`save`."""
        d = Path(directory)
        return cls(frame=load_result(d, cls).tables["frame"], fit=FitResult.load(d / "fit"))


def synthetic_data(
    calibrator: Calibrator,
    truth: dict[str, float],
    rng: int | None = None,
    *,
    seed: int | None = None,
) -> tuple[CaseData, list[Target]]:
    """Cases and targets as the model with ``truth`` would have reported them.

    Each used figure is replaced by one simulated realisation (replicate 0, root seed ``rng``;
    ``seed`` is its deprecated alias) printed to whole percentages; objective targets by the
    simulated examples' mean.
    """
    seed = root_seed(rng_alias(rng, seed), "rng")
    sim = calibrator.simulator.simulate(calibrator.behaviour(calibrator.unit(truth)), seed)
    c = sim.cases[sim.cases["replicate"] == 0].set_index("obs_id")
    frame = calibrator.cases.frame.copy()
    for outcome, use in (
        ("approval", "approval"),
        ("turnout", "turnout"),
        ("collection", "collection"),
    ):
        rows = frame.index[frame[f"use_{use}"] == "fit"]
        for obs in rows:
            v = c.loc[obs, outcome] if obs in c.index else np.nan
            if not np.isfinite(v):
                frame.loc[obs, f"use_{use}"] = "no"
                continue
            lo, hi = rounding_interval(f"{round(float(v), 2):.2f}")
            frame.loc[obs, f"{outcome}_lo"] = lo
            frame.loc[obs, f"{outcome}_hi"] = hi
    cases = dataclasses.replace(calibrator.cases, frame=frame)
    targets = [
        dataclasses.replace(t, value=sim.moment(t.name)) if t.use == "objective" else t
        for t in calibrator.targets
    ]
    return cases, targets


def recovery(
    calibrator: Calibrator,
    truth: dict[str, float],
    *,
    rng: int | np.random.SeedSequence | None = None,
    settings: FitSettings | None = None,
    tolerance: dict[str, float] | None = None,
    cache: EvaluationCache | None = None,
    seed: int | None = None,
) -> RecoveryResult:
    """Calibrate on data simulated from ``truth`` and compare.

    Parameters
    ----------
    calibrator : Calibrator
        Gives the cases (their inputs), targets, parameters and simulation size.
    truth : dict
        Parameter values that generate the synthetic data.
    rng : int or SeedSequence, optional
        Seed of the synthetic "world" (SPEC 7; default 777, different from the fit's seed).
    settings : FitSettings, optional
        Budget of the recovery fit (default: the calibrator's).
    tolerance : dict, optional
        Allowed absolute error per parameter; default: a tenth of the search range.
    cache : EvaluationCache, optional
    seed : int, optional
        Deprecated alias of ``rng``.
    """
    seed = root_seed(rng_alias(rng, seed), "rng")
    seed = 777 if seed is None else seed
    cases, targets = synthetic_data(calibrator, truth, seed)
    cal = Calibrator(
        cases,
        targets,
        settings or calibrator.settings,
        parameters=calibrator.parameters,
        cache=cache,
        base=calibrator.base,
    )
    cal.progress = calibrator.progress
    fit = cal.fit()
    rows = []
    for p in cal.parameters:
        tol = (tolerance or {}).get(p.name, 0.1 * (p.hi - p.lo))
        est = float(fit.theta[p.name])
        err = est - float(truth[p.name])
        rows.append(
            {
                "parameter": p.name,
                "truth": float(truth[p.name]),
                "estimate": est,
                "error": err,
                "tolerance": tol,
                "recovered": abs(err) <= tol,
            }
        )
    return RecoveryResult(pd.DataFrame(rows).set_index("parameter"), fit)
