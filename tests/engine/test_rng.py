"""Random streams: one per decision and month, reproducible, independent of other runs' draws."""

from __future__ import annotations

import numpy as np
import pytest

from feesim.engine.rng import Decision, Streams, as_seed_sequence


def test_the_same_seed_gives_the_same_draws_and_another_seed_others():
    a = Streams(7).uniform(Decision.PAYMENT, month=3, n=50)
    b = Streams(7).uniform(Decision.PAYMENT, month=3, n=50)
    c = Streams(8).uniform(Decision.PAYMENT, month=3, n=50)
    assert a.dtype == np.float32 and np.all((a >= 0) & (a < 1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # A root given as a SeedSequence is the same root as its int.
    np.testing.assert_array_equal(
        Streams(np.random.SeedSequence(7)).uniform(Decision.PAYMENT, 3, 50), a
    )


def test_each_decision_month_and_sub_has_its_own_stream():
    s = Streams(11)
    draws = {
        "payment m3": s.uniform(Decision.PAYMENT, 3, 40),
        "complaint m3": s.uniform(Decision.COMPLAINT, 3, 40),
        "payment m4": s.uniform(Decision.PAYMENT, 4, 40),
        "payment m3 sub1": s.uniform(Decision.PAYMENT, 3, 40, sub=1),
        "payment m0": s.uniform(Decision.PAYMENT, 0, 40),
        "population": s.generator(Decision.POPULATION).random(40, dtype=np.float32),
    }
    keys = list(draws)
    for i, k in enumerate(keys):
        for other in keys[i + 1 :]:
            assert not np.array_equal(draws[k], draws[other]), (k, other)
    # Drawing one stream does not move another (no shared state between decisions).
    fresh = Streams(11)
    fresh.uniform(Decision.COMPLAINT, 3, 1000)
    np.testing.assert_array_equal(fresh.uniform(Decision.PAYMENT, 3, 40), draws["payment m3"])


def test_a_run_s_draws_do_not_depend_on_which_other_runs_draw():
    s = Streams(5)
    together = s.uniform_runs(Decision.TURNOUT, 2, np.array([0, 1, 2]), np.array([4, 6, 3]))
    alone = Streams(5).uniform_runs(Decision.TURNOUT, 2, np.array([1]), np.array([6]))
    reordered = s.uniform_runs(Decision.TURNOUT, 2, np.array([2, 1]), np.array([3, 6]))
    assert together.shape == (13,) and together.dtype == np.float32
    np.testing.assert_array_equal(together[4:10], alone)
    np.testing.assert_array_equal(reordered[3:], alone)
    # Distinct runs, decisions, months and subs draw distinct numbers.
    assert not np.array_equal(together[:3], together[10:13])
    one = np.array([1])
    for other in (
        s.uniform_runs(Decision.PAYMENT, 2, one, np.array([6])),
        s.uniform_runs(Decision.TURNOUT, 3, one, np.array([6])),
        s.uniform_runs(Decision.TURNOUT, 2, one, np.array([6]), sub=1),
    ):
        assert not np.array_equal(other, alone)
    assert (
        s.uniform_runs(Decision.TURNOUT, 2, np.array([], dtype=int), np.array([], dtype=int)).size
        == 0
    )


def test_spawned_roots_give_independent_members():
    # Ensemble members get their roots from SeedSequence.spawn: same entropy, other spawn keys.
    first, second = np.random.SeedSequence(3).spawn(2)
    a, b = Streams(first), Streams(second)
    assert not np.array_equal(
        a.uniform(Decision.TURNOUT, 0, 30), b.uniform(Decision.TURNOUT, 0, 30)
    )
    ra = a.uniform_runs(Decision.TURNOUT, 0, np.array([0]), np.array([30]))
    rb = b.uniform_runs(Decision.TURNOUT, 0, np.array([0]), np.array([30]))
    assert not np.array_equal(ra, rb)
    assert a.provenance() == {"entropy": str(first.entropy), "spawn_key": [0]}


@pytest.mark.parametrize(
    ("seed", "error"), [(-1, ValueError), (True, TypeError), (1.5, TypeError), ("7", TypeError)]
)
def test_a_bad_seed_is_refused(seed, error):
    with pytest.raises(error, match="seed"):
        as_seed_sequence(seed)


def test_no_seed_means_fresh_entropy():
    assert as_seed_sequence(None).entropy != as_seed_sequence(None).entropy
    root = np.random.SeedSequence(4)
    assert as_seed_sequence(root) is root
