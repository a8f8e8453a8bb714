"""The one-call entry point: the model run to its end, with its seed, horizon and ledger check."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import feesim
from feesim.engine.model import FeeModel
from feesim.engine.results import SimulationResult
from feesim.engine.simulate import simulate
from feesim.errors import LedgerError

TABLES = ("series", "votes", "events", "campaigns")


def _equal(a: SimulationResult, b: SimulationResult) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.meta == b.meta


def test_simulate_is_the_model_run_to_its_end(small_scenario):
    assert feesim.simulate is simulate
    _equal(simulate(small_scenario, rng=3), FeeModel(small_scenario, rng=3).run())
    # Without a seed, the scenario's own.
    _equal(simulate(small_scenario), simulate(small_scenario, rng=small_scenario.simulation.seed))
    batch = simulate([small_scenario, small_scenario], rng=3)
    _equal(batch, FeeModel([small_scenario, small_scenario], rng=3).run())
    assert batch.n_runs == 2


def test_months_overrides_the_horizon_of_every_run(small_scenario):
    short = simulate([small_scenario] * 2, rng=3, months=11)
    assert short.meta["months"] == 11 and short.series["month"].max() == 10
    assert len(short.series) == 2 * 11
    # What happens in a month does not depend on the horizon: the long run begins alike.
    long = simulate([small_scenario] * 2, rng=3)
    s = long.series
    pd.testing.assert_frame_equal(short.series, s[s["month"] < 11].reset_index(drop=True))
    pd.testing.assert_frame_equal(short.votes, long.votes[long.votes["month"] < 11])


def test_strict_ledger_is_passed_to_the_model(small_scenario, monkeypatch):
    from feesim.engine import ledger

    real = ledger.Ledger.post

    def tampered(self, flows, *args, **kwargs):
        flows = {**flows, "fee_billed": flows["fee_billed"] + 1}  # a fen billed off the books
        return real(self, flows, *args, **kwargs)

    monkeypatch.setattr(ledger.Ledger, "post", tampered)
    sc = dataclasses.replace(small_scenario, proposals=())
    simulate(sc, rng=1, months=2)  # not checked household by household
    with pytest.raises(LedgerError, match="receivable"):
        simulate(sc, rng=1, months=2, strict_ledger=True)


# -- from the tests of the land branch that hold on this engine --
def test_seed_is_a_deprecated_alias_of_rng(small_scenario):
    with pytest.warns(DeprecationWarning, match="rng"):
        old = simulate(small_scenario, seed=3, months=10)
    _equal(old, simulate(small_scenario, rng=3, months=10))
