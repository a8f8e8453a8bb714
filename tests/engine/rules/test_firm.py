"""The firm: its margin policy, staff floor, exit and non-renewal, and its trailing year."""

from __future__ import annotations

import numpy as np
import pytest

from feesim.engine.model import FeeModel
from feesim.engine.rules import firm
from feesim.engine.rules.firm import NOTICE, REGULAR, STAFF_SHARE
from feesim.engine.state import MonthFlows


def test_the_firm_holds_service_through_a_thin_margin_and_cuts_under_a_loss(small_scenario):
    """Margin policy: below its target margin the firm holds its staffing; only an expected loss
    (``firm.cut_margin``, 0 by default) makes it cut back to what the target margin affords."""
    model = FeeModel([small_scenario] * 4, rng=1)
    fb, t = model.firms, 0
    wage, price = model.setting.wage[t], model.setting.price[t]
    x0 = fb.staffing.copy()
    at_target = (x0 * fb.unit_cost(wage, price) + fb.equipment * price) * (1 + fb.target_margin)
    # Expected revenue: as now, 3% short (margin about 3%), 10% short (a loss), 5% more.
    fb.plan(at_target * np.array([1.0, 0.97, 0.90, 1.05]), wage, price, t)
    x1 = fb.staffing
    assert x1[0] == pytest.approx(x0[0]) and x1[1] == pytest.approx(x0[1])
    assert x1[2] < x0[2] - 0.01
    assert x1[3] >= x0[3] - 1e-12


def test_without_revenue_the_firm_cuts_at_its_pace_but_never_below_its_floor(small_scenario):
    model = FeeModel(small_scenario, rng=1)
    fb, wage, price = model.firms, model.setting.wage[0], model.setting.price[0]
    floor, pace = fb.staff_floor[0], fb.max_cut[0]
    path = [fb.staffing[0]]
    for t in range(48):
        fb.plan(np.zeros(1), wage, price, t)
        path.append(fb.staffing[0])
    path = np.array(path)
    assert path[-1] == pytest.approx(floor) and path.min() >= floor - 1e-12
    cuts = -np.diff(path)
    assert np.all(cuts >= -1e-12)
    assert np.all(cuts <= pace * np.maximum(path[:-1], 0.3) + 1e-12)
    assert fb.quality[0] > 0  # the essential posts stay


def test_cuts_fall_first_on_greening_and_repairs(small_scenario):
    fb = FeeModel([small_scenario] * 2, rng=1).firms
    full = fb.tier_q / fb.management  # the tier's standard staffing
    fb.allocate(np.array([full[0], 0.5 * full[1]]), full)
    np.testing.assert_allclose(fb.x[0], full[0])  # at the standard: every function full
    np.testing.assert_allclose(fb.staffing, [full[0], 0.5 * full[1]])
    kept = fb.x[1] / full[1]
    cleaning, security, greening, repairs = kept
    assert greening < repairs < cleaning < security  # as CUT_WEIGHT orders them
    assert kept.min() > 0 and float(fb.x[1] @ STAFF_SHARE) == pytest.approx(0.5 * full[1])


def _losing(fb, run, margin):
    """Make the firm of ``run`` remember a trailing year at ``margin`` of its revenue."""
    fb.ring_revenue[run] = 1000.0
    fb.ring_cost[run] = 1000.0 * (1 - margin)


def test_a_losing_firm_gives_notice_after_exit_loss_months(small_scenario):
    sc = small_scenario.with_changes(**{"firm.term_months": 120})
    fb = FeeModel([sc] * 3, rng=1).firms
    for run in (0, 1):
        _losing(fb, run, -0.1)
    _losing(fb, 2, 0.02)  # thin but not losing: no count
    mgmt = fb.management.copy()
    k = int(fb.exit_loss_months[0])
    pending = np.array([False, True, False])  # a price step is under way in run 1
    for month in range(k - 1):
        assert fb.review(month, np.ones(3), pending).size == 0
    assert fb.review(k - 1, np.ones(3), pending).tolist() == [0]
    assert fb.state.tolist() == [NOTICE, REGULAR, REGULAR]
    assert fb.exit_month[0] == k - 1 + fb.notice_months[0]
    assert fb.loss_months.tolist() == [k, k, 0]  # run 1 still counts, and leaves once nothing
    # Losing months demoralise the staff; a profitable year does not.
    assert fb.management[0] < mgmt[0] and fb.management[2] == mgmt[2]


def test_near_its_term_end_a_leaving_firm_serves_the_term_out(small_scenario):
    sc = small_scenario.with_changes(**{"firm.term_months": 24})
    fb = FeeModel([sc] * 2, rng=1).firms
    fb.exit_loss_months[:] = 1
    _losing(fb, 0, -0.1)
    _losing(fb, 1, 0.05)
    assert fb.review(14, np.ones(2), np.zeros(2, bool)).tolist() == [0]
    assert fb.exit_month[0] == 24  # the term ends within a year: it stays until then
    assert fb.exit_month[1] == -1


def test_a_broke_firm_gives_notice_but_a_cost_plus_one_never_does(small_scenario):
    sc = small_scenario.with_changes(**{"firm.term_months": 120})
    fb = FeeModel([sc] * 3, rng=1).firms
    fb.cash[:] = -(10**9)  # far below any credit limit
    fb.cost_plus[2] = True
    _losing(fb, 2, -0.5)
    leaving = fb.review(0, np.full(3, 1000.0), np.array([False, True, False]))
    assert leaving.tolist() == [0]  # run 1 has a step pending; run 2 is cost-plus
    assert fb.state.tolist() == [NOTICE, REGULAR, REGULAR]
    assert fb.loss_months[2] == 0


def test_the_trailing_year_counts_every_fee_yuan_the_firm_receives(small_scenario):
    def month_with(arrears, court):
        model = FeeModel(small_scenario, rng=1)
        t, zero = 0, np.zeros(1, dtype=np.int64)
        paid = {
            "cycle": np.array([50_000]),
            "overdue": zero,
            "arrears": np.array([arrears]),
            "court": np.array([court]),
            "fund": zero,
            "written_off": zero,
        }
        out = firm.settle_month(
            t,
            model.firms,
            model.ledger,
            model.setting,
            model.state,
            MonthFlows.empty(1),
            zero,
            paid,
            model.hh,
        )
        return model.firms, out

    (fa, out_a), (fb, out_b) = month_with(0, 0), month_with(30_000, 20_000)
    assert out_b["fee_paid"][0] == out_a["fee_paid"][0] + 50_000
    assert fb.ring_fee_cash[0, 0] == pytest.approx(fa.ring_fee_cash[0, 0] + 500.0)
    (coll_a, profit_a), (coll_b, profit_b) = fa.trailing(), fb.trailing()
    due = fa.ring_fee_due.sum()
    assert coll_b[0] == pytest.approx(coll_a[0] + 500.0 / due)
    assert profit_b[0] == pytest.approx(profit_a[0] + 500.0)
