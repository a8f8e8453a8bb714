"""The calibration data set: sourced, censoring coded as intervals, each figure used once."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from feesim.errors import ConfigError
from feesim.studies.calibration.data import load_cases, load_targets, rounding_interval
from feesim.studies.calibration.moments import MOMENT_NAMES


@pytest.fixture(scope="module")
def cases():
    return load_cases()


@pytest.fixture(scope="module")
def targets():
    return load_targets()[1]


def test_at_least_twenty_sourced_observations(cases):
    assert cases.n_sourced_outcomes >= 20
    used = cases.frame[
        (cases.frame[["use_approval", "use_collection", "use_turnout"]] != "").any(axis=1)
    ]
    assert used["source_url"].str.len().gt(0).all()


def test_every_interval_is_ordered_and_within_zero_one(cases):
    f = cases.frame
    for o in ("approval", "turnout", "collection"):
        lo, hi = f[f"{o}_lo"], f[f"{o}_hi"]
        have = lo.notna()
        assert (lo[have] <= hi[have]).all()
        assert ((lo[have] >= 0) & (hi[have] <= 1)).all()


def test_bounds_are_censored_not_points(cases):
    f = cases.frame
    # ">0.95" (SEED-01) is at least 0.95, open above; "100%" is a rounded figure, not exactly 1.
    assert (f.loc["SEED-01a", "collection_lo"], f.loc["SEED-01a", "collection_hi"]) == (0.95, 1.0)
    assert f.loc["A09a", "collection_lo"] == pytest.approx(0.995)
    # A share of all owners bounds the share of participants from below (turnout unknown).
    assert f.loc["A02a", "approval_hi"] == 1.0
    # With the turnout known the posted share of households was converted (1276 / 1431).
    assert f.loc["A06a", "approval_hi"] == pytest.approx(1276 / 1431, abs=0.001)
    # A disputed tally is the interval between the competing counts, and weighs less.
    assert f.loc["A04a", "approval_lo"] < f.loc["A04a", "approval_hi"]
    assert (f.loc[f["disputed"], "weight"] <= 0.5).all()


def test_rounding_interval_reads_printed_precision():
    assert rounding_interval("0.85") == (0.845, 0.855)
    assert rounding_interval("1.0") == (0.995, 1.0)
    lo, hi = rounding_interval("0.8413")
    assert hi - lo == pytest.approx(1e-4)


def test_fee_cuts_parking_and_fund_votes_stay_out_of_step_regressions(cases):
    f = cases.frame
    step_rows = f[(f["use_approval"] == "fit") | (f["use_collection"] == "fit")]
    assert (step_rows["step_pct"] > 0).all()
    assert not step_rows["matter"].isin(["parking", "maintenance_fund", "frozen"]).any()
    assert f.loc["DR-2.2b", "step_pct"] < 0 and f.loc["DR-2.2b", "use_collection"] == "no"


def test_each_figure_counts_once(cases, targets):
    f = cases.frame
    # A community that is a time-path target has no regression rows.
    target_cases = {t.case_id for t in targets if t.use == "objective" and t.case_id}
    assert target_cases, "the Xianghe and fund targets name their communities"
    for cid in target_cases:
        rows = f[f["case_id"] == cid]
        assert not (rows[["use_approval", "use_collection", "use_turnout"]] == "fit").any().any()
    # Quyang: approval from SEED-02a, collection from SEED-01a, not both from both.
    assert f.loc["SEED-02a", "use_collection"] in ("", "no")
    assert f.loc["SEED-01a", "use_approval"] in ("", "no")


def test_every_exclusion_states_a_reason(cases):
    f = cases.frame
    excluded = f[(f[["use_approval", "use_collection", "use_turnout"]] == "no").any(axis=1)]
    assert excluded.index.size > 10
    assert (cases.raw.loc[excluded.index, "use_note"].str.len() > 10).all()


def test_targets_name_moments_the_simulator_computes(targets):
    names = {t.name for t in targets}
    assert {"frozen_drop_5y", "fund_day12", "fund_day30", "xianghe_approval"} <= names
    assert names <= set(MOMENT_NAMES)
    assert all(t.se > 0 and not math.isnan(t.value) for t in targets)


def _rewrite(tmp_path, obs, column, value):
    rows = list(csv.DictReader(io.StringIO(load_cases().path.read_text(encoding="utf-8"))))
    for r in rows:
        if r["obs_id"] == obs:
            r[column] = value
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path = tmp_path / "cases.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("reliability_weight", "1.7", r"SEED-01a\]\.reliability_weight: got '1\.7'"),
        ("collection_after_lo", "0.99", r"SEED-01a\]\.collection_after_lo/collection_after_hi"),
        ("use_collection", "maybe", r"SEED-01a\]\.use_collection: got 'maybe'"),
        ("source_url", "", r"SEED-01a\]\.source_url"),
    ],
)
def test_bad_rows_are_rejected_with_the_row_and_column(tmp_path, column, value, message):
    path = _rewrite(tmp_path, "SEED-01a", column, value)
    if column == "collection_after_lo":
        # lo above hi once hi is lowered
        path = _rewrite(tmp_path, "SEED-01a", "collection_after_hi", "0.9")
        text = path.read_text(encoding="utf-8").replace(",0.95,0.9,", ",0.99,0.9,", 1)
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_cases(path)


def test_unknown_target_use_is_rejected(tmp_path):
    p = tmp_path / "targets.toml"
    p.write_text('[x]\nuse = "sometimes"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"targets\.x\.use"):
        load_targets(p)


def test_step_and_flags_are_numbers(cases):
    f = cases.rows("approval")
    assert np.isfinite(f[["step_pct", "process", "quality_first_any"]].to_numpy()).all()
