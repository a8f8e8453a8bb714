"""The command line and the result tables it writes."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from feesim.surfaces.cli.main import main

SERIES_REQUIRED = [
    "month",
    "fee_per_m2",
    "service_quality",
    "satisfaction",
    "trust",
    "collection_rate",
    "arrears_yuan",
    "firm_revenue_yuan",
    "firm_cost_yuan",
    "firm_cash_yuan",
    "firm_active",
    "complaints",
]
VOTES_REQUIRED = [
    "month",
    "matter",
    "turnout_heads",
    "turnout_area",
    "approval_heads",
    "approval_area",
    "quorum_met",
    "passed",
]


def test_run_writes_series_and_votes(tmp_path, capsys, examples):
    out = tmp_path / "xianghe"
    status = main(["run", str(examples / "xianghe_2025.toml"), "--seed", "3", "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0
    assert (
        "Xianghe Jiayuan 2025: 36 months" in printed and "vote in month 10, fee change" in printed
    )
    series = pd.read_csv(out / "series.csv")
    votes = pd.read_csv(out / "votes.csv")
    assert list(series.columns[:2]) == ["run", "month"]
    for col in SERIES_REQUIRED:
        assert col in series.columns, col
    for col in VOTES_REQUIRED:
        assert col in votes.columns, col
    assert len(series) == 36 and series["month"].tolist() == list(range(36))
    assert len(votes) >= 1 and votes["passed"].iloc[-1]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["seed"]["entropy"] == "3" and meta["months"] == 36
    assert {p.name for p in out.iterdir()} == {
        "series.csv",
        "votes.csv",
        "events.csv",
        "campaigns.csv",
        "meta.json",
    }


def test_months_and_seed_options(tmp_path, capsys, examples):
    out = tmp_path / "a"
    assert (
        main(
            [
                "run",
                str(examples / "frozen_fee.toml"),
                "--months",
                "14",
                "--seed",
                "8",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    a = pd.read_csv(out / "series.csv")
    assert len(a) == 14
    out_b = tmp_path / "b"
    assert (
        main(
            [
                "run",
                str(examples / "frozen_fee.toml"),
                "--months",
                "14",
                "--seed",
                "8",
                "--out",
                str(out_b),
            ]
        )
        == 0
    )
    pd.testing.assert_frame_equal(a, pd.read_csv(out_b / "series.csv"))
    capsys.readouterr()


def test_parquet_output(tmp_path, capsys, examples):
    out = tmp_path / "pq"
    assert (
        main(["run", str(examples / "fund_topup.toml"), "--out", str(out), "--format", "parquet"])
        == 0
    )
    assert pd.read_parquet(out / "campaigns.parquet")["share_paid"].between(0, 1).all()
    capsys.readouterr()


def test_describe_lists_levers_with_units_and_sources(capsys):
    assert main(["describe", "--kind", "lever"]) == 0
    text = capsys.readouterr().out
    assert "proposals[].quality_first_months (months)" in text
    assert "source: seeds 000, 001" in text
    assert "[uncertainty]" not in text


def test_console_script_entry_point(tmp_path, examples):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "feesim.surfaces.cli.main",
            "run",
            str(examples / "fund_topup.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "maintenance fund top-up" in proc.stdout


def _actions(parser, path=("feesim",)):
    """Every option of a parser and of its sub-commands, with the command it belongs to."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, (*path, name))
        elif action.option_strings:
            yield " ".join(path), action


def test_every_option_has_a_help_text_in_both_languages():
    """``--version``, ``ensemble --replicates/--seed`` and ``describe --kind`` had none, or an
    untranslated one; every option now says what it does, in Chinese too."""
    from feesim.i18n import use_language
    from feesim.surfaces.cli.main import build_parser

    with use_language("en"):
        english = {(cmd, a.dest): a.help for cmd, a in _actions(build_parser())}
    with use_language("zh_CN"):
        chinese = {(cmd, a.dest): a.help for cmd, a in _actions(build_parser())}
    missing = [key for key, text in english.items() if not text]
    assert not missing, missing
    assert english[("feesim", "version")] == "show the version and exit"
    assert chinese[("feesim", "version")] == "显示版本号并退出"
    for key in (("feesim ensemble", "replicates"), ("feesim ensemble", "seed")):
        assert chinese[key] != english[key], key
    assert chinese[("feesim describe", "kind")] != english[("feesim describe", "kind")]


def test_bench_and_describe_take_lang_after_the_command(capsys):
    """``feesim describe --lang en`` and ``feesim bench --lang en`` were "unrecognized
    arguments"; ``--lang`` now stands before or after every sub-command."""
    from feesim.surfaces.cli.main import build_parser

    assert main(["describe", "--lang", "en", "--kind", "lever"]) == 0
    out = capsys.readouterr().out
    assert "source: seeds 000, 001" in out and "来源" not in out
    assert main(["describe", "--lang", "zh_CN", "--kind", "lever"]) == 0
    assert "    来源：" in capsys.readouterr().out
    args = build_parser().parse_args(["bench", "--lang", "en", "--quick"])
    assert args.command == "bench" and args.quick
    args = build_parser().parse_args(["calibrate", "--quick", "--lang", "en"])
    assert args.command == "calibrate" and args.quick


def test_a_portfolio_run_names_every_file_it_wrote(tmp_path, capsys, examples):
    """With --parameter-sets, the "wrote" line left out sets.csv and the params-<k> folders."""
    out = tmp_path / "hk"
    argv = ["run", str(examples / "district_hongkou.toml"), "--months", "12"]
    assert main([*argv, "--parameter-sets", "2", "--quiet", "--out", str(out)]) == 0
    wrote = [line for line in capsys.readouterr().out.splitlines() if "wrote" in line]
    assert len(wrote) == 1
    for entry in out.iterdir():
        name = entry.name + ("/" if entry.is_dir() else "")
        assert name in wrote[0], (name, wrote[0])
    assert {p.name for p in out.iterdir()} == {
        "communities.csv",
        "districts.csv",
        "sets.csv",
        "params-0",
        "params-1",
    }


def test_an_unknown_argument_points_to_its_own_commands_help(capsys):
    """After a sub-command's name an argument it does not take is reported against that
    sub-command (its help lists what it does take); before the name, against feesim's."""
    for argv, line in (
        (
            ["dashboard", "a.toml", "b.toml"],
            "feesim dashboard: error: unrecognized arguments: b.toml (see feesim dashboard --help)",
        ),
        (
            ["--bogus", "run", "x.toml"],
            "feesim: error: unrecognized arguments: --bogus (see feesim --help)",
        ),
    ):
        with pytest.raises(SystemExit) as exc:  # argparse's own errors exit
            main(argv)
        assert exc.value.code == 2
        assert capsys.readouterr().err.strip() == line


def test_an_unknown_argument_after_the_command_is_the_commands_even_if_repeated(capsys):
    # '-v' is feesim's own option before the command; the second one, after it, is run's
    with pytest.raises(SystemExit):
        main(["-v", "run", "x.toml", "-v"])
    assert capsys.readouterr().err.strip().startswith("feesim run: error:")
