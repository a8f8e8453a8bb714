"""The benchmark functions produce complete, consistent figures (no timing is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feesim.studies import bench


def test_engine_and_reference_figures():
    eng = bench.bench_engine(households=200, months=3, runs=5)
    ref = bench.bench_reference(households=60, months=2)
    assert eng["households"] == 1000 and eng["months"] == 3
    assert eng["household_steps_per_s"] > 0 and ref["household_steps_per_s"] > 0
    assert eng["household_steps_per_s_with_setup"] <= eng["household_steps_per_s"]


def test_scaling_figures():
    sc = bench.bench_scaling(chunks=2, chunk_households=4000, months=2, repeat=2)
    assert sc["chunks"] == 2 and sc["households"] == 8000
    assert len(sc["one_worker_runs_s"]) == len(sc["two_workers_runs_s"]) == 2
    assert sc["one_worker_s"] == min(sc["one_worker_runs_s"])  # best of the repeats
    assert sc["speedup"] == sc["one_worker_s"] / sc["two_workers_s"]
    assert sc["one_worker_cold_s"] > sc["one_worker_runs_s"][0]  # pool start included


def test_calibration_figures():
    cb = bench.bench_calibration(points=2, quick=True)
    assert cb["simulations"] == 2 and cb["quick"]
    assert cb["one_process_s"] > 0 and cb["two_workers_s"] > 0 and cb["speedup"] > 0


def test_machine_description():
    m = bench.machine()
    assert m["cores"] >= 1 and m["python"].startswith("3.")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_tree_memory_counts_the_children():
    own = bench._tree_rss_bytes(os.getpid())
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; b = bytearray(200 * 2**20); sys.stdin.read()"],
        stdin=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while bench._tree_rss_bytes(os.getpid()) < own + 150 * 2**20:
            assert time.monotonic() < deadline, "the child's 200 MiB never showed"
            time.sleep(0.05)
    finally:
        child.communicate(b"")


def test_city_figures_on_a_sliver_of_the_city():
    c = bench.bench_city(fraction=0.002, workers=1)
    assert "error" not in c, c
    assert c["communities"] == 55 and c["months"] == 120 and c["households"] > 10_000
    assert 0.05 < c["peak_memory_gib"] < 8
    assert 0 <= c["low_trap"] <= c["communities"] and c["failed"] == 0
