"""Behaviour parameter ensembles: the calibration's uncertainty, carried into the forecast.

A forecast spreads its runs over the members of a behaviour ensemble (run ``r`` uses member
``r % M``), so its bands and probabilities carry the uncertainty of the calibrated parameters
as well as that of the random streams. Without an ensemble every run uses the scenario's own
behaviour and only seed uncertainty is shown.

Where ensembles come from (:func:`behaviour_ensemble`):

- an explicit file: a TOML file with ``[[ensemble]]`` tables (as below), or a CSV file with one
  column per behavioural coefficient and one row per member;
- by default, the newest fitted parameter file (``calibration/fitted/params-<version>.toml``,
  see :func:`feesim.config.behaviour.fitted_params_files`) when it holds an ensemble.

Expected layout of a fitted parameter file with an ensemble::

    [behaviour]             # point estimate (the package default)
    approve_step = 2.7
    ...

    [[ensemble]]            # one table per member: equally weighted draws from the posterior
    approve_step = 2.4      # coefficients not given take the [behaviour] value
    turnout_intercept = -0.5

    [[ensemble]]
    ...

The ensemble may instead live in a CSV file beside it: ``[ensemble] csv = "ensemble.csv"``,
one row per member, one column per coefficient (a ``member`` or ``weight`` column is ignored).
Besides the behavioural coefficients, the names of the calibration's parameters are understood:
one that sets several coefficients (``campaign_followup``) sets each of them, and its nuisance
parameters of the case mapping (``case_collection``) are ignored with a warning. Any other key or
column (a misspelt coefficient) is an error naming the file and the key, as is a member with no
coefficient at all.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
import logging
import os
from pathlib import Path
from typing import Any

from feesim.config.behaviour import (
    Behaviour,
    default_behaviour,
    fitted_params_files,
    with_coefficients,
)
from feesim.config.params import to_mapping
from feesim.errors import ConfigError
from feesim.io import read_toml

__all__ = [
    "MODEL_ERROR_OUTCOMES",
    "apply_overrides",
    "behaviour_ensemble",
    "fitted_fit_table",
    "fitted_model_error",
    "fitted_sets",
    "local_overrides",
    "read_ensemble",
]

#: Outcomes whose out-of-sample error the calibration records (``[fit] model_error_<outcome>``).
MODEL_ERROR_OUTCOMES = ("approval", "turnout", "collection")

log = logging.getLogger(__name__)


@functools.cache
def _behaviour_names() -> frozenset[str]:
    """The behaviour coefficients' names (the fields of :class:`Behaviour`)."""
    return frozenset(f.name for f in dataclasses.fields(Behaviour))


@functools.cache
def _calibration_names() -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """Calibration parameters that are not behaviour fields: shared values and case parameters.

    Returns the parameters that set several coefficients (name: the fields it sets) and the
    nuisance parameters of the case mapping (not behaviour).
    """
    from feesim.studies.calibration.fit import PARAMETERS

    fields = _behaviour_names()
    shared = {
        p.name: tuple(p.fields)
        for p in PARAMETERS
        if p.kind == "behaviour" and p.name not in fields and p.fields
    }
    cases = frozenset(p.name for p in PARAMETERS if p.kind == "case")
    return shared, cases


#: Keys (CSV columns) that name or weigh a member rather than set a coefficient: ignored, as
#: members are equally weighted.
MEMBER_KEYS = ("member", "weight")


def _check_key(key: str, where: str, what: str) -> str:
    """What an ensemble file's key is (``"field"``, ``"shared"``, ``"case"`` or ``"member"``).

    ``"shared"``: a calibration parameter that sets several coefficients; ``"case"``: a
    nuisance parameter of the calibration (ignored); ``"member"``: one of :data:`MEMBER_KEYS`.

    Raises
    ------
    ConfigError
        For any other key, naming it (with the closest known name) and what is allowed.
    """
    fields = _behaviour_names()
    if key in fields:
        return "field"
    if key in MEMBER_KEYS:
        return "member"
    shared, cases = _calibration_names()
    if key in shared:
        return "shared"
    if key in cases:
        return "case"
    calibration = sorted([*shared, *cases])
    close = difflib.get_close_matches(key, sorted([*fields, *calibration]), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError(
        f"{where}: {what} {key!r} is not a behaviour coefficient{hint}; expected behaviour "
        f"coefficients (the behaviour.* fields that feesim describe lists), "
        f"{', '.join(MEMBER_KEYS)}, or a calibration parameter ({', '.join(calibration)})"
    )


def _members_from_rows(
    rows: list[dict[str, Any]], base: Behaviour, where: str, what: str = "key"
) -> list[Behaviour]:
    """Members from rows of coefficients (``what``: ``"key"`` of a table, or CSV ``"column"``).

    Raises
    ------
    ConfigError
        For a row that is not a table, a key that is neither a coefficient nor a calibration
        parameter, a row without any coefficient, or a value out of range.
    """
    out = []
    ignored: set[str] = set()
    for i, row in enumerate(rows):
        here = where if what == "column" else f"{where}[{i}]"
        if not isinstance(row, dict):
            raise ConfigError(f"{where}[{i}]: got {row!r}; expected a table of coefficients")
        kinds = {key: _check_key(key, here, what) for key in sorted(row)}
        known = {k: v for k, v in row.items() if kinds[k] == "field"}
        for key in (k for k, kind in kinds.items() if kind == "shared"):
            shared, _cases = _calibration_names()
            for name in shared[key]:
                if name in known:
                    raise ConfigError(
                        f"{here}: {key} and {name} both set {name}; expected one of them"
                    )
                known[name] = row[key]
        ignored |= {k for k, kind in kinds.items() if kind == "case"}
        row = {k: v for k, v in row.items() if kinds[k] != "member"}
        if row and not known:
            raise ConfigError(
                f"{where}[{i}]: got keys {sorted(row)}; expected behaviour coefficients (the "
                "fields of feesim.config.behaviour.Behaviour, see feesim describe)"
            )
        out.append(with_coefficients(base, known, path=f"{where}[{i}]"))
    if ignored:
        # Calibration output may carry nuisance parameters of its case mapping.
        log.warning(
            "%s: ignoring %s (not behaviour coefficients)", where, ", ".join(sorted(ignored))
        )
    return out


def _read_csv(path: Path, base: Behaviour) -> list[Behaviour]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            names = list(reader.fieldnames or ())
    except FileNotFoundError:
        raise ConfigError(f"ensemble: file {str(path)!r} does not exist") from None
    # Every column is checked by its name, even one whose cells are all empty.
    for key in names:
        _check_key(key, f"{path}: ensemble", "column")
    parsed = []
    for i, row in enumerate(rows):
        item = {}
        for k, v in row.items():
            if k is None or v is None or v == "" or k in MEMBER_KEYS:
                continue
            try:
                item[k] = float(v)
            except ValueError:
                raise ConfigError(
                    f"{path}: ensemble[{i}].{k}: got {v!r}; expected a number"
                ) from None
        parsed.append(item)
    return _members_from_rows(parsed, base, f"{path}: ensemble", what="column")


def read_ensemble(path: str | os.PathLike[str]) -> list[Behaviour]:
    """Read the behaviour ensemble of a file (TOML with ``[[ensemble]]`` tables, or CSV).

    Returns an empty list when a TOML file holds no ensemble.

    Raises
    ------
    ConfigError
        For a missing or malformed file, or an unknown or out-of-range coefficient.
    """
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return _read_csv(p, Behaviour())
    try:
        data = read_toml(p, "ensemble")
    except ConfigError as exc:
        raise ConfigError(f"ensemble: {exc}") from None
    base_table = data.get("behaviour", {})
    if not isinstance(base_table, dict):
        raise ConfigError(f"{p}: behaviour: got {base_table!r}; expected a table")
    base = with_coefficients(Behaviour(), base_table)
    ens = data.get("ensemble")
    if ens is None:
        return []
    if isinstance(ens, dict) and "csv" in ens:
        return _read_csv(p.parent / str(ens["csv"]), base)
    if isinstance(ens, dict) and "names" in ens and "members" in ens:
        # The format `feesim calibrate` writes: one row of fitted values per member.
        from feesim.studies.calibration.fitted import load_ensemble

        return load_ensemble(p)
    if not isinstance(ens, list):
        raise ConfigError(
            f"{p}: ensemble: got {type(ens).__name__}; expected [[ensemble]] tables, "
            "[ensemble] csv = 'file.csv' or [ensemble] names and members"
        )
    return _members_from_rows(ens, base, f"{p}: ensemble")


def behaviour_ensemble(path: str | os.PathLike[str] | None = None) -> list[Behaviour]:
    """Behaviour parameter sets to spread a forecast's runs over.

    Parameters
    ----------
    path : path-like, optional
        An ensemble file; by default the newest fitted parameter file of the package.

    Returns
    -------
    list of Behaviour
        The members, or an empty list when there is no ensemble (then every run uses the
        scenario's own behaviour).
    """
    if path is not None:
        return read_ensemble(path)
    files = fitted_params_files()
    if not files:
        return []
    members = read_ensemble(files[-1])
    if members:
        log.info("behaviour ensemble of %d members from %s", len(members), files[-1])
    return members


def fitted_fit_table(path: str | os.PathLike[str] | None = None) -> tuple[Path, dict] | None:
    """A fitted parameter file (default: the newest) and its ``[fit]`` table.

    None when there is no fitted file or it cannot be read as TOML.
    """
    if path is None:
        files = fitted_params_files()
        if not files:
            return None
        path = files[-1]
    try:
        return Path(path), read_toml(path).get("fit", {})
    except (OSError, ConfigError):
        return None


def fitted_model_error(path: str | os.PathLike[str] | None = None) -> dict[str, float] | None:
    """The fitted model's own error by outcome, as the calibration measured it out of sample.

    The root mean square of the leave-one-case-out errors (distance from the reported interval)
    of approval, turnout and collection, ``[fit] model_error_<outcome>`` of a fitted parameter
    file (``calibration/validation.json`` has the same figures). A forecast's ranges are the
    spread of its runs; these say how far the model itself has been from what communities
    reported. ``None`` when the file (default: the newest fitted file) does not record them.
    """
    found = fitted_fit_table(path)
    if found is None:
        return None
    fit = found[1]
    keys = {o: f"model_error_{o}" for o in MODEL_ERROR_OUTCOMES}
    if not all(isinstance(fit.get(k), int | float) for k in keys.values()):
        return None
    return {o: float(fit[k]) for o, k in keys.items()}


def local_overrides(behaviour: Behaviour) -> dict[str, float]:
    """The coefficients of ``behaviour`` that differ from the package default.

    A scenario or community file that sets a coefficient means it for every parameter set; these
    are put back on top of each ensemble member (:func:`apply_overrides`).
    """
    base = to_mapping(default_behaviour())
    return {k: v for k, v in to_mapping(behaviour).items() if base.get(k) != v}


def apply_overrides(member: Behaviour, overrides: dict[str, float]) -> Behaviour:
    """A member with the coefficients a community file set explicitly put back on top."""
    return with_coefficients(member, overrides)


def fitted_sets(k: int, overrides: dict[str, float], field: str) -> list[Behaviour]:
    """The first ``k`` members of the fitted ensemble, each with ``overrides`` on top.

    The members are independent draws (bootstrap over cases), so the first ``k`` are a sample
    of them. Used where a whole run is repeated per parameter set (portfolios, ``feesim
    ensemble``); empty when ``k`` is 0.

    Parameters
    ----------
    k : int
        Number of sets.
    overrides : dict
        Coefficients the scenario sets itself (:func:`local_overrides`), kept in every set.
    field : str
        Name of the setting that asked for ``k``, for messages.

    Raises
    ------
    ConfigError
        When the fitted ensemble holds fewer than ``k`` members (or there is none).
    """
    if not k:
        return []
    members = behaviour_ensemble()
    if len(members) < k:
        raise ConfigError(
            f"{field}: got {k}; the fitted behaviour ensemble has {len(members)} members "
            f"(allowed: 0 to {len(members)})"
        )
    varied = sorted(n for n in overrides if len({getattr(m, n) for m in members[:k]}) > 1)
    if varied:
        # The scenario's own value wins, so the spread shown leaves these out.
        log.warning(
            "%s: the scenario sets %s itself; every parameter set keeps its value, so their "
            "uncertainty is not in the ranges",
            field,
            ", ".join(varied),
        )
    return [apply_overrides(m, overrides) for m in members[:k]]
