"""The scenario's cross-field rules say a broken rule in the language asked for, with its fields.

A rule that ties two fields together (shares summing to 1, a month before the end of the run, a
schedule change's levers ...) is checked after the fields themselves. Its one-line error is
Chinese under ``LANGUAGE=zh_CN``, names the key and the value as the user wrote them and keeps
them as ``ConfigError.key`` and ``.value``, as a field's error does
(:func:`feesim.config.params.fail`); under English it is the line it always was (pinned here).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from feesim.config.scenario import load_scenario, scenario_from_mapping
from feesim.errors import ConfigError
from feesim.surfaces.cli.main import main
from tests.conftest import SMALL_TOML

HAN = re.compile(r"[\u4e00-\u9fff]")
#: Words of the English rules that must not be left in a Chinese message.
ENGLISH_WORDS = re.compile(
    r"\b(got|expected|at least|at most|exactly one|summing|must not|cannot|distinct|"
    r"building type|is required|a lever|for a|e\.g\.|options)\b"
)
LEVERS = (
    "government.subsidy_per_m2, government.subsidy_min_score, "
    "government.assessment_hotline_weight, firm.public_income_yuan_month, "
    "firm.public_income_firm_share, committee.public_income_to_fund, firm.contract, firm.tier, "
    "committee.evaluation_months, "
    "committee.evaluation_threshold, committee.rollback, committee.rollback_window_months, "
    "committee.rectification_months, committee.door_to_door_intensity, committee.auto_propose, "
    "committee.complaint_response, committee.tender_after_bad_scores, legal.enabled, "
    "legal.sue_share"
)
MENU = [{"name": f"o{i}", "step_pct": 0.1} for i in range(11)]
MENU_NAMES = [m["name"] for m in MENU]

#: One case per kind of cross-field rule, on the small scenario (24 months, two building
#: types, a proposal in month 8): (changes, key, value, English message, Chinese message).
RULES: dict[str, tuple[dict[str, Any], str, Any, str, str]] = {
    "no_building_type": (
        {"community.building_types": []},
        "community.building_types",
        [],
        "community.building_types: at least one building type is required",
        "community.building_types：至少需要一种楼型",
    ),
    "same_building_type": (
        {"community.building_types[1].name": "multi-storey"},
        "community.building_types",
        ["multi-storey", "multi-storey"],
        "community.building_types: got ['multi-storey', 'multi-storey']; expected distinct "
        "building type names",
        "community.building_types：实际为 ['multi-storey', 'multi-storey']；应为互不相同的楼型名称",
    ),
    "shares_not_summing": (
        {"community.building_types[1].share": 0.2},
        "community.building_types[].share",
        0.9,
        "community.building_types[].share: got 0.9; expected shares summing to 1",
        "community.building_types[].share：实际为 0.9；应为合计为 1 的比例",
    ),
    "stairwells": (
        {"community.stairwell_min": 40, "community.stairwell_max": 30},
        "community.stairwell_min",
        40,
        "community.stairwell_min: got 40; expected <= stairwell_max (30)",
        "community.stairwell_min：实际为 40；应为不超过 stairwell_max（30）",
    ),
    "free_riders": (
        {"community.free_rider_share": 0.9},
        "community.free_rider_share",
        0.9,
        "community.free_rider_share: got 0.9; expected <= 0.5 (conditional_cooperator_share + "
        "free_rider_share must not exceed 1)",
        "community.free_rider_share：实际为 0.9；应为不超过 0.5（conditional_cooperator_share 与 "
        "free_rider_share 之和不得超过 1）",
    ),
    "overhaul_month": (
        {"firm.overhaul_months": [-1]},
        "firm.overhaul_months",
        (-1,),
        "firm.overhaul_months: got (-1,); expected months >= 0",
        "firm.overhaul_months：实际为 (-1,)；应为不小于 0 的月份",
    ),
    "no_new_fee": (
        {"proposals[0].step_pct": None},
        "proposals[0].new_fee_per_m2",
        None,
        "proposals[0].new_fee_per_m2: got None; expected exactly one of new_fee_per_m2, "
        "step_pct or step_yuan for a fee proposal",
        "proposals[0].new_fee_per_m2：实际为 None；应为物业费方案在 new_fee_per_m2、step_pct 与 "
        "step_yuan 三者中只给其一",
    ),
    "menu_of_one": (
        {"proposals[0].menu": [{"name": "a", "step_pct": 0.1}]},
        "proposals[0].menu",
        ["a"],
        "proposals[0].menu: got ['a']; expected at least two options on a fee proposal whose "
        "own step_pct is 0",
        "proposals[0].menu：实际为 ['a']；应为物业费方案上至少两个选项，"
        "且该方案自身的 step_pct 为 0",
    ),
    "menu_too_long": (
        {"proposals[0].step_pct": 0.0, "proposals[0].menu": MENU},
        "proposals[0].menu",
        MENU_NAMES,
        f"proposals[0].menu: got {MENU_NAMES!r}; expected at most 10 options "
        "([[proposals.menu]] entries; got 11)",
        f"proposals[0].menu：实际为 {MENU_NAMES!r}；应为至多 10 个选项"
        "（[[proposals.menu]] 条目；实际有 11 个）",
    ),
    "fund_bill": (
        {"proposals[0].matter": "maintenance_fund", "proposals[0].fund_bill_per_m2": 0.0},
        "proposals[0].fund_bill_per_m2",
        0.0,
        "proposals[0].fund_bill_per_m2: got 0.0; expected > 0 for a maintenance_fund proposal",
        "proposals[0].fund_bill_per_m2：实际为 0.0；应为大于 0"
        "（maintenance_fund 事项，即维修资金续筹方案）",
    ),
    "quality_first": (
        {"proposals[0].quality_first_months": 9},
        "proposals[0].quality_first_months",
        9,
        "proposals[0].quality_first_months: got 9; expected <= month (8): quality first cannot "
        "start before month 0",
        "proposals[0].quality_first_months：实际为 9；应为不超过 month（8）：先质后价不能早于第 0 "
        "个月开始",
    ),
    "proposal_after_the_end": (
        {"proposals[0].month": 30},
        "proposals[0].month",
        30,
        "proposals[0].month: got 30; expected < simulation.months (24)",
        "proposals[0].month：实际为 30；应为小于 simulation.months（24）",
    ),
    "fee_per_building_type": (
        {"proposals[0].new_fee_per_m2": {"a": 1.0}},
        "proposals[0].new_fee_per_m2",
        ["a"],
        "proposals[0].new_fee_per_m2: got ['a']; expected one fee for each building type: "
        "['high-rise', 'multi-storey']",
        "proposals[0].new_fee_per_m2：实际为 ['a']；应为每种楼型各一个收费标准："
        "['high-rise', 'multi-storey']",
    ),
    "campaign_after_the_end": (
        {"campaigns": [{"month": 30}]},
        "campaigns[0].month",
        30,
        "campaigns[0].month: got 30; expected < simulation.months (24)",
        "campaigns[0].month：实际为 30；应为小于 simulation.months（24）",
    ),
    "renovation_after_the_end": (
        {"government.renovations": [{"month": 24}]},
        "government.renovations[0].month",
        24,
        "government.renovations[0].month: got 24; expected < simulation.months (24)",
        "government.renovations[0].month：实际为 24；应为小于 simulation.months（24）",
    ),
    "change_after_the_end": (
        {"schedule": [{"month": 30, "set": {"government.subsidy_per_m2": 0.1}}]},
        "schedule[0].month",
        30,
        "schedule[0].month: got 30; expected < simulation.months (24)",
        "schedule[0].month：实际为 30；应为小于 simulation.months（24）",
    ),
    "change_of_nothing": (
        {"schedule": [{"month": 3, "set": {}}]},
        "schedule[0].set",
        {},
        "schedule[0].set: got {}; expected at least one lever, e.g. "
        '{ "government.subsidy_per_m2" = 0.1 }',
        "schedule[0].set：实际为 {}；应为至少一项调控手段，例如 "
        '{ "government.subsidy_per_m2" = 0.1 }',
    ),
    "change_of_no_lever": (
        {"schedule": [{"month": 3, "set": {"firm.staff": 3}}]},
        "schedule[0].set.firm.staff",
        3,
        f"schedule[0].set.firm.staff: got 3; expected a lever that can change at a month: {LEVERS}",
        f"schedule[0].set.firm.staff：实际为 3；应为可在某月变更的调控手段之一：{LEVERS}",
    ),
    "change_to_a_bad_value": (
        {"schedule": [{"month": 3, "set": {"government.subsidy_per_m2": "x"}}]},
        "schedule[0].set.government.subsidy_per_m2",
        "x",
        "schedule[0].set.government.subsidy_per_m2: got 'x'; expected a number",
        "schedule[0].set.government.subsidy_per_m2：实际为 'x'；应为数字",
    ),
}


@pytest.fixture(scope="module")
def small():
    """The small scenario of the suite (see ``tests/conftest.py``)."""
    return scenario_from_mapping(tomllib.loads(SMALL_TOML))


@pytest.mark.parametrize("case", sorted(RULES))
def test_a_broken_rule_is_said_in_chinese_with_its_key_and_value(case, small, monkeypatch):
    changes, key, value, _english, chinese = RULES[case]
    monkeypatch.setenv("LANGUAGE", "zh_CN")
    with pytest.raises(ConfigError) as err:
        small.with_changes(**changes)
    message = str(err.value)
    assert message == chinese
    assert message.startswith(f"{key}：") and HAN.search(message)
    assert not ENGLISH_WORDS.search(message), message
    assert (err.value.key, err.value.value) == (key, value)
    assert err.value.expected and HAN.search(err.value.expected)


@pytest.mark.parametrize("case", sorted(RULES))
def test_a_broken_rule_in_english_is_the_line_it_was(case, small, monkeypatch):
    changes, key, value, english, _chinese = RULES[case]
    monkeypatch.setenv("LANGUAGE", "en")
    with pytest.raises(ConfigError) as err:
        small.with_changes(**changes)
    assert str(err.value) == english
    assert (err.value.key, err.value.value) == (key, value)


def test_a_replace_month_below_zero_names_replace_months(small):
    # it used to be blamed on overhaul_months, which was fine
    with pytest.raises(ConfigError) as err:
        small.with_changes(**{"firm.replace_months": [-2]})
    assert str(err.value) == "firm.replace_months: got (-2,); expected months >= 0"
    assert err.value.key == "firm.replace_months"


@pytest.mark.parametrize(
    ("lang", "expected"), [("zh_CN", "scenario：实际为 list；应为表"), ("en", None)]
)
def test_a_scenario_that_is_not_a_table(lang, expected, monkeypatch):
    monkeypatch.setenv("LANGUAGE", lang)
    with pytest.raises(ConfigError) as err:
        scenario_from_mapping([1, 2])  # type: ignore[arg-type]
    assert str(err.value) == (expected or "scenario: got list; expected a table")
    assert (err.value.key, err.value.value) == ("scenario", [1, 2])


def _bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(SMALL_TOML.replace("month = 8", "month = 30"), encoding="utf-8")
    return path


def test_a_scenario_files_rule_keeps_its_key_after_the_files_name(tmp_path, monkeypatch):
    path = _bad_file(tmp_path)
    monkeypatch.setenv("LANGUAGE", "zh_CN")
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert (
        str(err.value) == f"{path}：proposals[0].month：实际为 30；应为小于 simulation.months（24）"
    )
    assert (err.value.key, err.value.value) == ("proposals[0].month", 30)


def test_feesim_run_says_a_broken_rule_in_one_chinese_line(tmp_path, capsys):
    path = _bad_file(tmp_path)
    assert main(["--lang", "zh", "run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0] == (
        f"feesim：错误：{path}：proposals[0].month：实际为 30；应为小于 simulation.months（24）"
    )
    assert not (tmp_path / "out").exists()
