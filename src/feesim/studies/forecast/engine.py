"""The forecast engine: the status quo and the proposal, run on common random numbers.

:func:`run_forecast` runs ``runs`` replicates of the community twice: once without the
proposal (the *status quo*) and once with it. Runs are cut into fixed chunks of
:data:`CHUNK_RUNS` (never by the number of workers, so results do not depend on it); chunk ``c``
of both branches is one :class:`~feesim.engine.model.FeeModel` batch rooted at the same seed
``SeedSequence(seed, spawn_key=(c,))`` with the same household populations. Every decision
draws from its own stream per month (:mod:`feesim.engine.rng`), so decisions the proposal does not
touch are identical in both branches and "proposal minus status quo" is the effect of the
policy, not noise: the two branches agree exactly in every month before the proposal is
announced.

What a *null proposal* is: a zero step with nothing attached (no service promise, package,
quality first, trial, renovation, campaign or release of public income) changes nothing, so it
is not put to a vote; its branch *is* the status quo and every proposal figure equals its
status-quo counterpart exactly. Its ``pass_probability`` is 1 (the fee it names is the fee in
force, whatever happens) and the vote distributions are empty.

Chunks are spread over worker processes (``workers``, default: up to two); with one worker
everything runs in this process. A behaviour ensemble (:mod:`feesim.studies.forecast.ensemble`)
spreads runs over parameter sets: run ``r`` uses member ``r % M``.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import math
import multiprocessing
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from feesim.config.behaviour import Behaviour
from feesim.config.scenario import Scenario
from feesim.errors import ConfigError
from feesim.studies.forecast.ensemble import apply_overrides, behaviour_ensemble
from feesim.studies.forecast.mapping import ForecastInput
from feesim.studies.forecast.outcomes import (
    EXIT_WINDOWS,
    SERIES,
    TESTS,
    BranchOutcome,
    VoteOutcomes,
)
from feesim.studies.forecast.result import ForecastResult

__all__ = [
    "CHUNK_RUNS",
    "EXIT_WINDOWS",
    "SERIES",
    "TESTS",
    "BranchOutcome",
    "Runner",
    "VoteOutcomes",
    "run_branches",
    "run_forecast",
]

log = logging.getLogger(__name__)

#: Runs per model batch. Fixed (not derived from the number of workers) so that results
#: depend only on the seed, the number of runs and ``populations``.
CHUNK_RUNS = 500


# ==============================================================================================
# one chunk (runs in a worker)
# ==============================================================================================
@dataclass(frozen=True)
class _Task:
    members: tuple[Scenario, ...]  # one scenario per ensemble member (or one)
    assign: np.ndarray  # member index of each run of the chunk
    seed: np.random.SeedSequence
    populations: int
    motion: str | None  # label of the proposal's motion, None for the status quo
    vote_month: int
    series: tuple[str, ...] = SERIES


def _simulate(task: _Task) -> BranchOutcome:
    """Run one chunk and keep what the forecast needs."""
    from feesim.engine.model import FeeModel

    runs = [task.members[a] for a in task.assign]
    per_member = max(1, math.ceil(task.populations / len(task.members)))
    model = FeeModel(runs, rng=task.seed, populations=per_member)
    res = model.run()
    R, T = len(runs), model.months
    s = res.series
    series = {c: s[c].to_numpy(dtype=np.float64).reshape(R, T) for c in task.series}
    ev = res.events
    exit_month = np.full(R, -1, dtype=np.int64)
    gone = ev[ev["event"].isin(("notice", "firm_exit")) & (ev["month"] >= task.vote_month)]
    if len(gone):
        first = gone.groupby("run")["month"].min()
        exit_month[first.index.to_numpy()] = first.to_numpy()
    vote = VoteOutcomes.empty(R)
    if task.motion is not None:
        v = res.votes
        v = v[(v["motion"] == task.motion) & (v["matter"] != "package")]
        if len(v):
            last = v.groupby("run").tail(1)
            idx = last["run"].to_numpy()
            vote.voted[idx] = True
            vote.month[idx] = last["month"].to_numpy()
            vote.attempts[idx] = v.groupby("run").size().reindex(idx).to_numpy()
            for k in ("turnout_heads", "turnout_area", "approval_heads", "approval_area"):
                getattr(vote, k)[idx] = last[k].to_numpy(dtype=np.float64)
            vote.quorum_met[idx] = last["quorum_met"].to_numpy(dtype=bool)
            vote.passed[idx] = last["passed"].to_numpy(dtype=bool)
            vote.binding[idx] = [TESTS.index(b) for b in last["binding"]]
        key = task.motion.split(":")[1]
        changed = ev[(ev["event"] == "fee_changed") & ev["detail"].str.startswith(f"motion {key}:")]
        vote.effective[changed["run"].to_numpy()] = True
    return BranchOutcome(
        series=series,
        exit_month=exit_month,
        member=np.asarray(task.assign, dtype=np.int64),
        vote=vote,
    )


# ==============================================================================================
# running chunks
# ==============================================================================================
def default_workers() -> int:
    """Worker processes used by default: the cores available, at most two."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(2, n))


class Runner:
    """Runs chunk tasks in this process or in a pool of worker processes.

    Use as a context manager; the pool is created on first use and shut down on exit.

    Parameters
    ----------
    workers : int, optional
        Worker processes (default :func:`default_workers`); 1 runs everything in this process.
    progress : bool, optional
        Show a progress bar (default: when the output is a terminal).
    """

    def __init__(self, workers: int | None = None, progress: bool | None = None) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"workers: got {workers!r}; expected an integer >= 1")
        self.workers = default_workers() if workers is None else int(workers)
        self.progress = progress
        self._pool: cf.Executor | None = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut the pool down."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _executor(self) -> cf.Executor:
        if self._pool is None:
            # Fork is fastest (workers inherit the imported model code) but is only safe from
            # a single-threaded process; otherwise start workers from a fork server.
            methods = multiprocessing.get_all_start_methods()
            method = "fork" if "fork" in methods and threading.active_count() == 1 else None
            if method is None and "forkserver" in methods:
                method = "forkserver"
            ctx = multiprocessing.get_context(method)
            if method == "forkserver":
                ctx.set_forkserver_preload(["feesim.studies.forecast.engine"])
            self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        return self._pool

    def map(self, tasks: Sequence[_Task], desc: str = "forecast") -> list[BranchOutcome]:
        """Run ``tasks`` and return their outcomes in order."""
        if self.workers == 1 or len(tasks) == 1:
            out = []
            with _bar(len(tasks), desc, self.progress) as bar:
                for t in tasks:
                    out.append(_simulate(t))
                    bar.update()
            return out
        pool = self._executor()
        # Submit before the progress bar exists: workers are forked at the first submission.
        # Python 3.12 warns about fork whenever the process has several OS threads; fork is only
        # chosen when no other Python thread runs (numpy's BLAS pool threads hold no Python
        # locks), so that warning is silenced here and only here.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message=r".*use of fork\(\) may lead to deadlocks",
                category=DeprecationWarning,
            )
            futures = {pool.submit(_simulate, t): i for i, t in enumerate(tasks)}
        results: list[BranchOutcome | None] = [None] * len(tasks)
        try:
            with _bar(len(tasks), desc, self.progress) as bar:
                for fut in cf.as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar.update()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        return [r for r in results if r is not None]


def _bar(total: int, desc: str, progress: bool | None) -> Any:
    """A progress bar without tqdm's monitor thread (it would make later forks unsafe)."""
    from tqdm.auto import tqdm

    class _Bar(tqdm):  # type: ignore[misc, valid-type]
        monitor_interval = 0

    disable = None if progress is None else not progress
    return _Bar(total=total, desc=desc, unit="batch", disable=disable, leave=False)


def _members(
    scenario: Scenario, ensemble: Sequence[Behaviour], overrides: dict[str, float]
) -> tuple[Scenario, ...]:
    if not ensemble:
        return (scenario,)
    return tuple(
        dataclasses.replace(scenario, behaviour=apply_overrides(b, overrides)) for b in ensemble
    )


def _chunks(runs: int) -> list[tuple[int, int]]:
    return [(a, min(a + CHUNK_RUNS, runs)) for a in range(0, runs, CHUNK_RUNS)]


def make_tasks(
    scenario: Scenario,
    *,
    runs: int,
    seed: int,
    populations: int,
    motion: str | None,
    vote_month: int,
    ensemble: Sequence[Behaviour] = (),
    overrides: dict[str, float] | None = None,
) -> list[_Task]:
    """Chunk tasks of one branch (chunk ``c`` is rooted at ``SeedSequence(seed, (c,))``)."""
    members = _members(scenario, ensemble, overrides or {})
    tasks = []
    for c, (a, b) in enumerate(_chunks(runs)):
        tasks.append(
            _Task(
                members=members,
                assign=np.arange(a, b) % len(members),
                seed=np.random.SeedSequence(seed, spawn_key=(c,)),
                populations=populations,
                motion=motion,
                vote_month=vote_month,
            )
        )
    return tasks


def run_branches(
    branches: Sequence[tuple[Scenario, str | None]],
    *,
    runs: int,
    seed: int,
    populations: int,
    vote_month: int,
    runner: Runner,
    ensemble: Sequence[Behaviour] = (),
    overrides: dict[str, float] | None = None,
    desc: str = "forecast",
) -> list[BranchOutcome]:
    """Run several branches (scenario, motion label) on the same seeds; one outcome each."""
    all_tasks: list[_Task] = []
    spans = []
    for scenario, motion in branches:
        tasks = make_tasks(
            scenario,
            runs=runs,
            seed=seed,
            populations=populations,
            motion=motion,
            vote_month=vote_month,
            ensemble=ensemble,
            overrides=overrides,
        )
        spans.append((len(all_tasks), len(all_tasks) + len(tasks)))
        all_tasks.extend(tasks)
    done = runner.map(all_tasks, desc=desc)
    return [BranchOutcome.concat(done[a:b]) for a, b in spans]


def _check(runs: int, populations: int, seed: int) -> None:
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ConfigError(f"runs: got {runs!r}; expected an integer >= 1")
    if isinstance(populations, bool) or not isinstance(populations, int) or populations < 1:
        raise ConfigError(f"populations: got {populations!r}; expected an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed: got {seed!r}; expected an integer >= 0")


def resolve_ensemble(
    ensemble: Sequence[Behaviour] | str | os.PathLike[str] | None,
) -> list[Behaviour]:
    """Behaviour members to spread runs over.

    ``"auto"``: the package's fitted ensemble if any; ``None``: none; a path: that file's
    ensemble; a sequence: those members.
    """
    if ensemble is None:
        return []
    if isinstance(ensemble, str) and ensemble == "auto":
        return behaviour_ensemble()
    if isinstance(ensemble, str | os.PathLike):
        return behaviour_ensemble(ensemble)
    return list(ensemble)


def run_forecast(
    inp: ForecastInput,
    *,
    runs: int = 1000,
    seed: int | None = None,
    populations: int = 20,
    workers: int | None = None,
    ensemble: Sequence[Behaviour] | str | os.PathLike[str] | None = "auto",
    progress: bool | None = None,
    runner: Runner | None = None,
    on_done: Callable[[float], None] | None = None,
) -> ForecastResult:
    """Forecast a proposal: pass probability, vote distributions, collection and the firm.

    Parameters
    ----------
    inp : ForecastInput
        The community and its proposal (:func:`feesim.studies.forecast.load_forecast_input`).
    runs : int
        Replicates of each branch.
    seed : int, optional
        Root seed (default: the file's seed).
    populations : int
        Household populations drawn per chunk of :data:`CHUNK_RUNS` runs (shared by the runs;
        every later decision is drawn per run).
    workers : int, optional
        Worker processes (default: up to two); results do not depend on it.
    ensemble : list of Behaviour, "auto", a path, or None
        Behaviour parameter sets to spread the runs over; ``"auto"`` takes the package's
        fitted ensemble when there is one; ``None`` uses the file's behaviour only.
    progress : bool, optional
        Progress bar (default: when writing to a terminal).
    runner : Runner, optional
        Reuse a runner (and its worker pool).

    Returns
    -------
    ForecastResult
    """
    seed = inp.seed if seed is None else seed
    _check(runs, populations, seed)
    members = resolve_ensemble(ensemble)
    started = time.perf_counter()
    own = runner is None
    runner = Runner(workers, progress) if runner is None else runner
    try:
        null = inp.is_null()
        motion = f"scenario:{inp.motion_key}"
        branches: list[tuple[Scenario, str | None]] = [(inp.status_quo, None)]
        if not null:
            branches.append((inp.scenario(), motion))
            # The same process without the step: how much of the change is the process.
            branches.append((inp.scenario(inp.process_only()), motion))
        out = run_branches(
            branches,
            runs=runs,
            seed=seed,
            populations=populations,
            vote_month=inp.vote_month,
            runner=runner,
            ensemble=members,
            overrides=inp.local_behaviour,
        )
    finally:
        if own:
            runner.close()
    status_quo = out[0]
    proposal = out[1] if not null else status_quo
    process = out[2] if not null else status_quo
    elapsed = time.perf_counter() - started
    if on_done is not None:
        on_done(elapsed)
    return ForecastResult.build(
        inp,
        status_quo=status_quo,
        proposal=proposal,
        process=process,
        runs=runs,
        seed=seed,
        populations=populations,
        ensemble_members=len(members),
        elapsed_s=elapsed,
    )
