"""Calibration of feesim's behavioural parameters to reported cases (``feesim calibrate``).

- :mod:`~feesim.studies.calibration.data`: the cases (``calibration/cases.csv``) and targets
  (``calibration/targets.toml``), censored figures as intervals;
- :mod:`~feesim.studies.calibration.regressions`: the auxiliary censored-logit regressions
  (statsmodels);
- :mod:`~feesim.studies.calibration.cases`: a case row as a scenario on a common calendar;
- :mod:`~feesim.studies.calibration.moments`: simulated cases, regressions refitted on them,
  targets;
- :mod:`~feesim.studies.calibration.fit`: penalised indirect inference, the parameter ensemble;
- :mod:`~feesim.studies.calibration.validate`: leave one case out against baselines, parameter
  recovery;
- :mod:`~feesim.studies.calibration.fitted`: the fitted file and its ensemble;
- :mod:`~feesim.studies.calibration.run`, :mod:`~feesim.studies.calibration.result` and
  :mod:`~feesim.studies.calibration.report`: the command, its result and its report.

Nothing is simulated at import.
"""

from __future__ import annotations

from feesim.studies.calibration.data import CaseData, Target, load_cases, load_targets
from feesim.studies.calibration.fit import (
    PARAMETERS,
    Calibrator,
    FitParameter,
    FitResult,
    FitSettings,
)
from feesim.studies.calibration.fitted import (
    CALIBRATION_VERSION,
    ensemble_scenarios,
    load_ensemble,
    write_params_file,
)
from feesim.studies.calibration.regressions import (
    IntervalLogit,
    RegressionResult,
    fit_interval_logit,
)
from feesim.studies.calibration.result import CalibrationRun
from feesim.studies.calibration.run import run_calibration
from feesim.studies.calibration.validate import LooResult, RecoveryResult, leave_one_out, recovery

__all__ = [
    "CALIBRATION_VERSION",
    "PARAMETERS",
    "CalibrationRun",
    "Calibrator",
    "CaseData",
    "FitParameter",
    "FitResult",
    "FitSettings",
    "IntervalLogit",
    "LooResult",
    "RecoveryResult",
    "RegressionResult",
    "Target",
    "ensemble_scenarios",
    "fit_interval_logit",
    "leave_one_out",
    "load_cases",
    "load_ensemble",
    "load_targets",
    "recovery",
    "run_calibration",
    "write_params_file",
]
