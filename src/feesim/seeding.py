"""Random seeds of the Python API: ``rng=`` everywhere, ``seed=`` as a deprecated alias.

Every public function or class of feesim that draws random numbers takes ``rng=``, following
Scientific Python SPEC 7 (https://scientific-python.org/specs/spec-0007/): a whole number
>= 0, a :class:`numpy.random.SeedSequence`, or (where noted) a :class:`numpy.random.Generator`.
Where ``seed=`` was public it is kept as a deprecated alias: it warns
(:class:`DeprecationWarning`, naming ``rng=``) and may not be given together with ``rng=``.
Files (``[simulation] seed``, ``[forecast] seed``, ``[portfolio] seed``) and the command
line's ``--seed`` keep their names: they are data, not the Python API.

A bad value is a :class:`~feesim.errors.ConfigError` naming the argument, the value and what
is allowed, like every other bad input.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from feesim.errors import ConfigError

__all__ = ["check_rng", "rng_alias", "root_seed"]

_ALLOWED = "a whole number >= 0 or a numpy.random.SeedSequence"


def rng_alias(rng: Any, seed: Any, *, stacklevel: int = 3) -> Any:
    """The value of ``rng=``, taking the deprecated ``seed=`` into account.

    Parameters
    ----------
    rng, seed : object
        What the caller gave for each (``None``: not given).
    stacklevel : int
        Of the warning: 3 points at the caller of the function that calls this one.

    Raises
    ------
    ConfigError
        If both are given.
    """
    if seed is None:
        return rng
    if rng is not None:
        raise ConfigError(
            f"rng: got rng={rng!r} and seed={seed!r}; seed= is the deprecated name of rng=, "
            "give rng= only"
        )
    warnings.warn(
        "seed= is deprecated; use rng= (the same values: a whole number >= 0 or a "
        "numpy.random.SeedSequence)",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return seed


def check_rng(value: Any, key: str = "rng", *, generator: bool = False) -> Any:
    """Check a seed argument; return it (a whole number as a plain ``int``).

    Parameters
    ----------
    value : object
        ``None``, a whole number >= 0, a :class:`numpy.random.SeedSequence` or, if
        ``generator``, a :class:`numpy.random.Generator`.
    key : str
        The argument's name, for the message.
    generator : bool
        Whether a Generator is allowed.

    Raises
    ------
    ConfigError
        For any other value (a negative number, a float, a string, a bool ...).
    """
    if value is None or isinstance(value, np.random.SeedSequence):
        return value
    if generator and isinstance(value, np.random.Generator):
        return value
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        allowed = _ALLOWED + (" or a numpy.random.Generator" if generator else "")
        raise ConfigError(f"{key}: got {value!r}; expected {allowed}")
    if value < 0:
        raise ConfigError(f"{key}: got {value!r}; expected a whole number >= 0")
    return int(value)


def root_seed(value: Any, key: str = "rng") -> int | None:
    """A seed argument as one whole number (for seed trees keyed by a number), or ``None``.

    A whole number is returned as is; a SeedSequence made from one whole number gives that
    number (so ``rng=5`` and ``rng=SeedSequence(5)`` agree); any other SeedSequence, and a
    Generator, give a number drawn from them (reproducible if they are).
    """
    value = check_rng(value, key, generator=True)
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, np.random.SeedSequence):
        if isinstance(value.entropy, int) and not value.spawn_key:
            return int(value.entropy)
        return int(value.generate_state(1, np.uint64)[0] >> np.uint64(1))
    return int(value.integers(0, 2**63 - 1))
