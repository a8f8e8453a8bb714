"""The ``feesim dashboard`` sub-command (the server is :mod:`feesim.surfaces.dashboard.server`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from feesim.config.scenario import load_scenario
from feesim.errors import FeesimError
from feesim.i18n import gettext as _
from feesim.surfaces.cli.args import add_lang_option, port_number
from feesim.surfaces.dashboard.server import check_dependencies, check_listen, serve

__all__ = ["add_dashboard_parser"]


def _cmd_dashboard(args: argparse.Namespace) -> int:
    host, port = args.host, args.port
    check_dependencies()
    if args.scenario is not None:
        load_scenario(args.scenario)
    check_listen(host, port)
    print(
        _("feesim dashboard: http://{host}:{port}/ (Ctrl-C to stop)").format(host=host, port=port)
    )
    status = serve(
        args.scenario,
        host=host,
        port=port,
        open_browser=not args.no_browser,
    )
    if status not in (0, -2, 130):  # -2 / 130: stopped with Ctrl-C
        raise FeesimError(
            _("dashboard: the server stopped with status {status}; run with -v for its log").format(
                status=status
            )
        )
    return 0


def add_dashboard_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``feesim dashboard [SCENARIO.toml] [--host H] [--port N] [--no-browser]``."""
    p = sub.add_parser(
        "dashboard",
        help=_("live dashboard of the two cycles in the browser (needs feesim[dashboard])"),
        description=_(
            "Start the live dashboard on this machine; it works without internet access. Its "
            "language follows --lang, else LANGUAGE, LC_ALL or LANG (it can be switched on the "
            "page)."
        ),
    )
    p.add_argument(
        "scenario",
        nargs="?",
        type=Path,
        help=_("base community (scenario TOML); default: an old public-housing estate"),
    )
    p.add_argument(
        "--host", default="127.0.0.1", help=_("address to listen on (default 127.0.0.1)")
    )
    p.add_argument("--port", type=port_number, default=8765, help=_("port (default 8765)"))
    p.add_argument("--no-browser", action="store_true", help=_("do not open a browser"))
    add_lang_option(p)
    p.set_defaults(func=_cmd_dashboard)
