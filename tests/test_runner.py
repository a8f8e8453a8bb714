"""The one runner: every study on any executor, failures kept as data, lost work rerun, and one
process-pool factory for the whole package."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os

import numpy as np
import pandas as pd
import pytest

from feesim.config.scenario import Scenario
from feesim.errors import ConfigError, SimulationError
from feesim.studies import runner as runner_module
from feesim.studies import sensitivity as sa
from feesim.studies.bench import bench_scaling
from feesim.studies.ensemble import Ensemble
from feesim.studies.forecast import run_forecast
from feesim.studies.portfolio import Portfolio, run_portfolio
from feesim.studies.runner import MAX_RESTARTS, Failed, RemoteError, Runner, process_pool
from tests.test_forecast import community
from tests.test_portfolio import small_table


# -- work units of the generic tests (top level: process pools pickle them by name) ----------
def square(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x * x


def die_once_in_a_worker(task: tuple[int, int, str]) -> int:
    """End the worker process running it, the first time any unit runs in a worker."""
    x, parent, marker = task
    if os.getpid() != parent:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return x
        os.close(fd)
        os._exit(1)
    return x


def die_in_any_worker(task: tuple[int, int]) -> int:
    """End the worker process running it, every time; succeed in the parent only."""
    x, parent = task
    if os.getpid() != parent:
        os._exit(1)
    return x


# -- the runner itself -------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["serial", "threads", "processes"])
def test_a_failing_unit_is_kept_at_its_place_and_the_rest_complete(where):
    tasks = list(range(6))
    if where == "threads":
        with cf.ThreadPoolExecutor(2) as pool, Runner(pool, progress=False) as runner:
            out = runner.map(square, tasks)
    else:
        with Runner(where, workers=2, progress=False) as runner:
            out = runner.map(square, tasks)
    assert [o for i, o in enumerate(out) if i != 3] == [0, 1, 4, 16, 25]
    failed = out[3]
    assert isinstance(failed, Failed) and failed.task == 3
    assert failed.error == "ValueError: three is not allowed"
    assert "in square" in failed.traceback
    with pytest.raises(ValueError, match="three is not allowed") as err:
        failed.reraise()
    assert isinstance(err.value.__cause__, RemoteError)


def test_a_lazy_feed_keeps_its_order_within_a_window():
    seen = []

    def feed():
        for x in (5, 1, 4, 2, 0):
            seen.append(x)
            yield x

    with cf.ThreadPoolExecutor(2) as pool:
        out = Runner(pool, progress=False).map(square, feed(), count=5, window=2)
    assert out == [25, 1, 16, 4, 0] and seen == [5, 1, 4, 2, 0]


def test_own_pool_broken_by_a_dead_worker_is_rebuilt(tmp_path, caplog):
    tasks = [(x, os.getpid(), str(tmp_path / "died")) for x in range(6)]
    with caplog.at_level(logging.WARNING), Runner(workers=2, progress=False) as runner:
        out = runner.map(die_once_in_a_worker, tasks)
    assert out == list(range(6))
    assert (tmp_path / "died").exists()
    assert "restarting the pool" in caplog.text and "rerunning it here" not in caplog.text


def test_units_lost_every_time_are_rerun_here_after_the_restarts(caplog):
    tasks = [(x, os.getpid()) for x in range(3)]
    with caplog.at_level(logging.WARNING), Runner(workers=2, progress=False) as runner:
        out = runner.map(die_in_any_worker, tasks)
    assert out == [0, 1, 2]
    assert caplog.text.count("restarting the pool") == MAX_RESTARTS
    assert caplog.text.count("rerunning it here") == 3


class _LosesUnitTwo(cf.ThreadPoolExecutor):
    """A caller's executor that loses unit 2 (as a cluster whose worker died would)."""

    def submit(self, fn, /, *args, **kwargs):
        if args[1:] == (2,):
            fut: cf.Future = cf.Future()
            fut.set_exception(RuntimeError("worker lost"))
            return fut
        return super().submit(fn, *args, **kwargs)


def test_units_lost_on_a_callers_executor_are_rerun_here(caplog):
    with caplog.at_level(logging.WARNING), _LosesUnitTwo(2) as pool:
        out = Runner(pool, progress=False).map(square, [0, 1, 2, 4])
    assert out == [0, 1, 4, 16]
    assert "work unit 2 of work was lost (RuntimeError('worker lost'))" in caplog.text


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ConfigError, match="executor: got 'gpu'; expected an Executor"):
        Runner("gpu")
    with pytest.raises(ConfigError, match="workers: got 0; expected an integer >= 1"):
        Runner(workers=0)
    with pytest.raises(ConfigError, match="scheduler: got 'tcp://x:1' and an executor"):
        Runner("serial", scheduler="tcp://x:1")
    with pytest.raises(ConfigError, match="start: got 'telepathy'"):
        process_pool(1, start="telepathy")


# -- every study on the runner -----------------------------------------------------------------
def _ensemble(small_scenario, executor, **kw):
    ens = Ensemble(small_scenario, replicates=8, rng=11, chunk_households=480)
    return ens.run(executor, progress=False, **kw).series


def _forecast(small_scenario, executor, **kw):
    # 510 runs: two batches per branch.
    r = run_forecast(
        community(), runs=510, populations=4, ensemble=None, executor=executor, progress=False, **kw
    )
    out = r.to_dict()
    out.pop("elapsed_s")
    return out


def _sensitivity(small_scenario, executor, **kw):
    sc = small_scenario.with_changes(**{"simulation.months": 12})
    d = sa.design([sa.Factor("committee.door_to_door_intensity", 0.2, 0.9)], 2, rng=1)
    return sa.evaluate(sc, d, executor=executor, progress=False, **kw).table


def _portfolio(small_scenario, executor, **kw):
    base = Scenario().with_changes(**{"simulation.months": 12})
    pf = Portfolio(name="t", base=base, table=small_table(6), seed=3, chunk_households=300)
    return run_portfolio(pf, executor=executor, progress=False, **kw).communities


STUDIES = {
    "ensemble": _ensemble,
    "forecast": _forecast,
    "sensitivity": _sensitivity,
    "portfolio": _portfolio,
}


def _same(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        assert a == b


@pytest.mark.parametrize("study", STUDIES)
def test_every_study_runs_on_a_callers_executor_with_the_serial_numbers(study, small_scenario):
    run = STUDIES[study]
    serial = run(small_scenario, "serial")
    with cf.ThreadPoolExecutor(2) as pool:
        threaded = run(small_scenario, pool)
    _same(serial, threaded)


def test_every_study_makes_its_pools_with_the_one_factory(monkeypatch, small_scenario):
    made: list[tuple[int | None, str]] = []

    def factory(workers=None, *, start="auto"):
        made.append((workers, start))
        return cf.ThreadPoolExecutor(workers or 2)

    monkeypatch.setattr(runner_module, "process_pool", factory)
    for name, run in STUDIES.items():
        before = len(made)
        run(small_scenario, None, workers=2)
        assert len(made) == before + 1, f"{name} did not use feesim.studies.runner.process_pool"
    bench_scaling(chunks=2, chunk_households=2000, months=1, repeat=1)
    assert made[-2:] == [(1, "forkserver"), (2, "forkserver")]


# -- failures as data, in each study -----------------------------------------------------------
def test_a_failing_work_unit_is_data_in_every_study(small_scenario, broken_engine):
    broken = small_scenario.with_changes(**{"meta.name": broken_engine})
    with cf.ThreadPoolExecutor(2) as pool:
        # ensemble: the broken scenario's members fail; the others complete
        ens = Ensemble({"a": small_scenario, "b": broken}, replicates=3, rng=1).run(
            pool, progress=False
        )
        assert ens.failures["key"].tolist() == ["b"] * 3
        assert (ens.members.loc[ens.members["key"] == "a", "status"] == "ok").all()
        # sensitivity (one scenario per work unit): the broken unit's member is a row with its
        # error and the points have no value; the other units complete
        sc = small_scenario.with_changes(**{"simulation.months": 12})
        d = sa.design([sa.Factor("committee.door_to_door_intensity", 0.2, 0.9)], 2, rng=1)
        ev = sa.evaluate(
            {"ok": sc, "bad": sc.with_changes(**{"meta.name": broken_engine})},
            d,
            executor=pool,
            chunk_households=sc.community.households,
            progress=False,
        )
        assert set(ev.failures["key"]) == {"bad"} and len(ev.failures) == d.points
        assert "failed on purpose" in ev.failures["error"].iloc[0]
        good = ev.members[ev.members["key"] == "ok"]
        assert (good["status"] == "ok").all() and np.isfinite(good["collection"]).all()
        assert (ev.table["failed"] == 1).all() and ev.table["value"].isna().all()
        # portfolio: one community fails, the others are reported
        table = small_table(6)
        table.loc[2, "community"] = broken_engine
        pf = Portfolio(
            name="t",
            base=Scenario().with_changes(**{"simulation.months": 12}),
            table=table,
            seed=3,
            chunk_households=300,
        )
        res = run_portfolio(pf, executor=pool, progress=False)
        status = res.communities.set_index("community")["status"]
        assert status[broken_engine] == "failed" and (status.drop(broken_engine) == "ok").all()
        assert res.total["failed"] == 1 and res.total["communities"] == 6
        # forecast: a probability cannot be quoted on part of the runs; the error is raised
        inp = community(**{"community.name": broken_engine})
        with pytest.raises(SimulationError, match="failed on purpose"):
            run_forecast(inp, runs=20, ensemble=None, executor=pool, progress=False)


# -- signals while the runner waits --------------------------------------------------------------
def slow_square(x: int) -> int:
    import time

    time.sleep(0.3)
    return x * x


class _StopError(Exception):
    """What a signal handler raises (as the command line's Terminated, or Ctrl-C)."""


def test_a_signal_inside_the_futures_locks_waits_until_they_are_released(monkeypatch):
    # The race seen in CI (one SIGTERM in about twenty): the signal's exception is raised while
    # cf.wait holds the futures' locks, which then stay held; the pool's threads block on them
    # and the interpreter hangs at exit. Here the signal is sent at exactly that point.
    import signal
    import threading
    from concurrent.futures import _base

    real_enter = _base._AcquireFutures.__enter__
    sent: list[bool] = []

    def enter_and_signal(self):
        real_enter(self)  # every future's lock is held now
        if not sent:
            sent.append(True)
            signal.raise_signal(signal.SIGTERM)

    def stop(signum, frame):
        raise _StopError()

    monkeypatch.setattr(_base._AcquireFutures, "__enter__", enter_and_signal)
    previous = signal.signal(signal.SIGTERM, stop)
    pool = cf.ThreadPoolExecutor(2)
    submitted: list[cf.Future] = []
    real_submit = pool.submit

    def keep(*args, **kwargs):
        fut = real_submit(*args, **kwargs)
        submitted.append(fut)
        return fut

    pool.submit = keep  # type: ignore[method-assign]
    try:
        with pytest.raises(_StopError):
            Runner(executor=pool, progress=False).map(slow_square, [1, 2, 3, 4])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert sent
    # another thread (as the pool's own) can take every future's lock
    free: list[bool] = []

    def take_each_lock() -> None:
        for f in submitted:
            got = f._condition.acquire(timeout=2)
            free.append(got)
            if got:
                f._condition.release()

    probe = threading.Thread(target=take_each_lock)
    probe.start()
    probe.join()
    assert free and all(free)
    pool.shutdown(wait=True, cancel_futures=True)


def test_held_signals_delivers_the_signal_when_the_block_ends():
    import signal

    from feesim.studies.runner import held_signals

    def stop(signum, frame):
        raise _StopError()

    previous = signal.signal(signal.SIGTERM, stop)
    reached: list[str] = []
    try:
        with pytest.raises(_StopError):
            with held_signals():
                signal.raise_signal(signal.SIGTERM)
                reached.append("after the signal")
            reached.append("after the block")
        assert signal.getsignal(signal.SIGTERM) is stop
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert reached == ["after the signal"]


def test_held_signals_delivers_the_signal_when_the_body_raises_too():
    # A broken pool's error inside the block must not swallow a Ctrl-C or SIGTERM.
    import signal

    from feesim.studies.runner import held_signals

    def stop(signum, frame):
        raise _StopError()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(_StopError), held_signals():
            signal.raise_signal(signal.SIGTERM)
            raise RuntimeError("the pool broke")
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_held_signals_delivers_every_signal_caught():
    # An ignored Ctrl-C (a background job) must not hide the SIGTERM that follows it.
    import signal

    from feesim.studies.runner import held_signals

    def stop(signum, frame):
        raise _StopError()

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(_StopError), held_signals():
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGTERM)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def test_held_signals_restores_every_handler_when_a_pending_one_raises(monkeypatch):
    # signal.signal runs pending handlers before installing: a Ctrl-C arriving as the block
    # ends raises inside the restoration; the SIGTERM handler must still be put back.
    import signal

    from feesim.studies import runner as r

    real = signal.signal
    raised: list[int] = []

    def flaky(signum, handler):
        if signum == signal.SIGTERM and handler is not r_record() and not raised:
            raised.append(signum)
            raise KeyboardInterrupt  # what the restored SIGINT handler raised
        return real(signum, handler)

    installed: dict[int, object] = {}

    def r_record():
        return installed.get(signal.SIGTERM)

    def spy(signum, handler):
        if signum == signal.SIGTERM and not installed:
            installed[signum] = handler
        return flaky(signum, handler)

    def stop(signum, frame):
        raise _StopError()

    previous = real(signal.SIGTERM, stop)
    monkeypatch.setattr(r.signal, "signal", spy)
    try:
        with pytest.raises(KeyboardInterrupt), r.held_signals():
            pass
        assert raised == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is stop
    finally:
        monkeypatch.undo()
        real(signal.SIGTERM, previous)
