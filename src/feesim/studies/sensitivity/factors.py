"""Factors: numeric scenario fields named by dotted path, and the ranges to explore.

Holds :class:`Factor` and the helpers behind it: reading and setting the field on a scenario
and checking a list of factors. Paths are parsed, resolved to the field's declaration (type,
kind, unit, bounds) and edited by :mod:`feesim.config.params`, as
:meth:`~feesim.config.scenario.Scenario.with_changes` does, so a factor and ``with_changes``
accept the same paths and set them the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from feesim.config import params
from feesim.config.scenario import Scenario
from feesim.errors import ConfigError


def _resolve(path: str) -> params.FieldSpec:
    """The scenario field a factor path names (the parser and resolver of scenario edits)."""
    try:
        return params.resolve(Scenario, path)
    except ConfigError as exc:
        raise ConfigError(f"factor {exc}") from None


@dataclass(frozen=True)
class Factor:
    """A scenario field to vary, and the range to explore.

    Parameters
    ----------
    path : str
        Dotted path of a numeric scenario field: ``"government.wage_growth"``,
        ``"committee.door_to_door_intensity"``, ``"behaviour.pay_trust"``,
        ``"proposals[0].step_pct"`` (the first ``[[proposals]]`` entry),
        ``"community.building_types[1].fee_per_m2"``. ``feesim describe`` lists the fields.
    lo, hi : float
        The range (``lo < hi``), inside the field's declared bounds. Integer fields take the
        whole values ``lo..hi`` with equal probability; true/false fields need ``lo=0, hi=1``.
    name : str, optional
        Short label in tables and plots (default: the last part of the path). Names must be
        unique within a design.

    Attributes
    ----------
    kind : str
        ``"lever"`` or ``"uncertainty"``, from the field's declaration.
    unit, doc : str
        The field's unit and meaning.
    dtype : str
        ``"float"``, ``"int"`` or ``"bool"``.

    Notes
    -----
    Setting ``step_pct`` or ``step_yuan`` of a proposal clears the proposal's other way of
    stating its new fee (``new_fee_per_m2``, ``step_yuan`` / ``step_pct``), so a scenario whose
    proposal names new fees per building type can be swept over a relative step. For a
    portfolio, a factor sets the field in every community's scenario (overriding the value the
    portfolio table gives that community, e.g. its subsidy).

    Raises
    ------
    ConfigError
        For an unknown path, a field that is not numeric or is a *setting*, bounds outside the
        field's declared bounds, non-whole bounds of an integer field, or ``lo >= hi``; the
        message names the factor, the value and what is allowed.
    """

    path: str
    lo: float
    hi: float
    name: str = ""
    kind: str = field(init=False, default="")
    unit: str = field(init=False, default="")
    doc: str = field(init=False, default="")
    dtype: str = field(init=False, default="float")

    def __post_init__(self) -> None:
        info = _resolve(self.path)
        if info.dtype is None:
            raise ConfigError(
                f"factor {self.path}: {info.name!r} is not a single number or true/false "
                f"({info.type_name}); only numeric fields can be factors"
            )
        if info.kind not in ("lever", "uncertainty"):
            raise ConfigError(
                f"factor {self.path}: the field is a {info.kind}, not a lever or an uncertainty; "
                "only levers and uncertainties can be factors (see `feesim describe`)"
            )
        for side in ("lo", "hi"):
            value = getattr(self, side)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ConfigError(f"factor {self.path}: {side}: got {value!r}; expected a number")
            if not math.isfinite(float(value)):
                raise ConfigError(
                    f"factor {self.path}: {side}: got {value!r}; expected a finite number"
                )
            if info.dtype == "bool":
                want = 0 if side == "lo" else 1
                if float(value) != want:
                    raise ConfigError(
                        f"factor {self.path}: {side}: got {value!r}; expected {want} "
                        "(a true/false field is explored over both values: lo=0, hi=1)"
                    )
            elif info.dtype == "int" and float(value) != round(float(value)):
                raise ConfigError(
                    f"factor {self.path}: {side}: got {value!r}; expected a whole number "
                    "(the field is an integer)"
                )
            if info.dtype != "bool" and not info.inside(float(value)):
                raise ConfigError(
                    f"factor {self.path}: {side}: got {value!r}; expected {info.allowed()} "
                    "(the field's declared bounds)"
                )
            object.__setattr__(self, side, float(value))
        if not self.lo < self.hi:
            raise ConfigError(
                f"factor {self.path}: lo: got {self.lo:g}; expected lo < hi (hi = {self.hi:g})"
            )
        if not isinstance(self.name, str):
            raise ConfigError(f"factor {self.path}: name: got {self.name!r}; expected a string")
        object.__setattr__(self, "name", self.name or info.name)
        object.__setattr__(self, "kind", info.kind)
        object.__setattr__(self, "unit", info.unit)
        object.__setattr__(self, "doc", info.doc)
        object.__setattr__(self, "dtype", info.dtype)

    @classmethod
    def around(
        cls,
        scenario: Scenario,
        path: str,
        spread: float = 0.5,
        *,
        min_half_width: float = 0.0,
        name: str = "",
    ) -> Factor:
        """A factor centred on the scenario's value: ``value +- spread * |value|``.

        Useful for behavioural coefficients whose loaded value (judgement default or calibrated)
        should be the centre of the range.

        Parameters
        ----------
        scenario : Scenario
            Where the value is read.
        path : str
            The field (see :class:`Factor`).
        spread : float
            Relative half-width (0.5 = from half to one and a half times the value).
        min_half_width : float
            Smallest half-width in the field's unit, so that a value at or near zero (e.g. a
            coefficient fitted to its bound) still gets a range.
        name : str, optional
            Label (default: the last part of the path).

        Returns
        -------
        Factor
            The range is clipped to the field's declared bounds.

        Raises
        ------
        ConfigError
            If the range is empty (a zero value without ``min_half_width``).
        """
        if not 0 < spread < 10:
            raise ConfigError(f"spread: got {spread!r}; expected a number in (0, 10)")
        if not min_half_width >= 0:
            raise ConfigError(f"min_half_width: got {min_half_width!r}; expected a number >= 0")
        info = _resolve(path)
        value = float(_get(scenario, path))
        half = max(abs(value) * spread, float(min_half_width))
        lo, hi = value - half, value + half
        if info.lo is not None:
            lo = max(lo, info.lo)
        if info.hi is not None:
            hi = min(hi, info.hi)
        if info.dtype == "int":
            lo, hi = math.ceil(lo), math.floor(hi)
        if not lo < hi:
            raise ConfigError(
                f"factor {path}: no range around the scenario's value {value:g} with spread "
                f"{spread:g}; give min_half_width=..., or lo and hi"
            )
        return cls(path, lo, hi, name=name)

    def values(self, unit: np.ndarray) -> np.ndarray:
        """Map points of the unit interval to values of the field."""
        u = np.clip(np.asarray(unit, dtype=float), 0.0, 1.0)
        if self.dtype == "float":
            return self.lo + u * (self.hi - self.lo)
        span = int(self.hi - self.lo) + 1
        whole = self.lo + np.minimum(np.floor(u * span), span - 1)
        return whole.astype(bool) if self.dtype == "bool" else whole.astype(np.int64)

    def describe(self) -> dict[str, Any]:
        """The factor as a row: name, path, kind, range, unit, meaning."""
        return {
            "factor": self.name,
            "path": self.path,
            "kind": self.kind,
            "lo": self.lo,
            "hi": self.hi,
            "type": self.dtype,
            "unit": self.unit,
            "doc": self.doc,
        }

    def to_mapping(self) -> dict[str, Any]:
        """What defines the factor, as plain data: ``Factor(**f.to_mapping())`` rebuilds it."""
        return {"path": self.path, "lo": self.lo, "hi": self.hi, "name": self.name}


def _get(scenario: Scenario, path: str) -> Any:
    """The value of a factor's field in ``scenario``."""
    try:
        return params.get(scenario, path)
    except ConfigError as exc:
        raise ConfigError(f"factor {exc}") from None


def _apply(scenario: Scenario, factors: Sequence[Factor], values: Sequence[Any]) -> Scenario:
    """Copy of ``scenario`` with each factor's field set to its value (not yet validated).

    The same edit as ``scenario.with_changes(**{f.path: v})``, without the checks: a design
    point sets several fields, whose combination :func:`_validated` checks once.
    """
    changes = {}
    for f, v in zip(factors, values, strict=True):
        changes[f.path] = bool(v) if f.dtype == "bool" else int(v) if f.dtype == "int" else float(v)
    return params.edit(scenario, changes, validate=False)


def _validated(scenario: Scenario, where: str) -> Scenario:
    """Run every check of the scenario loader on ``scenario`` (bounds and cross-field rules)."""
    try:
        params.validated(scenario)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return scenario


def _check_factors(factors: Sequence[Factor]) -> tuple[Factor, ...]:
    factors = tuple(factors)
    if not factors:
        raise ConfigError("factors: at least one factor is required")
    for f in factors:
        if not isinstance(f, Factor):
            raise ConfigError(f"factors: got {f!r}; expected Factor objects")
    seen: dict[str, str] = {}
    for f in factors:
        if f.name in seen:
            raise ConfigError(
                f"factor {f.path}: name {f.name!r} is also used by {seen[f.name]}; give each "
                "factor a distinct name=..."
            )
        seen[f.name] = f.path
    paths = [f.path for f in factors]
    dup = next((p for p in paths if paths.count(p) > 1), None)
    if dup is not None:
        raise ConfigError(f"factor {dup}: the same field appears twice")
    return factors
