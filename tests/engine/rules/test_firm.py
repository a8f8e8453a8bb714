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
    # A low staff floor, so that the margin policy, not the floor, decides.
    sc = small_scenario.with_changes(**{"firm.staff_floor": 0.1})
    model = FeeModel([sc] * 4, rng=1)
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
    full = 1.0 / fb.management
    fb.allocate(np.array([full[0], 0.5 * full[1]]))
    np.testing.assert_allclose(fb.x[0], full[0])  # full staffing: every function full
    np.testing.assert_allclose(fb.staffing, [full[0], 0.5 * full[1]])
    kept = fb.x[1] / full[1]
    cleaning, security, greening, repairs = kept
    assert greening < repairs < cleaning and repairs < security
    assert kept.min() > 0 and float(fb.x[1] @ STAFF_SHARE) == pytest.approx(0.5 * full[1])


def _losing(fb, run, margin):
    """Make the firm of ``run`` remember a trailing year at ``margin`` of its revenue."""
    fb.ring_revenue[run] = 1000.0
    fb.ring_cost[run] = 1000.0 * (1 - margin)


def test_a_losing_firm_gives_notice_after_exit_loss_months(small_scenario):
    sc = small_scenario.with_changes(**{"firm.term_months": 120})
    fb = FeeModel([sc] * 2, rng=1).firms
    for run in (0, 1):
        _losing(fb, run, -0.1)
    k = int(fb.exit_loss_months[0])
    pending = np.array([False, True])  # a price step is under way in run 1
    for month in range(k - 1):
        assert fb.review(month, np.ones(2), pending, np.zeros(2)).size == 0
    assert fb.review(k - 1, np.ones(2), pending, np.zeros(2)).tolist() == [0]
    assert fb.state.tolist() == [NOTICE, REGULAR]
    assert fb.exit_month[0] == k - 1 + fb.notice_months[0]
    assert fb.loss_months[1] == k  # it still counts, and will leave once nothing is pending


def test_a_thin_margin_ends_the_contract_at_its_term(small_scenario):
    sc = small_scenario.with_changes(**{"firm.term_months": 24})
    fb = FeeModel([sc] * 3, rng=1).firms
    fb.renewal_margin[:], fb.renewal_months[:] = 0.05, 6
    for run, margin in enumerate((0.02, 0.08, 0.02)):
        _losing(fb, run, margin)
    decide = 24 - int(fb.notice_months[0])  # the notice period before the term ends
    for month in range(decide):
        fb.review(month, np.ones(3), np.zeros(3, bool), np.zeros(3))
        if month == decide - 3:  # run 2's margin recovers for a while: not thin for long
            _losing(fb, 2, 0.08)
        if month == decide - 2:
            _losing(fb, 2, 0.02)
    assert (fb.state == REGULAR).all()
    leaving = fb.review(decide, np.ones(3), np.zeros(3, bool), np.zeros(3))
    assert leaving.tolist() == [0]
    assert fb.exit_month[0] == 24  # it serves the term out
    assert fb.loss_months.max() == 0  # thin, not losing


def test_the_trailing_year_plans_on_this_year_s_bills_not_on_recovered_arrears(small_scenario):
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
        firm.settle_month(
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
        return model.firms.trailing()

    (coll_a, profit_a), (coll_b, profit_b) = month_with(0, 0), month_with(30_000, 20_000)
    assert coll_b[0] == coll_a[0]  # collection the firm plans on: unchanged
    assert profit_b[0] == pytest.approx(profit_a[0] + 500.0)  # but the cash is its own


def test_staffing_solves_are_kept_and_a_kept_one_is_what_a_new_solve_gives(small_scenario):
    """``FirmBook.staffing_for`` keeps its solves per (quality, management): a second call with
    equal arrays returns the kept, read-only result, equal to the solve itself bit for bit; any
    change of either array solves again."""
    fb = FeeModel([small_scenario] * 3, rng=1).firms
    fb.solved.clear()
    q = np.array([0.0, 0.6, 0.9])
    first = fb.staffing_for(q)
    np.testing.assert_array_equal(first, firm.staffing_for_quality(q, fb.management))
    assert fb.staffing_for(q.copy()) is first  # equal arrays: the kept solve
    with pytest.raises(ValueError):
        first[1] = 0.0  # shared with later calls, so read-only
    fb.management[2] -= 0.01  # a losing firm's management slips
    moved = fb.staffing_for(q)
    assert moved is not first and moved[2] > first[2]
    np.testing.assert_array_equal(moved, firm.staffing_for_quality(q, fb.management))
    np.testing.assert_array_equal(
        fb.staffing_for(0.7), firm.staffing_for_quality(0.7, fb.management)
    )
