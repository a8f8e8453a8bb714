"""Month 0: the community as reported, under the conditions its figures were observed in."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from feesim.engine.baseline import HistoryValues, initial_collection, year_end_rate
from feesim.engine.model import FeeModel


@pytest.fixture(scope="module")
def steady(small_scenario):
    """No proposal and no wage growth: nothing changes after month 0 (1,000 households, a year)."""
    return dataclasses.replace(small_scenario, proposals=()).with_changes(
        **{
            "community.households": 1000,
            "simulation.months": 12,
            "government.wage_growth": 0.0,
        }
    )


def _december(scenario, runs=4):
    model = FeeModel([scenario] * runs, rng=1)
    staffing, offset = model.firms.staffing.copy(), model.residents.offset.copy()
    s = model.run().series
    return staffing, offset, s.loc[s["calendar_month"] == 12, "collection_rate"].to_numpy()


@pytest.mark.parametrize("bills", [1, 4, 12])
def test_the_closed_form_year_end_rate_matches_a_simulated_year(bills):
    p = np.array([0.3, 0.7, 0.95], dtype=np.float32)
    rng = np.random.default_rng(0)
    n = 100_000
    # A payer settles every bill of the year issued so far; a bill is unpaid in December if its
    # household paid in none of the cycles from its own to the last.
    pays = rng.random((n, bills, p.size)) < p
    paid_later = np.flip(np.logical_or.accumulate(np.flip(pays, axis=1), axis=1), axis=1)
    simulated = paid_later.mean(axis=(0, 1))
    np.testing.assert_allclose(year_end_rate(p, bills), simulated, atol=0.005)
    assert year_end_rate(np.array([0.0, 1.0], dtype=np.float32), bills).tolist() == [0.0, 1.0]


def test_the_first_year_ends_at_the_reported_rate_under_the_reference_history(steady):
    assert steady.community.initial_collection_rate == 0.8
    _, offset, december = _december(steady)
    assert december.mean() == pytest.approx(0.8, abs=0.02)
    assert np.all(np.abs(december - 0.8) < 0.05)
    assert np.all(offset != 0)  # the offset carries what the mechanisms do not name


def test_without_a_reported_rate_there_is_no_community_offset(steady):
    unknown = steady.with_changes(**{"community.initial_collection_rate": None})
    assert np.isnan(initial_collection([unknown, steady])[0])
    _, offset, _ = _december(unknown, runs=2)
    np.testing.assert_array_equal(offset, 0.0)


def test_a_lever_in_the_history_is_part_of_the_reported_rate_and_one_outside_it_acts(steady):
    subsidy = steady.with_changes(
        **{"government.subsidy_per_m2": 0.3, "government.subsidy_min_score": 0.0}
    )
    held = subsidy.with_changes(**{"history.subsidy_per_m2": 0.3})
    assert HistoryValues.of([subsidy, held]).subsidy_rate.tolist() == [0.0, 0.3]
    x_new, off_new, dec_new = _december(subsidy)
    x_held, off_held, dec_held = _december(held)
    # Held when the figures were reported: the firm already staffed on it, residents' offset
    # is what remains of the reported rate, and the year ends at the reported rate.
    assert np.all(x_held > x_new)
    assert np.all(off_held < off_new)
    assert dec_held.mean() == pytest.approx(0.8, abs=0.02)
    # New: the subsidy acts from month 0 through the firm's staffing, and collection rises.
    assert dec_new.mean() > dec_held.mean()


def test_the_history_s_public_income_share_defaults_to_the_firm_s(steady):
    income = steady.with_changes(
        **{"history.public_income_yuan_month": 1000.0, "firm.public_income_firm_share": 0.5}
    )
    own = income.with_changes(**{"history.public_income_firm_share": 0.2})
    np.testing.assert_allclose(HistoryValues.of([income, own]).public_to_firm, [500.0, 200.0])


# -- from the tests of the land branch that hold on this engine --
def test_the_spin_up_leaves_arrears_and_a_trailing_year_of_cash(steady):
    model = FeeModel([steady] * 2, rng=1)
    hh, fb = model.hh, model.firms
    owing = hh.arrears > 0
    assert 0.05 < owing.mean() < 0.6  # unpaid bills of the last spin-up year
    # The trailing year's fee cash is about the reported share of the year's billing.
    share = fb.ring_fee_cash.sum(axis=1) / (12 * fb.ring_fee_due[:, 0])
    np.testing.assert_allclose(share, 0.8, atol=0.03)
    assert np.all(fb.ring_cost > 0) and np.all(fb.cash > 0)
