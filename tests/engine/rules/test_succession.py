"""Succession: a firm that leaves is followed by a temporary provider and a replacement vote."""

from __future__ import annotations

import dataclasses

import numpy as np

from feesim import FeeModel
from feesim.engine.rules.firm import EMERGENCY, NOTICE, REGULAR


def test_an_exit_brings_a_temporary_provider_at_cost_and_a_replacement_vote(small_scenario):
    model = FeeModel(dataclasses.replace(small_scenario, proposals=()), rng=2)
    model.run(3)
    fb = model.firms
    fee_before = model.state.fee[0, :2].copy()
    fb.state[0], fb.exit_month[0] = NOTICE, 3
    model.step()
    assert fb.state[0] == EMERGENCY and fb.serial[0] == 1
    np.testing.assert_allclose(model.state.fee_before_exit[0, :2], fee_before)
    # The temporary provider bills its basic service at cost: the fee is rescaled.
    assert not np.allclose(model.state.fee[0, :2], fee_before)
    events = model.result().events["event"].tolist()
    assert events[-3:] == ["firm_exit", "emergency_provider", "replacement_proposed"]
    motion = model.committees[0].motions[-1]
    assert (motion.origin, motion.spec.matter, motion.vote_month) == ("replacement", "hire_firm", 4)


def test_a_hired_firm_takes_over_at_the_voted_fee(small_scenario):
    model = FeeModel(dataclasses.replace(small_scenario, proposals=()), rng=2)
    model.run(2)
    new = np.array([1.0, 1.6])
    model.succession.hire(0, 2, new)
    fb = model.firms
    assert fb.state[0] == REGULAR and fb.serial[0] == 1 and fb.since[0] == 2
    np.testing.assert_allclose(model.state.fee[0, :2], new)
    assert fb.term_end[0] == 2 + fb.term_months[0]


def test_a_pool_firm_never_asks_less_than_the_current_fee(small_scenario):
    model = FeeModel(dataclasses.replace(small_scenario, proposals=()), rng=2)
    base = model.state.fee[0, :2].copy()
    asked = model.succession.asking_fee(0, 0, base)
    assert np.all(asked >= base)
    # Covering a higher standard needs a higher fee.
    model.firms.tier_q[0] = 1.0
    assert np.all(model.succession.asking_fee(0, 0, base) >= asked)
