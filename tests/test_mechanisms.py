"""Single mechanisms, each switched on in isolation and checked for its effect."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest

import feesim
from feesim.engine.model import FeeModel
from feesim.errors import LedgerError


def _with(sc, **sections):
    """Replace whole sections / fields of a scenario (no validation needed for tests)."""
    return dataclasses.replace(sc, **sections)


def test_unilateral_rise_hurts_more_than_a_voted_one(small_scenario):
    """A fee change voted by the owners is partly accepted; the same rise imposed is not."""
    sc = small_scenario
    model = FeeModel(sc, rng=1)
    for _ in range(9):
        model.step()
    # Impose the same step the committee will vote on, with nobody's acceptance.
    imposed = FeeModel(_with(sc, proposals=()), rng=1)
    for _ in range(9):
        imposed.step()
    imposed.desk.set_fee(0, imposed.state.fee[0, :2] * 1.2, accepted=0.0)
    anchor_gap = imposed.perception.fee_anchor[0] / imposed.state.fee[0, :2]
    assert np.all(anchor_gap < 0.85)
    voted = FeeModel(sc, rng=1)
    voted.run(12)
    approval = voted.committees[0].motions[0].approval
    assert approval > 0.5
    gap_voted = voted.perception.fee_anchor[0] / voted.state.fee[0, :2]
    assert np.all(gap_voted > anchor_gap)


def test_rollback_after_a_bad_evaluation_restores_the_old_fee(load_example):
    sc = load_example("quyang_path")
    firm = dataclasses.replace(sc.firm, overhaul_months=())
    prop = dataclasses.replace(sc.proposals[0], quality_first_months=0, service_quality=0.5)
    # A package the firm cannot afford: service lags the promise, the score fails.
    harsh = _with(
        sc,
        firm=firm,
        proposals=(prop,),
        committee=dataclasses.replace(sc.committee, evaluation_threshold=90.0),
    )
    result = feesim.simulate(harsh, rng=3)
    ev = result.events
    assert "rolled_back" in set(ev["event"])
    month = int(ev.loc[ev["event"] == "rolled_back", "month"].iloc[0])
    fee = result.series.set_index("month")["fee_per_m2"]
    assert fee[month - 1] == pytest.approx(1.41)
    assert fee[month + 1] == pytest.approx(1.0)
    no_rollback = _with(harsh, committee=dataclasses.replace(harsh.committee, rollback=False))
    result2 = feesim.simulate(no_rollback, rng=3)
    assert "rolled_back" not in set(result2.events["event"])
    assert "rectification" in set(result2.events["event"])


def test_trial_period_delays_the_new_fee(small_scenario):
    prop = dataclasses.replace(small_scenario.proposals[0], trial_months=4)
    sc = _with(small_scenario, proposals=(prop,))
    result = feesim.simulate(sc, rng=2)
    passed = result.events[result.events["event"] == "passed"]
    changed = result.events[result.events["event"] == "fee_changed"]
    assert len(passed) == 1 and len(changed) == 1
    assert int(changed["month"].iloc[0]) >= int(passed["month"].iloc[0]) + 1 + 4


def test_exit_brings_a_temporary_provider_then_a_voted_firm(load_example):
    sc = load_example("frozen_fee").with_changes(**{"government.wage_growth": 0.06})
    result = feesim.simulate(sc, rng=5)
    ev = result.events
    names = list(ev["event"])
    assert "notice" in names and "firm_exit" in names and "emergency_provider" in names
    notice = int(ev.loc[ev["event"] == "notice", "month"].iloc[0])
    leave = int(ev.loc[ev["event"] == "firm_exit", "month"].iloc[0])
    # 90 days' notice; a firm whose term ends within a year serves it out (Art. 947).
    term_ends = [m for m in range(sc.firm.term_months, 400, sc.firm.term_months) if m >= notice]
    expected = notice + sc.firm.notice_months
    if term_ends[0] - notice <= 12:
        expected = max(expected, term_ends[0])
    assert leave == expected
    s = result.series.set_index("month")
    assert s.loc[leave, "firm_state"] == "emergency" and s.loc[leave, "firm_active"] == 0
    assert s.loc[leave - 1, "firm_state"] == "notice"
    votes = result.votes[result.votes["matter"] == "hire_firm"]
    assert len(votes) >= 1 and votes["month"].min() == leave + 1
    if votes["passed"].any():
        hired = int(votes.loc[votes["passed"], "month"].iloc[0]) + 1
        assert s.loc[hired, "firm_state"] == "regular" and s.loc[hired, "firm_serial"] == 2


def test_suits_recover_arrears_and_cost_the_firm(small_scenario):
    base = _with(small_scenario, proposals=())
    sued = base.with_changes(
        **{
            "legal.enabled": True,
            "legal.threshold_months": 1,
            "legal.sue_share": 0.5,
            "legal.delay_months": 2,
        }
    )
    a = feesim.simulate(base, rng=4, strict_ledger=True).series
    b = feesim.simulate(sued, rng=4, strict_ledger=True).series
    assert b["suits_filed"].sum() > 0 and a["suits_filed"].sum() == 0
    # Recovered arrears: the sued community ends with less owed.
    assert b["arrears_yuan"].iloc[-1] < a["arrears_yuan"].iloc[-1]


def test_limitation_writes_off_arrears_without_demand(small_scenario):
    base = _with(small_scenario, proposals=()).with_changes(
        **{"simulation.months": 40, "legal.limitation_months": 6}
    )
    s = feesim.simulate(base, rng=4, strict_ledger=True).series
    assert s["written_off_yuan"].sum() > 0


def test_campaign_raises_collection_and_recovers_arrears(load_example):
    sc = load_example("frozen_fee").with_changes(**{"simulation.months": 24})
    plain = feesim.simulate(sc, rng=6)
    with_campaign = feesim.simulate(
        _with(sc, campaigns=(feesim.config.scenario.Campaign(month=12, steps=4),)), rng=6
    )
    p, c = plain.series.set_index("month"), with_campaign.series.set_index("month")
    assert c.loc[12:14, "paid_yuan"].sum() > p.loc[12:14, "paid_yuan"].sum()
    assert c.loc[14, "arrears_yuan"] < p.loc[14, "arrears_yuan"]
    curve = with_campaign.campaigns
    assert curve["step"].tolist() == [1, 2, 3, 4]
    assert curve["day"].tolist() == [12, 20, 30, 60]


def test_cost_plus_firm_never_loses_money(load_example):
    sc = load_example("frozen_fee").with_changes(**{"firm.contract": "cost_plus"})
    result = feesim.simulate(sc, rng=2, strict_ledger=True)
    s = result.series
    assert (s["firm_revenue_yuan"] >= s["firm_cost_yuan"]).all()
    assert "firm_exit" not in set(result.events["event"])
    assert s["owners_account_yuan"].iloc[-1] != 0  # owners bear the surplus or deficit


def test_release_of_public_income_moves_it_to_owners(load_example):
    result = feesim.simulate(load_example("quyang_path"), rng=1, strict_ledger=True)
    s = result.series.set_index("month")
    assert s.loc[5, "public_income_to_firm_yuan"] == pytest.approx(20000.0)
    assert s.loc[30, "public_income_to_firm_yuan"] == 0.0
    assert s.loc[30, "owners_account_yuan"] > s.loc[12, "owners_account_yuan"]


def test_ledger_detects_created_money(small_scenario):
    model = FeeModel(small_scenario, rng=1, strict_ledger=True)
    model.step()
    model.hh.owed_cycle[0] += 12345  # a bill nobody issued
    with pytest.raises(LedgerError):
        model.step()


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


def test_service_packages_are_voted_separately(small_scenario):
    cheap = feesim.config.scenario.Package(name="greening", fee_per_m2=0.02, quality=0.08)
    dear = feesim.config.scenario.Package(name="concierge", fee_per_m2=2.0, quality=0.02)
    prop = dataclasses.replace(small_scenario.proposals[0], packages=(cheap, dear))
    result = feesim.simulate(_with(small_scenario, proposals=(prop,)), rng=2)
    votes = result.votes
    main = votes[votes["matter"] == "fee"]
    pk = votes[votes["matter"] == "package"].set_index("motion")
    assert main["passed"].iloc[-1]
    assert list(pk.index) == ["scenario:0:greening", "scenario:0:concierge"]
    assert (pk["month"] == main["month"].iloc[-1]).all()
    # A cheap package that buys visible service passes; a dear one does not.
    assert pk.loc["scenario:0:greening", "passed"]
    assert not pk.loc["scenario:0:concierge", "passed"]
    changed = result.events[result.events["event"] == "fee_changed"]["detail"].iloc[0]
    base = [round(0.7 * 1.2, 3), round(1.2 * 1.2, 3)]
    assert f"-> {[round(b + 0.02, 3) for b in base]}" in changed


def test_contract_renews_at_term_end(small_scenario):
    sc = _with(small_scenario, proposals=()).with_changes(**{"firm.term_months": 10})
    ev = feesim.simulate(sc, rng=1).events
    renewed = ev[ev["event"] == "contract_renewed"]["month"].tolist()
    assert renewed == [10, 20]


def test_committee_kind_changes_door_to_door_reach(small_scenario):
    sc = small_scenario
    none = sc.with_changes(**{"committee.kind": "none"})
    a = feesim.simulate(sc, rng=3).votes.iloc[0]
    b = feesim.simulate(none, rng=3).votes.iloc[0]
    assert b["turnout_heads"] < a["turnout_heads"]  # same streams, less reach
    assert isinstance(a, pd.Series)


def test_household_frame_pictures_the_community(small_scenario):
    model = FeeModel(small_scenario, rng=2)
    model.run(9)  # the proposal is voted in month 8 (and retried in 9 if no quorum)
    f = model.household_frame()
    assert len(f) == small_scenario.community.households
    assert f["group"].min() == 0 and f["group"].is_monotonic_increasing
    assert set(f["building_type"]) == {"multi-storey", "high-rise"}
    assert f["paying"].dtype == bool and 0 < f["paying"].mean() <= 1
    assert f["voted"].any() and (f["approved"] <= f["voted"]).all()
    # Units of one owner vote alike (one head).
    assert (f.groupby("owner")["voted"].nunique() == 1).all()


def test_shared_populations_copy_households_but_not_decisions(small_scenario):
    sc = _with(small_scenario, proposals=())
    model = FeeModel([sc] * 6, rng=3, populations=2, strict_ledger=True)
    hh = model.hh
    a, b, c = (hh.run_slice(r) for r in (0, 1, 2))
    np.testing.assert_array_equal(hh.area[a], hh.area[c])  # runs 0 and 2 share template 0
    np.testing.assert_array_equal(hh.habit[a], hh.habit[c])
    assert not np.array_equal(hh.area[a], hh.area[b])  # run 1 has the other population
    assert model.residents.offset[0] == model.residents.offset[2]
    result = model.run()
    s = result.series
    paid0 = s[s["run"] == 0]["paid_yuan"].to_numpy()
    paid2 = s[s["run"] == 2]["paid_yuan"].to_numpy()
    assert not np.array_equal(paid0, paid2)  # same households, their own decisions
    # Against one population per run the mean outcome agrees within noise.
    own = feesim.simulate([sc] * 6, rng=3).series
    for col in ("collection_rate", "service_quality"):
        assert abs(s[col].mean() - own[col].mean()) < 0.05


def test_populations_must_be_positive(small_scenario):
    with pytest.raises(feesim.ConfigError, match="populations"):
        FeeModel([small_scenario] * 2, populations=0)


def test_a_smaller_copy_of_an_estate_runs_like_the_estate(examples):
    """Public income is the community's, so a resized copy keeps it per household: the
    pre-vote service and the approval of Xianghe do not depend on how many households run."""
    base = feesim.load_scenario(examples / "xianghe_2025.toml")
    small = base.resized(400)
    assert small.community.households == 400
    assert small.firm.public_income_yuan_month == pytest.approx(15000.0 * 400 / 1986)
    out = {}
    for name, sc in (("full", base), ("small", small)):
        res = feesim.FeeModel([sc] * 6, rng=7).run()
        before = res.series[res.series["month"] == sc.proposals[0].month - 1]
        vote = res.votes[res.votes["matter"] == "fee"].groupby("run").head(1)
        out[name] = (before["service_quality"].mean(), vote["approval_heads"].mean())
    assert out["small"][0] == pytest.approx(out["full"][0], abs=0.03)
    assert out["small"][1] == pytest.approx(out["full"][1], abs=0.03)


def test_campaign_step_five_sues_a_share_of_those_still_refusing(small_scenario):
    """Step 5 files suits against ``legal.sue_share`` of the households still owing, not all of
    them (domain-rules B.5: firms sue a minority of debtors)."""
    from feesim.config.params import to_mapping

    data = to_mapping(_with(small_scenario, proposals=()))
    data["campaigns"] = [{"month": 3, "steps": 5}]
    data["legal"]["sue_share"] = 0.25
    sc = feesim.scenario_from_mapping(data).with_changes(
        **{"community.households": 2000, "community.initial_collection_rate": 0.6}
    )
    model = FeeModel(sc, rng=5)
    while model.month < 5:  # step 5 comes in the campaign's third month (month 5)
        model.step()
    owing = int(((model.hh.owed() > 0) & (model.hh.suit_month < 0)).sum())
    model.step()
    filed = int(model.result().series.loc[5, "suits_filed"])
    assert owing > 100
    assert filed == pytest.approx(0.25 * owing, rel=0.25)


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


@pytest.mark.parametrize("billing", ["yearly", "quarterly", "monthly"])
def test_more_campaign_steps_never_lower_first_year_collection(load_example, billing):
    """With the same random numbers, each added step (1-4) gives households more chances to
    pay, whatever the billing cycle: a step never holds back those who would pay anyway."""
    sc = load_example("xianghe_2025").with_changes(**{"community.billing": billing})
    (p,) = sc.proposals
    dec = []
    for steps in range(5):
        s = dataclasses.replace(sc, proposals=(dataclasses.replace(p, campaign_steps=steps),))
        series = FeeModel([s] * 6, rng=4).run().series
        dec.append(series.loc[series["date"] == "2025-12", "collection_rate"].mean())
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(dec)), dec
    assert dec[4] > dec[0]


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
