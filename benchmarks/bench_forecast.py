"""Benchmark the pre-vote forecast: 1,000 runs x 2,000 households x 36 months (issue 4).

Usage: ``python benchmarks/bench_forecast.py [--repeats 5] [--workers 2] [--runs 1000]``.
Prints the seconds of each repeat, the best and the median (no pass/fail: timings depend on the
machine and its load). ``feesim.studies.forecast.bench.benchmark_forecast`` is the same as a function.
"""

from __future__ import annotations

import argparse
import json

from feesim.studies.forecast.bench import benchmark_forecast


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--households", type=int, default=2000)
    p.add_argument("--months", type=int, default=36)
    a = p.parse_args()
    out = benchmark_forecast(
        runs=a.runs, households=a.households, months=a.months, repeats=a.repeats, workers=a.workers
    )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
