"""``calibration/REPORT.md`` and its figures, from a calibration run.

The input is a :class:`~feesim.studies.calibration.result.CalibrationRun`.

The report says what the data are (the first coding and the second sourcing pass's records,
what is used and what is left out), how the parameters were fitted (indirect inference, then a
posterior by sequential Monte Carlo), how the fit reproduces every reported figure, and how it
does out of sample (leave one case out against naive baselines, with 90% predictive intervals)
and on synthetic data (parameter recovery, coverage of the posterior's intervals). Each
done-when criterion of the calibration issue is stated with whether it is met and by how much
it misses (:func:`criteria_frame`).

Figures (PNG, written atomically to ``<out>/figures``): observed against simulated figures per
case with intervals; reported against simulated regression coefficients; the second pass's
records against the model; leave-one-out predictions with their 90% predictive intervals
against the reported figures; leave-one-out errors of the model and the baselines; the time
paths behind the targets; prior against posterior of every parameter.

The package's modules, by concept (this ``__init__`` re-exports their public names):

- :mod:`~feesim.studies.calibration.report.common`: thresholds, names and markdown helpers;
- :mod:`~feesim.studies.calibration.report.data`: the data and the second pass's records;
- :mod:`~feesim.studies.calibration.report.cases`: case rows and time-path targets;
- :mod:`~feesim.studies.calibration.report.fit`: regressions, fitted parameters, posterior;
- :mod:`~feesim.studies.calibration.report.validation`: the done-when criteria, leave one case
  out and recovery;
- :mod:`~feesim.studies.calibration.report.figures`: the figures;
- :mod:`~feesim.studies.calibration.report.text`: ``REPORT.md`` and :func:`write_report`.
"""

from __future__ import annotations

import logging

# The names in ``__all__`` and, re-exported explicitly (``name as name``), the other public
# names the single module ``report.py`` had.
from feesim.studies.calibration.report.cases import case_table as case_table
from feesim.studies.calibration.report.cases import example_paths as example_paths
from feesim.studies.calibration.report.cases import target_table as target_table
from feesim.studies.calibration.report.common import BASELINE_NAMES as BASELINE_NAMES
from feesim.studies.calibration.report.common import OUTCOME_COLS as OUTCOME_COLS
from feesim.studies.calibration.report.common import PASSED_FLOOR as PASSED_FLOOR
from feesim.studies.calibration.report.common import RECORD_KINDS as RECORD_KINDS
from feesim.studies.calibration.report.common import REQUIRED_COVERAGE as REQUIRED_COVERAGE
from feesim.studies.calibration.report.common import REQUIRED_GAIN as REQUIRED_GAIN
from feesim.studies.calibration.report.data import PassedShare as PassedShare
from feesim.studies.calibration.report.data import left_out_records as left_out_records
from feesim.studies.calibration.report.data import passed_share, record_table, second_pass_table
from feesim.studies.calibration.report.data import unsimulated_tallies as unsimulated_tallies
from feesim.studies.calibration.report.figures import fig_cases as fig_cases
from feesim.studies.calibration.report.figures import fig_coefficients as fig_coefficients
from feesim.studies.calibration.report.figures import fig_loo as fig_loo
from feesim.studies.calibration.report.figures import fig_parameters as fig_parameters
from feesim.studies.calibration.report.figures import fig_paths as fig_paths
from feesim.studies.calibration.report.figures import fig_validation as fig_validation
from feesim.studies.calibration.report.fit import coefficient_table as coefficient_table
from feesim.studies.calibration.report.text import write_report
from feesim.studies.calibration.report.validation import coverage_misses as coverage_misses
from feesim.studies.calibration.report.validation import criteria_frame, deciding_cases
from feesim.studies.calibration.report.validation import pooled_coverage as pooled_coverage

__all__ = [
    "criteria_frame",
    "deciding_cases",
    "passed_share",
    "record_table",
    "second_pass_table",
    "write_report",
]

log = logging.getLogger(__name__)
