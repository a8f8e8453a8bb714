"""The community file: what a housing bureau knows about one community, in TOML.

A *community file* describes one residential community as a bureau sees it (households and
floor area by building type, current fees and collection, the firm's disclosed staff, costs and
margin, the committee, public income) and the fee step proposed to its owners. Every key is
documented below with its unit and default; missing keys take their default and
:attr:`ForecastInput.defaults <feesim.studies.forecast.mapping.ForecastInput.defaults>` lists every
defaulted item, so the report can show them.

Tables: ``[community]``, ``[[buildings]]`` (one per building type), ``[firm]``,
``[committee]``, ``[proposal]`` (with optional ``[[proposal.packages]]``), ``[forecast]`` and an
optional ``[behaviour]`` table overriding single behavioural coefficients (advanced).

This module holds the schema of the file (the frozen dataclasses :class:`CommunityFile`,
:class:`CommunityInfo`, :class:`BuildingInfo`, :class:`FirmInfo`, :class:`CommitteeInfo`,
:class:`ProposalInfo`, :class:`PackageInfo` and :class:`ForecastSettings`, with their
validation and defaults), the tables that tell a community file from a scenario file,
:func:`missing_fields` (the defaulted items) and :func:`parse_new_fee` (the ``--new-fee``
option).

See Also
--------
feesim.studies.forecast.mapping : How a community file (or a scenario file) becomes the model
scenario,
    and :func:`~feesim.studies.forecast.mapping.load_forecast_input`, which reads either.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from typing import Any, Literal

from feesim.config.params import default_of, param
from feesim.config.scenario import (
    Committee,
    Community,
    Firm,
    Government,
    Proposal,
    check_start,
)
from feesim.errors import ConfigError
from feesim.i18n import gettext as _

__all__ = [
    "MAX_MONTHS_AFTER_VOTE",
    "PROPOSAL_KEYS",
    "BuildingInfo",
    "CommitteeInfo",
    "CommunityFile",
    "CommunityInfo",
    "FirmInfo",
    "ForecastSettings",
    "PackageInfo",
    "ProposalInfo",
    "missing_fields",
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


#: Proposal fields (:class:`feesim.config.scenario.Proposal`) under their community-file keys
#: (``[proposal]``), where the two hold the same value: errors name the key the user wrote.
PROPOSAL_KEYS = {
    "disclosure": "audit",
    "service_quality": "service_improvement",
    "renovation_bundled": "renovation",
    "campaign_steps": "collection_campaign_steps",
    "quality_first_months": "quality_first_months",
    "trial_months": "trial_months",
    "negotiation_meetings": "negotiation_meetings",
    "door_to_door_rounds": "door_to_door_rounds",
    "retries": "retries",
    "effective": "effective",
    "release_public_income": "release_public_income",
}


#: The longest horizon after the vote, in months (``forecast.months_after_vote`` and
#: ``--months-after-vote`` share it).
MAX_MONTHS_AFTER_VOTE = 240


def _err(field: str, value: Any, expected: str) -> ConfigError:
    """``field: got value; expected ...`` in the language in force.

    ``expected`` comes translated (``_()`` around its template at the call site); the key
    and the value stay as the user wrote them.
    """
    return ConfigError(
        _("{key}: got {value}; expected {expected}").format(
            key=field, value=repr(value), expected=expected
        )
    )


# ==============================================================================================
# the community file
# ==============================================================================================
@dataclass(frozen=True)
class CommunityInfo:
    """``[community]``: the residents, their fees and payment, public income."""

    name: str = param("unnamed community", doc="name shown in the report")
    district: str = param("", doc="district and subdistrict (descriptive)")
    jurisdiction: Literal["shanghai", "elsewhere"] = param(
        default_of(Community, "jurisdiction"),
        doc="'shanghai' (a fixed-fee increase needs an audit or a price assessment first) or "
        "'elsewhere' (no such rule)",
        source="Shanghai Provisions Art. 48",
    )
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
    renter_share: float = param(
        default_of(Community, "renter_share"),
        unit="share of absentee units",
        lo=0,
        hi=1,
        doc="absentee units let to renters (the rest stand empty)",
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
        doc="months of the new service after the vote before the new fee is charged (the fee "
        "applies from the trial's end, with a supplementary bill for the rest of the cycle)",
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
        default_of(Proposal, "effective"),
        doc="when a passed fee takes effect (with a trial period: when the trial ends)",
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
        36,
        unit="months",
        lo=1,
        hi=MAX_MONTHS_AFTER_VOTE,
        doc="how long to follow the community after the vote",
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
        check_start(self.start, f"{path}.start")


@dataclass(frozen=True)
class ScheduleInfo:
    """``[[schedule]]``: levers the district or the committee changes at a month.

    The file's other tables describe the community as it stands (what its reported collection
    reflects); a schedule entry is a what-if on top: e.g. a district subsidy from a month on.
    """

    month: int | str = param(doc="month of the change: 'YYYY-MM', or months after forecast.start")
    set: dict[str, Any] = param(
        doc="scenario lever fields and their new values, e.g. "
        '{ "government.subsidy_per_m2" = 0.1 } (feesim describe --kind lever; the fields '
        "listed in feesim.config.scenario.SCHEDULABLE)",
        kind="lever",
    )


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
    schedule: tuple[ScheduleInfo, ...] = param((), doc="lever changes at a month (what-ifs)")
    behaviour: dict[str, float] = param(factory=dict, doc="behaviour coefficient overrides")

    def _validate(self, path: str) -> None:
        if not self.buildings:
            raise ConfigError(
                _("buildings: at least one [[buildings]] table is required (type, households, fee)")
            )
        names = [b.type for b in self.buildings]
        if len(set(names)) != len(names):
            raise _err("buildings[].type", names, _("distinct building type names"))
        p = self.proposal
        if (p.new_fee is None) == (p.step_percent is None):
            raise _err(
                "proposal.new_fee",
                p.new_fee,
                _("exactly one of proposal.new_fee or proposal.step_percent"),
            )
        if isinstance(p.new_fee, dict) and set(p.new_fee) != set(names):
            raise _err(
                "proposal.new_fee",
                sorted(p.new_fee),
                _("one fee for each building type: {types}").format(types=sorted(names)),
            )


def parse_new_fee(text: str, names: tuple[str, ...]) -> dict[str, float] | float:
    """Parse the ``--new-fee`` option: ``0.97`` or ``multi-storey=0.97,high-rise=1.44``.

    Raises
    ------
    ConfigError
        Naming the option, the value and the allowed forms and building types.
    """
    allowed = _(
        "one number (yuan/m2/month, every type) or TYPE=FEE pairs separated by commas for "
        "every building type ({types}), e.g. {example}"
    ).format(types=", ".join(names), example=",".join(f"{n}=1.0" for n in names))
    in_range = _("a fee in [0, 50] yuan/m2/month")
    text = text.strip()
    if "=" not in text:
        try:
            value = float(text)
        except ValueError:
            raise _err("--new-fee", text, allowed) from None
        if not 0 <= value <= 50:  # NaN too
            raise _err("--new-fee", text, in_range)
        return value
    out: dict[str, float] = {}
    for part in text.split(","):
        key, sep, val = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise _err("--new-fee", text, allowed)
        if key not in names:
            raise _err(
                "--new-fee",
                key,
                _("a building type of this community: {types}").format(types=", ".join(names)),
            )
        if key in out:
            raise _err("--new-fee", key, _("each building type once"))
        try:
            fee = float(val)
        except ValueError:
            raise _err(f"--new-fee {key}", val.strip(), _("a number (yuan/m2/month)")) from None
        if not 0 <= fee <= 50:  # NaN too
            raise _err(f"--new-fee {key}", fee, in_range)
        out[key] = fee
    missing = [n for n in names if n not in out]
    if missing:
        raise _err(
            "--new-fee",
            text,
            _("a fee for every building type; missing: {types}").format(types=", ".join(missing)),
        )
    return out


# ==============================================================================================
# telling the file formats apart, and the defaulted items
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
