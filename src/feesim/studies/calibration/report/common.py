"""What the report's parts share: its thresholds, names, and the markdown helpers.

The done-when thresholds of the calibration issue, the outcome columns, the baselines in words
and the record kinds of the second sourcing pass; the simulations of the posterior members; the
formatting of tables, intervals, shares and verdicts in the markdown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from feesim.studies.calibration.result import CalibrationRun


OUTCOME_COLS = ("approval", "turnout", "collection")

#: Done-when thresholds of the calibration issue ("Calibration 2"): out of sample the model's
#: error is at least 20% below each naive baseline's, and the 90% predictive intervals meet at
#: least 80% of the left-out figures.
REQUIRED_GAIN = 0.20
REQUIRED_COVERAGE = 0.80
#: The institutions issue's floor: after recalibration at least 80% of the simulated runs of the
#: fee steps reported passed pass in the model (the fit holds the share near ``PASSED_SHARE``).
PASSED_FLOOR = 0.80
#: The baselines of ``validation.json`` in words.
BASELINE_NAMES = {
    "baseline_mean": "the mean of the other cases",
    "baseline_logit": "a logit on the step",
    "baseline_no_change": "'no change' (the figure before the change)",
    "baseline_rate": "the base rate of the other votes",
}
#: Record kinds of the second sourcing pass: the frame of :class:`CaseData` and the design kind
#: that simulates it (``None``: no simulated moment).
RECORD_KINDS = {"tallies": "tally", "events": "event", "takeovers": "takeover", "exits": None}


def _relative(gain: float) -> str:
    """'35% below' for a gain of 0.35, '20% above' for -0.2."""
    return f"{100 * gain:.0f}% below" if gain >= 0 else f"{-100 * gain:.0f}% above"


def _md_table(df: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join([df.index.name or "", *cols]) + " |"]
    lines.append("|" + "---|" * (len(cols) + 1))
    for idx, row in df.iterrows():
        cells = []
        for v in row:
            if isinstance(v, float | np.floating):
                cells.append("" if np.isnan(v) else floatfmt.format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join([str(idx), *cells]) + " |")
    return "\n".join(lines)


def _member_sims(run: CalibrationRun) -> list:
    cal = run.calibrator
    return [cal.simulate(np.array(u)) for u in run.fit.extra.get("ensemble_u", [])]


def _fmt_interval(lo: float, hi: float) -> str:
    """'0.793' for a point, '[0.500, 1.000]' for an interval."""
    return f"{lo:.3f}" if abs(hi - lo) < 5e-4 else f"[{lo:.3f}, {hi:.3f}]"


_NO_INTERVALS = (
    "no predictive intervals in this run (the leave one out had no posterior members): "
    "not assessed."
)


def _verdict(met: object) -> str:
    return "not assessed" if met is None else "**met**" if met else "**not met**"


def _pct(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.0f}%"


def _num(x: object) -> float:
    """A figure of ``validation.json`` (``None`` when undefined) as a float."""
    return np.nan if x is None else float(x)  # type: ignore[arg-type]


def _ids(frame: pd.DataFrame, col: str = "obs_id") -> str:
    return ", ".join(str(v) for v in frame[col]) or "none"
