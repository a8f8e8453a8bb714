"""The interval-censored logit: likelihood, gradient, and recovery of known coefficients."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from feesim.studies.calibration.regressions import (
    Prior,
    fit_interval_logit,
    interval_loglike,
)


def test_interval_likelihood_matches_a_hand_computed_value():
    # logit(y) ~ N(mu, sigma): P(0.6 < y < 0.8) with mu = 1, sigma = 0.5.
    params = np.array([1.0, np.log(0.5)])
    x = np.ones((1, 1))
    ll, _ = interval_loglike(params, np.array([0.6]), np.array([0.8]), x)
    a, b = (special.logit(0.6) - 1) / 0.5, (special.logit(0.8) - 1) / 0.5
    assert ll[0] == pytest.approx(np.log(stats.norm.cdf(b) - stats.norm.cdf(a)), rel=1e-10)


def test_interval_likelihood_matches_brute_force_integration():
    # Integrate the logit-normal density of the share itself over [lo, hi].
    mu, sigma = 0.4, 0.9
    dens = lambda y: stats.norm.pdf((special.logit(y) - mu) / sigma) / (sigma * y * (1 - y))
    for lo, hi in ((0.5, 1.0), (0.0, 0.3), (0.845, 0.855)):
        brute = integrate.quad(dens, max(lo, 1e-12), min(hi, 1 - 1e-12), limit=200)[0]
        ll, _ = interval_loglike(
            np.array([mu, np.log(sigma)]), np.array([lo]), np.array([hi]), np.ones((1, 1))
        )
        assert np.exp(ll[0]) == pytest.approx(brute, rel=1e-6)


def test_open_bounds_and_extreme_tails_stay_finite():
    params = np.array([8.0, np.log(0.3)])
    ll, g = interval_loglike(
        params, np.array([0.0, 0.95, 0.1]), np.array([0.2, 1.0, 0.11]), np.ones((3, 1))
    )
    assert np.isfinite(ll).all() and np.isfinite(g).all()
    assert ll[1] > ll[0]  # a high mean makes ">0.95" likely and "<0.2" unlikely


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    x = np.column_stack([np.ones(6), rng.random(6)])
    lo = np.array([0.5, 0.2, 0.845, 0.0, 0.6, 0.7])
    hi = np.array([1.0, 0.4, 0.855, 0.3, 0.6, 0.9])  # one exact value (0.6)
    p = np.array([0.3, -0.8, np.log(0.7)])
    _, g = interval_loglike(p, lo, hi, x)
    for j in range(3):
        e = np.zeros(3)
        e[j] = 1e-6
        up, _ = interval_loglike(p + e, lo, hi, x)
        dn, _ = interval_loglike(p - e, lo, hi, x)
        np.testing.assert_allclose(g[:, j], (up - dn) / 2e-6, rtol=1e-5, atol=1e-7)


def test_regression_recovers_known_coefficients_from_censored_data():
    rng = np.random.default_rng(11)
    n = 400
    step = rng.uniform(0.1, 1.2, n)
    process = rng.integers(0, 4, n).astype(float)
    beta = np.array([1.5, -1.8, 0.4])
    x = np.column_stack([np.ones(n), step, process])
    y = special.expit(x @ beta + 0.5 * rng.standard_normal(n))
    # Censor as the sources do: a third reported as bounds, the rest rounded to percentages.
    lo, hi = np.round(y, 2) - 0.005, np.round(y, 2) + 0.005
    bound = rng.random(n) < 0.33
    cut = np.where(y > 0.5, 0.5, 0.0)
    lo = np.where(bound, cut, lo)
    hi = np.where(bound, np.where(y > 0.5, 1.0, 0.5), hi)
    res = fit_interval_logit(
        np.clip(lo, 0, 1), np.clip(hi, 0, 1), x, ["const", "step_pct", "process"]
    )
    ci = res.coef_frame()
    assert list(ci.columns) == ["Coef.", "Std.Err.", "z", "P>|z|", "[0.025", "0.975]"]
    for name, b in zip(["const", "step_pct", "process"], beta, strict=True):
        assert ci.loc[name, "[0.025"] < b < ci.loc[name, "0.975]"]
    assert np.exp(res.params["log_sigma"]) == pytest.approx(0.5, abs=0.1)


def test_summary_frame_predicts_shares_with_intervals():
    rng = np.random.default_rng(5)
    x = np.column_stack([np.ones(50), rng.random(50)])
    y = special.expit(x @ np.array([1.0, -1.0]) + 0.3 * rng.standard_normal(50))
    res = fit_interval_logit(y, y, x, ["const", "step_pct"])
    sf = res.summary_frame(np.array([[1.0, 0.0], [1.0, 1.0]]))
    assert list(sf.columns) == ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper"]
    assert (sf["mean_ci_lower"] < sf["mean"]).all() and (sf["mean"] < sf["mean_ci_upper"]).all()
    assert sf["mean"].iloc[0] > sf["mean"].iloc[1]


def test_fast_and_statsmodels_paths_agree():
    rng = np.random.default_rng(8)
    x = np.column_stack([np.ones(30), rng.random(30)])
    y = special.expit(x @ np.array([0.5, 1.0]) + 0.4 * rng.standard_normal(30))
    lo, hi = np.round(y, 2) - 0.005, np.round(y, 2) + 0.005
    full = fit_interval_logit(lo, hi, x, ["const", "step_pct"])
    fast = fit_interval_logit(lo, hi, x, ["const", "step_pct"], fast=True)
    np.testing.assert_allclose(full.params, fast.params, atol=1e-3)
    assert fast.cov is None and full.cov is not None


def test_too_few_rows_is_reported_not_estimated():
    res = fit_interval_logit(
        np.array([0.2]), np.array([0.3]), np.ones((1, 2)), ["const", "years"], prior=Prior()
    )
    assert not res.estimable and res.params.isna().all()
