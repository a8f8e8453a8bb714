"""Hotline complaints: dissatisfaction and visible cuts bring calls; draws use their own stream."""

from __future__ import annotations

import numpy as np
import pytest

from feesim.engine.population import build_households
from feesim.engine.rng import Streams
from feesim.engine.rules.complaints import count
from feesim.engine.rules.payment import logistic
from feesim.engine.rules.perception import Perception
from feesim.engine.state import BehaviourRuns, run_values


@pytest.fixture(scope="module")
def setup(small_scenario):
    sc = small_scenario.with_changes(**{"community.households": 2000})
    hh = build_households([sc], Streams(1))
    return hh, run_values(BehaviourRuns, [sc.behaviour])


def _perception(seen=0.6, anchor=0.6):
    p = Perception.start(np.array([seen]), np.ones((1, 2)))
    p.anchor[:] = anchor
    return p


def _expected(hh, beh, sat, p):
    """Expected monthly count from the documented probability."""
    cut = max(0.0, p.anchor[0] - p.seen_quality[0])
    z = beh.value("complaint_intercept", 0) + beh.value("complaint_cut", 0) * cut
    z = z + beh.value("complaint_dissatisfaction", 0) * np.maximum(0.5 - sat, 0)
    return float(logistic(np.asarray(z, dtype=np.float32)).sum())


def _mean_count(hh, beh, sat, p, months=40):
    return np.mean([count(hh, sat, p, beh, Streams(4), t)[0] for t in range(months)])


def test_counts_follow_the_documented_probability(setup):
    hh, beh = setup
    sat = np.full(hh.n, 0.1, dtype=np.float32)
    p = _perception(seen=0.3, anchor=0.6)
    mean = _expected(hh, beh, sat, p)
    assert mean > 5
    assert _mean_count(hh, beh, sat, p) == pytest.approx(mean, abs=4 * np.sqrt(mean / 40))


def test_dissatisfied_residents_and_visible_cuts_bring_calls(setup):
    hh, beh = setup
    mid = np.full(hh.n, 0.5, dtype=np.float32)
    calm = _mean_count(hh, beh, mid, _perception())
    unhappy = _mean_count(hh, beh, mid - 0.4, _perception())
    cut = _mean_count(hh, beh, mid, _perception(seen=0.3, anchor=0.6))
    assert unhappy > calm + 3 and cut > calm + 3
    # Content residents call no more (and no less) than neutral ones: only discontent counts.
    content = _mean_count(hh, beh, mid + 0.4, _perception())
    assert content == calm
    # Neither does an improvement above the anchor.
    better = _mean_count(hh, beh, mid, _perception(seen=0.9, anchor=0.6))
    assert better == calm


def test_counts_use_common_random_numbers_per_run(setup, small_scenario):
    hh, beh = setup
    sat = np.full(hh.n, 0.2, dtype=np.float32)
    p = _perception(seen=0.4, anchor=0.6)
    a = count(hh, sat, p, beh, Streams(4), 3)
    assert a.dtype.kind == "i" and a.shape == (1,)
    assert count(hh, sat, p, beh, Streams(4), 3)[0] == a[0]  # same seed and month: same draw
    draws = {int(count(hh, sat, p, beh, Streams(4), t)[0]) for t in range(6)}
    assert len(draws) > 1  # months draw afresh
    # Two runs: counted apart.
    hh2 = build_households([small_scenario, small_scenario], Streams(1))
    beh2 = run_values(BehaviourRuns, [small_scenario.behaviour] * 2)
    p2 = Perception.start(np.array([0.6, 0.6]), np.ones((2, 2)))
    sat2 = np.where(hh2.run == 0, 0.5, 0.0).astype(np.float32)
    per_run = np.array([count(hh2, sat2, p2, beh2, Streams(5), t) for t in range(20)]).sum(0)
    assert per_run[1] > per_run[0]
