"""Households: shares drawn as the scenario says, owners and units, per-run and per-owner sums."""

from __future__ import annotations

import numpy as np
import pytest

from feesim.engine.population import CC, FR, UP, build_households, tile_households
from feesim.engine.rng import Streams

N = 4000


@pytest.fixture(scope="module")
def large(small_scenario):
    """One community of 4,000 households (the small scenario's settings)."""
    sc = small_scenario.with_changes(**{"community.households": N})
    return sc, build_households([sc], Streams(3))


def _within(share, expected, n, sds=4.0):
    """``share`` of ``n`` draws is within ``sds`` binomial standard deviations of ``expected``."""
    return abs(share - expected) <= sds * np.sqrt(expected * (1 - expected) / n)


def test_shares_of_types_and_absentees_match_the_scenario(large):
    sc, hh = large
    c = sc.community
    assert _within(np.mean(hh.htype == CC), c.conditional_cooperator_share, N)
    assert _within(np.mean(hh.htype == FR), c.free_rider_share, N)
    up = 1 - c.conditional_cooperator_share - c.free_rider_share
    assert _within(np.mean(hh.htype == UP), up, N)
    assert _within(hh.absentee.mean(), c.absentee_share, N)
    absent = int(hh.absentee.sum())
    assert _within(hh.renter[hh.absentee].mean(), c.renter_share, absent)
    # Only absentee owners' units are let; retirees and floor leaders live there.
    assert not (hh.renter & ~hh.absentee).any()
    assert not ((hh.retiree | hh.leader) & hh.absentee).any()
    # Building types: exact counts (largest remainder), households sorted by type then group.
    counts = np.bincount(hh.btype)
    assert counts.tolist() == [round(bt.share * N) for bt in c.building_types]
    assert np.all(np.diff(hh.btype) >= 0) and np.all(np.diff(hh.group) >= 0)


def test_stairwell_groups_hold_at_least_the_smallest_size(large):
    sc, hh = large
    sizes = np.diff(hh.group_start)
    assert sizes.sum() == N
    assert sizes.min() >= sc.community.stairwell_min
    # A group never mixes building types.
    for g in range(sizes.shape[0]):
        assert np.unique(hh.btype[hh.group_start[g] : hh.group_start[g + 1]]).size == 1


def test_owners_of_several_units_are_one_head_with_the_units_area(large):
    sc, hh = large
    share = sc.community.multi_unit_owner_share
    pairs = round(share * N / (1 + share))
    assert hh.n_owners == N - pairs
    units = np.bincount(hh.owner, minlength=hh.n_owners)
    assert set(units.tolist()) == {1, 2} and (units == 2).sum() == pairs
    # An owner's area is the sum of its units' (exact, in 0.01 m2); its first unit speaks for it.
    area_c = np.rint(hh.area.astype(np.float64) * 100).astype(np.int64)
    np.testing.assert_array_equal(
        hh.owner_area_c, np.bincount(hh.owner, weights=area_c).astype(np.int64)
    )
    first_unit = np.array([np.flatnonzero(hh.owner == o)[0] for o in range(0, hh.n_owners, 97)])
    np.testing.assert_array_equal(hh.owner_primary[::97], first_unit)


def test_sums_per_run_per_group_and_per_owner(small_scenario):
    other = small_scenario.with_changes(
        **{"community.households": 90, "community.multi_unit_owner_share": 0.0}
    )
    hh = build_households([small_scenario, other], Streams(4))
    assert hh.n_runs == 2 and hh.n == 330
    np.testing.assert_array_equal(hh.per_run(np.ones(hh.n, dtype=np.int64)), [240, 90])
    np.testing.assert_allclose(hh.mean(np.arange(hh.n)), [119.5, 240 + 44.5])
    assert hh.per_run(np.ones(hh.n, dtype=bool)).dtype == np.int64
    np.testing.assert_array_equal(hh.per_group(np.ones(hh.n)), np.diff(hh.group_start))
    owners = hh.per_owner_run(np.ones(hh.n_owners, dtype=np.int64))
    assert owners[1] == 90 and owners[0] < 240  # the second run has no multi-unit owners
    np.testing.assert_array_equal(owners, np.diff(hh.owner_start))
    # Owners never span runs.
    np.testing.assert_array_equal(hh.owner_run[hh.owner], hh.run)
    # A (runs x types) value reaches each household by its run and type.
    fee = np.array([[0.7, 1.2], [2.0, 3.0]])
    np.testing.assert_allclose(hh.by_type(fee), fee[hh.run, hh.btype])


def test_the_renter_share_does_not_move_the_rest_of_the_population(small_scenario):
    # Lets are drawn from a stream of their own (population module docstring).
    more = small_scenario.with_changes(**{"community.renter_share": 0.9})
    a = build_households([small_scenario], Streams(6))
    b = build_households([more], Streams(6))
    for name in ("area", "htype", "absentee", "income", "trust0", "owner", "group"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert b.renter.sum() > a.renter.sum()


def test_tiled_runs_copy_their_template_and_subsets_keep_their_units(small_scenario):
    other = small_scenario.with_changes(**{"community.households": 50})
    template = build_households([small_scenario, other], Streams(8))
    tiled = tile_households(template, np.array([1, 0, 1]))
    assert tiled.n_runs == 3 and tiled.n == 50 + 240 + 50
    np.testing.assert_array_equal(
        tiled.area[tiled.run_slice(2)], template.area[template.run_slice(1)]
    )
    np.testing.assert_array_equal(
        np.diff(tiled.owner_start), np.diff(template.owner_start)[[1, 0, 1]]
    )
    # Owner ids and primary units are renumbered within the new batch.
    np.testing.assert_array_equal(tiled.owner_run[tiled.owner], tiled.run)
    np.testing.assert_array_equal(tiled.owner[tiled.owner_primary], np.arange(tiled.n_owners))
    sub, units, owners = tiled.subset(np.array([1]))
    np.testing.assert_array_equal(sub.area, tiled.area[units])
    np.testing.assert_array_equal(sub.owner_area_c, tiled.owner_area_c[owners])
    np.testing.assert_array_equal(sub.area, template.area[template.run_slice(0)])


# -- from the tests of the land branch that hold on this engine --
def test_the_population_is_reproducible_from_its_seed_and_runs_draw_their_own(small_scenario):
    a = build_households([small_scenario, small_scenario], Streams(6))
    b = build_households([small_scenario, small_scenario], Streams(6))
    c = build_households([small_scenario, small_scenario], Streams(7))
    for name in ("area", "htype", "absentee", "income", "trust0", "owner", "group"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert not np.array_equal(a.area, c.area)
    # Two runs of one scenario in a batch are two draws of the community, not copies.
    assert not np.array_equal(a.area[a.run_slice(0)], a.area[a.run_slice(1)])
    np.testing.assert_array_equal(a.per_run(np.ones(a.n, dtype=np.int64)), [240, 240])
