"""Malformed scenarios give one clear error naming the field, the value and what is allowed."""

from __future__ import annotations

import tomllib

import pytest

import feesim
from feesim.surfaces.cli.main import main
from tests.conftest import SMALL_TOML


def edit(old: str, new: str) -> str:
    assert old in SMALL_TOML, old
    return SMALL_TOML.replace(old, new, 1)


#: (id, scenario text, fragments the error message must contain)
CASES = [
    (
        "unknown-table",
        SMALL_TOML + "\n[simulaton]\nmonths = 3\n",
        ["simulaton", "unknown key", "simulation"],
    ),
    (
        "unknown-key",
        edit("households = 240", "households = 240\nhousehods = 10"),
        ["community.househods", "unknown key", "households"],
    ),
    (
        "households-string",
        edit("households = 240", 'households = "many"'),
        ["community.households", "'many'", "integer"],
    ),
    (
        "households-zero",
        edit("households = 240", "households = 0"),
        ["community.households", "0", "[6, 20000]"],
    ),
    (
        "households-float",
        edit("households = 240", "households = 240.5"),
        ["community.households", "240.5", "integer"],
    ),
    (
        "share-above-one",
        edit("share = 0.7", "share = 1.5"),
        ["community.building_types[0].share", "1.5", "(0, 1]"],
    ),
    (
        "shares-not-summing",
        edit("share = 0.3", "share = 0.2"),
        ["community.building_types[].share", "0.9", "summing to 1"],
    ),
    (
        "negative-area",
        edit("mean_area_m2 = 55.0", "mean_area_m2 = -50.0"),
        ["community.building_types[0].mean_area_m2", "-50.0", "m2"],
    ),
    (
        "negative-fee",
        edit("fee_per_m2 = 0.7", "fee_per_m2 = -0.1"),
        ["community.building_types[0].fee_per_m2", "-0.1", "yuan/m2/month"],
    ),
    (
        "missing-fee",
        edit("fee_per_m2 = 1.2\n", ""),
        ["community.building_types[1].fee_per_m2", "required field is missing"],
    ),
    (
        "missing-name",
        edit('name = "multi-storey"\n', ""),
        ["community.building_types[0].name", "required field is missing"],
    ),
    (
        "billing-choice",
        edit('billing = "quarterly"', 'billing = "weekly"'),
        ["community.billing", "'weekly'", "'monthly', 'quarterly', 'yearly'"],
    ),
    (
        "contract-choice",
        edit('tier = "basic"', 'tier = "basic"\ncontract = "cost plus"'),
        ["firm.contract", "'cost plus'", "'fixed_fee', 'cost_plus'"],
    ),
    (
        "margin-string",
        edit('tier = "basic"', 'tier = "basic"\ntarget_margin = "7%"'),
        ["firm.target_margin", "'7%'", "a number"],
    ),
    (
        "capacity-above-one",
        edit("capacity = 0.6", "capacity = 1.5"),
        ["committee.capacity", "1.5", "[0, 1]"],
    ),
    (
        "start-format",
        edit('start = "2024-01"', 'start = "2024/01"'),
        ["simulation.start", "'2024/01'", "YYYY-MM"],
    ),
    ("months-zero", edit("months = 24", "months = 0"), ["simulation.months", "0", "[1, 600]"]),
    (
        "proposal-after-horizon",
        edit("month = 8", "month = 30"),
        ["proposals[0].month", "30", "< simulation.months (24)"],
    ),
    (
        "proposal-no-step",
        edit("step_pct = 0.2\n", ""),
        ["proposals[0].new_fee_per_m2", "exactly one of new_fee_per_m2, step_pct or step_yuan"],
    ),
    (
        "proposal-two-steps",
        edit("step_pct = 0.2", "step_pct = 0.2\nstep_yuan = 0.1"),
        ["proposals[0].new_fee_per_m2", "exactly one"],
    ),
    (
        "proposal-fee-keys",
        edit("step_pct = 0.2", 'new_fee_per_m2 = { "multi" = 0.9 }'),
        ["proposals[0].new_fee_per_m2", "['multi']", "high-rise", "multi-storey"],
    ),
    (
        "fixed-fee-without-audit",
        edit("step_pct = 0.2", 'step_pct = 0.2\ndisclosure = "none"'),
        ["proposals[0].disclosure", "'none'", "Art. 48"],
    ),
    (
        "fund-without-bill",
        edit("step_pct = 0.2", 'matter = "maintenance_fund"'),
        ["proposals[0]", "fund_bill_per_m2", "> 0"],
    ),
    (
        "menu-too-long",
        edit("step_pct = 0.2", "step_pct = 0.0")
        + "".join(
            f'\n[[proposals.menu]]\nname = "level {k}"\nstep_pct = {k / 10}\n' for k in range(11)
        ),
        ["proposals[0].menu", "'level 10'", "at most 10", "[[proposals.menu]]"],
    ),
    (
        "schedule-after-horizon",
        SMALL_TOML + '\n[[schedule]]\nmonth = 24\nset = { "legal.enabled" = true }\n',
        ["schedule[0].month", "got 24", "< simulation.months (24)"],
    ),
    (
        "types-exceed-one",
        edit(
            "households = 240",
            "households = 240\nconditional_cooperator_share = 0.8\nfree_rider_share = 0.4",
        ),
        ["community.free_rider_share", "0.4", "must not exceed 1"],
    ),
    (
        "duplicate-type",
        edit('name = "high-rise"', 'name = "multi-storey"'),
        ["community.building_types", "distinct building type names"],
    ),
    (
        "stairwell-order",
        edit("households = 240", "households = 240\nstairwell_min = 40"),
        ["community.stairwell_min", "40", "<= stairwell_max (30)"],
    ),
    ("not-toml", SMALL_TOML + "\n[community\n", ["not valid TOML"]),
    (
        "behaviour-unknown",
        SMALL_TOML + "\n[behaviour]\npay_happiness = 1.0\n",
        ["behaviour.pay_happiness", "unknown key", "pay_habit"],
    ),
    (
        "behaviour-negative",
        SMALL_TOML + "\n[behaviour]\npay_habit = -1.0\n",
        ["behaviour.pay_habit", "-1.0", "[0, 20]"],
    ),
    (
        "renovation-share",
        SMALL_TOML + "\n[[government.renovations]]\nmonth = 3\ngovernment_share = 2.0\n",
        ["government.renovations[0].government_share", "2.0", "[0, 1]"],
    ),
    ("win-rate", SMALL_TOML + "\n[legal]\nwin_rate = -0.1\n", ["legal.win_rate", "-0.1", "[0, 1]"]),
    (
        "bool-as-string",
        SMALL_TOML + '\n[vote]\nsilent_majority = "yes"\n',
        ["vote.silent_majority", "'yes'", "true or false"],
    ),
    (
        "campaign-steps",
        SMALL_TOML + "\n[[campaigns]]\nmonth = 2\nsteps = 6\n",
        ["campaigns[0].steps", "6", "[1, 5]"],
    ),
    (
        "collection-above-one",
        edit("initial_collection_rate = 0.8", "initial_collection_rate = 1.2"),
        ["community.initial_collection_rate", "1.2", "0.995"],
    ),
    (
        "table-as-number",
        "firm = 3\n" + SMALL_TOML.replace('[firm]\ntier = "basic"\n', ""),
        ["firm", "3", "a table"],
    ),
]


@pytest.mark.parametrize(("text", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_scenario_gives_one_clear_error(tmp_path, capsys, text, fragments):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    out_dir = tmp_path / "out"
    status = main(["run", str(path), "--out", str(out_dir)])
    captured = capsys.readouterr()
    assert status == 2
    assert "Traceback" not in captured.err + captured.out
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("feesim: error:") and str(path) in lines[0]
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    assert not out_dir.exists(), "nothing is written for a bad scenario"


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20


def test_python_api_raises_config_error_which_is_a_value_error():
    with pytest.raises(feesim.ConfigError) as err:
        feesim.scenario_from_mapping(tomllib.loads(edit("households = 240", "households = -3")))
    assert isinstance(err.value, ValueError)
    assert "community.households" in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    status = main(["run", str(tmp_path / "nope.toml")])
    err = capsys.readouterr().err
    assert status == 2 and "no such scenario file" in err and "Traceback" not in err


def test_bad_command_line_values_are_rejected(capsys, examples):
    with pytest.raises(SystemExit) as exc:
        main(["run", str(examples / "xianghe_2025.toml"), "--months", "-4"])
    assert exc.value.code == 2
    assert "expected a number >= 1" in capsys.readouterr().err


def test_existing_output_is_not_clobbered_by_a_failed_run(tmp_path, capsys, examples):
    out = tmp_path / "out"
    assert main(["run", str(examples / "fund_topup.toml"), "--out", str(out)]) == 0
    before = (out / "series.csv").read_bytes()
    bad = tmp_path / "bad.toml"
    bad.write_text(edit("months = 24", "months = 0"), encoding="utf-8")
    assert main(["run", str(bad), "--out", str(out)]) == 2
    assert (out / "series.csv").read_bytes() == before
    capsys.readouterr()


def test_a_menu_of_ten_options_loads():
    """Ten options is the most a menu may offer (each draws its own stream sub-index)."""
    text = edit("step_pct = 0.2", "step_pct = 0.0") + "".join(
        f'\n[[proposals.menu]]\nname = "level {k}"\nstep_pct = {k / 10}\n' for k in range(10)
    )
    sc = feesim.scenario_from_mapping(tomllib.loads(text))
    assert len(sc.proposals[0].menu) == 10
