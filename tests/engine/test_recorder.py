"""Recording: the monthly table's columns and shapes, rates, votes and campaign curves."""

from __future__ import annotations

import numpy as np
import pytest

import feesim
from feesim.engine.model import FeeModel
from feesim.engine.recorder import SERIES_COLUMNS, Recorder

RATES = (
    "collection_rate",
    "collection_rate_month",
    "fund_collection_rate",
    "satisfaction",
    "trust",
    "payment_record",
)


@pytest.fixture(scope="module")
def run(small_scenario):
    """Three runs of the small community with a four-step campaign in month 3."""
    sc = small_scenario.with_changes(**{"campaigns": [{"month": 3, "steps": 4}]})
    model = FeeModel([sc] * 3, rng=2)
    return model, model.run()


def test_one_row_per_run_and_month_with_every_column(run):
    model, result = run
    s = result.series
    assert len(s) == 3 * 24
    assert s[["run", "month"]].drop_duplicates().shape[0] == len(s)
    assert set(SERIES_COLUMNS) <= set(s.columns)
    assert {"year", "calendar_month", "date", "fee_multi-storey", "fee_high-rise"} <= set(s.columns)
    assert model.recorder.series["fee_per_m2"].shape == (24, 3)
    # Every month is recorded (no column left at its NaN placeholder, rates aside).
    for c in SERIES_COLUMNS:
        if c not in RATES and c != "firm_margin":
            assert s[c].notna().all(), c


def test_rates_stay_within_zero_and_one(run):
    _, result = run
    for c in RATES:
        v = result.series[c].dropna()
        assert ((v >= 0) & (v <= 1)).all(), c
    assert result.series["fund_collection_rate"].isna().all()  # no fund bill was ever issued


def test_the_collection_rate_is_year_to_date(small_scenario):
    # Quarterly bills from January: within a quarter no new bill goes out, so the share of the
    # year's bills paid can only grow; it starts again in January.
    s = feesim.simulate([small_scenario] * 2, rng=3).series
    for _, g in s.groupby("run"):
        rate = g.set_index("month")["collection_rate"]
        for t in range(1, 24):
            if t % 3:
                assert rate[t] >= rate[t - 1] - 1e-12, t
        assert rate[12] < rate[11]
        billed = g.set_index("month")["billed_yuan"]
        assert (billed[billed.index % 3 != 0] == 0).all()


def test_a_vote_row_carries_the_step_and_its_figures(run):
    _, result = run
    v = result.votes[result.votes["matter"] == "fee"]
    assert len(v) >= 3 and set(v["run"]) == {0, 1, 2}
    np.testing.assert_allclose(v["step_pct"], 0.2)
    np.testing.assert_allclose(v["fee_after"], v["fee_before"] * 1.2)
    assert (v["yes_heads"] <= v["part_heads"]).all() and (v["part_heads"] <= v["total_heads"]).all()


def test_campaign_curves_rise_step_by_step(run):
    _, result = run
    c = result.campaigns
    for _, g in c.groupby("run"):
        assert g["step"].tolist() == [1, 2, 3, 4]
        assert g["day"].tolist() == [12, 20, 30, 60]
        assert g["step_name"].iloc[0] == "door_to_door_bill"
        share = g["share_paid"].to_numpy()
        assert np.all(np.diff(share) >= 0) and share[0] > 0 and share[-1] <= 1


def test_events_are_logged_as_given(small_scenario):
    model = FeeModel(small_scenario, rng=1)
    rec = Recorder(model.hh, 3, 2)
    rec.event(0, 2, "notice", "firm will leave")
    assert rec.events == [{"run": 0, "month": 2, "event": "notice", "detail": "firm will leave"}]
    assert Recorder.state_name(2.0) == "emergency"
