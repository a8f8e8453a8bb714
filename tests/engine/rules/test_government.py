"""Government: the calendar, wages and prices, subsidy bands, renovation works and their money."""

from __future__ import annotations

import numpy as np
import pytest

import feesim
from feesim.config.scenario import TIER_QUALITY
from feesim.engine.rules.government import (
    calendar,
    pay_works,
    price_index_path,
    public_works,
    subsidy_factor,
    works_top_up,
)
from feesim.engine.rules.perception import Perception


def test_subsidy_bands_of_dongming_road():
    score = np.array([0.0, 59.9, 60.0, 65.0, 70.0, 70.01, 71.0, 100.0])
    np.testing.assert_array_equal(
        subsidy_factor(score, 60.0), [0.0, 0.0, 0.8, 0.8, 0.8, 1.0, 1.0, 1.0]
    )
    # The minimum score is each run's own.
    np.testing.assert_array_equal(
        subsidy_factor(np.array([55.0, 55.0]), np.array([50.0, 60.0])), [0.8, 0.0]
    )


def test_calendar_wraps_years():
    sc = feesim.Scenario().with_changes(**{"simulation.start": "2024-11", "simulation.months": 4})
    years, months = calendar(sc)
    assert years.tolist() == [2024, 2024, 2025, 2025]
    assert months.tolist() == [11, 12, 1, 2]
    assert calendar(sc, months=15)[1][-1] == 1


def test_wage_history_and_projection():
    sc = feesim.Scenario().with_changes(**{"simulation.start": "2024-01", "simulation.months": 36})
    from feesim.engine.rules.government import min_wage_path

    w = min_wage_path(sc)
    assert w[0] == 2690.0  # in force since July 2023
    assert w[18] == 2740.0  # July 2025
    assert w[30] == pytest.approx(2740.0 * 1.03)  # projected July 2026
    flat = sc.with_changes(
        **{
            "government.use_wage_history": False,
            "government.min_wage_yuan": 2000.0,
            "government.wage_growth": 0.0,
        }
    )
    assert (min_wage_path(flat) == 2000.0).all()


def test_prices_compound_monthly_from_1():
    sc = feesim.Scenario().with_changes(
        **{"simulation.months": 25, "government.materials_inflation": 0.05}
    )
    p = price_index_path(sc)
    assert p[0] == 1.0 and p[12] == pytest.approx(1.05) and p[24] == pytest.approx(1.05**2)
    assert np.all(np.diff(p) > 0)


def test_the_fund_pays_what_it_holds_and_the_owners_are_billed_the_rest():
    assert works_top_up(owners_fen=100_000, fund_fen=150_000, area_m2=1000.0) == 0.0
    # 600 yuan lacking over 1,000 m2: 0.6 yuan/m2; an overdrawn fund counts as empty.
    assert works_top_up(100_000, 40_000, 1000.0) == pytest.approx(0.6)
    assert works_top_up(100_000, -50_000, 1000.0) == pytest.approx(1.0)
    due = np.array([100_000, 100_000, 0])
    paid = pay_works(
        due, fund_fen=np.array([150_000, 40_000, 5]), fund_paid=np.array([0, 30_000, 0])
    )
    np.testing.assert_array_equal(paid, [100_000, 70_000, 0])
    np.testing.assert_array_equal(due, [0, 30_000, 0])  # still due, paid as the top-up comes in
    overdrawn = np.array([10])
    assert pay_works(overdrawn, np.array([-5]), np.array([0]))[0] == 0 and overdrawn[0] == 10


def test_finished_works_show_cost_the_owners_their_share_and_may_upgrade_the_tier():
    sc = feesim.Scenario().with_changes(
        **{
            "firm.tier": "basic",
            "government.renovations": [
                {
                    "month": 3,
                    "cost_per_m2": 50.0,
                    "government_share": 0.4,
                    "quality_boost": 0.1,
                    "upgrade_tier": "tidy",
                }
            ],
            "government.tier_upgrades": [{"month": 5, "tier": "liveable"}],
        }
    )
    p = Perception.start(np.array([0.5]), np.ones((1, 1)))
    tier = np.array([TIER_QUALITY["basic"]])
    log = []
    record = lambda *event: log.append(event)
    assert public_works(2, 0, sc, p, tier, 1000.0, 0.02, record) == 0 and not log
    owners = public_works(3, 0, sc, p, tier, 1000.0, 0.02, record)
    assert owners == round(50.0 * 0.6 * 1000.0 * 100)
    assert p.facility[0] == pytest.approx(0.1) and p.governance[0] == pytest.approx(0.02)
    assert tier[0] == TIER_QUALITY["tidy"]
    public_works(5, 0, sc, p, tier, 1000.0, 0.02, record)
    assert tier[0] == TIER_QUALITY["liveable"]
    assert [e[2] for e in log] == ["renovation", "tier_upgrade"]


# -- from the tests of the land branch that hold on this engine --
def test_a_given_wage_grows_each_adjustment_month_but_not_at_the_start():
    sc = feesim.Scenario().with_changes(
        **{
            "simulation.start": "2024-07",
            "simulation.months": 25,
            "government.min_wage_yuan": 2000.0,
            "government.wage_growth": 0.05,
            "government.wage_adjust_month": 7,
        }
    )
    from feesim.engine.rules.government import min_wage_path

    w = min_wage_path(sc)
    assert w[0] == 2000.0 and w[11] == 2000.0  # month 0 is July: no rise yet
    assert w[12] == pytest.approx(2100.0) and w[24] == pytest.approx(2000.0 * 1.05**2)
