"""Who serves a community: exits, temporary providers, tenders, new firms, renewals.

A firm that gives notice leaves when its notice or its term ends (:mod:`feesim.engine.rules.firm`);
the subdistrict then appoints a temporary provider from the district pool (basic service, its cost
billed to all owners, Shanghai Provisions Art. 52) and the committee puts a firm from the pool to
the owners every month until one is voted in (:mod:`feesim.engine.committee`). A firm from the pool
asks the current fee, or more if that does not cover the cost of its standard at 90% collection.
Tenders (a lever, or after repeated bad evaluations) follow the same path while the old firm still
serves. At the end of each term the contract renews tacitly; a committee that proposes steps on its
own asks for a cost-covering fee then.
"""

from __future__ import annotations

import numpy as np

from feesim.config.scenario import TIER_QUALITY
from feesim.engine.rules.firm import (
    EMERGENCY,
    EMERGENCY_MANAGEMENT,
    NEW_FIRM_MANAGEMENT,
    REGULAR,
    FirmBook,
    PropertyFirm,
)

__all__ = ["SuccessionMixin"]


class SuccessionMixin:
    """Provider changes of a :class:`~feesim.engine.model.FeeModel` (see the module doc)."""

    def _pool_fee(self, slot: int, base: np.ndarray) -> np.ndarray:
        """Fee a firm from the district pool asks: ``base`` scaled up to cover its cost."""
        month = min(self.month, self.months - 1)
        sl = slice(slot, slot + 1)
        revenue = np.array([(base * self.area_rb[slot, : len(base)]).sum()])
        other = (self.public_income * self.public_share * ~self.released + self.subsidy_paid)[sl]
        k = self.firms_slice(sl).cost_covering_factor(
            revenue,
            other,
            np.array([max(TIER_QUALITY[self.scenarios[slot].firm.tier], self.firms.tier_q[slot])]),
            self.wage[month, sl],
            self.price[month, sl],
        )
        return base * max(1.0, float(k[0]))

    def firms_slice(self, sl: slice) -> FirmBook:
        """A view of the firm book restricted to some runs (for per-run calculations)."""
        fb = self.firms
        return FirmBook(
            **{k: (v[sl] if isinstance(v, np.ndarray) else v) for k, v in vars(fb).items()}
        )

    def tender(self, slot: int, month: int) -> None:
        """Put the contract out to the district pool (a hire-firm vote)."""
        nb = len(self.scenarios[slot].community.building_types)
        fee = self._pool_fee(slot, self.fee[slot, :nb].copy())
        self.committees[slot].propose(
            month, "hire_firm", fee, "tender", disclosure="assessment", rounds=2
        )

    def hire_firm(self, slot: int, month: int, fee: np.ndarray) -> None:
        """A firm selected by the owners takes over at ``fee``."""
        fb = self.firms
        old = self.firm_agents[slot]
        self.log(
            slot,
            month,
            "firm_hired",
            f"replacing a {old.status} provider with cash {old.cash_yuan:.0f} yuan",
        )
        old.remove()
        self.set_fee(slot, fee)
        sc = self.scenarios[slot]
        fb.tier_q[slot] = max(fb.tier_q[slot], TIER_QUALITY[sc.firm.tier])
        wage, price = self.wage[month, slot : slot + 1], self.price[month, slot : slot + 1]
        expected_cost = self.firms_slice(slice(slot, slot + 1)).service_cost(wage, price)
        fb.start_provider(
            np.array([slot]),
            month,
            REGULAR,
            NEW_FIRM_MANAGEMENT,
            np.rint(fb.cash_months[slot] * expected_cost * 100).astype(np.int64),
            expected_cost * (1 + fb.target_margin[slot]),
            expected_cost,
        )
        self.firm_agents[slot] = PropertyFirm(self, slot)
        self.emergency_votes[slot] = 0
        self.trust_event(slot, self.beh_value("trust_new_firm", slot))

    def on_replacement_failed(self, slot: int, month: int) -> None:
        """The owners did not vote a new firm in: the temporary service continues; try again."""
        self.emergency_votes[slot] += 1
        if self.firms.state[slot] == EMERGENCY:
            limit = self.scenarios[slot].government.emergency_months
            if month - self.firms.since[slot] + 1 >= limit:
                self.log(slot, month, "emergency_extended", "temporary service renewed")
            nb = len(self.scenarios[slot].community.building_types)
            fee = self._pool_fee(slot, self.fee_before_exit[slot, :nb])
            rounds = min(1 + int(self.emergency_votes[slot]), 4)
            self.committees[slot].propose(
                month + 1, "hire_firm", fee, "replacement", disclosure="none", rounds=rounds
            )

    def _renew(self, slot: int, t: int) -> None:
        """The contract term ends: tacit renewal.

        A committee that proposes steps on its own asks for a cost-covering fee when the
        contract is up.
        """
        fb = self.firms
        fb.term_end[slot] = t + fb.term_months[slot]
        self.log(slot, t, "contract_renewed", f"next term ends in month {fb.term_end[slot]}")
        if self.scenarios[slot].committee.auto_propose and not self.committees[slot].open_motion():
            nb = len(self.scenarios[slot].community.building_types)
            fee = self._pool_fee(slot, self.fee[slot, :nb].copy())
            if np.any(fee > self.fee[slot, :nb] * 1.05):
                self.committees[slot].propose(t + 2, "fee", fee, "auto", rounds=2, retries=1)

    def _emergency(self, t: int, runs: np.ndarray) -> None:
        fb = self.firms
        for slot in runs:
            old = self.firm_agents[slot]
            self.log(int(slot), t, "firm_exit", f"cash at exit {old.cash_yuan:.0f} yuan")
            old.remove()
        self.fee_before_exit[runs] = self.fee[runs]
        wage, price = self.wage[t, runs], self.price[t, runs]
        sub = self.firms_slice(runs)
        x_basic = TIER_QUALITY["basic"] / EMERGENCY_MANAGEMENT
        cost = x_basic * sub.unit_cost(wage, price) + sub.equipment * price
        accrual = (self.fee[runs] * self.area_rb[runs]).sum(axis=1)
        k = cost / np.maximum(accrual, 1e-9)
        self.fee[runs] *= k[:, None]
        fb.start_provider(
            runs,
            t,
            EMERGENCY,
            EMERGENCY_MANAGEMENT,
            np.zeros(runs.size, dtype=np.int64),
            cost,
            cost,
        )
        for slot in runs:
            slot = int(slot)
            self.firm_agents[slot] = PropertyFirm(self, slot)
            self.trust_event(slot, self.beh_value("trust_exit", slot))
            self.log(
                slot, t, "emergency_provider", "temporary basic service, cost billed to owners"
            )
            nb = len(self.scenarios[slot].community.building_types)
            fee = self._pool_fee(slot, self.fee_before_exit[slot, :nb])
            self.committees[slot].propose(
                t + 1, "hire_firm", fee, "replacement", disclosure="none", rounds=1
            )
