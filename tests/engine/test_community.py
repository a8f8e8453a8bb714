"""The committee's desk: each lever reaches the rule that owns it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from feesim import FeeModel
from feesim.engine.rules.firm import full_service_fee


@pytest.fixture
def model(small_scenario):
    return FeeModel(dataclasses.replace(small_scenario, proposals=()), rng=3)


def test_a_voted_fee_moves_the_anchor_by_the_share_that_approved(model):
    desk, p = model.desk, model.perception
    before = model.state.fee[0, :2].copy()
    desk.set_fee(0, before * 1.5, accepted=0.6)
    np.testing.assert_allclose(model.state.fee[0, :2], before * 1.5)
    np.testing.assert_allclose(p.fee_anchor[0, :2], before + 0.6 * 0.5 * before)


def test_disclosure_moves_residents_view_of_full_service_to_the_true_cost(model):
    desk, st = model.desk, model.state
    true_fee = full_service_fee(model.firms, model.setting, 0, 0)
    start = st.full_fee[0, :2].copy()
    desk.disclose_costs(0, 0.25)
    np.testing.assert_allclose(st.full_fee[0, :2], start + 0.25 * (true_fee - start))


def test_a_fund_bill_reaches_every_unit_and_the_month_s_flows(model):
    desk, hh = model.desk, model.hh
    desk.bill_fund(0, 3, 20.0, steps=3)
    expected = np.rint(20.0 * hh.area.astype(np.float64) * 100).astype(np.int64)
    np.testing.assert_array_equal(hh.owed_fund, expected)
    assert desk.flows.fund_billed[0] == expected.sum()
    assert model.campaigns.bill == ["fund"] and model.campaigns.steps == [3]


def test_trust_events_and_levers_write_where_the_rules_read(model):
    desk = model.desk
    t0 = model.perception.trust[0]
    desk.trust_event(0, 0.1)
    assert model.perception.trust[0] == pytest.approx(t0 + 0.1)
    desk.set_commitment(0, 0.7)
    desk.set_service_floor(0, 0.6)
    desk.order_rectification(0, 9)
    desk.release_public_income(0)
    assert (model.firms.commit_q[0], model.firms.floor_q[0]) == (0.7, 0.6)
    assert model.firms.rectify_until[0] == 9 and model.state.released[0]
    assert desk.commitment(0) == 0.7 and desk.service_floor(0) == 0.6
    assert desk.firm_is_regular(0)


def test_the_agenda_ignores_months_outside_the_horizon(model):
    model.agenda.add(0, -1)
    model.agenda.add(0, model.months)
    model.agenda.add(0, 5)
    assert model.agenda.pop(5) == {0}
    assert model.agenda.pop(-1) == set() and model.agenda.pop(model.months) == set()
