"""The model: the clock, reproducibility, batches, shared populations and what a user may set."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import feesim
from feesim.engine.model import FeeModel
from feesim.errors import ConfigError, SimulationError

TABLES = ("series", "votes", "events", "campaigns")


def _with(sc, **sections):
    """Replace whole sections / fields of a scenario (no validation needed for tests)."""
    return dataclasses.replace(sc, **sections)


def _assert_same(a, b):
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))


def test_running_in_pieces_equals_running_in_one_go(small_scenario):
    whole = FeeModel(small_scenario, rng=4).run()
    pieces = FeeModel(small_scenario, rng=4)
    part = pieces.run(9)
    assert pieces.month == 9 and part.meta["months"] == 9 and part.series["month"].max() == 8
    _assert_same(pieces.run(), whole)
    stepped = FeeModel(small_scenario, rng=4)
    while stepped.running:
        stepped.step()
    _assert_same(stepped.result(), whole)


def test_the_same_seed_reproduces_a_run_and_another_differs(small_scenario):
    a = FeeModel(small_scenario, rng=4).run()
    _assert_same(a, FeeModel(small_scenario, rng=4).run())
    b = FeeModel(small_scenario, rng=5).run()
    assert not a.series["paid_yuan"].equals(b.series["paid_yuan"])
    assert a.meta["seed"] == {"entropy": "4", "spawn_key": []}


def test_the_horizon_is_respected(small_scenario):
    model = FeeModel(small_scenario, rng=1)
    result = model.run(100)
    assert model.month == model.months == 24 and not model.running
    assert len(result.series) == 24 and result.series["month"].max() == 23
    _assert_same(model.run(), result)  # nothing more to run
    with pytest.raises(SimulationError, match="already run its 24 months"):
        model.step()
    assert model.month == 24


def test_a_batch_shares_one_calendar(small_scenario):
    other = small_scenario.with_changes(**{"simulation.months": 12})
    with pytest.raises(ConfigError, match=r"scenarios\[1\]\.simulation"):
        FeeModel([small_scenario, other])
    with pytest.raises(ConfigError, match="at least one scenario"):
        FeeModel([])


def test_what_a_user_sets_is_checked_and_takes_hold(small_scenario):
    model = FeeModel([small_scenario] * 2, rng=1)
    with pytest.raises(ConfigError, match="records"):
        model.set_payment_records(0, np.full(3, 0.5))
    with pytest.raises(ConfigError, match="records"):
        model.set_payment_records(0, np.full(240, 1.5))
    model.set_payment_records(1, np.zeros(240))
    assert np.all(model.hh.habit[model.hh.run_slice(1)] == 0)
    assert np.all(model.residents.neighbours[model.hh.run_slice(1)] == 0)
    model.set_trailing_collection(0, 0.5)
    assert model.trailing_collection()[0] == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="collection ratio"):
        model.set_trailing_collection(0, 2.0)
    model.shift_trust(1, 0.1)
    assert model.perception.trust.tolist() == pytest.approx([0.0, 0.1])
    assert model.loss_months().tolist() == [0, 0]


def test_household_frame_pictures_the_community(small_scenario):
    model = FeeModel(small_scenario, rng=2)
    model.run(9)  # the proposal is voted in month 8 (and retried in 9 if no quorum)
    f = model.household_frame()
    assert len(f) == small_scenario.community.households
    assert f["group"].min() == 0 and f["group"].is_monotonic_increasing
    assert set(f["building_type"]) == {"multi-storey", "high-rise"}
    assert f["paying"].dtype == bool and 0 < f["paying"].mean() <= 1
    assert f["voted"].any() and (f["approved"] <= f["voted"]).all()
    # Units of one owner vote alike (one head).
    assert (f.groupby("owner")["voted"].nunique() == 1).all()


def test_shared_populations_copy_households_but_not_decisions(small_scenario):
    sc = _with(small_scenario, proposals=())
    model = FeeModel([sc] * 6, rng=3, populations=2, strict_ledger=True)
    hh = model.hh
    a, b, c = (hh.run_slice(r) for r in (0, 1, 2))
    np.testing.assert_array_equal(hh.area[a], hh.area[c])  # runs 0 and 2 share template 0
    np.testing.assert_array_equal(hh.habit[a], hh.habit[c])
    assert not np.array_equal(hh.area[a], hh.area[b])  # run 1 has the other population
    assert model.residents.offset[0] == model.residents.offset[2]
    result = model.run()
    s = result.series
    paid0 = s[s["run"] == 0]["paid_yuan"].to_numpy()
    paid2 = s[s["run"] == 2]["paid_yuan"].to_numpy()
    assert not np.array_equal(paid0, paid2)  # same households, their own decisions
    # Against one population per run the mean outcome agrees within noise.
    own = feesim.simulate([sc] * 6, rng=3).series
    for col in ("collection_rate", "service_quality"):
        assert abs(s[col].mean() - own[col].mean()) < 0.05


def test_populations_must_be_positive(small_scenario):
    with pytest.raises(feesim.ConfigError, match="populations"):
        FeeModel([small_scenario] * 2, populations=0)
