"""A bad community file or ``feesim forecast`` option: one line in the language asked for.

Under Chinese the words are Chinese and the user's key, value and allowed range stay as
written; under English the line is the one it always was (pinned here byte for byte).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from feesim import i18n
from feesim.config import params
from feesim.config.scenario import AUDIT_RULE
from feesim.studies.forecast.community import CommunityInfo
from feesim.surfaces.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = (ROOT / "examples" / "community_xianghe.toml").read_text(encoding="utf-8")
HAN = re.compile(r"[\u4e00-\u9fff]")
#: Words of the English templates that must not be left in a Chinese message.
ENGLISH_WORDS = re.compile(
    r"\b(got|expected|unknown key|allowed keys|required field|a value in|an integer|"
    r"at least|a month|a fee|building type|months after)\b"
)


def _edit(old: str, new: str) -> str:
    assert old in EXAMPLE, old
    return EXAMPLE.replace(old, new, 1)


#: (bad file, English message after "<file>: ", Chinese message after "<file>：").
FILES = {
    "missing_required": (
        _edit("households = 794", "# households left out"),
        "buildings[1].households: required field is missing (an integer, households)",
        "buildings[1].households：缺少必填项（整数，户）",
    ),
    "unknown_key": (
        _edit("trust = 0.5 ", "trsut = 0.5 "),
        "community.trsut: unknown key; allowed keys here: absentee_share, billing, "
        "collection_rate, district, housing_kind, income_yuan_month, jurisdiction, "
        "maintenance_fund_yuan_per_m2, name, pension_yuan_month, public_income_to_firm, "
        "public_income_yuan_month, renter_share, retiree_share, subsidy_yuan_per_m2, trust, "
        "volunteer_share, years_since_adjustment",
        "community.trsut：未知的键；此处允许的键：absentee_share, billing, "
        "collection_rate, district, housing_kind, income_yuan_month, jurisdiction, "
        "maintenance_fund_yuan_per_m2, name, pension_yuan_month, public_income_to_firm, "
        "public_income_yuan_month, renter_share, retiree_share, subsidy_yuan_per_m2, trust, "
        "volunteer_share, years_since_adjustment",
    ),
    "out_of_bounds": (
        _edit("collection_rate = 0.80 ", "collection_rate = 1.5 "),
        "community.collection_rate: got 1.5; expected a value in [0.01, 0.995] share",
        "community.collection_rate：实际为 1.5；应为[0.01, 0.995] 范围内的值（比例）",
    ),
    "wrong_type": (
        _edit("retries = 1 ", 'retries = "one" '),
        "proposal.retries: got 'one'; expected an integer",
        "proposal.retries：实际为 'one'；应为整数",
    ),
    "not_one_of": (
        _edit('billing = "yearly"', 'billing = "weekly"'),
        "community.billing: got 'weekly'; expected one of 'monthly', 'quarterly', 'yearly'",
        "community.billing：实际为 'weekly'；应为以下之一：'monthly', 'quarterly', 'yearly'",
    ),
    "bad_vote_month": (
        _edit('vote = "2024-11"', 'vote = "2024-13"'),
        "proposal.vote: got '2024-13'; expected a month as 'YYYY-MM' or a number of months",
        "proposal.vote：实际为 '2024-13'；应为'YYYY-MM' 格式的月份或月数",
    ),
    "bad_start_month": (
        _edit('start = "2024-01"', 'start = "2024-1"'),
        "forecast.start: got '2024-1'; expected a month as 'YYYY-MM', e.g. '2024-01'",
        "forecast.start：实际为 '2024-1'；应为'YYYY-MM' 格式的月份，如 '2024-01'",
    ),
    "fees_not_per_building": (
        _edit('new_fee = { "multi-storey" = 0.97, "high-rise" = 1.44 }', "new_fee = { a = 1 }"),
        "proposal.new_fee: got ['a']; expected one fee for each building type: "
        "['high-rise', 'multi-storey']",
        "proposal.new_fee：实际为 ['a']；应为每种楼型各一个收费标准：['high-rise', 'multi-storey']",
    ),
    "same_type_twice": (
        _edit('type = "high-rise"', 'type = "multi-storey"'),
        "buildings[].type: got ['multi-storey', 'multi-storey']; expected distinct building "
        "type names",
        "buildings[].type：实际为 ['multi-storey', 'multi-storey']；应为互不相同的楼型名称",
    ),
    "area_per_unit": (
        _edit("area_m2 = 69872", "area_m2 = 100"),
        "buildings[1].area_m2: got 100.0; expected a total giving 10-500 m2 per unit (794 units)",
        "buildings[1].area_m2：实际为 100.0；应为使每户 10-500 平方米的总面积（794 户）",
    ),
    "audit_rule": (
        _edit('audit = "audit"', 'audit = "none"'),
        "proposal.audit: got 'none'; expected " + AUDIT_RULE,
        "proposal.audit：实际为 'none'；应为'audit' 或 'assessment'：在上海，包干制合同调价之前"
        "须先做近 12 个月的审计或第三方价格评估（Shanghai Provisions Art. 48；沪房规范〔2021〕6号 "
        "§15；上海以外的小区请设 community.jurisdiction = 'elsewhere'）",
    ),
    "not_a_community_file": (
        '[community]\nname = "x"\n',
        "neither a community file (tables [community], [[buildings]], [proposal]) nor a "
        "scenario file (tables [simulation], [community], [[proposals]]); found tables "
        "['community']",
        "既不是小区文件（表 [community]、[[buildings]]、[proposal]），也不是情景文件（表 "
        "[simulation]、[community]、[[proposals]]）；文件中的表：['community']",
    ),
}

#: (--new-fee value, English message, Chinese message), on the example file.
NEW_FEES = {
    "not_a_number": (
        "abc",
        "--new-fee: got 'abc'; expected one number (yuan/m2/month, every type) or TYPE=FEE "
        "pairs separated by commas for every building type (multi-storey, high-rise), e.g. "
        "multi-storey=1.0,high-rise=1.0",
        "--new-fee：实际为 'abc'；应为一个数字（元/平方米/月，适用于所有楼型），或为每种楼型"
        "（multi-storey, high-rise）给出以逗号分隔的 TYPE=FEE，例如 "
        "multi-storey=1.0,high-rise=1.0",
    ),
    "out_of_range": (
        "99",
        "--new-fee: got '99'; expected a fee in [0, 50] yuan/m2/month",
        "--new-fee：实际为 '99'；应为[0, 50] 范围内的收费标准（元/平方米/月）",
    ),
    "unknown_type": (
        "tower=1,high-rise=1",
        "--new-fee: got 'tower'; expected a building type of this community: "
        "multi-storey, high-rise",
        "--new-fee：实际为 'tower'；应为本小区的楼型之一：multi-storey, high-rise",
    ),
    "type_missing": (
        "multi-storey=0.9",
        "--new-fee: got 'multi-storey=0.9'; expected a fee for every building type; "
        "missing: high-rise",
        "--new-fee：实际为 'multi-storey=0.9'；应为每种楼型都须有一个收费标准；缺少：high-rise",
    ),
}


def _forecast(lang: str, file: Path, out: Path, *extra: str) -> int:
    return main(["--lang", lang, "forecast", str(file), "--runs", "2", "--out", str(out), *extra])


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("case", sorted(FILES))
def test_bad_community_file_in_chinese(case, tmp_path, capsys):
    text, _english, chinese = FILES[case]
    file = tmp_path / "bad.toml"
    file.write_text(text, encoding="utf-8")
    assert _forecast("zh", file, tmp_path / "out") == 2
    line = _error_line(capsys)
    assert line == f"feesim：错误：{file}：{chinese}"
    message = line.split("：", 3)[-1]
    assert HAN.search(message)
    assert not ENGLISH_WORDS.search(message), message


@pytest.mark.parametrize("case", sorted(FILES))
def test_bad_community_file_in_english_unchanged(case, tmp_path, capsys):
    text, english, _chinese = FILES[case]
    file = tmp_path / "bad.toml"
    file.write_text(text, encoding="utf-8")
    assert _forecast("en", file, tmp_path / "out") == 2
    assert _error_line(capsys) == f"feesim: error: {file}: {english}"


@pytest.mark.parametrize("case", sorted(NEW_FEES))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bad_new_fee_option(case, lang, tmp_path, capsys):
    value, english, chinese = NEW_FEES[case]
    file = tmp_path / "xianghe.toml"
    file.write_text(EXAMPLE, encoding="utf-8")
    assert _forecast(lang, file, tmp_path / "out", "--new-fee", value) == 2
    line = _error_line(capsys)
    if lang == "en":
        assert line == f"feesim: error: {english}"
    else:
        assert line == f"feesim：错误：{chinese}"
        assert not ENGLISH_WORDS.search(line), line


def test_a_scenario_files_audit_error_follows_the_language_too():
    # The rule is translated where the scenario layer raises it, so a scenario file (a
    # researcher's) and a community file (under its own key) say it alike.
    from feesim.config.scenario import load_scenario
    from feesim.errors import ConfigError

    xianghe = load_scenario(ROOT / "examples" / "xianghe_2025.toml")
    for lang, words in (("en", "must follow a 12-month audit"), ("zh_CN", "审计")):
        with i18n.use_language(lang), pytest.raises(ConfigError, match=words) as err:
            xianghe.with_changes(**{"proposals[0].disclosure": "none"})
        assert str(err.value).startswith("proposals[0].disclosure")
    assert AUDIT_RULE.startswith("'audit' or 'assessment'")


def test_field_bounds_as_data_stay_english_under_chinese():
    # The bounds of a field as describe and the sensitivity factors read them are not errors.
    spec = params.resolve(CommunityInfo, "trust")
    with i18n.use_language("zh_CN"):
        assert spec.allowed() == "a value in [0, 1] 0-1"
        assert spec.type_name == "a number"


def test_a_field_error_keeps_its_key_value_and_expectation():
    # what lets the forecast say a proposal's error again under the community file's key,
    # in any language, without reading the message
    err = params.fail("proposals[0].disclosure", "none", "'audit' or 'assessment'")
    assert (err.key, err.value, err.expected) == (
        "proposals[0].disclosure",
        "none",
        "'audit' or 'assessment'",
    )
    assert str(err) == "proposals[0].disclosure: got 'none'; expected 'audit' or 'assessment'"


def test_a_proposals_cross_field_error_is_said_under_the_community_files_key(tmp_path):
    # The scenario's rule (quality first ends at the vote) breaks for a proposal of a community
    # file: the forecast says it under the file's key from ConfigError.key, in Chinese too.
    import dataclasses

    from feesim.errors import ConfigError
    from feesim.studies.forecast import load_forecast_input

    file = tmp_path / "xianghe.toml"
    file.write_text(EXAMPLE, encoding="utf-8")
    inp = load_forecast_input(file)
    month = inp.proposal.month
    early = dataclasses.replace(inp.proposal, quality_first_months=month + 1)
    with i18n.use_language("zh_CN"), pytest.raises(ConfigError) as err:
        inp.scenario(early)
    assert str(err.value) == (
        f"proposal.quality_first_months：实际为 {month + 1}；应为不超过 month（{month}）："
        "先质后价不能早于第 0 个月开始"
    )
    assert (err.value.key, err.value.value) == ("proposal.quality_first_months", month + 1)
    with i18n.use_language("en"), pytest.raises(ConfigError) as err:
        inp.scenario(early)
    assert str(err.value) == (
        f"proposal.quality_first_months: got {month + 1}; expected <= month ({month}): quality "
        "first cannot start before month 0"
    )


def test_a_proposal_field_the_community_file_has_no_key_for_is_not_given_a_key(tmp_path):
    # proposals[0].new_fee_per_m2 is the scenario's name; the community file says new_fee in
    # another shape, so the error stays whole under "proposal" and claims no key of the file.
    import dataclasses

    from feesim.errors import ConfigError
    from feesim.studies.forecast import load_forecast_input

    file = tmp_path / "xianghe.toml"
    file.write_text(EXAMPLE, encoding="utf-8")
    inp = load_forecast_input(file)
    odd = dataclasses.replace(inp.proposal, new_fee_per_m2={"a": 1.0})
    with i18n.use_language("zh_CN"), pytest.raises(ConfigError) as err:
        inp.scenario(odd)
    assert str(err.value).startswith("proposal：proposals[0].new_fee_per_m2：实际为 ['a']；")
    assert err.value.key is None
