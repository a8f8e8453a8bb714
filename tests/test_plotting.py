"""Plots draw exactly the numbers of the result they are given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import feesim
from feesim.errors import ConfigError
from feesim.surfaces import plotting


@pytest.fixture(scope="module")
def ensemble(small_scenario):
    return feesim.simulate([small_scenario] * 6, rng=4)


@pytest.fixture(scope="module")
def single(small_scenario):
    return feesim.simulate(small_scenario, rng=4)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _band_values(ax) -> np.ndarray:
    (poly,) = ax.collections
    return poly.get_paths()[0].vertices[:, 1]


@pytest.mark.parametrize("column", ["collection_rate", "service_quality", "firm_cash_yuan"])
def test_line_and_band_are_the_result_quantiles(ensemble, column):
    ax = plotting.plot_outcome(ensemble, column, x="month")
    q = ensemble.quantiles(column, q=(0.05, 0.5, 0.95))
    (line,) = ax.lines
    np.testing.assert_allclose(line.get_xdata(), q.index.to_numpy())
    np.testing.assert_allclose(line.get_ydata(), q["p50"].to_numpy())
    band = _band_values(ax)
    for bound in ("p05", "p95"):
        assert np.all(np.isin(np.round(q[bound].to_numpy(), 9), np.round(band, 9)))


def test_mean_centre_and_custom_band(ensemble):
    ax = plotting.plot_outcome(ensemble, "trust", center="mean", band=(0.25, 0.75), x="month")
    q = ensemble.quantiles("trust", q=(0.25, 0.5, 0.75))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), q["mean"].to_numpy())
    assert np.all(np.isin(np.round(q["p75"].to_numpy(), 9), np.round(_band_values(ax), 9)))


def test_single_run_has_no_band_and_dates_on_x(single):
    ax = plotting.plot_fee(single)
    assert len(ax.collections) == 0
    s = single.series
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), pd.to_datetime(s["date"]).to_numpy())
    np.testing.assert_allclose(ax.lines[0].get_ydata(), s["fee_per_m2"].to_numpy())
    assert ax.get_title(loc="left") == "Fee"


def test_given_axes_are_used_and_returned(single):
    _fig, ax = plt.subplots()
    for fn in (
        plotting.plot_quality,
        plotting.plot_collection,
        plotting.plot_satisfaction,
        plotting.plot_trust,
        plotting.plot_firm_cash,
        plotting.plot_firm_margin,
        plotting.plot_staff,
        plotting.plot_complaints,
        plotting.plot_arrears,
    ):
        assert fn(single, ax=ax) is ax


def test_every_outcome_column_can_be_plotted(single):
    for column in plotting.OUTCOMES:
        ax = plotting.plot_outcome(single, column)
        assert ax.get_title(loc="left") == plotting.OUTCOMES[column][0]
        plt.close(ax.figure)
    ax = plotting.plot_outcome(single, "fee_multi-storey")
    assert ax.get_title(loc="left") == "Fee, multi-storey"


def test_compare_labels_each_result(ensemble, single):
    ax = plotting.plot_compare({"six runs": ensemble, "one run": single}, "collection_rate")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["six runs", "one run"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), single.series["collection_rate"].to_numpy())


def test_overview_has_the_six_outcomes_and_marks_events(single):
    axes = plotting.plot_overview(single)
    titles = [ax.get_title(loc="left") for ax in axes]
    assert titles == [plotting.OUTCOMES[c][0] for c in plotting.OVERVIEW]
    fee_changes = single.events[single.events["event"] == "fee_changed"]["month"]
    assert len(fee_changes)  # the small scenario's step passes
    dates = single.series.set_index("month")["date"]
    marked = {
        pd.Timestamp(line.get_xdata()[0])
        for line in axes[0].lines
        if line.get_label() == "fee change"
    }
    assert marked == {pd.Timestamp(dates.loc[m]) for m in fee_changes}


def test_vote_bars_are_the_votes(ensemble):
    ax = plotting.plot_vote(ensemble, matter="fee")
    first = ensemble.votes[ensemble.votes["matter"] == "fee"].sort_values("month")
    first = first.groupby("run").head(1)
    heights = [p.get_height() for p in ax.patches]
    expected = first[["turnout_heads", "turnout_area", "approval_heads", "approval_area"]].mean()
    np.testing.assert_allclose(heights, expected.to_numpy())
    # Thresholds of Art. 278: quorum 2/3 of heads and area, more than 1/2 approval.
    levels = sorted(c.get_segments()[0][0][1] for c in ax.collections if c.get_segments())
    assert levels[:2] == pytest.approx([0.5, 2 / 3])
    assert f"passed in {first['passed'].mean():.0%} of 6 runs" in ax.get_title(loc="left")


def test_vote_without_votes(single):
    empty = single.votes.iloc[0:0]
    ax = plotting.plot_vote(empty)
    assert "no vote yet" in [t.get_text() for t in ax.texts]


def test_campaign_curve_is_the_campaign_table(load_example):
    result = feesim.simulate(load_example("fund_topup"), rng=2)
    ax = plotting.plot_campaign(result)
    c = result.campaigns
    first = c[c["campaign"] == c["campaign"].min()].groupby("day")["share_paid"].mean()
    np.testing.assert_allclose(ax.lines[0].get_ydata()[1:], first.to_numpy())
    np.testing.assert_allclose(ax.lines[0].get_xdata()[1:], first.index.to_numpy())


def test_community_picture_counts_households(small_scenario):
    model = feesim.FeeModel(small_scenario, rng=4)
    model.run(9)  # the vote is in month 8
    frame = model.household_frame()
    grid, legend = plotting.community_grid(frame, "payment", max_columns=10)
    cells = grid[~np.isnan(grid)]
    assert cells.size == len(frame)
    assert (cells == 0).sum() == frame["paying"].sum()
    not_paying = (~frame["paying"]) & (frame["payment_record"] < 0.5)
    assert (cells == 2).sum() == not_paying.sum()
    assert legend[0][0] == "paid up"
    ax = plotting.plot_community(frame, color_by="vote")
    shown = ax.images[0].get_array()
    voted = frame["voted"].astype(bool)
    assert int((shown == 0).sum()) == int((voted & frame["approved"].astype(bool)).sum())
    assert int((shown == 2).sum()) == int((~voted).sum())
    with pytest.raises(ConfigError, match=r"^color_by: got .colour."):
        plotting.plot_community(frame, color_by="colour")


def test_cycle_path_is_december_values(single):
    """One point per December (whole years only: no month-0 year-to-date point), in order,
    with an arrow from each year to the next and the years written beside the points."""
    ax = plotting.plot_cycle(single)
    s = single.series
    pts = s[s["calendar_month"] == 12]
    assert len(pts) >= 2
    np.testing.assert_allclose(ax.lines[0].get_xdata(), pts["service_quality"].to_numpy())
    np.testing.assert_allclose(ax.lines[0].get_ydata(), pts["collection_rate"].to_numpy())
    arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    assert len(arrows) == len(pts) - 1
    labels = [t.get_text() for t in ax.texts if t.get_text()]
    assert labels == [str(y) for y in pts["year"]]
    # until: the path stops before that month (e.g. a firm's exit)
    cut = plotting.plot_cycle(single, until=int(pts["month"].iloc[1]))
    assert len(cut.lines[0].get_xdata()) == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: plotting.plot_outcome(r, "colour"), "^column: got 'colour'"),
        (lambda r: plotting.plot_outcome(r, "trust", x="year"), "^x: got 'year'"),
        (lambda r: plotting.plot_outcome(r, "trust", center="mode"), "^center: got 'mode'"),
        (lambda r: plotting.plot_outcome(r, "trust", band=(0.9, 0.1)), "^band: got"),
        (lambda r: plotting.plot_collection(r, kind="daily"), "^kind: got 'daily'"),
    ],
)
def test_bad_arguments_name_the_field(single, call, message):
    with pytest.raises(ConfigError, match=message):
        call(single)
