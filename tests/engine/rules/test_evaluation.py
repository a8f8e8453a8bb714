"""Scores: the residents' evaluation and the district assessment (with the hotline record)."""

from __future__ import annotations

import numpy as np
import pytest

from feesim import FeeModel
from feesim.engine.population import build_households
from feesim.engine.rng import Streams
from feesim.engine.rules.complaints import TYPICAL_RATE
from feesim.engine.rules.evaluation import (
    ASSESSMENT_QUALITY_WEIGHT,
    PROMISE_TOLERANCE,
    assess,
    assessment_score,
    broken_promises,
    evaluation_score,
    evaluations_due,
    resident_scores,
)


@pytest.fixture(scope="module")
def hh(small_scenario):
    return build_households([small_scenario, small_scenario], Streams(1))


def test_evaluation_scores_run_from_0_to_100(hh):
    full = np.ones(hh.n, dtype=np.float32)
    one = np.ones(2)
    np.testing.assert_allclose(evaluation_score(hh, full, one, one), 100.0)
    np.testing.assert_allclose(evaluation_score(hh, 0 * full, 0 * one, one), 0.0)
    # Promises kept, neutral mood: 75; delivering more than promised earns nothing extra.
    np.testing.assert_allclose(evaluation_score(hh, full / 2, one, one), 75.0)
    np.testing.assert_allclose(evaluation_score(hh, full / 2, 2 * one, one), 75.0)
    np.testing.assert_allclose(evaluation_score(hh, full / 2, one / 2, one), 50.0)


def test_floor_leaders_fill_in_the_sheet_where_there_are_some(small_scenario, hh):
    sat = np.where(hh.leader, 1.0, 0.0).astype(np.float32)
    one = np.ones(2)
    assert hh.per_run(hh.leader).min() > 0
    np.testing.assert_allclose(evaluation_score(hh, sat, one, one), 100.0)
    # Without leaders in a run, every household's satisfaction counts.
    none = small_scenario.with_changes(**{"community.leader_share": 0.0})
    hh2 = build_households([none], Streams(1))
    assert not hh2.leader.any()
    s = np.linspace(0, 1, hh2.n).astype(np.float32)
    np.testing.assert_allclose(evaluation_score(hh2, s, one[:1], one[:1]), 75.0, rtol=1e-6)


def test_assessment_bounds_and_the_hotline_s_weight():
    q, std = np.array([0.0, 0.5, 1.0, 2.0]), np.ones(4)
    s = assessment_score(q, std, np.array([0.0, 0.5, 0.6, 1.0]))
    assert s[0] == pytest.approx(100 * 0.4 * 0.25) and s[-1] == pytest.approx(100.0)
    assert np.all(np.diff(s) > 0) and np.all((s >= 0) & (s <= 100))
    sat = np.full(3, 0.5)
    base = assessment_score(np.ones(3), np.ones(3), sat)
    rates = np.array([0.5, 1.0, 2.0]) * TYPICAL_RATE
    with_hotline = assessment_score(np.ones(3), np.ones(3), sat, rates, hotline_weight=0.1)
    # At or below the city's average the hotline part is full marks; twice it, half.
    np.testing.assert_allclose(with_hotline - base, [2.5, 2.5, -2.5])
    none = assessment_score(np.ones(3), np.ones(3), sat, rates, hotline_weight=0.0)
    np.testing.assert_allclose(none, base)


def test_assess_holds_the_firm_to_its_standard_and_voted_floor(small_scenario):
    firms = FeeModel([small_scenario] * 3, rng=1).firms
    sat = np.full(3, 0.75)
    firms.q[:] = firms.tier_q[:, None]  # delivering the contract's standard exactly
    firms.floor_q[:] = [0.0, firms.tier_q[1] + 0.2, 0.0]  # run 1 voted a package above it
    score = assess(firms, sat)
    assert score[0] == pytest.approx(100.0) and score[2] == pytest.approx(100.0)
    assert score[1] < 100.0
    assert assess(firms, sat, np.full(3, 4 * TYPICAL_RATE), 0.1)[0] < score[0]


def test_broken_promises_count_the_shortfall_beyond_the_tolerance(small_scenario, hh):
    firms = FeeModel([small_scenario] * 3, rng=1).firms
    firms.q[:] = 0.5
    firms.floor_q[:] = [0.0, 0.5 + PROMISE_TOLERANCE / 2, 0.7]
    np.testing.assert_allclose(
        broken_promises(firms), [0.0, 0.0, 0.2 - PROMISE_TOLERANCE], atol=1e-12
    )
    # The residents' sheet holds the firm to the promise too.
    sat = np.full(hh.n, 0.5, dtype=np.float32)
    two = firms.slice(slice(1, 3))
    scores = resident_scores(hh, sat, two)
    assert scores[1] < scores[0] <= 75.0 + 1e-9


@pytest.mark.parametrize(
    ("every", "start", "months"),
    [(6, 0, [5, 11, 17]), (3, 4, [6, 9, 12, 15]), (0, 0, [])],
)
def test_evaluations_fall_due_every_few_months_from_their_start(
    small_scenario, every, start, months
):
    setting = FeeModel(small_scenario, rng=1).setting
    setting.eval_every[:], setting.eval_start[:] = every, start
    due = [t for t in range(18) if evaluations_due(t, setting).size]
    assert due == months


# -- from the tests of the land branch that hold on this engine --
def test_assessment_weighs_inspected_service_and_residents_verdict():
    q, std = np.array([0.0, 0.5, 1.0, 2.0]), np.ones(4)
    s = assessment_score(q, std, np.array([0.0, 0.5, 0.6, 1.0]))
    w = ASSESSMENT_QUALITY_WEIGHT
    assert s[0] == pytest.approx(100 * (1 - w) * 0.25) and s[-1] == pytest.approx(100.0)
    assert s[1] == pytest.approx(100 * (w * 0.5 + (1 - w) * 0.75))
    assert np.all(np.diff(s) > 0) and np.all((s >= 0) & (s <= 100))
    # Neutral residents (0.5) give the residents' part 75; at 0.75 and above, full marks.
    np.testing.assert_allclose(
        assessment_score(np.ones(3), np.ones(3), np.array([0.5, 0.75, 0.9])),
        [100 * (w + (1 - w) * 0.75), 100.0, 100.0],
    )


def test_resident_scores_hold_the_firm_to_its_promises(small_scenario):
    hh = build_households([small_scenario] * 3, Streams(1))
    firms = FeeModel([small_scenario] * 3, rng=1).firms
    firms.q[:] = 0.5
    firms.tier_q[:] = 0.5
    firms.floor_q[:] = [0.0, 0.0, 0.0]
    firms.commit_q[:] = [0.0, 0.0, 0.0]
    sat = np.full(hh.n, 0.5, dtype=np.float32)
    base = resident_scores(hh, sat, firms)
    np.testing.assert_allclose(base, 75.0)
    # A voted package (floor) or a committed investment above what is delivered lowers it.
    firms.floor_q[:] = [0.0, 1.0, 0.0]
    firms.commit_q[:] = [0.0, 0.0, 0.625]
    scores = resident_scores(hh, sat, firms)
    assert scores[0] == pytest.approx(75.0)
    assert scores[1] == pytest.approx(100 * (0.5 * 0.5 + 0.25))
    assert scores[2] == pytest.approx(100 * (0.5 * 0.8 + 0.25))
