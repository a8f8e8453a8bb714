"""``feesim forecast``: the command, its files, the JSON schema and every bad input."""

from __future__ import annotations

import json
import re

import pytest

from feesim.errors import ConfigError
from feesim.studies.forecast import JSON_KEYS, load_forecast_input, parse_new_fee
from feesim.surfaces.cli.main import main

DIST = {"mean", "p05", "p50", "p95"}
DIST_KEYS = [
    "turnout_heads",
    "turnout_area",
    "approval_heads",
    "approval_area",
    "collection_rate_12m",
    "collection_rate_end",
    "firm_margin_12m",
    "firm_cash_12m_yuan",
    "firm_cash_end_yuan",
    "status_quo_collection_rate_12m",
    "status_quo_collection_rate_end",
    "status_quo_firm_margin_12m",
    "status_quo_firm_cash_12m_yuan",
    "status_quo_firm_cash_end_yuan",
    "difference_collection_rate_12m",
    "difference_collection_rate_end",
    "difference_firm_margin_12m",
    "difference_firm_cash_end_yuan",
]
PROBABILITIES = [
    "pass_probability",
    "no_quorum_probability",
    "rejected_probability",
    "effective_probability",
    "firm_exit_probability_12m",
    "firm_exit_probability_36m",
    "status_quo_firm_exit_probability_12m",
    "status_quo_firm_exit_probability_36m",
]

COMMUNITY = """
[community]
name = "Test estate"
billing = "quarterly"

[[buildings]]
type = "multi-storey"
households = 150
area_m2 = 9000
fee = 0.7

[[buildings]]
type = "high-rise"
households = 90
area_m2 = 7650
fee = 1.2

[committee]
capacity = 0.7

[proposal]
vote = "2025-04"
new_fee = { "multi-storey" = 0.85, "high-rise" = 1.4 }
service_improvement = 0.1
door_to_door_rounds = 2
door_to_door_reach = 0.5

[forecast]
start = "2025-01"
months_after_vote = 13
seed = 4
"""


@pytest.fixture(scope="module")
def xianghe_run(tmp_path_factory, examples):
    out = tmp_path_factory.mktemp("xianghe")
    args = ["forecast", str(examples / "xianghe_2025.toml"), "--runs", "200", "--out", str(out)]
    status = main([*args, "--quiet", "--no-ensemble"])
    return status, out


def test_xianghe_forecast_writes_its_files_and_likely_passes(xianghe_run, capsys):
    status, out = xianghe_run
    assert status == 0
    assert {p.name for p in out.iterdir()} == {
        "forecast.json",
        "report.html",
        "vote.png",
        "collection.png",
        "firm.png",
        "service.png",
    }
    for png in ("vote.png", "collection.png", "firm.png", "service.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    d = json.loads((out / "forecast.json").read_text())
    assert d["runs"] == 200 and d["community"] == "Xianghe Jiayuan 2025"
    # seed 002: the +29% step passed with 85% approval
    assert d["pass_probability"] >= 0.66 and "passes" in d["verdict"]
    assert d["approval_heads"]["p50"] > 0.5 and d["turnout_heads"]["p50"] >= 2 / 3
    assert d["proposal"]["fee_after"] == {"multi-storey": 0.97, "high-rise": 1.44}


def test_report_is_self_contained(xianghe_run):
    _, out = xianghe_run
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script" not in page
    assert "Inputs that took defaults" in page and "community.stairwell_min" in page


def test_json_schema_is_stable(xianghe_run):
    _, out = xianghe_run
    d = json.loads((out / "forecast.json").read_text())
    assert set(d) == set(JSON_KEYS)
    # 2: the decomposition; 3: the model error; 4: null for exit windows not followed
    assert d["schema_version"] == 4
    for key in DIST_KEYS:
        assert set(d[key]) == DIST, key
        assert all(isinstance(v, float) for v in d[key].values()), key
        assert d[key]["p05"] <= d[key]["p50"] <= d[key]["p95"], key
    for key in PROBABILITIES:
        assert isinstance(d[key], float) and 0.0 <= d[key] <= 1.0, key
    for key in ("runs", "seed", "populations", "ensemble_members", "months", "vote_month"):
        assert isinstance(d[key], int), key
    for key in ("community", "source", "input_format", "start", "vote_date", "verdict"):
        assert isinstance(d[key], str), key
    assert set(d["binding"]) == {"quorum_heads", "quorum_area", "approval_heads", "approval_area"}
    assert d["binding_test"] in d["binding"]
    assert d["binding_failed"] is None or set(d["binding_failed"]) == set(d["binding"])
    path = d["collection_path"]
    assert set(path) == {"month", "date", "proposal", "status_quo"}
    assert len(path["month"]) == d["months"] == len(path["proposal"]["p50"])
    assert set(path["proposal"]) == DIST and set(path["status_quo"]) == DIST
    assert set(d["exit_path"]) == {"month", "proposal", "status_quo"}
    assert set(d["uncertainty"]) == {
        "seed_se",
        "ensemble_members",
        "pass_probability_by_member",
        "between_member_sd",
        "model_error",
    }
    assert set(d["windows"]) == {
        "collection_12m_month",
        "exit_window_start",
        "exit_windows",
        "months_after_vote",
    }
    assert set(d["proposal"]) >= {"fee_before", "fee_after", "headline_step_pct", "step_pct"}
    assert isinstance(d["defaults"], list) and all(isinstance(x, str) for x in d["defaults"])
    assert d["search"] is None and isinstance(d["elapsed_s"], float)


def test_community_file_with_new_fee_and_search(tmp_path, capsys):
    path = tmp_path / "estate.toml"
    path.write_text(COMMUNITY)
    out = tmp_path / "out"
    args = ["forecast", str(path), "--new-fee", "multi-storey=0.8,high-rise=1.3", "--runs", "30"]
    opts = ["--search", "--search-runs", "20", "--quiet", "--no-ensemble", "--workers", "1"]
    status = main([*args, "--out", str(out), *opts])
    printed = capsys.readouterr().out
    assert status == 0 and "pass probability" in printed and "step search" in printed
    d = json.loads((out / "forecast.json").read_text())
    assert d["proposal"]["fee_after"] == {"multi-storey": 0.8, "high-rise": 1.3}
    assert d["vote_month"] == 3 and d["months"] == 16
    s = d["search"]
    assert s["target"] == 0.8 and len(s["curve"]["step_pct"]) == len(s["curve"]["pass_probability"])
    assert (out / "search.png").exists()
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5
    # months_after_vote = 13: a 36-month exit window is not followed, and no figure says so.
    assert "36 months: not followed" in printed
    assert "not followed (the runs end 13 months after the vote)" in page
    assert "notice or leaves within 12 months" in page
    assert "notice or leaves within 36 months" not in page
    assert "(12 months after the vote)" in page


def test_the_search_is_told_the_forecasts_deciding_test(tmp_path, monkeypatch):
    """forecast --search hands the forecast's deciding test to the step search, so that the
    report's door-to-door advice follows the test its summary names."""
    import feesim.studies.forecast.search as search_module
    from feesim.studies.forecast.result import ForecastResult

    seen: dict[str, object] = {}
    real_search = search_module.search_step
    real_test = ForecastResult.deciding_test

    def spy_search(*args, **kw):
        seen["deciding"] = kw.get("deciding")
        return real_search(*args, **kw)

    def spy_test(self):
        seen.setdefault("named", real_test(self))
        return real_test(self)

    monkeypatch.setattr(search_module, "search_step", spy_search)
    monkeypatch.setattr(ForecastResult, "deciding_test", spy_test)
    path = tmp_path / "estate.toml"
    path.write_text(COMMUNITY)
    args = ["forecast", str(path), "--runs", "10", "--out", str(tmp_path / "out")]
    opts = ["--search", "--search-runs", "6", "--quiet", "--no-ensemble", "--workers", "1"]
    assert main([*args, *opts]) == 0
    assert seen["deciding"] is not None and seen["deciding"] == seen["named"], seen


def test_step_pct_option(tmp_path):
    path = tmp_path / "estate.toml"
    path.write_text(COMMUNITY)
    out = tmp_path / "o"
    args = ["forecast", str(path), "--step-pct", "10%", "--runs", "10", "--out", str(out)]
    assert main([*args, "--quiet", "--no-ensemble", "--workers", "1"]) == 0
    d = json.loads((out / "forecast.json").read_text())
    assert d["proposal"]["headline_step_pct"] == pytest.approx(0.10)


def test_the_report_names_the_months_its_margin_covers(tmp_path):
    """A forecast followed 6 months past the vote reads the margin over 5 months: page 1 says 5
    (it used to say 12 whatever the horizon)."""
    path = tmp_path / "estate.toml"
    path.write_text(COMMUNITY.replace("months_after_vote = 13", "months_after_vote = 6"))
    out = tmp_path / "o"
    args = ["forecast", str(path), "--runs", "10", "--out", str(out), "--lang", "en"]
    assert main([*args, "--quiet", "--no-ensemble", "--workers", "1"]) == 0
    page = (out / "report.html").read_text()
    assert "net margin in the 5 months after the vote" in page
    assert "net margin in the 12 months" not in page


def test_exit_windows_not_followed_are_null(tmp_path):
    """Followed 6 months past the vote, the 12- and 36-month exit windows are not followed:
    forecast.json gives null (it gave 0.0), and the report says "not followed"."""
    path = tmp_path / "estate.toml"
    path.write_text(COMMUNITY.replace("months_after_vote = 13", "months_after_vote = 6"))
    out = tmp_path / "o"
    args = ["forecast", str(path), "--runs", "10", "--out", str(out), "--lang", "en"]
    assert main([*args, "--quiet", "--no-ensemble", "--workers", "1"]) == 0
    d = json.loads((out / "forecast.json").read_text())
    assert d["schema_version"] == 4
    for w in (12, 36):
        assert d[f"firm_exit_probability_{w}m"] is None
        assert d[f"status_quo_firm_exit_probability_{w}m"] is None
    assert d["decomposition"]["firm_exit_probability_36m"] == {
        "total": None,
        "process": None,
        "step": None,
    }
    assert isinstance(d["decomposition"]["collection_rate_12m"]["total"], float)
    page = (out / "report.html").read_text()
    assert "within 36 months of the vote" in page  # the exit table's row ...
    row = page[page.index("within 36 months of the vote") :]
    assert "not followed (the runs end 6 months after the vote)" in row[: row.index("</tr>")]
    # ... and no 36-month figure anywhere (the decomposition left it out; it showed +0.0)
    assert "notice or leaves within 36 months" not in page
    start = page.index("How much is the step, and how much the process")
    decomposition = page[start : page.index("</table>", start)]
    assert "notice or leaves" not in decomposition


@pytest.mark.parametrize("option", ["--months-after-vote", "--months"])
@pytest.mark.parametrize("value", ["500", "100000"])
def test_months_after_vote_option_has_the_files_bound(tmp_path, capsys, option, value):
    """The option is held to forecast.months_after_vote's bound before anything runs (500 used
    to run 510 months; 100000 blamed proposal.vote)."""
    path = tmp_path / "estate.toml"
    path.write_text(COMMUNITY)
    out = tmp_path / "o"
    args = ["forecast", str(path), "--runs", "5", "--out", str(out), option, value]
    with pytest.raises(SystemExit) as ex:
        raise SystemExit(main([*args, "--quiet", "--no-ensemble", "--workers", "1"]))
    assert ex.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert f"{option}: got {value}; expected a value in [1, 240] months" in lines[0]
    assert "proposal.vote" not in lines[0] and not out.exists()
    from feesim.studies.forecast.community import MAX_MONTHS_AFTER_VOTE, ForecastSettings

    # the file's bound and the option's are one constant
    assert MAX_MONTHS_AFTER_VOTE == 240
    assert ForecastSettings.__dataclass_fields__["months_after_vote"].metadata["hi"] == 240


# -- bad inputs -----------------------------------------------------------------------------------
def _swap(old: str, new: str) -> str:
    assert old in COMMUNITY
    return COMMUNITY.replace(old, new)


BAD_FILES = [
    (_swap('billing = "quarterly"', 'billing = "weekly"'), "community.billing", "'yearly'"),
    (_swap("capacity = 0.7", "capacity = 0.7\nboss = 1"), "committee.boss", "allowed keys"),
    (_swap("fee = 0.7", "fee = -0.7"), "buildings[0].fee", "[0, 50]"),
    (_swap("households = 150\n", ""), "buildings[0].households", "required"),
    (_swap('"high-rise" = 1.4', '"tower" = 1.4'), "proposal.new_fee", "each building type"),
    (
        _swap("service_improvement = 0.1", "step_percent = 10"),
        "proposal.new_fee",
        "exactly one of",
    ),
    (_swap('vote = "2025-04"', 'vote = "2024-12"'), "proposal.vote", "at or after"),
    (_swap('vote = "2025-04"', 'vote = "April"'), "proposal.vote", "YYYY-MM"),
    (
        _swap("door_to_door_rounds = 2", "door_to_door_rounds = 2\nquality_first_months = 5"),
        "proposal.quality_first_months",
        "<= the months",
    ),
    (
        _swap("door_to_door_rounds = 2", 'door_to_door_rounds = 2\naudit = "none"'),
        "proposal.audit: got 'none'",
        "'audit' or 'assessment'",
    ),
    (_swap("[committee]", "[community.x]\n[committee]"), "community.x", "allowed keys"),
    (_swap("area_m2 = 9000", "area_m2 = 90"), "buildings[0].area_m2", "10-500 m2"),
    (
        _swap("[committee]", "[firm]\nstaff = 3\nannual_cost_yuan = 1000\n[committee]"),
        "firm.annual_cost_yuan",
        "equipment",
    ),
    (
        _swap("[committee]", "[firm]\nstaff = 30\nannual_cost_yuan = 200000\n[committee]"),
        "firm.annual_cost_yuan",
        "wage bill",
    ),
    (
        _swap("[committee]", "[firm]\naverage_wage_yuan_month = 50000\n[committee]"),
        "firm.average_wage_yuan_month",
        "minimum wage",
    ),
    (_swap("[committee]", "[behaviour]\nluck = 1.0\n[committee]"), "behaviour.luck", "allowed"),
    (COMMUNITY + "\n[simulation]\nmonths = 3\n", "mixed", "one format"),
    ("[something]\nx = 1\n", "neither a community file", "found tables"),
    ("[community\n", "not valid TOML", "TOML"),
    ("[buildings]\n", "buildings", "a table"),
]


@pytest.mark.parametrize(("text", "field", "allowed"), BAD_FILES)
def test_bad_community_file_gives_one_clear_error(tmp_path, capsys, text, field, allowed):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_forecast_input(path)
    msg = str(err.value)
    assert str(path) in msg and field in msg and allowed in msg, msg
    assert main(["forecast", str(path), "--runs", "5", "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("feesim: error:") and field in lines[0]


def test_scenario_without_fee_proposal_is_refused(examples, capsys):
    path = examples / "frozen_fee.toml"
    assert main(["forecast", str(path), "--runs", "5", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "proposals" in err and "matter = 'fee'" in err


def test_missing_file(tmp_path, capsys):
    assert main(["forecast", str(tmp_path / "nope.toml"), "--quiet"]) == 2
    assert "no such file" in capsys.readouterr().err


BAD_OPTIONS = [
    (["--new-fee", "abc"], "--new-fee", "one number"),
    (["--new-fee", "multi-storey=0.8"], "--new-fee", "missing: high-rise"),
    (["--new-fee", "multi-storey=0.8,tower=1"], "--new-fee", "multi-storey, high-rise"),
    (["--new-fee", "multi-storey=x,high-rise=1"], "--new-fee multi-storey", "a number"),
    (["--new-fee", "-1"], "--new-fee", "[0, 50]"),
    (["--new-fee", "0.5", "--step-pct", "3"], "--step-pct", "not allowed with"),
    (["--step-pct", "abc"], "--step-pct", "percentage"),
    (["--runs", "0"], "--runs", ">= 1"),
    (["--seed", "-3"], "--seed", ">= 0"),
    (["--target", "1.5"], "--target", "(0, 1]"),
    (["--populations", "x"], "--populations", "whole number"),
    (["--ensemble", "/nonexistent/ens.toml"], "ensemble", "does not exist"),
]


@pytest.mark.parametrize(("extra", "field", "allowed"), BAD_OPTIONS)
def test_bad_options_give_one_clear_error(tmp_path, capsys, extra, field, allowed):
    path = tmp_path / "estate.toml"
    path.write_text(COMMUNITY)
    with pytest.raises(SystemExit) as ex:
        status = main(["forecast", str(path), "--runs", "5", "--quiet", "--workers", "1", *extra])
        raise SystemExit(status)
    assert ex.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert field in last and allowed in last, err


def test_parse_new_fee_forms():
    names = ("multi-storey", "high-rise")
    assert parse_new_fee("0.9", names) == 0.9
    assert parse_new_fee(" high-rise=1.4, multi-storey=0.97 ", names) == {
        "high-rise": 1.4,
        "multi-storey": 0.97,
    }
    with pytest.raises(ConfigError, match="each building type once"):
        parse_new_fee("high-rise=1,high-rise=2", names)


def test_readme_documents_every_key():
    import dataclasses
    from pathlib import Path

    from feesim.studies.forecast import community as c

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Pre-vote forecast") :]
    for cls in (
        c.CommunityInfo,
        c.BuildingInfo,
        c.FirmInfo,
        c.CommitteeInfo,
        c.ProposalInfo,
        c.PackageInfo,
        c.ForecastSettings,
    ):
        for f in dataclasses.fields(cls):
            assert f"| `{f.name}` |" in section, (cls.__name__, f.name)
    for key in JSON_KEYS:
        assert f"| `{key}` |" in section, key


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as ex:
        main(["forecast", "--help"])
    assert ex.value.code == 0
    text = capsys.readouterr().out
    for opt in ("--new-fee", "--step-pct", "--runs", "--seed", "--out", "--search", "--target"):
        assert opt in text
