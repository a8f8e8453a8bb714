"""The results protocol: every result summarises itself and comes back from ``load(save(x))``.

One test per result class: the round trip gives an equal object (tables with their dtypes and
indexes, the small attributes, nested results), ``summary_text()`` says something and
``summary_frame()`` has statsmodels' estimate columns where the figures are estimates over runs,
with values that follow from the runs. Then the sidecar's provenance and refusals, and the
import rule: no study imports a surface.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import feesim
from feesim.errors import FeesimError
from feesim.protocol import (
    ESTIMATE_COLUMNS,
    SIDECAR,
    Result,
    load_result,
    sample_estimate,
    save_result,
    share_estimate,
)
from feesim.studies.sensitivity import Outcome

SRC = Path(feesim.__file__).resolve().parent
Z95 = 1.959963984540054


# ==============================================================================================
# helpers
# ==============================================================================================
def _missing_as_none(frame):
    """Object columns with NaN and None for missing values alike (Parquet keeps only null)."""
    out = frame.copy()
    for c in [c for c in out.columns if pd.api.types.is_object_dtype(out[c])]:
        out[c] = out[c].where(out[c].notna(), None)
    return out


def assert_same(a, b, where="result"):
    """Deep equality of results: frames, series and arrays exactly, NaN equal to NaN."""
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(_missing_as_none(a), _missing_as_none(b), obj=where)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, obj=where)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
        assert a.dtype == b.dtype, where
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert sorted(a) == sorted(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def round_trip(result, tmp_path, name="saved"):
    folder = result.save(tmp_path / name)
    assert (folder / SIDECAR).is_file()
    back = type(result).load(folder)
    assert isinstance(back, Result) and isinstance(result, Result)
    return back


def check_estimates(frame):
    """Estimate columns present, standard errors >= 0, intervals around the mean."""
    assert set(ESTIMATE_COLUMNS) <= set(frame.columns)
    ok = frame.dropna(subset=list(ESTIMATE_COLUMNS))
    assert len(ok), "no row has an estimate with an interval"
    assert (ok["mean_se"] >= 0).all()
    assert (ok["mean_ci_lower"] <= ok["mean"] + 1e-12).all()
    assert (ok["mean"] <= ok["mean_ci_upper"] + 1e-12).all()


# ==============================================================================================
# the helpers of the protocol
# ==============================================================================================
def test_sample_estimate_is_mean_se_and_normal_interval():
    v = np.array([1.0, 2.0, 4.0, np.nan])
    e = sample_estimate(v)
    se = np.std([1.0, 2.0, 4.0], ddof=1) / math.sqrt(3)
    assert e["mean"] == pytest.approx(7 / 3) and e["mean_se"] == pytest.approx(se)
    assert e["mean_ci_upper"] - e["mean"] == pytest.approx(Z95 * se)
    one = sample_estimate([0.5])
    assert one["mean"] == 0.5 and math.isnan(one["mean_se"]) and math.isnan(one["mean_ci_lower"])


def test_share_estimate_is_wilson_and_stays_inside_zero_one():
    e = share_estimate(0.0, 20)
    assert e["mean"] == 0.0 and e["mean_se"] == 0.0
    assert e["mean_ci_lower"] == pytest.approx(0.0, abs=1e-15)
    assert e["mean_ci_upper"] == pytest.approx(Z95**2 / (20 + Z95**2))  # Wilson at p = 0
    half = share_estimate(0.5, 100)
    assert half["mean_se"] == pytest.approx(0.05)
    assert half["mean_ci_lower"] == pytest.approx(1 - half["mean_ci_upper"])
    assert 0.40 < half["mean_ci_lower"] < 0.41


def test_load_refuses_other_classes_unfinished_saves_and_newer_formats(tmp_path):
    from feesim.studies.phase import PhaseDiagram

    @dataclass
    class Other:
        x: int = 1

    save_result(tmp_path / "other", Other(), {"t": pd.DataFrame({"a": [1]})})
    assert load_result(tmp_path / "other", Other).tables["t"]["a"].tolist() == [1]
    with pytest.raises(FeesimError, match=r"holds a .*Other; expected a .*PhaseDiagram"):
        PhaseDiagram.load(tmp_path / "other")
    with pytest.raises(FeesimError, match=r"no result\.json"):
        PhaseDiagram.load(tmp_path / "empty")
    side = json.loads((tmp_path / "other" / SIDECAR).read_text())
    (tmp_path / "other" / "t.parquet").unlink()
    with pytest.raises(FeesimError, match=r"missing t\.parquet"):
        load_result(tmp_path / "other", Other)
    side["format"] = 99
    (tmp_path / "other" / SIDECAR).write_text(json.dumps(side))
    with pytest.raises(FeesimError, match="format 99"):
        load_result(tmp_path / "other", Other)
    with pytest.raises(FeesimError, match="column 0 is not a string"):
        save_result(tmp_path / "bad", Other(), {"t": pd.DataFrame({0: [1]})})


# ==============================================================================================
# engine: SimulationResult
# ==============================================================================================
@pytest.fixture(scope="module")
def simulation(small_scenario):
    sc = small_scenario.with_changes(**{"simulation.months": 14})
    return feesim.simulate([sc, sc, sc], rng=4)


def test_simulation_result_round_trips_with_its_provenance(simulation, tmp_path):
    back = round_trip(simulation, tmp_path)
    assert_same(simulation, back)
    assert back.series["firm_state"].dtype == "category"
    side = json.loads((tmp_path / "saved" / SIDECAR).read_text())
    assert side["class"] == "feesim.engine.results.SimulationResult"
    assert side["feesim_version"] == feesim.__version__ and side["created"]
    assert side["provenance"]["seed"] == simulation.meta["seed"]
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == [
        "campaigns.parquet",
        "events.parquet",
        "result.json",
        "series.parquet",
        "votes.parquet",
    ]


def test_simulation_csv_layout_is_the_command_line_one(simulation, tmp_path):
    out = simulation.save(tmp_path / "csv", fmt="csv")
    assert sorted(p.name for p in out.iterdir()) == [
        "campaigns.csv",
        "events.csv",
        "meta.json",
        "series.csv",
        "votes.csv",
    ]
    assert (out / "series.csv").read_bytes() == simulation.series.to_csv(index=False).encode()
    back = feesim.SimulationResult.load(out)
    assert back.meta == simulation.meta
    np.testing.assert_allclose(back.series["collection_rate"], simulation.series["collection_rate"])
    with pytest.raises(FeesimError, match="fmt: got 'xls'"):
        simulation.save(tmp_path / "x", fmt="xls")


def test_simulation_summary_frame_is_the_runs_mean_with_its_error(simulation):
    f = simulation.summary_frame()
    check_estimates(f)
    s = simulation.series
    last = s[s["month"] == s["month"].max()]["collection_rate"]
    row = f[(f["outcome"] == "collection_rate") & (f["when"] == "end")].iloc[0]
    assert row["runs"] == 3 and row["mean"] == pytest.approx(last.mean())
    assert row["mean_se"] == pytest.approx(last.std(ddof=1) / math.sqrt(3))
    decembers = f[f["when"].str.endswith("-12")]
    assert decembers["outcome"].eq("collection_rate").all() and len(decembers) == 1
    assert {"firm_exit", "complaints"} <= set(f["outcome"])
    assert "small" in simulation.summary_text()


# ==============================================================================================
# studies: EnsembleResult
# ==============================================================================================
@pytest.fixture(scope="module")
def ensemble_scenario(small_scenario):
    return small_scenario.with_changes(**{"simulation.months": 14})


@pytest.fixture(scope="module")
def ensemble_result(ensemble_scenario):
    from feesim.studies import ensemble

    real = ensemble.run_chunk

    def run_chunk(chunk):
        # Member 3 fails (its chunk, then itself when rerun alone); the others run.
        if any(m.member == 3 for m in chunk.members):
            raise feesim.SimulationError("member 3 failed on purpose")
        return real(chunk)

    ens = ensemble.Ensemble(ensemble_scenario, replicates=4, rng=3, chunk_households=480)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ensemble, "run_chunk", run_chunk)
        return ens.run("serial", progress=False)


def test_ensemble_result_round_trips(ensemble_result, tmp_path):
    back = round_trip(ensemble_result, tmp_path)
    for name in ("series", "votes", "events", "campaigns"):
        pd.testing.assert_frame_equal(ensemble_result.table(name), back.table(name))
    assert_same(ensemble_result.members, back.members)
    assert_same(ensemble_result.summary, back.summary)
    assert back.meta == ensemble_result.meta and back.meta["seed"] == 3
    assert back.summary_text() == ensemble_result.summary_text()


def test_ensemble_streamed_to_parquet_saves_whole_tables(ensemble_scenario, tmp_path):
    from feesim.studies.ensemble import Ensemble, EnsembleResult

    ens = Ensemble(ensemble_scenario, replicates=4, rng=3, chunk_households=480)
    streamed = ens.run("serial", progress=False, out=tmp_path / "stream", tables=("votes",))
    back = round_trip(streamed, tmp_path)
    pd.testing.assert_frame_equal(streamed.votes, back.votes)
    assert back.out is None and "series" not in back._tables
    assert json.loads((tmp_path / "saved" / SIDECAR).read_text())["tables"] == [
        "members",
        "summary",
        "votes",
    ]
    # The folder of `feesim ensemble --out` (CSV summaries beside partitioned Parquet) loads too.
    streamed.members.to_csv(tmp_path / "stream" / "members.csv", index=False)
    streamed.summary.to_csv(tmp_path / "stream" / "summary.csv", index=False)
    cli = EnsembleResult.load(tmp_path / "stream")
    assert cli.out == tmp_path / "stream" and len(cli.members) == 4
    pd.testing.assert_frame_equal(streamed.votes, cli.votes)


def test_ensemble_summary_frame_per_key_over_members(ensemble_result):
    f = ensemble_result.summary_frame()
    check_estimates(f)
    ok = ensemble_result.summary  # member 3 failed: three members ran
    row = f[f["outcome"] == "collection_rate_last_december"].iloc[0]
    assert row["members"] == 3 == len(ok)
    assert row["mean"] == pytest.approx(ok["collection_rate_last_december"].mean())
    exit_row = f[f["outcome"] == "firm_exit"].iloc[0]
    assert exit_row["mean"] == pytest.approx(ok["first_exit_month"].notna().mean())
    text = ensemble_result.summary_text()
    assert "4 members (3 ok, 1 failed)" in text and "failed member 3" in text


# ==============================================================================================
# studies: ForecastResult and SearchResult
# ==============================================================================================
@pytest.fixture(scope="module")
def forecast_input():
    from tests.test_forecast import community

    return community()


@pytest.fixture(scope="module")
def forecast_result(forecast_input):
    from tests.test_forecast import forecast

    return forecast(forecast_input, runs=30)


def test_forecast_result_round_trips_and_keeps_its_json(forecast_result, tmp_path):
    back = round_trip(forecast_result, tmp_path)
    folder = tmp_path / "saved"
    assert (folder / "forecast.json").read_text() == forecast_result.to_json()
    assert not list(folder.glob("*.html")) and not list(folder.glob("*.png"))
    assert back.to_json() == forecast_result.to_json()
    assert_same(forecast_result.status_quo, back.status_quo, "status_quo")
    assert_same(forecast_result.proposal, back.proposal, "proposal")
    assert back.input == forecast_result.input and back.dates == forecast_result.dates
    assert back.summary_text() == forecast_result.summary_text()
    prov = json.loads((folder / SIDECAR).read_text())["provenance"]
    assert prov["seed"] == 11 and prov["runs"] == 30


def test_null_forecast_saves_one_branch(forecast_input, tmp_path):
    from tests.test_forecast import community, forecast

    nothing = {
        "proposal.step_percent": 0,
        "proposal.service_improvement": 0,
        "proposal.audit": "none",
        "proposal.door_to_door_rounds": 0,
    }
    null = forecast(community(**nothing), runs=10)
    assert null.data["null_proposal"]
    back = round_trip(null, tmp_path)
    assert not (tmp_path / "saved" / "proposal_runs.parquet").exists()
    assert back.proposal is back.status_quo
    assert back.to_json() == null.to_json()


def test_forecast_summary_frame_matches_forecast_json(forecast_result):
    f = forecast_result.summary_frame().set_index(["branch", "outcome"])
    check_estimates(f)
    d = forecast_result.data
    p = f.loc[("proposal", "pass_probability")]
    assert p["mean"] == d["pass_probability"] and p["mean_se"] == d["pass_probability_se"]
    for key in ("collection_rate_12m", "firm_cash_end_yuan", "turnout_heads"):
        assert f.loc[("proposal", key), "mean"] == pytest.approx(d[key]["mean"])
    assert f.loc[("status_quo", "collection_rate_12m"), "mean"] == pytest.approx(
        d["status_quo_collection_rate_12m"]["mean"]
    )
    assert f.loc[("difference", "collection_rate_12m"), "mean"] == pytest.approx(
        d["difference_collection_rate_12m"]["mean"]
    )
    assert f.loc[("status_quo", "firm_exit_probability_12m"), "mean"] == pytest.approx(
        d["status_quo_firm_exit_probability_12m"]
    )
    # A window longer than the months followed after the vote: null in the JSON, no row.
    after = d["months"] - d["vote_month"]
    assert after < 36 and d["status_quo_firm_exit_probability_36m"] is None
    assert ("status_quo", "firm_exit_probability_36m") not in f.index


def test_search_result_is_a_mapping_with_the_protocol(forecast_input, tmp_path):
    from feesim.studies.forecast import Runner
    from feesim.studies.forecast.result import SearchResult
    from feesim.studies.forecast.search import search_step

    with Runner(workers=1, progress=False) as runner:
        s = search_step(
            forecast_input,
            runs=20,
            ensemble=None,
            runner=runner,
            step_grid=[0.1, 0.5],
            service_grid=[0.0, 0.2],
            lead_grid=[0, 2],
        )
    assert isinstance(s, SearchResult) and s["runs"] == 20 and "curve" in dict(s)
    back = round_trip(s, tmp_path)
    assert back == s
    f = s.summary_frame()
    check_estimates(f)
    turnout = (
        {"door_to_door_rounds": 6, "door_to_door_reach": 7} if s.levers["quorum_binds"] else {}
    )
    assert f.groupby("lever").size().to_dict() == {
        "quality_first": 2,
        "service": 2,
        "step": len(s["curve"]["step_pct"]),
        **turnout,
    }
    step = f[f["lever"] == "step"]
    assert step["mean"].tolist() == s["curve"]["pass_probability"]
    assert "step search" in s.summary_text()
    # attached to a forecast, forecast.json holds it as plain data
    from tests.test_forecast import forecast

    res = forecast(forecast_input, runs=10).with_search(s)
    assert json.loads(res.to_json())["search"] == s.to_dict()


# ==============================================================================================
# studies: PortfolioResult
# ==============================================================================================
@pytest.fixture(scope="module")
def portfolio_result():
    from feesim.config.scenario import Scenario
    from feesim.studies.portfolio import Portfolio, run_portfolio
    from tests.test_portfolio import small_table

    base = Scenario().with_changes(**{"simulation.months": 14})
    pf = Portfolio(name="two", base=base, table=small_table(6), seed=2, parameter_sets=2)
    return run_portfolio(pf, executor="serial", progress=False)


def test_portfolio_result_round_trips_with_its_ensembles(portfolio_result, tmp_path):
    back = round_trip(portfolio_result, tmp_path)
    for name in ("communities", "districts", "sets"):
        assert_same(getattr(portfolio_result, name), getattr(back, name), name)
    assert back.total == portfolio_result.total and back.meta["seed"] == 2
    assert isinstance(back.ensemble, tuple) and len(back.ensemble) == 2
    for a, b in zip(portfolio_result.ensemble, back.ensemble, strict=True):
        pd.testing.assert_frame_equal(a.votes, b.votes)
    assert back.summary_text() == portfolio_result.summary_text()


def test_portfolio_csv_layout_and_summary_frame(portfolio_result, tmp_path):
    out = portfolio_result.save(tmp_path / "csv", fmt="csv")
    assert sorted(p.name for p in out.iterdir()) == [
        "communities.csv",
        "districts.csv",
        "sets.csv",
    ]
    f = portfolio_result.summary_frame()
    total = f[f["level"] == "portfolio"].set_index("outcome")
    t = portfolio_result.total
    assert total.loc["collection_end", "value"] == pytest.approx(t["collection_end"])
    assert total.loc["collection_end", "hi"] == pytest.approx(t["collection_end_hi"])
    assert set(f.loc[f["level"] == "district", "district"]) == {"Hongkou", "Putuo"}


# ==============================================================================================
# studies: PhaseDiagram
# ==============================================================================================
@pytest.fixture(scope="module")
def diagram(small_scenario):
    from feesim.studies.phase import phase_diagram

    return phase_diagram(
        small_scenario, [0.2, 0.5, 0.9], years=3, runs=2, settle_years=1, households=60, min_runs=1
    )


def test_phase_diagram_round_trips(diagram, tmp_path):
    back = round_trip(diagram, tmp_path)
    assert_same(diagram, back)
    # a threshold outside the grid is NaN, which JSON writes as null and load reads back
    nan = dataclasses.replace(diagram, thresholds=(float("nan"),))
    assert math.isnan(round_trip(nan, tmp_path, "nan").thresholds[0])


def test_phase_summary_frame_is_per_state(diagram):
    f = diagram.summary_frame()
    assert set(ESTIMATE_COLUMNS) <= set(f.columns)
    coll = f[f["outcome"] == "collection"].set_index("state")
    assert list(coll.index) == diagram.states["state"].tolist()
    np.testing.assert_allclose(coll["mean"], diagram.states["collection"])
    assert (coll["runs"] == diagram.states["runs"].to_numpy()).all()
    assert "stable state" in diagram.summary_text()


# ==============================================================================================
# studies: Evaluation and SensitivityResult
# ==============================================================================================
@dataclass(frozen=True)
class MeanTrust(Outcome):
    """An outcome of our own, defined at module level (importable when loaded)."""

    name: str = "trust"
    label: str = "mean trust at the end"
    unit: str = "0-1"

    def per_member(self, t):
        return t.summary.set_index("member")["trust"].reindex(t.index)


@pytest.fixture(scope="module")
def evaluation(small_scenario):
    from feesim.studies import sensitivity as sa

    sc = small_scenario.with_changes(**{"simulation.months": 14})
    factors = [
        sa.Factor("proposals[0].step_pct", 0.1, 0.5, name="step"),
        sa.Factor("proposals[0].campaign_steps", 0, 3, name="campaign"),
    ]
    d = sa.design(factors, 2, rng=3)
    outcomes = (sa.PassProbability(), sa.Collection(), sa.FirmExit(months=6), MeanTrust())
    return sa.evaluate(sc, d, outcomes=outcomes, replicates=2, workers=1, progress=False)


def test_evaluation_round_trips_with_design_and_outcomes(evaluation, tmp_path):
    back = round_trip(evaluation, tmp_path)
    assert_same(evaluation.table, back.table)
    assert_same(evaluation.members, back.members)
    assert back.outcomes == evaluation.outcomes
    assert type(back.outcomes[-1]) is MeanTrust
    d, e = back.design, evaluation.design
    assert (d.factors, d.method, d.n, d.levels, d.seed) == (
        e.factors,
        e.method,
        e.n,
        e.levels,
        e.seed,
    )
    np.testing.assert_array_equal(d.unit, e.unit)
    assert back.meta == evaluation.meta
    pd.testing.assert_frame_equal(back.wide(), evaluation.wide())


def test_an_outcome_class_that_cannot_be_imported_comes_back_plain(evaluation, tmp_path):
    from feesim.studies.sensitivity import Evaluation, Outcome

    folder = evaluation.save(tmp_path / "e")
    side = json.loads((folder / SIDECAR).read_text())
    side["attrs"]["outcomes"][-1]["class"] = "nowhere.Gone"
    (folder / SIDECAR).write_text(json.dumps(side))
    back = Evaluation.load(folder)
    assert type(back.outcomes[-1]) is Outcome and back.outcomes[-1].name == "trust"


def test_evaluation_summary_frame_is_the_mean_over_design_points(evaluation):
    f = evaluation.summary_frame().set_index("outcome")
    check_estimates(f)
    values = evaluation.wide()["collection"]
    assert f.loc["collection", "points"] == evaluation.design.points
    assert f.loc["collection", "mean"] == pytest.approx(values.mean())
    assert f.loc["collection", "mean_se"] == pytest.approx(
        values.std(ddof=1) / math.sqrt(len(values))
    )
    assert "design points" in evaluation.summary_text()


def test_sensitivity_result_round_trips(evaluation, tmp_path):
    from feesim.studies import sensitivity as sa

    res = sa.analyse(evaluation, rng=1, resamples=20)
    back = round_trip(res, tmp_path)
    assert_same(res, back)
    assert set(res.summary_frame().columns) >= {"S1", "S1_ci_lower", "ST", "ST_ci_upper", "rank"}


# ==============================================================================================
# studies: calibration (FitResult, LooResult, RecoveryResult, RegressionResult, CalibrationRun)
# ==============================================================================================
def _fit(names=("approve_intercept", "approve_step"), ensemble=True):
    from feesim.studies.calibration import FitResult

    rng = np.random.default_rng(1)
    k = len(names)
    theta = pd.Series(rng.normal(size=k), index=list(names))
    moments = ["m1", "m2", "m3", *[f"prior:{n}" for n in names]]
    a = rng.normal(size=(k, k))
    return FitResult(
        theta=theta,
        u=rng.uniform(size=k),
        cost=1.25,
        residuals=pd.Series(rng.normal(size=len(moments)), index=moments),
        jacobian=pd.DataFrame(rng.normal(size=(len(moments), k)), index=moments, columns=names),
        cov=pd.DataFrame(a @ a.T / 10, index=names, columns=names),
        nfev=17,
        elapsed=3.5,
        converged=True,
        message="ok",
        ensemble=(
            pd.DataFrame(rng.normal(size=(5, k)), columns=list(names)).rename_axis("member")
            if ensemble
            else None
        ),
        extra={"prior_sd": dict.fromkeys(names, 1.0), "ensemble_u": [[0.1, 0.2]]},
    )


def test_fit_result_round_trips_and_summarises(tmp_path):
    fit = _fit()
    assert_same(fit, round_trip(fit, tmp_path))
    bare = _fit(ensemble=False)
    assert_same(bare, round_trip(bare, tmp_path, "bare"))
    f = fit.summary_frame()
    assert set(ESTIMATE_COLUMNS) <= set(f.columns) and list(f.index) == list(fit.theta.index)
    assert f.loc["approve_step", "mean_se"] == pytest.approx(fit.se["approve_step"])
    assert "approve_step" in fit.summary_text()


def _loo():
    from feesim.studies.calibration import LooResult

    rows = []
    for i, outcome in enumerate(("approval", "approval", "collection")):
        rows.append(
            {
                "obs_id": f"C{i}a",
                "case_id": f"C{i}",
                "outcome": outcome,
                "lo": 0.5,
                "hi": 0.6,
                "weight": 1.0 + i,
                **{p: 0.55 + 0.1 * i for p in ("model", "mean", "step", "fitted")},
                **{f"err_{p}": 0.05 * i for p in ("model", "mean", "step", "fitted")},
            }
        )
    thetas = pd.DataFrame({"case_id": ["C0", "C1", "C2"], "approve_step": [1.0, 2.0, 3.0]})
    return LooResult(frame=pd.DataFrame(rows), thetas=thetas.set_index("case_id"))


def test_loo_and_recovery_results_round_trip(tmp_path):
    from feesim.studies.calibration import RecoveryResult

    loo = _loo()
    assert_same(loo, round_trip(loo, tmp_path, "loo"))
    assert "leave one out, approval" in loo.summary_text()
    frame = pd.DataFrame(
        {
            "parameter": ["approve_intercept", "approve_step"],
            "truth": [1.0, 2.0],
            "estimate": [1.1, 2.5],
            "error": [0.1, 0.5],
            "tolerance": [0.5, 0.4],
            "recovered": [True, False],
        }
    ).set_index("parameter")
    rec = RecoveryResult(frame=frame, fit=_fit())
    assert_same(rec, round_trip(rec, tmp_path, "rec"))
    f = rec.summary_frame()
    assert f.loc["approve_step", "mean"] == 2.5
    assert f.loc["approve_step", "mean_ci_upper"] - 2.5 == pytest.approx(
        Z95 * rec.fit.se["approve_step"]
    )
    assert "1 of 2 within tolerance" in rec.summary_text()


def test_regression_result_round_trips_and_reads_its_parameters(tmp_path):
    from feesim.studies.calibration import fit_interval_logit

    rng = np.random.default_rng(2)
    x = np.column_stack([np.ones(30), rng.uniform(0, 0.5, 30)])
    y = 1 / (1 + np.exp(-(0.5 - 2 * x[:, 1] + rng.normal(0, 0.3, 30))))
    reg = fit_interval_logit(y - 0.01, y + 0.01, x, ["const", "step_pct"], name="approval")
    back = round_trip(reg, tmp_path)
    assert back.sm_results is None
    assert_same(dataclasses.replace(reg, sm_results=None), back)
    params = reg.summary_frame()
    check_estimates(params)
    assert list(params.index) == ["const", "step_pct", "log_sigma"]
    assert params.loc["step_pct", "mean_se"] == pytest.approx(reg.bse["step_pct"])
    assert len(reg.summary_frame(x[:3])) == 3  # with exog: predicted shares, as before
    assert "approval" in reg.summary_text() and "step_pct" in reg.summary_text()


def test_calibration_run_round_trips_with_a_rebuilt_calibrator(tmp_path):
    from feesim.studies.calibration import (
        PARAMETERS,
        CalibrationRun,
        Calibrator,
        FitSettings,
        RecoveryResult,
        load_cases,
        load_targets,
    )

    cases = load_cases()
    _, targets = load_targets()
    settings = FitSettings.quick(rng=3)
    names = [p.name for p in PARAMETERS]
    params = [p for p in PARAMETERS if p.name in names[:2]]
    fit = _fit(tuple(names[:2]))
    run = CalibrationRun(
        cases=cases,
        targets=targets,
        settings=settings,
        calibrator=Calibrator(cases, targets, settings, parameters=params),
        fit=fit,
        loo=_loo(),
        recovery=RecoveryResult(
            frame=pd.DataFrame(
                {"truth": [1.0], "estimate": [1.0], "error": [0.0], "tolerance": [1.0]},
                index=pd.Index([names[0]], name="parameter"),
            ).assign(recovered=True),
            fit=fit,
        ),
        params_file=tmp_path / "fitted" / "params-x.toml",
        quick=True,
        timings={"fit": 1.5},
    )
    back = round_trip(run, tmp_path)
    for name in ("fit", "loo", "recovery", "settings", "targets", "params_file", "timings"):
        assert_same(getattr(run, name), getattr(back, name), name)
    assert_same(run.cases.frame, back.cases.frame)
    assert back.cases.sha256 == cases.sha256 and back.quick is True
    assert back.calibrator.parameters == params and back.calibrator.settings == settings
    assert_same(run.summary_frame(), back.summary_frame())
    text = back.summary_text()
    assert "leave one out" in text and "parameter recovery: 1 of 1" in text


# ==============================================================================================
# import rules
# ==============================================================================================
def _imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every module a file imports, wherever the import is (functions, TYPE_CHECKING blocks).

    ``root`` is the folder holding the ``feesim`` package (resolves relative imports).
    """
    package = list(path.relative_to(root).parent.parts)
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            out += [(node.lineno, f"{module}.{a.name}") for a in node.names]
    return out


def offending_imports(root: Path, folder: str, forbidden: str) -> list[str]:
    """``file:line -> module`` for every import of ``forbidden`` below ``root/folder``."""
    bad = []
    for path in sorted((root / folder).rglob("*.py")):
        for line, module in _imports(path, root):
            if module == forbidden or module.startswith(forbidden + "."):
                bad.append(f"{path.relative_to(root)}:{line} -> {module}")
    return bad


def test_no_study_imports_a_surface():
    assert offending_imports(SRC.parent, "feesim/studies", "feesim.surfaces") == []


def test_the_import_check_sees_every_kind_of_import(tmp_path):
    """Module level, inside functions, under TYPE_CHECKING, relative: all are found."""
    studies = tmp_path / "feesim" / "studies"
    (studies / "sub").mkdir(parents=True)
    (studies / "a.py").write_text("import feesim.surfaces.plotting\n")
    (studies / "b.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from feesim.surfaces.report import write_report\n"
    )
    (studies / "c.py").write_text("def f():\n    from ..surfaces import plotting\n")
    (studies / "sub" / "__init__.py").write_text("from ...surfaces.plotting import plot_fee\n")
    (studies / "d.py").write_text("from feesim.io import atomic_path\nfrom . import surfaces\n")
    bad = offending_imports(tmp_path, "feesim/studies", "feesim.surfaces")
    assert [b.split(":")[0] for b in bad] == [
        "feesim/studies/a.py",
        "feesim/studies/b.py",
        "feesim/studies/c.py",
        "feesim/studies/sub/__init__.py",
    ]


def test_the_protocol_is_at_the_foundation_layer():
    imported = {m for _, m in _imports(SRC / "protocol.py", SRC.parent) if m.startswith("feesim")}
    assert imported and all(m.startswith(("feesim.errors.", "feesim.io.")) for m in imported)
