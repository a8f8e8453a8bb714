"""Starting the dashboard server (``feesim dashboard`` is :mod:`feesim.surfaces.cli.dashboard`)."""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
from pathlib import Path

from feesim.config.scenario import load_scenario
from feesim.errors import ConfigError, FeesimError
from feesim.i18n import gettext as _
from feesim.i18n import resolve
from feesim.surfaces.dashboard.model import SCENARIO_ENV

__all__ = [
    "APP",
    "check_dependencies",
    "check_listen",
    "serve",
    "solara_command",
]

log = logging.getLogger(__name__)

#: The Solara app module.
APP = "feesim.surfaces.dashboard.app"


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
        raise FeesimError(
            _(
                'the dashboard needs {missing}; install them with: pip install "feesim[dashboard]"'
            ).format(missing=", ".join(missing))
        )
    from importlib.metadata import version

    major = int(version("ipyvuetify").split(".")[0])
    if major >= 3:
        raise FeesimError(
            _(
                "ipyvuetify {v} is installed; the offline dashboard needs ipyvuetify<3; install "
                'it with: pip install "feesim[dashboard]"'
            ).format(v=version("ipyvuetify"))
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
    lang: str | None = None,
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
    lang : str, optional
        Language the page starts in (default: the language in force, :mod:`feesim.i18n`); it
        can be switched on the page.

    Raises
    ------
    FeesimError
        If the optional dependencies are missing or the scenario is invalid.
    """
    check_dependencies()
    env = dict(os.environ)
    # No "This website runs on Solara" banner: at 1366x768 it covered the vote bars.
    env.setdefault("SOLARA_THEME_SHOW_BANNER", "False")
    env["LANGUAGE"] = resolve(lang)
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
        raise ConfigError(
            _("--host: got {host}; not an address of this machine ({why})").format(
                host=repr(host), why=exc
            )
        ) from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(
                _(
                    "--port: got {port}; cannot listen on {host}:{port} ({why}); give a free "
                    "port, e.g. --port 8766"
                ).format(port=port, host=host, why=exc.strerror or exc)
            ) from None
