"""The one runner of every study: work units on any executor, failures kept as data.

A study cuts its work into *work units*: picklable tasks handed to one top-level function
(``fn(task)``). Each unit carries its own seed, so results depend on the units only, never on
where, in which order or on how many workers they run. Ensembles (chunks of members), forecasts
(batches of runs of one branch), sensitivity evaluations (chunks of one design point) and
portfolios (through :class:`~feesim.studies.ensemble.Ensemble`) all run their units with
:meth:`Runner.map`:

- *where*: any :class:`concurrent.futures.Executor` the caller gives (a thread pool, a process
  pool, ``client.get_executor()`` of ``dask.distributed``), a Dask scheduler by address
  (``scheduler=``), this process (``"serial"``), or a local process pool made by
  :func:`process_pool` (``"processes"``; by default whenever there is more than one unit and
  ``workers != 1``). A :class:`Runner` used as a context manager keeps its pool (or Dask
  client) open across calls, so a study of many small steps (the forecast's step search) starts
  its workers once;
- *failures are data*: a unit whose function raises comes back as :class:`Failed` (its error,
  the traceback, the exception and the unit itself) at its place in the results; the other
  units complete;
- *work lost with a worker is rerun*: a local pool broken by a dead worker is rebuilt (at most
  :data:`MAX_RESTARTS` times per call) and the units it lost are resubmitted; units whose future
  fails on any other executor (a Dask task whose workers kept dying, a caller's broken pool) are
  rerun in this process at the end. A unit is self-contained and seeded, so a rerun gives
  exactly what the lost run would have;
- one progress bar per call.

:func:`process_pool` is the package's only process-pool factory: workers are forked from a
single-threaded process on Linux (they inherit the imported model code, which is what makes a
one-second forecast possible), and otherwise started from a fork server that has imported the
model code once (:data:`PRELOAD`; safe when the parent runs threads, e.g. a notebook, a Dask
client or the dashboard).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import math
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from feesim.errors import ConfigError, FeesimError

__all__ = [
    "MAX_RESTARTS",
    "PRELOAD",
    "Failed",
    "Runner",
    "available_cores",
    "process_pool",
    "progress_bar",
    "terminate_pool",
]

log = logging.getLogger(__name__)

#: Times a call rebuilds its own local pool after a worker died, before rerunning here.
MAX_RESTARTS = 3
#: Seconds the runner waits for work with Ctrl-C and SIGTERM held (see held_signals).
SIGNAL_SLICE_S = 0.25
#: Modules a fork server imports once, so that the workers it starts have the model code.
PRELOAD = (
    "feesim.engine.model",
    "feesim.studies.ensemble",
    "feesim.studies.forecast.engine",
    "feesim.studies.sensitivity.evaluation",
)
START_METHODS = ("auto", "fork", "forkserver", "spawn")


# ==============================================================================================
# the process-pool factory
# ==============================================================================================
def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells, else the CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _start_method(start: str) -> str:
    methods = multiprocessing.get_all_start_methods()
    if start != "auto":
        if start not in methods:
            raise ConfigError(
                f"start: got {start!r}; expected one of {', '.join(START_METHODS)} "
                f"available here ({', '.join(methods)})"
            )
        return start
    # Fork is fastest (workers inherit the imported model code) but is only safe from a process
    # without other Python threads; macOS's system libraries are not fork-safe at all (which is
    # why CPython stopped forking there by default), so auto forks on Linux only.
    if sys.platform.startswith("linux") and "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def process_pool(workers: int | None = None, *, start: str = "auto") -> cf.ProcessPoolExecutor:
    """A local pool of worker processes: the only process-pool factory of the package.

    Parameters
    ----------
    workers : int, optional
        Worker processes (default: :func:`available_cores`).
    start : {"auto", "fork", "forkserver", "spawn"}
        How workers start. ``"auto"``: fork from a single-threaded process on Linux, else a fork
        server (with :data:`PRELOAD` imported), else spawn. The choice is made here, for this
        pool only; nothing changes :mod:`multiprocessing` defaults.

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
    """
    if start not in START_METHODS:
        raise ConfigError(f"start: got {start!r}; expected one of {', '.join(START_METHODS)}")
    method = _start_method(start)
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        # Takes effect when this process starts its fork server (once); later pools reuse it.
        ctx.set_forkserver_preload(list(PRELOAD))
    n = available_cores() if workers is None else workers
    log.debug("process pool: %d worker(s), start method %s", n, method)
    return cf.ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_worker_signals)


def _worker_signals() -> None:
    """Signals in a pool worker: Ctrl-C is the parent's to handle, SIGTERM ends the worker.

    Ctrl-C at a terminal reaches the whole process group; the workers ignore it so that the
    parent alone decides (it stops them, :meth:`Runner.close`) and no worker prints a
    traceback. A forked worker would otherwise inherit the parent's SIGTERM handler (the
    command line's, which unwinds the parent); the default ends the worker at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) and SIGTERM off for the duration; deliver them on the way out.

    ``concurrent.futures`` takes the futures' and the pool's locks in plain ``with``
    statements. An exception raised by a signal handler between a lock's acquisition and its
    ``with`` block (Ctrl-C's ``KeyboardInterrupt``, the command line's ``Terminated``) leaves
    the lock held for ever; the pool's manager thread then blocks on it, and the interpreter,
    which joins that thread at exit, hangs after the command has said it stopped (seen: one
    SIGTERM in about twenty, Python 3.12). Inside this block a signal is only recorded; it is
    raised again, to the handler it was meant for, once the locks are released. Only the main
    thread receives Python's signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def record(signum: int, frame: object) -> None:
        if signum not in caught:
            caught.append(signum)

    previous: dict[int, Any] = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, record)
        yield
    finally:
        # Delivered also when the body raised (a broken pool's error must not swallow a Ctrl-C),
        # every signal caught (a SIGTERM after an ignored SIGINT is not lost).
        first = _restore_handlers(previous)
        for signum in caught:
            try:
                signal.raise_signal(signum)
            except BaseException as exc:  # the handler's own exception, e.g. KeyboardInterrupt
                first = first or exc
        if first is not None:
            raise first


def _restore_handlers(previous: dict[int, Any]) -> BaseException | None:
    """Put the handlers back; returns what a pending signal's handler raised meanwhile.

    ``signal.signal`` runs the handlers of signals already pending before it installs a new
    one; if one raises (the SIGINT handler restored a moment before), the installation is
    retried, so that no handler is left recording into a block that has ended.
    """
    first: BaseException | None = None
    for signum, handler in previous.items():
        for _ in range(10):
            try:
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
                break
            except BaseException as exc:
                first = first or exc
    return first


def _wait_first(pending: Iterable[cf.Future]) -> set[cf.Future]:
    """The finished futures among ``pending``, waiting for at least one.

    Waits in short slices with the signals held (:func:`held_signals`), so that Ctrl-C or
    SIGTERM is delivered between slices, never while ``cf.wait`` holds the futures' locks.
    """
    while True:
        with held_signals():
            done, _ = cf.wait(pending, timeout=SIGNAL_SLICE_S, return_when=cf.FIRST_COMPLETED)
        if done:
            return done


def _wait_all(pending: Iterable[cf.Future]) -> None:
    """Wait until every future of ``pending`` is done, in slices as :func:`_wait_first`."""
    left = set(pending)
    while left:
        left -= _wait_first(left)


def terminate_pool(pool: cf.ProcessPoolExecutor, timeout: float = 5.0) -> None:
    """Stop a local pool now: cancel queued work and end its worker processes.

    Used when the caller gives up on the work (an error, Ctrl-C, SIGTERM): a plain shutdown
    would wait for the units in flight, which can take minutes. Python 3.14's
    ``ProcessPoolExecutor.terminate_workers`` does this; before it the pool's processes are
    read from its ``_processes`` table.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(timeout)
            if proc.is_alive():  # pragma: no cover - a worker that ignores SIGTERM
                proc.kill()


def _connect(client: Callable[..., Any], address: str) -> Any:
    """A Dask client on ``address``; a malformed or dead address is a one-line error.

    The address is parsed and, for TCP, tried with a plain socket first: a ``Client`` that
    fails to connect prints a traceback of its own when it is garbage collected.
    """
    import socket

    from distributed.comm import parse_address, parse_host_port

    def refuse(detail: str) -> ConfigError:
        return ConfigError(
            f"--scheduler: got {address!r}; {detail}; expected the address of a running "
            "dask.distributed scheduler, such as tcp://10.0.0.5:8786"
        )

    try:
        scheme, location = parse_address(address)
        if scheme in ("tcp", "tls"):
            host, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise refuse(f"not an address ({exc})") from None
    if scheme in ("tcp", "tls"):
        try:
            socket.create_connection((host, port), timeout=5).close()
        except OSError as exc:
            raise refuse(f"no scheduler answers there ({exc.strerror or exc})") from None
    try:
        return client(address, timeout="10s")
    except (OSError, ValueError) as exc:  # pragma: no cover - answered the socket, not Dask
        first = str(exc).splitlines()[0] if str(exc) else repr(exc)
        raise refuse(f"cannot connect ({first})") from None


# ==============================================================================================
# failures as data
# ==============================================================================================
class RemoteError(Exception):
    """The traceback of a failure in a worker, attached as the cause when it is re-raised."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Failed:
    """A work unit whose function raised, kept at its place in the results.

    Attributes
    ----------
    error : str
        The exception in one line (``"ConfigError: ..."``).
    traceback : str
        The formatted traceback, from wherever the unit ran.
    exception : BaseException or None
        The exception itself (``None`` if it could not travel back from the worker).
    task : object
        The unit that failed (set by :meth:`Runner.map`).
    """

    error: str
    traceback: str = ""
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    task: Any = field(default=None, compare=False, repr=False)

    def reraise(self) -> NoReturn:
        """Raise the unit's exception here, with the worker's traceback as its cause."""
        exc = self.exception if self.exception is not None else FeesimError(self.error)
        raise exc from RemoteError(self.traceback)


def _failure(exc: Exception) -> Failed:
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    text = "".join(traceback.format_exception(exc))
    kept: BaseException | None = exc
    try:  # an exception that cannot be pickled would lose the whole result on its way back
        pickle.loads(pickle.dumps(exc))
    except Exception:
        kept = None
    return Failed(error, text, kept)


def _call(fn: Callable[[Any], Any], task: Any) -> Any:
    """Run one unit wherever it is sent; an exception comes back as :class:`Failed`."""
    try:
        return fn(task)
    except Exception as exc:
        return _failure(exc)


# ==============================================================================================
# the runner
# ==============================================================================================
def progress_bar(
    total: float | None, desc: str, unit: str, progress: bool | None, leave: bool = False
) -> Any:
    """A tqdm progress bar without tqdm's monitor thread.

    The thread would make this process multi-threaded, and :func:`process_pool` then starts
    its workers from a fork server instead of forking them (slower to start, and the workers
    import the model code again). ``progress``: ``None`` shows the bar on a terminal only.
    """
    from tqdm.auto import tqdm

    class _Bar(tqdm):  # type: ignore[misc, valid-type]
        monitor_interval = 0

    disable = None if progress is None else not progress
    return _Bar(total=total, desc=desc, unit=unit, disable=disable, leave=leave)


def _submit(executor: cf.Executor, fn: Callable[[Any], Any], task: Any) -> cf.Future:
    # A forking pool starts its workers at the first submission. Python 3.12 warns about fork
    # whenever the process has several OS threads; the factory forks only when no other Python
    # thread runs (numpy's BLAS threads hold no Python locks), so that warning is silenced here
    # and only here.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r".*use of fork\(\) may lead to deadlocks",
            category=DeprecationWarning,
        )
        return executor.submit(_call, fn, task)


class Runner:
    """Runs work units on an executor, in this process or on its own local process pool.

    Parameters
    ----------
    executor : Executor, "serial", "processes" or None
        Where units run: any :class:`concurrent.futures.Executor` (kept open: the caller owns
        it), this process (``"serial"``), or a local process pool from :func:`process_pool`
        (``"processes"``). ``None``: this process when ``workers == 1`` or a call has a single
        unit, else the local pool.
    workers : int, optional
        Size of the local pool (default: :func:`available_cores`).
    scheduler : str, optional
        Address of a ``dask.distributed`` scheduler; units run on
        ``Client(scheduler).get_executor()`` (install ``feesim[distributed]``).
    progress : bool, optional
        Show a progress bar per call (default: when the output is a terminal).

    Notes
    -----
    Use as a context manager (or call :meth:`close`): the local pool and the Dask client are
    made on first use and kept until then.

    Examples
    --------
    >>> with Runner(workers=2) as runner:                        # doctest: +SKIP
    ...     a = run_forecast(inp, runner=runner)
    ...     b = search_step(inp, runner=runner)                   # same worker processes
    """

    def __init__(
        self,
        executor: cf.Executor | str | None = None,
        *,
        workers: int | None = None,
        scheduler: str | None = None,
        progress: bool | None = None,
    ) -> None:
        if not (executor is None or executor in ("serial", "processes")) and not isinstance(
            executor, cf.Executor
        ):
            raise ConfigError(
                f"executor: got {executor!r}; expected an Executor, 'serial' or 'processes'"
            )
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise ConfigError(f"workers: got {workers!r}; expected an integer >= 1")
        if scheduler is not None and executor is not None:
            raise ConfigError(
                f"scheduler: got {scheduler!r} and an executor ({executor!r}); expected one of them"
            )
        self.executor = executor
        self.workers = workers
        self.scheduler = scheduler
        self.progress = progress
        self._pool: cf.ProcessPoolExecutor | None = None
        self._client: Any = None

    @classmethod
    @contextlib.contextmanager
    def using(
        cls, executor: Runner | cf.Executor | str | None = None, **kwargs: Any
    ) -> Iterator[Runner]:
        """The given runner as is, or a new one on ``executor`` closed on exit.

        ``kwargs`` (``workers``, ``scheduler``, ``progress``) apply to a new runner only.
        """
        if isinstance(executor, Runner):
            yield executor
            return
        with cls(executor, **kwargs) as runner:
            yield runner

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close(terminate=kind is not None)

    def close(self, terminate: bool = False) -> None:
        """Shut the local pool down and close the Dask client (a given executor stays open).

        Parameters
        ----------
        terminate : bool
            End the local workers now instead of waiting for the units in flight (what the
            context manager does when its body raises, e.g. on Ctrl-C or SIGTERM, so that no
            worker outlives the work).
        """
        if self._pool is not None:
            if terminate:
                terminate_pool(self._pool)
            else:
                self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def _target(self, count: int | None) -> cf.Executor | None:
        """Where a call of ``count`` units runs (``None``: this process)."""
        if self.scheduler is not None:
            if self._client is None:
                try:
                    from distributed import Client
                except ImportError:  # pragma: no cover - depends on the extra
                    raise FeesimError(
                        "scheduler: dask.distributed is not installed; "
                        "pip install 'feesim[distributed]'"
                    ) from None
                self._client = _connect(Client, self.scheduler)
            return self._client.get_executor()
        if isinstance(self.executor, cf.Executor):
            return self.executor
        if self.executor == "serial":
            return None
        if self.executor is None and (self.workers == 1 or count == 1):
            return None
        if self._pool is None:
            # No more processes than units: a 20-run forecast on --workers 64 starts 4.
            n = self.workers or available_cores()
            self._pool = process_pool(n if count is None else max(1, min(n, count)))
        return self._pool

    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Iterable[Any],
        *,
        desc: str = "work",
        unit: str = "unit",
        size: Callable[[Any], int] | None = None,
        total: int | None = None,
        count: int | None = None,
        window: int | None = None,
    ) -> list[Any]:
        """Run ``fn`` on every task; results in task order, a :class:`Failed` for each failure.

        Parameters
        ----------
        fn : callable
            A top-level (picklable) function of one task.
        tasks : iterable
            The work units, each picklable; an iterator is consumed as units are submitted.
        desc, unit : str
            Label and unit of the progress bar.
        size : callable, optional
            Progress counted per task (default 1), e.g. the members of a chunk.
        total : int, optional
            Progress of all tasks (default: summed over ``tasks`` when it is a sequence).
        count : int, optional
            Number of tasks when ``tasks`` is an iterator (decides this process vs. a pool).
        window : int, optional
            Units in flight at most (default: all), so that a lazily built sweep stays small.

        Returns
        -------
        list
            ``fn(task)`` of each task, or :class:`Failed` where it raised (also after a rerun).
        """
        weight = size or (lambda _task: 1)
        if isinstance(tasks, Sequence):
            count = len(tasks) if count is None else count
            total = sum(weight(t) for t in tasks) if total is None else total
        # The pool is made (and a fork decided) before the progress bar exists.
        target = self._target(count)
        results: dict[int, Any] = {}
        with progress_bar(total, desc, unit, self.progress) as bar:

            def finish(i: int, task: Any, out: Any) -> None:
                results[i] = replace(out, task=task) if isinstance(out, Failed) else out
                bar.update(weight(task))

            if target is None:
                for i, task in enumerate(tasks):
                    finish(i, task, _call(fn, task))
            else:
                lost = self._drive(fn, tasks, target, finish, window)
                for i, task, error in lost:
                    log.warning(
                        "work unit %d of %s was lost (%s); rerunning it here", i, desc, error
                    )
                    finish(i, task, _call(fn, task))
        return [results[i] for i in range(len(results))]

    def _drive(
        self,
        fn: Callable[[Any], Any],
        tasks: Iterable[Any],
        target: cf.Executor,
        finish: Callable[[int, Any, Any], None],
        window: int | None,
    ) -> list[tuple[int, Any, str]]:
        """Submit every task to ``target`` and collect; returns the units lost (to rerun here).

        On this runner's own pool, a dead worker breaks the pool: every unit in flight is lost
        with it; the pool is rebuilt (at most :data:`MAX_RESTARTS` times) and they are
        resubmitted first.
        """
        feed = enumerate(tasks)
        exhausted = False
        again: list[tuple[int, Any]] = []  # units to resubmit on a rebuilt pool
        pending: dict[cf.Future, tuple[int, Any]] = {}
        lost: list[tuple[int, Any, str]] = []
        limit = math.inf if window is None else max(1, window)
        restarts = 0

        def collect(futures: Iterable[cf.Future], broken: list[tuple[int, Any, str]]) -> None:
            for fut in futures:
                i, task = pending.pop(fut)
                try:
                    with held_signals():
                        out = fut.result()
                except Exception as exc:  # lost with a worker, a broken pool, a Dask failure
                    (broken if self._restartable(target, exc) else lost).append(
                        (i, task, repr(exc))
                    )
                else:
                    finish(i, task, out)

        try:
            while True:
                broken: list[tuple[int, Any, str]] = []
                while len(pending) < limit:
                    if again:
                        i, task = again.pop(0)
                    elif not exhausted:
                        try:
                            i, task = next(feed)
                        except StopIteration:
                            exhausted = True
                            continue
                    else:
                        break
                    try:
                        with held_signals():
                            fut = _submit(target, fn, task)
                        pending[fut] = (i, task)
                    except Exception as exc:  # a broken pool refuses new work
                        (broken if self._restartable(target, exc) else lost).append(
                            (i, task, repr(exc))
                        )
                        break
                if pending:
                    done = _wait_first(pending)
                    collect(done, broken)
                if broken:
                    # Everything in flight goes down with the pool; wait for all of it.
                    _wait_all(pending)
                    collect(list(pending), broken)
                    if restarts < MAX_RESTARTS:
                        restarts += 1
                        log.warning(
                            "a worker died; restarting the pool for %d unit(s) (in a script, "
                            'keep the work under if __name__ == "__main__": workers that start '
                            "by importing the script would run it again)",
                            len(broken),
                        )
                        self._pool.shutdown(wait=False, cancel_futures=True)  # type: ignore[union-attr]
                        self._pool = target = process_pool(self.workers)  # type: ignore[assignment]
                        again = sorted([(i, t) for i, t, _ in broken] + again, key=lambda x: x[0])
                    else:
                        lost.extend(broken)
                if not pending and not again and exhausted:
                    return lost
        except BaseException as exc:
            # A second Ctrl-C or SIGTERM waits until the workers are ended.
            with held_signals():
                for fut in pending:
                    fut.cancel()
                if target is self._pool and not isinstance(exc, Exception):
                    # Ctrl-C or SIGTERM: end the workers now, before the caller cleans up (a
                    # staged output folder they may still be writing chunks into).
                    self.close(terminate=True)
            raise

    def _restartable(self, target: cf.Executor, exc: BaseException) -> bool:
        """A failure this runner mends by rebuilding its own pool."""
        return target is self._pool and isinstance(exc, cf.BrokenExecutor)
