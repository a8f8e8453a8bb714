"""Comparative statics: every lever moves outcomes the way the sources say (the model's contract).

Each test runs two ensembles on common random numbers (``tests/engine/statics.py``) and
asserts the direction of a lever's effect with a margin well above seed noise, for the lever in
force at month 0 and, where it can be switched on later, switched on at a later month.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tests.engine import statics as st
from tests.engine.levers_table import LEVERS, OUTCOMES, base_scenario, table_markdown

pytestmark = pytest.mark.slow


def _signs(levers, dated=False):
    """(lever, outcome) test parameters; an outcome the shipped fit falls short of is a strict
    xfail (only that outcome: the lever's other directions stay live checks)."""
    out = []
    for lv in levers:
        short = lv.dated_shortfall if dated else lv.shortfall
        for outcome in lv.signs:
            reason = short.get(outcome)
            marks = (
                [pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)]
                if reason
                else []
            )
            out.append(pytest.param(lv, outcome, id=f"{lv.name}: {outcome}", marks=marks))
    return out


YEAR5 = 59  # December of year 5 of a run starting in January


@pytest.fixture
def frozen(load_example):
    return load_example("frozen_fee")


@pytest.fixture
def xianghe(load_example):
    return load_example("xianghe_2025")


# -- the six cases of the "honest levers" issue ------------------------------------------------
def test_a_subsidy_raises_collection_and_no_longer_brings_the_notice_forward(frozen):
    """A district subsidy in force from month 0 raises collection, as the same subsidy switched
    on at month 12 does, and no longer brings the firm's notice forward (the issue: month 68 to
    64, four months). Paid on a score of 60 or more it stops at about the time the firm's losses
    begin (README, levers table); paid whatever the score it delays the notice."""
    subsidised = st.with_(frozen, "government.subsidy_per_m2", 0.1)
    at0 = st.effect(frozen, subsidised, st.collection_at(YEAR5))
    assert at0.positive(0.02), at0
    # 40 runs: exit months vary widely run to run (se about 1.8 months)
    exit0 = st.effect(frozen, subsidised, st.notice_month, replicates=40)
    assert exit0.mean >= -2.0, exit0
    unconditional = st.with_(subsidised, "government.subsidy_min_score", 0.0)
    delay = st.effect(frozen, unconditional, st.notice_month, replicates=40)
    assert delay.positive(6.0), delay

    def switch(model):
        model.setting.subsidy_rate[:] = 0.1

    later = st.effect(frozen, None, st.collection_at(YEAR5), switch=switch, at=12)
    assert later.positive(0.02), later
    # Earlier is no worse than later (same sign, at least as large up to seed noise).
    assert at0.mean >= later.mean - 3 * (at0.se + later.se), (at0, later)


def test_public_income_from_month_0_helps_at_least_as_much_as_from_month_12(frozen):
    income = st.with_(frozen, "firm.public_income_yuan_month", 12000.0)
    at0 = st.effect(frozen, income, st.notice_month)

    def switch(model):
        model.setting.public_income[:] = 12000.0

    later = st.effect(frozen, None, st.notice_month, switch=switch, at=12)
    assert at0.positive(12.0), at0
    assert at0.mean >= later.mean - 3 * (at0.se + later.se), (at0, later)


def test_higher_starting_trust_ends_no_worse(frozen):
    low = st.with_(frozen, "community.initial_trust", 0.3)
    high = st.with_(frozen, "community.initial_trust", 0.7)
    end = st.effect(low, high, st.trailing("collection_rate"))
    assert end.positive(0.0), end
    mid = st.effect(low, high, st.collection_at(YEAR5))
    assert mid.positive(0.02), mid


def _rejected(xianghe):
    """Xianghe's proposal with approval forced down: the same process, the step rejected."""
    return dataclasses.replace(
        xianghe, behaviour=dataclasses.replace(xianghe.behaviour, approve_intercept=-12.0)
    )


def test_a_passed_step_earns_more_collection_than_a_rejected_one(xianghe):
    """The collection gain of a step comes with the step: a rejected proposal does not earn it."""
    rejected = _rejected(xianghe)
    assert np.all(st.vote("passed")(st.run(rejected, 4, 1)) == 0)
    gain = st.effect(rejected, xianghe, st.collection_at(35))
    assert gain.positive(0.03), gain


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="0.3.0 fit: the rejected proposal's process alone leaves +0.056 collection at month "
    "35 over no proposal, not small beside the +0.064 the passed step adds (asked: below half). "
    "Measured path: the process lifts trust by 0.10 in month 11; the payment it brings lets the "
    "firm hire (+1.3 staff, 7%, by month 17), and a fixed-fee firm holds its staff while its "
    "margin stays above zero (FirmBook.plan), so the better service, the satisfaction it brings "
    "(trust +0.08 at month 35, though the governance stock halves in 24 months) and the payment "
    "habit (+0.04) last",
)
def test_a_rejected_proposals_process_leaves_little_beside_the_step(xianghe):
    rejected = _rejected(xianghe)
    two_years = st.collection_at(35)
    gain = st.effect(rejected, xianghe, two_years)
    process = st.effect(st.replace(xianghe, proposals=()), rejected, two_years)
    # What a failed proposal's process leaves behind is small beside what the step buys.
    assert abs(process.mean) < 0.5 * gain.mean, (process, gain)


def test_evaluations_without_a_step_do_not_save_a_loss_making_firm(frozen):
    evaluated = st.with_(frozen, "committee.evaluation_months", 6)
    base_exits = st.exited(st.run(frozen, 24, 11)).mean()
    with_eval = st.exited(st.run(evaluated, 24, 11)).mean()
    assert base_exits >= 0.5
    assert with_eval >= 0.6 * base_exits, (base_exits, with_eval)


def test_a_step_rolled_back_ends_no_better_than_no_step(xianghe):
    harsh = dataclasses.replace(
        xianghe,
        committee=dataclasses.replace(
            xianghe.committee, rollback=True, evaluation_threshold=95.0, evaluation_start_month=0
        ),
        simulation=dataclasses.replace(xianghe.simulation, months=60),
    )
    none = st.replace(harsh, proposals=())
    rolled = st.run(harsh, 12, 5)
    assert (rolled.events["event"] == "rolled_back").groupby(
        rolled.events["run"]
    ).any().mean() > 0.5
    end = st.effect(none, harsh, st.trailing("collection_rate"), replicates=12, seed=5)
    assert end.mean <= 0.03, end


def test_bigger_steps_lose_votes_for_a_given_package(xianghe):
    base = dataclasses.replace(
        xianghe.proposals[0], new_fee_per_m2=None, step_pct=0.2, service_quality=0.15
    )
    small = st.replace(xianghe, proposals=(base,))
    big = st.replace(xianghe, proposals=(dataclasses.replace(base, step_pct=1.2),))
    passed = st.effect(small, big, st.vote("passed"), replicates=40)
    assert passed.negative(0.2), passed
    approval = st.effect(small, big, st.vote("approval_heads"), replicates=40)
    assert approval.negative(0.1), approval


# -- every lever of the contract -----------------------------------------------------------------
def _month(lever, dated):
    if dated and lever.dated_collection_month is not None:
        return lever.dated_collection_month
    return lever.collection_month


def _effect(lever, outcome, base, variant, dated):
    """The lever's effect on ``outcome`` and the outcome's minimum size."""
    minimum, read = OUTCOMES[outcome]
    read = read or st.collection_at(_month(lever, dated))
    return st.effect(base, variant, read, replicates=lever.replicates), minimum


def _assert_sign(lever, outcome, base, variant, minimum_scale=1.0, dated=False):
    sign = lever.signs[outcome]
    eff, minimum = _effect(lever, outcome, base, variant, dated)
    minimum = lever.minimum.get(outcome, minimum)
    ok = (
        eff.positive(minimum * minimum_scale) if sign > 0 else eff.negative(minimum * minimum_scale)
    )
    assert ok, f"{lever.name}: {outcome} should go {'up' if sign > 0 else 'down'}: {eff}"


def _assert_holds(lever, base, variant, dated=False):
    for outcome, sign in lever.holds.items():
        # Not the other way: no effect of the outcome's full minimum against the direction.
        eff, minimum = _effect(lever, outcome, base, variant, dated)
        minimum = lever.minimum.get(outcome, minimum)
        wrong = eff.negative(minimum) if sign > 0 else eff.positive(minimum)
        assert not wrong, (
            f"{lever.name}: {outcome} should not go {'down' if sign > 0 else 'up'}: {eff}"
        )


@pytest.mark.parametrize(("lever", "outcome"), _signs(LEVERS))
def test_each_lever_moves_outcomes_the_way_the_sources_say(lever, outcome, load_example):
    base = base_scenario(lever, load_example)
    _assert_sign(lever, outcome, base, lever.apply(base))


@pytest.mark.parametrize("lever", [lv for lv in LEVERS if lv.holds], ids=lambda lever: lever.name)
def test_no_lever_moves_an_outcome_against_the_sources(lever, load_example):
    base = base_scenario(lever, load_example)
    _assert_holds(lever, base, lever.apply(base))


@pytest.mark.parametrize(("lever", "outcome"), _signs([lv for lv in LEVERS if lv.dated], True))
def test_a_lever_switched_on_later_points_the_same_way(lever, outcome, load_example):
    base = base_scenario(lever, load_example)
    # Later means less time to act before the horizon: the same sign, a smaller minimum.
    _assert_sign(lever, outcome, base, lever.dated(base), minimum_scale=0.5, dated=True)


@pytest.mark.parametrize(
    "lever", [lv for lv in LEVERS if lv.dated and lv.holds], ids=lambda lever: lever.name
)
def test_a_lever_switched_on_later_moves_nothing_against_the_sources(lever, load_example):
    base = base_scenario(lever, load_example)
    _assert_holds(lever, base, lever.dated(base), dated=True)


def test_the_readme_table_lists_every_lever_with_its_directions():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert table_markdown() in readme
