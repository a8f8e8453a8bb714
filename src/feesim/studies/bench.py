"""Benchmarks, measured in one run: ``feesim bench [--quick] [--json FILE]``.

What is measured (goals of issue 5 on a 2-core machine in brackets):

- ``household_steps_per_s``: household-months per second of the vectorised engine on one core,
  full household rules, a large batch of the frozen-fee community (>= 20 M);
- ``reference_household_steps_per_s``: the same rules as one Mesa agent per household
  (:mod:`feesim.studies.reference`), and ``ratio`` between the two (>= 100);
- ``city``: the synthetic Shanghai (``examples/city_shanghai.toml``; 27,500 communities,
  ~10 M households) for 120 months on 2 worker processes: wall time and peak memory (< 60 s,
  < 8 GiB); ``--quick`` runs a tenth of the city and says so;
- ``forecast``: 1,000 runs of a 2,000-household community over 36 months (< 5 s);
- ``scaling``: an ensemble on 2 worker processes against 1 (>= 1.8x);
- ``calibration``: a batch of the calibration's simulations (every case and example at a few
  parameter points, as in a Jacobian) in this process and on 2 worker processes, and the
  seconds of one simulation (the unit of the calibration's sequential polish), in one process and
  one at a time on 2 workers (its three batches, the cases and two examples, side by side). The full
  calibration's own timings are in ``calibration/REPORT.md``.

Timings are wall-clock seconds measured in the same process, once each except the scaling,
which keeps the best of three alternating runs per pool size (and reports all of them); the
machine description is part of the output. Nothing here is a test: the numbers are reported,
not asserted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from feesim.io import atomic_write_text

__all__ = ["machine", "run_benchmarks"]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def machine() -> dict[str, Any]:
    """Description of the machine the benchmarks ran on."""
    mem = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    mem = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:  # pragma: no cover - not Linux
        pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:  # pragma: no cover
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "load_average_1min_at_start": load,
    }


def _scenario(name: str, **changes: Any):
    from feesim.config.scenario import load_scenario

    sc = load_scenario(EXAMPLES / f"{name}.toml")
    return sc.with_changes(**changes) if changes else sc


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench_engine(households: int, months: int, runs: int) -> dict[str, float]:
    """Vectorised engine, one core: a batch of the frozen-fee community."""
    from feesim.engine.model import FeeModel

    sc = _scenario(
        "frozen_fee", **{"community.households": households, "simulation.months": months}
    )
    setup, model = _timed(lambda: FeeModel([sc] * runs, rng=1, populations=4))

    def step_all() -> None:
        for _ in range(months):
            model.step()

    stepping, _ = _timed(step_all)
    n = model.hh.n
    return {
        "households": n,
        "months": months,
        "setup_s": setup,
        "stepping_s": stepping,
        "household_steps_per_s": n * months / stepping,
        "household_steps_per_s_with_setup": n * months / (setup + stepping),
    }


def bench_reference(households: int, months: int) -> dict[str, float]:
    """The per-agent Mesa reference on the same rules."""
    from feesim.studies.reference import ReferenceModel

    sc = _scenario(
        "frozen_fee", **{"community.households": households, "simulation.months": months}
    )
    model = ReferenceModel(sc, rng=1)

    def step_all() -> None:
        for _ in range(months):
            model.step()

    stepping, _ = _timed(step_all)
    return {
        "households": households,
        "months": months,
        "stepping_s": stepping,
        "household_steps_per_s": households * months / stepping,
    }


def bench_forecast(runs: int = 1000, households: int = 2000, months: int = 36) -> dict[str, Any]:
    """A 1,000-run forecast: status quo and proposal of a 2,000-household community."""
    sc = _scenario(
        "xianghe_2025", **{"community.households": households, "simulation.months": months}
    )
    try:
        from feesim.studies.forecast import bench_forecast as forecast_bench  # type: ignore[attr-defined]
    except ImportError:
        forecast_bench = None
    if forecast_bench is not None:
        seconds = forecast_bench(runs=runs, households=households, months=months)
        return {
            "runs": runs,
            "households": households,
            "months": months,
            "seconds": seconds,
            "what": "feesim.studies.forecast (status quo and proposal, common random numbers)",
        }
    from feesim.engine.model import FeeModel

    seconds, _ = _timed(lambda: FeeModel([sc] * runs, rng=1, populations=20).run())
    return {
        "runs": runs,
        "households": households,
        "months": months,
        "seconds": seconds,
        "what": "one batch of the proposal scenario (populations=20)",
    }


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of a process and all its descendants (Linux ``/proc``; 0 elsewhere)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            statm = (entry / "statm").read_text().split()
        except OSError:
            continue  # the process ended while we looked
        # the command name may hold spaces: the fields after it start past the last ')'
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(statm[1]) * page
    total, todo = 0, [root]
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


def city_run(fraction: float, workers: int, interval: float = 0.2) -> dict[str, Any]:
    """Run the synthetic city (or its first ``fraction``) and measure it.

    Called by :func:`bench_city` in a fresh interpreter. Peak memory is sampled every
    ``interval`` seconds as the resident memory of this process and all its descendants (the
    pool's workers, and the forkserver that starts them), so it is the peak of simultaneous
    use, not a sum of separate peaks.
    """
    import threading

    from feesim.studies.portfolio import load_portfolio, run_portfolio

    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss_bytes(os.getpid()))
            stop.wait(interval)

    pf = load_portfolio(EXAMPLES / "city_shanghai.toml")
    n = int(len(pf.table) * fraction)
    pf.table = pf.table.iloc[:n].reset_index(drop=True)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    res = run_portfolio(pf, workers=workers, progress=False)
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    return {
        "communities": n,
        "households": int(pf.households),
        "months": pf.base.simulation.months,
        "wall_s": wall,
        "peak_memory_gib": peak[0] / 1024**3,
        "memory_sampled_every_s": interval,
        "workers": workers,
        "low_trap": int(res.total["low_trap"]),
        "exits": int(res.total["exits"]),
        "collection_end": float(res.total["collection_end"]),
        "failed": int(res.total["failed"]),
    }


def bench_city(fraction: float, workers: int) -> dict[str, Any]:
    """The synthetic Shanghai for 120 months on ``workers`` processes.

    Runs in a fresh interpreter (:func:`city_run`), so that the memory measured is the city's
    own.
    """
    code = (
        "import json\n"
        "from feesim.studies.bench import city_run\n"
        f"print(json.dumps(city_run({fraction!r}, {workers!r})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["household_steps_per_s"] = out["households"] * out["months"] / out["wall_s"]
    out["fraction_of_city"] = fraction
    return out


def bench_scaling(
    chunks: int, chunk_households: int, months: int, repeat: int = 3
) -> dict[str, float]:
    """The same ensemble on 1 and on 2 worker processes.

    Both pools are started and warmed up first (every worker imports feesim and runs a tiny
    chunk), then the ensemble runs ``repeat`` times on each, alternating, and the best time of
    each is kept (as ``timeit`` does: on a shared virtual machine the slow runs measure the
    neighbours, not the code). The figure compares steady-state throughput; the cold figures
    (pool start and warm-up included, once) are reported too.
    """
    from feesim.studies.ensemble import Ensemble, run_chunk
    from feesim.studies.runner import process_pool

    sc = _scenario("frozen_fee", **{"community.households": 2000, "simulation.months": months})
    replicates = chunks * chunk_households // 2000
    ens = Ensemble(
        sc, replicates=replicates, rng=1, chunk_households=chunk_households, populations=4
    )
    tiny = Ensemble(
        sc.with_changes(**{"community.households": 20, "simulation.months": 1}),
        replicates=2,
        rng=1,
    ).chunks(tables=())[0]
    out: dict[str, Any] = {"chunks": chunks, "households": replicates * 2000, "months": months}
    names = {1: "one_worker", 2: "two_workers"}
    times: dict[int, list[float]] = {1: [], 2: []}
    with contextlib.ExitStack() as stack:
        pools = {}
        for workers in (1, 2):
            t0 = time.perf_counter()
            # Both pools start their workers the same way (the second pool is made while the
            # first one's threads run, so "auto" would fork one and not the other).
            pool = stack.enter_context(process_pool(workers, start="forkserver"))
            list(pool.map(run_chunk, [tiny] * (2 * workers)))  # every worker started and warm
            pools[workers] = pool
            out[f"{names[workers]}_start_s"] = time.perf_counter() - t0
        for _ in range(repeat):
            for workers in (1, 2):
                t = time.perf_counter()
                ens.run(pools[workers], tables=("events",), progress=False)
                times[workers].append(time.perf_counter() - t)
    for workers, name in names.items():
        out[f"{name}_s"] = min(times[workers])
        out[f"{name}_runs_s"] = times[workers]
        out[f"{name}_cold_s"] = out[f"{name}_start_s"] + times[workers][0]
    out["repeat"] = repeat
    out["speedup"] = out["one_worker_s"] / out["two_workers_s"]
    out["speedup_median"] = statistics.median(times[1]) / statistics.median(times[2])
    out["speedup_cold"] = out["one_worker_cold_s"] / out["two_workers_cold_s"]
    return out


def bench_calibration(points: int, quick: bool) -> dict[str, Any]:
    """``points`` calibration simulations in this process, then on 2 worker processes.

    The budget of ``feesim calibrate`` (``--quick``: its small one). The two batches use other
    seeds, so that neither reads the other's simulations from the cache.
    """
    from feesim.studies.calibration.data import load_cases, load_targets
    from feesim.studies.calibration.fit import Calibrator, FitSettings
    from feesim.studies.runner import Runner

    _, targets = load_targets()
    cal = Calibrator(load_cases(), targets, FitSettings.quick() if quick else FitSettings())
    us = [np.full(len(cal.names), 0.4 + 0.02 * i) for i in range(points)]
    serial, _ = _timed(lambda: cal.simulate_many(us, 1))
    with Runner(workers=2, progress=False) as runner:
        cal.runner = runner
        pooled, _ = _timed(lambda: cal.simulate_many(us, 2))
        # One point at a time, as the polish asks: its three batches side by side.
        single, _ = _timed(lambda: [cal.simulate(u, 3) for u in us])
    return {
        "simulations": points,
        "quick": quick,
        "one_process_s": serial,
        "two_workers_s": pooled,
        "seconds_per_simulation": serial / points,
        "speedup": serial / pooled,
        "one_at_a_time_two_workers_s": single,
        "speedup_one_at_a_time": serial / single,
    }


def run_benchmarks(quick: bool = False) -> dict[str, Any]:
    """Run every benchmark once and return the figures (see the module doc)."""
    out: dict[str, Any] = {"machine": machine(), "quick": quick}
    log.info("engine")
    eng = bench_engine(households=2000, months=24 if quick else 60, runs=250 if quick else 500)
    ref = bench_reference(households=600 if quick else 1500, months=6 if quick else 12)
    out["engine"] = eng
    out["reference"] = ref
    out["household_steps_per_s"] = eng["household_steps_per_s"]
    out["reference_household_steps_per_s"] = ref["household_steps_per_s"]
    out["ratio"] = eng["household_steps_per_s"] / ref["household_steps_per_s"]
    log.info("forecast")
    out["forecast"] = bench_forecast()
    log.info("scaling")
    out["scaling"] = bench_scaling(
        chunks=8 if quick else 16, chunk_households=200_000, months=36 if quick else 60
    )
    log.info("calibration")
    out["calibration"] = bench_calibration(points=6 if quick else 8, quick=quick)
    log.info("city")
    out["city"] = bench_city(fraction=0.1 if quick else 1.0, workers=2)
    out["goals"] = {
        "household_steps_per_s >= 20e6": out["household_steps_per_s"] >= 20e6,
        "ratio >= 100": out["ratio"] >= 100,
        "forecast_s < 5": out["forecast"]["seconds"] < 5,
        "scaling >= 1.8": out["scaling"]["speedup"] >= 1.8,
        # the goal is for the whole city; --quick runs a tenth of it
        "city_s < 60 (full city only)": None if quick else out["city"].get("wall_s", 1e9) < 60,
        "city_memory_gib < 8": out["city"].get("peak_memory_gib", 1e9) < 8,
    }
    return out


def write_json(result: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the figures as JSON (atomically)."""
    atomic_write_text(path, json.dumps(result, indent=2, default=float))
