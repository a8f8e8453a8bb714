"""The calibration pipeline: case scenarios, common random numbers, recovery, the command."""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feesim.config.behaviour import (
    Behaviour,
    default_behaviour,
    fitted_params_files,
    load_params_file,
)
from feesim.engine.model import FeeModel
from feesim.studies.calibration import (
    PARAMETERS,
    Calibrator,
    FitSettings,
    load_cases,
    load_ensemble,
    run_calibration,
)
from feesim.studies.calibration.cases import EFFECTIVE_MONTH, VOTE_MONTH, case_scenario
from feesim.studies.calibration.data import calibration_dir
from feesim.studies.calibration.fitted import ensemble_scenarios
from feesim.studies.calibration.moments import MomentSet, SimSettings, Simulator
from feesim.studies.calibration.validate import (
    baseline_predictions,
    interval_error,
    leave_one_out,
    model_error,
    predictive_interval,
    recovery,
    synthetic_data,
)
from feesim.studies.runner import Runner
from feesim.surfaces.cli.main import main

logging.getLogger("MESA").setLevel(logging.WARNING)

CASES_CSV = Path(__file__).resolve().parents[1] / "calibration" / "cases.csv"


def load_scenario_small():
    """The Xianghe example, small and short."""
    from feesim.config.scenario import load_scenario
    from feesim.studies.calibration.moments import examples_dir

    sc = load_scenario(examples_dir() / "xianghe_2025.toml")
    # Twelve months end before the example's renovation (month 17), which is dropped.
    sc = dataclasses.replace(sc, government=dataclasses.replace(sc.government, renovations=()))
    return sc.with_changes(**{"community.households": 60, "simulation.months": 12})


@pytest.fixture(scope="module")
def cases():
    return load_cases()


# -- case rows as scenarios --------------------------------------------------------------------
def test_case_scenario_carries_the_reported_step_and_process(cases):
    row = cases.frame.loc["B02a"]  # 0.8 -> 1.0, assessment report, accounts, meetings (2025)
    d = case_scenario(row)
    sc = d.scenario
    prop = sc.proposals[0]
    assert prop.month == VOTE_MONTH and prop.step_pct == pytest.approx(0.25)
    assert prop.disclosure == "assessment" and prop.negotiation_meetings
    assert sc.community.building_types[0].fee_per_m2 == pytest.approx(0.8)
    assert sc.behaviour == Behaviour()  # judgement values, never a shipped fit


def test_the_legal_audit_is_simulated_and_counted_as_process(cases):
    """A Shanghai fee step from 2021 reporting no audit is presumed audited (Shanghai rule): the
    case mapping simulates the audit and the approval regression counts it, so the regression
    sees the process the model is given; elsewhere, earlier, or with a reported assessment, no."""
    f = cases.frame
    a04, a06, b02 = f.loc["A04a"], f.loc["A06a"], f.loc["B02a"]  # Shanghai 2021; Tai'an 2019
    assert a04["flag_legal_audit"] == 1 and case_scenario(a04).scenario.proposals[0].disclosure == (
        "audit"
    )
    assert a04["process"] == a04["flag_door_to_door"] + 1
    assert a06["flag_legal_audit"] == 0 and a06["process"] == 0
    assert case_scenario(a06).scenario.proposals[0].disclosure == "none"
    assert b02["flag_legal_audit"] == 0 and b02["flag_third_party_audit"] == 1
    shanghai_2021 = (f["city"] == "Shanghai") & (f["year"] >= 2021) & (f["matter"] == "fee")
    audited = shanghai_2021 & (f["step_pct"] > 0) & (f["flag_third_party_audit"] == 0)
    assert (f["flag_legal_audit"] == audited.astype(float)).all()


def test_case_scenario_reads_collection_at_the_reported_month(cases):
    row = cases.frame.loc["A08a"]  # collection a year after the step (no date given)
    d = case_scenario(row)
    assert d.collection_month == EFFECTIVE_MONTH + 11
    # Quality first and a new firm become a package delivered early and a staff overhaul.
    b14 = case_scenario(cases.frame.loc["B14a"]).scenario
    assert b14.proposals[0].quality_first_months > 0 and b14.firm.overhaul_months


def test_two_building_types_keep_their_own_fees(cases):
    d = case_scenario(cases.frame.loc["B23a"])
    fees = {b.name: b.fee_per_m2 for b in d.scenario.community.building_types}
    assert fees == {"multi-storey": 0.7, "high-rise": 1.1}
    assert d.scenario.proposals[0].new_fee_per_m2 == {"multi-storey": 0.85, "high-rise": 1.3}


def test_a_two_type_case_starts_with_the_same_service_as_a_one_type_case(cases):
    """Cost levels put every case on one footing: with two fees the wage level follows their
    area-weighted mean, not the cheaper one (which gave B23 better service than A06)."""
    rows = [cases.frame.loc["B23a"], cases.frame.loc["A06a"]]  # two types; one type, no flags
    scs = [case_scenario(r).scenario for r in rows]
    short = lambda sc: dataclasses.replace(
        sc, simulation=dataclasses.replace(sc.simulation, months=VOTE_MONTH + 1)
    )
    scs = [short(sc) for sc in scs] * 3
    model = FeeModel(scs, rng=np.random.SeedSequence(4))
    while model.month < model.months:
        model.step()
    q = model.recorder.series["service_quality"][VOTE_MONTH - 1].reshape(3, 2).mean(axis=0)
    assert q[0] == pytest.approx(q[1], abs=0.03)


def test_simulations_use_common_random_numbers(cases):
    sim = Simulator(cases, SimSettings(replicates=1, max_households=80, examples=False))
    a = sim.simulate(Behaviour(), rng=3).cases
    b = sim.simulate(Behaviour(), rng=3).cases
    pd.testing.assert_frame_equal(a, b)
    up = sim.simulate(dataclasses.replace(Behaviour(), approve_intercept=2.0), rng=3).cases
    # More willing owners approve more, case by case, with the same random numbers.
    assert (up["approval"] >= a["approval"] - 1e-9).mean() > 0.9
    assert up["approval"].mean() > a["approval"].mean() + 0.05


def test_a_simulation_is_the_same_with_its_three_batches_on_a_pool(cases):
    """The cases and the two examples behind the time-path targets run side by side on a
    runner's workers and give what they give one after the other here, bit for bit."""
    sim = Simulator(cases, SimSettings(replicates=2, max_households=60, example_households=60))
    here = sim.simulate(Behaviour(), rng=3)
    with Runner(workers=2, progress=False) as runner:
        pooled = sim.simulate(Behaviour(), rng=3, runner=runner)
    pd.testing.assert_frame_equal(here.cases, pooled.cases, check_exact=True)
    pd.testing.assert_frame_equal(here.records, pooled.records, check_exact=True)
    assert set(here.paths) == set(pooled.paths) and {"frozen_drop_5y", "fund_day12"} <= set(
        here.paths
    )
    for k in here.paths:
        np.testing.assert_array_equal(here.paths[k], pooled.paths[k])
    np.testing.assert_array_equal(here.frozen_path, pooled.frozen_path)


# -- validation helpers --------------------------------------------------------------------------
def test_interval_error_is_zero_inside_and_distance_outside():
    err = interval_error(np.array([0.97, 0.9, 0.5]), np.array([0.95, 0.95, 0.6]), np.ones(3))
    np.testing.assert_allclose(err, [0.0, 0.05, 0.1])


def test_the_predictive_interval_carries_chance_and_the_models_own_error():
    rng = np.random.default_rng(3)
    draws = 0.70 + 0.03 * rng.standard_normal(600)  # every replicate of every member
    # Without a model error: the replicates' spread around the full fit (0.70), moved to the
    # left-out prediction (0.60).
    lo, hi = predictive_interval(0.60, 0.70, draws)
    q = np.quantile(draws - 0.70, [0.05, 0.95])
    assert (lo, hi) == pytest.approx(tuple(0.60 + q))
    # The model's own error widens it on both sides, as sqrt(sd^2 + error^2) for normal draws.
    lo2, hi2 = predictive_interval(0.60, 0.70, draws, error=0.04)
    assert lo2 < lo and hi2 > hi
    assert hi2 - lo2 == pytest.approx(2 * 1.645 * np.hypot(draws.std(), 0.04), rel=0.02)
    # Its level is exact: with no spread in the draws the interval is the error's own 5-95%.
    lo3, hi3 = predictive_interval(0.60, 0.70, np.full(50, 0.70), error=0.05)
    assert (lo3, hi3) == pytest.approx((0.60 - 1.6449 * 0.05, 0.60 + 1.6449 * 0.05), abs=1e-4)
    # A share stays a share.
    assert predictive_interval(0.98, 0.70, draws, error=0.1)[1] == 1.0
    assert np.isnan(predictive_interval(0.6, 0.7, np.array([np.nan]))[0])


def test_the_model_error_of_a_figure_comes_from_the_other_communities_only():
    frame = pd.DataFrame(
        {
            "case_id": ["a", "b", "c", "c", "d", "e"],
            "outcome": [
                "collection",
                "collection",
                "collection",
                "approval",
                "pass_fail",
                "collection",
            ],
            "model": [0.9, 0.7, 0.95, 0.6, 1.0, np.nan],
            "err_model": [0.0, 0.30, 0.04, 0.5, 1.0, 0.45],
        }
    )
    err = model_error(frame)
    # a: the others' misses (b 0.30, c 0.04); b: its own large miss does not widen its interval.
    # e was not predicted (its error is a coin toss's): it widens no one's.
    assert err[0] == pytest.approx(np.sqrt((0.30**2 + 0.04**2) / 2))
    assert err[1] == pytest.approx(np.sqrt(0.04**2 / 2))
    assert err[1] < err[0]
    # No other community has an approval figure; pass/fail is a probability, not a share.
    assert np.isnan(err[3]) and np.isnan(err[4])
    # The outcome's headline model error (validation.json, the fitted file, forecasts) leaves
    # the unpredicted figure out too.
    from feesim.studies.calibration.validate import LooResult

    for p in ("mean", "step"):
        frame[p], frame[f"err_{p}"] = 0.8, 0.1
    frame["weight"] = 1.0
    summary = LooResult(frame=frame, thetas=pd.DataFrame()).summary_frame()
    assert summary.loc["collection", "model_error"] == pytest.approx(
        np.sqrt((0.30**2 + 0.04**2) / 3)
    )


def test_the_tally_check_says_how_close_each_firm_vote_tally_comes():
    """Issue 14's done-when asks how close the firm-vote tallies come: the distance at the fit,
    in units of the model's error on the other communities, and the left-out coverage."""
    from feesim.studies.calibration.report.text import _tally_line
    from feesim.studies.calibration.validate import _tally_figures, tally_check

    frame = pd.DataFrame(
        {
            "obs_id": ["T1a", "T2a", "T3a", "C1a"],
            "case_id": ["T1", "T2", "T3", "C1"],
            "kind": ["tally", "tally", "tally", "case"],
            "outcome": ["turnout", "turnout", "approval", "turnout"],
            "lo": [0.793, 0.822, 0.62, 0.63],
            "hi": [0.793, 0.822, 1.0, 0.63],
            "fitted": [0.728, 0.832, 0.91, 0.73],
            "err_fitted": [0.065, 0.010, 0.0, 0.10],
            "model_error": [0.058, 0.060, 0.055, 0.05],
            "covered": [True, True, True, False],
            "covered_sim": [False, True, True, False],
        }
    )
    check = tally_check(frame)
    assert list(check["obs_id"]) == ["T1a", "T2a", "T3a"]  # the case row is not a tally
    # A tally the fit did not simulate has no distance, and is neither inside nor the farthest.
    unsimulated = frame.assign(fitted=[np.nan, 0.832, 0.91, 0.73], err_fitted=[0.29, 0.01, 0, 0.1])
    assert np.isnan(tally_check(unsimulated).loc[0, "distance"])
    assert _tally_figures(unsimulated)["farthest"]["obs_id"] == "T2a"
    assert check.loc[0, "in_errors"] == pytest.approx(0.065 / 0.058)
    assert list(check["covered"]) == [True, True, True]
    figures = _tally_figures(frame)
    assert figures["n"] == 3 and figures["inside_at_fit"] == 1 and figures["covered_90"] == 3
    assert figures["farthest"]["obs_id"] == "T1a"
    assert figures["farthest"]["in_errors"] == pytest.approx(0.065 / 0.058)
    records = pd.DataFrame(
        {
            "obs_id": ["T1a", "T2a", "T3a"],
            "kind": "tally",
            "measure": ["turnout", "turnout", "approval"],
            "distance": [0.065, 0.010, 0.0],
        }
    )
    line = _tally_line(records, check)
    assert line.startswith("- **Firm-vote tallies**: 1 of 3 reproduced")
    # Every figure outside its reported value is named with its distance, farthest first.
    assert "T1a (turnout) 0.065 outside, 1.1 times the model's turnout error; T2a" in line
    assert "3 of 3 lie inside the model's 90% predictive interval" in line
    # Without posterior members (a quick run) there is no interval to speak of.
    assert "predictive" not in _tally_line(records, tally_check(frame.drop(columns="covered")))


def test_a_figures_replicates_come_from_its_record_before_its_case_row():
    from feesim.studies.calibration.moments import SimOutcome
    from feesim.studies.calibration.validate import _predict, _replicates

    sim = SimOutcome(
        pd.DataFrame({"obs_id": ["X1a", "X1a"], "turnout": [0.1, 0.2], "approval": [0.5, 0.6]})
    )
    sim.records = pd.DataFrame(
        {
            "obs_id": ["X1a"] * 3,
            "measure": ["turnout"] * 3,
            "replicate": [0, 1, 2],
            "value": [0.7, 0.8, 0.9],
        }
    )
    assert list(_replicates(sim, "X1a", "turnout")) == [0.7, 0.8, 0.9]
    assert _predict(sim, ["X1a"], "turnout")["X1a"] == pytest.approx(0.8)
    assert list(_replicates(sim, "X1a", "approval")) == [0.5, 0.6]  # no record of approval
    assert len(_replicates(sim, "X1a", "collection")) == 0


def test_the_patience_sweep_sets_the_fee_and_the_firms_patience():
    from feesim.config.scenario import Firm, load_scenario
    from feesim.studies.calibration.report.data import patience_sweep

    sc = load_scenario(Path(__file__).parent.parent / "examples" / "frozen_fee.toml")
    sc = sc.with_changes(**{"community.households": 60})
    own = sc.community.building_types[0]
    w = patience_sweep(
        sc,
        1,
        np.random.SeedSequence(3),
        fee_shares=(None, 0.9),
        patience=(None, (6, -0.2)),
        months=12,
    )
    assert len(w) == 4 and (w["runs"] == 1).all()
    assert w["fee_to_full"].tolist() == pytest.approx(
        [own.fee_per_m2 / own.full_service_fee_per_m2] * 2 + [0.9] * 2, abs=1e-3
    )
    assert w["exit_loss_months"].tolist() == [Firm().exit_loss_months, 6] * 2
    assert w["renewal_margin"].tolist() == pytest.approx([Firm().renewal_margin, -0.2] * 2)
    # Twelve months is too short for a notice: no collection is read.
    assert (w["notices"] == 0).all() and w["collection"].isna().all()


def test_the_exit_check_reads_the_notice_the_exit_and_the_years_collection():
    from feesim.studies.calibration.report.data import exit_circumstances, notice_readings

    T, R = 40, 3
    state = np.zeros((T, R), dtype=int)
    state[20:23, 0] = 1  # notice in month 20, gone (emergency provider) from month 23
    state[23:, 0] = 2
    state[35:, 1] = 1  # notice in month 35, still serving at the end
    billed = np.full((T, R), 100.0)
    paid = np.full((T, R), 60.0)
    paid[:12, 0] = 90.0  # run 0 collected more in its first year
    rev, cost = np.full((T, R), 80.0), np.full((T, R), 100.0)
    series = {
        "firm_state": state,
        "paid_yuan": paid,
        "billed_yuan": billed,
        "firm_revenue_yuan": rev,
        "firm_cost_yuan": cost,
    }
    g = notice_readings(series).set_index("run")
    assert list(g.index) == [0, 1]  # run 2 never gives notice
    assert g.loc[0, "notice"] == 20 and g.loc[0, "exit"] == 23
    assert g.loc[0, "collection_notice"] == pytest.approx((4 * 90 + 8 * 60) / 1200)  # months 8-19
    assert g.loc[0, "collection_exit"] == pytest.approx((90 + 11 * 60) / 1200)  # months 11-22
    assert g.loc[0, "margin"] == pytest.approx(-0.25)
    assert np.isnan(g.loc[1, "exit"]) and np.isnan(g.loc[1, "collection_exit"])
    # Circumstances: most named first, ties by name, whatever the set's order; 'repeated' is a
    # history, not a circumstance.
    exits = pd.DataFrame(
        {
            "arrears": [True, False, True],
            "low_collection": [True, True, True],
            "contract_expiry": [False, True, True],
            "repeated": [True, True, True],
            "fund_dispute": [False, False, False],
        }
    )
    c = exit_circumstances(exits)
    assert list(c.index) == ["low_collection", "arrears", "contract_expiry"]
    assert list(c) == [3, 2, 2]


def test_baselines_follow_the_other_cases(cases):
    rows = cases.rows("approval")
    pred = baseline_predictions(rows.iloc[1:], rows.iloc[:1], "approval")
    assert 0.5 < pred["mean"].iloc[0] < 1.0 and 0.0 < pred["step"].iloc[0] < 1.0


def _loo_frame():
    """A small leave-one-out frame: two approval figures and a vote."""
    return pd.DataFrame(
        {
            "obs_id": ["X1", "X2", "V1"],
            "kind": ["case", "case", "event"],
            "outcome": ["approval", "approval", "pass_fail"],
            "lo": [0.5, 0.6, 1.0],
            "hi": [1.0, 0.7, 1.0],
            "weight": [1.0, 0.5, 1.0],
            "model": [0.4, 0.65, 0.2],
            "mean": [0.8, 0.8, 0.9],
            "err_model": [0.1, 0.0, 0.64],
            "err_mean": [0.0, 0.1, 0.01],
            "pi_lower": [0.3, 0.6, 0.1],
            "pi_upper": [0.45, 0.7, 0.3],
            "covered": [False, True, False],
        }
    )


def test_the_criteria_say_met_only_at_a_20_percent_gain_and_80_percent_coverage():
    from feesim.studies.calibration.report import criteria_frame

    validation = {
        "approval": {"n": 5, "model": 0.081, "baseline_mean": 0.1, "baseline_logit": 0.2},
        "turnout": {"n": 3, "model": 0.05, "baseline_mean": 0.0, "baseline_logit": 0.1},
        "collection": {"n": 0},
        "pass_fail": {"n": 2, "model": 0.1, "baseline_rate": 0.2},
    }
    rec = pd.DataFrame(
        {"recovered": [True] * 9 + [False], "covered_90": [True] * 6 + [False] * 4},
        index=[f"p{i}" for i in range(10)],
    )
    c = criteria_frame(validation, _loo_frame(), rec).set_index(
        ["criterion", "outcome", "baseline"]
    )
    approval_mean = c.loc[("skill", "approval", "baseline_mean")]
    assert approval_mean["met"] is False  # a 19% gain misses
    assert approval_mean["shortfall"] == pytest.approx(0.01)
    assert c.loc[("skill", "approval", "baseline_logit"), "met"] is True  # 59.5%
    assert c.loc[("skill", "turnout", "baseline_mean"), "met"] is False  # a zero-error baseline
    assert c.loc[("skill", "collection", "baseline_no_change"), "met"] is None  # no figures
    assert c.loc[("skill", "pass_fail", "baseline_rate"), "met"] is True  # 50%
    coverage = c.loc[("coverage", "3 figures", "")]
    assert coverage["value"] == pytest.approx(1 / 3) and coverage["met"] is False
    assert c.loc[("recovery", "10 parameters", ""), "met"] is False
    # Ten 90% intervals hold the truth at least 7 times in 95% of realisations; 6 is too few.
    post = c.loc[("posterior coverage", "10 parameters", "")]
    assert post["required"] == pytest.approx(0.7) and post["met"] is False
    without = criteria_frame(validation, _loo_frame(), None).set_index("criterion")
    assert without.loc["recovery", "met"] is None


def test_the_deciding_cases_are_those_that_raise_the_models_error_most():
    from feesim.studies.calibration.report import deciding_cases

    d = deciding_cases(_loo_frame(), "approval", "mean")
    # X1 adds 1.0 * (0.1 - 0.0) / 1.5; X2 lowers the model's error relative to the mean.
    assert list(d["obs_id"]) == ["X1"]
    assert d["excess"].iloc[0] == pytest.approx(0.1 / 1.5)


# -- parameter recovery (small synthetic design) -------------------------------------------------
def _synthetic_cases(path, n=16):
    header = next(csv.reader(io.StringIO(load_cases().path.read_text(encoding="utf-8"))))
    steps = np.linspace(0.1, 1.2, n)
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    w.writeheader()
    for i, s in enumerate(steps):
        row = dict.fromkeys(header, "")
        row.update(
            obs_id=f"S{i:02d}",
            case_id=f"S{i:02d}",
            community="synthetic",
            city="Synthetic",
            year="2020",
            households="150",
            fee_before="0.8",
            fee_after=f"{0.8 * (1 + s):.4f}",
            step_pct=f"{s:.4f}",
            step_yuan=f"{0.8 * s:.4f}",
            housing_kind="old_public",
            matter="fee",
            status="passed",
            door_to_door="1" if i % 2 else "0",
            quality_first="1" if i % 3 == 0 else "0",
            approval_heads_lo="0.5",
            approval_heads_hi="1",
            approval_basis="participants",
            reliability_weight="1.0",
            disputed="0",
            use_approval="fit",
            source_url="synthetic",
        )
        w.writerow(row)
    path.write_text(out.getvalue(), encoding="utf-8")
    return load_cases(path)


def test_parameter_recovery_on_synthetic_cases(tmp_path):
    """Approval intercept and step slope come back within 0.5 and 1.0 of the truth.

    Sixteen synthetic communities of 150 households, two replicates per parameter set; the truth
    (1.0, 2.0) lies away from the judgement start (0.0, 3.0).
    """
    syn = _synthetic_cases(tmp_path / "cases.csv")
    params = [p for p in PARAMETERS if p.name in ("approve_intercept", "approve_step")]
    st = _synthetic_settings()
    cal = Calibrator(syn, [], st, parameters=params)
    truth = {"approve_intercept": 1.0, "approve_step": 2.0}
    rec = recovery(cal, truth, rng=4242, tolerance={"approve_intercept": 0.5, "approve_step": 1.0})
    assert rec.all_recovered, rec.frame
    start_error = abs(rec.fit.theta - pd.Series({"approve_intercept": 0.0, "approve_step": 3.0}))
    assert (rec.frame["error"].abs() < start_error).all()


def _synthetic_settings():
    return FitSettings(
        replicates=2,
        max_households=150,
        screen=0,
        starts=1,
        max_nfev=12,
        jac_step=0.03,
        polish=0,
        bootstrap=0,
        chord_iterations=2,
        recovery=False,
        examples=False,
        seed=17,
    )


def test_leave_one_out_beats_the_baselines_when_the_model_is_right(tmp_path):
    """On cases the model generated (strong step effect), its out-of-sample error is lowest."""
    syn = _synthetic_cases(tmp_path / "cases.csv")
    params = [p for p in PARAMETERS if p.name in ("approve_intercept", "approve_step")]
    cal = Calibrator(syn, [], _synthetic_settings(), parameters=params)
    data, _ = synthetic_data(cal, {"approve_intercept": 1.5, "approve_step": 3.0}, rng=99)
    cal2 = Calibrator(data, [], _synthetic_settings(), parameters=params)
    loo = leave_one_out(cal2, cal2.fit())
    s = loo.summary_frame().loc["approval"]
    assert s["wmae_model"] < s["wmae_mean"] and s["wmae_model"] < s["wmae_step"]
    assert loo.beats_baselines


def test_left_out_intervals_pool_every_replicate_and_add_the_model_error(tmp_path):
    """The predictive interval of a left-out figure: every replicate of every member (not the
    members' medians) with and without the model error, which only widens it."""
    syn = _synthetic_cases(tmp_path / "cases.csv", n=8)
    params = [p for p in PARAMETERS if p.name in ("approve_intercept", "approve_step")]
    cal0 = Calibrator(syn, [], _synthetic_settings(), parameters=params)
    data, _ = synthetic_data(cal0, {"approve_intercept": 1.5, "approve_step": 3.0}, rng=99)
    cal = Calibrator(data, [], _synthetic_settings(), parameters=params)
    fit = cal.fit()
    members = [np.clip(fit.u + d, 0, 1) for d in (-0.02, 0.0, 0.02)]
    frame = leave_one_out(cal, fit, members=members).frame
    f = frame[frame["outcome"] == "approval"]
    assert len(f) == 8 and f["model_error"].notna().all()
    assert (f["pi_lower"] <= f["pi_lower_sim"] + 1e-12).all()
    assert (f["pi_upper"] >= f["pi_upper_sim"] - 1e-12).all()
    inside = (f["pi_lower"] > 0) & (f["pi_upper"] < 1) & (f["model_error"] > 0)
    assert (
        inside.any()
        and (
            f.loc[inside, "pi_upper"] - f.loc[inside, "pi_lower"]
            > f.loc[inside, "pi_upper_sim"] - f.loc[inside, "pi_lower_sim"]
        ).all()
    )
    # The interval without the model error is the replicates' 5-95% (3 members x 2 replicates),
    # around the full fit and moved to the left-out prediction: wider than the members' medians.
    sims = cal.simulate_many(members)
    full = cal.simulate(fit.u)
    r = f.iloc[0]
    draws = np.concatenate(
        [s.cases.loc[s.cases["obs_id"] == r["obs_id"], "approval"] for s in sims]
    )
    fitted = full.cases.loc[full.cases["obs_id"] == r["obs_id"], "approval"].median()
    assert r["fitted"] == pytest.approx(fitted)
    q = np.quantile(draws - fitted, [0.05, 0.95])
    assert (r["pi_lower_sim"], r["pi_upper_sim"]) == pytest.approx(
        tuple(np.clip(r["model"] + q, 0, 1))
    )


def _left_out_problems(cal, cases, k=3):
    """Re-solve problems: each of the first ``k`` communities left out, priors moved apart."""
    out = []
    for j, cid in enumerate(cal.simulator.case_ids[:k]):
        mult = pd.Series(1.0, index=cal.simulator.case_ids)
        mult[cid] = 0.0
        ms = MomentSet(cases, [], multiplicity=mult, base=cal.moments).with_records(cal.simulator)
        out.append((ms, cal.center + 0.3 * j * cal.sd))
    return out


def test_the_fit_and_its_re_solves_are_the_same_on_a_process_pool(tmp_path):
    """Batches of simulations (screen, Jacobians, re-solves side by side) on two worker
    processes give what this process gives, bit for bit; side by side, each re-solve takes the
    steps it takes alone."""
    syn = _synthetic_cases(tmp_path / "cases.csv")
    params = [p for p in PARAMETERS if p.name in ("approve_intercept", "approve_step")]
    st = dataclasses.replace(_synthetic_settings(), screen=3, max_nfev=4)
    here = Calibrator(syn, [], st, parameters=params)
    fit = here.fit()
    problems = _left_out_problems(here, syn)
    together = here.chord_solve_many(problems, fit)
    alone = [here.chord_solve(ms, fit, center=c) for ms, c in problems]
    for (u1, _), (u2, _) in zip(together, alone, strict=True):
        np.testing.assert_array_equal(u1, u2)
    assert len({tuple(u) for u, _ in together}) > 1  # the problems did differ

    pooled = Calibrator(syn, [], st, parameters=params)
    with Runner(workers=2, progress=False) as runner:
        pooled.runner = runner
        fit2 = pooled.fit()
        assert runner._pool is not None  # the batches did run on the pool
        on_pool = pooled.chord_solve_many(_left_out_problems(pooled, syn), fit2)
    pd.testing.assert_series_equal(fit.theta, fit2.theta, check_exact=True)
    for (u1, s1), (u2, s2) in zip(together, on_pool, strict=True):
        np.testing.assert_array_equal(u1, u2)
        pd.testing.assert_frame_equal(s1.cases, s2.cases, check_exact=True)


# -- the command ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("calibrate")
    # One process: the suite already runs a test file per core (the pool is tested above).
    status = main(
        ["calibrate", "--quick", "--quiet", "--out", str(out), "--seed", "5", "--workers", "1"]
    )
    return status, out


def test_quick_calibration_writes_a_loadable_params_file(quick_run, monkeypatch):
    status, out = quick_run
    assert status == 0
    files = list((out / "fitted").glob("params-*.toml"))
    assert len(files) == 1
    beh = load_params_file(files[0])
    data = tomllib.loads(files[0].read_text(encoding="utf-8"))
    assert data["fit"]["quick"] is True
    for p in PARAMETERS:
        if p.kind == "behaviour":
            assert getattr(beh, p.fields[0]) == pytest.approx(data["parameters"][p.name]["mean"])
    members = load_ensemble(files[0])
    assert len(members) == len(data["ensemble"]["members"]) >= 2
    assert all(isinstance(m, Behaviour) for m in members)
    # Forecasts with parameter uncertainty: one scenario per drawn member, runnable together.
    base = load_scenario_small()
    runs = ensemble_scenarios(base, files[0], n=4, rng=1)
    assert len(runs) == 4 and all(r.behaviour in members for r in runs)
    result = FeeModel(runs, rng=2).run()
    assert result.n_runs == 4
    # Pointed at the folder, the package takes it as its default behaviour.
    monkeypatch.setenv("FEESIM_FITTED_DIR", str(out / "fitted"))
    assert fitted_params_files() == files
    assert default_behaviour() == beh


def _report_section(text, heading):
    """The lines of a REPORT.md section, from its heading to the next of the same level."""
    lines = text.splitlines()
    start = lines.index(heading)
    level = heading.split(" ")[0] + " "
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(level)), len(lines))
    return lines[start:end]


def test_quick_calibration_writes_the_report_with_its_figures(quick_run):
    _, out = quick_run
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    for heading in (
        "## Summary",
        "## Data",
        "### The second sourcing pass",
        "## Auxiliary regressions on the reported cases",
        "## Fitted parameters",
        "### The posterior",
        "## The second pass's records: reported against simulated",
        "### Fee steps reported passed",
        "## Reported against simulated, case by case",
        "## Validation: leave one case out",
        "### Against the done-when criteria",
        "## Parameter recovery",
        "## Limitations",
    ):
        assert heading in text.splitlines(), heading
    for fig in ("cases", "coefficients", "validation", "loo", "paths", "parameters"):
        png = out / "figures" / f"{fig}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"(figures/{fig}.png)" in text
    # The bootstrap ensemble is gone from the method; the posterior's diagnostics are stated.
    assert "bootstrap over communities with randomised" not in text
    posterior = "\n".join(_report_section(text, "### The posterior"))
    assert "effective sample size of the importance weights" in posterior
    assert "acceptance of the moves" in posterior


def test_the_report_counts_the_second_pass_and_names_what_it_leaves_out(quick_run):
    _, out = quick_run
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    data = _report_section(text, "### The second sourcing pass")
    cases = load_cases()
    table = {line.split("|")[1].strip(): line for line in data if line.startswith("| ")}
    for kind in ("tallies", "events", "takeovers", "exits"):
        frame = getattr(cases, kind)
        cells = [c.strip() for c in table[kind].strip("|").split("|")]
        # records, flagged fit, flagged none, as in the tidy frames of load_cases()
        assert cells[1:4] == [
            str(len(frame)),
            str(int((frame["use"] == "fit").sum())),
            str(int((frame["use"] == "none").sum())),
        ], kind
    assert "section 8" in "\n".join(data) and "use_note" in "\n".join(data)
    # A Taiwan vote is listed as left out with its reason; a takeover whose collection is read
    # by its takeover flag is not.
    left = {line.split("|")[1].strip(): line for line in data if line.startswith("| N")}
    assert "Taiwan" in left["N09a"]
    assert "N22a" not in left
    # The exits are compared with the model's firm in a check: the reported collections at exit
    # and when the model's frozen-fee firm gives notice.
    exits = "\n".join(_report_section(text, "### Firm exits: a check, not fitted"))
    used = cases.exits[cases.exits["use"] == "fit"]
    assert f"Of the {len(used)} exits flagged `fit`" in exits
    for obs in used[used["collection_at_exit_lo"].notna()].index:
        assert obs in exits, obs
    assert "frozen-fee estate's firm" in exits and "gives notice in" in exits
    # The patience sweep: one row per fee and patience, and why the exits are not a moment.
    from feesim.studies.calibration.report.data import SWEEP_FEE_SHARES, SWEEP_PATIENCE

    sweep = [line for line in exits.splitlines() if line.startswith("| 0.")]
    assert len(sweep) == len(SWEEP_FEE_SHARES) * len(SWEEP_PATIENCE)
    assert "A moment on them would fit the patience to an assumed fee" in exits


def test_the_report_states_the_validation_figures_and_the_criteria(quick_run):
    import json

    _, out = quick_run
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    validation = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    section = _report_section(text, "## Validation: leave one case out")
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in section
        if line.startswith("| ") and line.split("|")[1].strip() in validation
    ]
    # The table of validation.json: one row per outcome and baseline.
    rows = [r for r in rows if len(r) > 3 and r[3] in ("mean", "logit", "no_change", "rate")]
    # Every outcome of validation.json with its n and the model's error, once per baseline.
    for outcome in ("approval", "turnout", "collection", "pass_fail"):
        entry = validation[outcome]
        mine = [r for r in rows if r[0] == outcome]
        baselines = [k for k in entry if k.startswith("baseline_")]
        assert len(mine) == len(baselines) >= 1, outcome
        for r in mine:
            assert r[1] == str(entry["n"])
            assert r[2] == f"{entry['model']:.3f}"
            assert entry[f"baseline_{r[3]}"] == pytest.approx(float(r[4]), abs=5e-4)
    # A verdict for each done-when criterion, in the summary and the validation section.
    summary = "\n".join(_report_section(text, "## Summary"))
    for outcome in ("approval", "turnout", "collection", "pass_fail"):
        assert f"- **{outcome}**" in summary
    assert "- **Coverage**" in summary and "- **Recovery**" in summary
    assert "**Passed fee steps**" in summary and "at least 80%" in summary
    criteria = "\n".join(_report_section(text, "### Against the done-when criteria"))
    verdicts = criteria.count("**met") + criteria.count("**not met**")  # "**met as scored**" too
    assert verdicts == 5  # four outcomes and the coverage
    records = "\n".join(
        _report_section(text, "## The second pass's records: reported against simulated")
    )
    for d in ("N05a", "N22a", "N58a"):  # a tally, a takeover and an event of the fit
        assert f"| {d} |" in records
    # How close the firm-vote tallies come (issue 14): counted in validation.json and stated.
    tallies = validation["firm_vote_tallies"]
    assert tallies["n"] == records.count("| tally |") >= 5
    assert f"{tallies['inside_at_fit']} of {tallies['n']} reproduced" in summary
    assert f"{tallies['covered_90']} of {tallies['n']} lie inside" in summary
    # The intervals carry the model's own error: they cover at least what those without it do,
    # and the report gives both.
    for outcome in ("approval", "turnout", "collection"):
        entry = validation[outcome]
        assert entry["coverage_90"] >= entry["coverage_90_without_model_error"], outcome
    assert "Without the model's own error" in criteria


def test_a_stopped_calibration_resumes_from_its_checkpoint(quick_run, tmp_path):
    # The checkpoint of the quick calibration the command ran (quick_run, `--seed 5`): reused
    # rather than computed again, which took a quarter of a minute.
    shutil.copytree(quick_run[1] / "checkpoint", tmp_path / "checkpoint")
    kw = {"quick": True, "rng": 5, "progress": False, "report": False, "workers": 1}
    first = run_calibration(tmp_path, **kw)  # every phase read back from the checkpoint
    assert first.calibrator.n_sims == 0
    # Lose the finished phases but keep the cached simulations: nothing is simulated again.
    for p in (tmp_path / "checkpoint").glob("state-*.json"):
        p.unlink()
    second = run_calibration(tmp_path, **kw)
    assert second.calibrator.n_sims == 0
    pd.testing.assert_series_equal(first.fit.theta, second.fit.theta)


# -- the price-sensitivity prior -------------------------------------------------------------
def test_the_tier_choice_slope_recovers_a_known_logit_slope():
    from feesim.studies.calibration.fit import tier_choice_slope

    b = 4.0

    def logit_counts(prices):
        # Choice counts of a multinomial logit with utility -b * relative step (large counts).
        w = np.exp(-b * (np.asarray(prices) / prices[0] - 1))
        return tuple(round(1e6 * x / w.sum()) for x in w)

    # Prices not starting at 1: the step is relative to the cheapest tier, not absolute.
    high, villa = (1.10, 1.43, 1.76, 2.10), (1.85, 2.40)
    groups = [(high, logit_counts(high)), (villa, logit_counts(villa))]
    assert tier_choice_slope(groups) == pytest.approx(b, rel=1e-3)
    # A tier nobody chose carries no finite log ratio and is left out, not an error.
    counts = logit_counts(high)
    assert tier_choice_slope([(high, (*counts[:3], 0))]) == pytest.approx(b, rel=1e-3)


def test_the_step_prior_is_centred_on_n11a_tier_choice():
    import re

    from feesim.studies.calibration.fit import N11A_TIERS, tier_choice_slope

    # The tiers and counts are those of the source's notes (calibration/cases.csv, N11a).
    with open(CASES_CSV, encoding="utf-8", newline="") as f:
        notes = next(r["notes"] for r in csv.DictReader(f) if r["obs_id"] == "N11a")
    high_rise, villas = notes.split("Villas")
    for (prices, counts), text in zip(N11A_TIERS, (high_rise, villas), strict=True):
        found = re.findall(r"tier \d \(>= ([\d.]+)(?: yuan)?\) (\d+)", text)
        assert tuple(float(p) for p, _ in found) == prices
        assert tuple(int(n) for _, n in found) == counts
    step = next(p for p in PARAMETERS if p.name == "approve_step")
    # Two thirds chose the cheapest of four tiers, 1.4% the dearest: about 4.7 log-odds per
    # relative step, net of the service each dearer tier buys.
    assert 4.2 < tier_choice_slope() < 5.2
    assert step.judgement == pytest.approx(tier_choice_slope(), abs=0.01)
    assert step.sd <= 2.0  # informative: the reported votes alone leave it unidentified


# -- the shipped fit ----------------------------------------------------------------------------
def _shipped(monkeypatch):
    monkeypatch.delenv("FEESIM_FITTED_DIR", raising=False)
    files = fitted_params_files()
    assert files, "a fitted parameter file is shipped in calibration/fitted"
    return files[-1], tomllib.loads(files[-1].read_text(encoding="utf-8"))


def test_the_shipped_fit_is_the_default_behaviour(monkeypatch):
    path, data = _shipped(monkeypatch)
    assert data["fit"]["quick"] is False
    assert default_behaviour() == load_params_file(path)
    moved = [
        p.name
        for p in PARAMETERS
        if p.kind == "behaviour"
        and abs(data["parameters"][p.name]["mean"] - p.judgement) > 0.05 * (p.hi - p.lo)
    ]
    assert moved, "the data moved some parameters away from their judgement values"
    assert len(load_ensemble(path)) >= 20


def test_the_shipped_fit_predicts_left_out_collection_better_than_the_baselines(monkeypatch):
    _, data = _shipped(monkeypatch)
    fit = data["fit"]
    assert fit["loo_wmae_model_collection"] < fit["loo_wmae_mean_collection"]
    assert fit["loo_wmae_model_collection"] < fit["loo_wmae_step_collection"]


def test_the_shipped_fits_predictive_intervals_cover_four_fifths_of_the_left_out_figures():
    """Calibration 2's done-when: 90% predictive intervals cover at least 80% of left-out
    figures (calibration/validation.json), and the model error they carry is in the fitted file
    that forecasts read."""
    import json

    from feesim.studies.forecast import fitted_model_error

    v = json.loads((calibration_dir() / "validation.json").read_text(encoding="utf-8"))
    outcomes = ("approval", "turnout", "collection", "pass_fail")
    covered = sum(v[o]["coverage_90"] * v[o]["n"] for o in outcomes)
    assert covered / sum(v[o]["n"] for o in outcomes) >= 0.8
    err = fitted_model_error(calibration_dir() / "fitted" / "params-0.3.0.toml")
    assert err == {o: pytest.approx(v[o]["model_error"]) for o in outcomes[:3]}


def test_the_shipped_fit_recovers_its_parameters(monkeypatch):
    _, data = _shipped(monkeypatch)
    assert data["fit"]["recovery_all_within_tolerance"]


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="known shortfall (calibration/REPORT.md, Limitations): out of sample the model's "
    "weighted approval error is above the constant baselines', which sit inside most of the "
    "reported bounds",
)
def test_the_shipped_fit_predicts_left_out_approval_better_than_the_baselines(monkeypatch):
    _, data = _shipped(monkeypatch)
    fit = data["fit"]
    assert fit["loo_wmae_model_approval"] < fit["loo_wmae_mean_approval"]
    assert fit["loo_wmae_model_approval"] < fit["loo_wmae_step_approval"]


def test_without_a_fitted_file_the_judgement_defaults_are_used_and_said(
    tmp_path, monkeypatch, caplog
):
    import feesim.config.behaviour as fb

    monkeypatch.setenv("FEESIM_FITTED_DIR", str(tmp_path))  # an empty folder
    fb._cached_default.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="feesim.config.behaviour"):
            assert default_behaviour() == Behaviour()
        assert "no fitted parameter file found" in caplog.text
    finally:
        fb._cached_default.cache_clear()


def test_the_naive_baselines_still_predict_from_one_or_two_figures():
    # Leaving one turnout case out can leave two figures: too few for even the intercept-only
    # logit; the baseline then predicts their weighted midpoint instead of scoring a coin toss.
    from feesim.studies.calibration.validate import baseline_predictions

    for n, level in ((1, 0.65), (2, 0.70)):
        train = pd.DataFrame(
            {
                "turnout_lo": [0.6, 0.7][:n],
                "turnout_hi": [0.7, 0.8][:n],
                "weight": [1.0] * n,
                "step_pct": [10.0, 20.0][:n],
            }
        )
        test = pd.DataFrame({"step_pct": [0.0]}, index=["left-out"])
        pred = baseline_predictions(train, test, "turnout")
        assert pred.loc["left-out", "mean"] == pytest.approx(level)
        assert pred.loc["left-out", "step"] == pytest.approx(level)
