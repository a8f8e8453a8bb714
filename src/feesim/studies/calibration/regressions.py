"""Auxiliary regressions: an interval-censored logit model of shares, fitted with statsmodels.

A reported share ``y`` (approval, turnout, collection) is known only as an interval
``[lo, hi]``: a rounded figure, a bound (">0.95"), or the range between two disputed tallies.
The model is a *censored fractional logit*: the log-odds of the share are normal around a
linear index,

    logit(y_i) = x_i' beta + sigma * e_i,   e_i ~ N(0, 1),

so an interval observation contributes ``log(Phi(b_i) - Phi(a_i))`` with
``a_i = (logit(lo_i) - x_i' beta) / sigma`` and ``b_i`` likewise (an open end gives 0 or 1),
and an exact value (simulated data) contributes the normal log-density of its log-odds. This is
interval regression (a two-limit Tobit) on the log-odds scale; ``expit(x' beta)`` is the median
share, the analogue of a fractional logit's fitted share. Reliability weights multiply each
observation's log-likelihood.

With a dozen interval observations the likelihood can be flat (any line through all intervals
fits them with ``sigma -> 0``), so the estimate is a penalised (maximum a posteriori) one: a weak
normal prior on the slopes (sd ``slope_sd``, 5 log-odds per unit) and on ``log sigma`` (centred
on ``log 0.8``, sd 1). The same penalty is applied when the regression is refitted on simulated
cases, whose weights are scaled to the same total as the reported ones, so that both sides
carry the same relative penalty.

:class:`IntervalLogit` is a :class:`statsmodels.base.model.GenericLikelihoodModel` (standard
errors from the inverse Hessian of the penalised log-likelihood); :func:`fit_interval_logit`
returns a :class:`RegressionResult` with ``coef_frame()`` (statsmodels' coefficient-table column
names) and ``summary_frame(exog)`` (``mean, mean_se, mean_ci_lower, mean_ci_upper``; without
``exog`` the parameters in the same names), and the results protocol (:mod:`feesim.protocol`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special, stats
from statsmodels.base.model import GenericLikelihoodModel

from feesim.protocol import estimate, load_result, save_result

__all__ = [
    "AUXILIARY",
    "AuxiliarySpec",
    "IntervalLogit",
    "Prior",
    "RegressionResult",
    "fit_auxiliary",
    "fit_interval_logit",
    "interval_loglike",
]

#: Shares are clipped to this distance from 0 and 1 before taking log-odds (simulated values).
EPS = 0.0025


@dataclass(frozen=True)
class Prior:
    """Weak normal prior of the penalised likelihood (see the module docstring)."""

    slope_sd: float = 5.0
    log_sigma_mean: float = float(np.log(0.8))
    log_sigma_sd: float = 1.0


def _logit_bounds(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-odds of interval ends; 0 and 1 become -inf and +inf."""
    with np.errstate(divide="ignore"):
        a = np.where(lo <= 0.0, -np.inf, special.logit(np.clip(lo, 1e-12, 1 - 1e-12)))
        b = np.where(hi >= 1.0, np.inf, special.logit(np.clip(hi, 1e-12, 1 - 1e-12)))
    return a, b


def _log_prob_between(za: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """``log(Phi(zb) - Phi(za))`` computed stably in both tails."""
    upper = za > 0  # both ends in the upper tail: use the survival function
    lp = np.empty_like(za)
    la, lb = special.log_ndtr(-zb[upper]), special.log_ndtr(-za[upper])
    lp[upper] = lb + np.log1p(-np.exp(np.minimum(la - lb, 0.0)))
    la, lb = special.log_ndtr(za[~upper]), special.log_ndtr(zb[~upper])
    lp[~upper] = lb + np.log1p(-np.exp(np.minimum(la - lb, 0.0)))
    return lp


def interval_loglike(
    params: np.ndarray, lo: np.ndarray, hi: np.ndarray, exog: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-observation log-likelihood and its gradient (n x k+1) at ``params``.

    ``params`` is ``(beta, log_sigma)``. Observations with ``hi - lo < 1e-9`` are exact values
    (normal density of the clipped log-odds, without the constant Jacobian term); the others
    are intervals.
    """
    beta, log_sigma = params[:-1], params[-1]
    sigma = np.exp(log_sigma)
    mu = exog @ beta
    exact = (hi - lo) < 1e-9
    ll = np.empty(mu.shape[0])
    d_mu = np.empty(mu.shape[0])
    d_ls = np.empty(mu.shape[0])
    if exact.any():
        z = special.logit(np.clip(lo[exact], EPS, 1 - EPS))
        r = (z - mu[exact]) / sigma
        ll[exact] = -0.5 * np.log(2 * np.pi) - log_sigma - 0.5 * r**2
        d_mu[exact] = r / sigma
        d_ls[exact] = -1.0 + r**2
    iv = ~exact
    if iv.any():
        a, b = _logit_bounds(lo[iv], hi[iv])
        za, zb = (a - mu[iv]) / sigma, (b - mu[iv]) / sigma
        lp = _log_prob_between(za, zb)
        ll[iv] = lp
        pa, pb = stats.norm.pdf(za), stats.norm.pdf(zb)
        prob = np.exp(lp)
        safe = np.maximum(prob, 1e-300)
        d_mu[iv] = -(pb - pa) / (sigma * safe)
        za_pa = np.where(np.isfinite(za), za, 0.0) * pa
        zb_pb = np.where(np.isfinite(zb), zb, 0.0) * pb
        d_ls[iv] = -(zb_pb - za_pa) / safe
    grad = np.column_stack([d_mu[:, None] * exog, d_ls])
    return ll, grad


def _log_prior(params: np.ndarray, prior: Prior, slopes: np.ndarray) -> tuple[float, np.ndarray]:
    beta, ls = params[:-1], params[-1]
    lp = -0.5 * np.sum((beta[slopes] / prior.slope_sd) ** 2)
    lp -= 0.5 * ((ls - prior.log_sigma_mean) / prior.log_sigma_sd) ** 2
    g = np.zeros_like(params)
    g[:-1][slopes] = -beta[slopes] / prior.slope_sd**2
    g[-1] = -(ls - prior.log_sigma_mean) / prior.log_sigma_sd**2
    return float(lp), g


class _Penalised:
    """Penalised log-likelihood of interval data (no statsmodels overhead: fast refits)."""

    def __init__(
        self, lo: np.ndarray, hi: np.ndarray, exog: np.ndarray, w: np.ndarray, prior: Prior
    ) -> None:
        self.lo, self.hi, self.exog, self.w, self.prior = lo, hi, exog, w, prior
        self.slopes = (
            ~np.all(exog == exog[:1], axis=0) if exog.shape[0] > 1 else np.ones(exog.shape[1], bool)
        )

    def loglike_grad(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        ll, g = interval_loglike(params, self.lo, self.hi, self.exog)
        lp, gp = _log_prior(params, self.prior, self.slopes)
        return float(self.w @ ll + lp), self.w @ g + gp

    def start(self) -> np.ndarray:
        """Weighted least squares on the log-odds of interval midpoints."""
        mid = np.clip((np.clip(self.lo, EPS, 1) + np.clip(self.hi, 0, 1 - EPS)) / 2, EPS, 1 - EPS)
        z = special.logit(mid)
        sw = np.sqrt(self.w)
        beta = np.linalg.lstsq(self.exog * sw[:, None], z * sw, rcond=None)[0]
        return np.append(beta, self.prior.log_sigma_mean)

    def maximise(self, start: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
        x0 = self.start() if start is None else np.asarray(start, float)

        def f(p: np.ndarray) -> tuple[float, np.ndarray]:
            v, g = self.loglike_grad(p)
            return -v, -g

        res = optimize.minimize(
            f, x0, jac=True, method="BFGS", options={"maxiter": 500, "gtol": 1e-7}
        )
        return res.x, bool(res.success)


class IntervalLogit(GenericLikelihoodModel):
    """Interval-censored logit regression of a share (penalised maximum likelihood).

    Parameters
    ----------
    lo, hi : array_like
        Interval of each observed share (``lo == hi`` for an exact value).
    exog : array_like
        Regressors, including the constant column.
    weights : array_like, optional
        Reliability weights of the observations.
    prior : Prior, optional
    exog_names : sequence of str, optional
    """

    def __init__(
        self,
        lo: np.ndarray,
        hi: np.ndarray,
        exog: np.ndarray,
        weights: np.ndarray | None = None,
        prior: Prior | None = None,
        exog_names: Sequence[str] | None = None,
        **kwds: object,
    ) -> None:
        lo = np.asarray(lo, dtype=float)
        hi = np.asarray(hi, dtype=float)
        exog = np.asarray(exog, dtype=float)
        super().__init__(endog=(lo + hi) / 2, exog=exog, extra_params_names=["log_sigma"], **kwds)
        if exog_names is not None:
            self.exog_names[:] = list(exog_names)
        self.lo, self.hi = lo, hi
        self.w = np.ones(lo.shape[0]) if weights is None else np.asarray(weights, dtype=float)
        self.prior = prior or Prior()
        self.problem = _Penalised(lo, hi, exog, self.w, self.prior)
        self.k_extra = 1
        self.nparams = exog.shape[1] + 1

    def loglikeobs(self, params: np.ndarray) -> np.ndarray:
        """Weighted per-observation log-likelihood (prior spread evenly over observations)."""
        ll, _ = interval_loglike(np.asarray(params), self.lo, self.hi, self.exog)
        lp, _ = _log_prior(np.asarray(params), self.prior, self.problem.slopes)
        return self.w * ll + lp / ll.shape[0]

    def loglike(self, params: np.ndarray) -> float:
        """Penalised log-likelihood."""
        return self.problem.loglike_grad(np.asarray(params))[0]

    def score(self, params: np.ndarray) -> np.ndarray:
        """Gradient of the penalised log-likelihood."""
        return self.problem.loglike_grad(np.asarray(params))[1]

    def start(self) -> np.ndarray:
        """Starting values: weighted least squares on the log-odds of interval midpoints."""
        return self.problem.start()

    def map_estimate(self, start: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
        """Penalised ML estimate with BFGS (fast path, no standard errors)."""
        return self.problem.maximise(start)


@dataclass
class RegressionResult:
    """A fitted interval-censored logit regression.

    Attributes
    ----------
    name : str
        Which auxiliary regression (``approval``, ``turnout``, ``collection``, ``frozen``).
    exog_names : list of str
    params : pandas.Series
        Coefficients and ``log_sigma``.
    cov : pandas.DataFrame or None
        Covariance of the parameters (inverse Hessian); None for fast refits.
    nobs : int
    weight_sum : float
    llf : float
        Penalised log-likelihood at the estimate.
    converged : bool
    estimable : bool
        False when there are fewer observations than coefficients + 2 (then ``params`` is NaN).
    """

    name: str
    exog_names: list[str]
    params: pd.Series
    cov: pd.DataFrame | None
    nobs: int
    weight_sum: float
    llf: float
    converged: bool
    estimable: bool = True
    sm_results: object | None = field(default=None, repr=False)

    @property
    def coefs(self) -> pd.Series:
        """The regression coefficients (without ``log_sigma``)."""
        return self.params[self.exog_names]

    @property
    def bse(self) -> pd.Series:
        """Standard errors of all parameters."""
        if self.cov is None:
            return pd.Series(np.nan, index=self.params.index)
        return pd.Series(np.sqrt(np.clip(np.diag(self.cov.to_numpy()), 0, None)), self.params.index)

    def coef_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Coefficient table with statsmodels' column names.

        Columns ``Coef.``, ``Std.Err.``, ``z``, ``P>|z|``, ``[0.025``, ``0.975]`` (bounds of the
        ``1 - alpha`` interval).
        """
        se = self.bse
        q = stats.norm.ppf(1 - alpha / 2)
        z = self.params / se
        return pd.DataFrame(
            {
                "Coef.": self.params,
                "Std.Err.": se,
                "z": z,
                "P>|z|": 2 * stats.norm.sf(np.abs(z)),
                f"[{alpha / 2:g}": self.params - q * se,
                f"{1 - alpha / 2:g}]": self.params + q * se,
            }
        )

    def summary_frame(
        self, exog: np.ndarray | pd.DataFrame | None = None, alpha: float = 0.05
    ) -> pd.DataFrame:
        """Predicted median shares, or without ``exog`` the parameters, in statsmodels' names.

        With ``exog`` (rows of regressors, constant first): the predicted median share
        ``expit(x' beta)`` with delta-method standard errors, one row per row of ``exog``.
        Without: one row per parameter (coefficients and ``log_sigma``), the estimate and its
        standard error (indexed by name). Columns ``mean, mean_se, mean_ci_lower,
        mean_ci_upper``; the ``1 - alpha`` interval is normal (for shares on the log-odds scale,
        then transformed); NaN when there are no standard errors (fast refits).
        """
        if exog is None:
            return pd.DataFrame(
                estimate(self.params.to_numpy(), self.bse.to_numpy(), alpha),
                index=self.params.index,
            )
        x = np.atleast_2d(np.asarray(exog, dtype=float))
        eta = x @ self.coefs.to_numpy()
        if self.cov is None:
            v = np.full(eta.shape, np.nan)
        else:
            c = self.cov.loc[self.exog_names, self.exog_names].to_numpy()
            v = np.einsum("ij,jk,ik->i", x, c, x)
        se_eta = np.sqrt(np.clip(v, 0, None))
        q = stats.norm.ppf(1 - alpha / 2)
        p = special.expit(eta)
        return pd.DataFrame(
            {
                "mean": p,
                "mean_se": p * (1 - p) * se_eta,
                "mean_ci_lower": special.expit(eta - q * se_eta),
                "mean_ci_upper": special.expit(eta + q * se_eta),
            }
        )

    def summary_text(self) -> str:
        """The regression in a few lines: observations, log-likelihood, coefficients."""
        head = (
            f"{self.name}: interval-censored logit, {self.nobs} observations (weight "
            f"{self.weight_sum:.1f}), penalised log-likelihood {self.llf:.3f}"
            + ("" if self.converged else ", not converged")
            + ("" if self.estimable else ", not estimable (too few observations)")
        )
        return head + "\n" + self.coef_frame().round(3).to_string()

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``params`` (and ``cov``) as Parquet and the sidecar; returns the folder.

        statsmodels' own results object (``sm_results``) is not saved.
        """
        tables = {"params": self.params.to_frame("value")}
        if self.cov is not None:
            tables["cov"] = self.cov
        attrs = {
            "name": self.name,
            "exog_names": self.exog_names,
            "nobs": self.nobs,
            "weight_sum": self.weight_sum,
            "llf": self.llf,
            "converged": self.converged,
            "estimable": self.estimable,
        }
        return save_result(directory, self, tables, attrs=attrs)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> RegressionResult:
        """Read a regression written by :meth:`save` (without ``sm_results``)."""
        stored = load_result(directory, cls)
        a = stored.attrs
        return cls(
            name=a["name"],
            exog_names=list(a["exog_names"]),
            params=stored.tables["params"]["value"].rename(None),
            cov=stored.tables.get("cov"),
            nobs=a["nobs"],
            weight_sum=a["weight_sum"],
            llf=np.nan if a["llf"] is None else a["llf"],
            converged=a["converged"],
            estimable=a["estimable"],
        )

    def predict(self, exog: np.ndarray | pd.DataFrame) -> np.ndarray:
        """Median share ``expit(x' beta)``."""
        x = np.atleast_2d(np.asarray(exog, dtype=float))
        return special.expit(x @ self.coefs.to_numpy())


def fit_interval_logit(
    lo: np.ndarray,
    hi: np.ndarray,
    exog: np.ndarray,
    exog_names: Sequence[str],
    *,
    weights: np.ndarray | None = None,
    prior: Prior | None = None,
    name: str = "regression",
    fast: bool = False,
    start: np.ndarray | None = None,
) -> RegressionResult:
    """Fit an :class:`IntervalLogit`.

    Parameters
    ----------
    lo, hi : array_like
        Intervals of the shares (equal for exact values).
    exog : array_like
        Regressors with the constant.
    exog_names : sequence of str
    weights : array_like, optional
    prior : Prior, optional
    name : str
    fast : bool
        Skip statsmodels' Hessian (no standard errors): for refits inside the calibration loop.
    start : array_like, optional
        Starting values (``beta``, ``log_sigma``).

    Returns
    -------
    RegressionResult
    """
    names = list(exog_names)
    x = np.asarray(exog, dtype=float)
    n, k = x.shape
    index = [*names, "log_sigma"]
    if n < k + 2:
        return RegressionResult(
            name=name,
            exog_names=names,
            params=pd.Series(np.nan, index=index),
            cov=None,
            nobs=n,
            weight_sum=float(np.sum(weights)) if weights is not None else float(n),
            llf=np.nan,
            converged=False,
            estimable=False,
        )
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    lo_a, hi_a = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    cov = None
    sm = None
    if fast:
        problem = _Penalised(lo_a, hi_a, x, w, prior or Prior())
        params, ok = problem.maximise(start)
        llf = problem.loglike_grad(params)[0]
    else:
        model = IntervalLogit(lo_a, hi_a, x, weights=w, prior=prior, exog_names=names)
        params, ok = model.map_estimate(start)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sm = model.fit(start_params=params, method="newton", maxiter=50, disp=0)
        params = np.asarray(sm.params)
        ok = ok or bool(sm.mle_retvals.get("converged", False))
        cov = pd.DataFrame(np.asarray(sm.cov_params()), index=index, columns=index)
        llf = model.loglike(params)
    return RegressionResult(
        name=name,
        exog_names=names,
        params=pd.Series(params, index=index),
        cov=cov,
        nobs=n,
        weight_sum=float(w.sum()),
        llf=llf,
        converged=ok,
        sm_results=sm,
    )


# ----------------------------------------------------------------------------------------------
# the auxiliary regressions of the calibration
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuxiliarySpec:
    """One auxiliary regression: its outcome interval columns and regressors."""

    name: str
    outcome: str  # prefix of the ``_lo``/``_hi`` columns in the case frame
    regressors: tuple[str, ...]
    doc: str

    def exog(self, frame: pd.DataFrame) -> np.ndarray:
        """Design matrix (constant first) of the rows in ``frame``."""
        cols = [np.ones(len(frame))] + [frame[r].to_numpy(dtype=float) for r in self.regressors]
        return np.column_stack(cols)

    @property
    def exog_names(self) -> list[str]:
        """Names of the coefficients."""
        return ["const", *self.regressors]


AUXILIARY: tuple[AuxiliarySpec, ...] = (
    AuxiliarySpec(
        "approval",
        "approval",
        ("step_pct", "process", "quality_first_any"),
        "log-odds of approval (share of participants) on the relative step, the count of process "
        "steps and quality first / new firm",
    ),
    AuxiliarySpec("turnout", "turnout", (), "log-odds of turnout (share of all owners), mean only"),
    AuxiliarySpec(
        "collection",
        "collection",
        ("step_pct",),
        "log-odds of collection a year after a step on the step (the months since the step enter "
        "through the Xianghe ramp target, the only case with figures at two dates)",
    ),
    AuxiliarySpec(
        "frozen",
        "collection",
        ("years_frozen",),
        "log-odds of collection under a frozen fee on the years since the last change",
    ),
)


def fit_auxiliary(
    spec: AuxiliarySpec,
    frame: pd.DataFrame,
    *,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    fast: bool = False,
    start: np.ndarray | None = None,
    prior: Prior | None = None,
) -> RegressionResult:
    """Fit one auxiliary regression on the rows of ``frame``.

    ``lo``/``hi`` default to the frame's ``<outcome>_lo``/``_hi`` columns (pass simulated values
    as ``lo = hi``); ``weights`` default to the ``weight`` column.
    """
    lo = frame[f"{spec.outcome}_lo"].to_numpy(float) if lo is None else np.asarray(lo, float)
    hi = frame[f"{spec.outcome}_hi"].to_numpy(float) if hi is None else np.asarray(hi, float)
    w = frame["weight"].to_numpy(float) if weights is None else np.asarray(weights, float)
    return fit_interval_logit(
        lo,
        hi,
        spec.exog(frame),
        spec.exog_names,
        weights=w,
        prior=prior,
        name=spec.name,
        fast=fast,
        start=start,
    )
