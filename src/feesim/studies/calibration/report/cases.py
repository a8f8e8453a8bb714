"""The report's cases and targets: reported against simulated, figure by figure.

Every simulated figure of a case row with its seed and parameter bands, every time-path target
and check, and the example paths behind them (sections "Time-path targets and checks" and
"Reported against simulated, case by case").
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from feesim.studies.calibration.moments import _example, _main_votes, _on_case_calendar, _run
from feesim.studies.calibration.report.common import OUTCOME_COLS, _md_table, _member_sims

if TYPE_CHECKING:  # pragma: no cover
    from feesim.studies.calibration.result import CalibrationRun


def case_table(run: CalibrationRun) -> pd.DataFrame:
    """Observed interval and simulated median / bands for every simulated figure."""
    cal, fit = run.calibrator, run.fit
    sim = cal.simulate(fit.u)
    members = _member_sims(run)
    f = run.cases.frame
    rows = []
    for obs, cid, _di, _m in cal.simulator.observations:
        r = f.loc[obs]
        for outcome in OUTCOME_COLS:
            use = r[f"use_{outcome}"]
            lo, hi = r[f"{outcome}_lo"], r[f"{outcome}_hi"]
            if use not in ("fit", "target") or not np.isfinite(lo):
                continue
            s = sim.cases[sim.cases["obs_id"] == obs][outcome].to_numpy(float)
            med = [np.nanmedian(m.cases[m.cases["obs_id"] == obs][outcome]) for m in members]
            band = np.nanquantile(med, [0.05, 0.95]) if members else [np.nan, np.nan]
            rows.append(
                {
                    "obs_id": obs,
                    "case_id": cid,
                    "outcome": outcome,
                    "use": use,
                    "weight": r["weight"],
                    "observed_lo": lo,
                    "observed_hi": hi,
                    "simulated": float(np.nanmedian(s)) if np.isfinite(s).any() else np.nan,
                    "seed_lo": float(np.nanmin(s)) if np.isfinite(s).any() else np.nan,
                    "seed_hi": float(np.nanmax(s)) if np.isfinite(s).any() else np.nan,
                    "param_lo": float(band[0]),
                    "param_hi": float(band[1]),
                }
            )
    return pd.DataFrame(rows)


def target_table(run: CalibrationRun) -> pd.DataFrame:
    """Every target and check: figure, kind, se, simulated mean, ensemble band, in objective."""
    cal, fit = run.calibrator, run.fit
    sim = cal.simulate(fit.u)
    members = _member_sims(run)
    rows = []
    for t in run.targets:
        vals = [m.moment(t.name) for m in members]
        rows.append(
            {
                "target": t.name,
                "source": t.source_id,
                "use": t.use,
                "kind": t.kind,
                "figure": t.value,
                "se": t.se,
                "simulated": sim.moment(t.name),
                "param_lo": float(np.nanquantile(vals, 0.05)) if members else np.nan,
                "param_hi": float(np.nanquantile(vals, 0.95)) if members else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("target")


def example_paths(run: CalibrationRun) -> dict[str, np.ndarray]:
    """Full paths of the examples at the fit (for the figures)."""
    cal, fit = run.calibrator, run.fit
    beh = cal.behaviour(fit.u)
    S = max(cal.settings.replicates, 4)
    n = cal.settings.example_households
    put = lambda sc: dataclasses.replace(sc, behaviour=beh)
    seed = np.random.SeedSequence([cal.settings.seed, 99])
    x = _run([put(_on_case_calendar(_example("xianghe_2025", n)))] * S, seed)
    fz = _run([put(_example("frozen_fee", n))] * S, seed)
    fu = _run([put(_example("fund_topup", n))] * S, seed)
    camp = pd.DataFrame(fu.campaigns)
    fund = {}
    if not camp.empty:
        sel = camp[camp["bill"] == "fund"].groupby("day")["share_paid"].agg(["mean", "min", "max"])
        fund = {int(d): sel.loc[d].to_numpy() for d in sel.index}
    xv = _main_votes(x)
    return {
        "xianghe": x.series["collection_rate"],
        "xianghe_approval": np.array([xv[r]["approval_heads"] for r in xv]),
        "frozen": fz.series["collection_rate"],
        "frozen_active": fz.series["firm_active"],
        "fund": fund,  # type: ignore[dict-item]
    }


def _targets_section(tt: pd.DataFrame, paths: dict) -> list[str]:
    L = ["## Time-path targets and checks", ""]
    L.append(_md_table(tt))
    L.append("")
    x = paths["xianghe"]
    L.append(
        f"Xianghe (examples/xianghe_2025.toml at the fit, {x.shape[1]} runs): approval "
        f"{np.median(paths['xianghe_approval']):.2f}, year-to-date collection "
        f"{np.median(x[14]):.2f} at the end of March 2025 and {np.median(x[23]):.2f} in "
        "December (reported 0.85, 0.60, 0.97; https://www.163.com/dy/article/KIA1LC6C055040N3.html)."
    )
    L.append("")
    L.append("![paths](figures/paths.png)")
    L.append("")
    return L


def _cases_section(ct: pd.DataFrame) -> list[str]:
    L = ["## Reported against simulated, case by case", ""]
    L.append(
        "Median of the replicates at the fit; `seed_lo/hi`: range over replicates (seed "
        "noise); `param_lo/hi`: 5-95% of the replicate medians over the posterior members "
        "(parameter uncertainty)."
    )
    L.append("")
    L.append(_md_table(ct.set_index("obs_id")))
    L.append("")
    L.append("![cases](figures/cases.png)")
    L.append("")
    return L
