"""The owners' committee on its own: motions through a fake community (the narrow interface)."""

from __future__ import annotations

import dataclasses

import mesa
import numpy as np
import pytest

from feesim.config.scenario import MenuOption, Package, Proposal
from feesim.engine.committee import Community, OwnersCommittee


class FakeCommunity:
    """A community of two building types that records what the committee asks of it."""

    def __init__(self) -> None:
        self.fee = np.array([0.6, 1.2])
        self.calls: list[tuple] = []
        self.scheduled: list[int] = []
        self.commit = 0.0
        self.floor = 0.0
        self.regular = True
        self.failed_trial = False
        self.asking = np.array([0.9, 1.5])

    def fees(self, run):
        return self.fee.copy()

    def seen_quality(self, run):
        return 0.5

    def delivered_quality(self, run):
        return 0.45

    def coefficient(self, name, run):
        return {"trust_audit": 0.08, "trust_negotiation": 0.1, "disclosure_learning": 0.5}.get(
            name, 0.01
        )

    def firm_is_regular(self, run):
        return self.regular

    def commitment(self, run):
        return self.commit

    def service_floor(self, run):
        return self.floor

    def trial_failed(self, run):
        return self.failed_trial

    def effective_month(self, run, earliest, rule):
        return earliest + 1

    def asking_fee(self, run, base):
        return self.asking.copy()

    def schedule(self, run, month):
        self.scheduled.append(month)

    def log(self, run, month, event, detail=""):
        self.calls.append(("log", month, event))

    def trust_event(self, run, amount):
        self.calls.append(("trust", amount))

    def disclose_costs(self, run, share):
        self.calls.append(("disclose", share))

    def set_commitment(self, run, quality):
        self.commit = quality

    def set_service_floor(self, run, quality):
        self.floor = quality

    def repayment_fee(self, run, amount_yuan, months):
        return np.full(len(self.fee), amount_yuan / months / 1e5)

    def endorse(self, run, households):
        self.calls.append(("endorse", None if households is None else len(households)))

    def set_fee(self, run, fees, accepted=0.0, rest_of_cycle=False):
        self.calls.append(("set_fee", tuple(np.round(fees, 6)), accepted, rest_of_cycle))
        self.fee = np.asarray(fees, dtype=float)

    def release_public_income(self, run):
        self.calls.append(("release",))

    def start_campaign(self, run, month, steps):
        self.calls.append(("campaign", month, steps))

    def bill_fund(self, run, month, per_m2, steps):
        self.calls.append(("fund", month, per_m2, steps))

    def show_works(self, run, quality):
        self.calls.append(("works", quality))

    def order_rectification(self, run, until):
        self.calls.append(("rectify", until))

    def hire_firm(self, run, month, fees):
        self.calls.append(("hire", month))

    def tender(self, run, month):
        self.calls.append(("tender", month))

    def replacement_failed(self, run, month):
        self.calls.append(("replacement_failed", month))

    def deficit_funding(self, run, funded):
        self.calls.append(("deficit_funding", funded))

    def events(self):
        return [c[2] for c in self.calls if c[0] == "log"]


def _committee(small_scenario, *proposals, **committee):
    sc = dataclasses.replace(
        small_scenario,
        proposals=tuple(proposals),
        committee=dataclasses.replace(small_scenario.committee, **committee),
    )
    community = FakeCommunity()
    return OwnersCommittee(mesa.Model(rng=1), 0, sc, community), community


def test_the_fake_covers_the_whole_interface():
    public = {n for n in vars(Community) if not n.startswith("_")}
    assert public <= set(vars(FakeCommunity))


def test_a_motion_is_announced_with_its_disclosure_and_voted(small_scenario):
    prop = Proposal(month=8, step_pct=0.2, disclosure="audit", negotiation_meetings=True)
    committee, c = _committee(small_scenario, prop)
    assert c.scheduled == [8]  # announced in the month of the vote (no quality first)
    committee.start_of_month(8)
    m = committee.motions[0]
    assert m.status == "announced"
    np.testing.assert_allclose(m.new_fee, [0.72, 1.44])
    # An audit and negotiation meetings move trust at once; residents learn the true cost.
    assert ("trust", pytest.approx(0.18)) in c.calls
    assert ("disclose", 0.5) in c.calls
    assert committee.due_votes(8) == [m]
    ballot = committee.ballot(m)
    assert (ballot.run, ballot.label, ballot.matter) == (0, "scenario:0", "fee")


def test_a_passed_fee_takes_effect_with_its_packages_adopted(small_scenario):
    pkg = Package(name="greening", fee_per_m2=0.05, quality=0.04)
    prop = Proposal(month=8, step_pct=0.2, service_quality=0.1, packages=(pkg,), campaign_steps=2)
    committee, c = _committee(small_scenario, prop)
    committee.start_of_month(8)
    m = committee.motions[0]
    follow = committee.on_vote(8, m, passed=True, quorum=True, approval=0.8)
    assert [b.package.name for b in follow] == ["greening"]
    assert follow[0].name == "scenario:0:greening" and follow[0].matter == "package"
    assert m.status == "pending" and m.effective_month == 10  # the fake's next cycle
    m.packages_adopted.append(True)
    committee.start_of_month(10)
    assert m.status == "effective"
    set_fee = next(call for call in c.calls if call[0] == "set_fee")
    assert set_fee[1] == pytest.approx((0.77, 1.49)) and set_fee[2] == 0.8
    assert set_fee[3] is False  # from the next cycle's bill
    # The package is a floor the firm must keep: delivered at announcement + package + extra.
    assert c.floor == pytest.approx(0.45 + 0.1 + 0.04)
    assert ("campaign", 10, 2) in c.calls


def test_a_menu_choice_promises_the_service_of_the_chosen_option(small_scenario):
    """The service a menu vote buys is the chosen option's, not the proposal's own (0): an
    option that keeps the fee and buys service still sets the floor the firm must keep
    (review item 2)."""
    menu = (MenuOption("service only", 0.0, 0.2), MenuOption("tidy", 0.3, 0.3))
    prop = Proposal(month=8, step_pct=0.0, menu=menu)
    committee, c = _committee(small_scenario, prop)
    committee.start_of_month(8)
    m = committee.motions[0]
    committee.on_vote(8, m, passed=True, quorum=True, approval=0.7, option=0)
    assert m.service_quality == 0.2
    committee.start_of_month(m.effective_month)
    assert m.status == "effective"
    np.testing.assert_allclose(c.fee, [0.6, 1.2])  # the chosen option keeps the fee
    assert c.floor == pytest.approx(0.45 + 0.2)  # delivered at announcement + the option's
    assert committee.last_step is not None  # a contract term: a bad score can roll it back


def test_no_quorum_is_retried_while_retries_remain(small_scenario):
    committee, c = _committee(small_scenario, Proposal(month=8, step_pct=0.2, retries=1))
    committee.start_of_month(8)
    m = committee.motions[0]
    assert committee.on_vote(8, m, passed=False, quorum=False) == []
    assert m.vote_month == 9 and m.status == "announced" and 9 in c.scheduled
    committee.on_vote(9, m, passed=False, quorum=False)
    assert m.status == "no_quorum"
    assert c.events()[-1] == "no_quorum"


def test_a_bad_evaluation_rolls_the_step_back(small_scenario):
    committee, c = _committee(
        small_scenario, Proposal(month=8, step_pct=0.2), rollback=True, evaluation_threshold=60.0
    )
    committee.start_of_month(8)
    m = committee.motions[0]
    committee.on_vote(8, m, passed=True, quorum=True, approval=0.7)
    committee.start_of_month(10)
    committee.on_evaluation(14, 40.0)
    assert m.status == "rolled_back"
    np.testing.assert_allclose(c.fee, [0.6, 1.2])
    assert "rolled_back" in c.events()
    # A second bad score with nothing to roll back orders rectification.
    committee.on_evaluation(20, 40.0)
    assert ("rectify", 20 + small_scenario.committee.rectification_months) in c.calls


def test_disclosed_losses_bring_a_cost_covering_proposal(small_scenario):
    committee, _ = _committee(small_scenario, auto_propose=True)
    committee.on_losses_disclosed(30)
    m = committee.motions[-1]
    assert (m.origin, m.vote_month) == ("auto", 32)
    assert m.spec.new_fee_per_m2 == {"multi-storey": 0.9, "high-rise": 1.5}
    # The same fee again is not proposed while the first is open.
    committee.on_losses_disclosed(31)
    assert len(committee.motions) == 1
    # A committee that does not propose on its own leaves it.
    quiet, _ = _committee(small_scenario, auto_propose=False)
    quiet.on_losses_disclosed(30)
    assert quiet.motions == []


def test_a_trial_takes_effect_at_its_end_for_the_rest_of_the_cycle(small_scenario):
    """The verdict falls when the trial ends, whatever the billing cycle, and the fee applies
    from then (issue 14: it waited for the next cycle after the trial)."""
    committee, c = _committee(small_scenario, Proposal(month=8, step_pct=0.2, trial_months=3))
    committee.start_of_month(8)
    m = committee.motions[0]
    committee.on_vote(8, m, passed=True, quorum=True, approval=0.7)
    assert m.effective_month == 8 + 1 + 3 and c.commit > 0  # the fake's cycle would say 10
    committee.start_of_month(12)
    set_fee = next(call for call in c.calls if call[0] == "set_fee")
    assert m.status == "effective" and set_fee[3] is True


@pytest.mark.parametrize("evaluations", [0, 6])
def test_a_surge_of_complaints_brings_an_evaluation_or_a_rectification(small_scenario, evaluations):
    committee, c = _committee(small_scenario, evaluation_months=evaluations)
    early = committee.on_complaint_surge(20)
    assert "complaint_surge" in c.events()
    if evaluations:
        assert early and not any(call[0] == "rectify" for call in c.calls)
    else:
        until = 20 + small_scenario.committee.rectification_months
        assert not early and ("rectify", until) in c.calls
    # Once in a rectification period; not at all when the committee ignores the hotline.
    assert not committee.on_complaint_surge(21)
    deaf, d = _committee(small_scenario, complaint_response=False)
    assert not deaf.on_complaint_surge(20) and d.calls == []
