"""Typed, documented, validated configuration fields and the TOML loader behind them.

Every configuration object of feesim is a frozen dataclass whose fields are declared with
:func:`param`. A field knows its unit, its bounds or allowed values, whether it is a *lever*
(something a bureau or committee decides), an *uncertainty* (something nobody controls) or a
*setting*, and the source of its default. :func:`from_mapping` builds a dataclass from a parsed
TOML table, rejecting unknown keys, wrong types and out-of-range values with a
:class:`~feesim.errors.ConfigError` that names the field, the value and what is allowed.

A field inside a configuration is named by a dotted path with list indices
(``"proposals[0].step_pct"``, ``"community.building_types[1].fee_per_m2"``). :func:`resolve`
finds a path's declaration, :func:`get` reads the value and :func:`edit` / :func:`replace`
change it, validated exactly as loading a file is: the one implementation behind
:meth:`feesim.config.scenario.Scenario.with_changes` and the sensitivity factors.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar, get_args, get_origin

from feesim.errors import ConfigError
from feesim.i18n import N_
from feesim.i18n import gettext as _

__all__ = [
    "FieldSpec",
    "describe",
    "edit",
    "fail",
    "from_mapping",
    "get",
    "param",
    "parse_path",
    "replace",
    "resolve",
    "to_mapping",
    "validated",
]

T = TypeVar("T")

_KINDS = ("lever", "uncertainty", "setting")


def param(
    default: Any = dataclasses.MISSING,
    *,
    unit: str = "",
    doc: str = "",
    kind: str = "setting",
    source: str = "",
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    factory: Any = dataclasses.MISSING,
) -> Any:
    """Declare a configuration field.

    Parameters
    ----------
    default : object, optional
        Default value; omit for a required field.
    unit : str
        Unit of the value (``"yuan/m2/month"``, ``"share"``, ``"months"``...).
    doc : str
        One-line meaning of the field.
    kind : {"lever", "uncertainty", "setting"}
        Lever: decided by people in the model (bureau, committee, firm); uncertainty: not
        controlled by anyone (behaviour, wages); setting: simulation bookkeeping.
    source : str
        Where the default comes from (case id, statute, document).
    lo, hi : float, optional
        Bounds on numeric values (inclusive unless ``lo_open`` / ``hi_open``).
    factory : callable, optional
        Default factory for mutable or composite defaults.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, not {kind!r}")
    meta = {
        "unit": unit,
        "doc": doc,
        "kind": kind,
        "source": source,
        "lo": lo,
        "hi": hi,
        "lo_open": lo_open,
        "hi_open": hi_open,
    }
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def default_of(cls: type, name: str) -> Any:
    """Default of field ``name`` of the dataclass ``cls``.

    For a field that mirrors another (a bureau's description of a scenario field), so that the
    default is written once.
    """
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is dataclasses.MISSING:
                raise ValueError(f"{cls.__name__}.{name} has no plain default")
            return f.default
    raise ValueError(f"{cls.__name__} has no field {name!r}")


def _english(message: str) -> str:
    return message


#: Words for the scalar types (translated where an error message shows them).
_SCALAR_WORDS = {
    bool: N_("true/false"),
    int: N_("an integer"),
    float: N_("a number"),
    str: N_("a string"),
}


def _type_name(tp: Any, tr: typing.Callable[[str], str] = _english) -> str:
    """What values of ``tp`` may be, in words: English, or through ``tr`` (``gettext``)."""
    origin = get_origin(tp)
    if origin is Literal:
        return tr(N_("one of {values}")).format(values=", ".join(repr(a) for a in get_args(tp)))
    if origin in (types.UnionType, typing.Union):
        words = [_type_name(a, tr) for a in get_args(tp)]
        out = words[0]
        for word in words[1:]:
            out = tr(N_("{first} or {second}")).format(first=out, second=word)
        return out
    if origin is tuple:
        return tr(N_("an array of {item}")).format(item=_type_name(get_args(tp)[0], tr))
    if origin in (dict, Mapping):
        k, v = get_args(tp)
        return tr(N_("a table of {key} -> {value}")).format(
            key=_type_name(k, tr), value=_type_name(v, tr)
        )
    if dataclasses.is_dataclass(tp):
        return tr(N_("a table"))
    if tp is type(None):
        return tr(N_("absent"))
    if tp in _SCALAR_WORDS:
        return tr(_SCALAR_WORDS[tp])
    return getattr(tp, "__name__", str(tp))


def _same_kind(value: Any, tp: Any) -> bool:
    """Whether ``value`` is of the kind ``tp`` reads (a number for a number, a table ...)."""
    origin = get_origin(tp) or tp
    if origin in (int, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin in (dict, Mapping):
        return isinstance(value, Mapping)
    if origin is tuple:
        return isinstance(value, list | tuple)
    return False


def fail(path: str, value: Any, expected: str) -> ConfigError:
    """``path: got value; expected ...`` in the language in force.

    ``expected`` comes translated: the caller translates what it allows.
    """
    err = ConfigError(
        _("{key}: got {value}; expected {expected}").format(
            key=path, value=repr(value), expected=expected
        )
    )
    err.key, err.value, err.expected = path, value, expected
    return err


def _inside(value: float, meta: Mapping[str, Any]) -> bool:
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None and (value <= lo if meta.get("lo_open") else value < lo):
        return False
    return not (hi is not None and (value >= hi if meta.get("hi_open") else value > hi))


def _allowed_range(meta: Mapping[str, Any], tr: typing.Callable[[str], str] = _english) -> str:
    """``a value in [lo, hi] unit``: English, or through ``tr`` (the range stays as written)."""
    lo, hi = meta.get("lo"), meta.get("hi")
    left = "(" if meta.get("lo_open") else "["
    right = ")" if meta.get("hi_open") else "]"
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else f"{hi:g}"
    bounds = f"{left}{lo_s}, {hi_s}{right}"
    if meta.get("unit"):
        return tr(N_("a value in {range} {unit}")).format(range=bounds, unit=tr(meta["unit"]))
    return tr(N_("a value in {range}")).format(range=bounds)


def _check_bounds(path: str, value: float, meta: Mapping[str, Any]) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise fail(path, value, _("a finite number"))
    if not _inside(value, meta):
        raise fail(path, value, _allowed_range(meta, _))


def _convert(path: str, value: Any, tp: Any, meta: Mapping[str, Any]) -> Any:
    origin = get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        real = [o for o in options if o is not type(None)]
        if len(real) == 1:  # Optional[X]: X's own message is the most precise one
            return _convert(path, value, real[0], meta)
        errors = []
        for option in real:
            try:
                return _convert(path, value, option, meta)
            except ConfigError as exc:
                errors.append((option, exc))
        # A value of the right kind that fails its own check (a number out of range, a table
        # with a bad entry) gets that precise message, not the list of types.
        for option, exc in errors:
            if _same_kind(value, option):
                raise exc
        raise fail(path, value, _type_name(tp, _))
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            raise fail(path, value, _type_name(tp, _))
        return value
    if origin is tuple:
        (item_tp, *_rest) = get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise fail(path, value, _type_name(tp, _))
        return tuple(_convert(f"{path}[{i}]", v, item_tp, meta) for i, v in enumerate(value))
    if origin in (dict, Mapping):
        key_tp, val_tp = get_args(tp)
        if not isinstance(value, Mapping):
            raise fail(path, value, _type_name(tp, _))
        return {
            _convert(f"{path}", k, key_tp, {}): _convert(f"{path}.{k}", v, val_tp, meta)
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise fail(path, value, _("a table"))
        return from_mapping(tp, value, path=path)
    if tp is bool:
        if not isinstance(value, bool):
            raise fail(path, value, _("true or false"))
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(path, value, _("an integer"))
        _check_bounds(path, value, meta)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(path, value, _("a number"))
        value = float(value)
        _check_bounds(path, value, meta)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise fail(path, value, _("a string"))
        return value
    if tp is Any:
        return value
    raise TypeError(f"unsupported configuration type {tp!r} at {path}")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def from_mapping[T](cls: type[T], data: Mapping[str, Any], *, path: str = "") -> T:
    """Build the frozen dataclass ``cls`` from a parsed TOML table.

    Parameters
    ----------
    cls : type
        A dataclass whose fields were declared with :func:`param`.
    data : mapping
        The parsed table (``tomllib`` output).
    path : str
        Dotted path of ``data`` within the file, used in error messages.

    Returns
    -------
    cls
        The validated configuration object.

    Raises
    ------
    ConfigError
        For an unknown key (naming the allowed keys), a missing required field, a value of the
        wrong type or outside its bounds, or a failed cross-field check (``_validate``).

    Examples
    --------
    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class Rate:
    ...     value: float = param(0.5, lo=0.0, hi=1.0)
    >>> from_mapping(Rate, {"value": 0.2})
    Rate(value=0.2)
    """
    if not isinstance(data, Mapping):
        raise fail(path or cls.__name__, data, _("a table"))
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = [k for k in data if k not in fields]
    prefix = f"{path}." if path else ""
    if unknown:
        allowed = ", ".join(sorted(fields))
        raise ConfigError(
            _("{key}: unknown key; allowed keys here: {allowed}").format(
                key=prefix + unknown[0], allowed=allowed
            )
        )
    hints = _hints(cls)
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _convert(prefix + name, data[name], hints[name], field.metadata)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            what = _type_name(hints[name], _)
            unit = field.metadata.get("unit")
            if unit:
                message = _("{key}: required field is missing ({what}, {unit})").format(
                    key=prefix + name, what=what, unit=_(unit)
                )
            else:
                message = _("{key}: required field is missing ({what})").format(
                    key=prefix + name, what=what
                )
            raise ConfigError(message)
    obj = cls(**kwargs)
    validate = getattr(obj, "_validate", None)
    if validate is not None:
        validate(path)
    return obj


def to_mapping(obj: Any) -> Any:
    """Turn a configuration dataclass back into plain TOML-ready data (``None`` dropped)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is not None:
                out[f.name] = to_mapping(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [to_mapping(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_mapping(v) for k, v in obj.items()}
    return obj


# ----------------------------------------------------------------------------------------------
# dotted paths: reading and editing one field of a configuration
# ----------------------------------------------------------------------------------------------
_TOKEN_RE = re.compile(r"^([A-Za-z_]\w*)(?:\[(\d+)\])?$")


def parse_path(path: str) -> tuple[tuple[str, int | None], ...]:
    """Split a dotted path into ``(field, index)`` tokens (``index`` is ``None`` if not given).

    Raises
    ------
    ConfigError
        For a path that is not names separated by dots, each with an optional ``[index]``.

    Examples
    --------
    >>> parse_path("proposals[0].step_pct")
    (('proposals', 0), ('step_pct', None))
    """
    if not isinstance(path, str) or not path:
        raise ConfigError(
            f"path: got {path!r}; expected a dotted field name such as 'proposals[0].step_pct'"
        )
    tokens = []
    for part in path.split("."):
        m = _TOKEN_RE.match(part)
        if m is None:
            raise ConfigError(
                f"{path}: cannot read {part!r}; expected names separated by dots, with an index "
                "for arrays, e.g. 'proposals[0].step_pct'"
            )
        tokens.append((m.group(1), None if m.group(2) is None else int(m.group(2))))
    return tuple(tokens)


def _render(tokens: Sequence[tuple[str, int | None]]) -> str:
    return ".".join(name if index is None else f"{name}[{index}]" for name, index in tokens)


def _optional_inner(tp: Any) -> Any:
    """``X`` for ``X | None``, else ``tp`` itself."""
    if get_origin(tp) in (types.UnionType, typing.Union):
        real = [a for a in get_args(tp) if a is not type(None)]
        if len(real) == 1:
            return real[0]
    return tp


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """The declaration a dotted path leads to (see :func:`resolve`).

    Attributes
    ----------
    path : str
        The dotted path.
    owner : type
        The dataclass declaring the field.
    name : str
        The field's name.
    hint : object
        Type of the value at the path (the element type if the path ends in an index).
    metadata : mapping
        What :func:`param` recorded: unit, doc, kind, source and bounds.
    """

    path: str
    owner: type
    name: str
    hint: Any
    metadata: Mapping[str, Any]

    @property
    def dtype(self) -> str | None:
        """``"float"``, ``"int"`` or ``"bool"`` for a single number or flag, else ``None``."""
        inner = _optional_inner(self.hint)
        return next((n for t, n in _SCALARS if inner is t), None)

    @property
    def type_name(self) -> str:
        """What the value may be, in words (``"a number or absent"``)."""
        return _type_name(self.hint)

    @property
    def kind(self) -> str:
        """``"lever"``, ``"uncertainty"`` or ``"setting"``."""
        return self.metadata.get("kind", "setting")

    @property
    def unit(self) -> str:
        """Unit of the value."""
        return self.metadata.get("unit", "")

    @property
    def doc(self) -> str:
        """One-line meaning."""
        return self.metadata.get("doc", "")

    @property
    def lo(self) -> float | None:
        """Lower bound (``None``: unbounded)."""
        return self.metadata.get("lo")

    @property
    def hi(self) -> float | None:
        """Upper bound (``None``: unbounded)."""
        return self.metadata.get("hi")

    def inside(self, value: float) -> bool:
        """Whether ``value`` lies within the declared bounds."""
        return _inside(value, self.metadata)

    def allowed(self) -> str:
        """The declared bounds as text: ``"a value in [0, 1] share"``."""
        return _allowed_range(self.metadata)


_SCALARS = ((float, "float"), (int, "int"), (bool, "bool"))


def resolve(cls: type, path: str) -> FieldSpec:
    """Walk ``path`` through the dataclass ``cls`` to the declaration of its last field.

    Parameters
    ----------
    cls : type
        A configuration dataclass (e.g. :class:`~feesim.config.scenario.Scenario`).
    path : str
        Dotted path with indices for arrays of tables: ``"government.wage_growth"``,
        ``"proposals[0].step_pct"``, ``"community.building_types[1]"``.

    Returns
    -------
    FieldSpec

    Raises
    ------
    ConfigError
        For an unknown field (naming the allowed ones), an index on a field that is not an
        array, an array of tables without an index in the middle of the path, or a path going
        on past a value.
    """
    tokens = parse_path(path)
    hint: Any = cls
    owner: Any = cls
    for depth, (name, index) in enumerate(tokens):
        owner = _optional_inner(hint)
        fields = {f.name: f for f in dataclasses.fields(owner) if f.init}
        if name not in fields:
            where = _render(tokens[:depth]) or f"the {cls.__name__.lower()}"
            raise ConfigError(
                f"{path}: unknown field {name!r} in {where}; allowed: " + ", ".join(sorted(fields))
            )
        hint = _hints(owner)[name]
        if index is not None:
            inner = _optional_inner(hint)
            if get_origin(inner) is not tuple:
                raise ConfigError(f"{path}: {name!r} is not an array; remove the index")
            hint = get_args(inner)[0]
        if depth < len(tokens) - 1:
            inner = _optional_inner(hint)
            if get_origin(inner) is tuple and dataclasses.is_dataclass(get_args(inner)[0]):
                raise ConfigError(
                    f"{path}: {name!r} is an array; give the element, e.g. '{name}[0]'"
                )
            if not dataclasses.is_dataclass(inner):
                raise ConfigError(f"{path}: {name!r} is a value, not a table")
    return FieldSpec(path, owner, tokens[-1][0], hint, fields[tokens[-1][0]].metadata)


def _entry(path: str, tokens: Any, depth: int, items: Any, root: type) -> Any:
    """``items[index]`` of token ``depth``, or an error saying how many entries there are."""
    name, index = tokens[depth]
    if index < len(items):
        return items[index]
    holder = _render(tokens[:depth]) or f"the {root.__name__.lower()}"
    n = len(items)
    raise ConfigError(
        f"{path}: {_render(tokens[: depth + 1])} does not exist; {holder} has {n} {name} "
        f"entr{'y' if n == 1 else 'ies'}"
    )


def get(obj: Any, path: str) -> Any:
    """The value at dotted ``path`` in the configuration ``obj``.

    Raises
    ------
    ConfigError
        For a path :func:`resolve` refuses, or an index beyond the entries ``obj`` has (the
        message says how many there are).

    Examples
    --------
    ``get(scenario, "proposals[0].step_pct")``
    """
    root = type(obj)
    resolve(root, path)
    tokens = parse_path(path)
    for depth, (name, index) in enumerate(tokens):
        obj = getattr(obj, name)
        if index is not None:
            obj = _entry(path, tokens, depth, obj, root)
    return obj


def _put(obj: Any, tokens: Any, depth: int, value: Any, path: str, root: type) -> Any:
    """Copy of ``obj`` with the field at ``tokens[depth:]`` set to ``value`` (not checked)."""
    name, index = tokens[depth]
    last = depth == len(tokens) - 1
    current = getattr(obj, name)
    if index is None:
        new = value if last else _put(current, tokens, depth + 1, value, path, root)
    else:
        entry = _entry(path, tokens, depth, current, root)
        items = list(current)
        items[index] = value if last else _put(entry, tokens, depth + 1, value, path, root)
        new = tuple(items)
    changes = {name: new}
    if last and index is None and value is not None:
        # Alternative ways of stating one thing (a proposal's new fee, relative or absolute
        # step): the one given replaces the others, as in a file that names only one.
        for group in getattr(type(obj), "_alternatives", ()):
            if name in group:
                changes.update({other: None for other in group if other != name})
    return dataclasses.replace(obj, **changes)


def edit[T](obj: T, changes: Mapping[str, Any], *, path: str = "", validate: bool = True) -> T:
    """Copy of the configuration ``obj`` with the fields at the dotted paths of ``changes`` set.

    The one way to change a field by path: behind
    :meth:`~feesim.config.scenario.Scenario.with_changes` and the sensitivity factors.

    Parameters
    ----------
    obj : dataclass
        A configuration object (a scenario, a proposal ...).
    changes : mapping
        ``{path: value}``, applied in order. A path names a field, a table or an array entry
        (``"community.building_types[1].fee_per_m2"``, ``"proposals[0]"``, ``"campaigns"``);
        a table's value may be the dataclass or a mapping, an array's a list or tuple. Where a
        class names alternative fields (``_alternatives``: a proposal's ``new_fee_per_m2``,
        ``step_pct`` and ``step_yuan``), giving one a value clears the others.
    path : str
        Dotted path of ``obj`` itself, put in front of the paths in error messages.
    validate : bool
        Check the copy exactly as loading a file would (:func:`validated`): types, bounds and
        cross-field rules, with errors naming the path, the value and what is allowed. Without,
        the values are set as given (for a caller that converts them itself and validates once
        after several edits).

    Returns
    -------
    Same type as ``obj``.

    Raises
    ------
    ConfigError
        For a path :func:`resolve` refuses, an index beyond the entries ``obj`` has (saying how
        many there are), or (with ``validate``) a value the file loader would refuse.

    Examples
    --------
    ``edit(scenario, {"proposals[0].step_pct": 0.2, "simulation.months": 48})``
    """
    prefix = f"{path}." if path else ""
    out = obj
    for key, value in changes.items():
        try:
            resolve(type(obj), key)
            out = _put(out, parse_path(key), 0, value, key, type(obj))
        except ConfigError as exc:
            raise ConfigError(f"{prefix}{exc}") from None
    return validated(out, path=path) if validate else out


def replace[T](obj: T, path: str, value: Any) -> T:
    """Copy of ``obj`` with the field at dotted ``path`` set to ``value``, validated.

    Shorthand for ``edit(obj, {path: value})`` (see :func:`edit`).

    Examples
    --------
    ``replace(scenario, "government.wage_growth", 0.0)``
    """
    return edit(obj, {path: value})


def _plain(obj: Any) -> Any:
    """Like :func:`to_mapping`, but a ``None`` stays (it is a value, not a missing key)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def validated[T](obj: T, *, path: str = "") -> T:
    """Check a configuration object built in code exactly as loading it from a file would.

    Every value's type and bounds and every cross-field rule (``_validate``) of ``obj`` and
    everything inside it, by :func:`from_mapping`. Tables given as mappings and arrays given as
    lists inside ``obj`` are converted as from a file.

    Parameters
    ----------
    obj : dataclass
    path : str
        Dotted path of ``obj`` within the file, used in error messages.

    Returns
    -------
    The checked copy (whole numbers in number fields become floats, as when loading).

    Raises
    ------
    ConfigError
        Naming the path, the value and what is allowed.
    """
    return from_mapping(type(obj), _plain(obj), path=path)


def describe(cls: type, prefix: str = "") -> list[dict[str, Any]]:
    """List every field of ``cls`` (recursively) with its unit, kind, bounds, default and source.

    Used to document scenarios and to list levers and uncertainties for sweeps.
    """
    rows = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        name = f"{prefix}{f.name}"
        inner = tp
        if get_origin(tp) in (types.UnionType, typing.Union):
            inner = next(a for a in get_args(tp) if a is not type(None))
        if dataclasses.is_dataclass(inner):
            rows.extend(describe(inner, name + "."))
            continue
        if get_origin(inner) is tuple and dataclasses.is_dataclass(get_args(inner)[0]):
            rows.extend(describe(get_args(inner)[0], name + "[]."))
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        rows.append(
            {
                "field": name,
                "type": _type_name(tp),
                "unit": f.metadata.get("unit", ""),
                "kind": f.metadata.get("kind", "setting"),
                "default": default,
                "lo": f.metadata.get("lo"),
                "hi": f.metadata.get("hi"),
                "doc": f.metadata.get("doc", ""),
                "source": f.metadata.get("source", ""),
            }
        )
    return rows
