"""Evaluation: simulating every design point and reducing it to the outcomes.

Holds :func:`evaluate` and its result :class:`Evaluation`, :func:`behaviour_source`, and the
machinery behind them: the targets (scenario, portfolio or several scenarios), the picklable work
unit and its worker function (run by :class:`feesim.studies.runner.Runner`) and the aggregation
of members to points.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from feesim.config.scenario import Scenario
from feesim.errors import ConfigError
from feesim.protocol import ESTIMATE_COLUMNS, load_result, sample_estimate, save_result
from feesim.seeding import rng_alias, root_seed
from feesim.studies.runner import Failed, Runner, available_cores
from feesim.studies.sensitivity.designs import Design
from feesim.studies.sensitivity.factors import Factor, _apply, _get, _validated
from feesim.studies.sensitivity.outcomes import DEFAULT_OUTCOMES, MemberTables, Outcome

if TYPE_CHECKING:  # pragma: no cover
    from feesim.studies.ensemble import Chunk
    from feesim.studies.portfolio import Portfolio

log = logging.getLogger(__name__)


def behaviour_source(scenario: Scenario) -> str:
    """Where a scenario's behavioural coefficients come from, in words.

    ``"calibrated (<file>)"`` when they equal the newest fitted parameter file, ``"judgement
    defaults"`` when they equal :class:`feesim.config.behaviour.Behaviour` ``()``, else
    ``"custom"``.
    """
    from feesim.config.behaviour import Behaviour, fitted_params_files, load_params_file

    files = fitted_params_files()
    if files:
        try:
            if scenario.behaviour == load_params_file(files[-1]):
                return f"calibrated ({files[-1].name})"
        except ConfigError:  # pragma: no cover - a broken fitted file is reported elsewhere
            pass
    if scenario.behaviour == Behaviour():
        return "judgement defaults"
    return "custom"


@dataclass(frozen=True)
class Evaluation:
    """Simulated outcomes of every design point.

    Attributes
    ----------
    design : Design
    outcomes : tuple of Outcome
    table : pandas.DataFrame
        Tidy: one row per design point and outcome: ``point``, ``outcome``, ``value`` (mean over
        the point's members, weighted as the outcome says; NaN if any member failed),
        ``members`` (members with a value) and ``failed`` (members whose simulation failed).
    members : pandas.DataFrame
        One row per design point and member: ``point``, ``member``, ``key``, ``replicate``,
        ``households``, ``status``, ``error`` and one column per outcome.
    meta : dict
        Seed, replicates, target, horizon, behaviour source, elapsed seconds.
    """

    design: Design
    outcomes: tuple[Outcome, ...]
    table: pd.DataFrame
    members: pd.DataFrame = field(repr=False)
    meta: dict[str, Any] = field(default_factory=dict)

    def wide(self) -> pd.DataFrame:
        """One row per point: the factor values and the outcomes side by side."""
        out = self.table.pivot(index="point", columns="outcome", values="value")
        out = out[[o.name for o in self.outcomes]]
        out.columns.name = None
        return self.design.values.join(out)

    @property
    def failures(self) -> pd.DataFrame:
        """Members whose simulation failed, with their error."""
        return self.members[self.members["status"] == "failed"].reset_index(drop=True)

    # -- the results protocol ----------------------------------------------------------------
    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Per outcome: its mean over the design points, an estimate of its expected value.

        The design points are a (quasi-)random sample of the factors' ranges, so their mean
        estimates the outcome's mean over those ranges; ``mean_se`` is ``sd / sqrt(points)``
        (conservative for a Sobol' sequence) and the interval is normal. Columns
        ``outcome``, ``label``, ``unit``, ``points`` (with a value), ``mean``, ``mean_se``,
        ``mean_ci_lower``, ``mean_ci_upper``, ``sd``, ``min``, ``max``.
        """
        rows = []
        for o in self.outcomes:
            v = self.table.loc[self.table["outcome"] == o.name, "value"].to_numpy(dtype=float)
            ok = v[np.isfinite(v)]
            rows.append(
                {
                    "outcome": o.name,
                    "label": o.label,
                    "unit": o.unit,
                    "points": int(ok.size),
                    **sample_estimate(ok, alpha),
                    "sd": float(ok.std(ddof=1)) if ok.size > 1 else np.nan,
                    "min": float(ok.min()) if ok.size else np.nan,
                    "max": float(ok.max()) if ok.size else np.nan,
                }
            )
        extra = ("outcome", "label", "unit", "points", *ESTIMATE_COLUMNS, "sd", "min", "max")
        return pd.DataFrame(rows, columns=list(extra))

    def summary_text(self) -> str:
        """The design, the simulations behind it, and each outcome's mean and range."""
        m, d = self.meta, self.design
        failed = len(self.failures)
        lines = [
            f"{d.points} design points ({d.method}, {len(d.factors)} factors) x "
            f"{m.get('replicates', '?')} replicate(s) of {m.get('target', '?')}, seed "
            f"{m.get('seed', '?')}; behaviour: {m.get('behaviour', '?')}; "
            f"{failed} failed member(s)"
        ]
        for _, r in self.summary_frame().iterrows():
            lines.append(
                f"  {r['outcome']} ({r['label']}): mean {r['mean']:.3g} "
                f"({r['mean_ci_lower']:.3g} to {r['mean_ci_upper']:.3g}), range "
                f"{r['min']:.3g} to {r['max']:.3g} over {r['points']} points"
            )
        return "\n".join(lines)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``table``, ``members`` and the design's unit sample as Parquet, and the sidecar.

        The sidecar holds :attr:`meta` (seed, replicates, target) as provenance, the design's
        definition and the outcomes (class and fields). Returns the folder.
        """
        d = self.design
        tables = {
            "table": self.table,
            "members": self.members,
            "design": pd.DataFrame(d.unit, columns=d.names),
        }
        attrs = {
            "design": {
                "method": d.method,
                "n": d.n,
                "levels": d.levels,
                "seed": d.seed,
                "factors": [f.to_mapping() for f in d.factors],
            },
            "outcomes": [o.to_mapping() for o in self.outcomes],
        }
        return save_result(directory, self, tables, provenance=self.meta, attrs=attrs)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Evaluation:
        """Read an evaluation written by :meth:`save`."""
        stored = load_result(directory, cls)
        t, a = stored.tables, stored.attrs
        spec = a["design"]
        design = Design(
            factors=tuple(Factor(**f) for f in spec["factors"]),
            method=spec["method"],
            n=spec["n"],
            unit=t["design"].to_numpy(dtype=np.float64),
            levels=spec["levels"],
            seed=spec["seed"],
        )
        return cls(
            design=design,
            outcomes=tuple(Outcome.from_mapping(o) for o in a["outcomes"]),
            table=t["table"],
            members=t["members"],
            meta=stored.provenance,
        )


def _targets(
    target: Scenario | Portfolio | Mapping[str, Scenario] | Sequence[Scenario],
) -> tuple[dict[str, Scenario], str, int | None]:
    from feesim.studies.portfolio import Portfolio

    if isinstance(target, Scenario):
        return {target.meta.name: target}, target.meta.name, target.simulation.seed
    if isinstance(target, Portfolio):
        scs = target.scenarios()
        keys = [str(k) for k in target.table["community"]]
        return dict(zip(keys, scs, strict=True)), target.name, target.seed
    if isinstance(target, Mapping):
        scs = {str(k): v for k, v in target.items()}
    else:
        seq = list(target)
        names = [s.meta.name for s in seq if isinstance(s, Scenario)]
        keys = names if len(set(names)) == len(seq) else [str(i) for i in range(len(seq))]
        scs = dict(zip(keys, seq, strict=True))
    if not scs or not all(isinstance(s, Scenario) for s in scs.values()):
        raise ConfigError("target: got no scenario; expected a Scenario, a Portfolio, or scenarios")
    first = next(iter(scs.values()))
    return scs, f"{len(scs)} scenarios", first.simulation.seed


@dataclass(frozen=True)
class _Unit:
    """One chunk of one design point (picklable work unit)."""

    point: int
    chunk: Chunk
    outcomes: tuple[Outcome, ...]


def _run_unit(unit: _Unit) -> pd.DataFrame:
    """Simulate one chunk and reduce it to outcome values per member (runs in a worker)."""
    from feesim.studies.ensemble import run_chunk

    chunk = unit.chunk
    members = pd.DataFrame(
        {
            "member": [m.member for m in chunk.members],
            "key": [m.key for m in chunk.members],
            "replicate": [m.replicate for m in chunk.members],
            "households": [sc.community.households for sc in chunk.scenarios],
            "months": [sc.simulation.months for sc in chunk.scenarios],
            "start": [sc.simulation.start for sc in chunk.scenarios],
        }
    )
    outcome = run_chunk(chunk)
    frame = members[["member", "key", "replicate", "households"]].copy()
    frame.insert(0, "point", unit.point)
    if not outcome.ok:
        frame["status"] = "failed"
        frame["error"] = outcome.error
        for o in unit.outcomes:
            frame[o.name] = np.nan
        return frame
    tables = outcome.tables or {}
    empty = pd.DataFrame(columns=["member", "month", "event"])
    t = MemberTables(
        members=members,
        summary=outcome.summary if outcome.summary is not None else pd.DataFrame(),
        series=tables.get("series"),
        votes=tables.get("votes", empty),
        events=tables.get("events", empty),
    )
    frame["status"] = "ok"
    frame["error"] = ""
    for o in unit.outcomes:
        frame[o.name] = o.per_member(t).to_numpy(dtype=float)
    return frame


def _failed_frame(unit: _Unit, error: str) -> pd.DataFrame:
    """Member rows of a work unit that raised (its simulation's failures are rows of their own)."""
    frame = pd.DataFrame(
        {
            "point": unit.point,
            "member": [m.member for m in unit.chunk.members],
            "key": [m.key for m in unit.chunk.members],
            "replicate": [m.replicate for m in unit.chunk.members],
            "households": [sc.community.households for sc in unit.chunk.scenarios],
            "status": "failed",
            "error": error,
        }
    )
    for o in unit.outcomes:
        frame[o.name] = np.nan
    return frame


def _aggregate(members: pd.DataFrame, outcomes: Sequence[Outcome], points: int) -> pd.DataFrame:
    rows = []
    failed = members["status"].ne("ok").groupby(members["point"]).sum()
    for o in outcomes:
        ok = members[members["status"] == "ok"]
        v = ok[o.name].to_numpy(dtype=float)
        w = ok["households"].to_numpy(dtype=float) if o.weight == "households" else np.ones(len(ok))
        has = ~np.isnan(v)
        frame = pd.DataFrame(
            {"point": ok["point"].to_numpy(), "wv": np.where(has, v * w, 0.0), "w": w * has}
        )
        g = frame.groupby("point")[["wv", "w"]].sum()
        n = pd.Series(has, index=ok.index).groupby(ok["point"]).sum()
        value = (g["wv"] / g["w"].where(g["w"] > 0)).reindex(range(points))
        bad = failed.reindex(range(points)).fillna(0).astype(int)
        rows.append(
            pd.DataFrame(
                {
                    "point": np.arange(points),
                    "outcome": o.name,
                    "value": np.where(bad.to_numpy() > 0, np.nan, value.to_numpy()),
                    "members": n.reindex(range(points)).fillna(0).astype(int).to_numpy(),
                    "failed": bad.to_numpy(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def evaluate(
    target: Scenario | Portfolio | Mapping[str, Scenario] | Sequence[Scenario],
    design: Design,
    *,
    outcomes: Sequence[Outcome] = DEFAULT_OUTCOMES,
    replicates: int = 1,
    rng: int | np.random.SeedSequence | np.random.Generator | None = None,
    executor: Runner | cf.Executor | str | None = None,
    workers: int | None = None,
    chunk_households: int | None = None,
    progress: bool = True,
    seed: int | None = None,
) -> Evaluation:
    """Simulate every design point and reduce it to the outcomes.

    Each point sets the factors' values in the target's scenario(s) and runs them through
    :class:`feesim.studies.ensemble.Ensemble` (``replicates`` histories of each scenario, chunked by
    households, seeded by ``rng``). Every point uses the same seed (common random numbers).

    Parameters
    ----------
    target : Scenario, Portfolio, mapping or sequence of Scenario
        One community, a district or city portfolio (every community of it at each point), or
        several scenarios simulated together at each point.
    design : Design
    outcomes : sequence of Outcome
        Default: pass probability, approval, last year-end collection, firm notice or exit
        within the horizon, mean service quality.
    replicates : int
        Histories per scenario and point (averaged into the point's value).
    rng : int, SeedSequence or Generator, optional
        Root seed (SPEC 7; default: the portfolio's, or the first scenario's
        ``simulation.seed``).
    executor : Runner, Executor, "serial", "processes" or None
        Where chunks run (:class:`feesim.studies.runner.Runner`): a runner kept open by the
        caller, any :class:`concurrent.futures.Executor` (e.g. Dask's ``client.get_executor()``),
        a local process pool (``"processes"``) or this process (``"serial"``). ``None``: serial
        when ``workers == 1`` or there is one chunk in all, else a local process pool.
    workers : int, optional
        Size of the local pool (default: the cores available); also bounds the chunks in
        flight (four per worker), so that a large design is built as it runs.
    chunk_households : int, optional
        Households simulated together in one chunk (default: the ensemble's default).
    progress : bool
        Show a progress bar over design points.

    Returns
    -------
    Evaluation

    Raises
    ------
    ConfigError
        If a factor's path does not exist in a scenario, a factor value breaks a rule of the
        scenario (the message names the point and the factor values), or an outcome cannot be
        computed for the scenario.
    """
    from feesim.studies.ensemble import DEFAULT_CHUNK_HOUSEHOLDS, Ensemble

    if not isinstance(design, Design):
        raise ConfigError(f"design: got {type(design).__name__}; expected a Design")
    outcomes = tuple(outcomes)
    if not outcomes or not all(isinstance(o, Outcome) for o in outcomes):
        raise ConfigError("outcomes: expected a non-empty sequence of Outcome objects")
    names = [o.name for o in outcomes]
    if len(set(names)) != len(names):
        raise ConfigError(f"outcomes: names must be distinct; got {names}")
    clash = set(names) & {"point", "member", "key", "replicate", "households", "status", "error"}
    if clash:
        raise ConfigError(f"outcomes: {sorted(clash)[0]!r} is reserved; rename the outcome")
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise ConfigError(f"replicates: got {replicates!r}; expected an integer >= 1")
    scenarios, target_name, default_seed = _targets(target)
    seed = root_seed(rng_alias(rng, seed), "rng")
    seed = default_seed if seed is None else seed
    chunk_households = chunk_households or DEFAULT_CHUNK_HOUSEHOLDS
    factors = design.factors
    first = next(iter(scenarios.values()))
    for key, sc in scenarios.items():
        for f in factors:
            try:
                _get(sc, f.path)
            except ConfigError as exc:
                raise ConfigError(f"{exc} (scenario {key!r})") from None
    for f in factors:  # each end of each range on the first scenario, others at base values
        for side in ("lo", "hi"):
            value = f.values(np.array([0.0 if side == "lo" else 1.0]))[0]
            _validated(
                _apply(first, (f,), (value,)),
                f"factor {f.path} = {value} ({side} end of its range)",
            )
    for o in outcomes:
        o.check(first)
    tables = tuple(sorted({"votes", "events"} | {t for o in outcomes for t in o.tables}))
    values = design.values
    rows = values.to_numpy(dtype=object)

    def units() -> Iterator[_Unit]:
        for i in range(design.points):
            point = {k: _apply(sc, factors, rows[i]) for k, sc in scenarios.items()}
            where = "design point {} ({})".format(
                i, ", ".join(f"{f.name}={v}" for f, v in zip(factors, rows[i], strict=True))
            )
            _validated(next(iter(point.values())), where)
            ens = Ensemble(
                point, replicates=replicates, rng=seed, chunk_households=chunk_households
            )
            for c in ens.chunks(tables=tables):
                yield _Unit(i, c, outcomes)

    probe = Ensemble(
        scenarios,
        replicates=replicates,
        rng=seed,
        chunk_households=chunk_households,
    )
    n_chunks = len(probe.chunks(tables=tables)) * design.points
    log.info(
        "evaluating %d design points x %d scenario(s) x %d replicate(s) in %d chunk(s)",
        design.points,
        len(scenarios),
        replicates,
        n_chunks,
    )
    t0 = time.perf_counter()
    per_point = len(scenarios) * replicates
    with Runner.using(executor, workers=workers, progress=progress) as runner:
        done = runner.map(
            _run_unit,
            units(),
            desc="sensitivity",
            unit="member",
            size=lambda u: len(u.chunk.members),
            total=design.points * per_point,
            count=n_chunks,
            window=4 * (workers or available_cores()),
        )
    frames = [_failed_frame(r.task, r.error) if isinstance(r, Failed) else r for r in done]
    members = pd.concat(frames, ignore_index=True).sort_values(["point", "member"], kind="stable")
    members = members.reset_index(drop=True)
    table = _aggregate(members, outcomes, design.points)
    n_failed = int((members["status"] != "ok").sum())
    if n_failed:
        log.warning(
            "%d member simulation(s) failed; their points have no value (first error: %s)",
            n_failed,
            members.loc[members["status"] != "ok", "error"].iloc[0],
        )
    base = first
    meta = {
        "target": target_name,
        "scenarios": len(scenarios),
        "households": int(sum(sc.community.households for sc in scenarios.values())),
        "replicates": replicates,
        "seed": seed,
        "common_random_numbers": True,
        "months": base.simulation.months,
        "start": base.simulation.start,
        "behaviour": behaviour_source(base),
        "chunks": n_chunks,
        "elapsed_s": round(time.perf_counter() - t0, 3),
    }
    return Evaluation(design, outcomes, table, members, meta)
