"""From a community file to the model: the status quo and the proposal, ready to forecast.

:func:`load_forecast_input` reads either a community file (schema in
:mod:`feesim.studies.forecast.community`) or a full scenario file (such as
``examples/xianghe_2025.toml``) into a :class:`ForecastInput`: the scenario without the
proposal (the status quo) and the fee proposal put to the owners. In a scenario file the first
``[[proposals]]`` entry with ``matter = "fee"`` is the proposal, and the status quo is the same
scenario without it. :func:`community_to_input` turns a parsed community file into the
:class:`feesim.config.scenario.Scenario` fields (buildings, community, committee, government, the
proposal and the vote month).

How the firm's disclosure maps onto the model's firm (:class:`feesim.config.scenario.Firm`):

- ``staff`` (people on site) and the service quality they deliver now (``service_quality``,
  default: the quality of the contracted ``service_tier``) give the staff the full liveable
  standard needs: ``staff_per_10k_m2 = staff / x / area * 1e4``, where ``x`` is the share of
  liveable staffing that delivers ``quality`` under the firm's management
  (:func:`feesim.engine.rules.firm.staffing_for_quality`);
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from feesim.config.behaviour import Behaviour, default_behaviour, with_coefficients
from feesim.config.params import edit, fail, from_mapping, to_mapping
from feesim.config.scenario import (
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
from feesim.engine.rules.firm import staffing_for_quality
from feesim.errors import ConfigError
from feesim.i18n import N_
from feesim.i18n import gettext as _
from feesim.io import read_toml
from feesim.studies.forecast.community import (
    _COMMUNITY_MARKERS,
    _MONTH_RE,
    _SCENARIO_MARKERS,
    AREA_SD_SHARE,
    DEFAULT_UNIT_AREA,
    EQUIPMENT_LIFTS,
    FULL_FEE_LIFTS,
    FULL_FEE_NO_LIFTS,
    PROPOSAL_KEYS,
    CommunityFile,
    FirmInfo,
    _err,
    _fmt,
    missing_fields,
)
from feesim.studies.forecast.ensemble import local_overrides

__all__ = [
    "DEFAULT_NOTES",
    "ForecastInput",
    "community_to_input",
    "default_note",
    "load_forecast_input",
    "read_default_note",
]

#: Notes of the defaults a community file leaves to the mapping (``ForecastInput.defaults``):
#: English templates, marked for translation, so that the report can say them in the
#: language in force (:func:`default_note`, :func:`read_default_note`).
DEFAULT_NOTES: dict[str, str] = {
    "area_m2": N_("default: households x {area} m2"),
    "lifts": N_("default: inferred from the type name"),
    "full_service_fee": N_("default: AGG-07, by lifts"),
    "equipment_cost_per_m2": N_("default: by lifts"),
    "staff": N_("derived from annual_cost_yuan at the default materials share {share}"),
    "service_quality": N_(
        "default: the quality of the tier '{tier}' (the disclosed staff deliver it)"
    ),
}


def default_note(key: str, **values: object) -> str:
    """The English note of default ``key`` of :data:`DEFAULT_NOTES`, filled in."""
    return DEFAULT_NOTES[key].format(**values)


def read_default_note(note: str) -> tuple[str, dict[str, str]] | None:
    """The template of :data:`DEFAULT_NOTES` that ``note`` fills in, and its values (or None)."""
    for template in DEFAULT_NOTES.values():
        parts = re.split(r"\{(\w+)\}", template)
        pattern = "".join(
            re.escape(p) if k % 2 == 0 else f"(?P<{p}>.+?)" for k, p in enumerate(parts)
        )
        m = re.fullmatch(pattern, note)
        if m:
            return template, m.groupdict()
    return None


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
    package : str
        The service package in words (a community file's ``[proposal] package``; shown in the
        report).
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
    package: str = ""

    # -- plain data (saved with a forecast) -----------------------------------------------------
    def to_mapping(self) -> dict[str, Any]:
        """Plain data, ready for JSON; :meth:`from_mapping` gives the same input back."""
        return {
            "name": self.name,
            "status_quo": self.status_quo.to_mapping(),
            "proposal": to_mapping(self.proposal),
            "motion_key": self.motion_key,
            "source": self.source,
            "file_format": self.file_format,
            "defaults": list(self.defaults),
            "months_after_vote": self.months_after_vote,
            "local_behaviour": dict(self.local_behaviour),
            "package": self.package,
        }

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> ForecastInput:
        """The input :meth:`to_mapping` described (scenario and proposal validated)."""
        return cls(
            name=data["name"],
            status_quo=from_mapping(Scenario, data["status_quo"]),
            proposal=from_mapping(Proposal, data["proposal"], path="proposal"),
            motion_key=int(data["motion_key"]),
            source=data["source"],
            file_format=data["file_format"],
            defaults=tuple(data["defaults"]),
            months_after_vote=int(data["months_after_vote"]),
            local_behaviour=dict(data["local_behaviour"]),
            package=str(data.get("package", "")),
        )

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

        Nothing attached: no service promise, package, menu of service levels, quality first,
        trial, renovation, campaign or release of public income, and no process either (no
        disclosure, audit or assessment, no negotiation meetings, no door-to-door rounds), for
        the model moves trust and payment with these alone. Such a proposal is not put to a
        vote: the forecast's proposal branch is then the status quo itself (see
        :mod:`feesim.studies.forecast.engine`).
        """
        p = self.proposal if proposal is None else proposal
        same_fee = bool(np.allclose(self.new_fees(p), self.current_fees, rtol=0, atol=1e-12))
        return (
            same_fee
            and p.service_quality == 0
            and not p.packages
            and not p.menu
            and p.quality_first_months == 0
            and p.trial_months == 0
            and not p.renovation_bundled
            and p.campaign_steps == 0
            and not p.release_public_income
            and p.disclosure == "none"
            and not p.negotiation_meetings
            and p.door_to_door_rounds == 0
        )

    def process_only(self) -> Proposal:
        """The proposal's process without its step: what the decomposition compares against.

        The same announcement, disclosure or audit, meetings and door-to-door rounds, voted on
        at the same month, but the fees unchanged and nothing bought with them (no service
        package, menu of service levels, quality first, trial, works, campaign or release of
        public income). The difference between it and the status quo is what the process does;
        the difference between the proposal and it is what the step and its package (or the
        menu's options) do.
        """
        p = self.proposal
        return dataclasses.replace(
            p,
            new_fee_per_m2=None,
            step_pct=0.0,
            step_yuan=None,
            service_quality=0.0,
            packages=(),
            menu=(),
            quality_first_months=0,
            trial_months=0,
            renovation_bundled=False,
            campaign_steps=0,
            release_public_income=False,
        )

    def scenario(self, proposal: Proposal | None = None) -> Scenario:
        """The scenario with the proposal (or ``proposal``) inserted at its place.

        Raises
        ------
        ConfigError
            For a proposal the scenario refuses, naming the key as the input file wrote it
            (``proposal.audit`` in a community file, ``proposals[k].disclosure`` in a scenario
            file).
        """
        p = self.proposal if proposal is None else proposal
        props = list(self.status_quo.proposals)
        props.insert(self.motion_key, p)
        try:
            return self.status_quo.with_changes(proposals=tuple(props))
        except ConfigError as exc:
            raise self._user_keys(exc) from None

    def _user_keys(self, exc: ConfigError) -> ConfigError:
        """An error about the proposal, with its field named as the input file names it.

        Every error of the scenario layer, a field's or a cross-field rule's, keeps its key,
        value and expectation (:func:`feesim.config.params.fail`): the rename reads them, not
        the message, which is in the language in force.
        """
        message = _("{key}: {message}").format(key="proposal", message=exc)
        if self.file_format != "community":
            return exc.with_message(message)  # proposals[k] is the scenario file's own key
        prefix = f"proposals[{self.motion_key}]."
        field = exc.key[len(prefix) :] if exc.key and exc.key.startswith(prefix) else None
        key = PROPOSAL_KEYS.get(field) if field else None
        if key is None or exc.expected is None:
            return ConfigError(message)  # no key of the community file says it
        return fail(f"proposal.{key}", exc.value, exc.expected)

    def with_proposal(self, **changes: Any) -> ForecastInput:
        """Copy with proposal fields changed (validated).

        Giving ``new_fee_per_m2``, ``step_pct`` or ``step_yuan`` replaces the proposal's other
        way of stating its new fee (:meth:`Scenario.with_changes` rules).
        """
        p = edit(self.proposal, changes, path="proposal")
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
                _("a fee for each building type: {types}").format(types=", ".join(names)),
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
            raise _err("step", step, _("a step that leaves every fee >= 0"))
        return self.with_proposal(
            new_fee_per_m2={n: float(f) for n, f in zip(self.building_names, fees, strict=True)}
        )


# ==============================================================================================
# loading and mapping
# ==============================================================================================
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
                _(
                    "tables {community} (community file) and {scenario} (scenario file) are "
                    "mixed; expected one format"
                ).format(
                    community=sorted(keys & _COMMUNITY_MARKERS),
                    scenario=sorted(keys & _SCENARIO_MARKERS),
                )
            )
        if is_comm:
            return community_to_input(data, source=str(p), months_after_vote=months_after_vote)
        if is_scen:
            return _scenario_to_input(data, p, months_after_vote)
        raise ConfigError(
            _(
                "neither a community file (tables [community], [[buildings]], [proposal]) nor a "
                "scenario file (tables [simulation], [community], [[proposals]]); found tables "
                "{tables}"
            ).format(tables=sorted(keys) or _("none"))
        )
    except ConfigError as exc:
        raise ConfigError(_("{file}: {message}").format(file=p, message=exc)) from None


def _scenario_to_input(
    data: dict[str, Any], path: Path, months_after_vote: int | None
) -> ForecastInput:
    scenario = scenario_from_mapping(data, base_dir=path.parent)
    fee_idx = [i for i, pr in enumerate(scenario.proposals) if pr.matter == "fee"]
    if not fee_idx:
        raise _err(
            "proposals",
            [pr.matter for pr in scenario.proposals],
            _("at least one [[proposals]] entry with matter = 'fee' (the step to forecast)"),
        )
    k = fee_idx[0]
    after = 36 if months_after_vote is None else months_after_vote
    proposal = scenario.proposals[k]
    months = max(scenario.simulation.months, proposal.month + after)
    rest = tuple(pr for i, pr in enumerate(scenario.proposals) if i != k)
    status_quo = scenario.with_changes(**{"proposals": rest, "simulation.months": months})
    either = frozenset(f"proposals[{k}].{f}" for f in ("new_fee_per_m2", "step_pct", "step_yuan"))
    defaults = [
        d
        for d in missing_fields(Scenario, data, skip=either)
        if not d.startswith("proposals[") or d.startswith(f"proposals[{k}].")
    ]
    overrides = data.get("behaviour", {})
    n_beh = len(dataclasses.fields(Behaviour)) - len(overrides)
    noun = "coefficient" if n_beh == 1 else "coefficients"
    defaults.append(f"behaviour: {n_beh} {noun} from the package defaults")
    out = ForecastInput(
        name=scenario.meta.name,
        status_quo=status_quo,
        proposal=proposal,
        motion_key=k,
        source=str(path),
        file_format="scenario",
        defaults=tuple(defaults),
        months_after_vote=after,
        local_behaviour=local_overrides(scenario.behaviour),
    )
    out.scenario()
    return out


def _vote_month(vote: int | str, start: str, key: str = "proposal.vote") -> int:
    if isinstance(vote, int):
        if vote < 0:
            raise _err(key, vote, _("months after forecast.start (>= 0) or 'YYYY-MM'"))
        return vote
    m = _MONTH_RE.match(vote)
    if not m:
        raise _err(key, vote, _("a month as 'YYYY-MM' or a number of months"))
    y0, m0 = int(start[:4]), int(start[5:7])
    months = (int(m.group(1)) - y0) * 12 + int(m.group(2)) - m0
    if months < 0:
        raise _err(key, vote, _("a month at or after forecast.start ({start})").format(start=start))
    return months


def _check_horizon(given: int | str, vote: int, after: int, from_file: bool) -> None:
    """The vote plus the months after it must fit the simulation's longest horizon."""
    longest = _field(Simulation, "months").metadata["hi"]
    if vote + after > longest:
        what = "forecast.months_after_vote" if from_file else "--months-after-vote"
        raise _err(
            "proposal.vote",
            given,
            _(
                "a vote at most {most} months after forecast.start, so that the vote and the "
                "{after} months after it ({option}) fit in {longest} months"
            ).format(most=longest - after, after=after, option=what, longest=longest),
        )


def _field(cls: type, name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(cls) if f.name == name)


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
        raise _err("buildings[].households", households, _("at least 6 households in total"))
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
                _("a total giving 10-500 m2 per unit ({units} units)").format(units=b.households),
            )
        resolved = {
            "area_m2": (area, default_note("area_m2", area=f"{DEFAULT_UNIT_AREA:g}")),
            "lifts": (lifts, default_note("lifts")),
            "full_service_fee": (full, default_note("full_service_fee")),
            "equipment_cost_per_m2": (equip, default_note("equipment_cost_per_m2")),
        }
        for key, (val, why) in resolved.items():
            if key not in raw:
                defaults.append(f"buildings[{i}].{key} = {_fmt(val)}  # {why}")
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
            _("<= the months from forecast.start to the vote ({months})").format(months=vote),
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
    _check_horizon(prop.vote, vote, after, months_after_vote is None)
    if prop.step_percent is not None and prop.step_percent != 0:
        zero = [b.type for b in cf.buildings if b.fee == 0]
        if zero:
            raise _err(
                "proposal.step_percent",
                prop.step_percent,
                _(
                    "a step of buildings whose fee is not 0 ({types}: fee = 0, which a "
                    "percentage leaves at 0); give proposal.new_fee in yuan/m2/month instead"
                ).format(types=", ".join(zero)),
            )
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
        jurisdiction=c.jurisdiction,
        absentee_share=c.absentee_share,
        renter_share=c.renter_share,
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
    beh = with_coefficients(default_behaviour(), cf.behaviour)
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
        "schedule": _schedule(cf, fc.start, vote + after),
        # A community file describes the estate as it stands: its reported collection was
        # observed under its subsidy, public income, contract and trust (feesim.config.
        # scenario.History), which therefore do not act again on top of the report.
        "history": {
            "subsidy_per_m2": c.subsidy_yuan_per_m2,
            "public_income_yuan_month": c.public_income_yuan_month,
            "public_income_firm_share": c.public_income_to_firm,
            "contract": firm.contract,
            "trust": c.trust,
        },
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
        package=prop.package,
    )
    out.scenario()
    return out


def _schedule(cf: CommunityFile, start: str, months: int) -> list[dict[str, Any]]:
    """The file's ``[[schedule]]`` entries in months from ``start``, within the forecast.

    Raises
    ------
    ConfigError
        For a month at or after the forecast's end, naming it as the file wrote it.
    """
    y0, m0 = int(start[:4]), int(start[5:7])
    last = m0 - 1 + months - 1
    end = f"{y0 + last // 12}-{last % 12 + 1:02d}"
    out = []
    for i, ch in enumerate(cf.schedule):
        key = f"schedule[{i}].month"
        month = _vote_month(ch.month, start, key)
        if month >= months:
            raise _err(
                key,
                ch.month,
                _(
                    "a month from forecast.start to the forecast's last month, {end} (0-{last} "
                    "months after the start: the vote plus forecast.months_after_vote)"
                ).format(end=end, last=months - 1),
            )
        out.append({"month": month, "set": ch.set})
    return out


def _map_disclosure(firm: FirmInfo, draft: Scenario, defaults: list[str]) -> dict[str, Any]:
    """Firm fields from the disclosed staff, wage, cost and quality (module docstring)."""
    from feesim.engine.rules.government import min_wage_path

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
                _("0.5-5 times the minimum wage at the start ({wage} yuan/month)").format(
                    wage=f"{wage0:.0f}"
                ),
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
                _("more than the equipment cost ({cost} yuan/year)").format(
                    cost=f"{12 * equipment:,.0f}"
                ),
            )
        if staff is None:
            staff = running * (1 - d.materials_share) / per_staff
            defaults.append(
                f"firm.staff = {staff:.1f}  # " + default_note("staff", share=d.materials_share)
            )
        else:
            labour = staff * per_staff
            share = (running - labour) / running
            if not 0 <= share <= 0.9:
                raise _err(
                    "firm.annual_cost_yuan",
                    firm.annual_cost_yuan,
                    _(
                        "a cost leaving 0-90% for materials beside the wage bill of {labour} "
                        "yuan/year (staff x wage x (1 + social insurance)) and equipment of "
                        "{equipment} yuan/year"
                    ).format(labour=f"{12 * labour:,.0f}", equipment=f"{12 * equipment:,.0f}"),
                )
            out["materials_share"] = share
    if staff is not None:
        q = firm.service_quality
        if q is None:
            q = TIER_QUALITY[firm.service_tier]
            defaults.append(
                f"firm.service_quality = {q}  # "
                + default_note("service_quality", tier=firm.service_tier)
            )
        # The share of liveable staffing that delivers q, as the model's firm allocates it.
        x_now = float(staffing_for_quality(q, np.array([firm.management_quality]))[0])
        per10k = staff / x_now / area * 1e4
        if not 0.1 <= per10k <= 50:
            raise _err(
                "firm.staff",
                firm.staff if firm.staff is not None else round(staff, 1),
                _(
                    "a staff giving 0.1-50 staff per 10,000 m2 at full standard (got {per10k})"
                ).format(per10k=f"{per10k:.2f}"),
            )
        out["staff_per_10k_m2"] = per10k
        out["initial_quality"] = q
    return out
