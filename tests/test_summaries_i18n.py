"""The summaries the sub-commands print, in the language in force.

``feesim ensemble`` and a portfolio run print the results' own ``summary_text`` (translated
where it is written, :mod:`feesim.studies`); ``feesim calibrate`` and ``feesim bench`` print
through :mod:`feesim.surfaces.summaries`. In Chinese none of the English words remain.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from feesim import i18n
from feesim.surfaces import summaries

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _english_words(text: str, words: str) -> list[str]:
    """Which of ``words`` (space-separated) appear in ``text`` as whole words."""
    return [w for w in words.split() if re.search(rf"(?<![A-Za-z_]){w}(?![A-Za-z_])", text)]


def test_ensemble_summary_in_both_languages():
    from feesim.config.scenario import load_scenario
    from feesim.studies.ensemble import Ensemble
    from feesim.surfaces.cli.main import _ensemble_members

    scenario = load_scenario(EXAMPLES / "frozen_fee.toml").with_changes(**{"simulation.months": 13})
    scenarios = {"frozen_fee": scenario}
    ens = Ensemble(scenarios, replicates=2, params=_ensemble_members(scenarios, 2), rng=0)
    res = ens.run(executor="serial", progress=False)
    with i18n.use_language("en"):
        assert res.summary_text().startswith("4 members (4 ok, 0 failed)")
    with i18n.use_language("zh_CN"):
        text = res.summary_text()
    assert "共 4 次模拟（成功 4 次，失败 0 次）" in text and "每种情景 2 组参数" in text
    assert "收缴率平均" in text and "表决通过" in text
    found = _english_words(
        text,
        "members ok failed parameter sets replicates last December collection mean firm "
        "exits votes passed",
    )
    assert found == []


def test_ensemble_command_in_chinese(capsys):
    from feesim.surfaces.cli.main import main

    args = ["--lang", "zh", "ensemble", str(EXAMPLES / "frozen_fee.toml"), "--replicates", "3"]
    assert main([*args, "--months", "13", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "共 3 次模拟（成功 3 次，失败 0 次）" in out and "frozen_fee：" in out
    assert _english_words(out, "members ok failed collection mean firm exits votes passed") == []


def test_portfolio_summary_in_both_languages():
    from feesim.studies.portfolio import load_portfolio, run_portfolio

    pf = load_portfolio(EXAMPLES / "district_hongkou.toml")
    pf.base = pf.base.with_changes(**{"simulation.months": 12})
    pf.table = pf.table.head(6)
    pf.parameter_sets = 2
    res = run_portfolio(pf, executor="serial", progress=False)
    with i18n.use_language("en"):
        assert "communities," in res.summary_text()
    with i18n.use_language("zh_CN"):
        text = res.summary_text()
    assert "个小区" in text and "收缴率（按户数加权" in text and "组参数的 5%-95%" in text
    found = _english_words(
        text,
        "communities households months collection weighted trap firms exited failed parameter sets",
    )
    assert found == []


def _fake_calibration_run():
    from feesim.studies.calibration.validate import LooResult, RecoveryResult

    table = pd.DataFrame(
        {
            "mean": [0.51234, -1.2],
            "mean_ci_lower": [0.4, -1.5],
            "mean_ci_upper": [0.6, -0.9],
            "identification": ["identified", "not identified"],
            "mean_se": [0.1, 0.2],
        },
        index=pd.Index(["trust_weight", "fee_sensitivity"], name="parameter"),
    )
    loo_frame = pd.DataFrame(
        {"wmae_model": [0.05], "wmae_mean": [0.08], "wmae_step": [0.07]},
        index=pd.Index(["approval"], name="outcome"),
    )
    loo = SimpleNamespace(summary_frame=lambda: loo_frame)
    loo.summary_text = lambda: LooResult.summary_text(loo)
    frame = pd.DataFrame(
        {
            "truth": [0.5],
            "estimate": [0.52],
            "error": [0.02],
            "tolerance": [0.1],
            "recovered": [True],
        },
        index=["trust_weight"],
    )
    recovery = SimpleNamespace(frame=frame)
    recovery.summary_text = lambda: RecoveryResult.summary_text(recovery)
    run = SimpleNamespace(summary_frame=lambda: table, loo=loo, recovery=recovery)
    return run


def test_calibration_summary_in_both_languages():
    from feesim.studies.calibration.result import CalibrationRun

    run = _fake_calibration_run()
    with i18n.use_language("en"):
        english = CalibrationRun.summary_text(run)
    assert "leave one out, approval: weighted MAE model" in english
    assert "parameter recovery: 1 of 1 within tolerance" in english
    with i18n.use_language("zh_CN"):
        text = CalibrationRun.summary_text(run)
    assert "留一验证，同意率" in text and "参数还原：1 个中有 1 个在容差以内" in text
    assert "不可识别" in text and "trust_weight" in text  # parameter names are the file's keys
    found = _english_words(
        text,
        "identified identification mean leave one out weighted MAE recovery tolerance approval",
    )
    assert found == []


BENCH = {
    "machine": {"cpu": "Test CPU", "cores": 2, "memory_gib": 7.6, "python": "3.12.1"},
    "engine": {"households": 100_000, "months": 60},
    "household_steps_per_s": 25.3e6,
    "reference_household_steps_per_s": 41_000.0,
    "ratio": 617.0,
    "forecast": {"runs": 1000, "households": 1200, "months": 48, "seconds": 3.21},
    "scaling": {
        "repeat": 3,
        "one_worker_s": 10.0,
        "two_workers_s": 5.4,
        "speedup": 1.85,
        "speedup_median": 1.8,
        "speedup_cold": 1.5,
    },
    "calibration": {
        "quick": True,
        "simulations": 6,
        "one_process_s": 12.0,
        "seconds_per_simulation": 2.0,
        "two_workers_s": 6.5,
        "speedup": 1.85,
        "one_at_a_time_two_workers_s": 11.0,
        "speedup_one_at_a_time": 1.09,
    },
    "city": {
        "fraction_of_city": 0.1,
        "communities": 1300,
        "households": 500_000,
        "months": 60,
        "wall_s": 20.5,
        "workers": 2,
        "peak_memory_gib": 2.5,
    },
    "goals": {
        "household_steps_per_s >= 20e6": True,
        "ratio >= 100": True,
        "forecast_s < 5": True,
        "scaling >= 1.8": False,
        "city_s < 60 (full city only)": None,
        "city_memory_gib < 8": True,
    },
}

BENCH_ENGLISH = """\
machine: Test CPU, 2 cores, 7.6 GiB, Python 3.12.1
engine (1 core): 25.3 M household-steps/s (100,000 households x 60 months)
per-agent Mesa reference: 41.0 k household-steps/s; ratio 617x
forecast: 1,000 runs x 1,200 households x 48 months in 3.21 s
scaling (warm pools, best of 3): 1 worker 10.0 s, 2 workers 5.4 s -> 1.85x (median 1.80x; \
cold, pool start included: 1.50x)
calibration (quick budget): 6 simulations in 12.0 s in one process (2.00 s each), 6.5 s on 2 \
workers -> 1.85x; one at a time on 2 workers 11.0 s -> 1.09x
city (10%): 1,300 communities, 500,000 households x 60 months in 20.5 s on 2 workers, peak \
memory 2.50 GiB (parent and workers)
  met  household_steps_per_s >= 20e6
  met  ratio >= 100
  met  forecast_s < 5
  MISS scaling >= 1.8
  n/a  city_s < 60 (full city only)
  met  city_memory_gib < 8"""


def test_bench_summary_in_both_languages():
    with i18n.use_language("en"):
        assert summaries.bench_summary(BENCH) == BENCH_ENGLISH
    with i18n.use_language("zh_CN"):
        text = summaries.bench_summary(BENCH)
    assert "机器：Test CPU，2 核" in text and "未达" in text and "全市" in text
    found = _english_words(
        text,
        "machine cores engine core households months runs scaling workers worker "
        "calibration simulations city communities memory met MISS",
    )
    assert found == []


def test_the_recovery_lines_in_both_languages():
    from feesim.studies.calibration.validate import RecoveryResult

    frame = pd.DataFrame(
        {
            "truth": [1.0],
            "estimate": [1.5],
            "error": [0.5],
            "tolerance": [0.1],
            "recovered": [False],
        },
        index=["approve_step"],
    )
    run = SimpleNamespace(frame=frame)
    with i18n.use_language("en"):
        english = RecoveryResult.summary_text(run)
    assert english.splitlines()[1] == (
        "  approve_step                 truth    1.000, estimate    1.500, error +0.500 "
        "(tolerance 0.100)  NOT RECOVERED"
    )
    with i18n.use_language("zh_CN"):
        text = RecoveryResult.summary_text(run)
    assert "真值" in text and "未还原" in text and "approve_step" in text
    assert _english_words(text, "truth estimate error tolerance RECOVERED recovery") == []
