"""Portfolios: many communities in one file, run together, reported one by one and in total.

A portfolio is a table with one row per community (CSV), or a TOML file with a
``[portfolio]`` table that either names such a CSV or describes a synthetic city or district
(``[generator]``). Each row overrides a base scenario (``portfolio.base``, or the defaults):

====================  ==============================================================
column                meaning (unit)
====================  ==============================================================
community             name (unique)
district              district name (for the aggregate report)
households            number of units
housing_kind          old_public | old_commodity | commodity | resettlement
share_high_rise       share of units in high-rise buildings (0-1)
fee_multi, fee_high   fee of multi-storey / high-rise units (yuan/m2/month)
mean_area_m2          mean unit area (m2)
collection            collection rate before month 0 (0-1)
trust                 initial trust (0-1)
billing               monthly | quarterly | yearly
tier                  basic | tidy | liveable
committee             owners | executive | none
capacity              committee capacity (0-1)
subsidy_per_m2        district subsidy (yuan/m2/month), paid on the assessment score
other_income_per_m2   public income and rewards beyond fees (yuan/m2/month), to the firm
====================  ==============================================================

Missing columns take the base scenario's values. Every value is checked (row and column are
named in errors). :func:`run_portfolio` runs all communities through the
:class:`~feesim.studies.ensemble.Ensemble` runner (chunks of many communities per batch, any
executor) and reports per community and per district: collection, service, how many communities end
in the low trap, how many firms exit. With ``parameter_sets = k`` in ``[portfolio]`` the whole
portfolio runs once per member of the fitted behaviour ensemble (the first ``k``), on the same
random draws, and the totals are medians with their 5-95% range over the sets.

A ``[generator]`` table draws the table of a synthetic city or district instead
(:mod:`feesim.studies.city`: :class:`~feesim.studies.city.Generator`,
:func:`~feesim.studies.city.generate`, imported here too).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from feesim.config.behaviour import Behaviour
from feesim.config.params import from_mapping, param
from feesim.config.scenario import BuildingType, Scenario, load_scenario
from feesim.errors import ConfigError, InputFileError
from feesim.i18n import gettext as _
from feesim.io import atomic_write_text, read_csv, read_toml, staged_output
from feesim.protocol import load_result, save_result
from feesim.studies.city import AGG07_FEES, GENERATED_HOUSEHOLDS, Generator, generate

__all__ = [
    "AGG07_FEES",
    "Generator",
    "Portfolio",
    "PortfolioResult",
    "generate",
    "is_portfolio",
    "load_portfolio",
    "parameter_sets",
    "run_portfolio",
]

log = logging.getLogger(__name__)


#: What a portfolio run writes at the top of its output folder (and replaces there).
OUTPUTS = (
    "communities.csv",
    "districts.csv",
    "sets.csv",
    "series",
    "votes",
    "events",
    "campaigns",
    "members.csv",
    "summary.csv",
    "params-*",
)

KINDS = ("old_public", "old_commodity", "commodity", "resettlement")
BILLINGS = ("monthly", "quarterly", "yearly")
TIERS = ("basic", "tidy", "liveable")
COMMITTEES = ("owners", "executive", "none")

#: Checks on table columns: (low, high) for numbers, allowed values for text.
COLUMNS: dict[str, Any] = {
    "households": (6, 20000),
    "share_high_rise": (0.0, 1.0),
    "fee_multi": (0.0, 50.0),
    "fee_high": (0.0, 50.0),
    "mean_area_m2": (10.0, 500.0),
    "collection": (0.01, 0.995),
    "trust": (0.0, 1.0),
    "capacity": (0.0, 1.0),
    "subsidy_per_m2": (0.0, 10.0),
    "other_income_per_m2": (0.0, 20.0),
    "housing_kind": KINDS,
    "billing": BILLINGS,
    "tier": TIERS,
    "committee": COMMITTEES,
}


@dataclass(frozen=True)
class PortfolioSettings:
    """The ``[portfolio]`` table."""

    name: str = param("portfolio", doc="name shown in reports")
    base: str | None = param(None, doc="base scenario file (relative to the portfolio file)")
    communities: str | None = param(None, doc="CSV of communities (relative to this file)")
    months: int = param(120, unit="months", lo=1, hi=600)
    start: str = param("2025-01", unit="YYYY-MM")
    seed: int = param(0, lo=0)
    wage_growth: float | None = param(
        None, unit="1/year", lo=-0.5, hi=1, doc="override government.wage_growth for all"
    )
    chunk_households: int = param(
        1_000_000,
        unit="households",
        lo=1,
        hi=100_000_000,
        doc="households simulated together in one batch",
    )
    parameter_sets: int = param(
        0,
        lo=0,
        hi=1000,
        doc="members of the fitted behaviour ensemble to run the whole portfolio under (one "
        "run each, same random draws), so totals carry parameter uncertainty; 0: the point "
        "estimate only",
    )


@dataclass
class Portfolio:
    """Communities to run together: a base scenario and one row of overrides per community."""

    name: str
    base: Scenario
    table: pd.DataFrame
    seed: int = 0
    chunk_households: int = 1_000_000
    parameter_sets: int = 0

    def __post_init__(self) -> None:
        self.table = _check_table(self.table)
        _check_sets(self.parameter_sets)

    @property
    def households(self) -> int:
        """Total households."""
        return int(self.table["households"].sum())

    def scenarios(self) -> list[Scenario]:
        """One scenario per community (fast: rows were checked as a whole)."""
        base = self.base
        c0, f0, com0 = base.community, base.firm, base.committee
        bt0 = c0.building_types
        multi = next((b for b in bt0 if "high" not in b.name), bt0[0])
        high = next((b for b in bt0 if "high" in b.name), None)
        cols = set(self.table.columns)
        out = []
        for row in self.table.itertuples(index=False):
            r = row._asdict()
            share_h = (
                float(r["share_high_rise"])
                if "share_high_rise" in cols
                else (0.0 if high is None else high.share)
            )
            area = float(r["mean_area_m2"]) if "mean_area_m2" in cols else multi.mean_area_m2
            types = []
            if share_h < 1.0:
                types.append(
                    dataclasses.replace(
                        multi,
                        name="multi-storey",
                        share=1.0 - share_h,
                        mean_area_m2=area,
                        fee_per_m2=float(r.get("fee_multi", multi.fee_per_m2)),
                    )
                )
            if share_h > 0.0:
                hb = high or BuildingType(
                    name="high-rise",
                    share=share_h,
                    fee_per_m2=1.5,
                    full_service_fee_per_m2=2.2,
                    equipment_cost_per_m2=0.4,
                )
                types.append(
                    dataclasses.replace(
                        hb,
                        name="high-rise",
                        share=share_h,
                        mean_area_m2=area * 1.2,
                        fee_per_m2=float(r.get("fee_high", hb.fee_per_m2)),
                    )
                )
            community = dataclasses.replace(
                c0,
                households=int(r["households"]),
                building_types=tuple(types),
                housing_kind=r.get("housing_kind", c0.housing_kind),
                billing=r.get("billing", c0.billing),
                initial_collection_rate=float(
                    r.get("collection", c0.initial_collection_rate or 0.8)
                ),
                initial_trust=float(r.get("trust", c0.initial_trust)),
            )
            firm = dataclasses.replace(f0, tier=r.get("tier", f0.tier))
            committee = dataclasses.replace(
                com0,
                kind=r.get("committee", com0.kind),
                capacity=float(r.get("capacity", com0.capacity)),
            )
            gov = base.government
            if "subsidy_per_m2" in cols:
                gov = dataclasses.replace(gov, subsidy_per_m2=float(r["subsidy_per_m2"]))
            if "other_income_per_m2" in cols:
                m2 = int(r["households"]) * (area * (1 - share_h) + area * 1.2 * share_h)
                firm = dataclasses.replace(
                    firm, public_income_yuan_month=float(r["other_income_per_m2"]) * m2
                )
            meta = dataclasses.replace(base.meta, name=str(r["community"]))
            out.append(
                dataclasses.replace(
                    base,
                    meta=meta,
                    community=community,
                    firm=firm,
                    committee=committee,
                    government=gov,
                )
            )
        return out


def _check_table(table: pd.DataFrame) -> pd.DataFrame:
    """Validate a portfolio table; errors name the row, the column, the value, what is allowed."""
    if "community" not in table.columns or "households" not in table.columns:
        raise ConfigError("portfolio: the table needs at least the columns community, households")
    if table.empty:
        raise ConfigError(
            "portfolio: the table has no rows (a header only); expected one row per community "
            "under the header"
        )
    unknown = sorted(set(table.columns) - set(COLUMNS) - {"community", "district"})
    if unknown:
        raise ConfigError(
            f"portfolio.{unknown[0]}: unknown column; allowed: community, district, "
            + ", ".join(COLUMNS)
        )
    table = table.copy()
    if "district" not in table.columns:
        table["district"] = "all"
    if table["community"].duplicated().any():
        dup = table.loc[table["community"].duplicated(), "community"].iloc[0]
        raise ConfigError(f"portfolio.community: {dup!r} appears twice; names must be unique")
    for col, rule in COLUMNS.items():
        if col not in table.columns:
            continue
        values = table[col]
        if isinstance(rule, tuple) and isinstance(rule[0], str):
            bad = ~values.isin(rule)
            expected = "one of " + ", ".join(rule)
        else:
            numeric = pd.to_numeric(values, errors="coerce")
            lo, hi = rule
            bad = numeric.isna() | (numeric < lo) | (numeric > hi)
            expected = f"a number in [{lo}, {hi}]"
            if col == "households":
                bad |= numeric.notna() & (numeric != np.round(numeric))
                expected = f"a whole number in [{lo}, {hi}]"
            if not bad.any():
                table[col] = numeric.astype(int if col == "households" else float)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ConfigError(
                f"portfolio row {i + 1} ({_cell(table['community'].iloc[i])}).{col}: "
                f"got {_cell(values.iloc[i])}; expected {expected}"
            )
    return table.reset_index(drop=True)


def _cell(value: Any) -> str:
    """A table cell as a user would name it: ``'x'``, ``12``, or ``an empty cell``."""
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return "an empty cell"
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _check_generator(spec: Generator) -> None:
    """Refuse a ``[generator]`` whose total households its communities cannot hold.

    Each drawn community has :data:`GENERATED_HOUSEHOLDS` households, so ``households`` (the
    approximate total) must lie between those bounds times ``communities``; outside them the
    draw would silently give a very different total.
    """
    lo, hi = (n * spec.communities for n in GENERATED_HOUSEHOLDS)
    if not lo <= spec.households <= hi:
        raise ConfigError(
            f"generator.households: got {spec.households:,} for {spec.communities:,} "
            f"communities; expected {lo:,} to {hi:,} (each community is drawn with "
            f"{GENERATED_HOUSEHOLDS[0]:,} to {GENERATED_HOUSEHOLDS[1]:,} households), or "
            "change generator.communities"
        )


def is_portfolio(path: str | os.PathLike[str]) -> bool:
    """Whether a file is a portfolio (a CSV, or a TOML file with a ``[portfolio]`` table).

    A TOML file that cannot be read is not one (the scenario reader then says why).
    """
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return True
    if p.suffix.lower() == ".toml" and p.is_file():
        try:
            return "portfolio" in read_toml(p)
        except InputFileError:
            return False
    return False


def load_portfolio(path: str | os.PathLike[str]) -> Portfolio:
    """Read a portfolio from a CSV or a TOML file with a ``[portfolio]`` table.

    Raises
    ------
    ConfigError
        Naming the file, and the row and column of a bad value; an
        :class:`~feesim.errors.InputFileError` for a file that is missing, a folder, empty or
        not UTF-8.
    """
    p = Path(path)
    if p.suffix.lower() == ".csv":
        table = read_csv(p, "portfolio")
        try:
            return Portfolio(name=p.stem, base=Scenario(), table=table)
        except ConfigError as exc:
            raise ConfigError(f"{p}: {exc}") from None
    data = read_toml(p, "portfolio")
    try:
        unknown = sorted(set(data) - {"portfolio", "generator"})
        if unknown:
            raise ConfigError(f"{unknown[0]}: unknown table; allowed: portfolio, generator")
        settings = from_mapping(PortfolioSettings, data.get("portfolio", {}), path="portfolio")
        base = load_scenario(p.parent / settings.base) if settings.base else Scenario()
        changes: dict[str, Any] = {
            "simulation.months": settings.months,
            "simulation.start": settings.start,
        }
        if settings.wage_growth is not None:
            changes["government.wage_growth"] = settings.wage_growth
        base = base.with_changes(**changes)
        if settings.communities:
            csv_path = p.parent / settings.communities
            try:
                table = read_csv(csv_path, "portfolio.communities")
            except InputFileError as exc:
                raise InputFileError(f"portfolio.communities: {exc}") from None
            if table.empty:
                raise ConfigError(
                    f"portfolio.communities: {csv_path} has no rows (a header only); expected "
                    "one row per community under the header"
                )
        elif "generator" in data:
            spec = from_mapping(Generator, data["generator"], path="generator")
            _check_generator(spec)
            table = generate(spec, np.random.default_rng(np.random.SeedSequence(settings.seed)))
        else:
            raise ConfigError("portfolio.communities: give a CSV file or a [generator] table")
        return Portfolio(
            name=settings.name,
            base=base,
            table=table,
            seed=settings.seed,
            chunk_households=settings.chunk_households,
            parameter_sets=settings.parameter_sets,
        )
    except ConfigError as exc:
        raise type(exc)(f"{p}: {exc}") from None


@dataclass
class PortfolioResult:
    """Per-community outcomes and district aggregates of a portfolio run.

    Attributes
    ----------
    communities : DataFrame
        One row per community (per community and parameter set when the portfolio runs several;
        column ``params``, -1 for the scenario's own behaviour).
    districts : DataFrame
        Per district: communities, households, collection at the start and in the last December
        (households-weighted), communities in the low trap, firms that exited. With parameter
        sets: the median over the sets, and the 5-95% range in ``*_lo`` and ``*_hi``.
    total : dict
        The same for the whole portfolio (``parameter_sets`` says how many sets).
    ensemble : EnsembleResult or tuple of them
        The runner's tables (one result per parameter set when there are several).
    sets : DataFrame or None
        Totals per parameter set, when there are several.
    meta : dict
        The run's definition: seed, chunking, parameter sets, base scenario.
    """

    communities: pd.DataFrame
    districts: pd.DataFrame
    total: dict[str, Any]
    ensemble: Any = None
    sets: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def summary_text(self) -> str:
        """A short human-readable report (in the language in force, :mod:`feesim.i18n`)."""
        t = self.total
        k = int(t.get("parameter_sets", 0))

        def spread(key: str, fmt: str) -> str:
            if not k:
                return ""
            lo, hi = format(t[f"{key}_lo"], fmt), format(t[f"{key}_hi"], fmt)
            return _(" (5-95% over {k} parameter sets: {lo} to {hi})").format(k=k, lo=lo, hi=hi)

        lines = [
            _("{name}: {communities} communities, {households} households, {months} months").format(
                name=t["name"],
                communities=f"{t['communities']:,}",
                households=f"{t['households']:,}",
                months=t["months"],
            ),
            _("  collection (households-weighted, last December): {a} -> {b}").format(
                a=f"{t['collection_start']:.1%}", b=f"{t['collection_end']:.1%}"
            )
            + spread("collection_end", ".1%"),
            _("  communities in the low trap at the end: {n} ({share})").format(
                n=f"{t['low_trap']:,.0f}", share=f"{t['low_trap'] / max(t['communities'], 1):.1%}"
            )
            + spread("low_trap", ",.0f"),
            _("  firms that exited: {n}").format(n=f"{t['exits']:,.0f}") + spread("exits", ",.0f"),
            _("  failed members: {n}").format(n=t["failed"]),
            _("  by district (collection end, low trap, exits, medians over the parameter sets):")
            if k
            else _("  by district (collection end, low trap, exits):"),
        ]
        for _i, d in self.districts.iterrows():
            lines.append(
                f"    {d['district']:<12} {d['collection_end']:.1%}  "
                f"{d['low_trap']:>6,.0f}  {d['exits']:>6,.0f}"
            )
        return "\n".join(lines)

    def summary_frame(self) -> pd.DataFrame:
        """The totals and the districts, one row per level, district and outcome.

        ``level`` is ``portfolio`` (``district`` then holds the portfolio's name) or
        ``district``. Outcomes: ``communities``, ``households``, ``collection_start``,
        ``collection_end``, ``low_trap`` and ``exits``. Each community is simulated once, so
        these are counts and households-weighted rates of the simulated portfolio, not
        estimates over runs: column ``value``; with parameter sets it is the median over the
        sets, with their 5% and 95% quantiles in ``lo`` and ``hi`` (NaN otherwise, and for
        what does not vary over the sets).
        """
        rows = []
        levels = [
            ("portfolio", pd.DataFrame([{**self.total, "district": self.total["name"]}])),
            ("district", self.districts),
        ]
        for level, frame in levels:
            for _i, r in frame.iterrows():
                for outcome in ("communities", "households", *_AGGREGATES):
                    rows.append(
                        {
                            "level": level,
                            "district": r["district"],
                            "outcome": outcome,
                            "value": float(r[outcome]),
                            "lo": float(r.get(f"{outcome}_lo", np.nan)),
                            "hi": float(r.get(f"{outcome}_hi", np.nan)),
                        }
                    )
        return pd.DataFrame(rows, columns=["level", "district", "outcome", "value", "lo", "hi"])

    def _ensembles(self) -> list[Any]:
        if self.ensemble is None:
            return []
        return list(self.ensemble) if isinstance(self.ensemble, tuple) else [self.ensemble]

    def save(self, directory: str | os.PathLike[str], fmt: str = "parquet") -> Path:
        """Write the result atomically, file by file.

        Parameters
        ----------
        directory : path-like
        fmt : {"parquet", "csv"}
            ``"parquet"``: the results protocol (:mod:`feesim.protocol`): ``communities``,
            ``districts`` (and ``sets``) as Parquet, the runner's tables in ``ensemble-<k>/``
            (:meth:`EnsembleResult.save <feesim.studies.ensemble.EnsembleResult.save>`, one
            per parameter set) and the sidecar with the totals. ``"csv"``: what
            ``feesim run`` writes for a portfolio: ``communities.csv``, ``districts.csv`` (and
            ``sets.csv`` with parameter sets), no sidecar.

        Returns
        -------
        pathlib.Path
            The folder.
        """
        if fmt not in ("csv", "parquet"):
            raise ConfigError(f"fmt: got {fmt!r}; expected 'parquet' or 'csv'")
        out = Path(directory)
        tables = {"communities": self.communities, "districts": self.districts}
        if self.sets is not None:
            tables["sets"] = self.sets
        if fmt == "csv":
            for name, frame in tables.items():
                atomic_write_text(out / f"{name}.csv", frame.to_csv(index=False))
            return out
        ensembles = self._ensembles()
        for k, ens in enumerate(ensembles):
            ens.save(out / f"ensemble-{k}")
        attrs = {
            "total": self.total,
            "ensembles": len(ensembles),
            "ensemble_tuple": isinstance(self.ensemble, tuple),
        }
        return save_result(out, self, tables, provenance=self.meta, attrs=attrs)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> PortfolioResult:
        """Read a result written by :meth:`save` (Parquet)."""
        from feesim.studies.ensemble import EnsembleResult

        d = Path(directory)
        stored = load_result(d, cls)
        a = stored.attrs
        runs = [EnsembleResult.load(d / f"ensemble-{k}") for k in range(a["ensembles"])]
        ensemble = tuple(runs) if a["ensemble_tuple"] else (runs[0] if runs else None)
        # JSON has no NaN: a rate without data (no collection column) was saved as null.
        total = {k: np.nan if v is None else v for k, v in a["total"].items()}
        return cls(
            communities=stored.tables["communities"],
            districts=stored.tables["districts"],
            total=total,
            ensemble=ensemble,
            sets=stored.tables.get("sets"),
            meta=stored.provenance,
        )


#: The low trap (the "three lows"): at the horizon collection and service are both low, or the
#: community is left with a temporary provider. 0.75 sits below the ~80% level at which firms
#: cannot sustain normal service (AGG-20); 0.35 is well below the basic standard (0.55).
#: Judgement. Exits are counted separately (a replaced firm may have restored service).
LOW_TRAP_COLLECTION = 0.75
LOW_TRAP_QUALITY = 0.35


def _check_sets(k: Any) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 0:
        raise ConfigError(
            f"portfolio.parameter_sets: got {k!r}; expected a whole number >= 0 (0: the point "
            "estimate only)"
        )
    return k


def parameter_sets(portfolio: Portfolio, key: str = "portfolio.parameter_sets") -> list[Behaviour]:
    """The behaviours a portfolio runs under: the first ``parameter_sets`` fitted members.

    The members of the fitted ensemble are independent draws (bootstrap over cases), so the
    first ``k`` are a sample of them. Coefficients the base scenario sets itself are kept on top
    of every member. Empty when ``parameter_sets`` is 0.

    Parameters
    ----------
    portfolio : Portfolio
    key : str
        Where the user set the number, for messages (``--parameter-sets`` on the command line).

    Raises
    ------
    ConfigError
        When more sets are asked for than the fitted ensemble holds, or there is none.
    """
    k = _check_sets(portfolio.parameter_sets)  # also when set after construction
    from feesim.studies.forecast.ensemble import fitted_sets, local_overrides

    return fitted_sets(k, local_overrides(portfolio.base.behaviour), key)


def _aggregate(comm: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Households-weighted collection and counts of low-trap communities and exits per group."""
    w = comm["households"]
    frame = comm.assign(
        _start=comm["collection_start"] * w, _end=comm["collection_rate_last_december"] * w
    )
    g = frame.groupby(keys, sort=True).agg(
        communities=("community", "size"),
        households=("households", "sum"),
        _start=("_start", "sum"),
        _end=("_end", "sum"),
        low_trap=("low_trap", "sum"),
        exits=("exited", "sum"),
    )
    hh = g["households"].clip(lower=1)
    g.insert(2, "collection_start", g.pop("_start") / hh)
    g.insert(3, "collection_end", g.pop("_end") / hh)
    return g.astype({"low_trap": int, "exits": int, "households": int}).reset_index()


#: Outcomes summarised over parameter sets by their median and 5-95% range.
_SPREAD = ("collection_end", "low_trap", "exits")
#: Aggregates of a district or the portfolio (beside the counts of communities and households).
_AGGREGATES = ("collection_start", *_SPREAD)


def _over_sets(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Median and 5-95% range over parameter sets (column ``params``) of :data:`_SPREAD`."""
    g = frame.groupby(keys, sort=True) if keys else frame.groupby(lambda _: 0)
    out = g[["communities", "households", "collection_start"]].first()
    for col in _SPREAD:
        out[col] = g[col].median()
        out[f"{col}_lo"] = g[col].quantile(0.05)
        out[f"{col}_hi"] = g[col].quantile(0.95)
    return out.reset_index(drop=not keys)


def run_portfolio(
    portfolio: Portfolio,
    *,
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | os.PathLike[str] | None = None,
    progress: bool = True,
    keep_series: bool = False,
    sets_key: str = "portfolio.parameter_sets",
) -> PortfolioResult:
    """Run every community of a portfolio and report per community and per district.

    With ``portfolio.parameter_sets = k > 0`` the whole portfolio runs ``k`` times, once per
    member of the fitted behaviour ensemble (:func:`parameter_sets`), each time with the same
    seed and chunks, so the sets differ by their coefficients only (common random numbers); the
    totals are then medians over the sets with their 5-95% range.

    Parameters
    ----------
    executor, workers, scheduler, progress : see :meth:`feesim.studies.ensemble.Ensemble.run`
        One :class:`~feesim.studies.runner.Runner` serves every parameter set.
    out : path, optional
        Folder for the Parquet tables written by the workers, and the reports as CSV
        (:meth:`PortfolioResult.save` with ``fmt="csv"``; the tables of parameter set ``p`` in
        ``params-<p>/``).
    keep_series : bool
        Keep monthly series of every community (large for a city); otherwise only votes and
        events are kept besides the per-community summary.
    sets_key : str
        Where the user set ``parameter_sets``, for messages (``--parameter-sets`` when the
        command line overrides the file).
    """
    from feesim.studies.ensemble import Ensemble
    from feesim.studies.runner import Runner

    scenarios = portfolio.scenarios()
    behaviours: list[Behaviour | None] = list(parameter_sets(portfolio, sets_key)) or [None]
    # Chunks of one billing cycle run the engine's uniform-cycle paths (faster); the order of
    # communities is otherwise kept (stable sort), and results are labelled by community.
    order = sorted(range(len(scenarios)), key=lambda i: scenarios[i].community.billing)
    names = portfolio.table["community"].tolist()
    tables: Sequence[str] = ("series", "votes", "events") if keep_series else ("votes", "events")
    runs, frames = [], []
    with contextlib.ExitStack() as stack:
        # Everything goes to a fresh folder beside ``out``, moved into place at the end.
        folder = None if out is None else stack.enter_context(staged_output(out, OUTPUTS, "out"))
        # One runner for every parameter set: the pool (or the Dask client) starts once.
        runner = stack.enter_context(
            Runner.using(executor, workers=workers, scheduler=scheduler, progress=progress)
        )
        for p, behaviour in enumerate(behaviours):
            if behaviour is None:
                scs, where, final = scenarios, folder, out
            else:
                log.info("parameter set %d of %d", p + 1, len(behaviours))
                scs = [dataclasses.replace(sc, behaviour=behaviour) for sc in scenarios]
                where = None if folder is None else folder / f"params-{p}"
                final = None if out is None else Path(out) / f"params-{p}"
            ens = Ensemble(
                {names[i]: scs[i] for i in order},
                rng=portfolio.seed,
                chunk_households=portfolio.chunk_households,
            )
            res = ens._run(runner, where, tables)
            res.out = None if final is None else Path(os.path.abspath(final))
            comm = res.members.merge(res.summary, on="member", how="left")
            comm["params"] = -1 if behaviour is None else p
            runs.append(res)
            frames.append(comm)
        result = _portfolio_result(portfolio, behaviours, runs, frames)
        if folder is not None:
            result.save(folder, fmt="csv")
    return result


def _portfolio_result(
    portfolio: Portfolio,
    behaviours: list[Behaviour | None],
    runs: list[Any],
    frames: list[pd.DataFrame],
) -> PortfolioResult:
    """Per-community outcomes and the district and portfolio totals of finished runs."""
    comm = pd.concat(frames, ignore_index=True)
    info = portfolio.table.set_index("community")
    comm = comm.merge(info[["district", "households"]], left_on="key", right_index=True)
    comm["collection_start"] = (
        info.loc[comm["key"], "collection"].to_numpy() if ("collection" in info) else np.nan
    )
    comm["exited"] = comm["first_exit_month"].notna()
    comm["low_trap"] = (comm["firm_active"] == 0) | (
        (comm["collection_rate_last_december"] < LOW_TRAP_COLLECTION)
        & (comm["service_quality"] < LOW_TRAP_QUALITY)
    )
    comm = comm.rename(columns={"key": "community"})
    ok = comm["status"] == "ok"
    good = comm[ok]
    per_set = _aggregate(good, ["params"]).set_index("params")
    per_set["communities"] = comm.groupby("params").size()
    per_set["households"] = comm.groupby("params")["households"].sum()
    per_set["failed"] = (~ok).groupby(comm["params"]).sum()
    per_set = per_set.fillna({"failed": 0}).reset_index()
    base = {"name": portfolio.name, "months": portfolio.base.simulation.months}
    if behaviours[0] is None:
        districts = _aggregate(good, ["district"])
        row = per_set.iloc[0]
        total = {
            **base,
            "communities": int(row["communities"]),
            "households": int(row["households"]),
            "collection_start": float(row["collection_start"]),
            "collection_end": float(row["collection_end"]),
            "low_trap": int(row["low_trap"]),
            "exits": int(row["exits"]),
            "failed": int(row["failed"]),
        }
        sets = None
    else:
        districts = _over_sets(_aggregate(good, ["params", "district"]), ["district"])
        spread = _over_sets(per_set, []).iloc[0]
        total = {
            **base,
            "communities": int(per_set["communities"].iloc[0]),
            "households": int(per_set["households"].iloc[0]),
            "failed": int(per_set["failed"].sum()),
            "parameter_sets": len(behaviours),
            **{k: float(v) for k, v in spread.items() if k not in ("communities", "households")},
        }
        sets = per_set
    result = PortfolioResult(
        communities=comm,
        districts=districts,
        total=total,
        ensemble=runs[0] if len(runs) == 1 else tuple(runs),
        sets=sets,
        meta={
            "name": portfolio.name,
            "seed": portfolio.seed,
            "base": portfolio.base.meta.name,
            "months": portfolio.base.simulation.months,
            "start": portfolio.base.simulation.start,
            "chunk_households": portfolio.chunk_households,
            "parameter_sets": portfolio.parameter_sets,
        },
    )
    return result
