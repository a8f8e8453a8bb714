"""Hotline complaints: who calls and when, the yearly rate, and what counts as a surge."""

from __future__ import annotations

import numpy as np
import pytest

from feesim.engine.population import build_households
from feesim.engine.rng import Streams
from feesim.engine.rules.complaints import (
    SURGE_MIN_COMPLAINTS,
    count,
    expected,
    probability,
    rate,
    surge,
)
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


def test_dissatisfied_residents_and_visible_cuts_bring_calls(setup):
    hh, beh = setup
    mid = np.full(hh.n, 0.5, dtype=np.float32)
    p0 = probability(hh, mid, _perception(), beh)
    assert np.all(probability(hh, mid - 0.3, _perception(), beh) >= p0)
    assert np.all(probability(hh, mid + 0.3, _perception(), beh) == p0)  # content: no fewer
    cut = probability(hh, mid, _perception(seen=0.4, anchor=0.6), beh)
    lived_in = ~hh.absentee | hh.renter
    assert np.all(cut[lived_in] > p0[lived_in])
    # Owner-occupiers and renters call; nobody calls from an empty unit.
    assert np.all(p0[~lived_in] == 0) and np.all(p0[lived_in] > 0)
    assert (hh.absentee & hh.renter).any() and (hh.absentee & ~hh.renter).any()


def test_counts_follow_the_probabilities_and_the_complaint_stream(setup):
    hh, beh = setup
    sat = np.full(hh.n, 0.1, dtype=np.float32)
    p = _perception(seen=0.3, anchor=0.6)
    months = [count(hh, sat, p, beh, Streams(4), t)[0] for t in range(40)]
    assert count(hh, sat, p, beh, Streams(4), 3)[0] == months[3]  # common random numbers
    mean = expected(hh, sat, p, beh)[0]
    assert mean > 5
    assert np.mean(months) == pytest.approx(mean, abs=4 * np.sqrt(mean / 40))


def test_the_rate_is_yearly_per_100000_m2_whatever_the_months_kept():
    area = np.array([100_000.0, 50_000.0])
    np.testing.assert_allclose(rate(np.ones((2, 12)), area), [12.0, 24.0])
    np.testing.assert_allclose(rate(np.ones((2, 3)), area), [12.0, 24.0])


def _record(month, recent, earlier):
    """Twelve months of complaints ending in ``month``: three ``recent``, nine ``earlier``."""
    record = np.full((1, 12), float(earlier))
    for k in range(3):
        record[0, (month - k) % 12] = recent
    return record


@pytest.mark.parametrize("month", [1, 7, 14])
def test_a_surge_is_a_jump_above_chance_and_the_city_s_average(month):
    area = np.array([50_000.0])
    # A yearly rate of 22 per 100,000 m2 is 11 calls a year here: under one a month.
    assert surge(_record(month, 8, 1), month, area)[0]
    assert not surge(_record(month, 1, 1), month, area)[0]  # steady
    assert not surge(_record(month, 20, 12), month, area)[0]  # more, but not twice as many
    assert not surge(_record(month, 8, 4), month, area)[0]  # twice as many, but within chance
    assert not surge(_record(month, 2, 0.3), month, np.array([1e6]))[0]  # below the average
    few = _record(month, 1, 0)  # from none to one a month: fewer than a committee acts on
    assert few[0].sum() < SURGE_MIN_COMPLAINTS and not surge(few, month, area)[0]
    # Only the last three months count as recent: a jump a month earlier is past.
    assert not surge(_record(month - 1, 8, 1), month + 2, area)[0]


# -- from the tests of the land branch that hold on this engine --
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
