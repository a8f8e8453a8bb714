"""Command line: ``feesim run``, ``feesim describe`` and the other sub-commands.

Errors in inputs print one line naming the field, the value and what is allowed, and exit with
status 2 (no traceback).

Language: ``--lang zh_CN`` or ``--lang en`` (before or after the sub-command), else the
environment (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else Chinese; see
:mod:`feesim.i18n`. Summaries, messages, help and argparse's own messages follow it; the files
written (CSV, Parquet, JSON) do not.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from feesim.errors import ConfigError, FeesimError
from feesim.i18n import gettext as _
from feesim.i18n import ngettext, use_language
from feesim.io import atomic_write_text
from feesim.surfaces.cli.args import (
    add_lang_option,
    nonnegative_int,
    positive_int,
    requested_language,
    seed_int,
)

__all__ = ["build_parser", "main"]

log = logging.getLogger("feesim")


def _cmd_run_portfolio(args: argparse.Namespace) -> int:
    from feesim.studies.portfolio import load_portfolio, run_portfolio

    portfolio = load_portfolio(args.scenario)
    if args.months is not None:
        portfolio.base = portfolio.base.with_changes(**{"simulation.months": args.months})
    if args.seed is not None:
        portfolio.seed = args.seed
    if args.parameter_sets is not None:
        portfolio.parameter_sets = args.parameter_sets
    started = time.perf_counter()
    result = run_portfolio(
        portfolio,
        workers=args.workers,
        scheduler=args.scheduler,
        out=args.out,
        progress=not args.quiet,
    )
    print(result.summary_text())
    print(_("  simulated in {s} s").format(s=f"{time.perf_counter() - started:.1f}"))
    if args.out:
        print(
            _("  wrote {out}/communities.csv, districts.csv and Parquet tables").format(
                out=args.out
            )
        )
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from feesim.config.scenario import load_scenario
    from feesim.engine.model import FeeModel
    from feesim.studies.portfolio import is_portfolio
    from feesim.surfaces.summaries import run_summary

    if is_portfolio(args.scenario):
        return _cmd_run_portfolio(args)
    if args.parameter_sets is not None:
        raise ConfigError(
            _(
                "--parameter-sets: got {k} for {file}, a single scenario; it applies to "
                "portfolio files (for one scenario, feesim forecast spreads its runs over the "
                "fitted ensemble)"
            ).format(k=args.parameter_sets, file=args.scenario)
        )
    scenario = load_scenario(args.scenario)
    if args.months is not None:
        scenario = scenario.with_changes(**{"simulation.months": args.months})
    started = time.perf_counter()
    result = FeeModel(scenario, rng=args.seed).run()
    elapsed = time.perf_counter() - started
    print(run_summary(result))
    print(_("  simulated in {s} s").format(s=f"{elapsed:.2f}"))
    if args.out:
        out = result.save(args.out, fmt=args.format)
        fmt = args.format
        files = (
            f"{out}/series.{fmt}, votes.{fmt}, events.{fmt}, campaigns.{fmt}, "
            f"{'meta.json' if fmt == 'csv' else 'result.json'}"
        )
        print(_("  wrote {files}").format(files=files))
    return 0


def _ensemble_members(scenarios: dict, k: int | None) -> list | None:
    """The first ``k`` fitted members, with what the scenarios set themselves kept on top."""
    if not k:
        return None
    from feesim.studies.forecast.ensemble import fitted_sets, local_overrides

    overrides = {name: local_overrides(sc.behaviour) for name, sc in scenarios.items()}
    if len({tuple(sorted(o.items())) for o in overrides.values()}) > 1:
        # One list of parameter sets serves every scenario of an Ensemble.
        listed = ", ".join(f"{n}: {', '.join(sorted(o)) or 'none'}" for n, o in overrides.items())
        raise ConfigError(
            _(
                "--parameter-sets: the scenarios set different behaviour coefficients "
                "themselves ({listed}); run them in separate ensembles"
            ).format(listed=listed)
        )
    return fitted_sets(k, next(iter(overrides.values())), "--parameter-sets")


def _cmd_ensemble(args: argparse.Namespace) -> int:
    from feesim.config.scenario import load_scenario
    from feesim.studies.ensemble import Ensemble

    scenarios = {Path(p).stem: load_scenario(p) for p in args.scenarios}
    if args.months is not None:
        scenarios = {
            k: v.with_changes(**{"simulation.months": args.months}) for k, v in scenarios.items()
        }
    ens = Ensemble(
        scenarios,
        replicates=args.replicates,
        params=_ensemble_members(scenarios, args.parameter_sets),
        seed=args.seed,
        chunk_households=args.chunk_households,
        populations=args.populations,
    )
    started = time.perf_counter()
    res = ens.run(
        workers=args.workers, scheduler=args.scheduler, out=args.out, progress=not args.quiet
    )
    elapsed = time.perf_counter() - started
    print(res.summary_text())
    print(_("  simulated in {s} s").format(s=f"{elapsed:.1f}"))
    if args.out:
        atomic_write_text(Path(args.out) / "summary.csv", res.summary.to_csv(index=False))
        atomic_write_text(Path(args.out) / "members.csv", res.members.to_csv(index=False))
        files = (
            f"{args.out}/series/, votes/, events/, campaigns/ (Parquet), summary.csv, members.csv"
        )
        print(_("  wrote {files}").format(files=files))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from feesim.studies.bench import run_benchmarks, write_json

    result = run_benchmarks(quick=args.quick)
    m = result["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}")
    eng = result["engine"]
    print(
        f"engine (1 core): {result['household_steps_per_s'] / 1e6:.1f} M household-steps/s "
        f"({eng['households']:,} households x {eng['months']} months)"
    )
    print(
        f"per-agent Mesa reference: {result['reference_household_steps_per_s'] / 1e3:.1f} k "
        f"household-steps/s; ratio {result['ratio']:.0f}x"
    )
    f = result["forecast"]
    print(
        f"forecast: {f['runs']:,} runs x {f['households']:,} households x {f['months']} months "
        f"in {f['seconds']:.2f} s"
    )
    sc = result["scaling"]
    print(
        f"scaling (warm pools, best of {sc['repeat']}): 1 worker {sc['one_worker_s']:.1f} s, "
        f"2 workers {sc['two_workers_s']:.1f} s -> {sc['speedup']:.2f}x (median "
        f"{sc['speedup_median']:.2f}x; cold, pool start included: {sc['speedup_cold']:.2f}x)"
    )
    c = result["city"]
    if "error" in c:
        print(f"city: failed ({c['error']})")
    else:
        print(
            f"city ({c['fraction_of_city']:.0%}): {c['communities']:,} communities, "
            f"{c['households']:,} households x {c['months']} months in {c['wall_s']:.1f} s on "
            f"{c['workers']} workers, peak memory {c['peak_memory_gib']:.2f} GiB (parent and "
            "workers)"
        )
    for goal, met in result["goals"].items():
        print(f"  {'n/a ' if met is None else 'met ' if met else 'MISS'} {goal}")
    if args.json:
        write_json(result, args.json)
        print(f"wrote {args.json}")
    return 0


def _cmd_describe(args: argparse.Namespace) -> int:
    from feesim.config.params import describe
    from feesim.config.scenario import Scenario

    rows = describe(Scenario)
    if args.kind:
        rows = [r for r in rows if r["kind"] == args.kind]
    for r in rows:
        bounds = ""
        if r["lo"] is not None or r["hi"] is not None:
            lo = "" if r["lo"] is None else r["lo"]
            hi = "" if r["hi"] is None else r["hi"]
            bounds = f" [{lo}, {hi}]"
        unit = f" ({r['unit']})" if r["unit"] else ""
        print(f"{r['field']}{unit}{bounds} = {r['default']!r}  [{r['kind']}]")
        if r["doc"]:
            print(f"    {r['doc']}")
        if r["source"]:
            print(_("    source: {source}").format(source=r["source"]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``feesim`` command (help in the language in force)."""
    parser = argparse.ArgumentParser(
        prog="feesim",
        description=_("Simulate and forecast residential property-service fee changes."),
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help=_("more logging"))
    add_lang_option(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help=_("simulate one scenario (or a portfolio of communities) and write its tables"),
    )
    run.add_argument("scenario", type=Path, help=_("scenario TOML, or portfolio CSV/TOML file"))
    run.add_argument("--months", type=positive_int, help=_("override simulation.months"))
    run.add_argument("--seed", type=seed_int, help=_("override simulation.seed"))
    run.add_argument("--out", type=Path, help=_("directory for series.csv, votes.csv, ..."))
    run.add_argument(
        "--format",
        choices=("csv", "parquet"),
        default="csv",
        help=_("csv: tables and meta.json (default); parquet: tables and the result.json sidecar"),
    )
    run.add_argument("--workers", type=positive_int, help=_("local processes for a portfolio"))
    run.add_argument("--scheduler", help=_("dask.distributed scheduler address for a portfolio"))
    run.add_argument(
        "--parameter-sets",
        type=nonnegative_int,
        help=_(
            "portfolio only: run it under this many members of the fitted behaviour ensemble "
            "(overrides portfolio.parameter_sets; 0: the point estimate)"
        ),
    )
    run.add_argument("--quiet", action="store_true", help=_("no progress bar"))
    add_lang_option(run)
    run.set_defaults(func=_cmd_run)

    ens = sub.add_parser("ensemble", help=_("many replicates of one or more scenarios"))
    ens.add_argument("scenarios", nargs="+", type=Path, help=_("scenario TOML files"))
    ens.add_argument("--replicates", type=positive_int, default=100)
    ens.add_argument("--seed", type=seed_int, default=0)
    ens.add_argument("--months", type=positive_int, help=_("override simulation.months"))
    ens.add_argument("--workers", type=positive_int, help=_("local worker processes"))
    ens.add_argument("--scheduler", help=_("dask.distributed scheduler address"))
    ens.add_argument(
        "--chunk-households",
        type=positive_int,
        default=200_000,
        help=_("households simulated together in one batch"),
    )
    ens.add_argument(
        "--populations",
        type=positive_int,
        help=_("replicates share this many household populations (faster set-up)"),
    )
    ens.add_argument(
        "--parameter-sets",
        type=nonnegative_int,
        help=_(
            "cross every scenario and replicate with this many members of the fitted "
            "behaviour ensemble, so the ranges carry parameter uncertainty as well as seed noise"
        ),
    )
    ens.add_argument("--out", type=Path, help=_("folder for partitioned Parquet tables"))
    ens.add_argument("--quiet", action="store_true", help=_("no progress bar"))
    add_lang_option(ens)
    ens.set_defaults(func=_cmd_ensemble)

    bench = sub.add_parser("bench", help=_("measure speed, scaling and memory (issue 5 goals)"))
    bench.add_argument("--quick", action="store_true", help=_("smaller sizes (about 3 minutes)"))
    bench.add_argument("--json", type=Path, help=_("also write the figures to this JSON file"))
    bench.set_defaults(func=_cmd_bench)

    desc = sub.add_parser("describe", help=_("list every scenario field with unit and source"))
    desc.add_argument("--kind", choices=("lever", "uncertainty", "setting"))
    desc.set_defaults(func=_cmd_describe)

    from feesim.surfaces.dashboard.server import add_dashboard_parser

    add_dashboard_parser(sub)

    from feesim.surfaces.cli.forecast import add_forecast_parser

    add_forecast_parser(sub)

    from feesim.surfaces.cli.calibrate import add_calibrate_parser

    add_calibrate_parser(sub)
    return parser


@contextlib.contextmanager
def _argparse_in_language() -> Iterator[None]:
    """Have argparse translate its own messages ("usage:", "error:") with feesim's catalogue.

    argparse reads them through :func:`gettext.gettext` of the global domain, for which Python
    ships no Chinese catalogue; its module-level ``_`` and ``ngettext`` are swapped for
    feesim's for the duration of :func:`main` and put back afterwards.
    """
    saved = argparse._, argparse.ngettext  # type: ignore[attr-defined]
    argparse._, argparse.ngettext = _, ngettext  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``feesim`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    with use_language(requested_language(argv)), _argparse_in_language():
        parser = build_parser()
        args = parser.parse_args(argv)
        logging.basicConfig(
            level=logging.WARNING - 10 * min(args.verbose, 2),
            format="%(levelname)s %(name)s: %(message)s",
        )
        try:
            return int(args.func(args))
        except FeesimError as exc:
            print(_("feesim: error: {message}").format(message=exc), file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # pragma: no cover
            print(_("feesim: interrupted"), file=sys.stderr)
            return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
