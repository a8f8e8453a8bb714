"""Analysis: Sobol' indices and Morris effects, with bootstrap confidence intervals.

Holds :func:`analyse` and its result :class:`SensitivityResult`, and the numpy estimators used
when SALib is not installed (or ``engine="numpy"``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from feesim.errors import ConfigError, FeesimError
from feesim.protocol import load_result, save_result
from feesim.studies.sensitivity.designs import Design, _generator
from feesim.studies.sensitivity.evaluation import Evaluation
from feesim.studies.sensitivity.factors import Factor

ENGINES: tuple[str, ...] = ("auto", "salib", "numpy")


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

    Notes
    -----
    A result of the protocol of :mod:`feesim.protocol`; ``summary_frame`` keeps the indices'
    own names (``S1``, ``ST``, ``mu_star`` with ``*_ci_lower`` and ``*_ci_upper``).
    ``feesim.surfaces.plotting.plot_sensitivity`` draws it.
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
            self.check_outcome(outcome)
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

    def check_outcome(self, outcome: str) -> None:
        """Raise :class:`ConfigError` naming the outcomes if ``outcome`` is not one of them."""
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

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``indices`` and ``outcomes`` as Parquet and the sidecar; returns the folder.

        The sidecar holds the method, the factors and :attr:`meta` (the evaluation's seed,
        replicates and target, the estimator's settings) as provenance.
        """
        tables = {"indices": self.indices, "outcomes": self.outcomes}
        attrs = {"method": self.method, "factors": [f.to_mapping() for f in self.factors]}
        return save_result(directory, self, tables, provenance=self.meta, attrs=attrs)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> SensitivityResult:
        """Read a result written by :meth:`save`.

        The factors are checked again against the scenario fields they name.
        """
        stored = load_result(directory, cls)
        return cls(
            method=stored.attrs["method"],
            indices=stored.tables["indices"],
            outcomes=stored.tables["outcomes"],
            factors=tuple(Factor(**f) for f in stored.attrs["factors"]),
            meta=stored.provenance,
        )


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
