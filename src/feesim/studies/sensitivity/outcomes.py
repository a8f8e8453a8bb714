"""Outcomes: what a design point is reduced to, one number per simulated member.

Holds :class:`MemberTables` (the tables an outcome reads), the base class :class:`Outcome`, the
built-in outcomes (:class:`PassProbability`, :class:`Approval`, :class:`Collection`,
:class:`FirmExit`, :class:`ServiceQuality`) with their helpers, and :data:`DEFAULT_OUTCOMES`.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from feesim.config.scenario import Scenario
from feesim.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemberTables:
    """What an outcome is computed from: the tables of the members of one simulated chunk.

    Attributes
    ----------
    members : pandas.DataFrame
        ``member``, ``key``, ``replicate``, ``households``, ``months``, ``start``.
    summary : pandas.DataFrame
        One row per member (see :func:`feesim.studies.ensemble.run_chunk`).
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

    def to_mapping(self) -> dict[str, Any]:
        """The outcome as plain data: its class (``module.Class``) and its fields."""
        return {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "fields": {f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
        }

    @staticmethod
    def from_mapping(data: dict[str, Any]) -> Outcome:
        """The outcome :meth:`to_mapping` described.

        An outcome class that cannot be imported any more (e.g. one defined in a notebook) comes
        back as a plain :class:`Outcome` with the same name, label, unit and weight: enough to
        read a saved evaluation, not to compute the outcome again.
        """
        module, _, name = str(data["class"]).rpartition(".")
        fields = dict(data["fields"])
        try:
            kind = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            kind = None
        if not (isinstance(kind, type) and issubclass(kind, Outcome)):
            log.warning(
                "outcome class %s is not importable; read as a plain Outcome", data["class"]
            )
            keep = ("name", "label", "unit", "weight")
            return Outcome(**{k: fields[k] for k in keep if k in fields})
        return kind(**fields)


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
