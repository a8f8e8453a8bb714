"""Scenarios: one community, its firm, committee, government levers and proposals, from TOML.

A scenario file has the tables ``[meta]``, ``[simulation]``, ``[community]`` (with
``[[community.building_types]]``), ``[firm]``, ``[committee]``, ``[government]`` (with
``[[government.renovations]]`` and ``[[government.tier_upgrades]]``), ``[legal]``, ``[vote]``,
``[behaviour]`` and the arrays ``[[proposals]]`` and ``[[campaigns]]``. Every field is documented
below with its unit, whether it is a lever or an uncertainty, and the source of its default;
``feesim describe`` prints the whole list.

Months are counted from 0 at ``simulation.start``. Fees are yuan per m2 of floor area per month.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from feesim.config.behaviour import (
    Behaviour,
    default_behaviour,
    load_params_file,
    with_coefficients,
)
from feesim.config.params import edit, fail, from_mapping, param, replace, to_mapping
from feesim.errors import ConfigError
from feesim.i18n import N_
from feesim.i18n import gettext as _
from feesim.io import read_toml

__all__ = [
    "AUDIT_RULE",
    "MENU_MAX_OPTIONS",
    "SCHEDULABLE",
    "START_YEARS",
    "TIER_QUALITY",
    "BuildingType",
    "Campaign",
    "Change",
    "Committee",
    "Community",
    "Firm",
    "Government",
    "History",
    "Legal",
    "MenuOption",
    "Meta",
    "Package",
    "Proposal",
    "Renovation",
    "Scenario",
    "Simulation",
    "TierUpgrade",
    "VoteRules",
    "audit_missing",
    "check_start",
    "load_scenario",
    "scenario_from_mapping",
]

Billing = Literal["monthly", "quarterly", "yearly"]
Jurisdiction = Literal["shanghai", "elsewhere"]
Tier = Literal["basic", "tidy", "liveable"]

#: Service quality (0-1, 1 = the liveable standard fully staffed) that each Huangpu service
#: type stands for: basic (保障型), tidy (整洁型), liveable (宜居型). Judgement on the three-type
#: standard of 黄府办发〔2019〕009号 (domain-rules section 5).
TIER_QUALITY: dict[str, float] = {"basic": 0.55, "tidy": 0.75, "liveable": 1.0}

#: Most options a menu vote may offer: each option's value draws from its own random stream
#: (sub-index ``500 + 10 * round + option`` of the approval decision, ``round`` being the
#: month's vote round; :mod:`feesim.engine.rules.vote`), so an eleventh option would share the
#: stream of the next round's first.
MENU_MAX_OPTIONS = 10

_SCHEDULE_EG = '{ "government.subsidy_per_m2" = 0.1 }'
_START_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
#: Calendar years month 0 may fall in. Property-service fees of residential communities as
#: modelled here begin with the end of welfare housing allocation (State Council Guo Fa
#: [1998] No. 23); the wage, price and fee data of the model run from 2011 (domain-rules 3.4)
#: and are extrapolated beyond, which makes little sense far into the next century.
START_YEARS = (1998, 2100)


def check_start(start: str, key: str) -> None:
    """Check a ``'YYYY-MM'`` month 0 named ``key``; a :class:`ConfigError` names it."""
    m = _START_RE.match(start) if isinstance(start, str) else None
    if not m:
        raise fail(key, start, _("a month as 'YYYY-MM', e.g. '2024-01'"))
    lo, hi = START_YEARS
    if not lo <= int(m.group(1)) <= hi:
        raise fail(
            key,
            start,
            _(
                "a month from {lo}-01 to {hi}-12 (fees of commodity housing begin with the "
                "1998 housing reform)"
            ).format(lo=lo, hi=hi),
        )


def _err(path: str, name: str, value: Any, expected: str) -> ConfigError:
    """A cross-field rule broken: :func:`~feesim.config.params.fail` for ``path.name``.

    Parameters
    ----------
    path : str
        Dotted path of the table the rule belongs to ("" at the top).
    name : str
        The field the message names, within ``path``.
    value : Any
        The value given (shown with ``repr``).
    expected : str
        What is allowed, already translated (``_()`` at the call site), so that the message
        and ``ConfigError.expected`` are in the language in force.

    Returns
    -------
    ConfigError
        With ``key``, ``value`` and ``expected`` set, as a field error has them: a caller (the
        forecast of a community file) says it again under its user's key from them.
    """
    prefix = f"{path}." if path else ""
    return fail(f"{prefix}{name}", value, expected)


def _before_end(months: int) -> str:
    """What a month must be: before the end of the run (``simulation.months``), translated."""
    return _("< simulation.months ({months})").format(months=months)


@dataclass(frozen=True)
class Meta:
    """Free-text description of a scenario."""

    name: str = param("unnamed scenario", doc="short name shown in reports")
    description: str = param("", doc="what the scenario represents")
    sources: tuple[str, ...] = param((), doc="case ids, seeds or URLs the figures come from")


@dataclass(frozen=True)
class Simulation:
    """Horizon, calendar and seed."""

    months: int = param(36, unit="months", lo=1, hi=600, doc="number of monthly steps")
    start: str = param("2025-01", unit="YYYY-MM", doc="calendar month of month 0")
    seed: int = param(0, lo=0, doc="root seed of all random streams")
    params: str | None = param(
        None, doc="fitted behaviour file to use instead of the newest shipped one (path)"
    )

    def _validate(self, path: str) -> None:
        check_start(self.start, f"{path}.start" if path else "start")

    @property
    def start_year(self) -> int:
        """Calendar year of month 0."""
        return int(self.start[:4])

    @property
    def start_month(self) -> int:
        """Calendar month (1-12) of month 0."""
        return int(self.start[5:7])


@dataclass(frozen=True)
class BuildingType:
    """One building type of the community (the fee per m2 differs by type)."""

    name: str = param(doc="e.g. 'multi-storey' or 'high-rise'")
    share: float = param(unit="share of households", lo=0, hi=1, lo_open=True)
    fee_per_m2: float = param(unit="yuan/m2/month", lo=0, hi=50, doc="current fee", kind="lever")
    mean_area_m2: float = param(
        55.0,
        unit="m2",
        lo=10,
        hi=500,
        doc="mean floor area of a unit",
        source="model.md: old estates 29-66 m2, mean about 50; newer 80-140",
    )
    area_sd_m2: float = param(10.0, unit="m2", lo=0, hi=200, doc="spread of unit areas")
    full_service_fee_per_m2: float = param(
        1.6,
        unit="yuan/m2/month",
        lo=0.05,
        hi=50,
        kind="uncertainty",
        doc="fee at which residents expect the full liveable standard (quality-price match)",
        source="AGG-07: 2018-19 city averages, commodity multi-storey 1.49, high-rise 2.18",
    )
    equipment_cost_per_m2: float = param(
        0.0,
        unit="yuan/m2/month",
        lo=0,
        hi=20,
        kind="uncertainty",
        doc="running cost of lifts, pumps and similar, at prices of the start month",
        source="judgement: high-rise fees exceed multi-storey ones by 0.4-0.5 (seed 002, AGG-07)",
    )


def _default_building_types() -> tuple[BuildingType, ...]:
    return (BuildingType(name="multi-storey", share=1.0, fee_per_m2=0.6),)


@dataclass(frozen=True)
class Community:
    """The households of one residential community (小区)."""

    households: int = param(1000, unit="households", lo=6, hi=20000, doc="number of units")
    building_types: tuple[BuildingType, ...] = param(factory=_default_building_types)
    billing: Billing = param(
        "quarterly",
        doc="how often bills are issued (collection rates accumulate over a year)",
        kind="lever",
    )
    housing_kind: Literal["old_public", "old_commodity", "commodity", "resettlement"] = param(
        "old_commodity", doc="售后公房 / old commodity / newer commodity / resettlement housing"
    )
    jurisdiction: Jurisdiction = param(
        "shanghai",
        doc="where the community is, for the rules that are local: in Shanghai a fixed-fee "
        "increase needs an audit of the last 12 months or a third-party price assessment first; "
        "elsewhere no such rule applies",
        source="Shanghai Provisions Art. 48; 沪房规范〔2021〕6号 §15 (domain-rules 1.2)",
    )
    stairwell_min: int = param(
        6,
        unit="households",
        lo=1,
        hi=200,
        doc="smallest stairwell group (楼组)",
        source="model.md: stairwell groups of 6-30 households",
    )
    stairwell_max: int = param(30, unit="households", lo=1, hi=200, doc="largest stairwell group")
    multi_unit_owner_share: float = param(
        0.03,
        unit="share of owners",
        lo=0,
        hi=0.5,
        kind="uncertainty",
        doc="owners holding two units (one head, areas summed in votes)",
        source="SPC interpretation Art. 9 (domain-rules 1.1)",
    )
    absentee_share: float = param(
        0.2,
        unit="share of units",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="units whose owner lives elsewhere (let to renters or empty); the owner is billed "
        "and liable, pays with less regard to the service and is harder to reach "
        "(behaviour.absentee_response, absentee_reach)",
    )
    renter_share: float = param(
        0.6,
        unit="share of absentee units",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="absentee units let to renters (the rest stand empty): renters live with the "
        "service and call the hotline, but are not billed and do not vote",
        source="judgement (no figure in the sources); Civil Code Art. 944 and Shanghai "
        "Provisions Art. 49: the owner owes the fee; Art. 278: owners vote",
    )
    retiree_share: float = param(
        0.4,
        unit="share of households",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="households living on pensions (lower income, more at home)",
        source="model.md: retirees on pensions are a large share in old estates",
    )
    income_yuan_month: float = param(
        7000.0,
        unit="yuan/month",
        lo=100,
        hi=1e6,
        kind="uncertainty",
        doc="mean monthly income of working households",
    )
    pension_yuan_month: float = param(
        4500.0,
        unit="yuan/month",
        lo=100,
        hi=1e6,
        kind="uncertainty",
        doc="mean monthly income of retired households",
    )
    conditional_cooperator_share: float = param(
        0.5,
        unit="share of households",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="pay if they see service and neighbours paying",
        source="Fischbacher, Gaechter & Fehr 2001: about 50%",
    )
    free_rider_share: float = param(
        0.3,
        unit="share of households",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="pay mainly under enforcement; the rest pay unconditionally",
        source="Fischbacher, Gaechter & Fehr 2001: about one third",
    )
    leader_share: float = param(
        0.05,
        unit="share of households",
        lo=0,
        hi=0.5,
        kind="lever",
        doc="floor leaders, party members and volunteers who persuade neighbours",
    )
    initial_collection_rate: float | None = param(
        0.8,
        unit="share",
        lo=0.01,
        hi=0.995,
        kind="uncertainty",
        doc="collection rate before month 0; household baselines are set to reproduce it",
        source="domain-rules 2.2 and B7: old Shanghai communities 50-80%, national ~76-84%",
    )
    initial_trust: float = param(
        0.5, unit="0-1", lo=0, hi=1, kind="uncertainty", doc="mean trust at month 0"
    )
    maintenance_fund_per_m2: float = param(
        30.0,
        unit="yuan/m2",
        lo=-1e4,
        hi=1e4,
        kind="uncertainty",
        doc="balance of the maintenance fund at month 0 (pays the owners' share of works)",
    )
    years_since_adjustment: float = param(
        10.0, unit="years", lo=0, hi=60, doc="years since the fee last changed (descriptive)"
    )

    def _validate(self, path: str) -> None:
        p = f"{path}." if path else ""
        if not self.building_types:
            # Its own sentence (the English one it always was); the fields as fail sets them.
            key = f"{p}building_types"
            raise fail(key, [], _("at least one building type")).with_message(
                _("{key}: at least one building type is required").format(key=key)
            )
        names = [b.name for b in self.building_types]
        if len(set(names)) != len(names):
            raise _err(path, "building_types", names, _("distinct building type names"))
        total = sum(b.share for b in self.building_types)
        if abs(total - 1.0) > 1e-6:
            raise _err(path, "building_types[].share", round(total, 9), _("shares summing to 1"))
        if self.stairwell_min > self.stairwell_max:
            raise _err(
                path,
                "stairwell_min",
                self.stairwell_min,
                _("<= stairwell_max ({most})").format(most=self.stairwell_max),
            )
        if self.conditional_cooperator_share + self.free_rider_share > 1 + 1e-9:
            raise _err(
                path,
                "free_rider_share",
                self.free_rider_share,
                _(
                    "<= {most} (conditional_cooperator_share + free_rider_share must not exceed 1)"
                ).format(most=f"{1 - self.conditional_cooperator_share:g}"),
            )

    @property
    def building_names(self) -> tuple[str, ...]:
        """Names of the building types in file order."""
        return tuple(b.name for b in self.building_types)


@dataclass(frozen=True)
class Firm:
    """The property firm (物业公司) serving the community."""

    contract: Literal["fixed_fee", "cost_plus"] = param(
        "fixed_fee",
        kind="lever",
        doc="fixed-fee 包干制 (firm keeps surplus, bears loss) or cost-plus 酬金制 (owners do)",
        source="物业服务收费管理办法 2003 (domain-rules 3.1)",
    )
    remuneration_rate: float = param(
        0.09,
        unit="share of service cost",
        lo=0,
        hi=0.5,
        kind="lever",
        doc="firm's fee under cost-plus",
        source="domain-rules 3.1: 8-10%",
    )
    deficit_months: float = param(
        6.0,
        unit="months of service cost",
        lo=0,
        hi=60,
        kind="uncertainty",
        doc="under cost-plus, the owners' unfunded deficit (months of the service's cost) at "
        "which the firm gives notice: the owners would not fund the service",
        source="judgement; domain-rules 3.1: under 酬金制 the owners bear the deficit",
    )
    target_margin: float = param(
        0.06,
        unit="share of revenue",
        lo=-0.5,
        hi=0.5,
        kind="uncertainty",
        doc="net margin the firm aims to keep",
        source="AGG-17: Top-100 net margin 5.41% (2023); listed firms 7.31% (H1 2025)",
    )
    cut_margin: float = param(
        0.0,
        unit="share of revenue",
        lo=-0.5,
        hi=0.5,
        kind="uncertainty",
        doc=(
            "expected margin below which a fixed-fee firm cuts service back to its target margin;"
            " between it and the target the firm holds its staffing (at or above the target: it"
            " cuts whenever its margin is below target)"
        ),
        source="model.md: keep a target margin, cut service under losses (judgement: at 0)",
    )
    tier: Tier = param(
        "basic",
        kind="lever",
        doc="contracted service standard (Huangpu three types)",
        source="黄府办发〔2019〕009号 (domain-rules 5)",
    )
    staff_per_10k_m2: float = param(
        2.9,
        unit="staff per 10,000 m2",
        lo=0.1,
        hi=50,
        kind="uncertainty",
        doc="staff needed for the full liveable standard",
        source="AGG-32: 2,640 m2 per employee on average (3.8 per 10,000 m2), fewer in old estates",
    )
    wage_premium: float = param(
        1.1,
        unit="x minimum wage",
        lo=0.5,
        hi=5,
        kind="uncertainty",
        doc="average staff pay relative to the minimum wage",
        source="Shanghai Daily 2012: guards paid at minimum wage (domain-rules 3.2)",
    )
    social_insurance_rate: float = param(
        0.3,
        unit="share of wage",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="employer contributions on top of wages",
        source="domain-rules 3.4: minimum wage excludes employer social insurance",
    )
    materials_share: float = param(
        0.3,
        unit="share of standard cost",
        lo=0,
        hi=0.9,
        kind="uncertainty",
        doc="materials and utilities in the cost of standard service",
        source="AGG-14: labour ~70%, utilities and materials ~30%",
    )
    initial_quality: float | None = param(
        None,
        unit="0-1",
        lo=0.05,
        hi=1.2,
        kind="uncertainty",
        doc="service quality at month 0; default: what the firm affords at the initial collection",
    )
    management_quality: float = param(
        0.9,
        unit="0-1",
        lo=0.3,
        hi=1,
        kind="uncertainty",
        doc="how well staff are managed (a staff overhaul resets it to 1)",
    )
    initial_cash_months: float = param(
        2.0, unit="months of cost", lo=-24, hi=120, kind="uncertainty", doc="cash at month 0"
    )
    credit_limit_months: float = param(
        3.0,
        unit="months of cost",
        lo=0,
        hi=120,
        kind="uncertainty",
        doc="how far cash may fall below zero before the firm must leave",
    )
    exit_loss_months: int = param(
        24,
        unit="months",
        lo=1,
        hi=240,
        kind="uncertainty",
        doc="consecutive months with a trailing-year loss after which the firm gives notice "
        "(sooner at the end of its term: it does not renew a loss-making contract)",
        source="judgement; domain-rules 3.2, 3.5: firms carry losses for years ('losses since "
        "2009', 'long-term losses') before they leave",
    )
    renewal_margin: float = param(
        0.0,
        unit="share of revenue",
        lo=-0.5,
        hi=0.5,
        kind="uncertainty",
        doc="trailing-year margin below which a fixed-fee firm declines to renew its contract "
        "(it gives notice before the term ends); 0: it does not renew a loss-making contract",
        source="judgement; Civil Code Art. 947: notice of non-renewal 90 days before the term "
        "ends; firms leave over 'long-term losses' (domain-rules 3.5)",
    )
    renewal_margin_sd: float = param(
        0.02,
        unit="share of revenue",
        lo=0,
        hi=0.5,
        kind="uncertainty",
        doc="spread across firms of renewal_margin (each run's firm draws its own, normally "
        "distributed): firms differ in the contracts they keep, so the chance of non-renewal "
        "rises smoothly as the margin falls instead of jumping at one threshold",
        source="judgement; AGG-17: net margins of listed firms vary by several points around "
        "their 5-7% mean",
    )
    renewal_months: int = param(
        12,
        unit="months",
        lo=1,
        hi=120,
        kind="uncertainty",
        doc="consecutive months the trailing-year margin must have stayed below renewal_margin "
        "for the firm to decline renewal (a sustained, not a passing, shortfall)",
        source="judgement; domain-rules 3.5: firms leave over 'long-term losses', not one bad "
        "quarter",
    )
    notice_months: int = param(
        3,
        unit="months",
        lo=0,
        hi=24,
        doc="notice before leaving",
        source="Civil Code Art. 947, Shanghai Provisions Art. 46: 90 days",
    )
    term_months: int = param(36, unit="months", lo=1, hi=240, kind="lever", doc="contract term")
    max_cut_rate: float = param(
        0.05,
        unit="share of staff per month",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="fastest monthly staff cut",
    )
    max_hire_rate: float = param(
        0.15,
        unit="share of staff per month",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="fastest monthly hiring",
    )
    staff_floor: float = param(
        0.35,
        unit="share of liveable staffing",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="staff kept whatever the losses (security, refuse, lifts): below it the firm loses "
        "money instead of cutting further, and leaves after exit_loss_months",
        source="judgement: security and cleaning are 75% of staffing (STAFF_SHARE) and are kept "
        "at somewhat under half of their liveable posts (gate guards, daily refuse: domain-rules "
        "3.2, the Minhang guards; D.7 basic services at minimum), greening and repairs can go; "
        "0.75 x 0.47 = 0.35. No source gives the share: 0.3-0.42 are defensible; higher floors "
        "turn the frozen-fee decline into an early exit with little visible cut, lower ones "
        "into a long decline without exit",
    )
    quality_lag: float = param(
        0.35,
        unit="1/month",
        lo=0.01,
        hi=1,
        kind="uncertainty",
        doc="share of the gap between staffing and delivered quality closed each month",
    )
    public_income_yuan_month: float = param(
        0.0,
        unit="yuan/month",
        lo=0,
        hi=1e8,
        kind="uncertainty",
        doc="public income of the community (parking, advertising) 公共收益",
        source="Shanghai Provisions Art. 51: public income belongs to owners",
    )
    public_income_firm_share: float = param(
        1.0,
        unit="share",
        lo=0,
        hi=1,
        kind="lever",
        doc="share of public income contracted to the firm to cover deficits",
    )
    overhaul_months: tuple[int, ...] = param(
        (),
        unit="months",
        kind="lever",
        doc="months of a staff overhaul (大换血)",
        source="seed 001: 大柏树物业 replaced its management team before any increase",
    )
    replace_months: tuple[int, ...] = param(
        (),
        unit="months",
        kind="lever",
        doc="months at which the committee tenders the contract to a firm from the pool",
    )

    def _validate(self, path: str) -> None:
        # Name the field that holds the negative month (both used to be blamed on the first).
        for name in ("overhaul_months", "replace_months"):
            months = getattr(self, name)
            if any(m < 0 for m in months):
                raise _err(path, name, months, _("months >= 0"))


@dataclass(frozen=True)
class Committee:
    """Owners' committee (业委会) with the residents' committee and party branch."""

    kind: Literal["owners", "executive", "none"] = param(
        "owners",
        kind="lever",
        doc="owners' committee, public-housing executive committee (执委会) or none",
        source="seed 004: public housing without an owners' committee",
    )
    capacity: float = param(
        0.5,
        unit="0-1",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="organising capacity (turnout work, persuasion, credibility)",
    )
    evaluation_months: int = param(
        0,
        unit="months",
        lo=0,
        hi=60,
        kind="lever",
        doc="interval of resident evaluations 居民评议 (0 = none)",
        source="seed 002: half-yearly evaluation with a scoring sheet",
    )
    evaluation_start_month: int = param(
        0,
        unit="month",
        lo=0,
        hi=600,
        kind="lever",
        doc="month the evaluations begin (the first is evaluation_months later)",
    )
    evaluation_threshold: float = param(
        60.0,
        unit="score 0-100",
        lo=0,
        hi=100,
        kind="lever",
        doc="score below which rectification (and rollback, if enabled) follows",
    )
    rollback: bool = param(
        False,
        kind="lever",
        doc="a bad score rolls the latest price step back (可进可退)",
        source="seed 000: 可进可退",
    )
    rollback_window_months: int = param(
        24,
        unit="months",
        lo=0,
        hi=240,
        kind="lever",
        doc="how long after a step a bad score can still roll it back",
    )
    rectification_months: int = param(
        6,
        unit="months",
        lo=0,
        hi=60,
        kind="lever",
        doc="months the firm must restore contracted staffing after a bad score",
    )
    tender_after_bad_scores: int = param(
        0,
        unit="evaluations",
        lo=0,
        hi=20,
        kind="lever",
        doc="bad evaluations in a row after which the contract is tendered (0 = never)",
        source="宝张街〔2024〕3号: a C grade three years running -> replace the firm",
    )
    auto_propose: bool = param(
        False,
        kind="lever",
        doc="propose a cost-covering step when the firm discloses sustained losses",
    )
    complaint_response: bool = param(
        True,
        kind="lever",
        doc="act on a surge of 12345 complaints: an early resident evaluation where the "
        "committee holds them, else a rectification order",
        source="AGG-03: Xuhui removed firms with many complaints; domain-rules E.2-3 (the "
        "residents' committee and the housing office follow complaints up)",
    )
    door_to_door_intensity: float = param(
        0.3,
        unit="share of households per round",
        lo=0,
        hi=1,
        kind="lever",
        doc="share of households a door-to-door round reaches (逐户上门)",
        source="seed 001: residents' committee and volunteers visited opponents door to door",
    )
    public_income_to_fund: float = param(
        0.6,
        unit="share of the owners' public income",
        lo=0,
        hi=1,
        kind="lever",
        doc="share of the public income the owners hold (released to them after a step, or "
        "never contracted to the firm) that goes into the maintenance fund under a fixed-fee "
        "contract; the rest stays in the owners' account (under cost-plus all of it stays there, "
        "paying the service)",
        source="Shanghai Provisions Art. 51 (domain-rules 1.2): where public income is used "
        "mainly to top up the fund, more than half goes to it; 0.6 is judgement",
    )

    def _validate(self, path: str) -> None:
        """No cross-field rules."""


@dataclass(frozen=True)
class Renovation:
    """A government renovation programme (美丽家园), possibly bundled with a service upgrade."""

    month: int = param(unit="month", lo=0, doc="month the works finish")
    cost_per_m2: float = param(
        100.0,
        unit="yuan/m2",
        lo=0,
        hi=1e4,
        doc="total cost of the works",
    )
    government_share: float = param(
        0.4,
        unit="share",
        lo=0,
        hi=1,
        kind="lever",
        doc="share paid by the government",
        source="seed 001: shed renovation 40% government / 60% owners",
    )
    quality_boost: float = param(
        0.12,
        unit="quality points",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="visible improvement of the estate (decays over years)",
    )
    upgrade_tier: Tier | None = param(
        None,
        kind="lever",
        doc="service tier the firm moves to with the renovation",
    )


@dataclass(frozen=True)
class TierUpgrade:
    """A service-tier upgrade of the contract (raises the standard and the price band)."""

    month: int = param(unit="month", lo=0)
    tier: Tier = param(kind="lever")


@dataclass(frozen=True)
class Government:
    """Exogenous conditions and the subdistrict/district's levers."""

    min_wage_yuan: float | None = param(
        None,
        unit="yuan/month",
        lo=100,
        hi=1e5,
        kind="uncertainty",
        doc="minimum wage at month 0 (default: Shanghai series for the start month)",
        source="domain-rules 3.4 (AGG-15)",
    )
    wage_growth: float = param(
        0.03,
        unit="1/year",
        lo=-0.5,
        hi=1,
        kind="uncertainty",
        doc="yearly minimum-wage growth after the last published value",
        source="domain-rules 3.4: 2015-2025 about 3.1%/year",
    )
    wage_adjust_month: int = param(
        7, unit="calendar month", lo=1, hi=12, doc="month of the yearly wage adjustment"
    )
    use_wage_history: bool = param(
        True, doc="follow the published Shanghai series up to 2025 before projecting growth"
    )
    materials_inflation: float = param(
        0.02, unit="1/year", lo=-0.5, hi=1, kind="uncertainty", doc="materials and utilities"
    )
    subsidy_per_m2: float = param(
        0.0,
        unit="yuan/m2/month",
        lo=0,
        hi=10,
        kind="lever",
        doc="district subsidy paid to the firm if the assessment score is at least the minimum",
        source="浦建委物管〔2023〕2号: 0.25; Zhoupu 0.35 (domain-rules 5)",
    )
    subsidy_min_score: float = param(
        60.0,
        unit="score 0-100",
        lo=0,
        hi=100,
        kind="lever",
        doc="assessment score below which no subsidy is paid",
        source="Dongming Road street 2023: <60 nil, 60-70 80%, 71+ 100%",
    )
    assessment_hotline_weight: float = param(
        0.1,
        unit="share of the assessment score",
        lo=0,
        hi=0.4,
        kind="lever",
        doc="weight of the community's 12345 hotline record in the district assessment (taken "
        "from the residents' part, 40% of the score; the inspected service is the other 60%)",
        source="domain-rules 5: residential area 15-40% of the score; AGG-03: Xuhui removed "
        "firms with many complaints; AGG-05: Beixinjing tracks 12345 satisfaction (judgement)",
    )
    renovations: tuple[Renovation, ...] = param(())
    tier_upgrades: tuple[TierUpgrade, ...] = param(())
    emergency_months: int = param(
        6,
        unit="months",
        lo=1,
        hi=60,
        doc="longest temporary service before a new firm",
        source="Shanghai Provisions Art. 52: temporary service at most six months",
    )
    state_provider: Literal["auto", "on", "off"] = param(
        "auto",
        kind="lever",
        doc="whether a district state-owned provider takes over when the temporary service "
        "runs out and no firm was voted in (basic service at the old fee, the district funding "
        "its deficit); auto: on for old public and resettlement housing",
        source="cases_more AGG-N3, N27 (district SOEs taking over estates no firm would serve); "
        "domain-rules 5: Huangpu's district SOE groups, funding guaranteed by the district",
    )


@dataclass(frozen=True)
class Legal:
    """Legal action against long-term debtors (the fifth step of the collection ladder)."""

    enabled: bool = param(False, kind="lever", doc="the firm sues long-term debtors")
    threshold_months: int = param(
        12,
        unit="months of fees",
        lo=1,
        hi=120,
        kind="lever",
        doc="arrears (in months of the current bill) that make a household eligible",
    )
    sue_share: float = param(
        0.2,
        unit="share per month",
        lo=0,
        hi=1,
        kind="lever",
        doc="share of eligible debtors sued each month (firms sue a minority)",
        source="domain-rules B5",
    )
    cost_per_case_yuan: float = param(
        1500.0,
        unit="yuan",
        lo=0,
        hi=1e6,
        kind="uncertainty",
        doc="firm's cost per suit; the firm sues only where win_rate times what the court will "
        "order (the debt and the bills falling due during the delay) covers it",
        source="judgement: domain-rules B.5 asks for a per-case cost (suits are costly) but the "
        "sources give no figure; 1,500 yuan stands for the court fee, the formal demand that "
        "must come first (催告, 2.1) and staff or lawyer time, against claims of a year or "
        "more of fees (threshold_months)",
    )
    delay_months: int = param(
        6,
        unit="months",
        lo=0,
        hi=60,
        kind="uncertainty",
        doc="months from filing a suit to the judgment",
        source="judgement: domain-rules B.5 (suits are slow) gives no duration; 6 months allows "
        "for mediation before or at filing (2.1: people's mediation, pre-litigation mediation) "
        "and a summary or small-claims procedure (2.1)",
    )
    win_rate: float = param(
        0.9,
        unit="share",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="suits the firm wins",
        source="Beijing 2005: firms won >90% of ~7,000 suits (domain-rules 2.1)",
    )
    limitation_months: int = param(
        36,
        unit="months",
        lo=1,
        hi=600,
        doc="arrears with no demand for this long are lost",
        source="Civil Code Arts. 188, 195",
    )


@dataclass(frozen=True)
class VoteRules:
    """Options of the owners' vote (the Civil Code Art. 278 rule itself is fixed)."""

    silent_majority: bool = param(
        False,
        kind="lever",
        doc="count owners who did not vote with the majority (从众); legally contested since 2021",
        source="建房〔2009〕274号 Art. 26; contested after the Civil Code (domain-rules 1.4)",
    )


@dataclass(frozen=True)
class Package:
    """A value-added service package voted separately (service menu)."""

    name: str = param()
    fee_per_m2: float = param(unit="yuan/m2/month", lo=0, hi=20, kind="lever")
    quality: float = param(unit="quality points", lo=0, hi=1, kind="lever")


@dataclass(frozen=True)
class MenuOption:
    """One service level of a menu vote: its step and what it buys."""

    name: str = param(
        doc="label in the vote table and event log, e.g. 'basic', 'tidy', 'liveable'",
        source="domain-rules 5: Huangpu's basic, tidy and liveable types; cases_more N11: "
        "four priced service grades or the status quo",
    )
    step_pct: float = param(
        unit="share",
        lo=-0.9,
        hi=10,
        kind="lever",
        doc="the option's relative step (0.2 = +20%)",
        source="no default (the ballot states it); bounds as proposals[].step_pct; cases_more "
        "N11: grades about 30% apart (1.10, 1.43, 1.76, 2.10 yuan/m2)",
    )
    service_quality: float = param(
        0.0,
        unit="quality points",
        lo=0,
        hi=1,
        kind="lever",
        doc="service the option buys",
        source="judgement: 0, an option that buys nothing unless the ballot says so; the "
        "quality points of proposals[].service_quality, with the gaps between the tiers of "
        "TIER_QUALITY (0.2-0.25, domain-rules 5) as a guide",
    )


@dataclass(frozen=True)
class Proposal:
    """A matter put to the owners' vote.

    A fee proposal states its new fee one way: ``new_fee_per_m2``, ``step_pct`` or
    ``step_yuan``. Changing one of them by path (:meth:`Scenario.with_changes`, a sensitivity
    factor) clears the other two.
    """

    #: Fields that state the same thing in different ways (see :func:`feesim.config.params.edit`).
    _alternatives: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("new_fee_per_m2", "step_pct", "step_yuan"),
    )

    month: int = param(unit="month", lo=0, doc="month of the vote")
    matter: Literal["fee", "maintenance_fund", "hire_firm"] = param(
        "fee",
        kind="lever",
        doc="fee change (>1/2), maintenance-fund top-up (3/4), or hiring a firm (>1/2)",
        source="Civil Code Art. 278",
    )
    new_fee_per_m2: dict[str, float] | None = param(
        None,
        unit="yuan/m2/month",
        lo=0,
        hi=50,
        kind="lever",
        doc="new fee for each building type (or give step_pct or step_yuan)",
    )
    step_pct: float | None = param(
        None, unit="share", lo=-0.9, hi=10, kind="lever", doc="relative step for every type"
    )
    step_yuan: float | None = param(
        None, unit="yuan/m2/month", lo=-5, hi=20, kind="lever", doc="absolute step for every type"
    )
    service_quality: float = param(
        0.0,
        unit="quality points",
        lo=0,
        hi=1,
        kind="lever",
        doc="service improvement promised with the step (the service package)",
    )
    quality_first_months: int = param(
        0,
        unit="months",
        lo=0,
        hi=60,
        kind="lever",
        doc="months before the vote that the firm starts delivering the package (先质后价)",
        source="seeds 000, 001",
    )
    trial_months: int = param(
        0,
        unit="months",
        lo=0,
        hi=24,
        kind="lever",
        doc="months the new service runs after the vote before the new fee is charged "
        "(先体验后付费); residents' verdict falls at the trial's end and the fee applies from "
        "then, a supplementary bill covering the rest of the billing cycle",
        source="seed 003; AGG-21 Balizhuang 2-3 months",
    )
    disclosure: Literal["audit", "assessment", "accounts", "none"] = param(
        "audit",
        kind="lever",
        doc="12-month audit, third-party price assessment, posted accounts, or nothing",
        source="Shanghai Provisions Art. 48; 沪房规范〔2021〕6号 §15",
    )
    negotiation_meetings: bool = param(
        False, kind="lever", doc="fee disclosure and negotiation meetings (议价联席)"
    )
    door_to_door_rounds: int = param(
        1, unit="rounds", lo=0, hi=10, kind="lever", doc="persuasion and ballot rounds"
    )
    renovation_bundled: bool = param(
        False, kind="lever", doc="the step is bundled with a renovation the owners value"
    )
    fund_bill_per_m2: float = param(
        0.0,
        unit="yuan/m2",
        lo=0,
        hi=1e4,
        kind="lever",
        doc="one-off maintenance-fund top-up per m2 (maintenance_fund matter)",
    )
    campaign_steps: int = param(
        0,
        unit="steps",
        lo=0,
        hi=5,
        kind="lever",
        doc="steps of the five-step collection campaign run when the new bill goes out",
        source="seed 004",
    )
    packages: tuple[Package, ...] = param((), doc="value-added packages voted separately")
    menu: tuple[MenuOption, ...] = param(
        (),
        doc="service levels to choose from in one vote, 2-10 options (each owner who takes "
        "part picks one; the most chosen passes if more than half of the participants' heads "
        "and area chose it); the proposal's own step is then 0",
        source="cases_more N07, N11: menu votes pick the cheapest option",
    )
    effective: Literal["next_cycle", "next_month", "next_year"] = param(
        "next_cycle",
        kind="lever",
        doc="when a passed fee takes effect (a step with a trial period takes effect when the "
        "trial ends)",
    )
    retries: int = param(
        1,
        unit="votes",
        lo=0,
        hi=12,
        kind="lever",
        doc="further monthly attempts if the quorum is missed",
    )
    release_public_income: bool = param(
        False,
        kind="lever",
        doc="after a passed step, public income goes back to the owners instead of the firm (in "
        "the vote it offsets the rise per m2, up to the rise; in a menu vote every option alike)",
        source="seed 001: a higher fee frees public income for the owners",
    )

    def _validate(self, path: str) -> None:
        given = [
            n for n in ("new_fee_per_m2", "step_pct", "step_yuan") if getattr(self, n) is not None
        ]
        if self.matter == "fee" and len(given) != 1:
            raise _err(
                path,
                "new_fee_per_m2",
                given or None,
                _("exactly one of new_fee_per_m2, step_pct or step_yuan for a fee proposal"),
            )
        if self.menu and (len(self.menu) < 2 or self.matter != "fee" or self.step_pct != 0):
            raise _err(
                path,
                "menu",
                [o.name for o in self.menu],
                _("at least two options on a fee proposal whose own step_pct is 0"),
            )
        if len(self.menu) > MENU_MAX_OPTIONS:
            raise _err(
                path,
                "menu",
                [o.name for o in self.menu],
                _("at most {most} options ([[proposals.menu]] entries; got {count})").format(
                    most=MENU_MAX_OPTIONS, count=len(self.menu)
                ),
            )
        if self.matter == "maintenance_fund" and self.fund_bill_per_m2 <= 0:
            raise _err(
                path,
                "fund_bill_per_m2",
                self.fund_bill_per_m2,
                _("> 0 for a maintenance_fund proposal"),
            )
        if self.quality_first_months > self.month:
            raise _err(
                path,
                "quality_first_months",
                self.quality_first_months,
                _("<= month ({month}): quality first cannot start before month 0").format(
                    month=self.month
                ),
            )


@dataclass(frozen=True)
class Campaign:
    """A five-step collection campaign on the property fee (or a fund bill)."""

    month: int = param(unit="month", lo=0, doc="month the campaign starts")
    steps: int = param(
        5,
        unit="steps",
        lo=1,
        hi=5,
        kind="lever",
        doc="how many of the five steps are used (door-to-door bill, micro-grid round, "
        "volunteers, residents' committee and subdistrict, legal action)",
        source="seed 004",
    )


@dataclass(frozen=True)
class History:
    """What was in force while the community's reported figures were observed.

    The month-0 state (payment records, arrears, the community's payment offset, the firm's
    staffing and trailing year, what residents are used to) is built under these conditions so
    that it reproduces ``community.initial_collection_rate``; the scenario's own settings
    (``government.subsidy_per_m2``, ``firm.public_income_yuan_month`` and
    ``public_income_firm_share``, ``firm.contract``, ``community.initial_trust``) then act from
    month 0 through their mechanisms, as they would if switched on later (``[[schedule]]``).
    By default the history is the reference condition (no subsidy, no public income to the
    firm, a fixed-fee contract, ordinary trust), so every lever set in a scenario is evaluated
    against it; declare here what already held when the figures were reported (a community
    file does so for the figures it reports). The contract's service tier is part of the
    history (``firm.tier``); changing it is a lever (``government.tier_upgrades``,
    ``[[schedule]]``).
    """

    subsidy_per_m2: float = param(
        0.0,
        unit="yuan/m2/month",
        lo=0,
        hi=5,
        doc="district subsidy paid to the firm before month 0",
        source="judgement: the reference condition (none), so that a subsidy set in the "
        "scenario acts on top of it; declare the estate's own (0.175-0.35 in Pudong, "
        "domain-rules 5) when its figures were reported under one",
    )
    public_income_yuan_month: float = param(
        0.0,
        unit="yuan/month",
        lo=0,
        hi=1e7,
        doc="public income before month 0",
        source="judgement: the reference condition (none), so that public income set in the "
        "scenario acts on top of it; it belongs to the owners (Shanghai Provisions Art. 51, "
        "domain-rules 1.2) and how much reaches the firm varies by estate",
    )
    public_income_firm_share: float | None = param(
        None,
        unit="share",
        lo=0,
        hi=1,
        doc="share of that income contracted to the firm before month 0 (empty: the firm's "
        "current share)",
        source="judgement: empty keeps the contract's current share, i.e. no change of the "
        "contract at month 0",
    )
    contract: Literal["fixed_fee", "cost_plus"] = param(
        "fixed_fee",
        doc="contract form before month 0",
        source="judgement: the reference condition, fixed-fee (包干制), against which a "
        "cost-plus contract set in the scenario acts; the two forms: domain-rules 3.1",
    )
    trust: float = param(
        0.5,
        unit="0-1",
        lo=0,
        hi=1,
        doc="mean trust while the figures were reported (0.5 ordinary)",
        source="judgement: the middle of the 0-1 scale, community.initial_trust's default: "
        "neither the trust that audits and meetings build nor the distrust broken promises "
        "leave (domain-rules C.3)",
    )


#: Levers a scenario can change at a month (``[[schedule]]``), and what the change does.
SCHEDULABLE: dict[str, str] = {
    "government.subsidy_per_m2": "the district subsidy's level (0 stops it)",
    "government.subsidy_min_score": "the assessment score below which no subsidy is paid",
    "government.assessment_hotline_weight": "the weight of the 12345 record in the assessment",
    "firm.public_income_yuan_month": "public income (parking, advertising)",
    "firm.public_income_firm_share": "the share of public income contracted to the firm",
    "committee.public_income_to_fund": "the share of the owners' public income put into the "
    "maintenance fund",
    "firm.contract": "the contract form (fixed_fee or cost_plus)",
    "firm.tier": "the contract's service tier (its standard)",
    "committee.evaluation_months": "the resident evaluations' interval (0 stops them; the next "
    "one is that many months after the change)",
    "committee.evaluation_threshold": "the score below which the committee acts",
    "committee.rollback": "whether a bad score rolls the latest step back",
    "committee.rollback_window_months": "how long after a step a bad score can still roll it "
    "back (for every later score, the step's age counted from its own month)",
    "committee.rectification_months": "the period of a rectification ordered after the change "
    "(and the committee's quiet spell after a complaint surge)",
    "committee.door_to_door_intensity": "the reach of door-to-door rounds",
    "committee.auto_propose": "whether the committee asks for cost-covering steps itself",
    "committee.complaint_response": "whether the committee acts on a surge of complaints",
    "committee.tender_after_bad_scores": "bad scores in a row that lead to a tender",
    "legal.enabled": "ordinary legal action against long-term debtors",
    "legal.sue_share": "the share of eligible debtors sued each month",
}


@dataclass(frozen=True)
class Change:
    """Levers changed at the start of a month (a ``[[schedule]]`` entry)."""

    month: int = param(unit="month", lo=0, doc="month the change takes effect")
    set: dict[str, Any] = param(
        doc="lever fields (dotted, as in the scenario file) and their new values, e.g. "
        '{ "government.subsidy_per_m2" = 0.1 }; see SCHEDULABLE',
        kind="lever",
    )


#: What the audit rule allows, as an error message says it (see :func:`audit_missing`; marked
#: for translation: the error says it in the language in force).
AUDIT_RULE = N_(
    "'audit' or 'assessment': in Shanghai an increase under a fixed-fee contract must follow a "
    "12-month audit or a third-party price assessment (Shanghai Provisions Art. 48; "
    "沪房规范〔2021〕6号 §15; set community.jurisdiction = 'elsewhere' outside Shanghai)"
)


def audit_missing(scenario: Scenario, proposal: Proposal) -> bool:
    """Whether ``proposal`` raises a fixed fee without the audit or assessment Shanghai requires.

    The rule is Shanghai's (``community.jurisdiction``); a cost-plus contract publishes audited
    accounts every year instead.
    """
    if scenario.community.jurisdiction != "shanghai" or scenario.firm.contract != "fixed_fee":
        return False
    if proposal.matter != "fee" or proposal.disclosure in ("audit", "assessment"):
        return False
    return (
        (proposal.step_pct or 0) > 0
        or (proposal.step_yuan or 0) > 0
        or (
            proposal.new_fee_per_m2 is not None
            and any(
                proposal.new_fee_per_m2.get(b.name, b.fee_per_m2) > b.fee_per_m2
                for b in scenario.community.building_types
            )
        )
    )


@dataclass(frozen=True)
class Scenario:
    """A complete, validated scenario of one community."""

    meta: Meta = field(default_factory=Meta)
    simulation: Simulation = field(default_factory=Simulation)
    community: Community = field(default_factory=Community)
    firm: Firm = field(default_factory=Firm)
    committee: Committee = field(default_factory=Committee)
    government: Government = field(default_factory=Government)
    legal: Legal = field(default_factory=Legal)
    vote: VoteRules = field(default_factory=VoteRules)
    behaviour: Behaviour = field(default_factory=default_behaviour)
    proposals: tuple[Proposal, ...] = field(default=())
    campaigns: tuple[Campaign, ...] = field(default=())
    history: History = field(default_factory=History)
    schedule: tuple[Change, ...] = field(default=())

    def _validate(self, path: str) -> None:
        months = self.simulation.months
        names = set(self.community.building_names)
        for i, prop in enumerate(self.proposals):
            p = f"proposals[{i}]"
            if prop.month >= months:
                raise _err(p, "month", prop.month, _before_end(months))
            if prop.new_fee_per_m2 is not None:
                keys = set(prop.new_fee_per_m2)
                if keys != names:
                    raise _err(
                        p,
                        "new_fee_per_m2",
                        sorted(keys),
                        _("one fee for each building type: {types}").format(types=sorted(names)),
                    )
            if audit_missing(self, prop):
                raise fail(f"{p}.disclosure", prop.disclosure, _(AUDIT_RULE))
        for i, c in enumerate(self.campaigns):
            if c.month >= months:
                raise _err(f"campaigns[{i}]", "month", c.month, _before_end(months))
        for i, r in enumerate(self.government.renovations):
            if r.month >= months:
                raise _err(
                    f"government.renovations[{i}]",
                    "month",
                    r.month,
                    _before_end(months),
                )
        for i, change in enumerate(self.schedule):
            where = f"schedule[{i}]"
            if change.month >= months:
                raise _err(where, "month", change.month, _before_end(months))
            if not change.set:
                raise _err(
                    where,
                    "set",
                    change.set,
                    _("at least one lever, e.g. {example}").format(example=_SCHEDULE_EG),
                )
            for key, value in change.set.items():
                if key not in SCHEDULABLE:
                    raise _err(
                        f"{where}.set",
                        key,
                        value,
                        _("a lever that can change at a month: {levers}").format(
                            levers=", ".join(SCHEDULABLE)
                        ),
                    )
                section, _dot, name = key.partition(".")
                try:
                    replace(getattr(self, section), name, value)
                except ConfigError as exc:
                    inside = f"{where}.set.{section}."
                    if exc.key is not None and exc.expected is not None:
                        raise fail(inside + exc.key, exc.value, exc.expected) from None
                    # no fields (an unknown key): the message begins with the lever's name
                    raise ConfigError(f"{inside}{exc}") from None

    @property
    def name(self) -> str:
        """The scenario's short name."""
        return self.meta.name

    def to_mapping(self) -> dict[str, Any]:
        """Plain data, ready for TOML or JSON (the exact inputs of a run, for provenance)."""
        return to_mapping(self)

    def resized(self, households: int) -> Scenario:
        """The same community with another number of households.

        Everything per household or per m2 stays; the community's absolute amounts scale with
        its size (public income now and in the history, and in scheduled changes), so that a
        smaller copy of an estate runs like the estate, not like one with several times its
        public income per household.
        """
        factor = households / self.community.households
        key = "firm.public_income_yuan_month"
        schedule = tuple(
            Change(c.month, {k: (v * factor if k == key else v) for k, v in c.set.items()})
            for c in self.schedule
        )
        return self.with_changes(
            **{
                "community.households": int(households),
                key: self.firm.public_income_yuan_month * factor,
                "history.public_income_yuan_month": self.history.public_income_yuan_month * factor,
                "schedule": schedule,
            }
        )

    def with_changes(self, **changes: Any) -> Scenario:
        """Copy with fields changed by dotted path, validated exactly as loading a file is.

        Parameters
        ----------
        **changes
            ``path=value`` pairs (pass dotted paths as ``**{"a.b": v}``). A path names any
            field, table or array entry: ``"simulation.months"``, ``"proposals[0].step_pct"``,
            ``"community.building_types[1].fee_per_m2"``, ``"government.renovations[0].month"``,
            ``"proposals[0]"`` (a :class:`Proposal` or a table), ``"campaigns"`` (a whole
            array). Every path a sensitivity factor accepts is accepted here, with the same
            effect. Giving a proposal's ``step_pct``, ``step_yuan`` or ``new_fee_per_m2`` clears
            the other two. The checks run once, after all changes.

        Returns
        -------
        Scenario

        Raises
        ------
        ConfigError
            For an unknown path, an index beyond the entries the scenario has (saying how many
            there are), or a value the file loader would refuse; the message names the path,
            the value and what is allowed.

        Examples
        --------
        >>> Scenario().with_changes(**{"simulation.months": 12}).simulation.months
        12
        """
        return edit(self, changes)


def scenario_from_mapping(
    data: dict[str, Any], *, base_dir: str | os.PathLike[str] = "."
) -> Scenario:
    """Validate parsed TOML data into a :class:`Scenario`.

    The ``[behaviour]`` table overrides single coefficients of the default (fitted) behaviour,
    or of the file named by ``simulation.params`` (relative to ``base_dir``).
    """
    if not isinstance(data, dict):
        # the type's name, not the whole value (a parsed file may be long)
        raise fail("scenario", data, _("a table")).with_message(
            _("{key}: got {value}; expected {expected}").format(
                key="scenario", value=type(data).__name__, expected=_("a table")
            )
        )
    data = dict(data)
    sim = data.get("simulation", {})
    params_file = sim.get("params") if isinstance(sim, dict) else None
    if isinstance(params_file, str):
        path = Path(params_file)
        if not path.is_absolute():
            path = Path(base_dir) / path
        base = load_params_file(path)
    else:
        base = default_behaviour()
    data["behaviour"] = with_coefficients(base, data.get("behaviour", {}))
    return from_mapping(Scenario, data)


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario TOML file.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid TOML, or fails validation; the message names the
        file and the field.
    """
    p = Path(path)
    data = read_toml(p, "scenario")
    try:
        return scenario_from_mapping(data, base_dir=p.parent)
    except ConfigError as exc:
        # the file's name in front; the key stays the one within the file
        raise exc.with_message(_("{file}: {message}").format(file=p, message=exc)) from None
