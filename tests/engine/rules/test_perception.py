"""Perceived quality, satisfaction and trust: directions, half-lives and caps."""

from __future__ import annotations

import numpy as np
import pytest

from feesim.engine.population import build_households
from feesim.engine.rng import Streams
from feesim.engine.rules.perception import (
    GOVERNANCE_CAP,
    PERSONAL_CAP,
    RENOVATION_DECAY,
    Perception,
    add_personal,
    attitudes,
    change_fee,
    community_satisfaction,
    household_trust,
    monthly_retention,
    relax_endorsement,
    relax_personal,
    trust_shock,
    update_perception,
    update_trust,
)
from feesim.engine.state import BehaviourRuns, run_values

FEE = np.array([[1.0, 1.5]])
FULL = np.array([[2.0, 2.0]])


@pytest.fixture
def beh(small_scenario):
    return run_values(BehaviourRuns, [small_scenario.behaviour])


def _satisfaction(beh, quality, fee=FEE, anchor_fee=FEE):
    p = Perception.start(np.array([quality]), anchor_fee)
    return community_satisfaction(p, fee, FULL, beh)


def test_satisfaction_rises_with_quality_and_falls_with_a_price_rise(beh):
    assert np.all(_satisfaction(beh, 0.8) > _satisfaction(beh, 0.5))
    # A fee above what residents are used to costs satisfaction; the same fee once they are
    # used to it does not (beyond what it should buy).
    risen = _satisfaction(beh, 0.6, fee=FEE * 1.2)
    used_to = _satisfaction(beh, 0.6, fee=FEE * 1.2, anchor_fee=FEE * 1.2)
    assert np.all(risen < used_to)
    # A fee below the anchor is no reward of its own (only the rise counts).
    cut = _satisfaction(beh, 0.6, fee=FEE * 0.8)
    assert np.all(cut >= _satisfaction(beh, 0.6))
    # Visible improvement over what residents are used to wins goodwill.
    p = Perception.start(np.array([0.5]), FEE)
    before = community_satisfaction(p, FEE, FULL, beh)
    update_perception(p, np.array([0.9]), FEE, lag=0.5, anchor_months=24.0)
    assert p.quality[0] == pytest.approx(0.7) and p.anchor[0] < p.quality[0]
    assert np.all(community_satisfaction(p, FEE, FULL, beh) > before)


def test_household_attitudes_stay_within_zero_and_one(small_scenario, beh):
    hh = build_households([small_scenario], Streams(1))
    for q in (-5.0, 0.5, 5.0):
        p = Perception.start(np.array([q]), FEE)
        p.trust[:] = q
        s, t = attitudes(hh, p, FEE, FULL, beh)
        assert s.dtype == np.float32 and np.all((s >= 0) & (s <= 1))
        assert np.all((t >= 0) & (t <= 1))
    assert np.all(s == 1.0) and np.all(t == 1.0)


@pytest.mark.parametrize("half_life", [6.0, 24.0])
def test_the_governance_stock_halves_in_its_half_life(half_life):
    assert monthly_retention(half_life) ** half_life == pytest.approx(0.5)
    p = Perception.start(np.array([0.5]), FEE)
    p.governance[:] = 0.1
    for _ in range(int(half_life)):
        update_trust(p, p.sat_ref, adjust=0.0, weight=0.5, half_life=half_life)
    assert p.governance[0] == pytest.approx(0.05)


def test_trust_moves_towards_satisfaction_and_governance():
    p = Perception.start(np.array([0.5]), FEE)
    update_trust(p, p.sat_ref + 0.2, adjust=0.5, weight=0.5, half_life=24.0)
    assert p.trust[0] == pytest.approx(0.5 * 0.5 * 0.2)
    for _ in range(400):  # satisfaction back at its month-0 value: trust returns to baseline
        update_trust(p, p.sat_ref, adjust=0.06, weight=0.5, half_life=24.0)
    assert p.trust[0] == pytest.approx(0.0, abs=1e-6)


def test_events_cannot_buy_lasting_trust_beyond_the_caps(small_scenario):
    p = Perception.start(np.array([0.5, 0.5]), np.vstack([FEE, FEE]))
    for _ in range(10):
        trust_shock(p, np.array([0]), 0.05)
    assert p.governance[0] == pytest.approx(GOVERNANCE_CAP)
    assert p.trust[0] == pytest.approx(GOVERNANCE_CAP)  # moved by what the stock could take
    assert p.governance[1] == 0.0 and p.trust[1] == 0.0
    trust_shock(p, np.array([0]), -1.0)
    assert p.governance[0] == pytest.approx(-GOVERNANCE_CAP)
    hh = build_households([small_scenario], Streams(1))
    for _ in range(5):
        add_personal(hh, slice(0, 10), 0.25)
        add_personal(hh, slice(10, 20), -0.25)
    np.testing.assert_allclose(hh.trust_personal[:10], PERSONAL_CAP)
    np.testing.assert_allclose(hh.trust_personal[10:20], -PERSONAL_CAP)
    assert np.all(hh.trust_personal[20:] == 0)


def test_personal_experience_and_endorsement_fade_with_their_half_lives(small_scenario):
    hh = build_households([small_scenario], Streams(1))
    hh.trust_personal[:] = 0.2
    hh.endorsed[:] = 1.0
    for _ in range(12):
        relax_personal(hh, 12.0)
        relax_endorsement(hh, 6.0)
    np.testing.assert_allclose(hh.trust_personal, 0.1, rtol=1e-5)
    np.testing.assert_allclose(hh.endorsed, 0.25, rtol=1e-5)


def test_a_voted_fee_is_accepted_by_the_share_that_approved(small_scenario):
    from feesim import FeeModel

    model = FeeModel(small_scenario, rng=1)
    state, p = model.state, model.perception
    before = state.fee[0, :2].copy()
    change_fee(state, p, 0, before * 1.2, accepted=0.75)
    np.testing.assert_allclose(state.fee[0, :2], before * 1.2)
    np.testing.assert_allclose(p.fee_anchor[0, :2], before * (1 + 0.75 * 0.2))


# -- from the tests of the land branch that hold on this engine --
def test_satisfaction_is_quality_against_what_the_fee_should_buy(beh):
    # At the anchors, satisfaction is 0.5 + sat_level * (q - min(1, fee / full_fee)).
    s = _satisfaction(beh, 0.6)
    np.testing.assert_allclose(s, 0.5 + beh.value("sat_level", 0) * (0.6 - FEE / FULL))
    # A fee above the full-service fee asks no more than full service.
    dear = _satisfaction(beh, 0.6, fee=FULL * 2, anchor_fee=FULL * 2)
    np.testing.assert_allclose(dear, 0.5 + beh.value("sat_level", 0) * (0.6 - 1.0))


def test_perception_lags_delivery_and_anchors_follow_it(beh):
    p = Perception.start(np.array([0.5]), FEE)
    before = community_satisfaction(p, FEE, FULL, beh)
    update_perception(p, np.array([0.9]), FEE, lag=0.5, anchor_months=24.0)
    assert p.quality[0] == pytest.approx(0.7)
    assert p.anchor[0] == pytest.approx(0.5 + (0.7 - 0.5) / 24.0)
    # Visible improvement over what residents are used to wins goodwill.
    assert np.all(community_satisfaction(p, FEE, FULL, beh) > before)
    # The fee anchor moves towards the fee charged at the anchor rate.
    update_perception(p, np.array([0.9]), FEE * 2, lag=0.5, anchor_months=24.0)
    np.testing.assert_allclose(p.fee_anchor, FEE * (1 + 1 / 24.0))


def test_renovation_boost_is_seen_and_fades():
    p = Perception.start(np.array([0.5]), FEE)
    p.facility[:] = 0.2
    assert p.seen_quality[0] == pytest.approx(0.7)
    update_perception(p, np.array([0.5]), FEE, lag=0.5, anchor_months=24.0)
    assert p.facility[0] == pytest.approx(0.2 * (1 - RENOVATION_DECAY))


def test_household_trust_adds_disposition_experience_and_the_community_stock(small_scenario):
    hh = build_households([small_scenario], Streams(1))
    p = Perception.start(np.array([0.5]), FEE)
    t0 = household_trust(hh, p)
    p.trust[:] = 0.05
    hh.trust_personal[:5] = -0.1
    t1 = household_trust(hh, p)
    inside = (t0 > 0.2) & (t0 < 0.8)  # away from the clip
    expected = t0 + 0.05 + np.where(np.arange(hh.n) < 5, -0.1, 0.0)
    np.testing.assert_allclose(t1[inside], expected[inside], atol=1e-6)
