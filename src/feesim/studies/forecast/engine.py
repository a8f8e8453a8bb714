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

Chunks are work units of :class:`feesim.studies.runner.Runner`: spread over worker processes
(``workers``, default: up to two; with one worker everything runs in this process), over any
:class:`concurrent.futures.Executor` the caller gives (``executor=``), or over a runner the
caller keeps open across calls (``runner=``, as the step search does). A behaviour ensemble
(:mod:`feesim.studies.forecast.ensemble`) spreads runs over parameter sets: run ``r`` uses
member ``r % M``.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from feesim.config.behaviour import Behaviour
from feesim.config.scenario import Scenario
from feesim.errors import ConfigError
from feesim.seeding import rng_alias, root_seed
from feesim.studies.forecast.ensemble import (
    apply_overrides,
    behaviour_ensemble,
    fitted_model_error,
)
from feesim.studies.forecast.mapping import ForecastInput
from feesim.studies.forecast.outcomes import (
    EXIT_WINDOWS,
    SERIES,
    TESTS,
    BranchOutcome,
    VoteOutcomes,
)
from feesim.studies.forecast.result import ForecastResult
from feesim.studies.runner import Failed, Runner, available_cores

__all__ = [
    "CHUNK_RUNS",
    "EXIT_WINDOWS",
    "SERIES",
    "TESTS",
    "BranchOutcome",
    "Runner",
    "VoteOutcomes",
    "default_workers",
    "forecast_runner",
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
    """Worker processes used by default: the cores available, at most two.

    A forecast of 1,000 runs is four batches (two per branch), so more workers than two mostly
    add start-up time.
    """
    return max(1, min(2, available_cores()))


def forecast_runner(
    executor: Runner | cf.Executor | str | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> Runner:
    """The runner a forecast uses: ``executor`` if it is one, else a new one (close it).

    ``workers`` defaults to :func:`default_workers`; see :class:`~feesim.studies.runner.Runner`.
    """
    if isinstance(executor, Runner):
        return executor
    return Runner(
        executor, workers=default_workers() if workers is None else workers, progress=progress
    )


def run_tasks(
    runner: Runner, tasks: Sequence[_Task], desc: str = "forecast"
) -> list[BranchOutcome]:
    """Run chunk tasks on ``runner``, in order; a failed chunk raises its error here.

    A forecast cannot be quoted on part of its runs, so a failure is not kept as data.
    """
    done = runner.map(_simulate, tasks, desc=desc, unit="batch")
    for out in done:
        if isinstance(out, Failed):
            out.reraise()
    return done


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
    rng: int | None = None,
    populations: int,
    vote_month: int,
    runner: Runner,
    ensemble: Sequence[Behaviour] = (),
    overrides: dict[str, float] | None = None,
    desc: str = "forecast",
    seed: int | None = None,
) -> list[BranchOutcome]:
    """Run several branches (scenario, motion label) on the same seeds; one outcome each.

    ``rng`` is the root seed (a whole number, or a SeedSequence of one); ``seed`` its
    deprecated alias.
    """
    seed = root_seed(rng_alias(rng, seed), "rng")
    if seed is None:
        raise ConfigError("rng: missing; expected the root seed of the branches")
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
    done = run_tasks(runner, all_tasks, desc=desc)
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
    rng: int | np.random.SeedSequence | np.random.Generator | None = None,
    populations: int = 20,
    workers: int | None = None,
    ensemble: Sequence[Behaviour] | str | os.PathLike[str] | None = "auto",
    progress: bool | None = None,
    runner: Runner | None = None,
    executor: cf.Executor | str | None = None,
    on_done: Callable[[float], None] | None = None,
    seed: int | None = None,
) -> ForecastResult:
    """Forecast a proposal: pass probability, vote distributions, collection and the firm.

    Parameters
    ----------
    inp : ForecastInput
        The community and its proposal (:func:`feesim.studies.forecast.load_forecast_input`).
    runs : int
        Replicates of each branch.
    rng : int, SeedSequence or Generator, optional
        Root seed (SPEC 7; default: the file's seed). A SeedSequence of one whole number is
        that number; a Generator gives a root drawn from it.
    populations : int
        Household populations drawn per chunk of :data:`CHUNK_RUNS` runs (shared by the runs;
        every later decision is drawn per run).
    workers : int, optional
        Worker processes (default: up to two, :func:`default_workers`); results do not depend
        on it.
    ensemble : list of Behaviour, "auto", a path, or None
        Behaviour parameter sets to spread the runs over; ``"auto"`` takes the package's
        fitted ensemble when there is one; ``None`` uses the file's behaviour only.
    progress : bool, optional
        Progress bar (default: when writing to a terminal).
    runner : Runner, optional
        Reuse a runner (:class:`feesim.studies.runner.Runner`, and its worker pool) kept open by
        the caller; ``workers``, ``executor`` and ``progress`` are then its own.
    executor : Executor, "serial" or "processes", optional
        Where the batches run: any :class:`concurrent.futures.Executor` (e.g. a thread pool or
        Dask's ``client.get_executor()``), this process or a local process pool. Default: a
        local pool of ``workers`` processes (this process when ``workers == 1``). Results do
        not depend on it.
    on_done : callable, optional
        Called with the elapsed seconds when the runs are done.
    seed : int, optional
        Deprecated alias of ``rng``.

    Returns
    -------
    ForecastResult
    """
    seed = root_seed(rng_alias(rng, seed), "rng")
    seed = inp.seed if seed is None else seed
    _check(runs, populations, seed)
    members = resolve_ensemble(ensemble)
    started = time.perf_counter()
    own = runner is None
    runner = forecast_runner(executor if own else runner, workers, progress)
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
            rng=seed,
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
        model_error=_model_error(ensemble, inp),
    )


def _model_error(
    ensemble: Sequence[Behaviour] | str | os.PathLike[str] | None, inp: ForecastInput
) -> dict[str, float] | None:
    """The package's fitted model error, when the runs use the package's fitted model.

    That is: its ensemble (``"auto"``) or its point fit (``None``), with no coefficient of the
    community's own on top. An ensemble given as a file or as members, or a file that sets its
    own coefficients, is another model, whose error the calibration did not measure.
    """
    package = ensemble is None or (isinstance(ensemble, str) and ensemble == "auto")
    return fitted_model_error() if package and not inp.local_behaviour else None
