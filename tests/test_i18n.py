"""Two languages, Chinese first: which language, the catalogue, and the command line in Chinese.

The suite runs in English (``conftest.py`` sets ``LANGUAGE=en``); these tests ask for Chinese
explicitly and check that every text the surfaces produce has a translation.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import feesim
from feesim import i18n
from feesim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _tools_i18n():
    spec = importlib.util.spec_from_file_location("tools_i18n", ROOT / "tools" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------------------------
# which language
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("zh", "zh_CN"),
        ("zh-CN", "zh_CN"),
        ("zh_CN.UTF-8", "zh_CN"),
        ("zh-Hans", "zh_CN"),
        ("en", "en"),
        ("en_US.UTF-8", "en"),
        ("en-GB", "en"),
        ("C", None),
        ("POSIX", None),
        ("C.UTF-8", None),
        ("fr_FR.UTF-8", None),
        ("zh_TW.UTF-8", None),  # traditional characters: not the Simplified catalogue
        ("", None),
    ],
)
def test_locale_names(value, expected):
    assert i18n.normalize(value) == expected


def test_environment_follows_gettext_and_defaults_to_chinese():
    env = i18n.from_environment
    assert env({}) == "zh_CN"
    assert env({"LANG": "C.UTF-8"}) == "zh_CN"
    assert env({"LANG": "en_US.UTF-8"}) == "en"
    assert env({"LANG": "zh_CN.UTF-8"}) == "zh_CN"
    # LC_ALL before LANG; the first locale variable set decides (as gettext does)
    assert env({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert env({"LC_ALL": "C", "LANG": "en_US.UTF-8"}) == "zh_CN"
    # LANGUAGE lists several; the first one feesim has counts
    assert env({"LANGUAGE": "fr:en", "LANG": "zh_CN.UTF-8"}) == "en"


def test_explicit_choice_wins_and_a_bad_one_is_named():
    with i18n.use_language("zh_CN"):
        assert i18n.language() == "zh_CN"
        assert i18n.gettext("Collection rate (收缴率)") == "收缴率"
        with i18n.use_language("en"):
            assert i18n.gettext("Collection rate (收缴率)") == "Collection rate (收缴率)"
        assert i18n.language() == "zh_CN"
    with pytest.raises(ConfigError, match=r"lang: got 'fr'; expected zh_CN .* or en"):
        i18n.resolve("fr")


# ----------------------------------------------------------------------------------------------
# the catalogue
# ----------------------------------------------------------------------------------------------
def test_every_message_is_translated_and_compiled():
    pytest.importorskip("babel")
    tools = _tools_i18n()
    assert tools.problems() == []


def test_the_catalogue_holds_every_message_of_the_source(tmp_path):
    """Babel extraction of the source finds no message the catalogue lacks."""
    pytest.importorskip("babel")
    from babel.messages.pofile import read_po

    pot = tmp_path / "feesim.pot"
    cmd = [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg"]
    subprocess.run(
        [*cmd, "-k", "N_", "--no-location", "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        source = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    tools = _tools_i18n()
    with tools.po_path("zh_CN").open("rb") as f:
        have = {
            m.id if isinstance(m.id, str) else m.id[0]
            for m in read_po(f, locale="zh_CN")
            if m.id and m.string
        }
    assert len(source) > 400
    assert sorted(source - have) == []


def test_shanghai_terms():
    with i18n.use_language("zh_CN"):
        _ = i18n.gettext
        assert "收缴率" in _("Collection rate (收缴率)")
        assert "双过半" in _("The vote (Civil Code Art. 278, 双过半)")
        assert "业主大会" in _(
            "The owners' general meeting (业主大会) decides if owners holding at least 2/3 of the "
            "floor area and at least 2/3 of all owners take part, and the fee change then needs "
            "more than half of the area taking part and more than half of the owners taking "
            "part. The figures are for each simulated run's final vote (a vote that misses the "
            "quorum may be held again)."
        )
        assert _("Quality first (先质后价)") == "先质后价"
        assert _("temporary provider (应急物业)") == "应急物业进场"
        assert "物业服务企业" in _("Service and the property-service firm (物业服务企业)")


# ----------------------------------------------------------------------------------------------
# the command line
# ----------------------------------------------------------------------------------------------
def test_the_runs_summary_names_votes_in_words_in_both_languages():
    """SimulationResult.summary_text (what feesim run prints) in the language in force; its
    vote lines name the matter and the deciding test in words, not the engine's keys."""
    result = feesim.simulate(feesim.load_scenario(ROOT / "examples" / "xianghe_2025.toml"), rng=1)
    with i18n.use_language("en"):
        english = result.summary_text()
    votes = [line for line in english.splitlines() if line.startswith("  vote")]
    assert votes and all(
        line.startswith("  vote in month ") and "deciding test" in line for line in votes
    )
    assert "fee change" in english and "_" not in "".join(votes)  # no engine key
    assert "  fee per m2        " in english and "  firm exits        " in english
    with i18n.use_language("zh_CN"):
        text = result.summary_text()
    assert "收缴率（12月累计）" in text and "表决" in text and "通过" in text
    assert "物业费调整" in text and "决定结果的条件" in text
    assert "fee per m2" not in text and "quorum_area" not in text
    assert "_" not in text.split("\n", 1)[1]  # engine keys only in the scenario's name


def test_run_in_chinese(capsys):
    from feesim.surfaces.cli.main import main

    assert main(["--lang", "zh_CN", "run", str(ROOT / "examples" / "frozen_fee.toml")]) == 0
    out = capsys.readouterr().out
    assert "个月" in out and "物业费" in out and "模拟用时" in out
    assert "months" not in out


def test_lang_after_the_sub_command_and_from_the_environment(capsys, monkeypatch):
    from feesim.surfaces.cli.main import main

    assert main(["run", str(ROOT / "examples" / "frozen_fee.toml"), "--lang", "zh"]) == 0
    assert "模拟用时" in capsys.readouterr().out
    monkeypatch.delenv("LANGUAGE")
    # LC_ALL and LC_MESSAGES come before LANG (as in gettext); many images set LC_ALL.
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert main(["run", str(ROOT / "examples" / "frozen_fee.toml")]) == 0
    assert "模拟用时" in capsys.readouterr().out
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert main(["run", str(ROOT / "examples" / "frozen_fee.toml")]) == 0
    assert "simulated in" in capsys.readouterr().out


def test_argparse_messages_and_errors_in_chinese(capsys, tmp_path):
    from feesim.surfaces.cli.main import main

    with pytest.raises(SystemExit) as stop:
        main(["--lang", "zh_CN", "forecast", "x.toml", "--runs", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "用法：" in err and "错误" in err and "--runs" in err and "应不小于 1" in err
    # a feesim error: one line, prefixed in Chinese
    assert main(["--lang", "zh_CN", "dashboard", str(tmp_path / "missing.toml")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("feesim：错误：")
    # help in Chinese, and argparse put back as it was afterwards
    with pytest.raises(SystemExit):
        main(["--lang", "zh_CN", "forecast", "--help"])
    assert "每种情况的模拟次数" in capsys.readouterr().out
    import argparse
    import gettext

    assert argparse._ is gettext.gettext


def test_an_unknown_language_is_refused(capsys):
    from feesim.surfaces.cli.main import main

    with pytest.raises(SystemExit) as stop:
        main(["--lang", "fr", "describe"])
    assert stop.value.code == 2
    assert "--lang" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# the docs of the configuration fields (feesim describe, the report's defaults)
# ----------------------------------------------------------------------------------------------
def test_every_field_doc_is_in_the_template_and_translated():
    pytest.importorskip("babel")
    from babel.messages.pofile import read_po

    tools = _tools_i18n()
    docs = tools.field_docs()
    assert len(docs) > 250  # scenario, behaviour and community file
    with tools.POT.open("rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    assert sorted(set(docs) - template) == []
    zh = i18n.translation("zh_CN")
    # a unit written in symbols ('%', '0-1', 'YYYY-MM') reads the same in both languages
    words = re.compile(r"[a-z]{2}")
    untranslated = [
        d for d in docs if not zh.gettext(d) or (zh.gettext(d) == d and words.search(d))
    ]
    assert untranslated == []
    assert zh.gettext("yuan/month") == "元/月" and zh.gettext("months") == "月"
    # Chinese, with the field names and numbers they quote kept
    assert zh.gettext("current fee") == "现行物业费"
    doc = "loss of approval per relative fee step (0.3 = +30%)"
    assert "0.3 = +30%" in zh.gettext(doc)
    doc = next(d for d in docs if d.startswith("firm's cost per suit"))
    assert "win_rate" in zh.gettext(doc)


def test_describe_in_chinese(capsys):
    from feesim.surfaces.cli.main import main

    assert main(["--lang", "zh", "describe"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    fee = lines.index(next(x for x in lines if x.startswith("community.building_types[].fee_per")))
    assert lines[fee + 1] == "    现行物业费" and "[调控手段]" in lines[fee]
    assert "来源：" in out
    assert "current fee" not in out and "how often bills are issued" not in out
    # every doc line is Chinese (the source lines are citations and stay as written)
    docs = [x for x in lines if x.startswith("    ") and not x.startswith("    来源")]
    assert docs and all(re.search(r"[\u4e00-\u9fff]", x) for x in docs)
    assert main(["--lang", "en", "describe"]) == 0
    english = capsys.readouterr().out
    assert "    current fee\n" in english and "[lever]" in english


def test_the_reports_defaults_in_chinese():
    from feesim.config.scenario import Scenario
    from feesim.studies.forecast.community import CommunityFile, missing_fields
    from feesim.surfaces.report import _defaults_table

    items = missing_fields(Scenario, {})[:2] + missing_fields(CommunityFile, {"community": {}})
    items.append("behaviour: 67 coefficients from the package defaults")
    with i18n.use_language("en"):
        english = _defaults_table(items)
    with i18n.use_language("zh_CN"):
        chinese = _defaults_table(items)
    assert "short name shown in reports" in english and "报告中显示的简称" in chinese
    # the doc with its unit, both translated
    assert "parking, advertising and other public income (yuan/month)" in english
    assert "停车、广告等公共收益 (元/月)" in chinese
    assert "67 个行为系数取软件包默认值" in chinese
    assert "parking" not in chinese and "package defaults" not in chinese


def test_the_defaults_the_mapping_derives_are_said_in_chinese():
    """A default the community-file mapping derives (area, lifts, staff, quality) carries an
    English note in forecast.json; the report says it in the language in force, values kept,
    and an empty value reads "none" (无)."""
    from feesim.studies.forecast.mapping import DEFAULT_NOTES, default_note, read_default_note
    from feesim.surfaces.report import _defaults_table

    note = default_note("area_m2", area="55")
    assert note == "default: households x 55 m2"
    assert read_default_note(note) == (DEFAULT_NOTES["area_m2"], {"area": "55"})
    assert read_default_note("default: households x 55 m2 and more") is None
    tier = default_note("service_quality", tier="tidy")
    items = [
        f"buildings[0].area_m2 = 4400  # {note}",
        f"firm.service_quality = 0.75  # {tier}",
        "firm.staff = none  # staff on site now (people)",
    ]
    with i18n.use_language("en"):
        english = _defaults_table(items)
    with i18n.use_language("zh_CN"):
        chinese = _defaults_table(items)
    assert "default: households x 55 m2" in english and "staff on site now (people)" in english
    assert "默认：户数 × 55 平方米" in chinese and "“tidy”" in chinese
    assert "现有在岗人员 (人)" in chinese and ">无<" in chinese
    assert "default" not in chinese and "people" not in chinese
    with i18n.use_language("en"):
        one = _defaults_table(["behaviour: 1 coefficient from the package defaults"])
    with i18n.use_language("zh_CN"):
        assert "1 个行为系数" in _defaults_table(
            ["behaviour: 1 coefficient from the package defaults"]
        )
    assert "behaviour: 1 coefficient from the package defaults" in one
