"""Dated lever changes: what a ``[[schedule]]`` entry changes in the engine's state.

A scenario's settings hold from month 0 (on top of its history, :mod:`feesim.engine.baseline`);
a :class:`~feesim.config.scenario.Change` sets some levers (:data:`~feesim.config.scenario.
SCHEDULABLE`) anew at the start of its month, before the committee's business of that month.
A lever switched on at month 0 this way and the same setting in the scenario act alike, with
one exception, the service tier:

- ``firm.contract`` takes effect at the start of its month, whenever that is (the firm's book
  switches at once; it does not wait for a tender or the contract's renewal). In the scenario
  it also acts from month 0 on a month-0 state built under ``history.contract``, so a switch
  scheduled at month 0 and the same contract in the scenario give the same run.
- ``firm.tier`` in the scenario is part of the history: the month-0 staffing is built under
  its standard and nothing is voted. A scheduled tier, even at month 0, is a change of the
  standard from the scenario's: the firm staffs towards it over the following months and, for
  an upgrade, the committee puts the fee of its price band to the owners
  (:meth:`~feesim.engine.committee.OwnersCommittee.on_tier_upgrade`), as a
  ``government.tier_upgrades`` entry does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from feesim.config.params import replace
from feesim.config.scenario import TIER_QUALITY, Change, Scenario
from feesim.engine.committee import OwnersCommittee
from feesim.engine.rules.firm import FirmBook
from feesim.engine.rules.vote import KIND_REACH
from feesim.engine.state import Setting

__all__ = ["apply_change", "door_to_door_reach"]


def door_to_door_reach(scenario: Scenario) -> float:
    """Share of households a door-to-door round reaches in a community.

    The committee's intensity, scaled by its capacity and by who organises the rounds
    (:data:`~feesim.engine.rules.vote.KIND_REACH`).
    """
    c = scenario.committee
    return c.door_to_door_intensity * (0.5 + c.capacity) * KIND_REACH[c.kind]


def apply_change(
    t: int,
    run: int,
    change: Change,
    setting: Setting,
    firms: FirmBook,
    committees: Sequence[OwnersCommittee],
    log: Callable[[int, int, str, str], None],
) -> None:
    """Set the levers of ``change`` in run ``run`` from month ``t`` on."""
    sc = setting.scenarios[run]
    for key, raw in change.set.items():
        section, _, name = key.partition(".")
        # The value as the scenario's section would hold it (validated, converted).
        new_section = replace(getattr(sc, section), name, raw)
        value = getattr(new_section, name)
        sc = dataclasses.replace(sc, **{section: new_section})
        match key:
            case "government.subsidy_per_m2":
                setting.subsidy_rate[run] = value
            case "government.subsidy_min_score":
                setting.subsidy_min[run] = value
            case "government.assessment_hotline_weight":
                setting.hotline_weight[run] = value
            case "firm.public_income_yuan_month":
                setting.public_income[run] = value
            case "firm.public_income_firm_share":
                setting.public_share[run] = value
            case "committee.public_income_to_fund":
                setting.public_to_fund[run] = value
            case "firm.contract":
                firms.cost_plus[run] = value == "cost_plus"
            case "firm.tier":
                firms.tier_q[run] = TIER_QUALITY[value]
            case "committee.evaluation_months":
                setting.eval_every[run] = value
                setting.eval_start[run] = t
            case "committee.door_to_door_intensity":
                setting.intensity[run] = door_to_door_reach(sc)
            case "legal.enabled":
                setting.legal_on[run] = value
            case "legal.sue_share":
                setting.legal = setting.legal.updated("sue_share", run, value, setting.runs)
            case _ if section == "committee":
                pass  # read from the committee's settings, replaced below
            case _:  # pragma: no cover - SCHEDULABLE and this match are kept in step
                raise AssertionError(f"no engine rule for the scheduled lever {key}")
        log(run, t, "lever_changed", f"{key} = {value!r}")
    setting.scenarios[run] = sc
    committees[run].settings = sc.committee
