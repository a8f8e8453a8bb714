"""Simulation results: tidy tables with provenance, summaries, and atomic save/load.

A :class:`SimulationResult` holds

- ``series``: one row per run and month (see :data:`feesim.engine.recorder.SERIES_COLUMNS`, plus the
  fee of each building type as ``fee_<name>``);
- ``votes``: one row per vote (turnout and approval by heads and by area, quorum, result, the
  deciding test);
- ``events``: one row per event (announcements, fee changes, notices, exits, evaluations...);
- ``campaigns``: the share of a campaign's bill paid after each step, with the day of the step;
- ``meta``: scenario names, seeds, version, calendar.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from feesim.engine.recorder import SERIES_COLUMNS, Recorder
from feesim.engine.rules.firm import STATE_NAMES
from feesim.engine.state import Setting
from feesim.errors import FeesimError
from feesim.i18n import N_
from feesim.i18n import gettext as _
from feesim.io import atomic_write_text, write_atomically
from feesim.protocol import feesim_version

__all__ = [
    "MATTER_WORDS",
    "TEST_WORDS",
    "SimulationResult",
    "matter_name",
    "test_name",
    "vote_result",
]

TABLES = ("series", "votes", "events", "campaigns")
VOTE_COLUMNS = (
    "run",
    "month",
    "matter",
    "motion",
    "fee_before",
    "fee_after",
    "step_pct",
    "total_heads",
    "turnout_heads",
    "turnout_area",
    "approval_heads",
    "approval_area",
    "quorum_met",
    "passed",
    "binding",
    "supermajority",
    "part_heads",
    "yes_heads",
    "total_area_m2",
    "part_area_m2",
    "yes_area_m2",
)
EVENT_COLUMNS = ("run", "month", "event", "detail")
CAMPAIGN_COLUMNS = ("run", "campaign", "bill", "month", "step", "step_name", "day", "share_paid")

#: A vote's matter (``votes.matter``) in words, as every page and summary names it (marked for
#: translation).
MATTER_WORDS = {
    "fee": N_("fee change"),
    "maintenance_fund": N_("maintenance fund top-up"),
    "hire_firm": N_("hiring a new firm"),
    "package": N_("value-added package"),
}
#: The deciding tests (``votes.binding``) in words, as every page and summary names them.
TEST_WORDS = {
    "quorum_heads": N_("turnout of owners (2/3 quorum)"),
    "quorum_area": N_("turnout of floor area (2/3 quorum)"),
    "approval_heads": N_("owners in favour (more than half)"),
    "approval_area": N_("area in favour (more than half)"),
}


def matter_name(matter: str) -> str:
    """A vote matter in words, in the language in force (``"fee"``: fee change, 物业费调整)."""
    return _(MATTER_WORDS.get(matter, matter))


def test_name(test: str) -> str:
    """A deciding test in words, in the language in force."""
    return _(TEST_WORDS.get(test, test))


def vote_result(passed: bool, quorum_met: bool) -> str:
    """``passed``, ``rejected`` or ``no quorum``, in the language in force."""
    if passed:
        return _("passed")
    return _("rejected") if quorum_met else _("no quorum")


def _fee_columns(setting: Setting, n_types: int) -> list[str]:
    names = [sc.community.building_names for sc in setting.scenarios]
    if all(n == names[0] for n in names):
        return [f"fee_{n}" for n in names[0]] + [
            f"fee_type{k}" for k in range(len(names[0]), n_types)
        ]
    return [f"fee_type{k}" for k in range(n_types)]


@dataclass(frozen=True)
class SimulationResult:
    """Outcomes of a simulation (one community or a batch), as tidy pandas tables."""

    series: pd.DataFrame
    votes: pd.DataFrame
    events: pd.DataFrame
    campaigns: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_recorder(
        cls, rec: Recorder, setting: Setting, months: int, seed: dict[str, Any]
    ) -> SimulationResult:
        """The tables of the first ``months`` months a batch recorded.

        ``seed`` is the provenance of the batch's random streams
        (:meth:`feesim.engine.rng.Streams.provenance`).
        """
        T = months
        R = setting.runs
        month = np.repeat(np.arange(T), R)
        run = np.tile(np.arange(R), T)
        cols: dict[str, Any] = {
            "run": run,
            "month": month,
            "year": np.repeat(setting.years[:T], R),
            "calendar_month": np.repeat(setting.cal_months[:T], R),
        }
        cols["date"] = [
            f"{y:04d}-{m:02d}" for y, m in zip(cols["year"], cols["calendar_month"], strict=True)
        ]
        for k, name in enumerate(_fee_columns(setting, rec.type_fees.shape[2])):
            cols[name] = rec.type_fees[:T, :, k].ravel()
        for c in SERIES_COLUMNS:
            cols[c] = rec.series[c][:T].ravel()
        series = pd.DataFrame(cols)
        series["firm_state"] = pd.Categorical.from_codes(
            series["firm_state"].astype(int), categories=list(STATE_NAMES)
        )
        for c in ("complaints", "suits_filed", "firm_serial", "firm_active"):
            series[c] = series[c].astype(int)
        series = series.sort_values(["run", "month"], kind="stable").reset_index(drop=True)
        meta = {
            "feesim_version": feesim_version(),
            "scenarios": [sc.meta.name for sc in setting.scenarios],
            "runs": R,
            "months": T,
            "start": setting.scenarios[0].simulation.start,
            "seed": seed,
            "building_types": [list(sc.community.building_names) for sc in setting.scenarios][:1],
        }
        return cls(
            series=series,
            votes=pd.DataFrame(rec.votes, columns=list(VOTE_COLUMNS)),
            events=pd.DataFrame(rec.events, columns=list(EVENT_COLUMNS)),
            campaigns=pd.DataFrame(rec.campaigns, columns=list(CAMPAIGN_COLUMNS)),
            meta=meta,
        )

    # -- views --------------------------------------------------------------------------------
    @property
    def n_runs(self) -> int:
        """Number of runs in the result."""
        return int(self.meta.get("runs", self.series["run"].nunique()))

    def select(self, run: int) -> SimulationResult:
        """The tables of one run."""
        pick = {t: getattr(self, t) for t in TABLES}
        out = {t: df[df["run"] == run].reset_index(drop=True) for t, df in pick.items()}
        return SimulationResult(**out, meta={**self.meta, "runs": 1, "selected_run": run})

    def at(self, month: int, column: str) -> np.ndarray:
        """Values of ``column`` in ``month`` across runs."""
        s = self.series
        return s.loc[s["month"] == month, column].to_numpy()

    def quantiles(self, column: str, q: tuple[float, ...] = (0.05, 0.5, 0.95)) -> pd.DataFrame:
        """Per-month mean and quantiles of ``column`` across runs."""
        g = self.series.groupby("month")[column]
        out = pd.DataFrame({"mean": g.mean()})
        for p in q:
            out[f"p{round(p * 100):02d}"] = g.quantile(p)
        return out

    def summary(self) -> dict[str, Any]:
        """Key figures (means across runs where there are several)."""
        s = self.series
        first, last = s[s["month"] == s["month"].min()], s[s["month"] == s["month"].max()]
        year_end = s[s["calendar_month"] == 12].groupby("year")["collection_rate"].mean()
        out: dict[str, Any] = {
            "scenario": ", ".join(dict.fromkeys(self.meta.get("scenarios", []))),
            "runs": self.n_runs,
            "months": int(s["month"].max() + 1) if len(s) else 0,
        }
        for col in ("fee_per_m2", "service_quality", "satisfaction", "trust", "firm_cash_yuan"):
            out[f"{col}_start"] = float(first[col].mean())
            out[f"{col}_end"] = float(last[col].mean())
        out["collection_rate_by_year_end"] = {
            int(y): round(float(v), 4) for y, v in year_end.items()
        }
        out["firm_exits"] = int((self.events["event"] == "firm_exit").sum())
        out["complaints_per_month"] = float(s["complaints"].mean())
        votes = []
        for _i, v in self.votes.iterrows():
            votes.append(
                {
                    k: (v[k].item() if hasattr(v[k], "item") else v[k])
                    for k in (
                        "run",
                        "month",
                        "matter",
                        "turnout_heads",
                        "turnout_area",
                        "approval_heads",
                        "approval_area",
                        "quorum_met",
                        "passed",
                        "binding",
                    )
                }
            )
        out["votes"] = votes
        return out

    def summary_text(self) -> str:
        """A short human-readable summary, in the language in force (:mod:`feesim.i18n`).

        Votes name their matter and deciding test in words (:data:`MATTER_WORDS`,
        :data:`TEST_WORDS`).
        """
        d = self.summary()
        cash0, cash1 = d["firm_cash_yuan_start"], d["firm_cash_yuan_end"]
        years = ", ".join(f"{y}: {v:.0%}" for y, v in d["collection_rate_by_year_end"].items())
        lines = [
            _("{scenario}: {months} months, {runs} run(s)").format(
                scenario=d["scenario"], months=d["months"], runs=d["runs"]
            ),
            _("  fee per m2        {a} -> {b} yuan/month").format(
                a=f"{d['fee_per_m2_start']:.3f}", b=f"{d['fee_per_m2_end']:.3f}"
            ),
            _("  service quality   {a} -> {b}").format(
                a=f"{d['service_quality_start']:.2f}", b=f"{d['service_quality_end']:.2f}"
            ),
            _("  satisfaction      {a} -> {b}").format(
                a=f"{d['satisfaction_start']:.2f}", b=f"{d['satisfaction_end']:.2f}"
            ),
            _("  trust             {a} -> {b}").format(
                a=f"{d['trust_start']:.2f}", b=f"{d['trust_end']:.2f}"
            ),
            _("  firm cash         {a} -> {b} yuan").format(a=f"{cash0:,.0f}", b=f"{cash1:,.0f}"),
            _("  collection (year to date at December): {years}").format(
                years=years or _("no December in the horizon")
            ),
            _("  firm exits        {n}").format(n=d["firm_exits"]),
            _("  complaints/month  {n}").format(n=f"{d['complaints_per_month']:.1f}"),
        ]
        for v in d["votes"][:12]:
            lines.append(
                _(
                    "  vote in month {month}, {matter}: turnout {th} of owners / {ta} of area, in "
                    "favour {ah} of owners / {aa} of area -> {result} (deciding test: {binding})"
                ).format(
                    month=v["month"],
                    matter=matter_name(v["matter"]),
                    th=f"{v['turnout_heads']:.0%}",
                    ta=f"{v['turnout_area']:.0%}",
                    ah=f"{v['approval_heads']:.0%}",
                    aa=f"{v['approval_area']:.0%}",
                    result=vote_result(v["passed"], v["quorum_met"]),
                    binding=test_name(v["binding"]),
                )
            )
        if len(d["votes"]) > 12:
            lines.append(_("  ... {n} more votes").format(n=len(d["votes"]) - 12))
        return "\n".join(lines)

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Key figures with their uncertainty over runs, one row per figure (tidy).

        Rows: ``fee_per_m2``, ``service_quality``, ``satisfaction``, ``trust``,
        ``collection_rate`` and ``firm_cash_yuan`` in the first and the last month (``when``
        ``"start"`` and ``"end"``); ``collection_rate`` in every December (``when`` the date:
        the year-to-date rate as the community reports it); ``firm_exit`` (share of runs in
        which the firm left); ``complaints`` (``when`` ``"monthly mean"``: each run's mean
        complaints per month over the horizon).

        Parameters
        ----------
        alpha : float
            One minus the level of the intervals (0.05: 95%).

        Returns
        -------
        pandas.DataFrame
            Columns ``outcome``, ``when``, ``month``, ``runs``, ``mean``, ``mean_se``,
            ``mean_ci_lower``, ``mean_ci_upper``: the mean across runs, its standard error
            ``sd / sqrt(runs)`` and the normal-approximation interval (NaN for a single run);
            for ``firm_exit`` the binomial standard error and the Wilson interval.
        """
        from feesim.protocol import ESTIMATE_COLUMNS, sample_estimate, share_estimate

        s = self.series
        rows: list[dict[str, Any]] = []

        def add(outcome: str, when: str, month: int, values: Any) -> None:
            v = np.asarray(values, dtype=np.float64)
            rows.append(
                {
                    "outcome": outcome,
                    "when": when,
                    "month": month,
                    "runs": int(np.isfinite(v).sum()),
                    **sample_estimate(v, alpha),
                }
            )

        if len(s):
            first, last = int(s["month"].min()), int(s["month"].max())
            for col in (
                "fee_per_m2",
                "service_quality",
                "satisfaction",
                "trust",
                "collection_rate",
                "firm_cash_yuan",
            ):
                add(col, "start", first, s.loc[s["month"] == first, col])
                add(col, "end", last, s.loc[s["month"] == last, col])
            dec = s[s["calendar_month"] == 12]
            for (month, date), g in dec.groupby(["month", "date"], sort=True):
                add("collection_rate", str(date), int(month), g["collection_rate"])
            runs = s["run"].nunique()
            exited = self.events.loc[self.events["event"] == "firm_exit", "run"].nunique()
            rows.append(
                {
                    "outcome": "firm_exit",
                    "when": "end",
                    "month": last,
                    "runs": runs,
                    **share_estimate(exited / runs, runs, alpha),
                }
            )
            add("complaints", "monthly mean", last, s.groupby("run")["complaints"].mean())
        columns = ["outcome", "when", "month", "runs", *ESTIMATE_COLUMNS]
        return pd.DataFrame(rows, columns=columns)

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str], fmt: str = "parquet") -> Path:
        """Write the tables ``series``, ``votes``, ``events`` and ``campaigns`` atomically.

        Parameters
        ----------
        directory : path-like
        fmt : {"parquet", "csv"}
            ``"parquet"``: the results protocol (:mod:`feesim.protocol`): ``<table>.parquet``
            and the sidecar ``result.json`` whose provenance is :attr:`meta`. ``"csv"``: what
            ``feesim run --out`` writes: ``<table>.csv`` and ``meta.json`` (no sidecar).

        Returns
        -------
        pathlib.Path
            The folder.
        """
        from feesim.protocol import save_result

        if fmt not in ("csv", "parquet"):
            raise FeesimError(f"fmt: got {fmt!r}; expected 'parquet' or 'csv'")
        tables = {name: getattr(self, name) for name in TABLES}
        if fmt == "parquet":
            return save_result(directory, self, tables, provenance=self.meta)
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name, df in tables.items():
            write_atomically(
                out / f"{name}.csv", lambda fh, df=df: fh.write(df.to_csv(index=False).encode())
            )
        atomic_write_text(out / "meta.json", json.dumps(self.meta, indent=2, default=str))
        return out

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> SimulationResult:
        """Read tables written by :meth:`save` (either format).

        A folder with the sidecar ``result.json`` is read as the protocol wrote it (dtypes
        kept); otherwise ``<table>.parquet`` or ``<table>.csv`` and ``meta.json`` are read
        (the CSV layout of ``feesim run --out``; CSV keeps values, not dtypes).
        """
        from feesim.protocol import load_result, read_sidecar

        d = Path(directory)
        if read_sidecar(d) is not None:
            stored = load_result(d, cls)
            return cls(**{t: stored.tables[t] for t in TABLES}, meta=stored.provenance)
        tables = {}
        for name in TABLES:
            pq, csv = d / f"{name}.parquet", d / f"{name}.csv"
            if pq.exists():
                tables[name] = pd.read_parquet(pq)
            elif csv.exists():
                tables[name] = pd.read_csv(csv)
            else:
                raise FeesimError(f"{d}: missing {name}.csv or {name}.parquet")
        meta = json.loads((d / "meta.json").read_text()) if (d / "meta.json").exists() else {}
        return cls(**tables, meta=meta)
