"""The owners' vote: Civil Code Art. 278 exactly, on heads and on area."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import feesim
from feesim.engine.population import build_households
from feesim.engine.rng import Streams
from feesim.engine.rules.vote import count, tally


def one(total_h, total_a, part_h, part_a, yes_h, yes_a, sup=False, silent=False):
    out = tally(
        [total_h],
        [total_a],
        [part_h],
        [part_a],
        [yes_h],
        [yes_a],
        supermajority=sup,
        silent_majority=silent,
    )
    return bool(out.quorum_met[0]), bool(out.passed[0]), str(out.binding[0])


# -- quorum --------------------------------------------------------------------------------
def test_quorum_exactly_two_thirds_is_met():
    # 6 of 9 owners holding 600 of 900 m2 take part: exactly 2/3 on both.
    assert one(9, 900, 6, 600, 6, 600)[:2] == (True, True)


def test_quorum_one_head_short_is_missed_even_with_area():
    # 5 of 9 owners (< 2/3) though they hold all the area.
    quorum, passed, binding = one(9, 900, 5, 900, 5, 900)
    assert (quorum, passed, binding) == (False, False, "quorum_heads")


def test_quorum_one_square_metre_short_is_missed_even_with_heads():
    # Area in 0.01 m2: 59999 of 90000 is just below 2/3; 9 of 9 heads.
    quorum, passed, binding = one(9, 90000, 9, 59999, 9, 59999)
    assert (quorum, passed, binding) == (False, False, "quorum_area")


def test_no_quorum_is_not_a_rejection():
    # Everyone who voted approved, but too few voted: no decision (not "rejected").
    out = tally([10], [1000], [6], [600], [6], [600])
    assert not out.quorum_met[0] and not out.passed[0]
    rejected = tally([10], [1000], [7], [700], [3], [300])
    assert rejected.quorum_met[0] and not rejected.passed[0]
    assert out.binding[0].startswith("quorum") and rejected.binding[0].startswith("approval")


# -- simple majority (fees, hiring a firm) ---------------------------------------------------
def test_exactly_half_is_not_more_than_half():
    assert one(10, 1000, 10, 1000, 5, 500) == (True, False, "approval_heads")


def test_just_over_half_on_both_passes():
    assert one(10, 1000, 10, 1000, 6, 501)[:2] == (True, True)


def test_heads_and_area_disagree_heads_fail():
    # Big owners approve: area 70% yes, but only 4 of 10 heads.
    assert one(10, 1000, 10, 1000, 4, 700) == (True, False, "approval_heads")


def test_heads_and_area_disagree_area_fails():
    # Many small owners approve: 7 of 10 heads, only 40% of the area.
    assert one(10, 1000, 10, 1000, 7, 400) == (True, False, "approval_area")


def test_approval_counts_participants_not_all_owners():
    # 7 of 10 take part (quorum); 4 approve: 40% of all owners but > 1/2 of participants.
    assert one(10, 1000, 7, 700, 4, 400)[:2] == (True, True)


# -- 3/4 matters (raising maintenance funds) ----------------------------------------------------
def test_three_quarters_exactly_passes_for_fund():
    assert one(8, 800, 8, 800, 6, 600, sup=True)[:2] == (True, True)


def test_just_below_three_quarters_fails_for_fund_but_passes_as_fee():
    assert one(100, 10000, 100, 10000, 74, 7400, sup=True)[:2] == (True, False)
    assert one(100, 10000, 100, 10000, 74, 7400, sup=False)[:2] == (True, True)


def test_three_quarters_needed_on_area_too():
    assert one(8, 800, 8, 800, 8, 599, sup=True) == (True, False, "approval_area")


# -- silent majority option ---------------------------------------------------------------------
def test_silent_majority_is_off_by_default_and_counts_non_voters_when_on():
    # 5 of 10 vote, 4 approve: no quorum by default; with 从众 the 5 silent join the majority.
    assert one(10, 1000, 5, 500, 4, 400) == (False, False, "quorum_heads")
    quorum, passed, _ = one(10, 1000, 5, 500, 4, 400, silent=True)
    assert quorum and passed
    # A minority stays a minority: 2 of 5 approve, silence goes to "no".
    assert one(10, 1000, 5, 500, 2, 200, silent=True)[:2] == (True, False)


def test_inconsistent_counts_are_rejected():
    with pytest.raises(ValueError, match="participants"):
        tally([5], [500], [6], [500], [1], [100])
    with pytest.raises(ValueError):
        tally([5], [500], [4], [400], [5], [100])


def test_vectorised_over_votes():
    out = tally(
        [9, 9, 10],
        [900, 900, 1000],
        [6, 5, 10],
        [600, 900, 1000],
        [6, 5, 5],
        [600, 900, 500],
        supermajority=[False, False, True],
    )
    assert out.quorum_met.tolist() == [True, False, True]
    assert out.passed.tolist() == [True, False, False]
    np.testing.assert_allclose(out.turnout_heads, [6 / 9, 5 / 9, 1.0])
    np.testing.assert_allclose(out.approval_area, [1.0, 1.0, 0.5])


# -- against an independent reference, property-based -------------------------------------------
def reference(th, ta, ph, pa, yh, ya, sup):
    q = Fraction(ph, th) >= Fraction(2, 3) and Fraction(pa, ta) >= Fraction(2, 3)
    if ph == 0 or pa == 0:
        return q, False
    if sup:
        a = Fraction(yh, ph) >= Fraction(3, 4) and Fraction(ya, pa) >= Fraction(3, 4)
    else:
        a = Fraction(yh, ph) > Fraction(1, 2) and Fraction(ya, pa) > Fraction(1, 2)
    return q, q and a


@st.composite
def counts(draw):
    th = draw(st.integers(1, 3000))
    ta = draw(st.integers(th, 300 * th))
    ph = draw(st.integers(0, th))
    pa = draw(st.integers(0, ta))
    yh = draw(st.integers(0, ph))
    ya = draw(st.integers(0, pa))
    return th, ta, ph, pa, yh, ya, draw(st.booleans())


@settings(max_examples=400, deadline=None)
@given(counts())
def test_tally_matches_fraction_reference(c):
    th, ta, ph, pa, yh, ya, sup = c
    out = tally([th], [ta], [ph], [pa], [yh], [ya], supermajority=sup)
    assert (bool(out.quorum_met[0]), bool(out.passed[0])) == reference(*c)
    if not out.quorum_met[0]:
        assert out.binding[0] in ("quorum_heads", "quorum_area")
    elif not out.passed[0]:
        assert out.binding[0] in ("approval_heads", "approval_area")


# -- multi-unit owners: one head, areas summed ---------------------------------------------------
def test_multi_unit_owners_are_one_head_with_summed_area(small_scenario):
    sc = small_scenario.with_changes(**{"community.multi_unit_owner_share": 0.2})
    hh = build_households([sc], Streams(3))
    n_units, n_owners = hh.n, hh.n_owners
    assert n_owners < n_units
    units_per_owner = np.bincount(hh.owner, minlength=n_owners)
    assert set(np.unique(units_per_owner)) <= {1, 2}
    assert (units_per_owner == 2).sum() == n_units - n_owners
    area_c = np.rint(hh.area.astype(np.float64) * 100).astype(np.int64)
    np.testing.assert_array_equal(
        np.bincount(hh.owner, weights=area_c).astype(np.int64), hh.owner_area_c
    )
    # Every owner votes once, by its primary (first) unit; heads in a count are owners.
    everyone = np.ones(n_owners, dtype=bool)
    c = count(hh, everyone, everyone)
    assert c["total_heads"][0] == n_owners == c["part_heads"][0]
    assert c["total_area_c"][0] == area_c.sum()
    assert np.all(hh.owner[hh.owner_primary] == np.arange(n_owners))
    assert np.all(
        hh.owner_primary <= np.array([np.flatnonzero(hh.owner == o).min() for o in range(n_owners)])
    )


def test_vote_tables_report_turnout_and_approval_both_ways(small_scenario):
    result = feesim.simulate(small_scenario, rng=2)
    votes = result.votes
    assert len(votes) >= 1
    v = votes.iloc[0]
    for col in ("turnout_heads", "turnout_area", "approval_heads", "approval_area"):
        assert 0.0 <= v[col] <= 1.0
    assert v["part_heads"] / v["total_heads"] == pytest.approx(v["turnout_heads"])
    assert v["yes_area_m2"] / v["part_area_m2"] == pytest.approx(v["approval_area"])
    # The recorded verdict follows the rule from the recorded counts.
    q, p = reference(
        int(v.total_heads),
        round(v.total_area_m2 * 100),
        int(v.part_heads),
        round(v.part_area_m2 * 100),
        int(v.yes_heads),
        round(v.yes_area_m2 * 100),
        bool(v.supermajority),
    )
    assert (bool(v.quorum_met), bool(v.passed)) == (q, p)
