"""The result of ``feesim calibrate``: :class:`CalibrationRun`, everything a calibration produced.

It lives apart from :mod:`~feesim.studies.calibration.run` (which makes it) and
:mod:`~feesim.studies.calibration.report` (which reads it), so that neither of those imports the
other's module for the type.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from feesim.i18n import N_
from feesim.i18n import gettext as _
from feesim.protocol import load_result, save_result
from feesim.studies.calibration.data import CaseData, Target
from feesim.studies.calibration.fit import Calibrator, FitParameter, FitResult, FitSettings
from feesim.studies.calibration.validate import LooResult, RecoveryResult

#: The record tables of :class:`CaseData` besides the cases themselves.
SECOND_PASS = ("tallies", "events", "takeovers", "exits")

__all__ = ["CalibrationRun"]

#: Column headings of the fitted-parameter table (``feesim calibrate``), for translation.
CALIBRATION_COLUMNS = {
    "mean": N_("mean"),
    "mean_ci_lower": N_("mean_ci_lower"),
    "mean_ci_upper": N_("mean_ci_upper"),
    "identification": N_("identification"),
}
#: How well the data narrowed a parameter (:meth:`FitResult.identification`), for translation.
IDENTIFICATION = {
    "identified": N_("identified"),
    "weakly identified": N_("weakly identified"),
    "not identified": N_("not identified"),
}


@dataclass
class CalibrationRun:
    """Everything a calibration produced (what the report is made from).

    Attributes
    ----------
    cases : CaseData
    targets : list of Target
    settings : FitSettings
    calibrator : Calibrator
    fit : FitResult
    loo : LooResult
    recovery : RecoveryResult or None
    params_file : pathlib.Path
    report_file : pathlib.Path or None
    quick : bool
        A quick run (small budget, not for use).
    timings : dict of str to float
        Seconds per phase.
    """

    cases: CaseData
    targets: list[Target]
    settings: FitSettings
    calibrator: Calibrator
    fit: FitResult
    loo: LooResult
    recovery: RecoveryResult | None
    params_file: Path
    report_file: Path | None = None
    quick: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    def summary_frame(self) -> pd.DataFrame:
        """The fitted parameters (:meth:`FitResult.summary_frame` of the calibrated ones)."""
        return self.fit.summary_frame(self.calibrator.parameters)

    def summary_text(self) -> str:
        """Fitted parameters, leave-one-out errors against the baselines, recovery.

        In the language in force (:mod:`feesim.i18n`); the parameters keep their names (the
        keys of the fitted file).
        """
        table = self.summary_frame()[list(CALIBRATION_COLUMNS)].round(3)
        table["identification"] = [
            _(IDENTIFICATION.get(v, v)) if isinstance(v, str) else v
            for v in table["identification"]
        ]
        table = table.rename(columns={k: _(v) for k, v in CALIBRATION_COLUMNS.items()})
        if table.index.name == "parameter":
            table.index.name = _("parameter")
        lines = [table.to_string(), self.loo.summary_text()]
        if self.recovery is not None:
            lines.append(self.recovery.summary_text().splitlines()[0])
        return "\n".join(lines)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the run's data: the cases (Parquet), ``fit/``, ``loo/``, ``recovery/``, sidecar.

        The calibrator is not saved; :meth:`load` rebuilds it from the cases, targets, settings
        and parameters (its simulation cache starts empty). Returns the folder.
        """
        out = Path(directory)
        self.fit.save(out / "fit")
        self.loo.save(out / "loo")
        if self.recovery is not None:
            self.recovery.save(out / "recovery")
        provenance = {
            "seed": self.settings.seed,
            "settings": dataclasses.asdict(self.settings),
            "cases": str(self.cases.path),
            "cases_sha256": self.cases.sha256,
            "quick": self.quick,
        }
        attrs = {
            "targets": [dataclasses.asdict(t) for t in self.targets],
            "parameters": [dataclasses.asdict(p) for p in self.calibrator.parameters],
            "params_file": str(self.params_file),
            "report_file": None if self.report_file is None else str(self.report_file),
            "recovery": self.recovery is not None,
            "timings": self.timings,
        }
        tables = {"cases_raw": self.cases.raw, "cases": self.cases.frame}
        # The second pass's records (vote tallies, events, takeovers, exits) feed the calibrator.
        tables.update({f"cases_{k}": getattr(self.cases, k) for k in SECOND_PASS})
        return save_result(out, self, tables, provenance=provenance, attrs=attrs)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> CalibrationRun:
        """Read a run written by :meth:`save` (the calibrator rebuilt, with an empty cache)."""
        d = Path(directory)
        stored = load_result(d, cls)
        p, a = stored.provenance, stored.attrs
        cases = CaseData(
            raw=stored.tables["cases_raw"],
            frame=stored.tables["cases"],
            path=Path(p["cases"]),
            sha256=p["cases_sha256"],
            **{k: stored.tables.get(f"cases_{k}", pd.DataFrame()) for k in SECOND_PASS},
        )
        targets = [Target(**t) for t in a["targets"]]
        settings = FitSettings(**p["settings"])
        parameters = [FitParameter(**{**q, "fields": tuple(q["fields"])}) for q in a["parameters"]]
        return cls(
            cases=cases,
            targets=targets,
            settings=settings,
            calibrator=Calibrator(cases, targets, settings, parameters=parameters),
            fit=FitResult.load(d / "fit"),
            loo=LooResult.load(d / "loo"),
            recovery=RecoveryResult.load(d / "recovery") if a["recovery"] else None,
            params_file=Path(a["params_file"]),
            report_file=None if a["report_file"] is None else Path(a["report_file"]),
            quick=p["quick"],
            timings=a["timings"],
        )
