"""Dated lever changes: a ``[[schedule]]`` entry reaches what the rules read, from its month."""

from __future__ import annotations

import pytest

import feesim
from feesim.config.scenario import SCHEDULABLE, TIER_QUALITY, Change
from feesim.engine.levers import apply_change, door_to_door_reach
from feesim.engine.model import FeeModel
from feesim.engine.rules.vote import KIND_REACH


def _intensity(model, run):
    """The intensity behind the reach the rules use in ``run``."""
    c = model.scenarios[run].committee
    return model.setting.intensity[run] / ((0.5 + c.capacity) * KIND_REACH[c.kind])


#: For every schedulable lever: a new value, and where the engine reads it (model, run).
READS = {
    "government.subsidy_per_m2": (0.2, lambda m, r: m.setting.subsidy_rate[r]),
    "government.subsidy_min_score": (50.0, lambda m, r: m.setting.subsidy_min[r]),
    "government.assessment_hotline_weight": (0.2, lambda m, r: m.setting.hotline_weight[r]),
    "firm.public_income_yuan_month": (5000.0, lambda m, r: m.setting.public_income[r]),
    "firm.public_income_firm_share": (0.5, lambda m, r: m.setting.public_share[r]),
    "committee.public_income_to_fund": (0.9, lambda m, r: m.setting.public_to_fund[r]),
    "firm.contract": ("cost_plus", lambda m, r: "cost_plus" if m.firms.cost_plus[r] else "?"),
    "firm.tier": (
        "liveable",
        lambda m, r: {v: k for k, v in TIER_QUALITY.items()}[m.firms.tier_q[r]],
    ),
    "committee.evaluation_months": (6, lambda m, r: m.setting.eval_every[r]),
    "committee.evaluation_threshold": (
        70.0,
        lambda m, r: m.committees[r].settings.evaluation_threshold,
    ),
    "committee.rollback": (True, lambda m, r: m.committees[r].settings.rollback),
    "committee.rollback_window_months": (
        6,
        lambda m, r: m.committees[r].settings.rollback_window_months,
    ),
    "committee.rectification_months": (
        2,
        lambda m, r: m.committees[r].settings.rectification_months,
    ),
    "committee.door_to_door_intensity": (0.9, lambda m, r: _intensity(m, r)),
    "committee.auto_propose": (True, lambda m, r: m.committees[r].settings.auto_propose),
    "committee.complaint_response": (
        False,
        lambda m, r: m.committees[r].settings.complaint_response,
    ),
    "committee.tender_after_bad_scores": (
        2,
        lambda m, r: m.committees[r].settings.tender_after_bad_scores,
    ),
    "legal.enabled": (True, lambda m, r: bool(m.setting.legal_on[r])),
    "legal.sue_share": (0.5, lambda m, r: m.setting.legal.value("sue_share", r)),
}


def test_every_schedulable_lever_has_a_reader_here():
    assert set(READS) == set(SCHEDULABLE)


@pytest.mark.parametrize("key", sorted(SCHEDULABLE))
def test_a_scheduled_lever_reaches_what_the_rules_read_in_its_run_only(small_scenario, key):
    value, read = READS[key]
    model = FeeModel([small_scenario, small_scenario], rng=1)
    before = read(model, 0)
    assert before != pytest.approx(value)  # the test changes something
    log = []
    apply_change(
        3,
        1,
        Change(3, {key: value}),
        model.setting,
        model.firms,
        model.committees,
        lambda *e: log.append(e),
    )
    assert read(model, 1) == pytest.approx(value)
    assert read(model, 0) == pytest.approx(before)
    section, _, name = key.partition(".")
    assert getattr(getattr(model.scenarios[1], section), name) == value
    assert getattr(getattr(model.scenarios[0], section), name) != value
    assert log == [(1, 3, "lever_changed", f"{key} = {value!r}")]


def test_a_scheduled_change_takes_effect_at_its_month(small_scenario):
    change = {
        "month": 5,
        "set": {
            "firm.public_income_yuan_month": 5000.0,
            "government.subsidy_per_m2": 0.3,
            "government.subsidy_min_score": 0.0,
        },
    }
    sc = small_scenario.with_changes(**{"schedule": [change]})
    result = feesim.simulate(sc, rng=2)
    s = result.series.set_index("month")
    assert (s.loc[:4, "public_income_to_firm_yuan"] == 0).all()
    assert (s.loc[5:, "public_income_to_firm_yuan"] == 5000.0).all()
    assert (s.loc[:4, "subsidy_yuan"] == 0).all() and (s.loc[5:, "subsidy_yuan"] > 0).all()
    changed = result.events[result.events["event"] == "lever_changed"]
    assert changed["month"].tolist() == [5, 5, 5]
    # Up to the change the run is the run without it (same streams, same rules).
    plain = feesim.simulate(small_scenario, rng=2).series.set_index("month")
    assert s.loc[:4, "paid_yuan"].equals(plain.loc[:4, "paid_yuan"])


def test_door_to_door_reach_grows_with_intensity_capacity_and_an_owners_committee(
    small_scenario,
):
    base = door_to_door_reach(small_scenario)
    c = small_scenario.committee
    assert base == pytest.approx(c.door_to_door_intensity * (0.5 + c.capacity) * KIND_REACH[c.kind])
    for key, value in (
        ("committee.door_to_door_intensity", 0.3),
        ("committee.capacity", 0.2),
        ("committee.kind", "none"),
    ):
        assert door_to_door_reach(small_scenario.with_changes(**{key: value})) < base


def test_a_scheduled_rectification_period_acts_from_its_month(small_scenario):
    """Both committee levers can change at a month (review item 7); a bad score after the
    change orders rectification for the new period."""
    sc = small_scenario.with_changes(
        **{
            "proposals": [],
            "schedule": [
                {
                    "month": 2,
                    "set": {
                        "committee.rectification_months": 2,
                        "committee.rollback_window_months": 0,
                    },
                }
            ],
        }
    )
    model = FeeModel(sc, rng=1)
    model.run(3)
    committee = model.committees[0]
    assert committee.settings.rectification_months == 2
    assert committee.settings.rollback_window_months == 0
    committee.on_evaluation(3, 0.0)
    assert model.firms.rectify_until[0] == 3 + 2


def test_a_contract_switch_is_alike_at_month_0_and_a_tier_is_not(small_scenario):
    """What engine/levers.py says: a contract switch scheduled at month 0 and the same contract
    in the scenario give the same run; the scenario's tier is history, a scheduled tier is a
    change of standard the firm staffs towards (review item 7)."""
    sc = small_scenario.with_changes(proposals=[])
    now = feesim.simulate(sc.with_changes(**{"firm.contract": "cost_plus"}), rng=3).series
    dated = {"month": 0, "set": {"firm.contract": "cost_plus"}}
    later = feesim.simulate(sc.with_changes(schedule=[dated]), rng=3).series
    assert now.equals(later)
    rich = sc.with_changes(
        **{
            "community.building_types[0].fee_per_m2": 3.0,
            "community.building_types[1].fee_per_m2": 3.5,
        }
    )
    now = feesim.simulate(rich.with_changes(**{"firm.tier": "liveable"}), rng=3).series
    dated = {"month": 0, "set": {"firm.tier": "liveable"}}
    later = feesim.simulate(rich.with_changes(schedule=[dated]), rng=3).series
    assert now["service_quality"].iloc[0] > later["service_quality"].iloc[0] + 0.2
