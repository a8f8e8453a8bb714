"""The calibration data set: sourced, censoring coded as intervals, each figure used once."""

from __future__ import annotations

import csv
import io
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feesim.errors import ConfigError
from feesim.studies.calibration.data import (
    EXIT_CIRCUMSTANCES,
    load_cases,
    load_targets,
    rounding_interval,
)
from feesim.studies.calibration.moments import MOMENT_NAMES

#: A commit of main whose cases.csv is the first coding (60 rows), before the second pass.
FIRST_CODING = "c32517bd16491e311600b969982b3889139125a8"


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


def _rewrite(tmp_path, obs, column, value, **more):
    rows = list(csv.DictReader(io.StringIO(load_cases().path.read_text(encoding="utf-8"))))
    for r in rows:
        if r["obs_id"] == obs:
            r.update({column: value, **more})
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


# -- the second sourcing pass (cases_more) -------------------------------------------------------
@pytest.fixture(scope="module")
def first_coding(tmp_path_factory):
    """cases.csv before the second pass (from git), read with today's loader."""
    root = Path(__file__).resolve().parents[1]
    try:
        text = subprocess.run(
            ["git", "-C", str(root), "show", f"{FIRST_CODING}:calibration/cases.csv"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the git history with the first coding is not available")
    path = tmp_path_factory.mktemp("first_coding") / "cases.csv"
    path.write_text(text, encoding="utf-8")
    return load_cases(path)


def test_the_current_fit_reads_what_it_read_before_the_second_pass(cases, first_coding):
    old, new = first_coding, cases
    assert len(old.frame) == 60 and len(new.frame) > len(old.frame)
    # The old rows keep every value, as written and as derived.
    pd.testing.assert_frame_equal(new.raw.loc[old.raw.index, old.raw.columns], old.raw)
    pd.testing.assert_frame_equal(new.frame.loc[old.frame.index, old.frame.columns], old.frame)
    # Each regression reads the same rows and values, and the simulator the same cases.
    for outcome in ("approval", "turnout", "collection", "frozen"):
        pd.testing.assert_frame_equal(new.rows(outcome), old.rows(outcome))
    uses = ["use_approval", "use_collection", "use_turnout"]
    added = new.frame.drop(index=old.frame.index)
    assert added[uses].isin(["", "none"]).all().all()
    # The first coding has no second-pass columns and still loads, with empty tidy frames.
    assert old.tallies.empty and old.events.empty and old.takeovers.empty and old.exits.empty


def test_second_pass_rows_load_with_their_kinds(cases):
    raw = cases.raw
    added = raw[raw["record_kind"] != ""]
    assert len(added) == 49
    assert added["case_id"].str.match(r"^(N\d\d|AGG-N\d)$").all()
    assert (added.index.str[:-1] == added["case_id"]).all()  # obs id = source id + letter
    votes = added.index[added["record_kind"] == "vote"]
    assert set(votes) == set(cases.events.index)
    assert {"N02a", "N05a", "N06a", "N19a"} <= set(cases.tallies["obs_id"])
    assert {"N22a", "N29a"} <= set(cases.takeovers.index[cases.takeovers["use"] == "fit"])
    assert {"N37a", "N40a", "N60a"} <= set(cases.exits.index)
    ex = cases.exits
    assert ex.loc["N40a", "fee_cut_vote"] and not ex.loc["N40a", "low_collection"]
    assert ex.loc["N43a", "exit_year"] == 2014 and ex.loc["N43a", "collection_at_exit_hi"] == 0.43
    assert set(ex.columns) >= EXIT_CIRCUMSTANCES
    to = cases.takeovers
    assert to.loc["N29a", "fee_unchanged"] == 1 and to.loc["N29a", "collection_before_hi"] == 0.5


def _tally(cases, obs, measure, count, basis):
    t = cases.tallies
    sel = t[(t["obs_id"] == obs) & (t["measure"] == measure) & (t["count"] == count)]
    sel = sel[sel["basis"] == basis]
    assert len(sel) == 1, (obs, measure, count, basis)
    return sel.iloc[0]


def test_tallies_follow_the_counts_and_the_printed_shares(cases):
    # From ballot counts: exact ratios (N02a: 829 returned, 652 valid, 298 for plan 1, of 1137).
    t = _tally(cases, "N02a", "turnout", "heads", "all_owners")
    assert t["lo"] == t["hi"] == pytest.approx(829 / 1137) and t["source"] == "counts"
    assert _tally(cases, "N02a", "approval", "heads", "participants")["lo"] == pytest.approx(
        298 / 829
    )
    assert _tally(cases, "N02a", "approval", "heads", "valid_ballots")["hi"] == pytest.approx(
        298 / 652
    )
    assert _tally(cases, "N06a", "turnout", "area", "all_owners")["lo"] == pytest.approx(
        63554.7 / 77948.31
    )
    assert _tally(cases, "N19a", "approval", "heads", "valid_ballots")["lo"] == pytest.approx(
        262 / 298
    )
    # Printed shares are the interval of their rounding.
    t = _tally(cases, "N05a", "turnout", "heads", "all_owners")
    assert t["lo"] < 0.7933 < t["hi"] and t["hi"] - t["lo"] == pytest.approx(1e-4)
    # A share of all owners bounds the share of participants from below.
    t = _tally(cases, "N18a", "approval", "heads", "participants")
    assert (t["lo"], t["hi"], t["source"]) == (pytest.approx(148 / 260), 1.0, "implied")
    # Every tally is an ordered interval in [0, 1]; the counts nest.
    tl = cases.tallies
    assert ((tl["lo"] >= 0) & (tl["lo"] <= tl["hi"]) & (tl["hi"] <= 1)).all()
    counts = cases.raw[["eligible_heads", "votes_cast", "votes_valid", "votes_yes"]]
    counts = counts.replace("", np.nan).astype(float)
    for inner, outer in (("votes_yes", "votes_valid"), ("votes_valid", "votes_cast")):
        both = counts[[inner, outer]].dropna()
        assert (both[inner] <= both[outer]).all()
    both = counts[["votes_cast", "eligible_heads"]].dropna()
    assert (both["votes_cast"] <= both["eligible_heads"]).all() and len(both) >= 5


def test_vote_events_and_what_they_imply(cases):
    ev = cases.events
    # N05a failed with 79% of heads and 83% of area taking part: the quorum was met.
    assert ev.loc["N05a", "passed"] == 0 and ev.loc["N05a", "quorum_met"] == 1
    # A vote passed under Art. 278 met its quorum and had a majority of participants.
    n04 = ev.loc["N04a"]
    assert (n04["quorum_met"], n04["implied_turnout_lo"], n04["implied_approval_lo"]) == (
        1.0,
        pytest.approx(2 / 3),
        0.5,
    )
    # Before 2021 a pass meant more than half of ALL owners; no quorum rule.
    assert ev.loc["N19a", "implied_approval_basis"] == "all_owners"
    assert np.isnan(ev.loc["N19a", "quorum_met"])
    # N02a passed only by counting non-voters with the majority: no Art. 278 implication.
    assert np.isnan(ev.loc["N02a", "implied_approval_lo"])


def test_hong_kong_and_taiwan_votes_are_not_used_under_the_mainland_rule(cases):
    ev, tl = cases.events, cases.tallies
    other = ev.index[ev["vote_rule"].isin(["hk_bmo", "tw_condominium"])]
    assert set(other) == {"N07a", "N08a", "N09a", "N09b", "N10a", "N10b"}
    assert (ev.loc[other, "use"] == "none").all()
    assert (tl.loc[tl["obs_id"].isin(other), "use"] != "fit").all()
    assert (cases.raw.loc[other, "use_note"].str.contains("Hong Kong|Taiwan")).all()
    # Events used are Art. 278 votes; every 'none' states a reason.
    assert set(ev.loc[ev["use"] == "fit", "vote_rule"]) == {"civil_code_278"}
    flags = ["use_tally_turnout", "use_tally_approval", "use_event", "use_takeover", "use_exit"]
    marked = cases.raw[
        (cases.raw[[*flags, "use_approval", "use_collection"]] == "none").any(axis=1)
    ]
    assert (marked["use_note"].str.len() > 10).all()


@pytest.mark.parametrize(
    ("obs", "changes", "message"),
    [
        ("N19a", {"vote_result": "won"}, r"N19a\]\.vote_result: got 'won'; expected one of"),
        ("N19a", {"vote_rule": ""}, r"N19a\]\.vote_rule: got ''; expected set with the other"),
        (
            "N02a",
            {"votes_yes": "700"},
            r"N02a\]\.votes_yes: got '700'; expected at most votes_valid",
        ),
        (
            "N02a",
            {"votes_cast": "1200"},
            r"N02a\]\.votes_cast: got '1200'; expected at most eligible",
        ),
        ("N02a", {"votes_cast": "829.5"}, r"N02a\]\.votes_cast: got '829\.5'; expected a whole"),
        ("N19a", {"votes_no": "40"}, r"N19a\]\.votes_yes\+votes_no: got 302"),
        (
            "N05a",
            {"tally_turnout_heads_hi": "0.7"},
            r"N05a\]\.tally_turnout_heads_lo/tally_turnout_heads_hi: got \('0\.7933', '0\.7'\)",
        ),
        (
            "N06a",
            {"tally_turnout_heads_lo": "0.9", "tally_turnout_heads_hi": "0.9"},
            r"N06a\]\.tally_turnout_heads_lo: got '0\.9'; expected an interval holding 0\.8220",
        ),
        ("N17a", {"tally_approval_heads_basis": ""}, r"N17a\]\.tally_approval_heads_basis"),
        ("N03a", {"vote_rule": "civil_code_278"}, r"N03a\]\.vote_result: got 'passed'"),
        ("N37a", {"exit_date": "late 2014"}, r"N37a\]\.exit_date: got 'late 2014'"),
        ("N37a", {"exit_date": "2025-13"}, r"N37a\]\.exit_date: got '2025-13'"),
        (
            "N37a",
            {"exit_circumstances": "arrears;bad_luck"},
            r"N37a\]\.exit_circumstances: got 'bad_luck'",
        ),
        ("N22a", {"use_takeover": "maybe"}, r"N22a\]\.use_takeover: got 'maybe'"),
        ("N22a", {"firm_change": "merger"}, r"N22a\]\.firm_change: got 'merger'"),
        ("N26a", {"use_note": ""}, r"N26a\]\.use_note: got ''"),
        (
            "N05a",
            {"use_tally_approval": "fit"},
            r"N05a\]\.use_tally_approval: got 'fit'; expected empty",
        ),
        ("N37a", {"use_takeover": "fit"}, r"N37a\]\.use_takeover: got 'fit'; expected empty"),
        # Each figure once: not in the old approval regression and as an event at the same time.
        (
            "N13a",
            {"use_approval": "fit", "use_event": "fit"},
            r"N13a\]\.use_event: got 'fit'; expected not 'fit' while use_approval",
        ),
    ],
)
def test_bad_second_pass_values_are_refused_naming_row_and_column(tmp_path, obs, changes, message):
    column, value = next(iter(changes.items()))
    path = _rewrite(tmp_path, obs, column, value, **dict(list(changes.items())[1:]))
    with pytest.raises(ConfigError, match=message):
        load_cases(path)
