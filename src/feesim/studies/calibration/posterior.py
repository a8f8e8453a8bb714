"""The posterior of the behavioural parameters: sequential Monte Carlo over the fit's objective.

The calibration's objective (:class:`~feesim.studies.calibration.fit.Calibrator`) is half the
sum of squares of whitened moment residuals plus a normal prior on every parameter: read as
``-log`` of a pseudo-posterior (the indirect-inference likelihood of the moments times the
prior), it defines a density on the parameters' box. :func:`sample_posterior` draws from it
with one round of sequential Monte Carlo (resample-move):

1. *propose*: ``particles`` points from a Student-t (5 degrees of freedom) around the fit, with
   the fit's Laplace covariance (:attr:`FitResult.cov`) inflated by ``inflation``, kept inside
   the box;
2. *weight*: each by the pseudo-posterior over the proposal density (importance sampling; every
   evaluation simulates all cases on the fit's common random numbers);
3. *resample* systematically to equal weights;
4. *move*: ``moves`` random-walk Metropolis steps per particle with the particles' covariance
   scaled by ``2.38^2 / d``, which keeps the posterior invariant and spreads duplicates.

The effective sample size of the weights is reported (``attrs["ess"]``): a small one means the
proposal missed much of the posterior and the moves did most of the work. The draws are the
parameter ensemble that forecasts and portfolios use. :func:`coverage` checks on synthetic data
that central intervals of the draws cover the parameters that made the data.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import stats

from feesim.studies.calibration.fit import Calibrator, FitResult
from feesim.studies.runner import progress_bar

__all__ = ["coverage", "sample_posterior"]

log = logging.getLogger(__name__)


def _log_target(cal: Calibrator, u: np.ndarray) -> float:
    if np.any(u < 0) or np.any(u > 1):
        return -np.inf
    r = cal.residuals(u)
    return -0.5 * float(r @ r)


def sample_posterior(
    cal: Calibrator,
    fit: FitResult,
    *,
    particles: int = 64,
    moves: int = 1,
    inflation: float = 1.5,
    rng: np.random.Generator | int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Draws of the parameters from the pseudo-posterior (see the module doc).

    Returns
    -------
    pandas.DataFrame
        One row per member (index ``member``), a column per parameter; ``attrs`` holds ``u``
        (unit-cube points), ``ess`` (effective sample size of the importance weights) and
        ``acceptance`` (of the moves).
    """
    rng = np.random.default_rng(rng)
    d = len(cal.names)
    scale = cal.hi - cal.lo
    cov_u = fit.cov.to_numpy() / np.outer(scale, scale) * inflation**2
    cov_u = (cov_u + cov_u.T) / 2 + 1e-8 * np.eye(d)
    proposal = stats.multivariate_t(loc=fit.u, shape=cov_u, df=5)
    draws = []
    while len(draws) < particles:
        u = np.atleast_2d(proposal.rvs(size=particles, random_state=rng))
        draws += [x for x in u if np.all((x >= 0) & (x <= 1))]
    u = np.array(draws[:particles])
    # No monitor thread: the calibration's pool may fork its workers later.
    bar = progress_bar(particles * (1 + moves), "posterior", "particle", progress)
    logp = np.empty(particles)
    cal.simulate_many(list(u))  # in parallel on the calibrator's runner; read below
    for i in range(particles):
        logp[i] = _log_target(cal, u[i])
        bar.update()
    logw = logp - proposal.logpdf(u)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    ess = float(1.0 / np.sum(w**2))
    # Systematic resampling.
    positions = (rng.random() + np.arange(particles)) / particles
    idx = np.minimum(np.searchsorted(np.cumsum(w), positions), particles - 1)
    u, logp = u[idx].copy(), logp[idx].copy()
    accepted = 0
    for _ in range(moves):
        cov = np.cov(u.T) * (2.38**2 / d) + 1e-8 * np.eye(d)
        # Each particle's candidate and acceptance draw, in the order of a particle-by-particle
        # loop (a candidate depends on its own particle only), so that the candidates can be
        # simulated together.
        cands, draws = [], []
        for i in range(particles):
            cands.append(rng.multivariate_normal(u[i], cov))
            draws.append(rng.random())
        cal.simulate_many([c for c in cands if np.all((c >= 0) & (c <= 1))])
        for i in range(particles):
            lp = _log_target(cal, cands[i])
            if np.log(draws[i]) < lp - logp[i]:
                u[i], logp[i] = cands[i], lp
                accepted += 1
            bar.update()
    bar.close()
    out = pd.DataFrame([cal.theta(x) for x in u])
    out.index.name = "member"
    out.attrs.update(u=list(u), ess=ess, acceptance=accepted / max(particles * moves, 1))
    log.info(
        "posterior: %d particles, ESS %.1f, acceptance %.2f",
        particles,
        ess,
        out.attrs["acceptance"],
    )
    return out


def coverage(draws: pd.DataFrame, truth: pd.Series, level: float = 0.9) -> pd.DataFrame:
    """Whether each parameter's central ``level`` interval of ``draws`` covers ``truth``."""
    a = (1 - level) / 2
    lo, hi = draws.quantile(a), draws.quantile(1 - a)
    t = truth.reindex(draws.columns)
    return pd.DataFrame({"truth": t, "lower": lo, "upper": hi, "covered": (t >= lo) & (t <= hi)})
