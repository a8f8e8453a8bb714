"""The household rules written again as plain Mesa agents: a slow, readable reference.

:class:`ReferenceModel` is a :class:`~feesim.engine.model.FeeModel` whose households are one
:class:`HouseholdAgent` each, deciding with scalar Python arithmetic and drawing their own random
numbers, one agent at a time. It exists to check the vectorised engine (the same rules must give
the same distributions: ``tests/test_reference.py``) and to measure what vectorising buys
(``feesim bench``). Community-level rules (firm, perception of the community, trust stock,
ledger) are shared with the vectorised model; household rules are not.

Scope: ordinary months, i.e. perceiving service (satisfaction, trust), bills, the payment
decision at the billing cycle's hazard, settling this year's bills, hotline complaints, the
cycle's close (payment records, overdue bills, arrears at year end, neighbours' shares) and the
limitation period. Scenarios with proposals, campaigns, fund bills or legal action are refused:
those rules are not part of the reference. A ``[[schedule]]`` change is run only for the levers
of :data:`REFERENCE_SCHEDULABLE`, which act through the community-level rules the two models
share; any other is refused: legal action (the reference's collection files no suits) and the
levers that put matters to the owners' vote (a tier upgrade's fee, a cost-plus deficit, an
automatic step, a tender).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mesa
import numpy as np

from feesim.config.scenario import Scenario
from feesim.engine.model import FeeModel
from feesim.engine.population import CC, FR
from feesim.engine.rules.collection import PAID_KEYS
from feesim.errors import ConfigError

__all__ = ["REFERENCE_SCHEDULABLE", "HouseholdAgent", "ReferenceModel"]

#: Levers a ``[[schedule]]`` entry may change in the reference: they act through community-level
#: rules shared with the vectorised model (subsidy, assessment, public income, evaluations,
#: rectification and rollback, the reach of visits), not through household rules it rewrites
#: or through votes it does not hold.
REFERENCE_SCHEDULABLE: frozenset[str] = frozenset(
    {
        "government.subsidy_per_m2",
        "government.subsidy_min_score",
        "government.assessment_hotline_weight",
        "firm.public_income_yuan_month",
        "firm.public_income_firm_share",
        "committee.public_income_to_fund",
        "committee.evaluation_months",
        "committee.evaluation_threshold",
        "committee.rollback",
        "committee.rollback_window_months",
        "committee.rectification_months",
        "committee.door_to_door_intensity",
        "committee.complaint_response",
    }
)


def _logistic(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class HouseholdAgent(mesa.Agent):
    """One household (unit) with its own state and decisions, written per agent."""

    def __init__(self, model: ReferenceModel, index: int) -> None:
        super().__init__(model)
        hh, b = model.hh, model.setting.beh
        self.index = index
        self.run = int(hh.run[index])
        self.btype = int(hh.btype[index])
        self.group = int(hh.group[index])
        self.area = float(hh.area[index])
        self.area_per_income = float(hh.area_per_income[index])
        self.qbias = float(hh.qbias[index])
        self.trust0 = float(hh.trust0[index])
        self.trust_personal = float(hh.trust_personal[index])
        self.habit = float(hh.habit[index])
        self.owed_cycle = int(hh.owed_cycle[index])
        self.overdue = int(hh.overdue[index])
        self.arrears = int(hh.arrears[index])
        self.demand_month = int(hh.demand_month[index])
        htype = int(hh.htype[index])
        self.leader = bool(hh.leader[index])

        def val(name: str) -> float:
            v = getattr(b, name)
            return float(v if np.ndim(v) == 0 else v[self.run])

        # Coefficients written out from the behaviour values (not taken from the engine's
        # arrays), by behavioural type.
        if htype == CC:
            intercept, b_sat = val("pay_intercept_cc"), val("pay_satisfaction")
            b_norm, b_enf, under = val("pay_norm"), val("pay_enforcement"), val("undermatch")
        elif htype == FR:
            intercept, b_sat = val("pay_intercept_fr"), val("pay_satisfaction_fr")
            b_norm, b_enf, under = val("pay_norm_fr"), val("pay_enforcement_fr"), 0.0
        else:
            intercept, b_sat = val("pay_intercept_up"), 0.5 * val("pay_satisfaction_fr")
            b_norm, b_enf, under = 0.0, val("pay_enforcement"), 0.0
        self.intercept = (
            intercept + val("leader_lean") * self.leader + float(model.residents.offset[self.run])
        )
        if hh.absentee[index]:  # an absentee owner weighs the service less
            b_sat *= val("absentee_response")
        self.lived_in = not hh.absentee[index] or bool(hh.renter[index])
        self.b_sat, self.b_norm, self.b_enf, self.undermatch = b_sat, b_norm, b_enf, under
        self.b_habit, self.b_trust = val("pay_habit"), val("pay_trust")
        self.b_burden, self.sat_level = val("pay_burden"), val("sat_level")
        self.c0, self.c_dis = val("complaint_intercept"), val("complaint_dissatisfaction")
        self.c_cut = val("complaint_cut")
        self.habit_memory = val("habit_memory")
        self.satisfaction = 0.5
        self.trust = 0.5

    # -- monthly rules ------------------------------------------------------------------------
    def perceive(self, base_satisfaction: float, community_trust: float) -> None:
        """Satisfaction and trust of this month."""
        s = base_satisfaction + self.sat_level * self.qbias
        self.satisfaction = min(1.0, max(0.0, s))
        t = self.trust0 + self.trust_personal + community_trust
        self.trust = min(1.0, max(0.0, t))

    def bill(self, fee: float, months: int) -> int:
        """Add this cycle's bill; returns it (fen)."""
        amount = round(fee * self.area * months * 100)
        self.owed_cycle += amount
        return amount

    def decide_payment(
        self, fee: float, neighbours: float, enforcement: float, cycle_months: int
    ) -> tuple[int, int]:
        """Pay (or not) this month; returns fen paid towards (this cycle, overdue bills)."""
        z = (
            self.intercept
            + self.b_habit * (self.habit - 0.5)
            + self.b_sat * (self.satisfaction - 0.5)
            + self.b_trust * (self.trust - 0.5)
            + self.b_norm * (neighbours - self.undermatch - 0.5)
            - self.b_burden * fee * self.area_per_income
            + self.b_enf * enforcement
        )
        p = _logistic(z)
        if cycle_months != 1:
            p = 1.0 - (1.0 - p) ** (1.0 / cycle_months)
        if self.random.random() >= p:
            return 0, 0
        paid = (self.owed_cycle, self.overdue)
        self.owed_cycle = self.overdue = 0
        return paid

    def complain(self, cut: float) -> bool:
        """Whether the household calls the 12345 hotline this month."""
        z = self.c0 + self.c_cut * cut + self.c_dis * max(0.0, 0.5 - self.satisfaction)
        # The draw is made for every unit; nobody calls from an empty one.
        return self.random.random() < _logistic(z) and self.lived_in

    def close_cycle(self, cycle_months: int) -> None:
        """The billing cycle closes: record whether the bill was paid; unpaid becomes overdue."""
        omega = 1.0 - (1.0 - self.habit_memory) ** cycle_months
        paid_up = 1.0 if self.owed_cycle == 0 else 0.0
        self.habit += omega * (paid_up - self.habit)
        self.overdue += self.owed_cycle
        self.owed_cycle = 0

    def close_year(self, month: int) -> None:
        """The year closes: this year's overdue bills become arrears.

        A new debtor's limitation clock starts now.
        """
        if self.arrears == 0 and self.overdue > 0:
            self.demand_month = month
        self.arrears += self.overdue
        self.overdue = 0

    def limitation(self, month: int, months: int) -> int:
        """At a year end, arrears with no demand for ``months`` months are lost (fen)."""
        if self.arrears > 0 and month - self.demand_month >= months:
            lost, self.arrears = self.arrears, 0
            return lost
        return 0


class ReferenceModel(FeeModel):
    """A :class:`FeeModel` whose household rules run agent by agent (see the module doc)."""

    def __init__(self, scenarios: Scenario | Sequence[Scenario], **kwargs: object) -> None:
        runs = [scenarios] if isinstance(scenarios, Scenario) else list(scenarios)
        for i, sc in enumerate(runs):
            used = [
                name
                for name, on in (
                    ("proposals", sc.proposals),
                    ("campaigns", sc.campaigns),
                    ("legal.enabled", sc.legal.enabled),
                )
                if on
            ]
            if used:
                raise ConfigError(
                    f"scenarios[{i}].{used[0]}: not supported by the per-agent "
                    "reference (ordinary months only)"
                )
            for j, change in enumerate(sc.schedule):
                for key in change.set:
                    if key not in REFERENCE_SCHEDULABLE:
                        raise ConfigError(
                            f"scenarios[{i}].schedule[{j}].set.{key}: not supported by the "
                            "per-agent reference (it runs scheduled changes of "
                            + ", ".join(sorted(REFERENCE_SCHEDULABLE))
                            + ")"
                        )
        super().__init__(runs, **kwargs)
        self.households = [HouseholdAgent(self, i) for i in range(self.hh.n)]
        self._group_members: dict[int, list[HouseholdAgent]] = {}
        for a in self.households:
            self._group_members.setdefault(a.group, []).append(a)
        self._neighbours = self._group_shares()

    # -- helpers ---------------------------------------------------------------------------------
    def _group_shares(self) -> dict[int, float]:
        return {
            g: sum(a.habit for a in members) / len(members)
            for g, members in self._group_members.items()
        }

    def _write_back(self) -> None:
        """Copy agents' state into the arrays the community-level rules read."""
        hh = self.hh
        for a in self.households:
            i = a.index
            hh.habit[i] = a.habit
            hh.owed_cycle[i] = a.owed_cycle
            hh.overdue[i] = a.overdue
            hh.arrears[i] = a.arrears
            hh.demand_month[i] = a.demand_month
            self.residents.satisfaction[i] = a.satisfaction
            self.residents.trust[i] = a.trust

    # -- the household phases, agent by agent -----------------------------------------------------
    def _perceive(self) -> None:
        super()._perceive()  # community perception and anchors (shared), then agents decide
        from feesim.engine.rules.perception import community_satisfaction

        st = self.state
        sat = community_satisfaction(self.perception, st.fee, st.full_fee, self.setting.beh)
        trust = self.perception.trust
        for a in self.households:
            a.perceive(float(sat[a.run, a.btype]), float(trust[a.run]))
        self._write_back()

    def _bill(self, t: int) -> np.ndarray:
        setting, st = self.setting, self.state
        m = setting.cal_months[t]
        billed = np.zeros(setting.runs, dtype=np.int64)
        for a in self.households:
            cycle = int(setting.cycle[a.run])
            offset = (m - 1) % cycle
            months = cycle - offset if t == 0 else (cycle if offset == 0 else 0)
            if months:
                billed[a.run] += a.bill(float(st.fee[a.run, a.btype]), months)
        if m == 1 or t == 0:
            st.billed_year = np.zeros(setting.runs, dtype=np.int64)
        st.billed_year = st.billed_year + billed
        self._write_back()
        return billed

    def _collect(self, t: int) -> dict[str, np.ndarray]:
        setting, st = self.setting, self.state
        paid = {k: np.zeros(setting.runs, dtype=np.int64) for k in PAID_KEYS}
        limitation = setting.legal.limitation_months
        for a in self.households:
            c, o = a.decide_payment(
                float(st.fee[a.run, a.btype]),
                self._neighbours[a.group],
                float(st.enforcement[a.run]),
                int(setting.cycle[a.run]),
            )
            paid["cycle"][a.run] += c
            paid["overdue"][a.run] += o
            if setting.cal_months[t] == 12:
                months = int(limitation if np.ndim(limitation) == 0 else limitation[a.run])
                paid["written_off"][a.run] += a.limitation(t, months)
        self._write_back()
        return paid

    def _complaints(self, t: int) -> np.ndarray:
        cut = np.maximum(0.0, self.perception.anchor - self.perception.seen_quality)
        out = np.zeros(self.setting.runs, dtype=np.int64)
        for a in self.households:
            out[a.run] += a.complain(float(cut[a.run]))
        return out

    def _close(self, t: int) -> None:
        m = self.setting.cal_months[t]
        closing = False
        for a in self.households:
            cycle = int(self.setting.cycle[a.run])
            if m % cycle == 0:
                a.close_cycle(cycle)
                closing = True
            if m == 12:
                a.close_year(t)
        if closing:
            self._neighbours = self._group_shares()
        self._write_back()
        from feesim.engine.rules.perception import relax_personal, update_trust

        b = self.setting.beh
        update_trust(
            self.perception,
            self.state.mean_satisfaction,
            b.trust_adjust,
            b.trust_satisfaction,
            b.governance_half_life_months,
        )
        relax_personal(self.hh, b.personal_half_life_months)
