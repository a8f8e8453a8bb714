"""The ensemble runner: same results on every backend, failures isolated, Parquet streaming."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from feesim.studies.ensemble import Ensemble, run_chunk
from feesim.studies.runner import process_pool

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def ensemble(small_scenario):
    # 240-household communities, 24 months; 24 members in chunks of 4.
    return Ensemble(small_scenario, replicates=24, rng=11, chunk_households=960)


@pytest.fixture(scope="module")
def serial(ensemble):
    return ensemble.run("serial", progress=False)


def test_chunks_depend_only_on_the_definition(ensemble):
    chunks = ensemble.chunks()
    assert [len(c.members) for c in chunks] == [4] * 6
    again = ensemble.chunks()
    assert [c.seed.spawn_key for c in chunks] == [c.seed.spawn_key for c in again]
    assert len({c.seed.spawn_key for c in chunks}) == 6


def test_process_pool_equals_serial(ensemble, serial):
    pooled = ensemble.run(workers=2, progress=False)
    pd.testing.assert_frame_equal(serial.series, pooled.series)
    pd.testing.assert_frame_equal(serial.votes, pooled.votes)
    assert (pooled.members["status"] == "ok").all()


def test_members_differ_from_each_other(serial):
    s = serial.series
    paid = s.pivot(index="month", columns="member", values="paid_yuan")
    assert paid.T.drop_duplicates().shape[0] == paid.shape[1]


def test_dask_local_cluster_equals_serial(ensemble, serial):
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        result = ensemble.run(client.get_executor(), progress=False)
        by_address = ensemble.run(scheduler=cluster.scheduler_address, progress=False)
    pd.testing.assert_frame_equal(serial.series, result.series)
    pd.testing.assert_frame_equal(serial.events, result.events)
    pd.testing.assert_frame_equal(serial.series, by_address.series)


def test_dask_worker_killed_mid_ensemble_loses_no_member(small_scenario):
    # Chunks of one member each, slow enough that a worker dies while others are pending.
    ens = Ensemble(
        small_scenario.with_changes(**{"simulation.months": 60}),
        replicates=16,
        rng=5,
        chunk_households=240,
    )
    expected = ens.run("serial", progress=False)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        holder: dict = {}
        runner = threading.Thread(
            target=lambda: holder.update(r=ens.run(client.get_executor(), progress=False))
        )
        runner.start()
        time.sleep(1.0)
        os.kill(next(iter(pids.values())), signal.SIGKILL)
        runner.join(timeout=300)
        assert not runner.is_alive()
    result = holder["r"]
    assert (result.members["status"] == "ok").all() and len(result.members) == 16
    pd.testing.assert_frame_equal(expected.series, result.series)


def test_local_pool_worker_killed_loses_no_member(small_scenario):
    ens = Ensemble(
        small_scenario.with_changes(**{"simulation.months": 60}),
        replicates=8,
        rng=6,
        chunk_households=240,
    )
    expected = ens.run("serial", progress=False)
    # The caller's pool: once broken it is not the runner's to rebuild; lost chunks rerun here.
    pool = process_pool(2, start="forkserver")
    holder: dict = {}
    runner = threading.Thread(target=lambda: holder.update(r=ens.run(pool, progress=False)))
    runner.start()
    deadline = time.time() + 30
    while not pool._processes and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    victim = next(iter(pool._processes))
    os.kill(victim, signal.SIGKILL)
    runner.join(timeout=300)
    pool.shutdown(wait=False, cancel_futures=True)
    result = holder["r"]
    assert (result.members["status"] == "ok").all()
    pd.testing.assert_frame_equal(expected.series, result.series)


def test_a_failing_member_is_recorded_and_the_rest_complete(small_scenario, broken_engine):
    broken = small_scenario.with_changes(**{"meta.name": broken_engine})
    # Chunks of six members: chunk 0 = a0-a3 + broken0-1, chunk 1 = broken2-3 + c0-c3.
    ens = Ensemble(
        {"a": small_scenario, "b": broken, "c": small_scenario},
        replicates=4,
        rng=3,
        chunk_households=6 * 240,
    )
    result = ens.run("serial", progress=False)
    failed = result.failures
    assert failed["key"].tolist() == ["b"] * 4
    assert failed["error"].str.contains("failed on purpose").all()
    ok = result.members[result.members["status"] == "ok"]
    assert ok["key"].tolist() == ["a"] * 4 + ["c"] * 4
    assert sorted(result.series["member"].unique()) == sorted(ok["member"])
    # The good members of the failing chunks were rerun alone, each on its chunk seed's child.
    first = ens.chunks()[0]
    alone = run_chunk(
        dataclasses.replace(
            first,
            members=first.members[:1],
            scenarios=first.scenarios[:1],
            seed=np.random.SeedSequence(3).spawn(2)[0].spawn(6)[0],
        )
    )
    pd.testing.assert_frame_equal(
        result.series[result.series["member"] == 0].reset_index(drop=True), alone.tables["series"]
    )


def test_parquet_streaming_round_trips(ensemble, serial, tmp_path):
    out = tmp_path / "ens"
    result = ensemble.run("serial", progress=False, out=out)
    files = sorted((out / "series").glob("chunk-*.parquet"))
    assert len(files) == 6
    pd.testing.assert_frame_equal(serial.series, result.series, check_dtype=False)
    pd.testing.assert_frame_equal(serial.votes, result.votes, check_dtype=False)
    again = pd.read_parquet(out / "series")
    assert len(again) == len(serial.series)


def test_parameter_sets_cross_scenarios(small_scenario):

    b = small_scenario.behaviour
    params = [b, dataclasses.replace(b, pay_intercept_fr=-3.0)]
    ens = Ensemble({"a": small_scenario}, replicates=3, params=params, rng=2)
    assert [(m.key, m.params, m.replicate) for m in ens.members] == [
        ("a", 0, 0),
        ("a", 0, 1),
        ("a", 0, 2),
        ("a", 1, 0),
        ("a", 1, 1),
        ("a", 1, 2),
    ]
    result = ens.run("serial", progress=False)
    q = result.summary.merge(result.members, on="member").groupby("params")["collection_rate"]
    assert q.mean().iloc[1] != q.mean().iloc[0]
    assert np.isfinite(result.quantiles("collection_rate")["p95"]).all()


def test_bad_arguments_are_clear_errors(small_scenario):
    from feesim.errors import ConfigError

    with pytest.raises(ConfigError, match="replicates"):
        Ensemble(small_scenario, replicates=0)
    with pytest.raises(ConfigError, match="tables"):
        Ensemble(small_scenario).run("serial", tables=("series", "nope"), progress=False)


def test_ensemble_command(tmp_path, capsys, examples):
    from feesim.surfaces.cli.main import main

    out = tmp_path / "e"
    status = main(
        [
            "ensemble",
            str(examples / "fund_topup.toml"),
            "--replicates",
            "6",
            "--seed",
            "2",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    text = capsys.readouterr().out
    assert status == 0 and "6 members (6 ok, 0 failed)" in text
    assert len(pd.read_csv(out / "summary.csv")) == 6
    assert pd.read_parquet(out / "campaigns")["member"].nunique() == 6


def test_ensemble_command_crosses_fitted_parameter_sets(tmp_path, capsys, examples):
    from feesim.surfaces.cli.main import main

    out = tmp_path / "e"
    fund = str(examples / "fund_topup.toml")
    args = ["--replicates", "2", "--quiet"]
    status = main(["ensemble", fund, *args, "--parameter-sets", "3", "--out", str(out)])
    text = capsys.readouterr().out
    assert status == 0 and "6 members (6 ok, 0 failed)" in text
    assert "3 parameter sets x 2 replicates" in text
    members = pd.read_csv(out / "members.csv")
    assert sorted(members["params"].unique()) == [0, 1, 2]
    summary = pd.read_csv(out / "summary.csv").merge(members, on="member")
    # Same replicate, different coefficients: the sets differ.
    first = summary[summary["replicate"] == 0]["collection_rate_last_december"]
    assert first.nunique() == 3
    # Scenarios that set different coefficients cannot share one list of sets.
    own = tmp_path / "own.toml"
    text = (examples / "fund_topup.toml").read_text(encoding="utf-8")
    own.write_text(text + "\n[behaviour]\napprove_intercept = 1.0\n", encoding="utf-8")
    status = main(["ensemble", fund, str(own), *args, "--parameter-sets", "2"])
    err = capsys.readouterr().err
    assert status != 0
    assert "--parameter-sets: the scenarios set different behaviour coefficients" in err
    assert "own: approve_intercept" in err
    status = main(["ensemble", fund, *args, "--parameter-sets", "100000"])
    assert status != 0 and "--parameter-sets: got 100000" in capsys.readouterr().err
