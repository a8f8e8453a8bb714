"""Global sensitivity analysis: which levers and uncertainties move approval, collection, firms.

Four steps, each a plain function with a result object:

1. :class:`Factor` names a numeric scenario field by its dotted path (``"government.wage_growth"``,
   ``"committee.door_to_door_intensity"``, ``"behaviour.pay_trust"``,
   ``"proposals[0].step_pct"``) and the range to explore. The path and the range are checked
   against the field's declaration in :mod:`feesim.scenario` (its bounds, its unit and whether it
   is a *lever* or an *uncertainty*; *settings* are not factors).
2. :func:`design` draws the points to simulate: a Saltelli design on a scrambled Sobol' sequence
   (``method="sobol"``, ``n * (D + 2)`` points for ``D`` factors, first-order and total indices)
   or Morris trajectories (``method="morris"``, ``n * (D + 1)`` points, elementary effects).
3. :func:`evaluate` simulates every design point with :class:`feesim.ensemble.Ensemble` (one
   scenario, or one portfolio of communities, per point; chunked; any ``Executor``) and reduces
   the simulated tables to *outcomes* (:class:`PassProbability`, :class:`Approval`,
   :class:`Collection`, :class:`FirmExit`, :class:`ServiceQuality`, or your own
   :class:`Outcome`). It returns an :class:`Evaluation` whose ``table`` has one row per design
   point and outcome.
4. :func:`analyse` estimates the indices with bootstrap confidence intervals and returns a
   :class:`SensitivityResult` (``summary_frame()``, ``summary_text()``, ``plot()``).

Estimators. Sobol': first-order indices by Saltelli et al. (2010), total indices by Jansen
(1999), both on the output standardised over the A and B matrices, with normal-approximation
intervals from a bootstrap over the base samples: exactly the estimators of SALib's
``sobol.analyze``, which is used when SALib is installed (``pip install 'feesim[sensitivity]'``)
and re-implemented here otherwise (``engine="numpy"``). Morris: mean, mean absolute value
(``mu_star``) and standard deviation of the elementary effects on the unit scale, so an effect
reads as the change of the outcome when the factor moves across its whole range (SALib's
``morris.analyze`` when installed).

Common random numbers. Every design point is simulated with the same root seed, so the same
households and the same random draws: the outcome is a deterministic function of the factors
(given the seed and the replicates) and differences between points are the factors' effects,
not seed noise. The indices are therefore those of the model averaged over the simulated
replicates and communities, and they are conditional on everything the design holds fixed: the
base scenario or portfolio, the other behavioural coefficients (the judgement defaults or the
calibrated parameters, whichever :func:`feesim.behaviour.default_behaviour` loaded; see
:func:`behaviour_source`) and the ranges chosen for the factors.

Integer fields (months, rounds, campaign steps) are drawn uniformly over their whole values
``lo..hi``; true/false fields over both values.

Examples
--------
>>> import feesim
>>> from feesim import sensitivity as sa
>>> base = feesim.load_scenario("examples/xianghe_2025.toml")  # doctest: +SKIP
>>> factors = [
...     sa.Factor("proposals[0].step_pct", 0.1, 0.6),
...     sa.Factor("committee.door_to_door_intensity", 0.1, 0.9),
...     sa.Factor("behaviour.approve_step", 1.5, 4.5),
... ]  # doctest: +SKIP
>>> d = sa.design(factors, 64, rng=1)  # doctest: +SKIP
>>> ev = sa.evaluate(base, d, replicates=4, workers=2)  # doctest: +SKIP
>>> res = sa.analyse(ev)  # doctest: +SKIP
>>> res.summary_frame()  # doctest: +SKIP
>>> res.plot()  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import functools
import logging
import math
import multiprocessing
import os
import re
import time
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd

from feesim.errors import ConfigError, FeesimError
from feesim.scenario import Proposal, Scenario

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from feesim.ensemble import Chunk
    from feesim.portfolio import Portfolio

__all__ = [
    "DEFAULT_OUTCOMES",
    "Approval",
    "Collection",
    "Design",
    "Evaluation",
    "Factor",
    "FirmExit",
    "MemberTables",
    "Outcome",
    "PassProbability",
    "SensitivityResult",
    "ServiceQuality",
    "analyse",
    "behaviour_source",
    "design",
    "evaluate",
]

log = logging.getLogger(__name__)

Method = Literal["sobol", "morris"]
METHODS: tuple[str, ...] = ("sobol", "morris")
ENGINES: tuple[str, ...] = ("auto", "salib", "numpy")

_TOKEN_RE = re.compile(r"^([A-Za-z_]\w*)(?:\[(\d+)\])?$")


# ==============================================================================================
# factors
# ==============================================================================================
@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        real = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(real) == 1:
            return real[0]
    return tp


def _parse_path(path: str) -> tuple[tuple[str, int | None], ...]:
    if not isinstance(path, str) or not path:
        raise ConfigError(f"factor path: got {path!r}; expected a dotted scenario field")
    tokens = []
    for part in path.split("."):
        m = _TOKEN_RE.match(part)
        if m is None:
            raise ConfigError(
                f"factor {path}: cannot read {part!r}; expected names separated by dots, with "
                "an index for arrays, e.g. 'proposals[0].step_pct'"
            )
        tokens.append((m.group(1), None if m.group(2) is None else int(m.group(2))))
    return tuple(tokens)


@dataclass(frozen=True)
class _FieldInfo:
    dtype: str  # "float", "int" or "bool"
    kind: str
    unit: str
    doc: str
    lo: float | None
    hi: float | None
    lo_open: bool
    hi_open: bool


def _resolve(path: str) -> _FieldInfo:
    """Walk ``path`` through the scenario's dataclasses to the declaration of its last field."""
    tokens = _parse_path(path)
    cls: Any = Scenario
    for depth, (name, index) in enumerate(tokens):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        where = ".".join(t for t, _ in tokens[:depth]) or "the scenario"
        if name not in fields:
            raise ConfigError(
                f"factor {path}: unknown field {name!r} in {where}; allowed: "
                + ", ".join(sorted(fields))
            )
        tp = _unwrap_optional(_hints(cls)[name])
        if index is not None:
            if typing.get_origin(tp) is not tuple:
                raise ConfigError(f"factor {path}: {name!r} is not an array; remove the index")
            tp = typing.get_args(tp)[0]
        last = depth == len(tokens) - 1
        if not last:
            if typing.get_origin(tp) is tuple and dataclasses.is_dataclass(typing.get_args(tp)[0]):
                raise ConfigError(
                    f"factor {path}: {name!r} is an array; give the element, e.g. '{name}[0]'"
                )
            if not dataclasses.is_dataclass(tp):
                raise ConfigError(f"factor {path}: {name!r} is a value, not a table")
            cls = tp
            continue
        if (
            dataclasses.is_dataclass(tp)
            or typing.get_origin(tp) is not None
            or tp
            not in (
                float,
                int,
                bool,
            )
        ):
            raise ConfigError(
                f"factor {path}: {name!r} is not a single number or true/false "
                f"({getattr(tp, '__name__', str(tp))}); only numeric fields can be factors"
            )
        meta = fields[name].metadata
        return _FieldInfo(
            dtype={float: "float", int: "int", bool: "bool"}[tp],
            kind=meta.get("kind", "setting"),
            unit=meta.get("unit", ""),
            doc=meta.get("doc", ""),
            lo=meta.get("lo"),
            hi=meta.get("hi"),
            lo_open=bool(meta.get("lo_open")),
            hi_open=bool(meta.get("hi_open")),
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _allowed_range(info: _FieldInfo) -> str:
    left = "(" if info.lo_open else "["
    right = ")" if info.hi_open else "]"
    lo = "-inf" if info.lo is None else f"{info.lo:g}"
    hi = "inf" if info.hi is None else f"{info.hi:g}"
    unit = f" {info.unit}" if info.unit else ""
    return f"a value in {left}{lo}, {hi}{right}{unit}"


def _inside(value: float, info: _FieldInfo) -> bool:
    if info.lo is not None and (value <= info.lo if info.lo_open else value < info.lo):
        return False
    return not (info.hi is not None and (value >= info.hi if info.hi_open else value > info.hi))


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
            if info.dtype != "bool" and not _inside(float(value), info):
                raise ConfigError(
                    f"factor {self.path}: {side}: got {value!r}; expected {_allowed_range(info)} "
                    "(the field's declared bounds)"
                )
            object.__setattr__(self, side, float(value))
        if not self.lo < self.hi:
            raise ConfigError(
                f"factor {self.path}: lo: got {self.lo:g}; expected lo < hi (hi = {self.hi:g})"
            )
        if not isinstance(self.name, str):
            raise ConfigError(f"factor {self.path}: name: got {self.name!r}; expected a string")
        object.__setattr__(self, "name", self.name or _parse_path(self.path)[-1][0])
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


def _get(obj: Any, path: str) -> Any:
    for name, index in _parse_path(path):
        obj = getattr(obj, name)
        if index is not None:
            if index >= len(obj):
                raise ConfigError(
                    f"factor {path}: {name}[{index}] does not exist; the scenario has "
                    f"{len(obj)} {name} entr{'y' if len(obj) == 1 else 'ies'}"
                )
            obj = obj[index]
    return obj


def _set(obj: Any, tokens: Sequence[tuple[str, int | None]], value: Any) -> Any:
    """Copy of ``obj`` with the field at ``tokens`` set (no validation)."""
    (name, index), rest = tokens[0], tokens[1:]
    current = getattr(obj, name)
    if index is None:
        new = _set(current, rest, value) if rest else value
    else:
        items = list(current)
        items[index] = _set(items[index], rest, value) if rest else value
        new = tuple(items)
    changes: dict[str, Any] = {name: new}
    if isinstance(obj, Proposal) and not rest and name in ("step_pct", "step_yuan"):
        changes["new_fee_per_m2"] = None
        changes["step_yuan" if name == "step_pct" else "step_pct"] = None
    return dataclasses.replace(obj, **changes)


def _apply(scenario: Scenario, factors: Sequence[Factor], values: Sequence[Any]) -> Scenario:
    out = scenario
    for f, v in zip(factors, values, strict=True):
        py = bool(v) if f.dtype == "bool" else int(v) if f.dtype == "int" else float(v)
        out = _set(out, _parse_path(f.path), py)
    return out


def _validated(scenario: Scenario, where: str) -> Scenario:
    """Run every check of the scenario loader on ``scenario`` (bounds and cross-field rules)."""
    from feesim.params import from_mapping, to_mapping

    try:
        from_mapping(Scenario, to_mapping(scenario))
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


# ==============================================================================================
# designs
# ==============================================================================================
@dataclass(frozen=True)
class Design:
    """Points to simulate: the unit-cube sample and the field values it stands for.

    Attributes
    ----------
    factors : tuple of Factor
    method : {"sobol", "morris"}
    n : int
        Base samples (Sobol') or trajectories (Morris).
    unit : numpy.ndarray
        ``(points, D)`` sample of the unit cube, in the order the estimators expect
        (Saltelli blocks ``A, AB_1 .. AB_D, B``; Morris trajectories of ``D + 1`` points).
    levels : int
        Grid levels of a Morris design (0 for Sobol').
    seed : dict
        Provenance of the random generator that drew the design.
    """

    factors: tuple[Factor, ...]
    method: str
    n: int
    unit: np.ndarray = field(repr=False)
    levels: int = 0
    seed: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def points(self) -> int:
        """Number of design points (simulated scenarios or portfolios)."""
        return int(self.unit.shape[0])

    def __len__(self) -> int:
        return self.points

    @property
    def names(self) -> list[str]:
        """Factor names in design order."""
        return [f.name for f in self.factors]

    @property
    def values(self) -> pd.DataFrame:
        """One row per point, one column per factor: the field values simulated."""
        cols = {f.name: f.values(self.unit[:, j]) for j, f in enumerate(self.factors)}
        frame = pd.DataFrame(cols)
        frame.index.name = "point"
        return frame

    def factors_frame(self) -> pd.DataFrame:
        """The factors as a table (name, path, kind, range, type, unit, meaning)."""
        return pd.DataFrame([f.describe() for f in self.factors])


def _generator(
    rng: int | np.random.Generator | np.random.SeedSequence | None,
) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0:
        raise ConfigError(
            f"rng: got {rng!r}; expected an integer >= 0, a SeedSequence or a Generator"
        )
    return np.random.default_rng(int(rng))


def design(
    factors: Sequence[Factor],
    n: int,
    method: Method = "sobol",
    *,
    levels: int = 4,
    rng: int | np.random.Generator | np.random.SeedSequence | None = None,
) -> Design:
    """Draw a Sobol' (Saltelli) or Morris design.

    Parameters
    ----------
    factors : sequence of Factor
    n : int
        Sobol': base samples, a power of 2 (``n * (D + 2)`` points; 64-256 is typical, more
        for narrow intervals). Morris: trajectories (``n * (D + 1)`` points; 10-50 is typical).
    method : {"sobol", "morris"}
    levels : int
        Morris grid levels (even, >= 2); the step is ``levels / (2 (levels - 1))`` of the range.
    rng : int, SeedSequence or Generator, optional
        Randomness of the design (Sobol' scrambling, Morris starts and orders). ``None`` draws
        fresh entropy.

    Returns
    -------
    Design

    Raises
    ------
    ConfigError
        For an unknown method, ``n`` not allowed, bad levels or duplicated factors.
    """
    factors = _check_factors(factors)
    if method not in METHODS:
        raise ConfigError(f"method: got {method!r}; expected one of {', '.join(METHODS)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ConfigError(f"n: got {n!r}; expected an integer")
    n = int(n)
    gen = _generator(rng)
    seed_info = {"bit_generator": type(gen.bit_generator).__name__}
    D = len(factors)
    if method == "sobol":
        if n < 2 or n & (n - 1):
            raise ConfigError(
                f"n: got {n}; expected a power of 2 >= 2 (a Sobol' sequence keeps its balance "
                "only for powers of 2)"
            )
        from scipy.stats import qmc

        base = qmc.Sobol(d=2 * D, scramble=True, rng=gen).random(n)
        A, B = base[:, :D], base[:, D:]
        blocks = np.empty((n, D + 2, D))
        blocks[:, 0] = A
        for j in range(D):
            blocks[:, j + 1] = A
            blocks[:, j + 1, j] = B[:, j]
        blocks[:, D + 1] = B
        return Design(factors, "sobol", n, blocks.reshape(n * (D + 2), D), 0, seed_info)
    if n < 2:
        raise ConfigError(f"n: got {n}; expected at least 2 Morris trajectories")
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2 or levels % 2:
        raise ConfigError(f"levels: got {levels!r}; expected an even integer >= 2")
    half = levels // 2
    traj = np.empty((n, D + 1, D))
    for t in range(n):
        low = gen.integers(0, half, D)
        start_high = gen.random(D) < 0.5
        level = np.where(start_high, low + half, low)
        traj[t, 0] = level
        for k, i in enumerate(gen.permutation(D)):
            level = level.copy()
            level[i] = low[i] if start_high[i] else low[i] + half
            traj[t, k + 1] = level
    unit = traj.reshape(n * (D + 1), D) / (levels - 1)
    return Design(factors, "morris", n, unit, levels, seed_info)


# ==============================================================================================
# outcomes
# ==============================================================================================
@dataclass(frozen=True)
class MemberTables:
    """What an outcome is computed from: the tables of the members of one simulated chunk.

    Attributes
    ----------
    members : pandas.DataFrame
        ``member``, ``key``, ``replicate``, ``households``, ``months``, ``start``.
    summary : pandas.DataFrame
        One row per member (see :func:`feesim.ensemble.run_chunk`).
    series, votes, events : pandas.DataFrame or None
        The member-labelled tables (``series`` only when an outcome asked for it).
    """

    members: pd.DataFrame
    summary: pd.DataFrame
    series: pd.DataFrame | None
    votes: pd.DataFrame
    events: pd.DataFrame

    @property
    def index(self) -> pd.Index:
        """The member ids."""
        return pd.Index(self.members["member"], name="member")


@dataclass(frozen=True)
class Outcome:
    """An outcome: one number per member, averaged over the members of a design point.

    Subclass it for outcomes of your own: set ``name``, ``label``, ``unit``, ``weight``
    (``"members"``: every member counts the same, e.g. a share of communities; ``"households"``:
    members are weighted by their households, e.g. a district's collection rate), ``tables``
    (tables beyond the summary, votes and events that it needs, i.e. ``("series",)``), and
    implement :meth:`per_member`. Members with a missing value (NaN) are left out of the mean.
    Outcomes are sent to worker processes: define subclasses at module level.
    """

    name: str = "outcome"
    label: str = "outcome"
    unit: str = ""
    weight: str = "members"
    tables: ClassVar[tuple[str, ...]] = ()

    def per_member(self, t: MemberTables) -> pd.Series:
        """One value per member (indexed by member id)."""
        raise NotImplementedError

    def check(self, scenario: Scenario) -> None:
        """Raise :class:`ConfigError` if the outcome cannot be computed for ``scenario``."""


def _final_votes(t: MemberTables, proposal: int) -> pd.DataFrame:
    v = t.votes
    if v is None or v.empty or "motion" not in v:
        return pd.DataFrame(columns=["member", "passed", "approval_heads", "approval_area"])
    mine = v[v["motion"] == f"scenario:{proposal}"]
    return mine.sort_values(["member", "month"], kind="stable").groupby("member").tail(1)


def _check_proposal(scenario: Scenario, proposal: int, name: str) -> None:
    if not 0 <= proposal < len(scenario.proposals):
        raise ConfigError(
            f"outcome {name}: proposal: got {proposal!r}; the scenario "
            f"{scenario.meta.name!r} has {len(scenario.proposals)} proposal(s)"
        )


@dataclass(frozen=True)
class PassProbability(Outcome):
    """Share of members whose proposal passed (its final vote, after retries; Art. 278).

    A member whose proposal was never voted counts as not passed.
    """

    proposal: int = 0
    name: str = "pass"
    label: str = "P(proposal passes)"
    unit: str = "share"
    weight: str = "members"

    def per_member(self, t: MemberTables) -> pd.Series:  # noqa: D102
        final = _final_votes(t, self.proposal).set_index("member")["passed"].astype(float)
        return final.reindex(t.index).fillna(0.0)

    def check(self, scenario: Scenario) -> None:  # noqa: D102
        _check_proposal(scenario, self.proposal, self.name)


@dataclass(frozen=True)
class Approval(Outcome):
    """Approving share among participants in the proposal's final vote (heads or area).

    Members without that vote are left out.
    """

    proposal: int = 0
    by: str = "heads"
    name: str = "approval"
    label: str = "approval among voters"
    unit: str = "share"
    weight: str = "members"

    def per_member(self, t: MemberTables) -> pd.Series:  # noqa: D102
        col = f"approval_{self.by}"
        final = _final_votes(t, self.proposal)
        values = (
            final.set_index("member")[col].astype(float) if col in final else pd.Series(dtype=float)
        )
        return values.reindex(t.index)

    def check(self, scenario: Scenario) -> None:  # noqa: D102
        if self.by not in ("heads", "area"):
            raise ConfigError(f"outcome {self.name}: by: got {self.by!r}; expected heads or area")
        _check_proposal(scenario, self.proposal, self.name)


def _decembers(scenario: Scenario) -> int:
    first = (12 - scenario.simulation.start_month) % 12  # month index of the first December
    months = scenario.simulation.months
    return 0 if first >= months else 1 + (months - 1 - first) // 12


@dataclass(frozen=True)
class Collection(Outcome):
    """Year-end collection rate (share of the year's bills paid by December), households-weighted.

    Parameters
    ----------
    year : int, optional
        Which December of the horizon: 1 = the first December, ... (``None``: the last one).
    """

    year: int | None = None
    name: str = "collection"
    label: str = "year-end collection"
    unit: str = "share"
    weight: str = "households"

    @property
    def tables(self) -> tuple[str, ...]:  # type: ignore[override]
        """The monthly series is needed unless the last December is asked for."""
        return () if self.year is None else ("series",)

    def per_member(self, t: MemberTables) -> pd.Series:  # noqa: D102
        if self.year is None:
            s = t.summary.set_index("member")["collection_rate_last_december"]
            return s.astype(float).reindex(t.index)
        assert t.series is not None
        dec = t.series[t.series["calendar_month"] == 12].sort_values(["member", "month"])
        nth = dec.groupby("member").nth(self.year - 1)
        return nth.set_index("member")["collection_rate"].astype(float).reindex(t.index)

    def check(self, scenario: Scenario) -> None:  # noqa: D102
        n = _decembers(scenario)
        if (self.year is None and n == 0) or (self.year is not None and not 1 <= self.year <= n):
            raise ConfigError(
                f"outcome {self.name}: year: got {self.year!r}; the horizon of "
                f"{scenario.meta.name!r} ({scenario.simulation.months} months from "
                f"{scenario.simulation.start}) has {n} December(s)"
            )


@dataclass(frozen=True)
class FirmExit(Outcome):
    """Share of members whose firm gave notice or left (an exit) within ``months``.

    Parameters
    ----------
    months : int, optional
        Window from month 0 (``None``: the whole horizon).
    notice : bool
        Count a notice as failure too (the forecast's definition); ``False`` counts exits only.
    """

    months: int | None = None
    notice: bool = True
    name: str = "firm_exit"
    label: str = "firm gives notice or leaves"
    unit: str = "share"
    weight: str = "members"

    def per_member(self, t: MemberTables) -> pd.Series:  # noqa: D102
        kinds = ("firm_exit", "notice") if self.notice else ("firm_exit",)
        ev = t.events
        hit = ev[ev["event"].isin(kinds)] if not ev.empty else ev
        if self.months is not None and not hit.empty:
            hit = hit[hit["month"] < self.months]
        failed = set(hit["member"].tolist()) if not hit.empty else set()
        return pd.Series([float(m in failed) for m in t.index], index=t.index)

    def check(self, scenario: Scenario) -> None:  # noqa: D102
        if self.months is not None and not 1 <= self.months <= scenario.simulation.months:
            raise ConfigError(
                f"outcome {self.name}: months: got {self.months!r}; expected 1 to the horizon "
                f"({scenario.simulation.months})"
            )


@dataclass(frozen=True)
class ServiceQuality(Outcome):
    """Mean service quality delivered (0-1, 1 = liveable standard), households-weighted.

    Parameters
    ----------
    last_months : int, optional
        Average over the last ``last_months`` months (``None``: the whole horizon).
    """

    last_months: int | None = None
    name: str = "quality"
    label: str = "mean service quality"
    unit: str = "0-1"
    weight: str = "households"
    tables: ClassVar[tuple[str, ...]] = ("series",)

    def per_member(self, t: MemberTables) -> pd.Series:  # noqa: D102
        assert t.series is not None
        s = t.series
        if self.last_months is not None:
            s = s[s["month"] >= s["month"].max() - self.last_months + 1]
        return s.groupby("member")["service_quality"].mean().reindex(t.index)

    def check(self, scenario: Scenario) -> None:  # noqa: D102
        if self.last_months is not None and not 1 <= self.last_months <= scenario.simulation.months:
            raise ConfigError(
                f"outcome {self.name}: last_months: got {self.last_months!r}; expected 1 to "
                f"the horizon ({scenario.simulation.months})"
            )


#: The outcomes :func:`evaluate` computes by default.
DEFAULT_OUTCOMES: tuple[Outcome, ...] = (
    PassProbability(),
    Approval(),
    Collection(),
    FirmExit(),
    ServiceQuality(),
)


# ==============================================================================================
# evaluation
# ==============================================================================================
def behaviour_source(scenario: Scenario) -> str:
    """Where a scenario's behavioural coefficients come from, in words.

    ``"calibrated (<file>)"`` when they equal the newest fitted parameter file, ``"judgement
    defaults"`` when they equal :class:`feesim.behaviour.Behaviour` ``()``, else ``"custom"``.
    """
    from feesim.behaviour import Behaviour, fitted_params_files, load_params_file

    files = fitted_params_files()
    if files:
        try:
            if scenario.behaviour == load_params_file(files[-1]):
                return f"calibrated ({files[-1].name})"
        except ConfigError:  # pragma: no cover - a broken fitted file is reported elsewhere
            pass
    if scenario.behaviour == Behaviour():
        return "judgement defaults"
    return "custom"


@dataclass(frozen=True)
class Evaluation:
    """Simulated outcomes of every design point.

    Attributes
    ----------
    design : Design
    outcomes : tuple of Outcome
    table : pandas.DataFrame
        Tidy: one row per design point and outcome: ``point``, ``outcome``, ``value`` (mean over
        the point's members, weighted as the outcome says; NaN if any member failed),
        ``members`` (members with a value) and ``failed`` (members whose simulation failed).
    members : pandas.DataFrame
        One row per design point and member: ``point``, ``member``, ``key``, ``replicate``,
        ``households``, ``status``, ``error`` and one column per outcome.
    meta : dict
        Seed, replicates, target, horizon, behaviour source, elapsed seconds.
    """

    design: Design
    outcomes: tuple[Outcome, ...]
    table: pd.DataFrame
    members: pd.DataFrame = field(repr=False)
    meta: dict[str, Any] = field(default_factory=dict)

    def wide(self) -> pd.DataFrame:
        """One row per point: the factor values and the outcomes side by side."""
        out = self.table.pivot(index="point", columns="outcome", values="value")
        out = out[[o.name for o in self.outcomes]]
        out.columns.name = None
        return self.design.values.join(out)

    @property
    def failures(self) -> pd.DataFrame:
        """Members whose simulation failed, with their error."""
        return self.members[self.members["status"] == "failed"].reset_index(drop=True)


def _targets(
    target: Scenario | Portfolio | Mapping[str, Scenario] | Sequence[Scenario],
) -> tuple[dict[str, Scenario], str, int | None]:
    from feesim.portfolio import Portfolio

    if isinstance(target, Scenario):
        return {target.meta.name: target}, target.meta.name, target.simulation.seed
    if isinstance(target, Portfolio):
        scs = target.scenarios()
        keys = [str(k) for k in target.table["community"]]
        return dict(zip(keys, scs, strict=True)), target.name, target.seed
    if isinstance(target, Mapping):
        scs = {str(k): v for k, v in target.items()}
    else:
        seq = list(target)
        names = [s.meta.name for s in seq if isinstance(s, Scenario)]
        keys = names if len(set(names)) == len(seq) else [str(i) for i in range(len(seq))]
        scs = dict(zip(keys, seq, strict=True))
    if not scs or not all(isinstance(s, Scenario) for s in scs.values()):
        raise ConfigError("target: got no scenario; expected a Scenario, a Portfolio, or scenarios")
    first = next(iter(scs.values()))
    return scs, f"{len(scs)} scenarios", first.simulation.seed


@dataclass(frozen=True)
class _Unit:
    """One chunk of one design point (picklable work unit)."""

    point: int
    chunk: Chunk
    outcomes: tuple[Outcome, ...]


def _run_unit(unit: _Unit) -> pd.DataFrame:
    """Simulate one chunk and reduce it to outcome values per member (runs in a worker)."""
    from feesim.ensemble import run_chunk

    chunk = unit.chunk
    members = pd.DataFrame(
        {
            "member": [m.member for m in chunk.members],
            "key": [m.key for m in chunk.members],
            "replicate": [m.replicate for m in chunk.members],
            "households": [sc.community.households for sc in chunk.scenarios],
            "months": [sc.simulation.months for sc in chunk.scenarios],
            "start": [sc.simulation.start for sc in chunk.scenarios],
        }
    )
    outcome = run_chunk(chunk)
    frame = members[["member", "key", "replicate", "households"]].copy()
    frame.insert(0, "point", unit.point)
    if not outcome.ok:
        frame["status"] = "failed"
        frame["error"] = outcome.error
        for o in unit.outcomes:
            frame[o.name] = np.nan
        return frame
    tables = outcome.tables or {}
    empty = pd.DataFrame(columns=["member", "month", "event"])
    t = MemberTables(
        members=members,
        summary=outcome.summary if outcome.summary is not None else pd.DataFrame(),
        series=tables.get("series"),
        votes=tables.get("votes", empty),
        events=tables.get("events", empty),
    )
    frame["status"] = "ok"
    frame["error"] = ""
    for o in unit.outcomes:
        frame[o.name] = o.per_member(t).to_numpy(dtype=float)
    return frame


def _failed_frame(unit: _Unit, error: str) -> pd.DataFrame:
    """Member rows of a work unit that never came back (lost worker, broken pool)."""
    frame = pd.DataFrame(
        {
            "point": unit.point,
            "member": [m.member for m in unit.chunk.members],
            "key": [m.key for m in unit.chunk.members],
            "replicate": [m.replicate for m in unit.chunk.members],
            "households": [sc.community.households for sc in unit.chunk.scenarios],
            "status": "failed",
            "error": error,
        }
    )
    for o in unit.outcomes:
        frame[o.name] = np.nan
    return frame


def _process_pool(workers: int | None) -> cf.ProcessPoolExecutor:
    # forkserver: clean workers, safe with threads in the parent; set for this pool only.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return cf.ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1, mp_context=multiprocessing.get_context(method)
    )


def _aggregate(members: pd.DataFrame, outcomes: Sequence[Outcome], points: int) -> pd.DataFrame:
    rows = []
    failed = members["status"].ne("ok").groupby(members["point"]).sum()
    for o in outcomes:
        ok = members[members["status"] == "ok"]
        v = ok[o.name].to_numpy(dtype=float)
        w = ok["households"].to_numpy(dtype=float) if o.weight == "households" else np.ones(len(ok))
        has = ~np.isnan(v)
        frame = pd.DataFrame(
            {"point": ok["point"].to_numpy(), "wv": np.where(has, v * w, 0.0), "w": w * has}
        )
        g = frame.groupby("point")[["wv", "w"]].sum()
        n = pd.Series(has, index=ok.index).groupby(ok["point"]).sum()
        value = (g["wv"] / g["w"].where(g["w"] > 0)).reindex(range(points))
        bad = failed.reindex(range(points)).fillna(0).astype(int)
        rows.append(
            pd.DataFrame(
                {
                    "point": np.arange(points),
                    "outcome": o.name,
                    "value": np.where(bad.to_numpy() > 0, np.nan, value.to_numpy()),
                    "members": n.reindex(range(points)).fillna(0).astype(int).to_numpy(),
                    "failed": bad.to_numpy(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def evaluate(
    target: Scenario | Portfolio | Mapping[str, Scenario] | Sequence[Scenario],
    design: Design,
    *,
    outcomes: Sequence[Outcome] = DEFAULT_OUTCOMES,
    replicates: int = 1,
    seed: int | None = None,
    executor: cf.Executor | str | None = None,
    workers: int | None = None,
    chunk_households: int | None = None,
    progress: bool = True,
) -> Evaluation:
    """Simulate every design point and reduce it to the outcomes.

    Each point sets the factors' values in the target's scenario(s) and runs them through
    :class:`feesim.ensemble.Ensemble` (``replicates`` histories of each scenario, chunked by
    households, seeded by ``seed``). Every point uses the same seed (common random numbers).

    Parameters
    ----------
    target : Scenario, Portfolio, mapping or sequence of Scenario
        One community, a district or city portfolio (every community of it at each point), or
        several scenarios simulated together at each point.
    design : Design
    outcomes : sequence of Outcome
        Default: pass probability, approval, last year-end collection, firm notice or exit
        within the horizon, mean service quality.
    replicates : int
        Histories per scenario and point (averaged into the point's value).
    seed : int, optional
        Root seed (default: the portfolio's, or the first scenario's ``simulation.seed``).
    executor : Executor, "serial", "processes" or None
        Where chunks run: any :class:`concurrent.futures.Executor` (e.g. Dask's
        ``client.get_executor()``), a local process pool (``"processes"``) or this process
        (``"serial"``). ``None``: serial when ``workers == 1`` or there is one chunk in all,
        else a local process pool.
    workers : int, optional
        Size of the local pool (default: CPU count); also bounds the chunks in flight on a
        given executor (four per worker).
    chunk_households : int, optional
        Households simulated together in one chunk (default: the ensemble's default).
    progress : bool
        Show a progress bar over design points.

    Returns
    -------
    Evaluation

    Raises
    ------
    ConfigError
        If a factor's path does not exist in a scenario, a factor value breaks a rule of the
        scenario (the message names the point and the factor values), or an outcome cannot be
        computed for the scenario.
    """
    from tqdm.auto import tqdm

    from feesim.ensemble import DEFAULT_CHUNK_HOUSEHOLDS, Ensemble

    if not isinstance(design, Design):
        raise ConfigError(f"design: got {type(design).__name__}; expected a Design")
    outcomes = tuple(outcomes)
    if not outcomes or not all(isinstance(o, Outcome) for o in outcomes):
        raise ConfigError("outcomes: expected a non-empty sequence of Outcome objects")
    names = [o.name for o in outcomes]
    if len(set(names)) != len(names):
        raise ConfigError(f"outcomes: names must be distinct; got {names}")
    clash = set(names) & {"point", "member", "key", "replicate", "households", "status", "error"}
    if clash:
        raise ConfigError(f"outcomes: {sorted(clash)[0]!r} is reserved; rename the outcome")
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise ConfigError(f"replicates: got {replicates!r}; expected an integer >= 1")
    scenarios, target_name, default_seed = _targets(target)
    seed = default_seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed: got {seed!r}; expected an integer >= 0")
    chunk_households = chunk_households or DEFAULT_CHUNK_HOUSEHOLDS
    factors = design.factors
    first = next(iter(scenarios.values()))
    for key, sc in scenarios.items():
        for f in factors:
            try:
                _get(sc, f.path)
            except ConfigError as exc:
                raise ConfigError(f"{exc} (scenario {key!r})") from None
    for f in factors:  # each end of each range on the first scenario, others at base values
        for side in ("lo", "hi"):
            value = f.values(np.array([0.0 if side == "lo" else 1.0]))[0]
            _validated(
                _apply(first, (f,), (value,)),
                f"factor {f.path} = {value} ({side} end of its range)",
            )
    for o in outcomes:
        o.check(first)
    tables = tuple(sorted({"votes", "events"} | {t for o in outcomes for t in o.tables}))
    values = design.values
    rows = values.to_numpy(dtype=object)

    def units() -> Iterator[_Unit]:
        for i in range(design.points):
            point = {k: _apply(sc, factors, rows[i]) for k, sc in scenarios.items()}
            where = "design point {} ({})".format(
                i, ", ".join(f"{f.name}={v}" for f, v in zip(factors, rows[i], strict=True))
            )
            _validated(next(iter(point.values())), where)
            ens = Ensemble(
                point, replicates=replicates, seed=seed, chunk_households=chunk_households
            )
            chunks = ens.chunks(tables=tables)
            remaining[i] = len(chunks)
            for c in chunks:
                yield _Unit(i, c, outcomes)

    remaining: dict[int, int] = {}
    probe = Ensemble(
        scenarios,
        replicates=replicates,
        seed=seed,
        chunk_households=chunk_households,
    )
    n_chunks = len(probe.chunks(tables=tables)) * design.points
    if executor is None:
        executor = "serial" if workers == 1 or n_chunks == 1 else "processes"
    log.info(
        "evaluating %d design points x %d scenario(s) x %d replicate(s) in %d chunk(s)",
        design.points,
        len(scenarios),
        replicates,
        n_chunks,
    )
    t0 = time.perf_counter()
    frames: list[pd.DataFrame] = []
    done: dict[int, int] = {}
    bar = tqdm(total=design.points, unit="point", disable=not progress, desc="sensitivity")

    def finished(unit: _Unit, frame: pd.DataFrame) -> None:
        frames.append(frame)
        done[unit.point] = done.get(unit.point, 0) + 1
        if done[unit.point] == remaining.get(unit.point, -1):
            bar.update(1)

    own = executor == "processes"
    pool: cf.Executor | None = _process_pool(workers) if own else None
    try:
        if executor == "serial":
            for u in units():
                finished(u, _run_unit(u))
        else:
            target_ex = pool if own else executor
            if not isinstance(target_ex, cf.Executor):
                raise ConfigError(
                    f"executor: got {executor!r}; expected an Executor, 'serial' or 'processes'"
                )
            window = 4 * (workers or os.cpu_count() or 1)
            pending: dict[cf.Future, _Unit] = {}
            feed = units()
            exhausted = False
            while pending or not exhausted:
                while not exhausted and len(pending) < window:
                    try:
                        u = next(feed)
                    except StopIteration:
                        exhausted = True
                        break
                    try:
                        pending[target_ex.submit(_run_unit, u)] = u
                    except Exception as exc:  # a broken pool refuses work: keep as data
                        finished(u, _failed_frame(u, repr(exc)))
                if not pending:
                    continue
                ready, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in ready:
                    u = pending.pop(fut)
                    try:
                        frame = fut.result()
                    except Exception as exc:  # a lost worker or a broken pool: keep as data
                        frame = _failed_frame(u, repr(exc))
                    finished(u, frame)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    members = pd.concat(frames, ignore_index=True).sort_values(["point", "member"], kind="stable")
    members = members.reset_index(drop=True)
    table = _aggregate(members, outcomes, design.points)
    n_failed = int((members["status"] != "ok").sum())
    if n_failed:
        log.warning(
            "%d member simulation(s) failed; their points have no value (first error: %s)",
            n_failed,
            members.loc[members["status"] != "ok", "error"].iloc[0],
        )
    base = first
    meta = {
        "target": target_name,
        "scenarios": len(scenarios),
        "households": int(sum(sc.community.households for sc in scenarios.values())),
        "replicates": replicates,
        "seed": seed,
        "common_random_numbers": True,
        "months": base.simulation.months,
        "start": base.simulation.start,
        "behaviour": behaviour_source(base),
        "chunks": n_chunks,
        "elapsed_s": round(time.perf_counter() - t0, 3),
    }
    return Evaluation(design, outcomes, table, members, meta)


# ==============================================================================================
# analysis
# ==============================================================================================
def _salib_available() -> bool:
    try:
        import SALib  # noqa: F401
    except ImportError:
        return False
    return True


def _sobol_numpy(
    y: np.ndarray, D: int, resamples: int, conf_level: float, gen: np.random.Generator
) -> dict[str, np.ndarray]:
    """Saltelli 2010 first-order and Jansen total indices with bootstrap intervals."""
    from scipy.stats import norm

    N = y.size // (D + 2)
    blocks = y.reshape(N, D + 2)
    std = y.std()
    blocks = (blocks - y.mean()) / std
    A, B, AB = blocks[:, 0], blocks[:, D + 1], blocks[:, 1 : D + 1]
    r = gen.integers(N, size=(N, resamples))
    z = norm.ppf(0.5 + conf_level / 2)

    def first(a: np.ndarray, ab: np.ndarray, b: np.ndarray) -> np.ndarray:
        var = np.var(np.r_[a, b], axis=0)
        return np.mean(b * (ab - a), axis=0) / var

    def total(a: np.ndarray, ab: np.ndarray, b: np.ndarray) -> np.ndarray:
        var = np.var(np.r_[a, b], axis=0)
        return 0.5 * np.mean((a - ab) ** 2, axis=0) / var

    out = {k: np.zeros(D) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    for j in range(D):
        out["S1"][j] = first(A, AB[:, j], B)
        out["ST"][j] = total(A, AB[:, j], B)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["S1_conf"][j] = z * np.nanstd(first(A[r], AB[r, j], B[r]), ddof=1)
            out["ST_conf"][j] = z * np.nanstd(total(A[r], AB[r, j], B[r]), ddof=1)
    return out


def _morris_effects(unit: np.ndarray, y: np.ndarray, D: int) -> np.ndarray:
    """Elementary effects, ``(trajectories, D)``, on the unit scale."""
    n = y.size // (D + 1)
    X = unit.reshape(n, D + 1, D)
    Y = y.reshape(n, D + 1)
    dX = np.diff(X, axis=1)  # (n, D, D): step k changes one factor
    changed = np.abs(dX).argmax(axis=2)
    step = np.take_along_axis(dX, changed[..., None], axis=2)[..., 0]
    ee = np.empty((n, D))
    rows = np.repeat(np.arange(n), D)
    ee[rows, changed.ravel()] = (np.diff(Y, axis=1) / step).ravel()
    return ee


def _morris_numpy(
    unit: np.ndarray,
    y: np.ndarray,
    D: int,
    resamples: int,
    conf_level: float,
    gen: np.random.Generator,
) -> dict[str, np.ndarray]:
    from scipy.stats import norm

    ee = _morris_effects(unit, y, D)
    n = ee.shape[0]
    r = gen.integers(n, size=(resamples, n))
    boot = np.abs(ee[r]).mean(axis=1)  # (resamples, D)
    z = norm.ppf(0.5 + conf_level / 2)
    return {
        "mu": ee.mean(axis=0),
        "mu_star": np.abs(ee).mean(axis=0),
        "sigma": ee.std(axis=0, ddof=1) if n > 1 else np.full(D, np.nan),
        "mu_star_conf": z * boot.std(axis=0, ddof=1),
    }


def _seed_int(gen: np.random.Generator) -> int:
    return int(gen.integers(1, 2**31 - 1))


@dataclass(frozen=True)
class SensitivityResult:
    """Sensitivity indices of every outcome to every factor.

    Attributes
    ----------
    method : {"sobol", "morris"}
    indices : pandas.DataFrame
        Tidy: ``outcome``, ``factor``, ``kind`` (lever or uncertainty), ``index`` (Sobol':
        ``S1`` first-order, ``ST`` total; Morris: ``mu_star``, ``mu``, ``sigma``), ``value``,
        ``ci_lower``, ``ci_upper`` (NaN where no interval is estimated).
    outcomes : pandas.DataFrame
        Per outcome: ``label``, ``unit``, ``mean``, ``sd``, ``min``, ``max`` over the design
        points, ``constant`` (no variation, indices set to 0) and, for Sobol', ``sum_S1``
        (1 - sum_S1 is the share of variance due to interactions).
    factors : tuple of Factor
    meta : dict
        Engine, confidence level, resamples, and the evaluation's meta.
    """

    method: str
    indices: pd.DataFrame
    outcomes: pd.DataFrame
    factors: tuple[Factor, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def main_index(self) -> str:
        """The index that ranks factors: ``ST`` (Sobol') or ``mu_star`` (Morris)."""
        return "ST" if self.method == "sobol" else "mu_star"

    def summary_frame(self, outcome: str | None = None) -> pd.DataFrame:
        """One row per outcome and factor, the indices and their intervals side by side.

        Columns: ``outcome``, ``factor``, ``kind``, then for Sobol' ``S1``, ``S1_ci_lower``,
        ``S1_ci_upper``, ``ST``, ``ST_ci_lower``, ``ST_ci_upper``; for Morris ``mu_star``,
        ``mu_star_ci_lower``, ``mu_star_ci_upper``, ``mu``, ``sigma``; and ``rank`` (1 = the
        largest ``ST`` or ``mu_star`` for that outcome). Rows are sorted by outcome and rank.
        """
        idx = self.indices
        if outcome is not None:
            self._check_outcome(outcome)
            idx = idx[idx["outcome"] == outcome]
        wide = idx.pivot(
            index=["outcome", "factor", "kind"],
            columns="index",
            values=["value", "ci_lower", "ci_upper"],
        )
        out = pd.DataFrame(index=wide.index)
        names = ("S1", "ST") if self.method == "sobol" else ("mu_star", "mu", "sigma")
        for name in names:
            out[name] = wide[("value", name)]
            if name in ("S1", "ST", "mu_star"):
                out[f"{name}_ci_lower"] = wide[("ci_lower", name)]
                out[f"{name}_ci_upper"] = wide[("ci_upper", name)]
        out = out.reset_index()
        out["rank"] = (
            out.groupby("outcome", sort=False)[self.main_index]
            .rank(ascending=False, method="first")
            .astype(int)
        )
        order = {o: i for i, o in enumerate(self.outcomes.index)}
        out["_o"] = out["outcome"].map(order)
        out = out.sort_values(["_o", "rank"]).drop(columns="_o").reset_index(drop=True)
        return out

    def top(self, outcome: str, k: int = 3) -> list[str]:
        """The ``k`` factors with the largest ``ST`` (or ``mu_star``) for ``outcome``."""
        frame = self.summary_frame(outcome)
        return frame["factor"].head(k).tolist()

    def _check_outcome(self, outcome: str) -> None:
        if outcome not in self.outcomes.index:
            raise ConfigError(
                f"outcome: got {outcome!r}; expected one of {', '.join(self.outcomes.index)}"
            )

    def summary_text(self, k: int = 3) -> str:
        """The most influential factors of each outcome, in words."""
        main = self.main_index
        lines = [
            f"{self.method} sensitivity of {len(self.outcomes)} outcome(s) to "
            f"{len(self.factors)} factor(s); behaviour: {self.meta.get('behaviour', '?')}"
        ]
        frame = self.summary_frame()
        for name, row in self.outcomes.iterrows():
            head = f"  {name} ({row['label']}; mean {row['mean']:.3g}, sd {row['sd']:.3g})"
            if row["constant"]:
                lines.append(f"{head}: does not vary over the design")
                continue
            sub = frame[frame["outcome"] == name].head(k)
            parts = [
                f"{r['factor']} {main}={r[main]:.2f} [{r[f'{main}_ci_lower']:.2f}, "
                f"{r[f'{main}_ci_upper']:.2f}]"
                for _, r in sub.iterrows()
            ]
            extra = f"; sum S1 {row['sum_S1']:.2f}" if self.method == "sobol" else ""
            lines.append(f"{head}: " + "; ".join(parts) + extra)
        return "\n".join(lines)

    def plot(
        self,
        outcome: str | Sequence[str] | None = None,
        ax: Axes | Sequence[Axes] | None = None,
    ) -> Axes | np.ndarray:
        """Bar chart of the indices with their confidence intervals, one panel per outcome.

        Sobol': first-order (``S1``) and total (``ST``) bars; Morris: ``mu_star`` bars with
        ``sigma`` as a marker. Factors are sorted by the main index of the first outcome drawn;
        levers and uncertainties are marked in the labels.

        Parameters
        ----------
        outcome : str or sequence of str, optional
            Outcome(s) to draw (default: all).
        ax : Axes or sequence of Axes, optional
            One axes per outcome; a new figure is made if None.

        Returns
        -------
        matplotlib.axes.Axes or numpy.ndarray of Axes
            The axes (one per outcome; a single Axes when one outcome is drawn).
        """
        names = (
            list(self.outcomes.index)
            if outcome is None
            else [outcome]
            if isinstance(outcome, str)
            else list(outcome)
        )
        for name in names:
            self._check_outcome(name)
        if ax is None:
            import matplotlib.pyplot as plt

            _, axes = plt.subplots(
                1,
                len(names),
                figsize=(2.2 + 2.9 * len(names), 0.9 + 0.32 * len(self.factors)),
                sharey=True,
                layout="constrained",
                squeeze=False,
            )
            axes = axes[0]
        else:
            axes = np.atleast_1d(np.asarray(ax, dtype=object))
            if len(axes) != len(names):
                raise ConfigError(
                    f"ax: got {len(axes)} axes for {len(names)} outcome(s); give one per outcome"
                )
        frame = self.summary_frame()
        main = self.main_index
        order = (
            frame[frame["outcome"] == names[0]].sort_values(main, ascending=True)["factor"].tolist()
        )
        kinds = {f.name: f.kind for f in self.factors}
        labels = [f"{n} ({'L' if kinds[n] == 'lever' else 'U'})" for n in order]
        y = np.arange(len(order))
        for a, name in zip(axes, names, strict=True):
            sub = frame[frame["outcome"] == name].set_index("factor").loc[order]
            row = self.outcomes.loc[name]
            if self.method == "sobol":
                for k, (col, colour, off) in enumerate(
                    (("S1", "#90caf9", -0.2), ("ST", "#1565c0", 0.2))
                ):
                    v = sub[col].to_numpy(dtype=float)
                    err = np.vstack(
                        [
                            v - sub[f"{col}_ci_lower"].to_numpy(dtype=float),
                            sub[f"{col}_ci_upper"].to_numpy(dtype=float) - v,
                        ]
                    )
                    a.barh(
                        y + off,
                        v,
                        height=0.38,
                        color=colour,
                        xerr=np.clip(err, 0, None),
                        error_kw={"lw": 0.8, "capsize": 2},
                        label=("first-order S1", "total ST")[k],
                    )
                a.set_xlim(left=min(0.0, a.get_xlim()[0]))
                a.set_xlabel("share of variance", fontsize="small")
            else:
                v = sub["mu_star"].to_numpy(dtype=float)
                err = np.vstack(
                    [
                        v - sub["mu_star_ci_lower"].to_numpy(dtype=float),
                        sub["mu_star_ci_upper"].to_numpy(dtype=float) - v,
                    ]
                )
                a.barh(
                    y,
                    v,
                    height=0.6,
                    color="#1565c0",
                    xerr=np.clip(err, 0, None),
                    error_kw={"lw": 0.8, "capsize": 2},
                    label="mu* (mean |effect|)",
                )
                a.plot(sub["sigma"], y, "o", color="#ef6c00", ms=4, label="sigma")
                unit = f" ({row['unit']})" if row["unit"] else ""
                a.set_xlabel(f"effect over the range{unit}", fontsize="small")
            a.axvline(0, color="0.3", lw=0.6)
            a.set_yticks(y, labels)
            a.set_title(str(row["label"]), fontsize="medium", loc="left")
            a.grid(True, axis="x", alpha=0.3)
            a.tick_params(labelsize="small")
        axes[0].legend(fontsize="x-small", loc="lower right")
        return axes[0] if len(axes) == 1 else axes


def analyse(
    evaluation: Evaluation | Design,
    values: Mapping[str, Sequence[float]] | Sequence[float] | None = None,
    *,
    conf_level: float = 0.95,
    resamples: int = 1000,
    rng: int | np.random.Generator | np.random.SeedSequence | None = 0,
    engine: str = "auto",
) -> SensitivityResult:
    """Estimate Sobol' indices or Morris effects, with bootstrap confidence intervals.

    Parameters
    ----------
    evaluation : Evaluation or Design
        The simulated design; or a bare design with ``values`` computed elsewhere (any model:
        ``values`` in the design's point order).
    values : mapping of outcome name to array, or array, optional
        Only with a bare design (an array is named ``"y"``).
    conf_level : float
        Level of the intervals (normal approximation from the bootstrap standard deviation).
    resamples : int
        Bootstrap resamples (of Sobol' base samples or of Morris trajectories).
    rng : int, SeedSequence or Generator
        Randomness of the bootstrap.
    engine : {"auto", "salib", "numpy"}
        SALib's estimators (``"auto"`` when SALib is installed) or the same estimators written
        here in numpy.

    Returns
    -------
    SensitivityResult

    Raises
    ------
    ConfigError
        For bad options or values of the wrong length.
    FeesimError
        If some design points have no value (failed simulations, or an outcome undefined at a
        point, e.g. an approval where no vote was held); their numbers are named.
    """
    if isinstance(evaluation, Evaluation):
        if values is not None:
            raise ConfigError("values: give values only with a bare Design")
        d = evaluation.design
        wide = evaluation.table.pivot(index="point", columns="outcome", values="value")
        ys = {o.name: wide[o.name].to_numpy(dtype=float) for o in evaluation.outcomes}
        info = {o.name: (o.label, o.unit) for o in evaluation.outcomes}
        meta = dict(evaluation.meta)
    elif isinstance(evaluation, Design):
        if values is None:
            raise ConfigError("values: required with a bare Design (one value per point)")
        d = evaluation
        if isinstance(values, Mapping):
            ys = {str(k): np.asarray(v, dtype=float) for k, v in values.items()}
        else:
            ys = {"y": np.asarray(values, dtype=float)}
        info = {k: (k, "") for k in ys}
        meta = {}
    else:
        raise ConfigError(
            f"evaluation: got {type(evaluation).__name__}; expected an Evaluation or a Design"
        )
    if not 0 < conf_level < 1:
        raise ConfigError(f"conf_level: got {conf_level!r}; expected a number in (0, 1)")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 10:
        raise ConfigError(f"resamples: got {resamples!r}; expected an integer >= 10")
    if engine not in ENGINES:
        raise ConfigError(f"engine: got {engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "auto":
        engine = "salib" if _salib_available() else "numpy"
    elif engine == "salib" and not _salib_available():
        raise ConfigError("engine: 'salib' needs SALib; pip install 'feesim[sensitivity]'")
    gen = _generator(rng)
    D = len(d.factors)
    rows = []
    stats = []
    for name, y in ys.items():
        if y.shape != (d.points,):
            raise ConfigError(
                f"values[{name!r}]: got {y.shape[0] if y.ndim else 0} values; expected one per "
                f"design point ({d.points})"
            )
        missing = np.flatnonzero(~np.isfinite(y))
        if missing.size:
            raise FeesimError(
                f"outcome {name}: no value at {missing.size} design point(s) (first: "
                f"{missing[:5].tolist()}); check Evaluation.failures, or drop an outcome that is "
                "undefined at some points"
            )
        constant = bool(np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max())))
        stat = {
            "outcome": name,
            "label": info[name][0],
            "unit": info[name][1],
            "mean": float(y.mean()),
            "sd": float(y.std(ddof=1)) if y.size > 1 else 0.0,
            "min": float(y.min()),
            "max": float(y.max()),
            "constant": constant,
        }
        if d.method == "sobol":
            if constant:
                s = {k: np.zeros(D) for k in ("S1", "S1_conf", "ST", "ST_conf")}
            elif engine == "salib":
                from SALib.analyze import sobol as salib_sobol

                problem = {"num_vars": D, "names": d.names, "bounds": [[0.0, 1.0]] * D}
                s = salib_sobol.analyze(
                    problem,
                    y,
                    calc_second_order=False,
                    num_resamples=resamples,
                    conf_level=conf_level,
                    seed=_seed_int(gen),
                )
            else:
                s = _sobol_numpy(y, D, resamples, conf_level, gen)
            stat["sum_S1"] = float(np.sum(s["S1"]))
            for j, f in enumerate(d.factors):
                for idx in ("S1", "ST"):
                    v, c = float(s[idx][j]), float(s[f"{idx}_conf"][j])
                    rows.append((name, f.name, f.kind, idx, v, v - c, v + c))
        else:
            if constant:
                m = {k: np.zeros(D) for k in ("mu", "mu_star", "sigma", "mu_star_conf")}
            elif engine == "salib":
                from SALib.analyze import morris as salib_morris

                problem = {"num_vars": D, "names": d.names, "bounds": [[0.0, 1.0]] * D}
                m = salib_morris.analyze(
                    problem,
                    d.unit,
                    y,
                    num_resamples=resamples,
                    conf_level=conf_level,
                    num_levels=d.levels,
                    seed=gen,
                )
            else:
                m = _morris_numpy(d.unit, y, D, resamples, conf_level, gen)
            for j, f in enumerate(d.factors):
                ms, c = float(m["mu_star"][j]), float(m["mu_star_conf"][j])
                rows.append((name, f.name, f.kind, "mu_star", ms, ms - c, ms + c))
                rows.append((name, f.name, f.kind, "mu", float(m["mu"][j]), np.nan, np.nan))
                rows.append((name, f.name, f.kind, "sigma", float(m["sigma"][j]), np.nan, np.nan))
        stats.append(stat)
    indices = pd.DataFrame(
        rows, columns=["outcome", "factor", "kind", "index", "value", "ci_lower", "ci_upper"]
    )
    outcomes = pd.DataFrame(stats).set_index("outcome")
    meta.update(
        {"engine": engine, "conf_level": conf_level, "resamples": resamples, "points": d.points}
    )
    return SensitivityResult(d.method, indices, outcomes, d.factors, meta)
