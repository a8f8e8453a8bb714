"""Command line: ``feesim run``, ``feesim describe`` and the other sub-commands.

Exit status, as Unix tools do:

- 0: done;
- 2: a bad input (any :class:`~feesim.errors.FeesimError`, or a bad option): one line on
  standard error naming the key as the user wrote it (``[proposal] new_fee``, ``--runs``),
  the value and what is allowed, no traceback; output folders are checked before any
  simulation starts and keep their previous contents;
- 130 after Ctrl-C (SIGINT), 143 after SIGTERM: the work stops, worker processes are ended
  and output folders keep their previous contents;
- 141 when the reader of standard output goes away (``feesim describe | head``): quietly, as
  SIGPIPE ends other tools.

Any other exception is a bug in feesim and keeps its traceback.

Language: ``--lang zh_CN`` or ``--lang en`` (before or after the sub-command), else the
environment (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else Chinese; see
:mod:`feesim.i18n`. Summaries, messages, help and argparse's own messages follow it; the files
written (CSV, Parquet, JSON) do not.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from feesim.errors import ConfigError, FeesimError, LimitError
from feesim.i18n import N_, ngettext, use_language
from feesim.i18n import gettext as _
from feesim.io import check_output_dir, check_output_file, read_toml, staged_output
from feesim.surfaces.cli.args import (
    MAX_MEMBERS,
    add_force,
    add_lang_option,
    check_workers,
    nonempty_path,
    nonnegative_int,
    positive_int,
    requested_language,
    seed_int,
)

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "build_parser", "main"]

log = logging.getLogger("feesim")

EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
#: What ``feesim run`` writes into ``--out`` (and replaces there): both formats.
RUN_OUTPUTS = ("series.*", "votes.*", "events.*", "campaigns.*", "meta.json", "result.json")
#: The kinds of scenario field (``feesim describe``), for translation.
KINDS = {"lever": N_("lever"), "uncertainty": N_("uncertainty"), "setting": N_("setting")}
#: Tables that mark a community file (``feesim forecast``), not a scenario file.
_COMMUNITY_TABLES = ("buildings", "proposal", "forecast")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that the work unwinds as after Ctrl-C."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            2,
            _("{prog}: error: {message} (see {prog} --help)\n").format(
                prog=self.prog, message=message
            ),
        )


def _scenario_file(path: Path, option: str = "scenario") -> Any:
    """Load a scenario file; point a community file to ``forecast``, a portfolio to ``run``."""
    from feesim.config.scenario import load_scenario
    from feesim.studies.portfolio import is_portfolio

    if is_portfolio(path):
        raise ConfigError(
            _(
                "{option}: {path} is a portfolio file (one community per row: a district or a "
                "city); run it with feesim run {path}, or give a scenario file"
            ).format(option=option, path=path)
        )
    data = read_toml(path, "scenario")
    found = [t for t in _COMMUNITY_TABLES if t in data]
    if found and "simulation" not in data:
        tables = ", ".join(f"[{t}]" for t in found)
        raise ConfigError(
            _(
                "{option}: {path} is a community file ({tables}); forecast it with feesim "
                "forecast {path}, or give a scenario file"
            ).format(option=option, path=path, tables=tables)
        )
    return load_scenario(path)


def _cmd_run_portfolio(args: argparse.Namespace) -> int:
    from feesim.studies.portfolio import load_portfolio, run_portfolio

    if args.format == "parquet":
        raise ConfigError(
            _(
                "--format: got parquet for {file}, a portfolio; a portfolio writes "
                "communities.csv and districts.csv with its tables as Parquet folders (leave "
                "--format out, or use csv)"
            ).format(file=args.scenario)
        )
    check_workers(args.workers, args.force)
    if args.out is not None:
        check_output_dir(args.out)
    portfolio = load_portfolio(args.scenario)
    if args.months is not None:
        portfolio.base = _with_months(portfolio.base, args.months)
    if args.seed is not None:
        portfolio.seed = args.seed
    sets_key = "portfolio.parameter_sets"
    if args.parameter_sets is not None:
        portfolio.parameter_sets = args.parameter_sets
        sets_key = "--parameter-sets"
    started = time.perf_counter()
    result = run_portfolio(
        portfolio,
        workers=args.workers,
        scheduler=args.scheduler,
        out=args.out,
        progress=not args.quiet,
        sets_key=sets_key,
    )
    print(result.summary_text())
    print(_("  simulated in {s} s").format(s=f"{time.perf_counter() - started:.1f}"))
    if args.out is not None:
        print(_("  wrote {files}").format(files=_portfolio_files(Path(args.out))))
    return 0


def _portfolio_files(out: Path) -> str:
    """What a portfolio run wrote at the top of ``out``: files, then folders (``name/``)."""
    from feesim.studies.portfolio import OUTPUTS

    found = sorted({p for pattern in OUTPUTS for p in out.glob(pattern)})
    files = [p.name for p in found if not p.is_dir()]
    folders = [f"{p.name}/" for p in found if p.is_dir()]
    names = files + folders
    return ", ".join([f"{out}/{names[0]}", *names[1:]]) if names else str(out)


def _cmd_run(args: argparse.Namespace) -> int:
    from feesim.engine.model import FeeModel
    from feesim.studies.portfolio import is_portfolio

    if is_portfolio(args.scenario):
        return _cmd_run_portfolio(args)
    if args.workers is not None or args.scheduler is not None:
        raise ConfigError(
            _(
                "--workers/--scheduler: given for {file}, a single scenario; they apply to "
                "portfolio files (one scenario runs in this process)"
            ).format(file=args.scenario)
        )
    if args.parameter_sets is not None:
        raise ConfigError(
            _(
                "--parameter-sets: got {k} for {file}, a single scenario; it applies to "
                "portfolio files (for one scenario, feesim forecast spreads its runs over the "
                "fitted ensemble)"
            ).format(k=args.parameter_sets, file=args.scenario)
        )
    if args.out is not None:
        check_output_dir(args.out)
    fmt = args.format or "csv"
    scenario = _scenario_file(args.scenario)
    if args.months is not None:
        scenario = _with_months(scenario, args.months)
    started = time.perf_counter()
    result = FeeModel(scenario, rng=args.seed).run()
    elapsed = time.perf_counter() - started
    if args.out is not None:
        with staged_output(args.out, RUN_OUTPUTS) as folder:
            result.save(folder, fmt=fmt)
    print(result.summary_text())
    print(
        _("  simulated in {s} s ({n} months from simulation.start)").format(
            s=f"{elapsed:.2f}", n=scenario.simulation.months
        )
    )
    if args.out is not None:
        files = (
            f"{args.out}/series.{fmt}, votes.{fmt}, events.{fmt}, campaigns.{fmt}, "
            f"{'meta.json' if fmt == 'csv' else 'result.json'}"
        )
        print(_("  wrote {files}").format(files=files))
    return 0


def _with_months(scenario: Any, months: int) -> Any:
    """``scenario`` over ``months`` months in all (``--months``); errors name the option."""
    try:
        return scenario.with_changes(**{"simulation.months": months})
    except ConfigError as exc:
        raise ConfigError(
            _("--months {months} (total months simulated): {error}").format(
                months=months, error=exc
            )
        ) from None


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


def scenario_keys(paths: Sequence[Path]) -> list[str]:
    """One key per scenario file: its name, or as much of its path as tells it apart.

    Two files called ``base.toml`` in different folders are ``a/base`` and ``b/base``; the
    same file given twice is refused (its members would collide).
    """
    resolved = [Path(os.path.abspath(p)) for p in paths]
    seen: dict[Path, Path] = {}
    for given, full in zip(paths, resolved, strict=True):
        if full in seen:
            raise ConfigError(
                _(
                    "scenarios: {file} is given twice (as {before} before); give each file once "
                    "and raise --replicates for more runs of it"
                ).format(file=given, before=seen[full])
            )
        seen[full] = given
    keys = [p.stem for p in resolved]
    depth = 1
    while len(set(keys)) < len(keys):
        depth += 1
        keys = [
            "/".join((*p.parent.parts[-(depth - 1) :], p.stem)) if keys.count(k) > 1 else k
            for p, k in zip(resolved, keys, strict=True)
        ]
    return keys


def _cmd_ensemble(args: argparse.Namespace) -> int:
    from feesim.studies.ensemble import Ensemble

    check_workers(args.workers, args.force)
    members = args.replicates * len(args.scenarios) * max(1, args.parameter_sets or 0)
    if members > MAX_MEMBERS and not args.force:
        raise LimitError(
            _(
                "--replicates: got {replicates}, {members} members in all (replicates x "
                "scenarios x parameter sets); at most {limit} members without --force (the "
                "summary of every member is kept in memory); add --force if you mean it"
            ).format(
                replicates=f"{args.replicates:,}", members=f"{members:,}", limit=f"{MAX_MEMBERS:,}"
            )
        )
    if args.out is not None:
        check_output_dir(args.out)
    keys = scenario_keys(args.scenarios)
    scenarios = {k: _scenario_file(p) for k, p in zip(keys, args.scenarios, strict=True)}
    if args.months is not None:
        scenarios = {k: _with_months(v, args.months) for k, v in scenarios.items()}
    ens = Ensemble(
        scenarios,
        replicates=args.replicates,
        params=_ensemble_members(scenarios, args.parameter_sets),
        rng=args.seed,
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
    if args.out is not None:
        files = (
            f"{res.out}/series/, votes/, events/, campaigns/ (Parquet), summary.csv, members.csv"
        )
        print(_("  wrote {files}").format(files=files))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from feesim.studies.bench import run_benchmarks, write_json
    from feesim.surfaces.summaries import bench_summary

    if args.json is not None:
        check_output_file(args.json, "--json")
    result = run_benchmarks(quick=args.quick)
    print(bench_summary(result))
    if args.json:
        write_json(result, args.json)
        print(_("wrote {file}").format(file=args.json))
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
        unit = f" ({_(r['unit'])})" if r["unit"] else ""
        kind = _(KINDS.get(r["kind"], r["kind"]))
        print(f"{r['field']}{unit}{bounds} = {r['default']!r}  [{kind}]")
        if r["doc"]:
            # the field docs are in the catalogue (tools/i18n.py adds them to the template)
            print(f"    {_(r['doc'])}")
        if r["source"]:
            print(_("    source: {source}").format(source=r["source"]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``feesim`` command (help in the language in force)."""
    from feesim.protocol import feesim_version

    parser = _Parser(
        prog="feesim",
        description=_("Simulate and forecast residential property-service fee changes."),
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help=_("more logging"))
    parser.add_argument(
        "--version",
        action="version",
        version=f"feesim {feesim_version()}",
        help=_("show the version and exit"),
    )
    add_lang_option(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help=_("simulate one scenario (or a portfolio of communities) and write its tables"),
    )
    run.add_argument(
        "scenario", type=nonempty_path, help=_("scenario TOML, or portfolio CSV/TOML file")
    )
    run.add_argument(
        "--months",
        type=positive_int,
        help=_(
            "total months simulated from simulation.start (overrides simulation.months; "
            "for a portfolio, [portfolio] months)"
        ),
    )
    run.add_argument("--seed", type=seed_int, help=_("override simulation.seed"))
    run.add_argument(
        "--out",
        type=nonempty_path,
        help=_("folder for series.csv, votes.csv, ... (replaces those of an earlier run there)"),
    )
    run.add_argument(
        "--format",
        choices=("csv", "parquet"),
        help=_(
            "csv: tables and meta.json (default); parquet: tables and the result.json sidecar "
            "(one scenario only; a portfolio writes CSV reports and Parquet tables)"
        ),
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
    add_force(run)
    add_lang_option(run)
    run.set_defaults(func=_cmd_run)

    ens = sub.add_parser("ensemble", help=_("many replicates of one or more scenarios"))
    ens.add_argument("scenarios", nargs="+", type=nonempty_path, help=_("scenario TOML files"))
    ens.add_argument(
        "--replicates",
        type=positive_int,
        default=100,
        help=_("runs of every scenario (and parameter set), each on different random draws (100)"),
    )
    ens.add_argument(
        "--seed",
        type=seed_int,
        default=0,
        help=_("root seed (0); the same seed gives the same numbers on any number of workers"),
    )
    ens.add_argument(
        "--months",
        type=positive_int,
        help=_("total months simulated from simulation.start (overrides simulation.months)"),
    )
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
    ens.add_argument(
        "--out",
        type=nonempty_path,
        help=_(
            "folder for partitioned Parquet tables, members.csv and summary.csv (replaces "
            "those of an earlier run there)"
        ),
    )
    ens.add_argument("--quiet", action="store_true", help=_("no progress bar"))
    add_force(ens)
    add_lang_option(ens)
    ens.set_defaults(func=_cmd_ensemble)

    bench = sub.add_parser("bench", help=_("measure speed, scaling and memory (issue 5 goals)"))
    bench.add_argument("--quick", action="store_true", help=_("smaller sizes (about 3 minutes)"))
    bench.add_argument(
        "--json", type=nonempty_path, help=_("also write the figures to this JSON file")
    )
    add_lang_option(bench)
    bench.set_defaults(func=_cmd_bench)

    desc = sub.add_parser("describe", help=_("list every scenario field with unit and source"))
    desc.add_argument(
        "--kind",
        choices=("lever", "uncertainty", "setting"),
        help=_(
            "list only levers (what a community can change), uncertainties (what is not "
            "known exactly, the behaviour coefficients among them) or settings"
        ),
    )
    add_lang_option(desc)
    desc.set_defaults(func=_cmd_describe)

    from feesim.surfaces.cli.dashboard import add_dashboard_parser

    add_dashboard_parser(sub)

    from feesim.surfaces.cli.forecast import add_forecast_parser

    add_forecast_parser(sub)

    from feesim.surfaces.cli.calibrate import add_calibrate_parser

    add_calibrate_parser(sub)
    for command in sub.choices.values():
        # what an argument the sub-command does not know is reported against (main)
        command.set_defaults(command_parser=command)
    return parser


@contextlib.contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM unwinds the main thread like Ctrl-C, so that worker processes are ended.

    The runner ends its workers when its work is abandoned (:meth:`Runner.close
    <feesim.studies.runner.Runner.close>`); staged output folders are removed. Only the main
    thread can set handlers (a command run from a notebook's thread keeps the defaults).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _quiet_broken_pipe() -> int:
    """The reader of standard output has gone: stop quietly, as SIGPIPE ends other tools.

    Python's documentation (signal module, "Note on SIGPIPE") recommends pointing standard
    output at ``/dev/null`` so that the flush at exit does not fail again.
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


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
        try:
            args, extra = parser.parse_known_args(argv)
            if extra:
                # Left over after the sub-command's name: its own error names it and its own
                # help; before it, the top level's.
                rest = argv[argv.index(args.command) + 1 :] if args.command in argv else []
                after = any(e in rest for e in extra)
                owner = getattr(args, "command_parser", parser) if after else parser
                owner.error(_("unrecognized arguments: %s") % " ".join(extra))
        except BrokenPipeError:  # --help or --version into a closed pipe
            return _quiet_broken_pipe()
        logging.basicConfig(
            level=logging.WARNING - 10 * min(args.verbose, 2),
            format="%(levelname)s %(name)s: %(message)s",
        )
        try:
            with _signals():
                status = int(args.func(args))
                sys.stdout.flush()  # a closed pipe shows here, not at exit
                return status
        except FeesimError as exc:
            message = " ".join(str(exc).split("\n"))
            print(_("feesim: error: {message}").format(message=message), file=sys.stderr)
            return 2
        except BrokenPipeError:
            return _quiet_broken_pipe()
        except Terminated:
            print(_("feesim: terminated"), file=sys.stderr)
            return EXIT_TERMINATED
        except KeyboardInterrupt:
            print(_("feesim: interrupted"), file=sys.stderr)
            return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
