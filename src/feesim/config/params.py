"""Typed, documented, validated configuration fields and the TOML loader behind them.

Every configuration object of feesim is a frozen dataclass whose fields are declared with
:func:`param`. A field knows its unit, its bounds or allowed values, whether it is a *lever*
(something a bureau or committee decides), an *uncertainty* (something nobody controls) or a
*setting*, and the source of its default. :func:`from_mapping` builds a dataclass from a parsed
TOML table, rejecting unknown keys, wrong types and out-of-range values with a
:class:`~feesim.errors.ConfigError` that names the field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

from feesim.errors import ConfigError

__all__ = ["describe", "from_mapping", "param", "replace", "to_mapping"]

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


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is tuple:
        return f"an array of {_type_name(get_args(tp)[0])}"
    if origin in (dict, Mapping):
        k, v = get_args(tp)
        return f"a table of {_type_name(k)} -> {_type_name(v)}"
    if dataclasses.is_dataclass(tp):
        return "a table"
    if tp is type(None):
        return "absent"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _fail(path: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"{path}: got {value!r}; expected {expected}")


def _check_bounds(path: str, value: float, meta: Mapping[str, Any]) -> None:
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(path, value, "a finite number")
    bad = (lo is not None and (value <= lo if meta.get("lo_open") else value < lo)) or (
        hi is not None and (value >= hi if meta.get("hi_open") else value > hi)
    )
    if bad:
        left = "(" if meta.get("lo_open") else "["
        right = ")" if meta.get("hi_open") else "]"
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        unit = f" {meta['unit']}" if meta.get("unit") else ""
        raise _fail(path, value, f"a value in {left}{lo_s}, {hi_s}{right}{unit}")


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
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(path, value, option, meta)
            except ConfigError as exc:
                errors.append(exc)
        raise _fail(path, value, _type_name(tp))
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            raise _fail(path, value, "one of " + ", ".join(repr(a) for a in allowed))
        return value
    if origin is tuple:
        (item_tp, *_rest) = get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise _fail(path, value, _type_name(tp))
        return tuple(_convert(f"{path}[{i}]", v, item_tp, meta) for i, v in enumerate(value))
    if origin in (dict, Mapping):
        key_tp, val_tp = get_args(tp)
        if not isinstance(value, Mapping):
            raise _fail(path, value, _type_name(tp))
        return {
            _convert(f"{path}", k, key_tp, {}): _convert(f"{path}.{k}", v, val_tp, meta)
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise _fail(path, value, "a table")
        return from_mapping(tp, value, path=path)
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(path, value, "true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, value, "an integer")
        _check_bounds(path, value, meta)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(path, value, "a number")
        value = float(value)
        _check_bounds(path, value, meta)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise _fail(path, value, "a string")
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
        raise _fail(path or cls.__name__, data, "a table")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = [k for k in data if k not in fields]
    prefix = f"{path}." if path else ""
    if unknown:
        allowed = ", ".join(sorted(fields))
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key; allowed keys here: {allowed}")
    hints = _hints(cls)
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _convert(prefix + name, data[name], hints[name], field.metadata)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(
                f"{prefix}{name}: required field is missing ({_type_name(hints[name])}"
                f"{', ' + field.metadata['unit'] if field.metadata.get('unit') else ''})"
            )
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


def replace[T](obj: T, path: str, value: Any) -> T:
    """Return a copy of ``obj`` with the field at dotted ``path`` set to ``value``, validated.

    Examples
    --------
    ``replace(scenario, "government.wage_growth", 0.0)``
    """
    head, _, rest = path.partition(".")
    names = {f.name for f in dataclasses.fields(obj)}  # type: ignore[arg-type]
    if head not in names:
        raise ConfigError(f"{path}: unknown field; allowed: {', '.join(sorted(names))}")
    if rest:
        value = replace(getattr(obj, head), rest, value)
    data = to_mapping(obj)
    data[head] = to_mapping(value)
    return from_mapping(type(obj), data)


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
