"""The payment decision: propensity, the monthly hazard within a cycle, rounds and settling."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from feesim.engine.population import CC, FR, UP, build_households
from feesim.engine.rng import Decision, Streams
from feesim.engine.rules.payment import (
    cycle_hazard,
    logistic,
    payment_coefficients,
    propensity,
    rounds_paid,
    settle,
    settle_fund,
)
from feesim.engine.state import BehaviourRuns, run_values

F32 = np.float32


@pytest.fixture(scope="module")
def setup(small_scenario):
    """Households and their coefficients, set here so that the fit in use does not matter."""
    beh = dataclasses.replace(
        small_scenario.behaviour,
        pay_satisfaction=4.0,
        pay_satisfaction_fr=1.5,
        pay_trust=2.0,
        pay_norm=3.0,
        pay_norm_fr=0.5,
        pay_burden=15.0,
        pay_endorsement=1.0,
        absentee_response=0.5,
        pay_habit=2.0,
        pay_enforcement=1.0,
        pay_enforcement_fr=3.0,
    )
    hh = build_households([small_scenario], Streams(2))
    return hh, payment_coefficients(hh, run_values(BehaviourRuns, [beh]))


def _z(
    setup, satisfaction=0.5, trust=0.5, neighbours=0.5, burden=0.02, endorsed=0.0, enforcement=None
):
    hh, coef = setup
    full = lambda v: np.full(hh.n, v, dtype=F32)
    saved = hh.endorsed.copy()
    hh.endorsed[:] = endorsed
    try:
        return propensity(
            hh,
            coef,
            full(satisfaction),
            full(trust),
            full(neighbours),
            full(burden),
            F32(0),
            None if enforcement is None else full(enforcement),
        )
    finally:
        hh.endorsed[:] = saved


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("satisfaction", 0.2, 0.8),
        ("trust", 0.2, 0.8),
        ("endorsed", 0.0, 1.0),
        ("enforcement", 0.0, 1.0),
    ],
)
def test_propensity_rises_with_satisfaction_trust_endorsement_and_enforcement(
    setup, name, low, high
):
    hh, _ = setup
    lo, hi = _z(setup, **{name: low}), _z(setup, **{name: high})
    assert np.all(hi >= lo)
    if name != "satisfaction":
        assert np.all(hi > lo)
    else:  # unconditional payers weigh the service least, but all weigh it
        for t in (CC, FR, UP):
            assert np.all(hi[hh.htype == t] > lo[hh.htype == t])


def test_propensity_falls_with_the_bill_s_burden_and_only_cooperators_follow_neighbours(setup):
    hh, _ = setup
    assert np.all(_z(setup, burden=0.1) < _z(setup, burden=0.01))
    gain = _z(setup, neighbours=0.9) - _z(setup, neighbours=0.1)
    assert np.all(gain[hh.htype == CC] > 0) and np.all(gain[hh.htype == FR] > 0)
    np.testing.assert_allclose(gain[hh.htype == UP], 0.0, atol=1e-6)
    # Conditional cooperators weigh what they see more than free riders do.
    assert gain[hh.htype == CC].min() > gain[hh.htype == FR].max()


@pytest.mark.parametrize("cycle", [1.0, 3.0, 12.0])
def test_the_monthly_hazard_pays_the_propensity_by_the_cycle_s_end(cycle):
    z = np.linspace(-6, 6, 49, dtype=F32)
    h = cycle_hazard(z, cycle)
    assert h.dtype == F32 and np.all((h >= 0) & (h <= 1))
    np.testing.assert_allclose(1 - (1 - h.astype(np.float64)) ** cycle, logistic(z), atol=2e-6)
    # A longer cycle spreads the same propensity over more months.
    if cycle > 1:
        assert np.all(h[(z > -5) & (z < 5)] < logistic(z)[(z > -5) & (z < 5)])


def test_the_hazard_takes_a_cycle_per_household():
    z = np.zeros(3, dtype=F32)
    h = cycle_hazard(z, np.array([1.0, 3.0, 12.0], dtype=F32))
    np.testing.assert_allclose(h, [cycle_hazard(z[:1], c)[0] for c in (1.0, 3.0, 12.0)])


def test_logistic_and_hazard_are_safe_at_the_extremes():
    z = np.array([-np.inf, -1e30, -1e4, -100, 0, 100, 1e4, 1e30, np.inf], dtype=F32)
    with np.errstate(invalid="raise", divide="raise"):
        p = logistic(z.copy())
    assert p.dtype == F32 and not np.isnan(p).any()
    np.testing.assert_array_equal(p[[0, 1, 2]], 0.0)
    np.testing.assert_array_equal(p[[6, 7, 8]], 1.0)
    assert p[4] == 0.5 and np.all(np.diff(p) >= 0)
    h = cycle_hazard(z, 3.0)
    assert not np.isnan(h).any() and h[0] == 0.0 and h[-1] == 1.0


def test_rounds_pay_no_later_with_better_odds_and_pay_as_the_probabilities_say():
    u = Streams(1).uniform(Decision.PAYMENT, 0, 200_000)
    low = [np.full(u.size, F32(p)) for p in (0.2, 0.1, 0.3)]
    high = [np.full(u.size, F32(p)) for p in (0.3, 0.1, 0.4)]
    a, b = rounds_paid(u, low), rounds_paid(u, high)
    # Monotone coupling: nobody who paid with worse odds fails to pay, or pays later, with better.
    assert np.all((b >= 0)[a >= 0]) and np.all(b[a >= 0] <= a[a >= 0])
    for k in range(3):
        expected = 1 - np.prod([1 - p[0] for p in low[: k + 1]])
        assert np.mean((a >= 0) & (a <= k)) == pytest.approx(expected, abs=0.005)


def test_payers_settle_this_year_s_bills_and_arrears_only_when_demanded(small_scenario):
    hh = build_households([small_scenario, small_scenario], Streams(3))
    hh.owed_cycle[:], hh.overdue[:], hh.arrears[:], hh.owed_fund[:] = 100, 20, 7, 5
    pays = np.arange(hh.n) % 2 == 0
    cycle, overdue, arrears = settle(hh, pays)
    np.testing.assert_array_equal(cycle, [120 * 100, 120 * 100])
    np.testing.assert_array_equal(overdue, [120 * 20, 120 * 20])
    np.testing.assert_array_equal(arrears, [0, 0])
    assert np.all(hh.owed_cycle[pays] == 0) and np.all(hh.owed_cycle[~pays] == 100)
    assert np.all(hh.arrears == 7)
    # A campaign in run 1 brings the full statement: its payers clear their arrears too.
    demanded = hh.run == 1
    _, _, arrears = settle(hh, pays, demanded, month=9)
    np.testing.assert_array_equal(arrears, [0, 120 * 7])
    assert np.all(hh.arrears[pays & demanded] == 0) and np.all(hh.arrears[~demanded] == 7)
    assert np.all(hh.demand_month[pays & demanded] == 9) and np.all(hh.demand_month[~demanded] == 0)
    np.testing.assert_array_equal(settle_fund(hh, pays), [120 * 5, 120 * 5])
    assert np.all(hh.owed_fund[~pays] == 5) and np.all(hh.owed_fund[pays] == 0)


# -- from the tests of the land branch that hold on this engine --
def test_free_riders_respond_most_to_enforcement(setup):
    hh, _ = setup
    gain = _z(setup, enforcement=1.0) - _z(setup)
    np.testing.assert_allclose(gain[hh.htype == FR], 3.0, atol=1e-5)
    np.testing.assert_allclose(gain[hh.htype == CC], 1.0, atol=1e-5)
    np.testing.assert_allclose(gain[hh.htype == UP], 1.0, atol=1e-5)


def test_the_own_record_and_the_community_offset_shift_the_log_odds(setup):
    hh, coef = setup
    base = _z(setup)
    saved = hh.habit.copy()
    try:
        hh.habit[:] = saved + F32(0.25)
        np.testing.assert_allclose(_z(setup) - base, 2.0 * 0.25, atol=1e-5)
    finally:
        hh.habit[:] = saved
    full = lambda v: np.full(hh.n, v, dtype=F32)
    shifted = propensity(hh, coef, full(0.5), full(0.5), full(0.5), full(0.02), F32(0.7))
    np.testing.assert_allclose(shifted - base, 0.7, atol=1e-5)
