"""Collection: bills, cycles and years closing, campaign rounds, suits and limitation."""

from __future__ import annotations

import numpy as np
import pytest

from feesim.engine.model import FeeModel
from feesim.engine.rules import collection
from feesim.engine.rules.collection import CampaignPlan


@pytest.fixture
def model(small_scenario):
    """The small community (quarterly bills from January) before its first month."""
    return FeeModel(small_scenario, rng=1)


def test_bills_go_out_at_each_cycle_s_start_and_month_0_bills_the_rest(small_scenario):
    sc = small_scenario.with_changes(**{"simulation.start": "2024-02"})
    m = FeeModel(sc, rng=1)
    hh, setting, state = m.hh, m.setting, m.state
    fee_h = hh.by_type(state.fee).astype(np.float64)
    monthly = np.rint(fee_h * hh.area * 100).astype(np.int64)
    # February is the quarter's second month: month 0 bills February and March.
    billed = collection.bill(0, hh, m.residents.fee_h, setting, state)
    assert billed[0] == pytest.approx(2 * monthly.sum(), abs=hh.n)
    np.testing.assert_array_equal(hh.owed_cycle, np.rint(fee_h * hh.area * 2 * 100))
    assert collection.bill(1, hh, m.residents.fee_h, setting, state)[0] == 0  # March
    april = collection.bill(2, hh, m.residents.fee_h, setting, state)[0]
    assert april == pytest.approx(3 * monthly.sum(), abs=hh.n)
    assert state.billed_year[0] == billed[0] + april


def test_closing_a_cycle_moves_records_and_the_year_end_makes_arrears(model):
    hh, setting = model.hh, model.setting
    hh.owed_cycle[:] = np.where(np.arange(hh.n) % 2 == 0, 500, 0)
    hh.overdue[:], hh.arrears[:] = 0, 0
    habit, paid = hh.habit.copy(), hh.owed_cycle == 0
    assert collection.close_cycles(0, hh, setting) is None  # January closes no quarter
    neighbours = collection.close_cycles(2, hh, setting)  # March closes Q1
    w = collection.record_weight(setting.beh.habit_memory, 3)
    assert w == pytest.approx(1 - (1 - setting.beh.habit_memory) ** 3)
    np.testing.assert_allclose(hh.habit[paid], habit[paid] + w * (1 - habit[paid]), rtol=1e-5)
    np.testing.assert_allclose(hh.habit[~paid], habit[~paid] * (1 - w), rtol=1e-5)
    np.testing.assert_allclose(neighbours, collection.stairwell_share(hh))
    assert np.all(hh.overdue[::2] == 500)
    collection.close_cycles(11, hh, setting)  # December
    assert np.all(hh.arrears[::2] == 500) and np.all(hh.overdue == 0)
    assert np.all(hh.demand_month[::2] == 11)  # the limitation clock starts


def test_limitation_writes_off_arrears_with_no_demand_for_its_period(model):
    hh = model.hh
    hh.arrears[:] = 1000
    hh.demand_month[:] = 0
    hh.demand_month[:10] = 20  # demanded since
    hh.suit_month[10:20] = 30  # a suit is pending
    lost = collection.write_off_expired(hh, limitation_months=36, month=35)
    assert lost[0] == 0
    lost = collection.write_off_expired(hh, 36, month=47)
    assert lost[0] == 1000 * (hh.n - 20)
    assert np.all(hh.arrears[:20] == 1000) and np.all(hh.arrears[20:] == 0)


def test_a_short_campaign_leaves_the_rest_of_the_month_to_ordinary_payment():
    from feesim.engine.rules.collection import CampaignPlan

    plan = CampaignPlan()
    for run, steps in enumerate((1, 2, 3)):
        plan.add(run, start=4, steps=steps, bill="fee")
    slots, legal, active, share = plan.schedule(4, "fee", 4)
    assert slots[:, 0].tolist() == [1, 0, -1] and share[0] == pytest.approx(18 / 30)
    assert slots[:, 1].tolist() == [1, 2, 0] and share[1] == pytest.approx(10 / 30)
    assert slots[:, 2].tolist() == [1, 2, 3] and share[2] == 1.0  # the steps fill the month
    assert slots[:, 3].tolist() == [0, -1, -1] and share[3] == 1.0  # no campaign
    assert active == [0, 1, 2] and not legal.any()


def test_a_five_step_campaign_runs_over_three_months_and_ends_in_court():
    plan = CampaignPlan()
    plan.add(0, start=2, steps=5, bill="fee")
    plan.add(1, start=2, steps=5, bill="fund")
    months = {t: plan.schedule(t, "fee", 2) for t in range(1, 6)}
    assert months[1][2] == [] and months[5][2] == []
    assert months[2][0][:, 0].tolist() == [1, 2, 3]
    assert months[3][0][:, 0].tolist() == [4, -1, -1]  # step 4 takes the whole second month
    assert months[4][0][:, 0].tolist() == [0, -1, -1] and months[4][1].tolist() == [True, False]
    assert months[2][0][:, 1].tolist() == [0, -1, -1]  # run 1's campaign is for its fund bill
    with pytest.raises(ValueError, match="bill"):
        plan.add(0, 1, 2, "rent")


def test_suits_are_filed_where_they_pay_and_deterrence_saturates(model):
    hh, legal = model.hh, model.setting.legal
    hh.arrears[:] = 0
    hh.arrears[:5] = 1_000_000  # 10,000 yuan owed
    monthly = np.full(hh.n, 5_000.0)  # 50 yuan a month
    eligible = collection.eligible_debtors(hh, monthly, threshold_months=6)
    assert eligible[:5].all() and not eligible[5:].any()
    hh.suit_month[0] = 3
    assert not collection.eligible_debtors(hh, monthly, 6)[0]  # already sued
    # A suit pays for itself on a large debt, not on nothing owed.
    assert legal.cost_per_case_yuan > 0
    worth = collection.worth_suing(hh, np.where(np.arange(hh.n) < 10, 5_000.0, 0.0), legal)
    assert worth[:5].all() and not worth[10:].any()
    hh.arrears[:5] = 100
    assert not collection.worth_suing(hh, np.zeros(hh.n), legal)[:5].any()
    d = collection.deterrence(np.array([0.0, 1.0, 3.0, 100.0]), 1.0)
    np.testing.assert_allclose(d[:3], [0.0, 0.5, 0.75])
    assert d[3] < 1.0


# -- from the tests of the land branch that hold on this engine --
def test_long_term_debtors_not_yet_sued_are_eligible(model):
    hh = model.hh
    hh.arrears[:] = 0
    hh.arrears[:5] = 1_000_000  # 10,000 yuan owed
    monthly = np.full(hh.n, 5_000.0)  # 50 yuan a month
    eligible = collection.eligible_debtors(hh, monthly, threshold_months=6)
    assert eligible[:5].all() and not eligible[5:].any()
    hh.suit_month[0] = 3
    assert not collection.eligible_debtors(hh, monthly, 6)[0]  # already sued
    # Exactly the threshold counts; just below it does not.
    hh.arrears[1] = 30_000 - hh.owed_cycle[1] - hh.overdue[1]
    hh.arrears[2] = 30_000 - hh.owed_cycle[2] - hh.overdue[2] - 1
    eligible = collection.eligible_debtors(hh, monthly, 6)
    assert eligible[1] and not eligible[2]
