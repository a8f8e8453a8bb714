"""Starting the dashboard: the command behind ``feesim dashboard``."""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
from pathlib import Path

from feesim.config.scenario import load_scenario
from feesim.errors import ConfigError, FeesimError
from feesim.surfaces.dashboard.model import SCENARIO_ENV

__all__ = [
    "APP",
    "add_dashboard_parser",
    "check_dependencies",
    "check_listen",
    "serve",
    "solara_command",
]

log = logging.getLogger(__name__)

#: The Solara app module.
APP = "feesim.surfaces.dashboard.app"

_INSTALL = 'install them with: pip install "feesim[dashboard]"'


def check_dependencies() -> None:
    """Raise :class:`~feesim.errors.FeesimError` unless the dashboard can run offline.

    Needs solara, solara-assets (the front-end served locally instead of from a CDN), Mesa's
    visualization and ipyvuetify below version 3 (version 3 asks for a Vue 3 front-end that
    solara-assets does not ship).
    """
    missing = []
    for module in ("solara", "solara_assets", "mesa.visualization", "ipyvuetify"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module.split(".")[0].replace("_", "-"))
    if missing:
        raise FeesimError(f"the dashboard needs {', '.join(missing)}; {_INSTALL}")
    from importlib.metadata import version

    major = int(version("ipyvuetify").split(".")[0])
    if major >= 3:
        raise FeesimError(
            f"ipyvuetify {version('ipyvuetify')} is installed; the offline dashboard needs "
            f"ipyvuetify<3; {_INSTALL}"
        )


def solara_command(host: str, port: int, *, open_browser: bool = False) -> list[str]:
    """The ``solara run`` command line of the dashboard (production mode, local assets)."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        APP,
        "--host",
        host,
        "--port",
        str(int(port)),
        "--production",
        "--open" if open_browser else "--no-open",
        "--log-level",
        "warning",
    ]


def serve(
    scenario: str | os.PathLike[str] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    open_browser: bool = False,
) -> int:
    """Run the dashboard until interrupted; returns the server's exit status.

    Parameters
    ----------
    scenario : path, optional
        Scenario file of the base community (checked before the server starts); default the
        built-in old public-housing estate.
    host, port : str, int
        Where to listen (``127.0.0.1`` keeps it on this machine).
    open_browser : bool
        Open the page in the default browser.

    Raises
    ------
    FeesimError
        If the optional dependencies are missing or the scenario is invalid.
    """
    check_dependencies()
    env = dict(os.environ)
    if scenario is not None:
        load_scenario(scenario)  # fail here, with the field named, not inside the server
        env[SCENARIO_ENV] = str(Path(scenario).resolve())
    else:
        env.pop(SCENARIO_ENV, None)
    cmd = solara_command(host, port, open_browser=open_browser)
    log.info("starting %s", " ".join(cmd))
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        return 0


def _port(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port in 0-65535, got {value}")
    return value


def check_listen(host: str, port: int) -> None:
    """Check that the server can listen on ``host:port`` (the server itself would exit 3).

    Raises
    ------
    ConfigError
        Naming ``--host`` or ``--port`` when the address is unknown or the port is taken.
    """
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"--host: got {host!r}; not an address of this machine ({exc})") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(
                f"--port: got {port}; cannot listen on {host}:{port} ({exc.strerror or exc}); "
                "give a free port, e.g. --port 8766"
            ) from None


def _cmd_dashboard(args: object) -> int:
    host, port = args.host, args.port  # type: ignore[attr-defined]
    check_dependencies()
    if args.scenario is not None:  # type: ignore[attr-defined]
        load_scenario(args.scenario)  # type: ignore[attr-defined]
    check_listen(host, port)
    print(f"feesim dashboard: http://{host}:{port}/ (Ctrl-C to stop)")
    status = serve(
        args.scenario,  # type: ignore[attr-defined]
        host=host,
        port=port,
        open_browser=not args.no_browser,  # type: ignore[attr-defined]
    )
    if status not in (0, -2, 130):  # -2 / 130: stopped with Ctrl-C
        raise FeesimError(
            f"dashboard: the server stopped with status {status}; run with -v for its log"
        )
    return 0


def add_dashboard_parser(sub: object) -> None:
    """Register ``feesim dashboard [SCENARIO.toml] [--host H] [--port N] [--no-browser]``."""
    p = sub.add_parser(  # type: ignore[attr-defined]
        "dashboard",
        help="live dashboard of the two cycles in the browser (needs feesim[dashboard])",
        description="Start the live dashboard (a Mesa SolaraViz app) on this machine; it works "
        "without internet access.",
    )
    p.add_argument(
        "scenario",
        nargs="?",
        type=Path,
        help="base community (scenario TOML); default: an old public-housing estate",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8765, help="port (default 8765)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(func=_cmd_dashboard)
