"""The benchmark functions produce complete, consistent figures (no timing is asserted)."""

from __future__ import annotations

from feesim import bench


def test_engine_and_reference_figures():
    eng = bench.bench_engine(households=200, months=3, runs=5)
    ref = bench.bench_reference(households=60, months=2)
    assert eng["households"] == 1000 and eng["months"] == 3
    assert eng["household_steps_per_s"] > 0 and ref["household_steps_per_s"] > 0
    assert eng["household_steps_per_s_with_setup"] <= eng["household_steps_per_s"]


def test_scaling_figures():
    sc = bench.bench_scaling(chunks=2, chunk_households=4000, months=2)
    assert sc["chunks"] == 2 and sc["households"] == 8000
    assert sc["speedup"] == sc["one_worker_s"] / sc["two_workers_s"]


def test_machine_description():
    m = bench.machine()
    assert m["cores"] >= 1 and m["python"].startswith("3.")
