"""Simulated cases and moments: what the model says for a parameter set.

:class:`Simulator` runs, for one behaviour object and one seed, every case used by the
regressions (each ``replicates`` times, side by side in one batch on the common calendar of
:mod:`feesim.studies.calibration.cases`) and the example scenarios behind the time-path targets:

- ``examples/frozen_fee.toml`` (six years): the fall of year-end collection over five years
  (``frozen_drop_5y``, the national 83.7% -> 76.2% of 2018-2023), the firm's margin in the first
  year (``firm_margin_y1``) and its margin in years whose collection is below 80%
  (``margin_below_080``);
- ``examples/fund_topup.toml``: the approval of the top-up under the 3/4 rule
  (``fund_approval``, the lower decile over replicates: the vote passed, so it should pass in
  nearly every run) and the share of the fund bill paid by day 12 and day 30 of the five-step
  campaign (``fund_day12``, ``fund_day30``; undefined when the vote fails);
- ``examples/xianghe_2025.toml`` and ``examples/quyang_path.toml``, moved to the cases'
  calendar, for the cases that name them (column ``example``): Xianghe's approval and its
  collection at the end of March and December 2025 (``xianghe_approval``, ``xianghe_march``,
  ``xianghe_december``), Quyang's approval and year-end collection.

:class:`MomentSet` turns a :class:`SimOutcome` into the objective's residual vector: the
coefficients of the auxiliary regressions (:mod:`feesim.studies.calibration.regressions`) fitted on
the simulated cases, minus those fitted on the reported cases, whitened by the reported
coefficients' covariance; then the targets, each divided by its standard error (a one-sided bound
adds nothing when it is met).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from feesim.config.behaviour import Behaviour
from feesim.config.scenario import Scenario, load_scenario
from feesim.engine.model import FeeModel
from feesim.errors import ConfigError
from feesim.seeding import rng_alias, root_seed
from feesim.studies.calibration.cases import MONTHS, START, CaseDesign, case_scenario
from feesim.studies.calibration.data import CaseData, Target
from feesim.studies.calibration.records import RecordMoments, record_designs
from feesim.studies.calibration.regressions import (
    AUXILIARY,
    AuxiliarySpec,
    RegressionResult,
    fit_auxiliary,
)
from feesim.studies.runner import Failed, Runner

__all__ = [
    "MOMENT_NAMES",
    "MomentSet",
    "SimOutcome",
    "SimSettings",
    "Simulator",
    "examples_dir",
]

log = logging.getLogger(__name__)

#: Time-path moments the simulator computes (names used in ``targets.toml``).
MOMENT_NAMES = (
    "frozen_drop_5y",
    "firm_margin_y1",
    "margin_below_080",
    "fund_approval",
    "fund_day12",
    "fund_day30",
    "xianghe_approval",
    "xianghe_march",
    "xianghe_december",
    "quyang_approval",
    "quyang_collection",
)


def examples_dir() -> Path:
    """The ``examples`` folder of the source tree (or of the working directory)."""
    root = Path(__file__).resolve().parents[4]
    cand = root / "examples"
    return cand if cand.is_dir() else Path.cwd() / "examples"


@dataclass(frozen=True)
class SimSettings:
    """How much to simulate per parameter set.

    Attributes
    ----------
    replicates : int
        Runs of every case (and example) per parameter set.
    max_households : int
        Cap on the size of a simulated case community.
    example_households : int
        Size of the example communities.
    examples : bool
        Simulate the time-path examples (needed by the targets).
    """

    replicates: int = 4
    max_households: int = 400
    example_households: int = 400
    examples: bool = True


@dataclass
class SimOutcome:
    """What one simulation of all cases and examples produced.

    Attributes
    ----------
    cases : pandas.DataFrame
        One row per observation and replicate: ``obs_id``, ``case_id``, ``replicate``,
        ``approval``, ``turnout``, ``collection``, ``passed``.
    paths : dict of str to numpy.ndarray
        Each time-path moment per replicate.
    frozen_path : numpy.ndarray or None
        Year-end collection of the frozen example, (replicates, years).
    """

    cases: pd.DataFrame
    paths: dict[str, np.ndarray] = field(default_factory=dict)
    frozen_path: np.ndarray | None = None
    records: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["obs_id", "measure", "replicate", "value"])
    )

    def moment(self, name: str) -> float:
        """Mean over replicates of a time-path moment (NaN where undefined)."""
        v = np.asarray(self.paths.get(name, [np.nan]), dtype=float)
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")

    def to_json(self) -> dict:
        """Plain data for the checkpoint file."""
        return {
            "cases": self.cases.to_dict(orient="list"),
            "paths": {
                k: [None if not np.isfinite(x) else float(x) for x in v]
                for k, v in self.paths.items()
            },
            "frozen_path": None if self.frozen_path is None else self.frozen_path.tolist(),
            "records": self.records.to_dict(orient="list"),
        }

    @classmethod
    def from_json(cls, data: dict) -> SimOutcome:
        """Inverse of :meth:`to_json`."""
        paths = {
            k: np.array([np.nan if x is None else x for x in v], float)
            for k, v in data["paths"].items()
        }
        fp = data.get("frozen_path")
        out = cls(pd.DataFrame(data["cases"]), paths, None if fp is None else np.array(fp, float))
        if data.get("records"):
            out.records = pd.DataFrame(data["records"])
        return out


#: Curated examples that run on the cases' calendar (a case row may name one).
CASE_EXAMPLES = ("xianghe_2025", "quyang_path")


def _example(name: str, households: int) -> Scenario:
    sc = load_scenario(examples_dir() / f"{name}.toml")
    return sc.resized(households)


def _on_case_calendar(sc: Scenario) -> Scenario:
    """Move an example whose events fit in the cases' calendar onto it (2024-01, 24 months)."""
    sim = dataclasses.replace(sc.simulation, start=START, months=MONTHS)
    return dataclasses.replace(sc, simulation=sim)


class Simulator:
    """Simulates the cases and the examples for a behaviour object.

    Parameters
    ----------
    cases : CaseData
    settings : SimSettings, optional
    """

    def __init__(self, cases: CaseData, settings: SimSettings | None = None) -> None:
        self.settings = settings or SimSettings()
        f = cases.frame
        fit = (
            (f["use_approval"] == "fit")
            | (f["use_turnout"] == "fit")
            | (f["use_collection"] == "fit")
        )
        target = ((f["use_approval"] == "target") | (f["use_collection"] == "target")) & f[
            "example"
        ].isin(CASE_EXAMPLES)
        used = f[fit | target]
        self.designs: list[CaseDesign] = []
        self.observations: list[tuple[str, str, int, int | None]] = []  # obs, case, design, month
        first: dict[str, int] = {}
        self.free_collection: list[bool] = []
        cap = self.settings.max_households
        for obs, row in used.iterrows():
            cid = str(row["case_id"])
            d = case_scenario(row, max_households=cap)
            if cid not in first:
                first[cid] = len(self.designs)
                if row["example"]:
                    # A case with a curated scenario is simulated with it (on the calendar).
                    hh = row["households"]
                    n = cap if not np.isfinite(hh) else int(min(hh, cap))
                    sc = _on_case_calendar(_example(str(row["example"]), n))
                    d = dataclasses.replace(d, scenario=sc)
                self.designs.append(d)
                self.free_collection.append(
                    not row["example"] and not np.isfinite(row["collection_before"])
                )
            self.observations.append((str(obs), cid, first[cid], d.collection_month))
        self.case_ids = list(first)
        #: The second pass's firm votes, vote events and takeovers (simulated with the cases).
        self.records = record_designs(cases, cap)
        self.case_ids += [
            c for c in dict.fromkeys(r.case_id for r in self.records) if c not in first
        ]
        #: Fee steps reported passed (their simulated pass share is a moment): one observation
        #: per case, since two observations of a case (e.g. SEED-03a and SEED-03b, collection
        #: 3 and 12 months on) report the same vote.
        passed: dict[str, str] = {}
        for obs, cid, _, _ in self.observations:
            # Only steps decided under the modelled rule (Civil Code Art. 278, from 2021);
            # earlier steps were decided under Property Law Art. 76 (no 2/3 quorum).
            if (
                f.loc[obs, "matter"] == "fee"
                and f.loc[obs, "status"] == "passed"
                and float(f.loc[obs, "year"]) >= 2021
            ):
                passed.setdefault(cid, obs)
        self.passed_obs = list(passed.values())
        self.example_design = {
            str(f.loc[d.obs_id, "example"]): i
            for i, d in enumerate(self.designs)
            if f.loc[d.obs_id, "example"]
        }
        n = self.settings.example_households
        self.examples: dict[str, Scenario] = {}
        if self.settings.examples:
            self.examples = {
                "frozen": _example("frozen_fee", n).with_changes(**{"simulation.months": 72}),
                "fund": _example("fund_topup", n),
            }

    # ------------------------------------------------------------------------------------------
    def simulate(
        self,
        behaviour: Behaviour,
        rng: int | None = None,
        *,
        case_collection: float | None = None,
        seed: int | None = None,
        runner: Runner | None = None,
    ) -> SimOutcome:
        """Run every case and example ``replicates`` times with ``behaviour``.

        The same ``seed`` gives the same random numbers whatever the behaviour (common random
        numbers), so the objective is a deterministic function of the parameters.

        Parameters
        ----------
        behaviour : Behaviour
        rng : int
            Root seed (``seed``: its deprecated alias).
        case_collection : float, optional
            Collection before the step of the generically mapped cases whose source gives none
            (default: the mapping's 0.80).
        runner : Runner, optional
            Runs the three batches (the cases, the frozen-fee and the fund examples) side by
            side as its work units (default: one after the other here). Each has its own seed,
            so the result is the same.
        """
        seed = root_seed(rng_alias(rng, seed), "rng")
        if seed is None:
            raise ConfigError("rng: missing; expected the root seed of the simulation")
        S = self.settings.replicates
        put = lambda sc: dataclasses.replace(sc, behaviour=behaviour)
        batch = []
        for d, free in zip(self.designs, self.free_collection, strict=True):
            sc = d.scenario
            if free and case_collection is not None:
                comm = dataclasses.replace(sc.community, initial_collection_rate=case_collection)
                sc = dataclasses.replace(sc, community=comm)
            batch.append(put(sc))
        first_record = len(batch)
        batch += [put(r.scenario) for r in self.records]
        # Three independent model runs, each with its own seed: the cases, and the frozen-fee
        # and fund top-up examples behind the time-path targets.
        jobs = [(batch * S, np.random.SeedSequence([seed, 1]))]
        if self.examples:
            jobs += [
                ([put(self.examples["frozen"])] * S, np.random.SeedSequence([seed, 2])),
                ([put(self.examples["fund"])] * S, np.random.SeedSequence([seed, 3])),
            ]
        if runner is None:
            done = [_run(*job) for job in jobs]
        else:
            done = runner.map(_run_job, jobs, desc="model runs", unit="model")
            for r in done:
                if isinstance(r, Failed):
                    r.reraise()
        model = done[0]
        n = len(batch)
        votes = _main_votes(model)
        coll = model.series["collection_rate"]
        records = []
        for j, r in enumerate(self.records):
            for k in range(S):
                run = first_record + j + k * n
                if r.measure == "collection":
                    value = float(coll[r.month, run])
                else:
                    v = votes.get(run)
                    value = (
                        np.nan
                        if v is None
                        else float(v["passed"])
                        if r.measure == "passed"
                        else float(v[f"{r.measure}_heads"])
                    )
                records.append(
                    {"obs_id": r.obs_id, "measure": r.measure, "replicate": k, "value": value}
                )
        rows = []
        for obs, cid, di, month in self.observations:
            for k in range(S):
                run = di + k * n
                v = votes.get(run)
                rows.append(
                    {
                        "obs_id": obs,
                        "case_id": cid,
                        "replicate": k,
                        "approval": np.nan if v is None else v["approval_heads"],
                        "turnout": np.nan if v is None else v["turnout_heads"],
                        "passed": False if v is None else bool(v["passed"]),
                        "collection": np.nan if month is None else float(coll[month, run]),
                    }
                )
        out = SimOutcome(pd.DataFrame(rows))
        if records:
            out.records = pd.DataFrame(records)
        paths = out.paths
        for name, di in self.example_design.items():
            runs = [di + k * n for k in range(S)]
            appr = np.array([votes[r]["approval_heads"] if r in votes else np.nan for r in runs])
            if name == "xianghe_2025":
                paths["xianghe_approval"] = appr
                paths["xianghe_march"] = coll[14, runs]
                paths["xianghe_december"] = coll[23, runs]
            elif name == "quyang_path":
                paths["quyang_approval"] = appr
                paths["quyang_collection"] = coll[23, runs]
        if not self.examples:
            return out
        # Frozen fee: year-end collection, margins.
        fm, fu = done[1], done[2]
        c = fm.series["collection_rate"]
        dec = c[11::12, :].T  # (S, years)
        out.frozen_path = dec
        paths["frozen_drop_5y"] = dec[:, 0] - dec[:, 5]
        rev = fm.series["firm_revenue_yuan"]
        cost = fm.series["firm_cost_yuan"]
        year_margin = lambda y: (
            (rev[12 * y : 12 * y + 12].sum(0) - cost[12 * y : 12 * y + 12].sum(0))
            / np.maximum(rev[12 * y : 12 * y + 12].sum(0), 1e-9)
        )
        paths["firm_margin_y1"] = year_margin(0)
        margins = np.array([year_margin(y) for y in range(dec.shape[1])]).T  # (S, years)
        low = dec < 0.80
        paths["margin_below_080"] = np.array(
            [margins[i][low[i]].mean() if low[i].any() else np.nan for i in range(S)]
        )
        # Fund top-up: share of the fund bill paid by day 12 and day 30 of the campaign.
        fvotes = _main_votes(fu)
        fappr = np.array([fvotes[r]["approval_heads"] if r in fvotes else np.nan for r in range(S)])
        # "It passed": the threshold must hold in (nearly) every run, not on average, so the
        # moment is the lower decile over replicates (the same value in every entry).
        paths["fund_approval"] = np.full(
            S, np.nanquantile(fappr, 0.1) if np.isfinite(fappr).any() else np.nan
        )
        camp = pd.DataFrame(fu.campaigns)
        for day in (12, 30):
            vals = np.full(S, np.nan)
            if not camp.empty:
                sel = camp[(camp["bill"] == "fund") & (camp["day"] == day)]
                got = sel.groupby("run")["share_paid"].first()
                for r, v in got.items():
                    vals[int(r)] = v
            paths[f"fund_day{day}"] = vals
        return out


@dataclass
class ModelRecord:
    """What the calibration reads of a finished batch of runs.

    Light enough to send between processes (the model itself carries every household).
    """

    series: dict[str, np.ndarray]  # (months, runs) per column of the recorder
    votes: list[dict]
    campaigns: list[dict]


def _run(scenarios: list[Scenario], seed: np.random.SeedSequence) -> ModelRecord:
    """Run a batch of scenarios to its end and keep its record."""
    model = FeeModel(scenarios, rng=seed)
    while model.month < model.months:
        model.step()
    rec = model.recorder
    return ModelRecord(rec.series, rec.votes, rec.campaigns)


def _run_job(job: tuple[list[Scenario], np.random.SeedSequence]) -> ModelRecord:
    """Work unit of :meth:`Simulator.simulate` on a runner: one batch (top level: it pickles)."""
    return _run(*job)


def _main_votes(model: ModelRecord) -> dict[int, dict]:
    """Last vote on each run's scheduled motion (a retry after a missed quorum replaces it)."""
    out: dict[int, dict] = {}
    for v in model.votes:
        if v["matter"] == "package" or not str(v["motion"]).startswith("scenario:"):
            continue
        out[int(v["run"])] = v
    return out


# ----------------------------------------------------------------------------------------------
# moments
# ----------------------------------------------------------------------------------------------
@dataclass
class ObservedRegression:
    """A reported-case regression and its whitening matrix."""

    spec: AuxiliarySpec
    result: RegressionResult
    frame: pd.DataFrame
    whiten: np.ndarray  # L with L' L = inverse covariance of the coefficients


class MomentSet:
    """The objective's moments: observed regressions and targets, and residuals for a simulation.

    Parameters
    ----------
    cases : CaseData
    targets : sequence of Target
        Targets with ``use == "objective"`` enter the residuals; all are reported.
    multiplicity : pandas.Series, optional
        Weight multiplier of each ``case_id`` (bootstrap draws, leave-one-out zeros).
    base : MomentSet, optional
        Keep ``base``'s whitening matrices (the weighting of the full data) instead of computing
        them from this data set; the coefficients are refitted.
    target_values : dict, optional
        Replacement target values (a parametric bootstrap of the targets).
    exclude_case : str, optional
        Leave out the targets describing this community (``Target.case_id``).
    """

    def __init__(
        self,
        cases: CaseData,
        targets: Sequence[Target],
        *,
        multiplicity: pd.Series | None = None,
        base: MomentSet | None = None,
        target_values: dict[str, float] | None = None,
        exclude_case: str | None = None,
    ) -> None:
        self.cases = cases
        self.targets = [t for t in targets if not (exclude_case and t.case_id == exclude_case)]
        for t in self.targets:
            if t.name not in MOMENT_NAMES:
                raise ConfigError(
                    f"targets: moment {t.name!r} is not computed by the simulator; known: "
                    f"{list(MOMENT_NAMES)}"
                )
        self.objective_targets = [t for t in self.targets if t.use == "objective"]
        self.records: RecordMoments | None = None
        self.target_values = {t.name: t.value for t in self.targets} | (target_values or {})
        self.multiplicity = multiplicity
        self.observed: dict[str, ObservedRegression] = {}
        for spec in AUXILIARY:
            frame = cases.rows(spec.name)
            mult = self._mult(frame)
            keep = mult > 0
            frame, mult = frame[keep], mult[keep]
            if base is not None:
                if spec.name not in base.observed:
                    continue
                ref = base.observed[spec.name]
                res = fit_auxiliary(
                    spec,
                    frame,
                    weights=frame["weight"].to_numpy() * mult,
                    fast=True,
                    start=ref.result.params.to_numpy(),
                )
                self.observed[spec.name] = ObservedRegression(spec, res, frame, ref.whiten)
                continue
            res = fit_auxiliary(spec, frame, weights=frame["weight"].to_numpy() * mult)
            if not res.estimable or res.cov is None:
                log.info(
                    "regression %s not estimable from %d rows: left out", spec.name, len(frame)
                )
                continue
            cov = res.cov.loc[spec.exog_names, spec.exog_names].to_numpy()
            whiten = np.linalg.cholesky(np.linalg.inv(cov)).T
            self.observed[spec.name] = ObservedRegression(spec, res, frame, whiten)

    def _mult(self, frame: pd.DataFrame) -> np.ndarray:
        if self.multiplicity is None:
            return np.ones(len(frame))
        return frame["case_id"].map(self.multiplicity).fillna(0.0).to_numpy(float)

    def with_records(self, simulator: Simulator) -> MomentSet:
        """Add the second pass's records simulated by ``simulator`` (returns ``self``)."""
        self.records = RecordMoments(simulator.records, simulator.passed_obs, self.multiplicity)
        return self

    @property
    def names(self) -> list[str]:
        """Names of the residual vector's entries."""
        out = [f"{n}:{c}" for n, o in self.observed.items() for c in o.spec.exog_names]
        out += [t.name for t in self.objective_targets]
        return out + (self.records.names if self.records is not None else [])

    def simulated_regressions(self, sim: SimOutcome) -> dict[str, RegressionResult]:
        """The auxiliary regressions refitted on the simulated cases.

        Each simulated replicate of a case carries the case's weight divided by the number of
        replicates, so the simulated data have the same total weight (and the same relative
        penalty) as the reported ones.
        """
        out = {}
        sc = sim.cases.set_index("obs_id")
        for name, o in self.observed.items():
            spec = o.spec
            col = {"approval": "approval", "turnout": "turnout", "collection": "collection"}[
                spec.outcome if name != "frozen" else "collection"
            ]
            rows = sc.loc[sc.index.isin(o.frame.index)]
            vals = rows[col].to_numpy(float)
            ok = np.isfinite(vals)
            rows, vals = rows[ok], vals[ok]
            reps = rows.groupby(level=0)["replicate"].transform("count").to_numpy(float)
            frame = o.frame.loc[rows.index]
            w = frame["weight"].to_numpy(float) * self._mult(frame) / np.maximum(reps, 1)
            out[name] = fit_auxiliary(
                spec,
                frame,
                lo=vals,
                hi=vals,
                weights=w,
                fast=True,
                start=o.result.params.to_numpy(),
            )
        return out

    def residuals(self, sim: SimOutcome) -> np.ndarray:
        """Whitened differences of simulated and observed moments."""
        parts = []
        sims = self.simulated_regressions(sim)
        for name, o in self.observed.items():
            b_sim = sims[name].coefs.to_numpy()
            b_obs = o.result.coefs.to_numpy()
            d = np.nan_to_num(b_sim - b_obs, nan=10.0)
            parts.append(o.whiten @ d)
        for t in self.objective_targets:
            m = sim.moment(t.name)
            v = self.target_values[t.name]
            if not np.isfinite(m):
                parts.append(np.array([10.0]))
                continue
            gap = m - v
            if t.kind == "lower":
                gap = min(gap, 0.0)
            elif t.kind == "upper":
                gap = max(gap, 0.0)
            parts.append(np.array([gap / t.se]))
        if self.records is not None:
            parts.append(self.records.residuals(sim.records, sim.cases))
        return np.concatenate(parts) if parts else np.zeros(0)
