"""Who serves a community: exits, temporary providers, tenders, new firms, renewals.

A firm that gives notice leaves when its notice or its term ends (:mod:`feesim.engine.rules.firm`);
the subdistrict then appoints a temporary provider from the district pool (basic service, its cost
billed to all owners, Shanghai Provisions Art. 52) and the committee puts a firm from the pool to
the owners every month until one is voted in (:mod:`feesim.engine.committee`). The temporary
service lasts at most ``government.emergency_months``; when it runs out with no firm voted in,
a district state-owned provider takes over where the district keeps one
(``government.state_provider``; cases_more AGG-N3, N27): basic service at the fee before the
exit, its deficit funded by the district; otherwise the temporary service is renewed. A firm
from the pool asks the current fee, or more if that does not cover the cost of its standard at 90%
collection (:func:`~feesim.engine.rules.firm.cost_covering_fee`). Tenders (a lever, or after
repeated bad evaluations) follow the same path while the old firm still serves. At the end of
each term the contract renews tacitly; a committee that proposes steps on its own then asks for a
cost-covering fee.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from feesim.config.scenario import TIER_QUALITY
from feesim.engine.rules.firm import (
    EMERGENCY,
    EMERGENCY_MANAGEMENT,
    NEW_FIRM_MANAGEMENT,
    NOTICE,
    REGULAR,
    STATE,
    STATE_MANAGEMENT,
    FirmBook,
    cost_covering_fee,
)
from feesim.engine.rules.perception import Perception, change_fee, trust_shock
from feesim.engine.state import CommunityState, Setting

__all__ = ["STATE_PROVIDER_KINDS", "Proposer", "Succession", "state_provider"]

#: Housing kinds whose district keeps a state-owned provider by default (old public housing and
#: resettlement housing: domain-rules 5, Huangpu's district SOE groups; cases_more AGG-N3, N27).
STATE_PROVIDER_KINDS = frozenset({"old_public", "resettlement"})

#: The provider a hired firm replaces, in words, by its state (``FirmBook.status``).
OUTGOING = {
    "regular": "incumbent",
    "notice": "outgoing",
    "emergency": "emergency",
    "state": "district state-owned",
}


def state_provider(scenario: object) -> bool:
    """Whether a district state-owned provider takes over this community after an exit."""
    setting = scenario.government.state_provider  # type: ignore[attr-defined]
    if setting == "auto":
        return scenario.community.housing_kind in STATE_PROVIDER_KINDS  # type: ignore[attr-defined]
    return setting == "on"


class Proposer(Protocol):
    """A committee as succession sees it: it can put a motion to the owners."""

    def propose(
        self,
        month: int,
        matter: str,
        new_fee: np.ndarray,
        origin: str,
        disclosure: str = "audit",
        rounds: int = 1,
        retries: int = 0,
    ) -> object:
        """Put a dynamic motion to the owners."""

    def on_contract_renewed(self, month: int) -> None:
        """The contract renewed tacitly."""


class Succession:
    """Provider changes of a batch (see the module doc), over explicit state.

    Parameters
    ----------
    setting, state, firms, perception
        The batch's setting, community state, firm book and perception (changed in place).
    committees : sequence of Proposer
        The committee of each run, through which replacement and tender votes are put.
    log : callable
        ``log(run, month, event, detail)`` adds a line to the event log.
    newcomer : callable
        ``newcomer(run)`` is called when a new firm or the district's provider takes over (the
        payment records' fresh start, :func:`feesim.engine.rules.collection.fresh_start`).
    endorse : callable
        ``endorse(run, None)`` is called when a fee nobody voted for takes over (a temporary
        or the district's provider): owners' commitment to the fee they voted for lapses.
    """

    def __init__(
        self,
        setting: Setting,
        state: CommunityState,
        firms: FirmBook,
        perception: Perception,
        committees: Sequence[Proposer],
        log: Callable[[int, int, str, str], None],
        newcomer: Callable[[int], None],
        endorse: Callable[[int, np.ndarray | None], None],
    ) -> None:
        self.setting = setting
        self.state = state
        self.firms = firms
        self.perception = perception
        self.committees = committees
        self.log = log
        self.newcomer = newcomer
        self.endorse = endorse

    def asking_fee(self, t: int, run: int, base: np.ndarray) -> np.ndarray:
        """Fees a firm from the district pool asks in month ``t`` (``base`` scaled up)."""
        return cost_covering_fee(self.firms, self.setting, self.state, t, run, base)

    def _types(self, run: int) -> int:
        return self.setting.building_types(run)

    def _trust(self, run: int, coefficient: str) -> None:
        trust_shock(self.perception, np.array([run]), self.setting.coefficient(coefficient, run))

    # -- the calendar's provider changes --------------------------------------------------------
    def month_begins(self, t: int) -> None:
        """Firms leave, the district's provider takes over, contracts renew.

        Firms whose notice ends leave; temporary service that ran out is taken over by the
        district's state-owned provider; contracts whose term ends renew.
        """
        fb = self.firms
        leaving = np.flatnonzero((fb.state == NOTICE) & (fb.exit_month <= t))
        if leaving.size:
            self._emergency(t, leaving)
        for run in np.flatnonzero(fb.state == EMERGENCY):
            sc = self.setting.scenarios[run]
            if t - fb.since[run] >= sc.government.emergency_months and state_provider(sc):
                self._state_takeover(t, int(run))
        for run in np.flatnonzero((fb.state == REGULAR) & (fb.term_end == t)):
            self._renew(int(run), t)

    def _emergency(self, t: int, runs: np.ndarray) -> None:
        """The firms of ``runs`` leave; a temporary provider takes over at cost."""
        fb, setting, state = self.firms, self.setting, self.state
        for run in runs:
            self.log(int(run), t, "firm_exit", f"cash at exit {fb.cash[run] / 100.0:.0f} yuan")
        state.fee_before_exit[runs] = state.fee[runs]
        wage, price = setting.wage[t, runs], setting.price[t, runs]
        sub = fb.slice(runs)
        x_basic = sub.staffing_for(TIER_QUALITY["basic"], np.full(runs.size, EMERGENCY_MANAGEMENT))
        cost = x_basic * sub.unit_cost(wage, price) + sub.equipment * price
        accrual = (state.fee[runs] * setting.area_rb[runs]).sum(axis=1)
        k = cost / np.maximum(accrual, 1e-9)
        state.fee[runs] *= k[:, None]
        fb.start_provider(
            runs,
            t,
            EMERGENCY,
            EMERGENCY_MANAGEMENT,
            np.zeros(runs.size, dtype=np.int64),
            cost,
            cost,
        )
        for run in runs:
            run = int(run)
            self.endorse(run, None)
            self._trust(run, "trust_exit")
            self.log(run, t, "emergency_provider", "temporary basic service, cost billed to owners")
            fee = self.asking_fee(t, run, state.fee_before_exit[run, : self._types(run)])
            self.committees[run].propose(
                t + 1, "hire_firm", fee, "replacement", disclosure="none", rounds=1
            )

    def _state_takeover(self, t: int, run: int) -> None:
        """The district's state-owned provider takes over at the fee before the exit."""
        fb, setting, state = self.firms, self.setting, self.state
        change_fee(state, self.perception, run, state.fee_before_exit[run, : self._types(run)])
        sub = fb.slice(slice(run, run + 1))
        wage, price = setting.wage[t, run : run + 1], setting.price[t, run : run + 1]
        x_basic = sub.staffing_for(TIER_QUALITY["basic"], np.full(1, STATE_MANAGEMENT))
        cost = x_basic * sub.unit_cost(wage, price) + sub.equipment * price
        fb.start_provider(
            np.array([run]), t, STATE, STATE_MANAGEMENT, np.zeros(1, dtype=np.int64), cost, cost
        )
        self._trust(run, "trust_new_firm")
        self.newcomer(run)
        self.endorse(run, None)
        self.log(run, t, "state_provider", "district state-owned provider, basic service, old fee")

    def _renew(self, run: int, t: int) -> None:
        """The contract term ends: tacit renewal."""
        fb = self.firms
        fb.term_end[run] = t + fb.term_months[run]
        self.log(run, t, "contract_renewed", f"next term ends in month {fb.term_end[run]}")
        self.committees[run].on_contract_renewed(t)

    # -- committees' requests -------------------------------------------------------------------
    def tender(self, t: int, run: int, month: int) -> None:
        """Put the contract out to the district pool (a hire-firm vote in ``month``)."""
        fee = self.asking_fee(t, run, self.state.fees(run, self._types(run)))
        self.committees[run].propose(
            month, "hire_firm", fee, "tender", disclosure="assessment", rounds=2
        )

    def hire(self, run: int, month: int, fee: np.ndarray) -> None:
        """A firm selected by the owners takes over at ``fee``."""
        fb, setting = self.firms, self.setting
        self.log(
            run,
            month,
            "firm_hired",
            f"replacing the {OUTGOING[fb.status(run)]} provider, "
            f"whose cash was {fb.cash[run] / 100.0:.0f} yuan",
        )
        change_fee(self.state, self.perception, run, fee)
        fb.tier_q[run] = max(fb.tier_q[run], TIER_QUALITY[setting.scenarios[run].firm.tier])
        wage, price = setting.wage[month, run : run + 1], setting.price[month, run : run + 1]
        expected_cost = fb.slice(slice(run, run + 1)).service_cost(wage, price)
        fb.start_provider(
            np.array([run]),
            month,
            REGULAR,
            NEW_FIRM_MANAGEMENT,
            np.rint(fb.cash_months[run] * expected_cost * 100).astype(np.int64),
            expected_cost * (1 + fb.target_margin[run]),
            expected_cost,
        )
        self.state.emergency_votes[run] = 0
        self._trust(run, "trust_new_firm")
        self.newcomer(run)

    def replacement_failed(self, t: int, run: int, month: int) -> None:
        """The owners did not vote a new firm in: the temporary service continues; try again."""
        state = self.state
        state.emergency_votes[run] += 1
        if self.firms.state[run] == EMERGENCY:
            limit = self.setting.scenarios[run].government.emergency_months
            if month - self.firms.since[run] + 1 >= limit:
                self.log(run, month, "emergency_extended", "temporary service renewed")
            fee = self.asking_fee(t, run, state.fee_before_exit[run, : self._types(run)])
            rounds = min(1 + int(state.emergency_votes[run]), 4)
            self.committees[run].propose(
                month + 1, "hire_firm", fee, "replacement", disclosure="none", rounds=rounds
            )
