"""Pre-vote forecast: known answers, common random numbers, the null step, ensembles, search."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

from feesim.errors import ConfigError
from feesim.studies.forecast import (
    JSON_KEYS,
    Runner,
    load_forecast_input,
    read_ensemble,
    run_forecast,
)
from feesim.studies.forecast.engine import run_branches
from feesim.studies.forecast.ensemble import behaviour_ensemble
from feesim.studies.forecast.mapping import community_to_input
from feesim.studies.forecast.search import pass_probabilities, search_step

#: A small stylised community (bureau format): 240 households, vote in month 3.
BASE = {
    "community": {"name": "stylised", "billing": "quarterly", "collection_rate": 0.8},
    "buildings": [
        {"type": "multi-storey", "households": 160, "area_m2": 160 * 60.0, "fee": 0.7},
        {"type": "high-rise", "households": 80, "area_m2": 80 * 85.0, "fee": 1.2},
    ],
    "committee": {"capacity": 0.7},
    "proposal": {
        "vote": 3,
        "step_percent": 20,
        "service_improvement": 0.1,
        "door_to_door_rounds": 2,
        "door_to_door_reach": 0.5,
    },
    "forecast": {"start": "2025-01", "months_after_vote": 14, "seed": 11},
}


def community(**changes):
    """BASE with dotted-path changes, e.g. community(**{"proposal.step_percent": 0})."""
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        *head, last = path.split(".")
        node = data
        for k in head:
            node = node.setdefault(k, {})
        node[last] = value
    return community_to_input(data, source="test")


def forecast(inp, runs=40, **kw):
    kw.setdefault("ensemble", None)
    kw.setdefault("progress", False)
    kw.setdefault("workers", 1)
    return run_forecast(inp, runs=runs, **kw)


# -- known answers --------------------------------------------------------------------------------
def test_unanimous_support_passes_with_certainty():
    inp = community(
        behaviour={
            "approve_intercept": 10.0,
            "turnout_intercept": 10.0,
            "approve_step": 0.0,
            "approve_burden": 0.0,
        }
    )
    r = forecast(inp)
    assert r.pass_probability == 1.0
    assert r["no_quorum_probability"] == 0.0 and r["rejected_probability"] == 0.0
    for key in ("turnout_heads", "turnout_area", "approval_heads", "approval_area"):
        assert r[key]["p05"] > 0.99, key
    assert r["binding_failed"] is None
    assert r["effective_probability"] == 1.0
    assert r["verdict"] == "very likely passes"


def test_turnout_below_quorum_never_passes():
    inp = community(
        **{"proposal.door_to_door_rounds": 0, "behaviour": {"turnout_intercept": -10.0}}
    )
    r = forecast(inp)
    assert r.pass_probability == 0.0
    assert r["no_quorum_probability"] == 1.0
    assert r["turnout_heads"]["p95"] < 2 / 3 and r["turnout_area"]["p95"] < 2 / 3
    assert r["binding_test"] in ("quorum_heads", "quorum_area")
    assert r["binding_failed"]["quorum_heads"] + r["binding_failed"]["quorum_area"] == 1.0
    assert r["effective_probability"] == 0.0


def test_quorum_with_majority_against_is_rejected():
    inp = community(behaviour={"turnout_intercept": 10.0, "approve_intercept": -10.0})
    r = forecast(inp)
    assert r.pass_probability == 0.0 and r["rejected_probability"] == 1.0
    assert r["approval_heads"]["p95"] < 0.5
    assert r["binding_test"] in ("approval_heads", "approval_area")


def test_a_failed_step_leaves_fees_unchanged():
    inp = community(behaviour={"turnout_intercept": 10.0, "approve_intercept": -10.0})
    r = forecast(inp)
    fee_p = r.proposal.series["fee_per_m2"]
    fee_s = r.status_quo.series["fee_per_m2"]
    np.testing.assert_array_equal(fee_p, fee_s)


# -- common random numbers ------------------------------------------------------------------------
def test_branches_agree_exactly_before_the_announcement():
    inp = community(**{"proposal.quality_first_months": 2})
    r = forecast(inp, runs=30)
    announce = inp.vote_month - inp.proposal.quality_first_months
    for key, sq in r.status_quo.series.items():
        np.testing.assert_array_equal(sq[:, :announce], r.proposal.series[key][:, :announce], key)
    assert not np.array_equal(
        r.status_quo.series["service_quality"], r.proposal.series["service_quality"]
    )


def test_pass_probability_never_rises_with_the_step():
    inp = community()
    steps = [0.05, 0.2, 0.4, 0.6, 0.8, 1.2]
    with Runner(workers=1, progress=False) as runner:
        outs = run_branches(
            [(inp.scaled(s).scenario(), "scenario:0") for s in steps],
            runs=40,
            rng=5,
            populations=10,
            vote_month=inp.vote_month,
            runner=runner,
        )
        curve = pass_probabilities(
            [inp.scaled(s) for s in steps], runs=40, rng=5, populations=10, runner=runner
        )
    probs = [c["pass_probability"] for c in curve]
    assert all(a >= b for a, b in itertools.pairwise(probs)), probs
    # Run by run: a run that passes a larger step passes every smaller one, and approval
    # never rises with the step (same uniforms, same history before the vote).
    for small, large in itertools.pairwise(outs):
        assert np.all(small.vote.passed >= large.vote.passed)
        assert np.all(small.vote.approval_heads >= large.vote.approval_heads - 1e-12)
        np.testing.assert_array_equal(small.vote.turnout_heads, large.vote.turnout_heads)


def test_a_large_enough_step_fails():
    inp = community()
    with Runner(workers=1, progress=False) as runner:
        curve = pass_probabilities(
            [inp.scaled(s) for s in (0.05, 1.2)], runs=40, rng=5, populations=10, runner=runner
        )
    probs = [c["pass_probability"] for c in curve]
    assert probs[0] > 0.5 > probs[-1], probs


def test_zero_step_reproduces_the_status_quo_exactly():
    inp = community(
        **{
            "proposal.step_percent": 0,
            "proposal.service_improvement": 0.0,
            "proposal.audit": "none",
            "proposal.door_to_door_rounds": 0,
        }
    )
    assert inp.is_null()
    r = forecast(inp, runs=30)
    assert r["null_proposal"] is True and r.pass_probability == 1.0
    for key, sq in r.status_quo.series.items():
        np.testing.assert_array_equal(sq, r.proposal.series[key], key)
    d = r.to_dict()
    for key in ("collection_rate_12m", "collection_rate_end", "firm_margin_12m"):
        assert d[key] == d[f"status_quo_{key}"]
    for w in (12, 36):
        assert d[f"firm_exit_probability_{w}m"] == d[f"status_quo_firm_exit_probability_{w}m"]
    for key in ("difference_collection_rate_12m", "difference_firm_cash_end_yuan"):
        assert all(v == 0.0 for v in d[key].values()), key
    assert d["turnout_heads"]["mean"] is None  # no vote is held


def test_zero_step_with_a_package_is_voted():
    inp = community(**{"proposal.step_percent": 0})
    assert not inp.is_null()
    r = forecast(inp, runs=20)
    assert r["null_proposal"] is False and r["turnout_heads"]["mean"] is not None


@pytest.mark.parametrize(
    "process",
    [
        {"proposal.audit": "accounts"},
        {"proposal.audit": "none", "proposal.negotiation_meetings": True},
        {"proposal.audit": "none", "proposal.door_to_door_rounds": 2},
    ],
    ids=["posted accounts", "meetings", "door-to-door rounds"],
)
def test_a_zero_step_carrying_only_process_is_simulated(process):
    """Posted accounts, meetings or door-to-door rounds move trust and payment in the model, so
    a zero step carrying only them is put to the owners and simulated (issue 14: it was
    declared "no change" and its branch was the status quo)."""
    inp = community(**{"proposal.step_percent": 0, "proposal.service_improvement": 0.0, **process})
    assert not inp.is_null()
    r = forecast(inp, runs=20)
    assert r["null_proposal"] is False and r["turnout_heads"]["mean"] is not None
    after = slice(inp.vote_month + 1, None)
    sq, pr = r.status_quo.series["trust"][:, after], r.proposal.series["trust"][:, after]
    assert np.mean(pr - sq) > 0.005


def test_results_do_not_depend_on_workers_and_repeat_with_the_seed():
    inp = community()
    a = forecast(inp, runs=30, workers=1, populations=5).to_dict()
    b = forecast(inp, runs=30, workers=2, populations=5).to_dict()
    c = forecast(inp, runs=30, workers=1, populations=5, rng=99).to_dict()
    for d in (a, b, c):
        d.pop("elapsed_s")
    assert a == b
    assert a != c


# -- firm disclosure ------------------------------------------------------------------------------
def test_disclosed_staff_and_cost_are_what_the_model_firm_starts_with():
    from feesim.engine.model import FeeModel

    inp = community(
        firm={
            "staff": 6.0,
            "average_wage_yuan_month": 3500.0,
            "annual_cost_yuan": 480000.0,
            "service_quality": 0.5,
        }
    )
    sc = inp.status_quo
    assert sc.firm.initial_quality == 0.5
    model = FeeModel(sc, rng=1)
    fb = model.firms
    assert fb.staff[0] == pytest.approx(6.0, rel=0.05)
    monthly = fb.service_cost(model.setting.wage[0], model.setting.price[0])[0]
    assert monthly == pytest.approx(480000.0 / 12, rel=0.05)


# -- behaviour ensembles --------------------------------------------------------------------------
ENSEMBLE_TOML = """
[behaviour]
approve_step = 3.0

[[ensemble]]
approve_intercept = 0.6

[[ensemble]]
approve_intercept = -0.6
turnout_intercept = -0.3

[[ensemble]]
approve_step = 2.0
"""


def test_ensemble_members_spread_the_runs(tmp_path):
    path = tmp_path / "params-9.9.toml"
    path.write_text(ENSEMBLE_TOML)
    members = read_ensemble(path)
    assert [m.approve_intercept for m in members] == [0.6, -0.6, 0.0]
    assert members[2].approve_step == 2.0 and members[0].approve_step == 3.0
    r = forecast(community(), runs=30, ensemble=members)
    assert r["ensemble_members"] == 3
    assert list(r.proposal.member[:6]) == [0, 1, 2, 0, 1, 2]
    u = r["uncertainty"]
    assert u["pass_probability_by_member"] is not None and u["between_member_sd"] is not None


def test_the_forecast_says_the_fitted_models_own_error_beside_its_ranges(tmp_path):
    """The calibration's out-of-sample error travels with a forecast of the package's fitted
    model (JSON and summary); another model, or a fitted file without the figures, gets none
    rather than a figure measured for something else."""
    from feesim.i18n import use_language
    from feesim.studies.forecast import fitted_model_error

    shipped = fitted_model_error()  # the shipped fit records it
    assert set(shipped) == {"approval", "turnout", "collection"}
    r = forecast(community(), runs=20, ensemble=None)  # the package's point fit
    assert r["uncertainty"]["model_error"] == shipped
    with use_language("en"):
        text = r.summary_text()
    c, a = (f"{100 * shipped[k]:.1f} percentage points" for k in ("collection", "approval"))
    assert f"the model missed the reported ranges by {c} in collection, {a} in approval" in text
    # Members given by the caller, or coefficients the community file sets: another model.
    members = read_ensemble_text(tmp_path, ENSEMBLE_TOML)
    for other in (
        forecast(community(), runs=12, ensemble=members),
        forecast(community(behaviour={"approve_intercept": 0.5}), runs=12, ensemble=None),
    ):
        assert other["uncertainty"]["model_error"] is None
        with use_language("en"):
            assert "model error" not in other.summary_text()
    # A fitted file that does not record all three figures gives none.
    partial = tmp_path / "params-9.9.toml"
    partial.write_text("[fit]\nmodel_error_approval = 0.05\n")
    assert fitted_model_error(partial) is None


def read_ensemble_text(folder, text):
    path = folder / "ensemble.toml"
    path.write_text(text)
    return read_ensemble(path)


def test_fitted_file_ensemble_is_found(tmp_path, monkeypatch):
    (tmp_path / "params-9.9.toml").write_text(ENSEMBLE_TOML)
    monkeypatch.setenv("FEESIM_FITTED_DIR", str(tmp_path))
    assert len(behaviour_ensemble()) == 3
    (tmp_path / "params-9.9.toml").write_text("[behaviour]\napprove_step = 3.0\n")
    assert behaviour_ensemble() == []


def test_file_behaviour_overrides_stay_on_every_member(tmp_path):
    path = tmp_path / "ens.toml"
    path.write_text(ENSEMBLE_TOML)
    inp = community(
        **{"proposal.door_to_door_rounds": 0, "behaviour": {"turnout_intercept": -10.0}}
    )
    r = forecast(inp, runs=12, ensemble=read_ensemble(path))
    assert r.pass_probability == 0.0 and r["no_quorum_probability"] == 1.0


# -- step search ----------------------------------------------------------------------------------
def test_search_finds_the_largest_step_reaching_the_target():
    inp = community()
    s = search_step(
        inp,
        target=0.8,
        runs=30,
        populations=5,
        workers=1,
        ensemble=None,
        progress=False,
        step_grid=[0.1, 0.3, 0.6, 0.9, 1.3],
        service_grid=[0.0, 0.2],
        lead_grid=[0, 2],
    )
    probs = s["curve"]["pass_probability"]
    steps = s["curve"]["step_pct"]
    assert steps == sorted(steps)
    assert all(a >= b for a, b in itertools.pairwise(probs))
    best = s["largest_step_pct"]
    if best is not None:
        assert s["largest_step_pass_probability"] >= 0.8
        assert all(p < 0.8 for st, p in zip(steps, probs, strict=True) if st > best)
    assert set(s["service"]) == {"grid", "pass_probability", "smallest_service_improvement"}
    assert s["quality_first"]["grid"] == [0, 2]


# -- the scenario format --------------------------------------------------------------------------
def test_scenario_file_takes_its_first_fee_proposal(examples):
    inp = load_forecast_input(examples / "xianghe_2025.toml")
    assert inp.file_format == "scenario" and inp.status_quo.proposals == ()
    assert inp.vote_month == 10 and inp.status_quo.simulation.months == 10 + 36
    np.testing.assert_allclose(inp.new_fees(), [0.97, 1.44])
    assert any(d.startswith("community.stairwell_min") for d in inp.defaults)


def test_community_file_lists_its_defaults(examples):
    inp = load_forecast_input(examples / "community_xianghe.toml")
    assert inp.file_format == "community"
    assert inp.status_quo.community.households == 1986
    areas = [b.mean_area_m2 for b in inp.status_quo.community.building_types]
    np.testing.assert_allclose(areas, [72.0, 88.0])
    names = {d.split(" = ")[0] for d in inp.defaults}
    assert "firm.staff" in names and "buildings[0].equipment_cost_per_m2" in names
    assert "community.billing" not in names and "proposal.step_percent" not in names


def test_json_keys_are_documented():
    r = forecast(community(), runs=10)
    assert set(r.to_dict()) == set(JSON_KEYS)


def test_ensemble_csv_with_calibration_columns(tmp_path, caplog):
    path = tmp_path / "ens.csv"
    path.write_text("member,approve_step,case_collection\n0,2.5,0.8\n1,3.5,0.7\n")
    members = read_ensemble(path)
    assert [m.approve_step for m in members] == [2.5, 3.5]
    assert "case_collection" in caplog.text
    bad = tmp_path / "bad.csv"
    bad.write_text("member,luck\n0,1\n")
    with pytest.raises(ConfigError, match="expected behaviour coefficients"):
        read_ensemble(bad)
    out_of_range = tmp_path / "oor.csv"
    out_of_range.write_text("approve_step\n99\n")
    with pytest.raises(ConfigError, match="approve_step"):
        read_ensemble(out_of_range)


def test_ensemble_file_with_one_misspelt_coefficient_is_refused(tmp_path, caplog):
    """A single misspelt column (beside a good one) was ignored with a warning and the forecast
    ran without it; now it is refused naming the file, the column and what is allowed. The
    calibration's own names stay allowed: a shared parameter sets each coefficient it stands
    for, a nuisance parameter of the case mapping is ignored with a warning."""
    typo = tmp_path / "typo.csv"
    typo.write_text("approve_stepp,pay_trust\n2.0,0.5\n")
    with pytest.raises(ConfigError) as err:
        read_ensemble(typo)
    message = str(err.value)
    assert message.startswith(f"{typo}: ensemble: column 'approve_stepp'")
    assert "did you mean approve_step?" in message and "feesim describe" in message
    toml = tmp_path / "typo.toml"
    toml.write_text("[[ensemble]]\npay_trust = 0.5\n\n[[ensemble]]\npay_trust = 0.6\nluck = 1\n")
    with pytest.raises(ConfigError, match=r"ensemble\[1\]: key 'luck' is not a behaviour"):
        read_ensemble(toml)
    calibration = tmp_path / "calibration.csv"
    calibration.write_text(
        "member,weight,approve_step,campaign_followup,case_collection\n0,1,2.5,-1.5,0.8\n"
    )
    (member,) = read_ensemble(calibration)
    assert member.approve_step == 2.5
    assert member.campaign_grid == member.campaign_volunteer == -1.5
    assert "ignoring case_collection" in caplog.text


def test_ensemble_files_check_every_name_the_same_way(tmp_path):
    """A misspelt column with only empty cells was accepted; a TOML member's ``weight`` was
    refused though the README allows it; a shared calibration parameter beside one of its
    coefficients silently lost; a misspelt calibration name got a coefficient as its hint."""
    blank = tmp_path / "blank.csv"
    blank.write_text("approve_step,approve_stepp\n2.0,\n")
    with pytest.raises(ConfigError, match="column 'approve_stepp'"):
        read_ensemble(blank)
    weighted = tmp_path / "weighted.toml"
    weighted.write_text("[[ensemble]]\napprove_step = 2.0\nweight = 0.5\nmember = 3\n")
    (member,) = read_ensemble(weighted)
    assert member.approve_step == 2.0
    both = tmp_path / "both.csv"
    both.write_text("campaign_followup,campaign_grid\n-1.5,-1.0\n")
    with pytest.raises(ConfigError, match="campaign_followup and campaign_grid both set"):
        read_ensemble(both)
    near = tmp_path / "near.csv"
    near.write_text("approve_step,campaign_folowup\n2.0,-1.0\n")
    with pytest.raises(ConfigError, match="did you mean campaign_followup"):
        read_ensemble(near)


def test_benchmark_function_reports_its_timings():
    from feesim.studies.forecast.bench import benchmark_forecast

    out = benchmark_forecast(runs=8, households=100, months=6, repeats=2, workers=1)
    assert len(out["seconds"]) == 2 and out["best"] == min(out["seconds"])
    assert (out["runs"], out["households"], out["months"]) == (8, 100, 6)
    assert 0.0 <= out["pass_probability"] <= 1.0


def _menu_input():
    """A zero step with nothing attached but a menu of service levels (a scenario proposal)."""
    from feesim.config.scenario import MenuOption

    inp = community(
        **{
            "proposal.step_percent": 0,
            "proposal.service_improvement": 0.0,
            "proposal.audit": "none",
            "proposal.door_to_door_rounds": 0,
        }
    )
    assert inp.is_null()
    menu = (MenuOption("basic", 0.0, 0.0), MenuOption("tidy", 0.3, 0.15))
    return inp.with_proposal(menu=menu)


def test_a_menu_is_not_a_null_proposal():
    """A menu puts steps to the vote even when the proposal's own step is 0 (review item 1)."""
    assert not _menu_input().is_null()


def test_the_process_without_the_step_offers_no_menu():
    """The decomposition's "process only" branch drops the options a ballot offers: a menu's
    steps and services are the step, not the process (review item 1)."""
    inp = _menu_input()
    p = inp.process_only()
    assert p.menu == () and p.step_pct == 0.0
    assert inp.headline_step(p) == 0.0
    inp.scenario(p)  # a valid proposal in its scenario


@pytest.mark.parametrize("month", ["2026-12", 17])
def test_a_schedule_beyond_the_forecast_is_refused_as_written(month):
    """A community file's [[schedule]] month past the forecast's end is refused with the value
    the file gave and the last month allowed (review item 4)."""
    data = copy.deepcopy(BASE)
    data["schedule"] = [{"month": month, "set": {"government.subsidy_per_m2": 0.1}}]
    with pytest.raises(ConfigError) as err:
        community_to_input(data)
    msg = str(err.value)
    assert msg.startswith(f"schedule[0].month: got {month!r};") and "\n" not in msg
    assert "2026-05" in msg and "0-16" in msg  # vote in month 3 + 14 months after it
    data["schedule"][0]["month"] = "2026-05"
    assert community_to_input(data).status_quo.schedule[0].month == 16


# -- parameter spread only beyond seed noise (issue 17) ----------------------------------------
def _pooled(shares: list[float], runs_per_set: int, seed: int = 0):
    """A stand-in for a ForecastResult whose sets pass with the given true shares."""
    from types import SimpleNamespace

    gen = np.random.default_rng(seed)
    member = np.repeat(np.arange(len(shares)), runs_per_set)
    passed = gen.random(member.size) < np.asarray(shares)[member]
    data = {
        "ensemble_members": len(shares),
        "null_proposal": False,
        "pass_probability": float(passed.mean()),
        "runs": int(member.size),
    }
    from feesim.studies.forecast.result import ForecastResult

    vote = SimpleNamespace(passed=passed)
    fake = SimpleNamespace(data=data, proposal=SimpleNamespace(vote=vote, member=member))
    fake.parameter_spread = lambda: ForecastResult.parameter_spread(fake)
    fake.per_member_pass = lambda: ForecastResult.per_member_pass(fake)
    return fake


def test_identical_parameter_sets_report_no_spread():
    from feesim.studies.forecast.result import ForecastResult

    # 60 identical sets of 20 runs: their pass shares spread over some 30 points by binomial
    # noise alone, which the summary used to print as "pass probability 45%-75% across 60 sets".
    fake = _pooled([0.6] * 60, 20)
    spread = ForecastResult.parameter_spread(fake)
    assert spread["p95"] - spread["p05"] > 0.2  # the raw range is wide ...
    assert not spread["beyond_noise"] and spread["p_value"] > 0.2  # ... and only noise
    line = ForecastResult._spread_line(fake)
    assert "no parameter spread to report" in line and "across them" not in line
    # The report says the same.
    from feesim.surfaces.report import uncertainty_statement

    text = uncertainty_statement(fake)
    assert "no spread between the sets to report" in text and "on its own" not in text


def test_parameter_sets_that_differ_report_their_spread():
    from feesim.studies.forecast.result import ForecastResult

    fake = _pooled([0.3, 0.9] * 10, 20)
    spread = ForecastResult.parameter_spread(fake)
    assert spread["beyond_noise"] and spread["p_value"] < 1e-6
    assert "beyond seed noise" in ForecastResult._spread_line(fake)
    from feesim.surfaces.report import uncertainty_statement

    assert "under each set on its own" in uncertainty_statement(fake)
