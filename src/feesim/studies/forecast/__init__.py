"""Pre-vote forecast: test a proposed price step before the owners vote.

The housing bureau's question, "this community proposes going from 0.75 to 0.97 yuan/m2 with
this service package: will it pass, what will collection do, will the firm survive, and what
step would pass?", answered from a community file in seconds:

>>> from feesim.studies.forecast import load_forecast_input, run_forecast
>>> inp = load_forecast_input("examples/community_xianghe.toml")   # doctest: +SKIP
>>> result = run_forecast(inp, runs=1000)                          # doctest: +SKIP
>>> result.pass_probability, result["approval_heads"]["p50"]       # doctest: +SKIP
>>> result.save("out/xianghe")    # forecast.json, per-run Parquet, result.json  # doctest: +SKIP

The report (``report.html`` and PNG plots) is drawn by a surface,
:func:`feesim.surfaces.report.write_report`, as ``feesim forecast`` does.

Modules: :mod:`~feesim.studies.forecast.community` (the community file and its defaults),
:mod:`~feesim.studies.forecast.mapping` (reading a file into the status quo and the proposal),
:mod:`~feesim.studies.forecast.engine` (status quo and proposal on common random numbers),
:mod:`~feesim.studies.forecast.outcomes` (the per-run arrays of a branch),
:mod:`~feesim.studies.forecast.result` (:class:`ForecastResult`, the ``forecast.json`` keys,
:class:`SearchResult`), :mod:`~feesim.studies.forecast.search` (the largest step that passes),
:mod:`~feesim.studies.forecast.ensemble` (calibrated parameter ensembles) and
:mod:`~feesim.studies.forecast.bench` (the speed benchmark).
"""

from __future__ import annotations

from feesim.studies.forecast.bench import bench_forecast, benchmark_forecast
from feesim.studies.forecast.community import parse_new_fee
from feesim.studies.forecast.engine import CHUNK_RUNS, Runner, run_forecast
from feesim.studies.forecast.ensemble import (
    behaviour_ensemble,
    fitted_model_error,
    read_ensemble,
)
from feesim.studies.forecast.mapping import ForecastInput, load_forecast_input
from feesim.studies.forecast.result import JSON_KEYS, ForecastResult, SearchResult

__all__ = [
    "CHUNK_RUNS",
    "JSON_KEYS",
    "ForecastInput",
    "ForecastResult",
    "Runner",
    "SearchResult",
    "behaviour_ensemble",
    "bench_forecast",
    "benchmark_forecast",
    "fitted_model_error",
    "load_forecast_input",
    "parse_new_fee",
    "read_ensemble",
    "run_forecast",
]
