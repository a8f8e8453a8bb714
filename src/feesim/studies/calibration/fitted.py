"""The fitted parameter file: ``calibration/fitted/params-<version>.toml``.

Tables:

- ``[fit]``: metadata (calibration version, date, feesim version, data hash, objective value,
  budget, timings);
- ``[behaviour]``: every :class:`~feesim.config.behaviour.Behaviour` field, fitted or judgement;
  this is what :func:`feesim.config.behaviour.load_params_file` reads, so the newest file becomes
  the package's default behaviour;
- ``[parameters.<name>]``: each calibrated parameter with its bounds, prior, estimate, standard
  error, ensemble interval and identification label;
- ``[case_parameters]``: nuisance parameters of the case mapping (not behaviour);
- ``[ensemble]``: the parameter ensemble (``names`` and one row of ``members`` per draw), so
  that forecasts carry parameter uncertainty (:func:`load_ensemble`,
  :func:`ensemble_scenarios`).

The version is the calibration version :data:`CALIBRATION_VERSION` (the package version the fit
was made for); :func:`feesim.config.behaviour.fitted_params_files` orders files by it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from feesim.config.behaviour import (
    Behaviour,
    behaviour_mapping,
    load_params_file,
    with_coefficients,
)
from feesim.config.scenario import Scenario
from feesim.errors import ConfigError
from feesim.io import atomic_write_text, read_toml
from feesim.protocol import feesim_version

__all__ = [
    "CALIBRATION_VERSION",
    "ensemble_scenarios",
    "format_toml_value",
    "load_ensemble",
    "params_path",
    "write_params_file",
]


def _version() -> str:
    try:
        from importlib.metadata import version

        v = version("feesim")
    except Exception:  # pragma: no cover - source tree without metadata
        v = "0.1.0"
    core = v.split("+")[0].split("rc")[0].split("a")[0].split("b")[0]
    parts = [p for p in core.split(".") if p.isdigit()]
    return ".".join(parts) or "0.1.0"


#: Version written into fitted file names: the package version (numbers only).
CALIBRATION_VERSION = _version()


def params_path(out_dir: str | Path, version: str = CALIBRATION_VERSION) -> Path:
    """Path of the fitted file in ``out_dir/fitted``."""
    return Path(out_dir) / "fitted" / f"params-{version}.toml"


def format_toml_value(v: object) -> str:
    """A TOML literal for a number, bool, string or (nested) list."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        x = float(v)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(round(x, 10))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(format_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def write_params_file(
    path: str | Path,
    behaviour: Behaviour,
    *,
    fit_meta: dict[str, object],
    parameters: pd.DataFrame,
    case_parameters: dict[str, float],
    ensemble: pd.DataFrame | None,
) -> Path:
    """Write a fitted parameter file atomically and check that it loads.

    Parameters
    ----------
    path : path-like
    behaviour : Behaviour
        Full behaviour at the fit.
    fit_meta : dict
        Values of the ``[fit]`` table.
    parameters : pandas.DataFrame
        One row per calibrated parameter (:meth:`FitResult.summary_frame`).
    case_parameters : dict
    ensemble : pandas.DataFrame, optional
        One row per member, columns = parameter names.
    """
    lines = [
        "# feesim fitted behavioural parameters (written by `feesim calibrate`; do not edit).",
        "# [behaviour] is read by feesim.config.behaviour.load_params_file; see "
        "calibration/REPORT.md.",
        "",
        "[fit]",
    ]
    lines += [f"{k} = {format_toml_value(v)}" for k, v in fit_meta.items()]
    lines += ["", "[behaviour]"]
    lines += [
        f"{k} = {format_toml_value(float(v))}" for k, v in behaviour_mapping(behaviour).items()
    ]
    for name, row in parameters.iterrows():
        lines += ["", f"[parameters.{name}]"]
        for k, v in row.items():
            lines.append(f"{k} = {format_toml_value(v if isinstance(v, str) else float(v))}")
    lines += ["", "[case_parameters]"]
    lines += [f"{k} = {format_toml_value(float(v))}" for k, v in case_parameters.items()]
    if ensemble is not None and len(ensemble):
        names = [c for c in ensemble.columns]
        lines += ["", "[ensemble]", f"names = {format_toml_value(names)}", "members = ["]
        for _, row in ensemble.iterrows():
            lines.append("  " + format_toml_value([float(row[n]) for n in names]) + ",")
        lines.append("]")
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # fail here, not later, if the text is not TOML
    p = atomic_write_text(path, text)
    load_params_file(p)
    return p


def load_ensemble(path: str | Path) -> list[Behaviour]:
    """Behaviour of every ensemble member of a fitted file.

    Each member sets its calibrated fields on the file's ``[behaviour]``; members that share a
    value between fields (``campaign_followup``) use the ``fields`` listed in
    ``[parameters.<name>]``.

    Raises
    ------
    ConfigError
        If the file has no ``[ensemble]`` table or a member does not validate.
    """
    p = Path(path)
    base = load_params_file(p)
    data = read_toml(p, "parameter")
    ens = data.get("ensemble")
    if not isinstance(ens, dict) or "names" not in ens or "members" not in ens:
        raise ConfigError(f"ensemble: {str(p)!r} has no [ensemble] table with names and members")
    params = data.get("parameters", {})
    out = []
    for i, member in enumerate(ens["members"]):
        changes: dict[str, float] = {}
        for name, value in zip(ens["names"], member, strict=True):
            info = params.get(name, {})
            fields = str(info.get("fields", name)).split()
            for f in fields:
                if f in Behaviour.__dataclass_fields__:
                    changes[f] = float(value)
        out.append(with_coefficients(base, changes, path=f"ensemble.members[{i}]"))
    return out


def ensemble_scenarios(
    scenario: Scenario,
    path: str | Path | None = None,
    *,
    n: int | None = None,
    rng: np.random.Generator | int | None = None,
) -> list[Scenario]:
    """Copies of ``scenario`` with behaviour drawn from the fitted ensemble.

    Run them together (``feesim.FeeModel(scenarios, rng=seed)``) to get a forecast that carries
    parameter uncertainty as well as seed noise.

    Parameters
    ----------
    scenario : Scenario
    path : path-like, optional
        Fitted file; default: the newest shipped one.
    n : int, optional
        Number of runs; default: one per member. With ``n`` the members are drawn with
        replacement using ``rng``.
    rng : numpy Generator or int, optional
    """
    if path is None:
        from feesim.config.behaviour import fitted_params_files

        files = fitted_params_files()
        if not files:
            raise ConfigError("ensemble: no fitted parameter file is shipped")
        path = files[-1]
    members = load_ensemble(path)
    if n is not None:
        g = np.random.default_rng(rng)
        members = [members[int(i)] for i in g.integers(0, len(members), size=n)]
    return [dataclasses.replace(scenario, behaviour=b) for b in members]


def fit_metadata(
    *,
    cost: float,
    data_hash: str,
    settings: object,
    n_simulations: int,
    elapsed: float,
    quick: bool,
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """The ``[fit]`` table."""
    meta: dict[str, object] = {
        "version": CALIBRATION_VERSION,
        "feesim_version": feesim_version(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "method": "penalised indirect inference (auxiliary censored-logit regressions and "
        "time-path targets), trust-region least squares; ensemble: posterior particles by "
        "one round of sequential Monte Carlo (importance sampling from a Student-t around the fit, "
        "resample, random-walk Metropolis moves) on the indirect-inference pseudo-likelihood",
        "objective": float(cost),
        "data_hash": data_hash,
        "quick": bool(quick),
        "simulations": int(n_simulations),
        "elapsed_seconds": float(round(elapsed, 1)),
    }
    for f in dataclasses.fields(settings):  # type: ignore[arg-type]
        v = getattr(settings, f.name)
        if isinstance(v, bool | int | float | str):
            meta[f"settings_{f.name}"] = v
    meta.update(extra or {})
    return meta


def parameters_table(summary: pd.DataFrame, fields: dict[str, Sequence[str]]) -> pd.DataFrame:
    """The ``[parameters.*]`` tables: the fit summary plus the fields each parameter sets."""
    out = summary.copy()
    out["fields"] = [" ".join(fields[n]) for n in out.index]
    return out
