"""Ensembles: many members (scenario x replicate x parameter set) on any ``Executor``.

A *member* is one simulated community history: a scenario, a replicate number and optionally
a behaviour parameter set. Members are grouped into *chunks*, each simulated as one batch
(:class:`~feesim.engine.model.FeeModel` with many runs side by side), so small communities do not
pay Python overhead per run. A chunk is also the unit of seeding: chunk ``k`` draws from
``SeedSequence(seed).spawn(n_chunks)[k]``. Chunks depend only on the ensemble's definition
(members, ``chunk_households``), never on the executor or the number of workers, so the same
seed gives bitwise identical results serially, on a local process pool and on a Dask cluster.

Running: :meth:`Ensemble.run` hands the chunks to :class:`feesim.studies.runner.Runner`, so it
takes any :class:`concurrent.futures.Executor` (a local process pool by default;
``Client.get_executor()`` of ``dask.distributed`` for a cluster, or the ``scheduler=`` address)
or a runner kept open by the caller. A chunk that fails is re-run member by member so that only
the failing members are lost; failures are recorded with their error, never fatal. Chunks lost
with a worker are rerun by the runner (a broken local pool is rebuilt; Dask retries tasks of
lost workers itself). Results can stream to partitioned Parquet (``out=``): each chunk writes
its tables from the worker, so memory stays flat however large the sweep.

An output folder holds one run only: the run writes to a fresh temporary folder beside it
(absolute paths, so that Dask workers with another working directory write to the same place)
and moves its tables, ``members.csv`` and ``summary.csv`` into place when every chunk is done
(:func:`feesim.io.staged_output`). An interrupted or failed run leaves the folder as it was; a
new run replaces the tables of an earlier one, never mixes with them.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import os
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from feesim.config.behaviour import Behaviour
from feesim.config.scenario import Scenario
from feesim.errors import ConfigError
from feesim.i18n import gettext as _
from feesim.io import atomic_write_text, staged_output, write_atomically
from feesim.protocol import (
    ESTIMATE_COLUMNS,
    load_result,
    read_sidecar,
    sample_estimate,
    save_result,
    share_estimate,
)
from feesim.seeding import rng_alias, root_seed
from feesim.studies.runner import Failed, Runner

__all__ = [
    "Chunk",
    "ChunkOutcome",
    "Ensemble",
    "EnsembleResult",
    "Member",
    "run_chunk",
    "unify_schemas",
    "write_tables",
]

log = logging.getLogger(__name__)

TABLES = ("series", "votes", "events", "campaigns")
#: Households simulated together in one chunk by default (about 20-40 MB of state).
DEFAULT_CHUNK_HOUSEHOLDS = 200_000
MEMBER_COLUMNS = ("member", "key", "replicate", "params")
#: What an ensemble run writes at the top of its output folder (and replaces there).
OUTPUTS = (*TABLES, "members.csv", "summary.csv")


@dataclass(frozen=True)
class Member:
    """One simulated history."""

    member: int
    key: str
    replicate: int
    params: int  # index into the ensemble's parameter sets; -1 = the scenario's own behaviour


@dataclass(frozen=True)
class Chunk:
    """Members simulated together as one batch, with their seed (picklable work unit)."""

    chunk: int
    members: tuple[Member, ...]
    scenarios: tuple[Scenario, ...]
    seed: np.random.SeedSequence
    populations: int | None = None
    tables: tuple[str, ...] = TABLES
    out: str | None = None


@dataclass
class ChunkOutcome:
    """What a worker sends back: small summaries, and the tables when not streamed to disk."""

    chunk: int
    ok: bool
    members: tuple[Member, ...]
    summary: pd.DataFrame | None = None
    tables: dict[str, pd.DataFrame] | None = None
    error: str = ""
    worker_pid: int = 0


def _label(frame: pd.DataFrame, members: Sequence[Member]) -> pd.DataFrame:
    """Replace the batch's run index by the members' identity."""
    lookup = pd.DataFrame([dataclasses.asdict(m) for m in members])
    lookup["run"] = np.arange(len(members))
    out = lookup.merge(frame, on="run", how="right").drop(columns="run")
    return out.reset_index(drop=True)


def _summarise(series: pd.DataFrame, events: pd.DataFrame, votes: pd.DataFrame) -> pd.DataFrame:
    """One row per member: end-of-horizon outcomes (kept in the parent process)."""
    last = series.groupby("member").tail(1).set_index("member")
    out = pd.DataFrame(index=last.index)
    for col in (
        "collection_rate",
        "service_quality",
        "satisfaction",
        "trust",
        "fee_per_m2",
        "firm_cash_yuan",
        "firm_active",
    ):
        out[col] = last[col]
    dec = series[series["calendar_month"] == 12]
    out["collection_rate_last_december"] = dec.groupby("member")["collection_rate"].last()
    exits = events[events["event"] == "firm_exit"].groupby("member")["month"].min()
    out["first_exit_month"] = exits.reindex(out.index)
    out["votes"] = votes.groupby("member").size().reindex(out.index).fillna(0).astype(int)
    out["votes_passed"] = (
        votes.loc[votes["passed"].astype(bool).to_numpy(), "member"]
        .value_counts()
        .reindex(out.index)
        .fillna(0)
        .astype(int)
    )
    return out.reset_index()


def run_chunk(chunk: Chunk) -> ChunkOutcome:
    """Simulate one chunk; never raises (errors come back in the outcome)."""
    from feesim.engine.model import FeeModel

    try:
        model = FeeModel(list(chunk.scenarios), rng=chunk.seed, populations=chunk.populations)
        result = model.run()
        frames = {t: _label(getattr(result, t), chunk.members) for t in chunk.tables}
        full = {t: _label(getattr(result, t), chunk.members) for t in ("series", "events", "votes")}
        summary = _summarise(full["series"], full["events"], full["votes"])
        if chunk.out is not None:
            for table, frame in frames.items():
                path = Path(chunk.out) / table / f"chunk-{chunk.chunk:06d}.parquet"
                write_atomically(path, lambda fh, f=frame: f.to_parquet(fh, index=False))
            frames = None
        return ChunkOutcome(
            chunk.chunk, True, chunk.members, summary=summary, tables=frames, worker_pid=os.getpid()
        )
    except Exception as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return ChunkOutcome(chunk.chunk, False, chunk.members, error=detail, worker_pid=os.getpid())


#: Figures of :meth:`EnsembleResult.summary_frame`: columns of the member summary, averaged.
SUMMARY_OUTCOMES = (
    "collection_rate_last_december",
    "collection_rate",
    "service_quality",
    "satisfaction",
    "trust",
    "fee_per_m2",
    "firm_cash_yuan",
    "votes",
    "votes_passed",
)


@dataclass
class EnsembleResult:
    """Outcomes of an ensemble: members with their status, summaries and tables.

    Tables come from memory, or from the Parquet folders written during the run (``out``).

    Attributes
    ----------
    members : pandas.DataFrame
        One row per member: ``member``, ``key``, ``replicate``, ``params``, ``chunk``,
        ``status`` (``ok`` or ``failed``) and ``error``.
    summary : pandas.DataFrame
        One row per member that ran: its end-of-horizon outcomes.
    out : pathlib.Path or None
        Folder of the partitioned Parquet tables, when they were streamed to disk.
    meta : dict
        The ensemble's definition: seed, replicates, scenario keys, parameter sets, chunking.
    """

    members: pd.DataFrame
    summary: pd.DataFrame
    out: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    _tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def failures(self) -> pd.DataFrame:
        """Members that failed, with their error."""
        return self.members[self.members["status"] == "failed"].reset_index(drop=True)

    def table(self, name: str) -> pd.DataFrame:
        """One of ``series``, ``votes``, ``events``, ``campaigns`` (all members)."""
        if name not in TABLES:
            raise ConfigError(f"table: got {name!r}; expected one of {', '.join(TABLES)}")
        if name not in self._tables:
            if self.out is None or not (self.out / name).exists():
                self._tables[name] = pd.DataFrame(columns=list(MEMBER_COLUMNS))
            else:
                parts = sorted((self.out / name).glob("chunk-*.parquet"))
                frame = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
                self._tables[name] = frame.sort_values(
                    ["member", *(["month"] if "month" in frame else [])], kind="stable"
                ).reset_index(drop=True)
        return self._tables[name]

    @property
    def series(self) -> pd.DataFrame:
        """Monthly outcomes of every member."""
        return self.table("series")

    @property
    def votes(self) -> pd.DataFrame:
        """Votes of every member."""
        return self.table("votes")

    @property
    def events(self) -> pd.DataFrame:
        """Events of every member."""
        return self.table("events")

    def quantiles(self, column: str, q: Sequence[float] = (0.05, 0.5, 0.95)) -> pd.DataFrame:
        """Per scenario key and month: mean and quantiles of ``column`` across members."""
        g = self.series.groupby(["key", "month"])[column]
        out = pd.DataFrame({"mean": g.mean()})
        for p in q:
            out[f"p{round(p * 100):02d}"] = g.quantile(p)
        return out.reset_index()

    # -- the results protocol ----------------------------------------------------------------
    def _by_key(self) -> pd.DataFrame:
        return self.summary.merge(self.members[["member", "key"]], on="member")

    def summary_text(self) -> str:
        """Members and failures, and per scenario key the main end-of-horizon outcomes.

        In the language in force (:mod:`feesim.i18n`).
        """
        ok = self.members["status"] == "ok"
        sets, reps = self.meta.get("parameter_sets", 0), self.meta.get("replicates")
        head = _("{members} members ({ok} ok, {failed} failed)").format(
            members=len(self.members), ok=int(ok.sum()), failed=int((~ok).sum())
        )
        if sets:
            head += _("; {sets} parameter sets x {replicates} replicates of each scenario").format(
                sets=sets, replicates=reps
            )
        lines = [head]
        by_key = self._by_key()
        for key, g in by_key.groupby("key"):
            c = g["collection_rate_last_december"]
            lines.append(
                _(
                    "  {key}: last-December collection mean {mean} (5-95%: {lo}-{hi}), firm exits "
                    "{exits}, votes passed {passed}/{votes}"
                ).format(
                    key=key,
                    mean=f"{c.mean():.1%}",
                    lo=f"{c.quantile(0.05):.1%}",
                    hi=f"{c.quantile(0.95):.1%}",
                    exits=f"{g['first_exit_month'].notna().mean():.0%}",
                    passed=g["votes_passed"].sum(),
                    votes=g["votes"].sum(),
                )
            )
        for _i, f in self.failures.iterrows():
            lines.append(
                _("  failed member {member} ({key}): {error}").format(
                    member=f["member"], key=f["key"], error=f["error"]
                )
            )
        return "\n".join(lines)

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Per scenario key, the mean over members of each end-of-horizon outcome.

        Outcomes: :data:`SUMMARY_OUTCOMES` (the last month's values, collection at the last
        December, votes held and passed per member) and ``firm_exit`` (share of members whose
        firm left). Members that failed are left out.

        Parameters
        ----------
        alpha : float
            One minus the level of the intervals (0.05: 95%).

        Returns
        -------
        pandas.DataFrame
            Columns ``key``, ``outcome``, ``members``, ``mean``, ``mean_se``,
            ``mean_ci_lower``, ``mean_ci_upper`` (standard error ``sd / sqrt(members)`` and
            normal interval; binomial standard error and Wilson interval for ``firm_exit``).
        """
        rows = []
        for key, g in self._by_key().groupby("key", sort=False):
            for col in SUMMARY_OUTCOMES:
                v = g[col].to_numpy(dtype=np.float64)
                n = int(np.isfinite(v).sum())
                rows.append({"key": key, "outcome": col, "members": n, **sample_estimate(v, alpha)})
            n = len(g)
            share = float(g["first_exit_month"].notna().mean())
            rows.append(
                {
                    "key": key,
                    "outcome": "firm_exit",
                    "members": n,
                    **share_estimate(share, n, alpha),
                }
            )
        return pd.DataFrame(rows, columns=["key", "outcome", "members", *ESTIMATE_COLUMNS])

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``members``, ``summary`` and the kept tables as Parquet, and the sidecar.

        Tables streamed to ``out`` are read and written whole (one file per table). Returns
        the folder.
        """
        kept = [
            t
            for t in TABLES
            if t in self._tables or (self.out is not None and (self.out / t).exists())
        ]
        tables = {"members": self.members, "summary": self.summary}
        tables.update({t: self.table(t) for t in kept})
        return save_result(directory, self, tables, provenance=self.meta)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> EnsembleResult:
        """Read a result written by :meth:`save`, or the folder of ``feesim ensemble --out``.

        The command's folder (``members.csv``, ``summary.csv`` and partitioned Parquet tables,
        no sidecar) is read with its tables left on disk (``out`` is the folder).
        """
        d = Path(directory)
        if read_sidecar(d) is None and (d / "members.csv").is_file():
            return cls(
                members=pd.read_csv(d / "members.csv", keep_default_na=False),
                summary=pd.read_csv(d / "summary.csv"),
                out=d,
            )
        stored = load_result(d, cls)
        t = dict(stored.tables)
        return cls(
            members=t.pop("members"), summary=t.pop("summary"), meta=stored.provenance, _tables=t
        )


class Ensemble:
    """Members (scenario x replicate x parameter set), grouped into seeded chunks.

    Parameters
    ----------
    scenarios : Scenario, sequence of Scenario, or mapping of key to Scenario
        Sequences are keyed by position ("0", "1", ...) unless their names are distinct.
    replicates : int
        Histories per scenario and parameter set.
    params : sequence of Behaviour, optional
        Behaviour parameter sets to cross with the scenarios (e.g. a calibrated ensemble).
    rng : int or numpy.random.SeedSequence
        Root of all chunk seeds (SPEC 7; default 0). A SeedSequence made from one whole
        number is that number.
    seed : int, optional
        Deprecated alias of ``rng``.
    chunk_households : int
        Households simulated together in one chunk (members are never split).
    populations : int, optional
        Passed to :class:`~feesim.engine.model.FeeModel`: replicates of one scenario and parameter
        set within a chunk share at most this many household populations.

    Examples
    --------
    >>> ens = Ensemble(load_scenario("examples/xianghe_2025.toml"), replicates=100, rng=1)
    >>> res = ens.run(workers=2, out="out/xianghe_ensemble")  # doctest: +SKIP
    """

    def __init__(
        self,
        scenarios: Scenario | Sequence[Scenario] | Mapping[str, Scenario],
        *,
        replicates: int = 1,
        params: Sequence[Behaviour] | None = None,
        rng: int | np.random.SeedSequence | None = None,
        chunk_households: int = DEFAULT_CHUNK_HOUSEHOLDS,
        populations: int | None = None,
        seed: int | None = None,
    ) -> None:
        root = root_seed(rng_alias(rng, seed), "rng")
        if isinstance(scenarios, Scenario):
            scenarios = {scenarios.meta.name: scenarios}
        elif not isinstance(scenarios, Mapping):
            seq = list(scenarios)
            names = [s.meta.name for s in seq]
            keys = names if len(set(names)) == len(names) else [str(i) for i in range(len(seq))]
            scenarios = dict(zip(keys, seq, strict=True))
        if not scenarios:
            raise ConfigError("scenarios: at least one scenario is required")
        for name, value in (("replicates", replicates), ("chunk_households", chunk_households)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name}: got {value!r}; expected an integer >= 1")
        if populations is not None and (
            isinstance(populations, bool) or not isinstance(populations, int) or populations < 1
        ):
            raise ConfigError(f"populations: got {populations!r}; expected an integer >= 1")
        self.scenarios = dict(scenarios)
        self.replicates = replicates
        self.params = list(params) if params is not None else []
        self.seed = 0 if root is None else root
        self.chunk_households = chunk_households
        self.populations = populations
        self.members = self._members()

    def _members(self) -> list[Member]:
        sets = range(len(self.params)) if self.params else [-1]
        out = []
        for key in self.scenarios:
            for p in sets:
                for rep in range(self.replicates):
                    out.append(Member(len(out), key, rep, p))
        return out

    def _scenario_for(self, member: Member, cache: dict[tuple[str, int], Scenario]) -> Scenario:
        k = (member.key, member.params)
        if k not in cache:
            sc = self.scenarios[member.key]
            if member.params >= 0:
                sc = dataclasses.replace(sc, behaviour=self.params[member.params])
            cache[k] = sc  # replicates share one object (needed for shared populations)
        return cache[k]

    def chunks(
        self,
        *,
        out: str | os.PathLike[str] | None = None,
        tables: Sequence[str] = TABLES,
    ) -> list[Chunk]:
        """The work units, in order; their composition depends only on the definition."""
        cache: dict[tuple[str, int], Scenario] = {}
        groups: list[list[Member]] = []
        current: list[Member] = []
        size = 0
        calendar = None
        for m in self.members:
            sc = self._scenario_for(m, cache)
            cal = (sc.simulation.months, sc.simulation.start)
            n = sc.community.households
            if current and (size + n > self.chunk_households or cal != calendar):
                groups.append(current)
                current, size = [], 0
            current.append(m)
            size += n
            calendar = cal
        if current:
            groups.append(current)
        seeds = np.random.SeedSequence(self.seed).spawn(len(groups))
        return [
            Chunk(
                chunk=k,
                members=tuple(g),
                scenarios=tuple(self._scenario_for(m, cache) for m in g),
                seed=seeds[k],
                populations=self.populations,
                tables=tuple(tables),
                # Absolute: a Dask worker's working directory is not this process's.
                out=None if out is None else os.path.abspath(out),
            )
            for k, g in enumerate(groups)
        ]

    def run(
        self,
        executor: Runner | cf.Executor | str | None = None,
        *,
        workers: int | None = None,
        scheduler: str | None = None,
        out: str | os.PathLike[str] | None = None,
        tables: Sequence[str] = TABLES,
        progress: bool = True,
    ) -> EnsembleResult:
        """Run every member.

        Parameters
        ----------
        executor : Runner, Executor, "serial", "processes" or None
            Where chunks run (see :class:`feesim.studies.runner.Runner`): a runner kept open by
            the caller (its own settings apply; ``workers``, ``scheduler`` and ``progress`` are
            then ignored), any :class:`concurrent.futures.Executor`, this process
            (``"serial"``) or a local process pool (``"processes"``). ``None``: this process if
            there is a single chunk or ``workers == 1``, else a local process pool.
        workers : int, optional
            Size of the local process pool (default: the cores available).
        scheduler : str, optional
            Address of a ``dask.distributed`` scheduler; uses ``Client(scheduler).get_executor()``
            (install ``feesim[distributed]``).
        out : path, optional
            Folder for partitioned Parquet tables (``out/series/chunk-000001.parquet``, ...),
            ``members.csv`` and ``summary.csv`` (:data:`OUTPUTS`). The run writes to a fresh
            folder beside it and moves everything into place at the end, replacing what an
            earlier run wrote there (other files are left alone); if the run fails or is
            interrupted, the folder keeps its previous contents. Without it, tables are
            returned in memory.
        tables : sequence of str
            Tables to keep (``series``, ``votes``, ``events``, ``campaigns``).
        progress : bool
            Show a progress bar.

        Raises
        ------
        OutputError
            Before any member runs, if ``out`` cannot be written (an existing file, a path
            under a file, an empty path).
        """
        unknown = [t for t in tables if t not in TABLES]
        if unknown:
            raise ConfigError(f"tables: got {unknown[0]!r}; expected some of {', '.join(TABLES)}")
        with Runner.using(
            executor, workers=workers, scheduler=scheduler, progress=progress
        ) as runner:
            if out is None:
                return self._run(runner, None, tables)
            with staged_output(out, OUTPUTS, key="out") as folder:
                result = self._run(runner, folder, tables)
                write_tables(result, folder)
            result.out = Path(os.path.abspath(out))
            return result

    def _run(self, runner: Runner, folder: Path | None, tables: Sequence[str]) -> EnsembleResult:
        """Run every member on ``runner``; chunks write their tables into ``folder`` if given.

        ``folder`` is written as is (no staging): :meth:`run` and
        :func:`~feesim.studies.portfolio.run_portfolio` give a staged folder.
        """
        chunks = self.chunks(out=folder, tables=tables)
        done = runner.map(run_chunk, chunks, desc="ensemble", unit="member", size=_size)
        outcomes = [_outcome(o) for o in done]
        # A chunk whose simulation failed is rerun member by member so that only failing
        # members are lost (those reruns draw from the member's own sub-seed).
        reruns: dict[int, list[Chunk]] = {}
        for outcome in outcomes:
            if not outcome.ok and len(outcome.members) > 1:
                log.warning(
                    "chunk %d failed (%s); rerunning its members one by one",
                    outcome.chunk,
                    outcome.error,
                )
                reruns[outcome.chunk] = _members_alone(chunks[outcome.chunk])
        flat = [c for subs in reruns.values() for c in subs]
        redone = iter(
            [
                _outcome(o)
                for o in runner.map(run_chunk, flat, desc="reruns", unit="member", size=_size)
            ]
            if flat
            else []
        )
        final: list[ChunkOutcome] = []
        for outcome in outcomes:
            if outcome.chunk in reruns:
                final.extend(next(redone) for _ in reruns[outcome.chunk])
            else:
                final.append(outcome)
        if folder is not None:
            for table in tables:
                unify_schemas(folder / table)
        return self._collect(final, folder, tables)

    def _collect(
        self,
        outcomes: list[ChunkOutcome],
        out: str | os.PathLike[str] | None,
        tables: Sequence[str],
    ) -> EnsembleResult:
        rows, summaries, frames = [], [], {t: [] for t in tables}
        for o in outcomes:
            for m in o.members:
                rows.append(
                    {
                        **dataclasses.asdict(m),
                        "chunk": o.chunk,
                        "status": "ok" if o.ok else "failed",
                        "error": o.error,
                    }
                )
            if o.ok:
                summaries.append(o.summary)
                for t, f in (o.tables or {}).items():
                    frames[t].append(f)
        members = pd.DataFrame(rows).sort_values("member").reset_index(drop=True)
        summary = (
            pd.concat(summaries, ignore_index=True)
            if summaries
            else pd.DataFrame(columns=["member"])
        )
        summary = summary.sort_values("member").reset_index(drop=True)
        result = EnsembleResult(
            members=members,
            summary=summary,
            out=None if out is None else Path(out),
            meta={
                "seed": self.seed,
                "replicates": self.replicates,
                "scenarios": list(self.scenarios),
                "parameter_sets": len(self.params),
                "chunk_households": self.chunk_households,
                "populations": self.populations,
                "tables": list(tables),
            },
        )
        if out is None:
            for t, fs in frames.items():
                result._tables[t] = pd.concat(fs, ignore_index=True) if fs else pd.DataFrame()
        return result


def write_tables(result: EnsembleResult, folder: str | os.PathLike[str]) -> None:
    """Write ``members.csv`` and ``summary.csv`` of ``result`` into ``folder``.

    With the Parquet tables beside them this is the folder :meth:`EnsembleResult.load` reads.
    """
    atomic_write_text(Path(folder) / "summary.csv", result.summary.to_csv(index=False))
    atomic_write_text(Path(folder) / "members.csv", result.members.to_csv(index=False))


def unify_schemas(folder: Path) -> None:
    """Give every chunk file of one table the same column types.

    A chunk in which a column has no value (a table with no rows, e.g. no campaign in those
    members) stores it with Arrow's null type, and reading the folder as one dataset
    (``pandas.read_parquet(folder)``) then fails on the first typed chunk. Such files are
    small; they are rewritten with the types the other chunks use (null casts to any type).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(folder.glob("chunk-*.parquet"))
    if len(files) < 2:
        return
    schemas = {f: pq.read_schema(f) for f in files}
    types: dict[str, pa.DataType] = {}
    for schema in schemas.values():
        for fld in schema:
            if not pa.types.is_null(fld.type):
                types.setdefault(fld.name, fld.type)
    for f, schema in schemas.items():
        nulls = [fld.name for fld in schema if pa.types.is_null(fld.type) and fld.name in types]
        if not nulls:
            continue
        target = pa.schema(
            [pa.field(fld.name, types.get(fld.name, fld.type)) for fld in schema],
            metadata=schema.metadata,
        )
        table = pq.read_table(f).cast(target)
        write_atomically(f, lambda fh, t=table: pq.write_table(t, fh))


def _size(chunk: Chunk) -> int:
    """Progress of a chunk: its members."""
    return len(chunk.members)


def _outcome(done: ChunkOutcome | Failed) -> ChunkOutcome:
    """A chunk's outcome; a failure of the runner itself is the chunk's failure."""
    if isinstance(done, Failed):
        chunk: Chunk = done.task
        return ChunkOutcome(chunk.chunk, False, chunk.members, error=done.error)
    return done


def _members_alone(chunk: Chunk) -> list[Chunk]:
    """The chunk's members as chunks of one, each seeded by its own sub-seed.

    Member ``i``'s seed is the chunk seed's child ``i`` (what ``chunk.seed.spawn`` gives first),
    built explicitly so that it does not depend on what spawned from the chunk seed before.
    """
    root = chunk.seed
    return [
        dataclasses.replace(
            chunk,
            members=(m,),
            scenarios=(sc,),
            seed=np.random.SeedSequence(
                root.entropy, spawn_key=(*root.spawn_key, i), pool_size=root.pool_size
            ),
            chunk=chunk.chunk * 1_000_000 + i + 1,
        )
        for i, (m, sc) in enumerate(zip(chunk.members, chunk.scenarios, strict=True))
    ]
