"""The ``feesim calibrate`` sub-command."""

from __future__ import annotations

import argparse
import logging

from feesim.i18n import gettext as _
from feesim.io import check_output_dir
from feesim.surfaces.cli.args import (
    add_force,
    add_lang_option,
    check_workers,
    nonempty_path,
    positive_int,
    seed_int,
)

__all__ = ["add_calibrate_parser"]


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from feesim.studies.calibration.run import run_calibration

    # Mesa logs every model step at INFO; keep it quiet whatever the verbosity.
    logging.getLogger("MESA").setLevel(logging.WARNING)
    check_workers(args.workers, args.force)
    if args.out is not None:
        # Before the first simulation: the checkpoint and the fitted file go into it.
        check_output_dir(args.out)
    run = run_calibration(
        args.out,
        quick=args.quick,
        rng=args.seed,
        fresh=args.fresh,
        progress=not args.quiet,
        workers=args.workers,
    )
    print(_("fitted parameters: {file}").format(file=run.params_file))
    if run.report_file is not None:
        print(_("report: {file}").format(file=run.report_file))
    print(run.summary_text())
    print(_("  {s} s").format(s=f"{sum(run.timings.values()):.0f}"))
    return 0


def add_calibrate_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``feesim calibrate`` on the sub-command parsers."""
    cal = sub.add_parser(
        "calibrate",
        help=_(
            "fit the behavioural parameters to the reported cases (writes the fitted file and "
            "calibration/REPORT.md)"
        ),
    )
    cal.add_argument(
        "--quick", action="store_true", help=_("small budget (under a minute; writes to --out)")
    )
    cal.add_argument(
        "--out",
        type=nonempty_path,
        help=_("output folder (default: calibration/, or calibration/quick with --quick)"),
    )
    cal.add_argument(
        "--seed", type=seed_int, default=2025, help=_("root of the common random numbers")
    )
    cal.add_argument(
        "--fresh", action="store_true", help=_("ignore the checkpoint and start again")
    )
    cal.add_argument("--quiet", action="store_true", help=_("no progress bar"))
    cal.add_argument(
        "--workers",
        type=positive_int,
        help=_("worker processes (default: every core; the results do not depend on it)"),
    )
    add_force(cal)
    add_lang_option(cal)
    cal.set_defaults(func=_cmd_calibrate)
