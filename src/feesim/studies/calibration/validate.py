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

**Predictive intervals** of the left-out figures must cover what a community reports, so they
carry the three sources of error a forecast has: the parameters (the posterior members), the
community's own chance (every replicate, not the median) and the model's structural error, which
neither of the others contains (Kennedy & O'Hagan 2001). The last is a normal term whose sd is
the root mean square of the *other* communities' left-out errors of the same outcome
(:func:`model_error`): a community's own miss never widens its own interval, in the spirit of a
jackknife+ interval (Barber et al. 2021, Ann. Stat. 49:486) but without its guarantee (a normal
term from a root mean square, over figures of several kinds). The width is set from the same
left-out errors whose coverage is then counted, so the coverage says that the width matches the
model's misses; it is not an independent test. The errors are distances from the reported
intervals (zero inside them), and the chance is that of communities of at most
``max_households`` households. The coverage without the model error is reported beside.

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
from scipy import optimize, stats

from feesim.i18n import N_
from feesim.i18n import gettext as _
from feesim.protocol import estimate, load_result, save_result
from feesim.seeding import rng_alias, root_seed
from feesim.studies.calibration.data import CaseData, Target, rounding_interval
from feesim.studies.calibration.fit import Calibrator, EvaluationCache, FitResult, FitSettings
from feesim.studies.calibration.moments import MomentSet, SimOutcome
from feesim.studies.calibration.regressions import fit_interval_logit
from feesim.studies.runner import progress_bar

__all__ = [
    "VALIDATION_OUTCOMES",
    "LooResult",
    "RecoveryResult",
    "baseline_predictions",
    "interval_error",
    "leave_one_out",
    "model_error",
    "predictive_interval",
    "recovery",
    "tally_check",
    "validation_figures",
]

#: The outcomes of the leave-one-out check (:class:`LooResult`), for translation.
LOO_OUTCOMES = {
    "approval": N_("approval"),
    "collection": N_("collection"),
    "pass_fail": N_("pass_fail"),
    "turnout": N_("turnout"),
}

log = logging.getLogger(__name__)

OUTCOMES = ("approval", "turnout", "collection")


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
    if not mean.estimable or not np.all(np.isfinite(p_mean)):
        # Too few rows for even the intercept-only logit: the weighted mean of the intervals'
        # midpoints (a baseline must still predict, or the missing figure scores a coin toss).
        mid = np.where(
            np.isfinite(lo) & np.isfinite(hi), (lo + hi) / 2, np.where(np.isfinite(lo), lo, hi)
        )
        ok = np.isfinite(mid) & (w > 0)
        level = float(np.average(mid[ok], weights=w[ok])) if ok.any() else np.nan
        p_mean = np.full(len(test), level)
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
            for p in ("model", "mean", "step", "fitted", "no_change"):
                if f"err_{p}" not in g or g[p].isna().all():
                    continue
                e = g[f"err_{p}"].to_numpy()
                row[f"mae_{p}"] = float(e.mean())
                row[f"wmae_{p}"] = float((w * e).sum() / w.sum())
            if "covered" in g:
                has = g["pi_lower"].notna()
                row["coverage_90"] = float(g.loc[has, "covered"].mean()) if has.any() else np.nan
            if "covered_sim" in g:
                has = g["pi_lower_sim"].notna()
                row["coverage_90_sim"] = (
                    float(g.loc[has, "covered_sim"].mean()) if has.any() else np.nan
                )
            if outcome != "pass_fail" and "err_model" in g:
                row["model_error"] = _rms_error(g)
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
        """The weighted errors of the model and the baselines, per outcome (translated)."""
        lines = []
        for outcome, s in self.summary_frame().iterrows():
            lines.append(
                _(
                    "leave one out, {outcome}: weighted MAE model {model}, mean of others {mean}, "
                    "logit on step {step}"
                ).format(
                    outcome=_(LOO_OUTCOMES.get(outcome, outcome)),
                    model=f"{s['wmae_model']:.3f}",
                    mean=f"{s['wmae_mean']:.3f}",
                    step=f"{s['wmae_step']:.3f}",
                )
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


def _no_change(row: pd.Series) -> float:
    """Collection if nothing changed: the figure before the change (0.80 when unknown)."""
    before = row.get("collection_before", np.nan)
    return float(before) if np.isfinite(before) else 0.80


def _member_predictions(
    sims: Sequence[SimOutcome], obs: Sequence[str], outcome: str
) -> pd.DataFrame:
    """Predictions of each posterior member (rows) for figures ``obs`` (columns)."""
    return pd.DataFrame({m: _predict(sim, obs, outcome) for m, sim in enumerate(sims)}).T


def _replicates(sim: SimOutcome, obs: str, outcome: str) -> np.ndarray:
    """Every replicate's value of figure ``obs`` in one simulation.

    A second-pass record takes precedence over a case row of the same figure, as in
    :func:`_predict`.
    """
    rec = sim.records
    if rec is not None and len(rec):
        r = rec[(rec["obs_id"] == obs) & (rec["measure"] == outcome)]
        if len(r):
            return r["value"].to_numpy(float)
    c = sim.cases
    if outcome not in c:
        return np.empty(0)
    return c.loc[c["obs_id"] == obs, outcome].to_numpy(float)


def model_error(frame: pd.DataFrame) -> pd.Series:
    """The model's own error for each left-out figure, from the *other* communities.

    For a figure of outcome ``o`` left out with community ``k``: the root mean square of the
    left-out errors (``err_model``, the distance from the reported interval) of the other
    communities' figures of outcome ``o``. A community's own miss never widens its own interval
    (though the other communities' re-solves did include community ``k``, as a jackknife's do).
    Figures the model did not predict are left out (:func:`_rms_error`). NaN for pass/fail (a
    probability: its interval is the posterior members' spread) and where no other figure of the
    outcome exists.
    """
    out = pd.Series(np.nan, index=frame.index)
    for i, r in frame.iterrows():
        if r["outcome"] != "pass_fail":
            same = frame["outcome"] == r["outcome"]
            out[i] = _rms_error(frame[same & (frame["case_id"] != r["case_id"])])
    return out


def _rms_error(rows: pd.DataFrame) -> float:
    """Root mean square of the left-out errors of ``rows`` the model predicted (NaN if none).

    A figure the model did not predict (its error counted as a coin toss) says nothing of the
    model's error.
    """
    e = rows.loc[rows["model"].notna(), "err_model"].to_numpy(float)
    e = e[np.isfinite(e)]
    return float(np.sqrt(np.mean(e**2))) if len(e) else np.nan


def predictive_interval(
    model: float, fitted: float, draws: np.ndarray, error: float = 0.0, level: float = 0.9
) -> tuple[float, float]:
    """Central ``level`` predictive interval of a left-out figure, on [0, 1].

    ``draws`` are the posterior members' simulated values of the figure, every replicate (the
    posterior predictive: parameter uncertainty and seed noise), taken as deviations from the
    full fit's prediction ``fitted`` and moved to the left-out prediction ``model``; ``error``
    is the sd of a normal model-error term added to each (Kennedy & O'Hagan 2001, model
    discrepancy), 0 for none.
    """
    dev = np.asarray(draws, dtype=float) - fitted
    dev = dev[np.isfinite(dev)]
    if not len(dev) or not np.isfinite(model):
        return np.nan, np.nan
    a = (1 - level) / 2
    if error > 0:
        # The exact quantiles of the mixture: each draw plus a normal error (no random draws,
        # so the interval does not depend on a seed).
        def cdf(x: float) -> float:
            return float(stats.norm.cdf((x - dev) / error).mean())

        span = (dev.min() - 10 * error, dev.max() + 10 * error)
        lo, hi = (optimize.brentq(lambda x, q=q: cdf(x) - q, *span, xtol=1e-10) for q in (a, 1 - a))
    else:
        lo, hi = np.quantile(dev, [a, 1 - a])
    return float(np.clip(model + lo, 0, 1)), float(np.clip(model + hi, 0, 1))


def _predict(sim: SimOutcome, obs: Sequence[str], outcome: str) -> pd.Series:
    """The model's prediction of figures ``obs``: case rows by median, records by mean."""
    from_cases = _predictions(sim, obs, outcome) if outcome in sim.cases else pd.Series()
    rec = sim.records
    if rec is not None and len(rec):
        r = rec[rec["obs_id"].isin(obs) & (rec["measure"] == outcome)]
        from_records = r.groupby("obs_id")["value"].mean()
        from_cases = pd.concat([from_cases.drop(from_records.index, errors="ignore"), from_records])
    return from_cases


def leave_one_out(
    calibrator: Calibrator,
    fit: FitResult,
    progress: bool = False,
    members: Sequence[np.ndarray] | None = None,
) -> LooResult:
    """Leave each community out, re-solve, predict it; baselines on the same other figures.

    Figures: approval, turnout and collection of the case rows, and the second pass's records
    (firm-vote tallies, vote events, takeovers). With ``members`` (posterior draws, unit cube)
    each prediction gets a 90% predictive interval (:func:`predictive_interval`): every
    replicate of every member around the full fit, moved to the left-out prediction, with the
    model's own error (:func:`model_error`, from the other communities' misses) added; for
    pass/fail, the members' spread of the pass probability. ``pi_lower_sim``/``pi_upper_sim``
    and ``covered_sim`` are the same interval without the model error.
    """
    cases = calibrator.cases
    full = calibrator.simulate(fit.u)
    f = cases.frame
    simulated = set(calibrator.simulator.case_ids)
    test_rows = {
        o: f[f[f"use_{o}"].isin(["fit", "target"]) & f["case_id"].isin(simulated)] for o in OUTCOMES
    }
    designs = calibrator.simulator.records
    ids = sorted(set().union(*(set(t["case_id"]) for t in test_rows.values())))
    ids = sorted(set(ids) | {d.case_id for d in designs})
    # Vote outcomes known for the base rate of pass/fail: events and fee steps' results.
    known_votes = pd.concat(
        [
            pd.DataFrame(
                [(d.case_id, d.lo) for d in designs if d.kind == "event"],
                columns=["case_id", "y"],
            ),
            pd.DataFrame(
                {
                    "case_id": f.loc[f["matter"] == "fee", "case_id"],
                    "y": f.loc[f["matter"] == "fee", "status"].map(
                        {"passed": 1.0, "rejected": 0.0, "no_quorum": 0.0}
                    ),
                }
            ).dropna(),
        ]
    )
    spread: dict[str, pd.DataFrame] = {}
    member_sims: list[SimOutcome] = []
    if members is not None:
        member_sims = list(calibrator.simulate_many(members))
        for outcome in OUTCOMES:
            obs = list(test_rows[outcome].index)
            spread[outcome] = _member_predictions(member_sims, obs, outcome)
        for measure in ("turnout", "approval", "passed", "collection"):
            obs = [d.obs_id for d in designs if d.measure == measure]
            if obs:
                m = _member_predictions(member_sims, obs, measure)
                spread[measure] = pd.concat([spread.get(measure, pd.DataFrame()), m], axis=1)
    problems = []
    for cid in ids:
        mult = pd.Series(1.0, index=calibrator.simulator.case_ids)
        mult[cid] = 0.0
        ms = MomentSet(
            cases, calibrator.targets, multiplicity=mult, base=calibrator.moments, exclude_case=cid
        ).with_records(calibrator.simulator)
        problems.append((ms, None))
    # The re-solves side by side (their simulations batched: in parallel on a runner).
    with progress_bar(len(ids), "leave one out", "case", progress) as bar:
        solved = calibrator.chord_solve_many(problems, fit, progress=bar.update)
    records, thetas = [], []
    for cid, (u, sim) in zip(ids, solved, strict=True):
        thetas.append({"case_id": cid, **calibrator.theta(u).to_dict()})
        for outcome in OUTCOMES:
            rows = test_rows[outcome]
            test = rows[rows["case_id"] == cid]
            if test.empty:
                continue
            train = cases.rows(outcome)
            train = train[train["case_id"] != cid]
            base = baseline_predictions(train, test, outcome)
            model = _predict(sim, list(test.index), outcome)
            fitted = _predict(full, list(test.index), outcome)
            for obs, r in test.iterrows():
                records.append(
                    {
                        "obs_id": obs,
                        "case_id": cid,
                        "outcome": outcome,
                        "kind": "case",
                        "lo": r[f"{outcome}_lo"],
                        "hi": r[f"{outcome}_hi"],
                        "weight": r["weight"],
                        "step_pct": r["step_pct"],
                        "model": model.get(obs, np.nan),
                        "fitted": fitted.get(obs, np.nan),
                        "mean": base.loc[obs, "mean"],
                        "step": base.loc[obs, "step"],
                        "no_change": _no_change(r) if outcome == "collection" else np.nan,
                    }
                )
        for d in (d for d in designs if d.case_id == cid):
            model = _predict(sim, [d.obs_id], d.measure).get(d.obs_id, np.nan)
            fitted = _predict(full, [d.obs_id], d.measure).get(d.obs_id, np.nan)
            row = {
                "obs_id": d.obs_id,
                "case_id": cid,
                "outcome": "pass_fail" if d.kind == "event" else d.measure,
                "kind": d.kind,
                "lo": d.lo,
                "hi": d.hi,
                "weight": d.weight,
                "step_pct": 0.0,
                "model": model,
                "fitted": fitted,
                "no_change": np.nan,
            }
            if d.kind == "event":
                other = known_votes[known_votes["case_id"] != cid]["y"]
                row["mean"] = row["step"] = float(other.mean()) if len(other) else 0.5
            else:
                train = cases.rows(d.measure)
                train = train[train["case_id"] != cid]
                pseudo = pd.DataFrame({"step_pct": [0.0]}, index=[d.obs_id])
                base = baseline_predictions(train, pseudo, d.measure)
                row["mean"], row["step"] = base.loc[d.obs_id, "mean"], base.loc[d.obs_id, "step"]
                if d.kind == "takeover":
                    row["no_change"] = float(d.scenario.community.initial_collection_rate or 0.8)
            records.append(row)
    frame = pd.DataFrame(records)
    for p in ("model", "mean", "step", "fitted", "no_change"):
        pred = frame[p].fillna(0.5).to_numpy()  # a missing prediction counts as a coin toss
        err = interval_error(pred, frame["lo"], frame["hi"])
        brier = (pred - frame["lo"].to_numpy(float)) ** 2
        frame[f"err_{p}"] = np.where(frame["outcome"] == "pass_fail", brier, err)
    # 90% predictive intervals. Pass/fail: the posterior members' spread of the pass
    # probability. The other figures: the posterior predictive (every replicate of every member)
    # with and without the model's own error, estimated from the other communities' misses.
    if spread:
        frame["model_error"] = model_error(frame)
        cols: dict[str, list[float]] = {
            k: [] for k in ("pi_lower", "pi_upper", "pi_lower_sim", "pi_upper_sim")
        }
        for _i, r in frame.iterrows():
            key = "passed" if r["outcome"] == "pass_fail" else r["outcome"]
            m = spread.get(key)
            if m is None or r["obs_id"] not in m.columns:
                for v in cols.values():
                    v.append(np.nan)
                continue
            if r["outcome"] == "pass_fail":
                dev = m[r["obs_id"]].to_numpy(float) - r["fitted"]
                lo = r["model"] + np.nanquantile(dev, 0.05)
                hi = r["model"] + np.nanquantile(dev, 0.95)
                sim_lo, sim_hi = lo, hi
            else:
                draws = np.concatenate([_replicates(s, r["obs_id"], key) for s in member_sims])
                sim_lo, sim_hi = predictive_interval(r["model"], r["fitted"], draws)
                err = r["model_error"] if np.isfinite(r["model_error"]) else 0.0
                lo, hi = predictive_interval(r["model"], r["fitted"], draws, err)
            for k, v in zip(cols, (lo, hi, sim_lo, sim_hi), strict=True):
                cols[k].append(v)
        for k, v in cols.items():
            frame[k] = v
        frame["covered"] = (frame["pi_upper"] >= frame["lo"]) & (frame["pi_lower"] <= frame["hi"])
        frame["covered_sim"] = (frame["pi_upper_sim"] >= frame["lo"]) & (
            frame["pi_lower_sim"] <= frame["hi"]
        )
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
        lines = [
            _("parameter recovery: {k} of {n} within tolerance").format(
                k=int(f["recovered"].sum()), n=len(f)
            )
        ]
        for name, r in f.iterrows():
            lines.append(
                f"  {name:<28} "
                + _(
                    "truth {truth}, estimate {estimate}, error {error} (tolerance {tolerance})"
                ).format(
                    truth=f"{r['truth']:8.3f}",
                    estimate=f"{r['estimate']:8.3f}",
                    error=f"{r['error']:+.3f}",
                    tolerance=f"{r['tolerance']:.3f}",
                )
                + ("" if r["recovered"] else "  " + _("NOT RECOVERED"))
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
    # The second pass's records, as the model would have reported them.
    rec = sim.records
    rec = rec[rec["replicate"] == 0].set_index(["obs_id", "measure"])["value"]
    tallies = calibrator.cases.tallies.copy()
    for i, t in tallies.iterrows():
        v = rec.get((t["obs_id"], t["measure"]), np.nan)
        if np.isfinite(v):
            tallies.loc[i, ["lo", "hi"]] = rounding_interval(f"{round(float(v), 2):.2f}")
    events = calibrator.cases.events.copy()
    for obs in events.index:
        v = rec.get((obs, "passed"), np.nan)
        if np.isfinite(v):
            events.loc[obs, "passed"] = float(v)
    takeovers = calibrator.cases.takeovers.copy()
    for obs in takeovers.index:
        v = rec.get((obs, "collection"), np.nan)
        if np.isfinite(v):
            lo, hi = rounding_interval(f"{round(float(v), 2):.2f}")
            takeovers.loc[obs, ["collection_after_lo", "collection_after_hi"]] = lo, hi
    cases = dataclasses.replace(
        calibrator.cases, frame=frame, tallies=tallies, events=events, takeovers=takeovers
    )
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
    posterior_particles: int = 0,
    seed: int | None = None,
) -> RecoveryResult:
    """Calibrate on data simulated from ``truth`` and compare.

    With ``posterior_particles`` the posterior (:mod:`~feesim.studies.calibration.posterior`)
    is drawn on the synthetic data too, and ``frame["covered_90"]`` says whether each
    parameter's 90% interval covers the truth.

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
    cal.runner = calibrator.runner
    fit = cal.fit()
    draws = None
    if posterior_particles:
        from feesim.studies.calibration.posterior import coverage, sample_posterior

        draws = sample_posterior(cal, fit, particles=posterior_particles, rng=seed)
        covered = coverage(draws, pd.Series(truth))["covered"]
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
                **({"covered_90": bool(covered[p.name])} if draws is not None else {}),
            }
        )
    return RecoveryResult(pd.DataFrame(rows).set_index("parameter"), fit)


def tally_check(frame: pd.DataFrame) -> pd.DataFrame:
    """How close the model comes to each firm-vote tally (a leave-one-out frame's ``tally`` rows).

    One row per tally figure (``obs_id``, ``outcome``, the reported ``lo``/``hi``): ``fitted``,
    the simulated mean at the full fit, and ``distance``, its distance from the reported interval
    (0 inside it); ``model_error``, the root mean square of the *other* communities' left-out
    misses of that outcome (:func:`model_error`), and ``in_errors``, the distance in those units;
    ``covered``, whether the figure's 90% predictive interval with the community left out meets
    the reported one (NaN without posterior members). A single community's figure is one draw:
    a tally can sit outside its point value for reasons the records do not carry, and
    ``in_errors`` says whether it does so by more than the model misses the other communities.
    """
    cols = ["obs_id", "outcome", "lo", "hi", "fitted", "distance", "model_error", "in_errors"]
    if "kind" not in frame:
        return pd.DataFrame(columns=[*cols, "covered"])
    t = frame[frame["kind"] == "tally"]
    out = t[["obs_id", "outcome", "lo", "hi", "fitted"]].copy()
    # A tally the full fit did not simulate has no distance (its err_fitted is a coin toss's).
    out["distance"] = np.where(t["fitted"].isna(), np.nan, t["err_fitted"].to_numpy(float))
    err = t["model_error"] if "model_error" in t else pd.Series(np.nan, index=t.index)
    out["model_error"] = err.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["in_errors"] = out["distance"] / out["model_error"]
    out["covered"] = t["covered"].to_numpy() if "covered" in t else np.nan
    return out.reset_index(drop=True)


def _tally_figures(frame: pd.DataFrame) -> dict[str, object]:
    """``validation.json``'s ``firm_vote_tallies``: counts, farthest (:func:`tally_check`)."""
    t = tally_check(frame)
    if not len(t):
        return {"n": 0}
    far = t.sort_values("distance", kind="stable", na_position="first").iloc[-1]
    covered = t["covered"].dropna()
    return {
        "n": len(t),
        "inside_at_fit": int((t["distance"] <= 1e-9).sum()),
        "covered_90": int(covered.astype(bool).sum()) if len(covered) else None,
        "farthest": {
            "obs_id": str(far["obs_id"]),
            "outcome": str(far["outcome"]),
            "distance": float(far["distance"]) if np.isfinite(far["distance"]) else None,
            "in_errors": float(far["in_errors"]) if np.isfinite(far["in_errors"]) else None,
        },
    }


#: The outcomes of ``calibration/validation.json`` and their naive baselines (JSON key: column).
VALIDATION_OUTCOMES: dict[str, dict[str, str]] = {
    "approval": {"baseline_mean": "mean", "baseline_logit": "step"},
    "turnout": {"baseline_mean": "mean", "baseline_logit": "step"},
    "collection": {"baseline_mean": "mean", "baseline_no_change": "no_change"},
    "pass_fail": {"baseline_rate": "mean"},
}


def validation_figures(loo: LooResult, coverage_synthetic: float | None = None) -> dict:
    """The leave-one-out record as plain data (``calibration/validation.json``).

    For each of ``approval``, ``turnout``, ``collection`` (after a step, a new firm or a
    takeover) and ``pass_fail``: ``n`` figures, the model's reliability-weighted error
    (``model``: interval error; Brier score for ``pass_fail``), the baselines' and
    ``coverage_90``, the share of left-out figures whose reported interval meets the model's 90%
    predictive interval, and ``coverage_90_without_model_error`` the same without the model's
    own error (parameters and seed noise only); ``model_error`` (not for pass/fail) is the root
    mean square of the left-out errors, the sd of the model-error term a forecast of that outcome
    should carry; ``gain`` is the relative reduction of the model's error against each
    baseline. ``coverage_synthetic_90`` is the share of parameters whose posterior 90% interval
    covered the truth on synthetic data. ``firm_vote_tallies`` counts the firm-vote tallies of
    the second pass: ``n``, ``inside_at_fit`` (the simulated mean inside the reported figure),
    ``covered_90`` (inside the 90% predictive interval with the community left out) and the
    ``farthest`` (its distance, and that in units of the model's error; :func:`tally_check`).
    """
    s = loo.summary_frame()

    def num(x: object) -> float | None:
        v = float(x)  # type: ignore[arg-type]
        return v if np.isfinite(v) else None

    out: dict[str, object] = {}
    for outcome, baselines in VALIDATION_OUTCOMES.items():
        if outcome not in s.index:
            out[outcome] = {"n": 0}
            continue
        row = s.loc[outcome]
        entry: dict[str, object] = {"n": int(row["n"]), "model": num(row["wmae_model"])}
        gains = {}
        for key, col in baselines.items():
            value = row.get(f"wmae_{col}", np.nan)
            entry[key] = num(value)
            if entry[key] and entry["model"] is not None:
                gains[key] = num(1 - entry["model"] / value)  # type: ignore[operator]
        entry["gain"] = gains
        entry["coverage_90"] = num(row.get("coverage_90", np.nan))
        entry["coverage_90_without_model_error"] = num(row.get("coverage_90_sim", np.nan))
        if outcome != "pass_fail":
            entry["model_error"] = num(row.get("model_error", np.nan))
        out[outcome] = entry
    out["firm_vote_tallies"] = _tally_figures(loo.frame)
    out["coverage_synthetic_90"] = coverage_synthetic
    return out
