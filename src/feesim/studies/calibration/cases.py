"""From a reported case to a scenario the model can run.

Every case is placed on one common calendar so that all cases run in one batch
(:class:`feesim.FeeModel` shares the calendar of a batch): the simulation starts in January 2024
(:data:`START`), the owners vote in November (month :data:`VOTE_MONTH`, a retry in December if
the quorum is missed) and a passed fee takes effect with the first bill of 2025 (month
:data:`EFFECTIVE_MONTH`). A collection figure observed ``m`` months after the new fee is read at
the end of month ``EFFECTIVE_MONTH + m - 1`` (year to date, as the sources report it).

What the sources say about a case becomes the scenario's levers; what they do not say is
filled with stated judgement (all in this module, listed in ``calibration/README.md``):

========================  =====================================================================
source                    scenario
========================  =====================================================================
fee before / after        building types with those fees (two types when both are given:
                          60% of units multi-storey, as in examples/xianghe_2025.toml);
                          a missing fee before is ``step_yuan / step_pct``, else the row's
                          ``assumed_fee_before``, else :data:`DEFAULT_FEE` by housing kind
step                      the proposal's ``step_pct`` (``new_fee_per_m2`` with two types)
quality first             service package delivered 6 months before the vote
firm replaced             a staff overhaul (new team) 6 months before the vote
renovation bundled        a renovation finishing 2 months before the vote (60 yuan/m2, 40%
                          government, quality boost 0.06, as in examples/quyang_path.toml) and the
                          proposal's ``renovation_bundled``
third-party audit         ``disclosure = "assessment"``; else, for a Shanghai step from 2021 on
                          (``flag_legal_audit`` of :mod:`~feesim.studies.calibration.data`),
                          ``"audit"``
                          (the legal minimum before a fixed-fee increase: Shanghai Provisions
                          Art. 48, 沪房规范〔2021〕6号 §15, also a validation rule of scenarios
                          and the choice of the curated examples); else disclosure
                          of accounts -> ``"accounts"``; else ``"none"``
negotiation meetings      ``negotiation_meetings``
trial period              3 months of the new service before the new fee (AGG-21: 2-3 months)
door to door              2 persuasion rounds reaching half the households each; else 1 round
                          at the scenario default reach
package                   promised service :data:`PACKAGE_QUALITY` (0.15 quality points) for every
                          fee step, whatever its size: the sources rarely quantify the package,
                          and a package tied to the step (as the first calibration had it, half
                          the step) makes bigger steps look better and leaves the step's own
                          effect on approval unidentified (Xianghe's +29% came with 0.15)
collection before         ``initial_collection_rate``; unknown: 0.80 (domain-rules B.7: old
                          estates 0.50-0.80, national 0.76-0.84), replaced during a fit by
                          the estimated nuisance parameter ``case_collection``
households                the reported number, at most :data:`MAX_HOUSEHOLDS` (shares do not
                          depend on size beyond sampling noise); unknown: the maximum
billing                   the row's ``billing``; unknown: quarterly (the scenario default)
cost level                the fee before the step is :data:`FEE_TO_FULL` (60%) of the
                          full-service fee, and the wage level is set so that full service
                          costs what that fee would pay at the firm's target margin and 95%
                          collection (see below)
========================  =====================================================================

Cost levels: the cases come from several cities and years whose wages are not in the sources,
and the model's firm costs are Shanghai's. Rather than costing a 2019 Tai'an estate at Shanghai
2024 wages, every case is put on a common footing: its fee before the step covers 60% of full
service (AGG-04: Jiading old-estate fees 0.45-0.60 against a cost above 1.0 yuan; AGG-08 and
AGG-07: old fees 0.4-0.8 against 1.15 for sold public housing; Xianghe 0.75 against 1.49 and
1.21 against 2.18), unless the source states the ratio of fee income to cost (Jiading A08-A10,
Anfeng B17); with two building types, the area-weighted mean fee of the types. Residents then
start equally (dis)satisfied everywhere, and cases differ by what the sources report: the step,
the process, quality first, the size, billing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from feesim.config.behaviour import Behaviour
from feesim.config.params import edit
from feesim.config.scenario import Firm, Scenario, scenario_from_mapping

__all__ = [
    "EFFECTIVE_MONTH",
    "MAX_HOUSEHOLDS",
    "MONTHS",
    "START",
    "VOTE_MONTH",
    "CaseDesign",
    "case_scenario",
    "observation_month",
]

START = "2024-01"
MONTHS = 24
VOTE_MONTH = 10
EFFECTIVE_MONTH = 12
QUALITY_FIRST_MONTHS = 6
#: Service promised with a fee step whose package the source does not quantify (quality
#: points; Xianghe's +29% bought 0.15, examples/xianghe_2025.toml). The same for every step.
PACKAGE_QUALITY = 0.15
TRIAL_MONTHS = 3
MAX_HOUSEHOLDS = 400
DEFAULT_COLLECTION = 0.80
#: Fee before a step when the source gives none (AGG-08: old estates 0.4-0.8; AGG-07 means).
DEFAULT_FEE = {
    "old_public": 0.6,
    "resettlement": 0.6,
    "old_commodity": 1.0,
    "commodity": 1.5,
    "mixed": 0.8,
    "unknown": 0.8,
}
#: Fee before a step as a share of the full-service fee (see the module docstring), unless the
#: source gives the ratio of fee income to cost (column ``fee_cost_ratio``).
FEE_TO_FULL = 0.6
#: Collection at which the full-service fee covers the firm's cost at its target margin.
FULL_FEE_COLLECTION = 0.95
MEAN_AREA = {"old_public": 50.0, "resettlement": 60.0, "commodity": 90.0}
SCENARIO_KIND = {"mixed": "old_public", "unknown": "old_commodity"}


@dataclass(frozen=True)
class CaseDesign:
    """A case row turned into a scenario, with where to read its outcomes.

    Attributes
    ----------
    obs_id, case_id : str
    scenario : Scenario
    collection_month : int or None
        Month (0-based) at whose end the collection figure is read.
    """

    obs_id: str
    case_id: str
    scenario: Scenario
    collection_month: int | None


def observation_month(months_after: float) -> int:
    """Simulated month at whose end a figure ``months_after`` the new fee is read."""
    m = max(1, round(months_after))
    return min(EFFECTIVE_MONTH + m - 1, MONTHS - 1)


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fee_to_full(row: pd.Series) -> float:
    """Fee before the step as a share of the full-service fee.

    From the source's ratio of fee income to cost where given (the full-service fee covers the
    cost at the target margin with 95% collection), else :data:`FEE_TO_FULL`.
    """
    ratio = row.get("fee_cost_ratio", math.nan)
    if _nan(ratio):
        return FEE_TO_FULL
    return float(ratio) / _keep()


def _keep() -> float:
    """Full-service fee over the cost it pays: the target margin at 95% collection."""
    return (1 + Firm().target_margin) / FULL_FEE_COLLECTION


def _types(row: pd.Series, kind: str) -> tuple[list[dict[str, Any]], dict[str, float] | None]:
    """Building types and, with two types, the new fee of each."""
    area = MEAN_AREA.get(kind, 72.0)
    share = fee_to_full(row)
    two = not _nan(row["fee_before_multi"]) and not _nan(row["fee_before_high"])
    if two:
        types = [
            {
                "name": "multi-storey",
                "share": 0.6,
                "fee_per_m2": float(row["fee_before_multi"]),
                "mean_area_m2": area,
                "full_service_fee_per_m2": float(row["fee_before_multi"]) / share,
            },
            {
                "name": "high-rise",
                "share": 0.4,
                "fee_per_m2": float(row["fee_before_high"]),
                "mean_area_m2": area * 1.2,
                "full_service_fee_per_m2": float(row["fee_before_high"]) / share,
            },
        ]
        new = None
        if not _nan(row["fee_after_multi"]) and not _nan(row["fee_after_high"]):
            new = {
                "multi-storey": float(row["fee_after_multi"]),
                "high-rise": float(row["fee_after_high"]),
            }
        return types, new
    fee = row["fee_before"]
    if _nan(fee):
        if not _nan(row["step_yuan"]) and not _nan(row["step_pct"]) and row["step_pct"] > 0:
            fee = row["step_yuan"] / row["step_pct"]
        elif not _nan(row["assumed_fee_before"]):
            fee = row["assumed_fee_before"]
        else:
            fee = DEFAULT_FEE[kind]
    high = (not _nan(row["share_high_rise"]) and row["share_high_rise"] >= 0.5) or (
        _nan(row["share_high_rise"]) and kind == "commodity" and float(fee) >= 1.9
    )
    t = {
        "name": "high-rise" if high else "multi-storey",
        "share": 1.0,
        "fee_per_m2": round(float(fee), 4),
        "mean_area_m2": area,
        "full_service_fee_per_m2": round(float(fee) / share, 4),
    }
    return [t], None


def _wage_for(types: list[dict[str, Any]]) -> float:
    """Minimum wage at which full service costs what the full-service fee pays.

    The full-service fee, averaged over the building types by floor area, covers the cost of
    full staffing at the firm's target margin when :data:`FULL_FEE_COLLECTION` of it is
    collected (the same rule as the model's cost disclosure,
    :meth:`feesim.engine.model.FeeModel.disclose_costs`). With the mean rather than the cheapest
    type's fee, a two-type case starts with the same share of full service as a one-type case.
    """
    f = Firm()
    per_wage = (
        f.staff_per_10k_m2
        / 1e4
        * f.wage_premium
        * (1 + f.social_insurance_rate)
        / (1 - f.materials_share)
    )
    area = [t["share"] * t["mean_area_m2"] for t in types]
    full = sum(a * t["full_service_fee_per_m2"] for a, t in zip(area, types, strict=True))
    return full / sum(area) / _keep() / per_wage


def case_scenario(
    row: pd.Series,
    behaviour: Behaviour | None = None,
    *,
    max_households: int = MAX_HOUSEHOLDS,
    seed: int = 0,
) -> CaseDesign:
    """Scenario of one case row of :class:`~feesim.studies.calibration.data.CaseData` ``.frame``.

    Parameters
    ----------
    row : pandas.Series
        A row of the derived case frame (its name is the ``obs_id``).
    behaviour : Behaviour, optional
        Behaviour of the run; default: the judgement values of :class:`Behaviour`.
    max_households : int
        Cap on the simulated community size.
    seed : int
        ``simulation.seed`` (the batch seed is given to the model).
    """
    kind = row["housing_kind"] if row["housing_kind"] in DEFAULT_FEE else "unknown"
    types, new_fee = _types(row, kind)
    flag = lambda name: bool(row.get(f"flag_{name}", 0.0))
    hh = row["households"]
    households = max_households if _nan(hh) else int(min(max(hh, 30), max_households))
    c0 = row["collection_before"]
    c0 = DEFAULT_COLLECTION if _nan(c0) else float(min(max(c0, 0.05), 0.99))
    step = 0.0 if _nan(row["step_pct"]) else float(row["step_pct"])
    matter = "hire_firm" if row["matter"] == "hire_firm" else "fee"
    door = flag("door_to_door")
    proposal: dict[str, Any] = {
        "month": VOTE_MONTH,
        "matter": matter,
        "service_quality": PACKAGE_QUALITY,
        "door_to_door_rounds": 2 if door else 1,
        "negotiation_meetings": flag("negotiation_meetings"),
        "renovation_bundled": flag("renovation_bundled"),
        "quality_first_months": QUALITY_FIRST_MONTHS if flag("quality_first") else 0,
        "trial_months": TRIAL_MONTHS if flag("trial_period") else 0,
        "disclosure": "audit",  # replaced below by what the source reports
        "effective": "next_cycle",
    }
    if new_fee is not None and matter == "fee":
        proposal["new_fee_per_m2"] = new_fee
    else:
        proposal["step_pct"] = step
    data: dict[str, Any] = {
        "meta": {"name": f"case {row.name}", "sources": [str(row.name), str(row["source_url"])]},
        "simulation": {"months": MONTHS, "start": START, "seed": seed},
        "community": {
            "households": households,
            "billing": row["billing"] or "quarterly",
            "housing_kind": SCENARIO_KIND.get(kind, kind),
            "initial_collection_rate": c0,
            "building_types": types,
        },
        "firm": {
            "tier": "basic" if kind in ("old_public", "resettlement", "mixed") else "tidy",
            "overhaul_months": [VOTE_MONTH - QUALITY_FIRST_MONTHS] if flag("firm_replaced") else [],
        },
        "committee": {"door_to_door_intensity": 0.5 if door else 0.3},
        "proposals": [proposal],
    }
    data["government"] = {"min_wage_yuan": round(_wage_for(types), 2), "use_wage_history": False}
    if flag("renovation_bundled"):
        data["government"] |= {
            "renovations": [
                {
                    "month": VOTE_MONTH - 2,
                    "cost_per_m2": 60.0,
                    "government_share": 0.4,
                    "quality_boost": 0.06,
                }
            ]
        }
    sc = scenario_from_mapping(data)
    disclosure = (
        "assessment"
        if flag("third_party_audit")
        else "audit"
        if flag("legal_audit")  # only ever set on fee steps (calibration.data)
        else "accounts"
        if flag("disclosure")
        else "none"
    )
    # The Shanghai rule (an audit or assessment before a fixed-fee increase) is a validation
    # rule of scenarios; a case is given the process its source reports, hence no validation.
    sc = edit(
        sc,
        {"proposals[0].disclosure": disclosure, "behaviour": behaviour or Behaviour()},
        validate=False,
    )
    month = None
    if row["use_collection"] in ("fit", "target") and not _nan(row["collection_lo"]):
        month = observation_month(row["months_after"])
    return CaseDesign(str(row.name), str(row["case_id"]), sc, month)
