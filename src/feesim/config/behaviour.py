"""Behavioural coefficients: how households perceive, trust, pay, complain and vote.

These are the model's *uncertainties*: nobody sets them, the calibration estimates them
(``feesim calibrate``). The defaults below are judgement, documented with the evidence that
shaped them; the package uses the newest fitted parameter file instead when one is shipped
(:func:`default_behaviour`).

Logit coefficients act on centred inputs (satisfaction - 0.5, trust - 0.5, ...) so intercepts
read as the log-odds of a household at the middle of every scale.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feesim.config.params import from_mapping, param, to_mapping
from feesim.errors import ConfigError
from feesim.io import read_toml

__all__ = [
    "Behaviour",
    "default_behaviour",
    "fitted_params_files",
    "load_params_file",
    "with_coefficients",
]

log = logging.getLogger(__name__)

_FF = "Fischbacher, Gaechter & Fehr 2001 (domain-rules 4.2)"
_HABIT = "Chang 2025 HKU thesis: past payment predicts payment (domain-rules 4.1)"
_PROCESS = (
    "judgement: one event leaves a small, fading trace (governance_half_life_months); what "
    "lasts is what residents then see; seed 003 credits a cost review with acceptance of the "
    "fee (approval: disclosure_learning, approve_process), not with payment"
)


@dataclass(frozen=True)
class Behaviour:
    """Household behaviour parameters (all uncertainties)."""

    # -- perception and satisfaction ---------------------------------------------------------
    perception_lag: float = param(
        0.35,
        unit="1/month",
        lo=0.01,
        hi=1,
        kind="uncertainty",
        doc="share of the gap between delivered and perceived service closed each month",
    )
    quality_bias_sd: float = param(
        0.08,
        unit="quality points",
        lo=0,
        hi=0.5,
        kind="uncertainty",
        doc="spread of households' fixed perception offsets around the community's view",
    )
    anchor_months: float = param(
        24.0,
        unit="months",
        lo=1,
        hi=240,
        kind="uncertainty",
        doc="time over which residents get used to a new service or fee level",
    )
    disclosure_learning: float = param(
        0.5,
        unit="share",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="share of the gap between residents' fair fee and the true cost of full service "
        "closed by an audit or third-party price assessment (half for posted accounts)",
        source="seed 002: 'explain with clear figures what the service costs'; seed 003",
    )
    sat_level: float = param(
        1.0,
        unit="satisfaction per quality point",
        lo=0,
        hi=10,
        kind="uncertainty",
        doc="weight of quality against what the fee should buy (quality-price match)",
        source="Shanghai Provisions Art. 48 principle of quality-price match",
    )
    sat_trend: float = param(
        1.5,
        unit="satisfaction per quality point",
        lo=0,
        hi=10,
        kind="uncertainty",
        doc="weight of visible change of service against what residents are used to",
        source="seeds 000/003: residents refuse to pay when they see cuts",
    )
    sat_price: float = param(
        0.8,
        unit="satisfaction per relative fee rise",
        lo=0,
        hi=10,
        kind="uncertainty",
        doc="dissatisfaction per relative rise of the fee above the fee residents are used to",
    )
    # -- trust -------------------------------------------------------------------------------
    trust_sd: float = param(
        0.12,
        unit="trust points",
        lo=0,
        hi=0.5,
        kind="uncertainty",
        doc="spread of households' trust dispositions",
    )
    trust_adjust: float = param(
        0.06,
        unit="1/month",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="speed at which community trust follows satisfaction and governance (0.06: half "
        "the gap closed in about 11 months)",
    )
    governance_half_life_months: float = param(
        24.0,
        unit="months",
        lo=1,
        hi=240,
        kind="uncertainty",
        doc="half-life of what a governance event (disclosure, audit, meetings, evaluation, "
        "rollback, exit) leaves in community trust",
        source="judgement: trust built by a process fades when nothing follows it",
    )
    personal_half_life_months: float = param(
        12.0,
        unit="months",
        lo=1,
        hi=240,
        kind="uncertainty",
        doc="half-life of a household's personal trust experience (a door-to-door visit, a "
        "suit) relative to its disposition",
        source="judgement",
    )
    trust_satisfaction: float = param(
        0.5,
        unit="trust per satisfaction point",
        lo=0,
        hi=5,
        kind="uncertainty",
        doc="trust the community settles at per point of mean satisfaction",
        source="Huang, Chen & Chen (Taiwan): trust drives renewal (domain-rules 4.1)",
    )
    trust_disclosure: float = param(
        0.02,
        unit="trust points",
        lo=0,
        hi=0.5,
        kind="uncertainty",
        doc="trust gained when the firm posts its accounts before a proposal",
        source=_PROCESS,
    )
    trust_audit: float = param(
        0.03,
        unit="trust points",
        lo=0,
        hi=0.5,
        kind="uncertainty",
        doc="trust gained from a third-party audit or price assessment",
        source=_PROCESS,
    )
    trust_negotiation: float = param(
        0.03,
        unit="trust points",
        lo=0,
        hi=0.5,
        kind="uncertainty",
        doc="trust gained from fee negotiation meetings (price joint meetings)",
        source=_PROCESS,
    )
    trust_evaluation: float = param(
        0.0,
        unit="trust points",
        lo=0,
        hi=0.2,
        kind="uncertainty",
        doc="trust gained each time a resident evaluation is held, beyond what it makes the "
        "firm do (rectification, rollback) and residents then see",
        source="judgement: no source quantifies it; held every six months, any positive value "
        "is a standing trust gain (bounded by the governance stock's cap)",
    )
    trust_rollback: float = param(
        -0.05,
        unit="trust points",
        lo=-0.5,
        hi=0.5,
        kind="uncertainty",
        doc="trust change when a step is rolled back after a bad evaluation: the service "
        "promised with it was not delivered",
        source="model.md: broken promises cost trust",
    )
    trust_broken_promise: float = param(
        -0.10,
        unit="trust points per unit of quality",
        lo=-1,
        hi=0,
        kind="uncertainty",
        doc="trust change at a resident evaluation per unit of promised service not delivered "
        "(a package voted with a step, a commitment ahead of a vote)",
        source="model.md: broken promises cost trust",
    )
    trust_exit: float = param(
        -0.10,
        unit="trust points",
        lo=-1,
        hi=0,
        kind="uncertainty",
        doc="trust change when the firm leaves",
    )
    trust_new_firm: float = param(
        0.06,
        unit="trust points",
        lo=0,
        hi=0.5,
        kind="uncertainty",
        doc="trust gained when a new firm or a renewed team arrives",
        source="seed 001: staff overhaul before any increase",
    )
    trust_sued: float = param(
        -0.25,
        unit="trust points",
        lo=-1,
        hi=0,
        kind="uncertainty",
        doc="personal trust change of a household the firm takes to court",
        source="Beijing 2005: 68.3% said relations worsened after enforcement (domain-rules 2.1)",
    )
    trust_visit: float = param(
        0.05,
        unit="trust points",
        lo=0,
        hi=0.2,
        kind="uncertainty",
        doc="personal trust gained from a door-to-door visit (fades with "
        "personal_half_life_months)",
        source="judgement: domain-rules C.4: visits act through attention, norms and trust, but "
        "no effect size is documented (F: known gaps); 0.05 is of the order of an audit's "
        "effect on community trust (trust_audit) and a fifth of a suit's (trust_sued)",
    )
    fresh_start: float = param(
        0.3,
        unit="share",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="share of the way every household's payment record moves back to neutral when a "
        "new firm, a new team or the district's provider takes over: non-payment aimed at the "
        "old firm is partly forgiven, and the newcomer brings the bill to every door",
        source="judgement, to be pinned by takeovers at an unchanged fee (cases_more N22, N29, "
        "N35; cases B35: collection recovers within one to three years)",
    )
    # -- payment -----------------------------------------------------------------------------
    pay_intercept_cc: float = param(
        1.4,
        unit="log-odds",
        lo=-10,
        hi=10,
        kind="uncertainty",
        doc="payment log-odds of a conditional cooperator at mid scales",
        source=_FF,
    )
    pay_intercept_fr: float = param(
        -0.4,
        unit="log-odds",
        lo=-10,
        hi=10,
        kind="uncertainty",
        doc="payment log-odds of a free rider at mid scales",
        source=_FF,
    )
    pay_intercept_up: float = param(
        4.5,
        unit="log-odds",
        lo=-10,
        hi=15,
        kind="uncertainty",
        doc="payment log-odds of an unconditional payer",
        source=_FF,
    )
    pay_habit: float = param(
        2.0,
        unit="log-odds per habit point",
        lo=0,
        hi=20,
        kind="uncertainty",
        doc="weight of the household's own payment record",
        source=_HABIT,
    )
    habit_memory: float = param(
        0.15,
        unit="1/month",
        lo=0.001,
        hi=1,
        kind="uncertainty",
        doc="monthly weight of the latest payment outcome in the payment record",
    )
    pay_satisfaction: float = param(
        4.0,
        unit="log-odds per satisfaction point",
        lo=0,
        hi=30,
        kind="uncertainty",
        doc="weight of satisfaction (non-payment as protest) for conditional cooperators",
    )
    pay_satisfaction_fr: float = param(
        1.5,
        unit="log-odds per satisfaction point",
        lo=0,
        hi=30,
        kind="uncertainty",
        doc="weight of satisfaction for free riders",
    )
    pay_trust: float = param(
        5.0,
        unit="log-odds per trust point",
        lo=0,
        hi=30,
        kind="uncertainty",
        doc="weight of trust in firm and committee",
    )
    pay_norm: float = param(
        3.0,
        unit="log-odds per neighbour share",
        lo=0,
        hi=30,
        kind="uncertainty",
        doc="weight of the share of stairwell neighbours paying, conditional cooperators",
        source=_FF + "; Hallsworth et al. 2017 descriptive norms",
    )
    pay_norm_fr: float = param(
        0.5,
        unit="log-odds per neighbour share",
        lo=0,
        hi=30,
        kind="uncertainty",
        doc="weight of neighbours paying for free riders",
    )
    undermatch: float = param(
        0.05,
        unit="share",
        lo=0,
        hi=0.5,
        kind="uncertainty",
        doc="how far conditional cooperators fall short of the share they see paying",
        source="Fischbacher & Gaechter 2010: imperfect conditional cooperation",
    )
    pay_burden: float = param(
        15.0,
        unit="log-odds per bill/income",
        lo=0,
        hi=500,
        kind="uncertainty",
        doc="weight of the monthly bill as a share of household income",
    )
    pay_enforcement: float = param(
        0.8,
        unit="log-odds at full deterrence",
        lo=0,
        hi=10,
        kind="uncertainty",
        doc="response of conditional cooperators and payers to legal deterrence (0-1, grows "
        "with the suits residents see) and to a legal demand",
    )
    pay_enforcement_fr: float = param(
        2.0,
        unit="log-odds at full deterrence",
        lo=0,
        hi=10,
        kind="uncertainty",
        doc="response of free riders to legal deterrence and a legal demand (they pay mainly "
        "under it)",
        source=_FF,
    )
    deterrence_suits: float = param(
        1.0,
        unit="suits per 100 households",
        lo=0.01,
        hi=100,
        kind="uncertainty",
        doc="suits residents have seen (per 100 households, fading with "
        "deterrence_half_life_months) at which legal deterrence is half its full strength; "
        "deterrence = seen / (seen + this)",
        source="judgement: a few suits in a thousand households are talked about, not feared "
        "(issue 14); Tianjin Xidi: 400 suits in ~1,500 households with most still refusing "
        "(domain-rules 2.1)",
    )
    deterrence_half_life_months: float = param(
        6.0,
        unit="months",
        lo=0.5,
        hi=120,
        kind="uncertainty",
        doc="half-life of the suits residents remember seeing (deterrence fades when suits stop)",
        source="judgement",
    )
    pay_endorsement: float = param(
        1.5,
        unit="log-odds",
        lo=0,
        hi=6,
        kind="uncertainty",
        doc="payment of a household whose owner voted for the fee step in force: the owners "
        "agreed the price, so non-payment loses its protest reason (fades with "
        "endorsement_half_life_months; voided by a rollback)",
        source="seed 002: after the voted +29% step residents paid 97%, 'a vote of trust'; "
        "Dal Bo, Foster & Putterman (2010, AER 100(5)) find cooperation higher under a rule the "
        "group chose than under the same rule imposed; size left to the calibration",
    )
    endorsement_half_life_months: float = param(
        24.0,
        unit="months",
        lo=1,
        hi=240,
        kind="uncertainty",
        doc="half-life of the commitment of an owner who voted for the fee in force",
        source="judgement: one billing year to two (design/model.md: accumulating states relax)",
    )
    pay_persuasion: float = param(
        1.0,
        unit="log-odds",
        lo=0,
        hi=10,
        kind="uncertainty",
        doc="effect of a volunteer's or cadre's personal visit on paying",
        source="effect size undocumented (domain-rules F): exposed as a parameter",
    )
    campaign_door: float = param(
        -2.0,
        unit="log-odds",
        lo=-10,
        hi=10,
        kind="uncertainty",
        doc="step 1 of a campaign: the firm brings the bill to every door (one round)",
        source="seed 004: >70% paid 12 days after the bills were delivered door to door",
    )
    campaign_grid: float = param(
        -1.5,
        unit="log-odds",
        lo=-10,
        hi=10,
        kind="uncertainty",
        doc="step 2: second round by micro-grid with phone and WeChat",
        source="seed 004",
    )
    campaign_volunteer: float = param(
        -1.5,
        unit="log-odds",
        lo=-10,
        hi=10,
        kind="uncertainty",
        doc="step 3: building volunteers contact refusers (plus pay_persuasion where a "
        "volunteer lives in the stairwell)",
        source="seed 004: 90% paid 30 days after billing",
    )
    campaign_committee: float = param(
        -1.0,
        unit="log-odds",
        lo=-10,
        hi=10,
        kind="uncertainty",
        doc="step 4: residents' committee and subdistrict office one by one (plus pay_persuasion)",
        source="seed 004: after three steps fewer than 10% had not paid",
    )
    # -- complaints --------------------------------------------------------------------------
    complaint_intercept: float = param(
        -7.0,
        unit="log-odds",
        lo=-20,
        hi=0,
        kind="uncertainty",
        doc="monthly hotline-complaint log-odds of a household at mid satisfaction",
        source="AGG-12: about 14 valid complaints per community per year in 2018",
    )
    complaint_dissatisfaction: float = param(
        6.0,
        unit="log-odds per satisfaction point",
        lo=0,
        hi=50,
        kind="uncertainty",
        doc="rise in complaint log-odds per point of satisfaction below 0.5",
    )
    complaint_cut: float = param(
        8.0,
        unit="log-odds per quality point",
        lo=0,
        hi=50,
        kind="uncertainty",
        doc="rise in complaint log-odds per point of visible service cut",
    )
    # -- the owners' vote --------------------------------------------------------------------
    turnout_intercept: float = param(
        -0.6,
        unit="log-odds",
        lo=-10,
        hi=10,
        kind="uncertainty",
        doc="participation log-odds of an owner at mid engagement with no outreach",
    )
    turnout_engagement: float = param(
        3.0,
        unit="log-odds per engagement point",
        lo=0,
        hi=20,
        kind="uncertainty",
        doc="weight of engagement on participation",
    )
    turnout_visit: float = param(
        1.5,
        unit="log-odds",
        lo=0,
        hi=10,
        kind="uncertainty",
        doc="participation gain from a door-to-door ballot visit",
        source="ecpmi 2023: stalls, door-to-door delivery and registered mail reach 2/3",
    )
    approve_intercept: float = param(
        0.0,
        unit="log-odds",
        lo=-10,
        hi=10,
        kind="uncertainty",
        doc="approval log-odds at mid satisfaction and trust for a zero step",
    )
    approve_trust: float = param(
        3.0,
        unit="log-odds per trust point",
        lo=0,
        hi=30,
        kind="uncertainty",
        doc="weight of trust in firm and committee on approval",
    )
    approve_satisfaction: float = param(
        2.5,
        unit="log-odds per satisfaction point",
        lo=0,
        hi=30,
        kind="uncertainty",
        doc="weight of current satisfaction on approval",
    )
    approve_step: float = param(
        3.0,
        unit="log-odds per relative step",
        lo=0,
        hi=30,
        kind="uncertainty",
        doc="loss of approval per relative fee step (0.3 = +30%)",
        source="cases.csv Tier A/B: approval 0.56 to 0.9 for steps of +15% to +120%; the "
        "calibration's prior is N11a's tier choice, 4.7 (calibration/README.md 8.10)",
    )
    approve_burden: float = param(
        20.0,
        unit="log-odds per bill/income",
        lo=0,
        hi=500,
        kind="uncertainty",
        doc="loss of approval per rise of the monthly bill as a share of income",
    )
    approve_package: float = param(
        3.0,
        unit="log-odds per promised quality point",
        lo=0,
        hi=30,
        kind="uncertainty",
        doc="approval gained per point of promised service, scaled by trust (credibility)",
    )
    approve_quality_gain: float = param(
        5.0,
        unit="log-odds per quality point",
        lo=0,
        hi=50,
        kind="uncertainty",
        doc="approval gained per point of service already improved and seen (quality first)",
        source="seeds 000/001: quality first, then price",
    )
    approve_process: float = param(
        0.3,
        unit="log-odds per process step",
        lo=0,
        hi=5,
        kind="uncertainty",
        doc="approval gained per process step (disclosure, audit, negotiation, trial, renovation)",
    )
    approve_norm: float = param(
        1.5,
        unit="log-odds per neighbour share",
        lo=0,
        hi=20,
        kind="uncertainty",
        doc="weight of the stairwell group's leaning in each persuasion round",
    )
    approve_visit: float = param(
        0.5,
        unit="log-odds",
        lo=0,
        hi=10,
        kind="uncertainty",
        doc="approval gained from a door-to-door persuasion visit",
        source="seed 001: door-to-door talks with strong opponents",
    )
    leader_lean: float = param(
        1.5,
        unit="log-odds",
        lo=0,
        hi=10,
        kind="uncertainty",
        doc="extra approval and payment log-odds of floor leaders, party members, volunteers",
    )
    # -- engagement --------------------------------------------------------------------------
    engagement_absentee: float = param(
        -0.25,
        unit="engagement points",
        lo=-1,
        hi=0,
        kind="uncertainty",
        doc="engagement of absentee owners (units let out) relative to owner-occupiers",
    )
    absentee_response: float = param(
        0.5,
        unit="share",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="weight of the service in an absentee owner's payment decision, relative to an "
        "owner-occupier's (they see less of it; they owe the fee all the same)",
        source="judgement (no figure in the sources); Civil Code Art. 944: not using the "
        "service is no ground to refuse the fee (domain-rules 2.1); owners who do not live "
        "there keep a stake through the unit's price (domain-rules C.5)",
    )
    absentee_reach: float = param(
        0.5,
        unit="share",
        lo=0,
        hi=1,
        kind="uncertainty",
        doc="chance that a door-to-door round (ballots, persuasion) or a campaign round reaches "
        "an absentee owner, relative to an owner-occupier",
        source="judgement; Beijing 2019: paper voting needs door-to-door collection and 'often "
        "people are not at home' (domain-rules 1.4)",
    )
    engagement_trust: float = param(
        0.4,
        unit="engagement per trust point",
        lo=0,
        hi=2,
        kind="uncertainty",
        doc="engagement gained per point of trust",
    )

    def _validate(self, path: str) -> None:
        """No cross-field rules beyond the per-field bounds."""


_VERSION_RE = re.compile(r"params-(\d+(?:\.\d+)*)\.toml$")


def _shipped_fitted_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent
    # ``feesim/_fitted`` is a symbolic link to ``calibration/fitted`` in the source tree and a
    # real folder in an installed wheel (package data); the source tree's folder is also looked
    # up directly in case a checkout did not keep the link.
    return [here.parent / "_fitted", here.parents[2] / "calibration" / "fitted"]


def fitted_params_files() -> list[Path]:
    """Fitted parameter files, oldest to newest by version number.

    Looks in ``$FEESIM_FITTED_DIR`` if set, else in the fit shipped with the package
    (``calibration/fitted`` of the source tree, ``feesim/_fitted`` of an installed wheel).
    """
    env = os.environ.get("FEESIM_FITTED_DIR")
    candidates = [Path(env)] if env else _shipped_fitted_dirs()
    folder = next((c for c in candidates if c.is_dir()), None)
    if folder is None:
        return []
    found = []
    for p in folder.glob("params-*.toml"):
        m = _VERSION_RE.search(p.name)
        if m:
            found.append((tuple(int(x) for x in m.group(1).split(".")), p))
    return [p for _, p in sorted(found)]


def load_params_file(path: str | os.PathLike[str]) -> Behaviour:
    """Load the ``[behaviour]`` table of a fitted parameter file.

    Raises
    ------
    ConfigError
        If the file is missing, is not TOML, or holds unknown or invalid coefficients.
    """
    p = Path(path)
    try:
        data = read_toml(p, "parameter")
    except ConfigError as exc:
        raise ConfigError(f"behaviour.params: {exc}") from None
    table = data.get("behaviour")
    if not isinstance(table, dict):
        raise ConfigError(f"behaviour.params: {str(p)!r} has no [behaviour] table")
    return from_mapping(Behaviour, table, path="behaviour")


@functools.cache
def _cached_default(marker: tuple[str, ...]) -> Behaviour:
    if marker:
        log.debug("behaviour defaults from %s", marker[-1])
        return load_params_file(marker[-1])
    # Only when FEESIM_FITTED_DIR names an empty folder or the package was built without its fit.
    log.warning(
        "no fitted parameter file found (set FEESIM_FITTED_DIR to a folder of "
        "params-<version>.toml files); using the judgement defaults of feesim.config.behaviour"
    )
    return Behaviour()


def default_behaviour() -> Behaviour:
    """The package's default behaviour: the newest fitted file if any, else the judgement above."""
    files = fitted_params_files()
    return _cached_default(tuple(str(f) for f in files[-1:]))


def with_coefficients(
    base: Behaviour, coefficients: Mapping[str, Any], *, path: str = "behaviour"
) -> Behaviour:
    """``base`` with single coefficients replaced, validated as a ``[behaviour]`` table is.

    The one way a table of coefficients goes on top of a behaviour: a scenario's or community
    file's ``[behaviour]`` on the default or fitted one, an ensemble member's values on its
    file's base, a scenario's own coefficients on each member of an ensemble.

    Parameters
    ----------
    base : Behaviour
    coefficients : mapping
        ``{name: value}``; names must be fields of :class:`Behaviour`.
    path : str
        Where the table is, for error messages.

    Raises
    ------
    ConfigError
        For an unknown coefficient (naming the allowed ones) or a value out of its bounds.
    """
    if not isinstance(coefficients, Mapping):
        raise ConfigError(f"{path}: got {coefficients!r}; expected a table")
    if not coefficients:
        return base
    return from_mapping(Behaviour, {**to_mapping(base), **coefficients}, path=path)


def behaviour_mapping(b: Behaviour) -> dict[str, float]:
    """Plain ``{name: value}`` of a behaviour object."""
    return to_mapping(b)
