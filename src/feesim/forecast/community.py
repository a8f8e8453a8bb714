"""Community descriptions for the pre-vote forecast: what a housing bureau knows, in TOML.

A *community file* describes one residential community as a bureau sees it (households and
floor area by building type, current fees and collection, the firm's disclosed staff, costs and
margin, the committee, public income) and the fee step proposed to its owners. Every key is
documented below with its unit and default; missing keys take their default and
:attr:`ForecastInput.defaults` lists every defaulted item, so the report can show them.

Tables: ``[community]``, ``[[buildings]]`` (one per building type), ``[firm]``,
``[committee]``, ``[proposal]`` (with optional ``[[proposal.packages]]``), ``[forecast]`` and an
optional ``[behaviour]`` table overriding single behavioural coefficients (advanced).

:func:`load_forecast_input` reads either a community file or a full scenario file (such as
``examples/xianghe_2025.toml``): in a scenario file the first ``[[proposals]]`` entry with
``matter = "fee"`` is the proposal, and the status quo is the same scenario without it.

How the firm's disclosure maps onto the model's firm (:class:`feesim.scenario.Firm`):

- ``staff`` (people on site) and the service quality they deliver now (``service_quality``,
  default: the quality of the contracted ``service_tier``) give the staff the full liveable
  standard needs: ``staff_per_10k_m2 = staff / (quality / management_quality) / area * 1e4``;
  the firm then starts at exactly the disclosed staff (``initial_quality = quality``);
- ``average_wage_yuan_month`` gives ``wage_premium`` = wage / Shanghai minimum wage at the start;
- ``annual_cost_yuan`` (the audited yearly cost) gives the materials share: materials = cost -
  wage bill (staff x wage x (1 + social insurance)) - equipment; without ``staff`` it gives the
  staff instead, at the default materials share (30%, AGG-14);
- ``margin`` is the firm's target net margin (``target_margin``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from feesim.behaviour import Behaviour, default_behaviour
from feesim.errors import ConfigError
from feesim.io import read_toml
from feesim.params import default_of, from_mapping, param, to_mapping
from feesim.scenario import (
    TIER_QUALITY,
    BuildingType,
    Committee,
    Community,
    Firm,
    Government,
    Meta,
    Package,
    Proposal,
    Scenario,
    Simulation,
    scenario_from_mapping,
)

__all__ = [
    "BuildingInfo",
    "CommitteeInfo",
    "CommunityFile",
    "CommunityInfo",
    "FirmInfo",
    "ForecastInput",
    "ForecastSettings",
    "PackageInfo",
    "ProposalInfo",
    "community_to_input",
    "load_forecast_input",
    "parse_new_fee",
]

_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

#: Fee at which residents expect the full liveable standard, by whether buildings have lifts
#: (AGG-07: 2018-19 city averages for commodity housing, multi-storey 1.49, high-rise 2.18).
FULL_FEE_NO_LIFTS = 1.5
FULL_FEE_LIFTS = 2.2
#: Running cost of lifts and pumps (yuan/m2/month); judgement used for seed 002's high-rise.
EQUIPMENT_LIFTS = 0.40
#: Default floor area of a unit when only households are given (model.md: old estates ~50 m2).
DEFAULT_UNIT_AREA = 55.0
#: Spread of unit areas relative to their mean (judgement; seed 002 example uses about 0.19).
AREA_SD_SHARE = 0.2
#: Default months from the start of the forecast to the vote (disclosure and notice take time).
DEFAULT_VOTE_MONTH = 2


def _err(field: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"{field}: got {value!r}; expected {expected}")


# ==============================================================================================
# the community file
# ==============================================================================================
@dataclass(frozen=True)
class CommunityInfo:
    """``[community]``: the residents, their fees and payment, public income."""

    name: str = param("unnamed community", doc="name shown in the report")
    district: str = param("", doc="district and subdistrict (descriptive)")
    housing_kind: Literal["old_public", "old_commodity", "commodity", "resettlement"] = param(
        default_of(Community, "housing_kind"),
        doc="售后公房 old_public, old_commodity, newer commodity, resettlement housing",
    )
    billing: Literal["monthly", "quarterly", "yearly"] = param(
        default_of(Community, "billing"), doc="how often bills are issued"
    )
    collection_rate: float = param(
        default_of(Community, "initial_collection_rate"),
        unit="share",
        lo=0.01,
        hi=0.995,
        doc="share of last year's fee bills paid by the year's end",
        source="domain-rules 2.2 and B7: old Shanghai communities 50-80%",
    )
    years_since_adjustment: float = param(
        default_of(Community, "years_since_adjustment"),
        unit="years",
        lo=0,
        hi=60,
        doc="years since the fee last changed",
    )
    public_income_yuan_month: float = param(
        default_of(Firm, "public_income_yuan_month"),
        unit="yuan/month",
        lo=0,
        hi=1e8,
        doc="parking, advertising and other public income",
    )
    public_income_to_firm: float = param(
        default_of(Firm, "public_income_firm_share"),
        unit="share",
        lo=0,
        hi=1,
        doc="share of public income contracted to the firm",
    )
    subsidy_yuan_per_m2: float = param(
        default_of(Government, "subsidy_per_m2"),
        unit="yuan/m2/month",
        lo=0,
        hi=10,
        doc="district subsidy to the firm (paid when the assessment score is at least 60)",
        source="浦建委物管〔2023〕2号: 0.25 (domain-rules 5)",
    )
    maintenance_fund_yuan_per_m2: float = param(
        default_of(Community, "maintenance_fund_per_m2"),
        unit="yuan/m2",
        lo=-1e4,
        hi=1e4,
        doc="balance of the maintenance fund",
    )
    trust: float = param(
        default_of(Community, "initial_trust"),
        unit="0-1",
        lo=0,
        hi=1,
        doc="residents' trust in firm and committee: 0.3 low (disputes), 0.5 ordinary, 0.7 high",
    )
    retiree_share: float = param(
        default_of(Community, "retiree_share"),
        unit="share of households",
        lo=0,
        hi=1,
        doc="households living on pensions",
    )
    absentee_share: float = param(
        default_of(Community, "absentee_share"),
        unit="share of units",
        lo=0,
        hi=1,
        doc="units whose owner lives elsewhere",
    )
    income_yuan_month: float = param(
        default_of(Community, "income_yuan_month"),
        unit="yuan/month",
        lo=100,
        hi=1e6,
        doc="mean income of working households",
    )
    pension_yuan_month: float = param(
        default_of(Community, "pension_yuan_month"),
        unit="yuan/month",
        lo=100,
        hi=1e6,
        doc="mean income of retired households",
    )
    volunteer_share: float = param(
        default_of(Community, "leader_share"),
        unit="share of households",
        lo=0,
        hi=0.5,
        doc="floor leaders, party members and volunteers",
    )


@dataclass(frozen=True)
class BuildingInfo:
    """``[[buildings]]``: one building type (the fee per m2 differs by type)."""

    type: str = param(doc="building type, e.g. 'multi-storey' or 'high-rise'")
    households: int = param(unit="households", lo=1, hi=20000, doc="units of this type")
    fee: float = param(unit="yuan/m2/month", lo=0, hi=50, doc="current fee")
    area_m2: float | None = param(
        None,
        unit="m2",
        lo=1,
        hi=1e8,
        doc=f"total floor area of the units (default: households x {DEFAULT_UNIT_AREA:g})",
    )
    lifts: bool | None = param(
        None, doc="buildings have lifts (default: true when the type name contains 'high')"
    )
    full_service_fee: float | None = param(
        None,
        unit="yuan/m2/month",
        lo=0.05,
        hi=50,
        doc=f"fee residents expect for full service (default {FULL_FEE_LIFTS} with lifts, "
        f"{FULL_FEE_NO_LIFTS} without)",
        source="AGG-07: commodity multi-storey 1.49, high-rise 2.18 (2018-19)",
    )
    equipment_cost_per_m2: float | None = param(
        None,
        unit="yuan/m2/month",
        lo=0,
        hi=20,
        doc=f"running cost of lifts and pumps (default {EQUIPMENT_LIFTS} with lifts, else 0)",
    )


@dataclass(frozen=True)
class FirmInfo:
    """``[firm]``: the property firm's contract and disclosed staff, costs and margin."""

    name: str = param("", doc="firm name (descriptive)")
    contract: Literal["fixed_fee", "cost_plus"] = param(
        default_of(Firm, "contract"), doc="fixed-fee 包干制 or cost-plus 酬金制"
    )
    service_tier: Literal["basic", "tidy", "liveable"] = param(
        default_of(Firm, "tier"), doc="contracted service standard (Huangpu three types)"
    )
    service_quality: float | None = param(
        None,
        unit="0-1",
        lo=0.05,
        hi=1.2,
        doc="service delivered now (1 = liveable standard fully staffed; default: what the "
        "firm affords, or the tier's quality when staff are disclosed)",
    )
    staff: float | None = param(None, unit="people", lo=0.1, hi=1e5, doc="staff on site now")
    average_wage_yuan_month: float | None = param(
        None, unit="yuan/month", lo=100, hi=1e5, doc="average staff wage (before insurance)"
    )
    annual_cost_yuan: float | None = param(
        None,
        unit="yuan/year",
        lo=1,
        hi=1e10,
        doc="audited yearly cost of the service (staff, materials, equipment)",
    )
    margin: float = param(
        default_of(Firm, "target_margin"),
        unit="share of revenue",
        lo=-0.5,
        hi=0.5,
        doc="net margin the firm aims to keep",
        source="AGG-17: Top-100 net margin 5.41% (2023)",
    )
    cash_months: float = param(
        default_of(Firm, "initial_cash_months"),
        unit="months of cost",
        lo=-24,
        hi=120,
        doc="cash reserve of the project",
    )
    management_quality: float = param(
        default_of(Firm, "management_quality"),
        unit="0-1",
        lo=0.3,
        hi=1,
        doc="how well staff are managed",
    )


@dataclass(frozen=True)
class CommitteeInfo:
    """``[committee]``: who organises the owners, and resident evaluation."""

    status: Literal["owners", "executive", "none"] = param(
        default_of(Committee, "kind"),
        doc="an owners' committee, a public-housing executive committee (执委会), or none",
    )
    capacity: float = param(
        default_of(Committee, "capacity"),
        unit="0-1",
        lo=0,
        hi=1,
        doc="organising capacity and credibility of the committee",
    )
    evaluation_months: int = param(
        default_of(Committee, "evaluation_months"),
        unit="months",
        lo=0,
        hi=60,
        doc="resident evaluation every N months from the vote (0 = none)",
    )
    rollback: bool = param(
        default_of(Committee, "rollback"), doc="a bad evaluation rolls the step back (可进可退)"
    )


@dataclass(frozen=True)
class PackageInfo:
    """``[[proposal.packages]]``: a value-added package voted separately."""

    name: str = param(doc="package name")
    fee: float = param(unit="yuan/m2/month", lo=0, hi=20, doc="extra fee of the package")
    service_improvement: float = param(
        unit="quality points", lo=0, hi=1, doc="service the package adds"
    )


@dataclass(frozen=True)
class ProposalInfo:
    """``[proposal]``: the fee step put to the owners and everything that comes with it."""

    new_fee: dict[str, float] | float | None = param(
        None,
        unit="yuan/m2/month",
        lo=0,
        hi=50,
        doc="new fee: one number for every type, or a table by building type",
    )
    step_percent: float | None = param(
        None, unit="%", lo=-90, hi=1000, doc="or: the same relative step for every type (29 = +29%)"
    )
    vote: int | str = param(
        DEFAULT_VOTE_MONTH,
        doc="month of the vote: 'YYYY-MM', or months after forecast.start",
    )
    service_improvement: float = param(
        default_of(Proposal, "service_quality"),
        unit="quality points",
        lo=0,
        hi=1,
        doc="service the package promises (0.05 a cleaning round more; 0.15 more cleaning and "
        "a better security team)",
    )
    package: str = param("", doc="the service package in words (shown in the report)")
    quality_first_months: int = param(
        default_of(Proposal, "quality_first_months"),
        unit="months",
        lo=0,
        hi=60,
        doc="months before the vote the better service starts",
    )
    trial_months: int = param(
        default_of(Proposal, "trial_months"),
        unit="months",
        lo=0,
        hi=24,
        doc="months of the new service before the new fee is charged",
    )
    renovation: bool = param(
        default_of(Proposal, "renovation_bundled"),
        doc="the step is bundled with a renovation owners value",
    )
    audit: Literal["audit", "assessment", "accounts", "none"] = param(
        default_of(Proposal, "disclosure"),
        doc="12-month audit, third-party price assessment, posted accounts, or nothing "
        "(an increase under a fixed-fee contract needs 'audit' or 'assessment')",
    )
    negotiation_meetings: bool = param(
        default_of(Proposal, "negotiation_meetings"), doc="fee negotiation meetings (议价联席)"
    )
    door_to_door_rounds: int = param(
        default_of(Proposal, "door_to_door_rounds"),
        unit="rounds",
        lo=0,
        hi=10,
        doc="door-to-door rounds",
    )
    door_to_door_reach: float = param(
        default_of(Committee, "door_to_door_intensity"),
        unit="share of households per round",
        lo=0,
        hi=1,
        doc="households a round reaches",
    )
    retries: int = param(
        default_of(Proposal, "retries"),
        unit="votes",
        lo=0,
        hi=12,
        doc="further votes if the quorum is missed",
    )
    effective: Literal["next_cycle", "next_month", "next_year"] = param(
        default_of(Proposal, "effective"), doc="when a passed fee takes effect"
    )
    collection_campaign_steps: int = param(
        default_of(Proposal, "campaign_steps"),
        unit="steps",
        lo=0,
        hi=5,
        doc="five-step collection campaign with the new bill",
    )
    release_public_income: bool = param(
        default_of(Proposal, "release_public_income"),
        doc="after the step, public income goes back to the owners",
    )
    packages: tuple[PackageInfo, ...] = param((), doc="value-added packages voted separately")


@dataclass(frozen=True)
class ForecastSettings:
    """``[forecast]``: calendar, horizon and seed."""

    start: str = param("2025-01", doc="month the description holds for ('YYYY-MM'): month 0")
    months_after_vote: int = param(
        36, unit="months", lo=1, hi=240, doc="how long to follow the community after the vote"
    )
    seed: int = param(0, lo=0, doc="root seed of the random streams")
    wage_growth: float = param(
        default_of(Government, "wage_growth"),
        unit="1/year",
        lo=-0.5,
        hi=1,
        doc="minimum-wage growth after 2025",
    )

    def _validate(self, path: str) -> None:
        if not _MONTH_RE.match(self.start):
            raise _err(f"{path}.start", self.start, "a month as 'YYYY-MM', e.g. '2025-01'")


def _no_buildings() -> tuple[BuildingInfo, ...]:
    return ()


@dataclass(frozen=True)
class CommunityFile:
    """A whole community file."""

    community: CommunityInfo = param(factory=CommunityInfo)
    buildings: tuple[BuildingInfo, ...] = param(factory=_no_buildings)
    firm: FirmInfo = param(factory=FirmInfo)
    committee: CommitteeInfo = param(factory=CommitteeInfo)
    proposal: ProposalInfo = param(factory=ProposalInfo)
    forecast: ForecastSettings = param(factory=ForecastSettings)
    behaviour: dict[str, float] = param(factory=dict, doc="behaviour coefficient overrides")

    def _validate(self, path: str) -> None:
        if not self.buildings:
            raise ConfigError(
                "buildings: at least one [[buildings]] table is required (type, households, fee)"
            )
        names = [b.type for b in self.buildings]
        if len(set(names)) != len(names):
            raise _err("buildings[].type", names, "distinct building type names")
        p = self.proposal
        if (p.new_fee is None) == (p.step_percent is None):
            raise _err(
                "proposal.new_fee",
                p.new_fee,
                "exactly one of proposal.new_fee or proposal.step_percent",
            )
        if isinstance(p.new_fee, dict) and set(p.new_fee) != set(names):
            raise _err(
                "proposal.new_fee",
                sorted(p.new_fee),
                f"one fee for each building type: {sorted(names)}",
            )


# ==============================================================================================
# the forecast input (status quo and proposal, ready to run)
# ==============================================================================================
@dataclass(frozen=True)
class ForecastInput:
    """A community ready to forecast: the status quo and the proposal put to the owners.

    Attributes
    ----------
    name : str
        Community name.
    status_quo : Scenario
        The community without the proposal (other scheduled matters stay), with the forecast
        horizon.
    proposal : Proposal
        The fee proposal put to the vote.
    motion_key : int
        Position of the proposal among the scenario's proposals (its motion is
        ``scenario:<motion_key>`` in the vote table).
    source : str
        The file it came from.
    file_format : {"community", "scenario"}
    defaults : tuple of str
        Every item the file left out, with the default used.
    months_after_vote : int
        Horizon after the vote month.
    local_behaviour : dict
        Behaviour coefficients the file set explicitly (kept for every ensemble member).
    """

    name: str
    status_quo: Scenario
    proposal: Proposal
    motion_key: int = 0
    source: str = ""
    file_format: str = "scenario"
    defaults: tuple[str, ...] = ()
    months_after_vote: int = 36
    local_behaviour: dict[str, float] = dataclasses.field(default_factory=dict)

    # -- derived -------------------------------------------------------------------------------
    @property
    def building_names(self) -> tuple[str, ...]:
        """Building types in file order."""
        return self.status_quo.community.building_names

    @property
    def current_fees(self) -> np.ndarray:
        """Fee of each building type at month 0 (yuan/m2/month)."""
        return np.array([b.fee_per_m2 for b in self.status_quo.community.building_types])

    @property
    def area_weights(self) -> np.ndarray:
        """Share of floor area of each building type (expected, from shares and mean areas)."""
        bts = self.status_quo.community.building_types
        a = np.array([b.share * b.mean_area_m2 for b in bts])
        return a / a.sum()

    @property
    def vote_month(self) -> int:
        """Month (from 0) of the first vote on the proposal."""
        return int(self.proposal.month)

    @property
    def seed(self) -> int:
        """Seed of the file."""
        return int(self.status_quo.simulation.seed)

    def new_fees(self, proposal: Proposal | None = None) -> np.ndarray:
        """Fee of each building type the proposal asks for (from the month-0 fees)."""
        p = self.proposal if proposal is None else proposal
        cur = self.current_fees
        if p.new_fee_per_m2 is not None:
            return np.array([p.new_fee_per_m2[n] for n in self.building_names])
        if p.step_pct is not None:
            return cur * (1.0 + p.step_pct)
        return np.maximum(cur + (p.step_yuan or 0.0), 0.0)

    def headline_step(self, proposal: Proposal | None = None) -> float:
        """Area-weighted relative step of the proposal (0.29 = +29%)."""
        w = self.area_weights
        cur = self.current_fees
        return float((w * self.new_fees(proposal)).sum() / (w * cur).sum() - 1.0)

    def is_null(self, proposal: Proposal | None = None) -> bool:
        """Whether the proposal changes nothing (a zero step with nothing attached).

        Such a proposal is not put to a vote: the forecast's proposal branch is then the status
        quo itself (see :mod:`feesim.forecast.engine`).
        """
        p = self.proposal if proposal is None else proposal
        same_fee = bool(np.allclose(self.new_fees(p), self.current_fees, rtol=0, atol=1e-12))
        return (
            same_fee
            and p.service_quality == 0
            and not p.packages
            and p.quality_first_months == 0
            and p.trial_months == 0
            and not p.renovation_bundled
            and p.campaign_steps == 0
            and not p.release_public_income
        )

    def scenario(self, proposal: Proposal | None = None) -> Scenario:
        """The scenario with the proposal (or ``proposal``) inserted at its place."""
        p = self.proposal if proposal is None else proposal
        props = list(self.status_quo.proposals)
        props.insert(self.motion_key, p)
        data = self.status_quo.to_mapping()
        data["proposals"] = to_mapping(tuple(props))
        data["behaviour"] = to_mapping(self.status_quo.behaviour)
        try:
            return from_mapping(Scenario, data)
        except ConfigError as exc:
            raise ConfigError(f"proposal: {exc}") from None

    def with_proposal(self, **changes: Any) -> ForecastInput:
        """Copy with proposal fields changed (validated)."""
        data = to_mapping(self.proposal)
        for k in ("new_fee_per_m2", "step_pct", "step_yuan"):
            if k in changes:
                for other in ("new_fee_per_m2", "step_pct", "step_yuan"):
                    data.pop(other, None)
        data.update(changes)
        data = {k: v for k, v in data.items() if v is not None}
        p = from_mapping(Proposal, data, path="proposal")
        out = dataclasses.replace(self, proposal=p)
        out.scenario()  # validates the proposal in its scenario (disclosure rule, months)
        return out

    def with_new_fee(self, fees: dict[str, float] | float) -> ForecastInput:
        """Copy with a new fee (one number for every type, or one per type)."""
        names = self.building_names
        if not isinstance(fees, dict):
            fees = dict.fromkeys(names, float(fees))
        unknown = sorted(set(fees) - set(names))
        missing = sorted(set(names) - set(fees))
        if unknown or missing:
            raise _err(
                "--new-fee",
                ",".join(f"{k}={v}" for k, v in fees.items()),
                f"a fee for each building type: {', '.join(names)}",
            )
        return self.with_proposal(new_fee_per_m2={n: float(fees[n]) for n in names})

    def with_step(self, step: float) -> ForecastInput:
        """Copy with a relative step ``step`` (0.29 = +29%) for every building type."""
        return self.with_proposal(step_pct=float(step))

    def scaled(self, step: float) -> ForecastInput:
        """Copy whose headline (area-weighted) step is ``step``, keeping the proposal's shape.

        A proposal with per-type fees keeps the ratio between its per-type increments (each
        increment is scaled by the same factor); otherwise every type gets the same relative
        step.
        """
        base = self.headline_step()
        cur = self.current_fees
        inc = self.new_fees() - cur
        if abs(base) < 1e-12 or self.proposal.new_fee_per_m2 is None:
            return self.with_step(step)
        fees = cur + inc * (step / base)
        if np.any(fees < 0):
            raise _err("step", step, "a step that leaves every fee >= 0")
        return self.with_proposal(
            new_fee_per_m2={n: float(f) for n, f in zip(self.building_names, fees, strict=True)}
        )


def parse_new_fee(text: str, names: tuple[str, ...]) -> dict[str, float] | float:
    """Parse the ``--new-fee`` option: ``0.97`` or ``multi-storey=0.97,high-rise=1.44``.

    Raises
    ------
    ConfigError
        Naming the option, the value and the allowed forms and building types.
    """
    allowed = (
        "one number (yuan/m2/month, every type) or TYPE=FEE pairs separated by commas for "
        f"every building type ({', '.join(names)}), e.g. " + ",".join(f"{n}=1.0" for n in names)
    )
    text = text.strip()
    if "=" not in text:
        try:
            value = float(text)
        except ValueError:
            raise _err("--new-fee", text, allowed) from None
        if not (0 <= value <= 50) or value != value:
            raise _err("--new-fee", text, "a fee in [0, 50] yuan/m2/month")
        return value
    out: dict[str, float] = {}
    for part in text.split(","):
        key, sep, val = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise _err("--new-fee", text, allowed)
        if key not in names:
            raise _err("--new-fee", key, f"a building type of this community: {', '.join(names)}")
        if key in out:
            raise _err("--new-fee", key, "each building type once")
        try:
            fee = float(val)
        except ValueError:
            raise _err(f"--new-fee {key}", val.strip(), "a number (yuan/m2/month)") from None
        if not (0 <= fee <= 50) or fee != fee:
            raise _err(f"--new-fee {key}", fee, "a fee in [0, 50] yuan/m2/month")
        out[key] = fee
    missing = [n for n in names if n not in out]
    if missing:
        raise _err(
            "--new-fee", text, f"a fee for every building type; missing: {', '.join(missing)}"
        )
    return out


# ==============================================================================================
# loading
# ==============================================================================================
_COMMUNITY_MARKERS = {"buildings", "proposal", "forecast"}
_SCENARIO_MARKERS = {"simulation", "proposals", "meta", "campaigns", "legal", "vote", "government"}


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list) and not value:
        return "[]"
    if value is None:
        return "none"
    return repr(value)


def missing_fields(
    cls: type, data: dict[str, Any], path: str = "", skip: frozenset[str] = frozenset()
) -> list[str]:
    """Fields of ``cls`` (recursively) absent from ``data``, as ``path = default  # doc``.

    Tables inside arrays of tables (``[[community.building_types]]``) are walked too; dotted
    names in ``skip`` are left out.
    """
    out: list[str] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = f"{path}{f.name}"
        if name in skip:
            continue
        tp = hints[f.name]
        is_dc = dataclasses.is_dataclass(tp)
        item = typing.get_args(tp)[0] if typing.get_origin(tp) is tuple else None
        if f.name in data:
            value = data[f.name]
            if is_dc and isinstance(value, dict):
                out.extend(missing_fields(tp, value, name + ".", skip))
            elif dataclasses.is_dataclass(item) and isinstance(value, list):
                for i, v in enumerate(value):
                    if isinstance(v, dict):
                        out.extend(missing_fields(item, v, f"{name}[{i}].", skip))
            continue
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            continue
        if f.name == "behaviour":
            continue
        if is_dc:
            out.extend(missing_fields(tp, {}, name + ".", skip))
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        doc = f.metadata.get("doc", "")
        unit = f.metadata.get("unit", "")
        note = f"{doc} ({unit})" if unit and doc else doc
        out.append(f"{name} = {_fmt(default)}" + (f"  # {note}" if note else ""))
    return out


def load_forecast_input(
    path: str | os.PathLike[str], *, months_after_vote: int | None = None
) -> ForecastInput:
    """Read a community file or a scenario file into a :class:`ForecastInput`.

    Parameters
    ----------
    path : path-like
        A community file (tables ``[community]``, ``[[buildings]]``, ``[proposal]`` ...) or a
        full scenario file with a fee proposal in ``[[proposals]]``.
    months_after_vote : int, optional
        Horizon after the vote month (default: the file's ``forecast.months_after_vote``, or 36
        for a scenario file).

    Raises
    ------
    ConfigError
        For a missing or malformed file; the message names the file, the field, the value and
        what is allowed.
    """
    p = Path(path)
    data = read_toml(p)
    keys = set(data)
    is_comm = bool(keys & _COMMUNITY_MARKERS)
    is_scen = bool(keys & _SCENARIO_MARKERS)
    try:
        if is_comm and is_scen:
            raise ConfigError(
                f"tables {sorted(keys & _COMMUNITY_MARKERS)} (community file) and "
                f"{sorted(keys & _SCENARIO_MARKERS)} (scenario file) are mixed; expected one "
                "format"
            )
        if is_comm:
            return community_to_input(data, source=str(p), months_after_vote=months_after_vote)
        if is_scen:
            return _scenario_to_input(data, p, months_after_vote)
        raise ConfigError(
            "neither a community file (tables [community], [[buildings]], [proposal]) nor a "
            "scenario file (tables [simulation], [community], [[proposals]]); found tables "
            f"{sorted(keys) or 'none'}"
        )
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None


def _local_behaviour(b: Behaviour) -> dict[str, float]:
    base = to_mapping(default_behaviour())
    return {k: v for k, v in to_mapping(b).items() if base.get(k) != v}


def _scenario_to_input(
    data: dict[str, Any], path: Path, months_after_vote: int | None
) -> ForecastInput:
    scenario = scenario_from_mapping(data, base_dir=path.parent)
    fee_idx = [i for i, pr in enumerate(scenario.proposals) if pr.matter == "fee"]
    if not fee_idx:
        raise _err(
            "proposals",
            [pr.matter for pr in scenario.proposals],
            "at least one [[proposals]] entry with matter = 'fee' (the step to forecast)",
        )
    k = fee_idx[0]
    after = 36 if months_after_vote is None else months_after_vote
    proposal = scenario.proposals[k]
    months = max(scenario.simulation.months, proposal.month + after)
    rest = tuple(pr for i, pr in enumerate(scenario.proposals) if i != k)
    sq_data = scenario.to_mapping()
    sq_data["proposals"] = to_mapping(rest)
    sq_data["simulation"]["months"] = months
    sq_data["behaviour"] = to_mapping(scenario.behaviour)
    status_quo = from_mapping(Scenario, sq_data)
    either = frozenset(f"proposals[{k}].{f}" for f in ("new_fee_per_m2", "step_pct", "step_yuan"))
    defaults = [
        d
        for d in missing_fields(Scenario, data, skip=either)
        if not d.startswith("proposals[") or d.startswith(f"proposals[{k}].")
    ]
    overrides = data.get("behaviour", {})
    n_beh = len(dataclasses.fields(Behaviour)) - len(overrides)
    defaults.append(f"behaviour: {n_beh} coefficients from the package defaults")
    out = ForecastInput(
        name=scenario.meta.name,
        status_quo=status_quo,
        proposal=proposal,
        motion_key=k,
        source=str(path),
        file_format="scenario",
        defaults=tuple(defaults),
        months_after_vote=after,
        local_behaviour=_local_behaviour(scenario.behaviour),
    )
    out.scenario()
    return out


def _vote_month(vote: int | str, start: str) -> int:
    if isinstance(vote, int):
        if vote < 0:
            raise _err("proposal.vote", vote, "months after forecast.start (>= 0) or 'YYYY-MM'")
        return vote
    m = _MONTH_RE.match(vote)
    if not m:
        raise _err("proposal.vote", vote, "a month as 'YYYY-MM' or a number of months")
    y0, m0 = int(start[:4]), int(start[5:7])
    months = (int(m.group(1)) - y0) * 12 + int(m.group(2)) - m0
    if months < 0:
        raise _err("proposal.vote", vote, f"a month at or after forecast.start ({start})")
    return months


def community_to_input(
    data: dict[str, Any], *, source: str = "", months_after_vote: int | None = None
) -> ForecastInput:
    """Translate a parsed community file into a :class:`ForecastInput` (see module docstring).

    Raises
    ------
    ConfigError
        Naming the field, the value and what is allowed.
    """
    cf = from_mapping(CommunityFile, {k: v for k, v in data.items()})
    c, firm, com, prop, fc = cf.community, cf.firm, cf.committee, cf.proposal, cf.forecast
    skip = frozenset(
        f"buildings[{i}].{k}"
        for i in range(len(cf.buildings))
        for k in ("area_m2", "lifts", "full_service_fee", "equipment_cost_per_m2")
    )
    skip |= {"proposal.new_fee", "proposal.step_percent"}  # one of the two is given
    defaults = missing_fields(CommunityFile, data, skip=skip)
    raw_b = data.get("buildings", [])
    # -- buildings ---------------------------------------------------------------------------
    households = sum(b.households for b in cf.buildings)
    if households < 6:
        raise _err("buildings[].households", households, "at least 6 households in total")
    btypes = []
    for i, b in enumerate(cf.buildings):
        raw = raw_b[i] if i < len(raw_b) and isinstance(raw_b[i], dict) else {}
        area = b.area_m2 if b.area_m2 is not None else b.households * DEFAULT_UNIT_AREA
        lifts = b.lifts if b.lifts is not None else ("high" in b.type.lower())
        full = b.full_service_fee
        if full is None:
            full = FULL_FEE_LIFTS if lifts else FULL_FEE_NO_LIFTS
        equip = b.equipment_cost_per_m2
        if equip is None:
            equip = EQUIPMENT_LIFTS if lifts else 0.0
        mean_area = area / b.households
        if not 10 <= mean_area <= 500:
            raise _err(
                f"buildings[{i}].area_m2",
                b.area_m2,
                f"a total giving 10-500 m2 per unit ({b.households} units)",
            )
        resolved = {
            "area_m2": (area, f"households x {DEFAULT_UNIT_AREA:g} m2"),
            "lifts": (lifts, "inferred from the type name"),
            "full_service_fee": (full, "AGG-07, by lifts"),
            "equipment_cost_per_m2": (equip, "by lifts"),
        }
        for key, (val, why) in resolved.items():
            if key not in raw:
                defaults.append(f"buildings[{i}].{key} = {_fmt(val)}  # default: {why}")
        btypes.append(
            BuildingType(
                name=b.type,
                share=b.households / households,
                fee_per_m2=b.fee,
                mean_area_m2=mean_area,
                area_sd_m2=AREA_SD_SHARE * mean_area,
                full_service_fee_per_m2=full,
                equipment_cost_per_m2=equip,
            )
        )
    # -- proposal ----------------------------------------------------------------------------
    vote = _vote_month(prop.vote, fc.start)
    if prop.quality_first_months > vote:
        raise _err(
            "proposal.quality_first_months",
            prop.quality_first_months,
            f"<= the months from forecast.start to the vote ({vote})",
        )
    if isinstance(prop.new_fee, dict):
        fee_spec: dict[str, Any] = {"new_fee_per_m2": dict(prop.new_fee)}
    elif prop.new_fee is not None:
        fee_spec = {"new_fee_per_m2": {b.type: float(prop.new_fee) for b in cf.buildings}}
    else:
        fee_spec = {"step_pct": float(prop.step_percent or 0.0) / 100.0}
    proposal = Proposal(
        month=vote,
        matter="fee",
        service_quality=prop.service_improvement,
        quality_first_months=prop.quality_first_months,
        trial_months=prop.trial_months,
        disclosure=prop.audit,
        negotiation_meetings=prop.negotiation_meetings,
        door_to_door_rounds=prop.door_to_door_rounds,
        renovation_bundled=prop.renovation,
        campaign_steps=prop.collection_campaign_steps,
        packages=tuple(
            Package(name=p.name, fee_per_m2=p.fee, quality=p.service_improvement)
            for p in prop.packages
        ),
        effective=prop.effective,
        retries=prop.retries,
        release_public_income=prop.release_public_income,
        **fee_spec,
    )
    after = fc.months_after_vote if months_after_vote is None else months_after_vote
    # -- firm ----------------------------------------------------------------------------------
    firm_kw: dict[str, Any] = {
        "contract": firm.contract,
        "tier": firm.service_tier,
        "target_margin": firm.margin,
        "initial_cash_months": firm.cash_months,
        "management_quality": firm.management_quality,
        "public_income_yuan_month": c.public_income_yuan_month,
        "public_income_firm_share": c.public_income_to_firm,
        "initial_quality": firm.service_quality,
    }
    community = Community(
        households=households,
        building_types=tuple(btypes),
        billing=c.billing,
        housing_kind=c.housing_kind,
        absentee_share=c.absentee_share,
        retiree_share=c.retiree_share,
        income_yuan_month=c.income_yuan_month,
        pension_yuan_month=c.pension_yuan_month,
        leader_share=c.volunteer_share,
        initial_collection_rate=c.collection_rate,
        initial_trust=c.trust,
        maintenance_fund_per_m2=c.maintenance_fund_yuan_per_m2,
        years_since_adjustment=c.years_since_adjustment,
    )
    government = Government(subsidy_per_m2=c.subsidy_yuan_per_m2, wage_growth=fc.wage_growth)
    simulation = Simulation(months=vote + after, start=fc.start, seed=fc.seed)
    draft = Scenario(simulation=simulation, community=community, government=government)
    firm_kw.update(_map_disclosure(firm, draft, defaults))
    beh = from_mapping(
        Behaviour, {**to_mapping(default_behaviour()), **cf.behaviour}, path="behaviour"
    )
    sq_data = {
        "meta": to_mapping(
            Meta(
                name=c.name,
                description=f"{c.district} community file".strip(),
                sources=(source,) if source else (),
            )
        ),
        "simulation": to_mapping(simulation),
        "community": to_mapping(community),
        "firm": {k: v for k, v in firm_kw.items() if v is not None},
        "committee": to_mapping(
            Committee(
                kind=com.status,
                capacity=com.capacity,
                evaluation_months=com.evaluation_months,
                evaluation_start_month=vote + 1 if com.evaluation_months else 0,
                rollback=com.rollback,
                door_to_door_intensity=prop.door_to_door_reach,
            )
        ),
        "government": to_mapping(government),
        "behaviour": to_mapping(beh),
    }
    status_quo = from_mapping(Scenario, sq_data)
    out = ForecastInput(
        name=c.name,
        status_quo=status_quo,
        proposal=proposal,
        motion_key=0,
        source=source,
        file_format="community",
        defaults=tuple(defaults),
        months_after_vote=after,
        local_behaviour=dict(cf.behaviour),
    )
    out.scenario()
    return out


def _map_disclosure(firm: FirmInfo, draft: Scenario, defaults: list[str]) -> dict[str, Any]:
    """Firm fields from the disclosed staff, wage, cost and quality (module docstring)."""
    from feesim.government import min_wage_path

    d = Firm()
    out: dict[str, Any] = {}
    bts = draft.community.building_types
    n = draft.community.households
    area = sum(b.share * n * b.mean_area_m2 for b in bts)
    equipment = sum(b.share * n * b.mean_area_m2 * b.equipment_cost_per_m2 for b in bts)
    wage0 = float(min_wage_path(draft, 1)[0])
    wage = d.wage_premium * wage0
    if firm.average_wage_yuan_month is not None:
        wage = firm.average_wage_yuan_month
        premium = wage / wage0
        if not 0.5 <= premium <= 5:
            raise _err(
                "firm.average_wage_yuan_month",
                firm.average_wage_yuan_month,
                f"0.5-5 times the minimum wage at the start ({wage0:.0f} yuan/month)",
            )
        out["wage_premium"] = premium
    per_staff = wage * (1 + d.social_insurance_rate)
    staff = firm.staff
    if firm.annual_cost_yuan is not None:
        running = firm.annual_cost_yuan / 12.0 - equipment
        if running <= 0:
            raise _err(
                "firm.annual_cost_yuan",
                firm.annual_cost_yuan,
                f"more than the equipment cost ({12 * equipment:,.0f} yuan/year)",
            )
        if staff is None:
            staff = running * (1 - d.materials_share) / per_staff
            defaults.append(
                f"firm.staff = {staff:.1f}  # derived from annual_cost_yuan at the default "
                f"materials share {d.materials_share}"
            )
        else:
            labour = staff * per_staff
            share = (running - labour) / running
            if not 0 <= share <= 0.9:
                raise _err(
                    "firm.annual_cost_yuan",
                    firm.annual_cost_yuan,
                    f"a cost leaving 0-90% for materials beside the wage bill of "
                    f"{12 * labour:,.0f} yuan/year (staff x wage x (1 + social insurance)) and "
                    f"equipment of {12 * equipment:,.0f} yuan/year",
                )
            out["materials_share"] = share
    if staff is not None:
        q = firm.service_quality
        if q is None:
            q = TIER_QUALITY[firm.service_tier]
            defaults.append(
                f"firm.service_quality = {q}  # default: the quality of the tier "
                f"'{firm.service_tier}' (the disclosed staff deliver it)"
            )
        x_now = q / firm.management_quality
        per10k = staff / x_now / area * 1e4
        if not 0.1 <= per10k <= 50:
            raise _err(
                "firm.staff",
                firm.staff if firm.staff is not None else round(staff, 1),
                f"a staff giving 0.1-50 staff per 10,000 m2 at full standard (got {per10k:.2f})",
            )
        out["staff_per_10k_m2"] = per10k
        out["initial_quality"] = q
    return out
