"""The command line and the result tables it writes."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

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
    assert "Xianghe Jiayuan 2025: 36 months" in printed and "vote m10 fee" in printed
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
    assert "maintenance_fund" in proc.stdout
