"""The ``feesim forecast`` sub-command.

Registered by :func:`feesim.surfaces.cli.main.build_parser`.

::

    feesim forecast COMMUNITY.toml [--new-fee X | --step-pct P] [--runs N] [--seed S]
                    [--out DIR] [--months-after-vote M] [--populations K] [--workers W]
                    [--search [--target 0.8] [--search-runs N]]
                    [--ensemble FILE | --no-ensemble] [--quiet] [--force] [--lang LANG]
                    [--pdf]

``--new-fee`` is one number (yuan/m2/month, the new fee of every building type) or one fee per
type, ``multi-storey=0.97,high-rise=1.44``; ``--step-pct 29`` is a +29% step for every type.
Either replaces the fee of the file's proposal (the service package and the process stay).
``--months-after-vote`` (alias ``--months``) is the horizon after the vote, not the total months
simulated as in ``feesim run``. Every input (the file, the ensemble file, ``--out``) is checked
before any simulation starts.
``--lang`` sets the language of the report and the summary (:mod:`feesim.i18n`); ``--pdf``
also prints the report to ``report.pdf`` (headless Chromium, offline; see
:func:`feesim.surfaces.report.write_pdf`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from feesim.errors import ConfigError
from feesim.i18n import N_
from feesim.i18n import gettext as _
from feesim.io import check_output_dir
from feesim.surfaces.cli.args import (
    MAX_RUNS,
    add_force,
    add_lang_option,
    check_limit,
    check_workers,
    nonempty_path,
    percent,
    positive_int,
    probability,
    seed_int,
)

#: Why runs are limited, for the message (translated where it is shown).
_RUNS_WHY = N_("each run keeps its monthly outcomes in memory, about 5 KB a run and branch")

__all__ = ["add_forecast_parser"]


class _MonthsAction(argparse.Action):
    """Store ``--months-after-vote`` and the spelling typed (``--months`` is an alias)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.months_option = option_string or "--months-after-vote"


def _check_months(args: argparse.Namespace) -> None:
    """Refuse a horizon after the vote outside the file's bounds, before anything runs.

    Raises
    ------
    ConfigError
        Naming the option as typed, the value and the allowed range.
    """
    from feesim.studies.forecast.community import MAX_MONTHS_AFTER_VOTE

    months = args.months
    if months is not None and not 1 <= months <= MAX_MONTHS_AFTER_VOTE:
        raise ConfigError(
            _("{option}: got {value}; expected a value in [1, {hi}] months").format(
                option=getattr(args, "months_option", "--months-after-vote"),
                value=months,
                hi=MAX_MONTHS_AFTER_VOTE,
            )
        )


def _check_search_options(args: argparse.Namespace) -> None:
    """Refuse ``--target`` or ``--search-runs`` without ``--search`` (they would do nothing).

    Raises
    ------
    ConfigError
        Naming the option as typed.
    """
    if args.search:
        return
    for name in ("target", "search_runs"):
        value = getattr(args, name)
        if value is not None:
            raise ConfigError(
                _(
                    "{option}: got {value} without --search; it only sets the search: add --search"
                ).format(option="--" + name.replace("_", "-"), value=value)
            )


def _cmd_forecast(args: argparse.Namespace) -> int:
    from feesim.studies.forecast.community import parse_new_fee
    from feesim.studies.forecast.engine import forecast_runner, run_forecast
    from feesim.studies.forecast.mapping import load_forecast_input
    from feesim.studies.forecast.search import search_step
    from feesim.surfaces.report import check_pdf, write_report

    check_limit("--runs", args.runs, MAX_RUNS, _(_RUNS_WHY), args.force)
    _check_months(args)
    _check_search_options(args)
    if args.search_runs is not None:
        check_limit("--search-runs", args.search_runs, MAX_RUNS, _(_RUNS_WHY), args.force)
    check_workers(args.workers, args.force)
    out = args.out or Path("out") / "forecast" / Path(args.community).stem
    check_output_dir(out)
    if args.pdf:
        check_pdf()  # before the runs: a missing browser must not cost a finished forecast
    inp = load_forecast_input(args.community, months_after_vote=args.months)
    if args.new_fee is not None:
        inp = inp.with_new_fee(parse_new_fee(args.new_fee, inp.building_names))
    elif args.step_pct is not None:
        inp = inp.with_step(args.step_pct / 100.0)
    ensemble: Any = None if args.no_ensemble else (args.ensemble or "auto")
    if args.ensemble is not None:
        from feesim.studies.forecast.ensemble import read_ensemble

        ensemble = read_ensemble(args.ensemble)
        if not ensemble:
            raise ConfigError(
                _(
                    "--ensemble: {file} holds no parameter sets; expected [[ensemble]] tables, "
                    "[ensemble] csv = 'file.csv' or a fitted file (or --no-ensemble for the "
                    "point estimate)"
                ).format(file=args.ensemble)
            )
    started = time.perf_counter()
    # One runner for the forecast and the search: the worker processes start once.
    with forecast_runner(workers=args.workers, progress=False if args.quiet else None) as runner:
        result = run_forecast(
            inp,
            runs=args.runs,
            rng=args.seed,
            populations=args.populations,
            ensemble=ensemble,
            runner=runner,
        )
        if args.search:
            given = {"target": args.target, "runs": args.search_runs}
            search = search_step(
                inp,
                **{k: v for k, v in given.items() if v is not None},
                rng=args.seed,
                populations=args.populations,
                ensemble=ensemble,
                runner=runner,
                # the door-to-door advice follows the test the summary names
                deciding=result.deciding_test(),
            )
            result = result.with_search(search)
    elapsed = time.perf_counter() - started
    # The report is written (and moved into place) before the summary is printed: a reader of
    # a closed pipe or a failed write never sees a summary of files that are not there.
    folder = write_report(result, out, pdf=args.pdf)
    print(result.summary_text())
    print(
        _("  total {s} s; wrote {folder}/forecast.json, report.html and PNG plots").format(
            s=f"{elapsed:.1f}", folder=folder
        )
        + (_(", report.pdf") if args.pdf else "")
    )
    return 0


def add_forecast_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``forecast`` sub-command to the ``feesim`` sub-parsers ``sub``."""
    p = sub.add_parser(
        "forecast",
        help=_(
            "test a proposed fee step before the owners vote (pass probability, collection, firm)"
        ),
        description=_(
            "Forecast a proposed fee step: the probability it passes under Civil Code Art. 278, "
            "turnout and approval by heads and by area, collection and the firm's viability "
            "against the status quo on the same random streams."
        ),
    )
    p.add_argument(
        "community", type=nonempty_path, help=_("community file or scenario file (TOML)")
    )
    fee = p.add_mutually_exclusive_group()
    fee.add_argument(
        "--new-fee",
        metavar="FEE",
        help=_(
            "new fee (yuan/m2/month): one number for every building type, or "
            "TYPE=FEE,TYPE=FEE (e.g. multi-storey=0.97,high-rise=1.44)"
        ),
    )
    fee.add_argument(
        "--step-pct",
        type=percent,
        metavar="P",
        help=_("relative step for every type, in percent (29 = +29%%)"),
    )
    p.add_argument("--runs", type=positive_int, default=1000, help=_("runs per branch (1000)"))
    p.add_argument("--seed", type=seed_int, help=_("root seed (default: the file's)"))
    p.add_argument(
        "--out",
        type=nonempty_path,
        help=_(
            "output folder (default out/forecast/<file stem>; replaces the report of an "
            "earlier run there)"
        ),
    )
    p.add_argument(
        "--months-after-vote",
        "--months",
        dest="months",
        type=positive_int,
        action=_MonthsAction,
        metavar="M",
        help=_(
            "months to follow after the vote, 1 to 240 (default: the file's months_after_vote, "
            "or 36); not the total months simulated as in feesim run"
        ),
    )
    p.add_argument(
        "--populations",
        type=positive_int,
        default=20,
        help=_("household populations per 500 runs (20)"),
    )
    p.add_argument("--workers", type=positive_int, help=_("worker processes (default: up to 2)"))
    p.add_argument(
        "--search",
        action="store_true",
        help=_(
            "find the largest step that passes, and the service, quality first and (when the "
            "quorum binds) door-to-door rounds and reach that reach the target"
        ),
    )
    p.add_argument(
        "--target",
        type=probability,
        default=None,
        help=_("pass probability the search must reach (0.8; with --search)"),
    )
    p.add_argument(
        "--search-runs",
        type=positive_int,
        default=None,
        help=_("runs per step in the search (400; with --search)"),
    )
    ens = p.add_mutually_exclusive_group()
    ens.add_argument(
        "--ensemble",
        type=nonempty_path,
        help=_("behaviour ensemble file (TOML [[ensemble]] or CSV)"),
    )
    ens.add_argument(
        "--no-ensemble", action="store_true", help=_("ignore the calibrated parameter ensemble")
    )
    p.add_argument("--quiet", action="store_true", help=_("no progress bar"))
    p.add_argument(
        "--pdf",
        action="store_true",
        help=_("also print the report to report.pdf (headless Chromium, offline)"),
    )
    add_force(p)
    add_lang_option(p)
    p.set_defaults(func=_cmd_forecast)
    return p
