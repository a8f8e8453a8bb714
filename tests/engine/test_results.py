"""Results: views of the tables (a month, a run, quantiles), summaries and save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from feesim.engine.model import FeeModel
from feesim.engine.results import SimulationResult
from feesim.engine.rules.firm import STATE_NAMES
from feesim.errors import FeesimError


@pytest.fixture(scope="module")
def result(small_scenario):
    return FeeModel([small_scenario] * 3, rng=2).run()


def test_at_gives_one_value_per_run_in_run_order(result):
    s = result.series
    values = result.at(5, "collection_rate")
    assert values.shape == (3,)
    for r in range(3):
        row = s[(s["run"] == r) & (s["month"] == 5)]
        assert values[r] == row["collection_rate"].item()


def test_select_keeps_one_run_in_every_table(result):
    one = result.select(1)
    for name in ("series", "votes", "events", "campaigns"):
        table = getattr(one, name)
        assert (table["run"] == 1).all()
        assert len(table) == (getattr(result, name)["run"] == 1).sum()
    assert one.n_runs == 1 and one.meta["selected_run"] == 1 and result.n_runs == 3


def test_quantiles_bracket_the_mean_month_by_month(result):
    q = result.quantiles("satisfaction")
    assert list(q.columns) == ["mean", "p05", "p50", "p95"] and len(q) == 24
    assert (q["p05"] <= q["p50"]).all() and (q["p50"] <= q["p95"]).all()
    assert (q["p05"] <= q["mean"] + 1e-12).all() and (q["mean"] <= q["p95"] + 1e-12).all()
    assert q.loc[3, "mean"] == pytest.approx(result.at(3, "satisfaction").mean())


def test_summaries_report_the_year_ends_and_the_votes(result):
    d = result.summary()
    assert d["runs"] == 3 and d["months"] == 24
    assert list(d["collection_rate_by_year_end"]) == [2024, 2025]
    assert d["collection_rate_by_year_end"][2024] == pytest.approx(
        result.at(11, "collection_rate").mean(), abs=1e-4
    )
    assert len(d["votes"]) == len(result.votes)
    assert "collection (year to date at December): 2024:" in result.summary_text()
    frame = result.summary_frame()
    exit_row = frame[frame["outcome"] == "firm_exit"].iloc[0]
    assert exit_row["runs"] == 3 and 0 <= exit_row["mean"] <= 1
    dec = frame[(frame["outcome"] == "collection_rate") & (frame["when"] == "2024-12")]
    assert dec["mean"].item() == pytest.approx(result.at(11, "collection_rate").mean())


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_save_and_load_round_trip(result, tmp_path, fmt):
    out = result.save(tmp_path / fmt, fmt=fmt)
    back = SimulationResult.load(out)
    assert back.meta["runs"] == 3
    np.testing.assert_allclose(back.series["paid_yuan"], result.series["paid_yuan"])
    assert (
        back.series["firm_state"].astype(str).tolist()
        == result.series["firm_state"].astype(str).tolist()
    )
    pd.testing.assert_series_equal(back.votes["passed"], result.votes["passed"])
    with pytest.raises(FeesimError, match="fmt"):
        result.save(tmp_path / "x", fmt="xlsx")
    with pytest.raises(FeesimError, match="missing"):
        SimulationResult.load(tmp_path)


def test_firm_states_are_named_and_counts_are_integers(result):
    s = result.series
    assert isinstance(s["firm_state"].dtype, pd.CategoricalDtype)
    assert (
        list(s["firm_state"].cat.categories)
        == list(STATE_NAMES)
        == ["regular", "notice", "emergency"]
    )
    for c in ("complaints", "suits_filed", "firm_serial", "firm_active"):
        assert s[c].dtype.kind == "i", c
