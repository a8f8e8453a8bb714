"""The results protocol: every result summarises itself and is saved and loaded the same way.

Every object a feesim study returns (a simulation, an ensemble, a forecast and its step search,
a portfolio, a phase diagram, a sensitivity evaluation and analysis, a calibration and its
parts) is a :class:`Result`:

``summary_text()``
    a short account for people (what the command line prints);
``summary_frame()``
    a tidy :class:`pandas.DataFrame`; where a figure is an estimate over runs its columns are
    statsmodels' ``mean, mean_se, mean_ci_lower, mean_ci_upper`` (:data:`ESTIMATE_COLUMNS`;
    95% intervals from :func:`sample_estimate`, :func:`share_estimate` or :func:`estimate`);
``save(directory)``
    the result's tables as Parquet files (``<table>.parquet``) and a JSON sidecar,
    :data:`SIDECAR`, with the provenance: the feesim version, the class, the creation time and
    the seeds and inputs the result knows;
``load(directory)``
    a class method giving the saved result back.

Each file is written atomically (:mod:`feesim.io`) and the sidecar last, so a folder with a
sidecar holds a complete result; :func:`load_result` reads only the tables the sidecar lists.

The sidecar::

    {"format": 1,
     "class": "feesim.studies.phase.PhaseDiagram",
     "feesim_version": "0.1.0",
     "created": "2025-06-01T08:00:00+00:00",
     "provenance": {... seeds, scenarios, settings ...},
     "tables": ["table", "paths", "states"],
     "attrs": {... the small values the class needs to rebuild itself ...}}

This module is at the foundation layer: it imports neither the configuration, the engine nor
the studies.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import os
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd

from feesim.errors import FeesimError
from feesim.io import atomic_write_text, check_output_dir, write_atomically

__all__ = [
    "ESTIMATE_COLUMNS",
    "FORMAT",
    "SIDECAR",
    "Result",
    "Stored",
    "class_path",
    "estimate",
    "feesim_version",
    "jsonable",
    "load_result",
    "sample_estimate",
    "save_result",
    "share_estimate",
]

#: Name of the JSON sidecar written beside the Parquet tables.
SIDECAR = "result.json"
#: Version of the sidecar's layout; :func:`load_result` refuses newer ones.
FORMAT = 1
#: statsmodels' names for an estimate, its standard error and its confidence interval
#: (``PredictionResults.summary_frame``).
ESTIMATE_COLUMNS = ("mean", "mean_se", "mean_ci_lower", "mean_ci_upper")


@runtime_checkable
class Result(Protocol):
    """What every feesim result offers (see the module docstring)."""

    def summary_text(self) -> str:
        """A short human-readable account."""
        ...

    def summary_frame(self) -> pd.DataFrame:
        """A tidy table of the key figures (statsmodels' column names for estimates)."""
        ...

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the tables as Parquet and the sidecar; return the folder."""
        ...

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Self:
        """Read a result written by :meth:`save`."""
        ...


# ==============================================================================================
# estimates over runs
# ==============================================================================================
@functools.cache
def _z(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise FeesimError(f"alpha: got {alpha!r}; expected a number in (0, 1)")
    return statistics.NormalDist().inv_cdf(1 - alpha / 2)


def estimate(mean: Any, se: Any, alpha: float = 0.05) -> dict[str, Any]:
    """An estimate with its standard error and the normal-approximation interval.

    Parameters
    ----------
    mean, se : float or array-like
        Estimates and their standard errors.
    alpha : float
        One minus the level of the interval (0.05: 95%).

    Returns
    -------
    dict
        ``mean, mean_se, mean_ci_lower, mean_ci_upper`` (floats, or arrays for arrays).
    """
    z = _z(alpha)
    m, s = np.asarray(mean, dtype=np.float64), np.asarray(se, dtype=np.float64)
    out = {"mean": m, "mean_se": s, "mean_ci_lower": m - z * s, "mean_ci_upper": m + z * s}
    return {k: (float(v) if v.ndim == 0 else v) for k, v in out.items()}


def sample_estimate(values: Any, alpha: float = 0.05) -> dict[str, float]:
    """Mean of a sample of runs with its standard error ``sd / sqrt(n)``, normal interval.

    Non-finite values are left out. With one value the standard error and the interval are
    NaN (one run says nothing about the spread); with none, everything is NaN.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return estimate(np.nan, np.nan, alpha)
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else np.nan
    return estimate(float(v.mean()), se, alpha)


def share_estimate(share: float, n: int, alpha: float = 0.05) -> dict[str, float]:
    """A share of ``n`` runs: binomial standard error and Wilson score interval.

    The Wilson interval replaces the normal approximation for shares: it stays inside [0, 1]
    and does not collapse to a point when the share is 0 or 1 (Wilson 1927; Brown, Cai and
    DasGupta 2001 recommend it for any ``n``).
    """
    if n < 1 or not math.isfinite(share):
        return estimate(np.nan, np.nan, alpha)
    p = float(share)
    z = _z(alpha)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {
        "mean": p,
        "mean_se": math.sqrt(p * (1 - p) / n),
        "mean_ci_lower": max(0.0, centre - half),
        "mean_ci_upper": min(1.0, centre + half),
    }


# ==============================================================================================
# the sidecar and the tables
# ==============================================================================================
def feesim_version() -> str:
    """The installed feesim version (read from the package metadata, not from ``feesim``)."""
    try:
        return version("feesim")
    except PackageNotFoundError:  # pragma: no cover - a source tree without install
        return "0.0.0+local"


def class_path(kind: type) -> str:
    """``module.Class`` of a result class (recorded in the sidecar)."""
    return f"{kind.__module__}.{kind.__qualname__}"


def jsonable(x: Any) -> Any:
    """Plain JSON data: numpy scalars to Python, tuples to lists, non-finite floats to null."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [jsonable(v) for v in x.tolist()]
    if isinstance(x, np.bool_ | bool):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return None if not math.isfinite(x) else float(x)
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    return x


@dataclass(frozen=True)
class Stored:
    """A saved result as read back by :func:`load_result`.

    Attributes
    ----------
    tables : dict of str to DataFrame
    provenance : dict
    attrs : dict
    sidecar : dict
        The whole sidecar (with ``class``, ``feesim_version``, ``created``).
    """

    tables: dict[str, pd.DataFrame]
    provenance: dict[str, Any] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    sidecar: dict[str, Any] = field(default_factory=dict)


def save_result(
    directory: str | os.PathLike[str],
    result: object,
    tables: Mapping[str, pd.DataFrame],
    *,
    provenance: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``tables`` as ``<name>.parquet`` and the sidecar :data:`SIDECAR` to ``directory``.

    Parameters
    ----------
    directory : path-like
        Created if missing. Files of an earlier save are replaced one by one. An existing
        file, a path under a file or an empty path is an
        :class:`~feesim.errors.OutputError`.
    result : object
        The result being saved (its class is recorded).
    tables : mapping of str to DataFrame
        Column names must be strings; indexes other than a plain range are stored and restored.
    provenance : mapping, optional
        Seeds and inputs the result knows (JSON-ready after :func:`jsonable`).
    attrs : mapping, optional
        Other small values the class needs to rebuild itself.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    check_output_dir(directory, "directory")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        bad = [c for c in frame.columns if not isinstance(c, str)]
        if bad:  # Parquet names columns by strings; a silent str() would not round-trip
            raise FeesimError(f"table {name}: column {bad[0]!r} is not a string")
        write_atomically(out / f"{name}.parquet", lambda fh, f=frame: f.to_parquet(fh))
    sidecar = {
        "format": FORMAT,
        "class": class_path(type(result)),
        "feesim_version": feesim_version(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "provenance": jsonable(dict(provenance or {})),
        "tables": list(tables),
        "attrs": jsonable(dict(attrs or {})),
    }
    text = json.dumps(sidecar, indent=2, ensure_ascii=False, allow_nan=False)
    atomic_write_text(out / SIDECAR, text + "\n")
    return out


def read_sidecar(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The sidecar of a saved result, or None if the folder has none."""
    path = Path(directory) / SIDECAR
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FeesimError(f"{path}: not valid JSON ({exc})") from None


def load_result(directory: str | os.PathLike[str], kind: type) -> Stored:
    """Read the tables and sidecar :func:`save_result` wrote for a result of class ``kind``.

    Raises
    ------
    FeesimError
        If the folder has no sidecar, holds another class of result, was written by a newer
        layout, or misses a table its sidecar lists.
    """
    d = Path(directory)
    side = read_sidecar(d)
    if side is None:
        raise FeesimError(
            f"{d}: no {SIDECAR}; expected a folder written by {kind.__name__}.save "
            "(the sidecar is written last, so an interrupted save has none)"
        )
    got = str(side.get("class", "?"))
    # Compare the class name, not its module: a result saved before a module moved still loads.
    if got.rpartition(".")[2] != kind.__name__:
        raise FeesimError(f"{d}: holds a {got}; expected a {class_path(kind)}")
    fmt = side.get("format")
    if not isinstance(fmt, int) or fmt > FORMAT:
        raise FeesimError(f"{d}/{SIDECAR}: format {fmt!r}; this feesim reads up to {FORMAT}")
    tables = {}
    for name in side.get("tables", []):
        path = d / f"{name}.parquet"
        if not path.is_file():
            raise FeesimError(f"{d}: missing {path.name}, listed in {SIDECAR}")
        tables[name] = pd.read_parquet(path)
    return Stored(
        tables=tables,
        provenance=dict(side.get("provenance") or {}),
        attrs=dict(side.get("attrs") or {}),
        sidecar=side,
    )
