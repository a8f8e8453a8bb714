"""The committee's desk: what an owners' committee sees of its community and the levers it pulls.

:class:`CommunityDesk` implements :class:`feesim.engine.committee.Community` over the batch's
explicit state (setting, community state, households' attitudes, firm book, perception,
campaigns, agenda) and the rules that own each lever: fee changes and trust with perception,
cost disclosure and commitments with the firm, fund bills and campaigns with collection, new
firms and tenders with succession, the trial verdict with evaluation. The model tells it the
month being simulated (:attr:`now`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from feesim.engine.population import Households
from feesim.engine.rules.collection import CampaignPlan
from feesim.engine.rules.evaluation import resident_scores
from feesim.engine.rules.firm import REGULAR, FirmBook, full_service_fee
from feesim.engine.rules.perception import Perception, change_fee, trust_shock
from feesim.engine.rules.succession import Succession
from feesim.engine.state import CommunityState, MonthFlows, Residents, Setting

__all__ = ["Agenda", "CommunityDesk"]


class Agenda:
    """Which communities have committee business at the start of which month."""

    def __init__(self, months: int) -> None:
        self.months = months
        self._due: dict[int, set[int]] = {}

    def add(self, run: int, month: int) -> None:
        """Ask for ``run``'s committee and levers to be handled at the start of ``month``."""
        if 0 <= month < self.months:
            self._due.setdefault(int(month), set()).add(int(run))

    def pop(self, month: int) -> set[int]:
        """The runs due in ``month`` (removed from the agenda)."""
        return self._due.pop(month, set())


class CommunityDesk:
    """The :class:`~feesim.engine.committee.Community` of every run of a batch.

    Parameters
    ----------
    setting, state, residents, hh, firms, perception, campaigns, flows
        The batch's state (changed in place by the levers).
    agenda : Agenda
    succession : Succession
    log : callable
        ``log(run, month, event, detail)``.
    """

    def __init__(
        self,
        setting: Setting,
        state: CommunityState,
        residents: Residents,
        hh: Households,
        firms: FirmBook,
        perception: Perception,
        campaigns: CampaignPlan,
        agenda: Agenda,
        log: Callable[[int, int, str, str], None],
    ) -> None:
        self.setting = setting
        self.state = state
        self.residents = residents
        self.hh = hh
        self.firms = firms
        self.perception = perception
        self.campaigns = campaigns
        self.agenda = agenda
        self._log = log
        self.succession: Succession | None = None  # set once the committees exist
        self.flows = MonthFlows.empty(setting.runs)
        #: The month being simulated.
        self.now = 0

    # -- what a committee sees ---------------------------------------------------------------------
    def fees(self, run: int) -> np.ndarray:
        """The fees in force, one per building type (a copy)."""
        return self.state.fees(run, self.setting.building_types(run))

    def seen_quality(self, run: int) -> float:
        """Service quality as residents see it."""
        return float(self.perception.seen_quality[run])

    def delivered_quality(self, run: int) -> float:
        """Service quality the firm delivers."""
        return float(self.firms.quality[run])

    def coefficient(self, name: str, run: int) -> float:
        """A behavioural coefficient of the run."""
        return self.setting.coefficient(name, run)

    def firm_is_regular(self, run: int) -> bool:
        """Whether a regular firm serves."""
        return bool(self.firms.state[run] == REGULAR)

    def commitment(self, run: int) -> float:
        """Service the firm delivers ahead of revenue (0 none)."""
        return float(self.firms.commit_q[run])

    def service_floor(self, run: int) -> float:
        """Service the voted packages oblige the firm to keep."""
        return float(self.firms.floor_q[run])

    def trial_failed(self, run: int) -> bool:
        """Whether residents' evaluation at the end of a trial is below the threshold."""
        score = resident_scores(self.hh, self.residents.satisfaction, self.firms)[run]
        return bool(score < self.setting.scenarios[run].committee.evaluation_threshold)

    def effective_month(self, run: int, earliest: int, rule: str) -> int:
        """First month on or after ``earliest`` when a passed fee can take effect."""
        return self.setting.effective_month(run, earliest, rule)

    def asking_fee(self, run: int, base: np.ndarray) -> np.ndarray:
        """Fees that cover the cost of the contract's standard (``base`` scaled up)."""
        return self._succession().asking_fee(self.now, run, base)

    # -- calendar and record ---------------------------------------------------------------------
    def schedule(self, run: int, month: int) -> None:
        """Handle ``run``'s committee at the start of ``month``."""
        self.agenda.add(run, month)

    def log(self, run: int, month: int, event: str, detail: str = "") -> None:
        """Add a line to the event log."""
        self._log(run, month, event, detail)

    # -- levers ---------------------------------------------------------------------------------
    def trust_event(self, run: int, amount: float) -> None:
        """An event every resident sees."""
        trust_shock(self.perception, np.array([run]), amount)

    def disclose_costs(self, run: int, share: float) -> None:
        """Residents' fee for full service moves ``share`` of the way to its true cost."""
        nb = self.setting.building_types(run)
        true_fee = full_service_fee(self.firms, self.setting, self.now, run)
        self.state.full_fee[run, :nb] += share * (true_fee - self.state.full_fee[run, :nb])

    def set_commitment(self, run: int, quality: float) -> None:
        """Service the firm delivers ahead of revenue (0 ends the commitment)."""
        self.firms.commit_q[run] = quality

    def set_service_floor(self, run: int, quality: float) -> None:
        """Service the voted packages oblige the firm to keep."""
        self.firms.floor_q[run] = quality

    def repayment_fee(self, run: int, amount_yuan: float, months: int) -> np.ndarray:
        """Fee per m2 (per building type) that raises ``amount_yuan`` over ``months``.

        The same addition on every m2, at 90% collection (the asking fee's assumption).
        """
        per_m2 = max(amount_yuan, 0.0) / max(months, 1) / (0.9 * self.setting.area_total[run])
        return np.full(self.setting.building_types(run), per_m2)

    def endorse(self, run: int, households: np.ndarray | None) -> None:
        """The fee now in force was voted for by the owners of ``households`` (None: nobody).

        A new fee supersedes the commitment to the one before it.
        """
        lo, hi = self.hh.run_start[run], self.hh.run_start[run + 1]
        self.hh.endorsed[lo:hi] = 0.0
        if households is not None and len(households):
            self.hh.endorsed[households] = 1.0

    def set_fee(
        self, run: int, fees: np.ndarray, accepted: float = 0.0, rest_of_cycle: bool = False
    ) -> None:
        """Change the fees from the next bill, or (``rest_of_cycle``) from this month.

        A rise applied mid-cycle is billed this month for the months of the cycle left
        (:func:`feesim.engine.rules.collection.bill`); a cut is not refunded for a cycle
        already billed and applies from the next bill.
        """
        n = len(fees)
        if rest_of_cycle:
            rise = np.maximum(fees - self.state.fee[run, :n], 0.0)
            self.state.fee_supplement[run, :n] += rise
        change_fee(self.state, self.perception, run, fees, accepted)

    def release_public_income(self, run: int) -> None:
        """Public income goes to the owners' account instead of the firm."""
        self.state.released[run] = True

    def start_campaign(self, run: int, month: int, steps: int) -> None:
        """A collection campaign of the fee bills."""
        self.campaigns.add(run, month, steps, "fee")

    def bill_fund(self, run: int, month: int, per_m2: float, steps: int) -> None:
        """Bill a maintenance-fund top-up to every unit of the community."""
        hh = self.hh
        sl = hh.run_slice(run)
        amount = np.rint(per_m2 * hh.area[sl].astype(np.float64) * 100).astype(np.int64)
        hh.owed_fund[sl] += amount
        self.flows.fund_billed[run] += int(amount.sum())
        hh.demand_month[sl] = month
        if steps > 0:
            self.campaigns.add(run, month, steps, "fund")

    def show_works(self, run: int, quality: float) -> None:
        """Visible works raise the quality residents see."""
        self.perception.facility[run] += quality

    def order_rectification(self, run: int, until: int) -> None:
        """The firm restores service, giving up its margin, until month ``until``."""
        self.firms.rectify_until[run] = until

    def hire_firm(self, run: int, month: int, fees: np.ndarray) -> None:
        """A firm the owners voted for takes over."""
        self._succession().hire(run, month, fees)

    def tender(self, run: int, month: int) -> None:
        """Put the contract out to the district pool."""
        self._succession().tender(self.now, run, month)

    def replacement_failed(self, run: int, month: int) -> None:
        """The owners did not vote a new firm in."""
        self._succession().replacement_failed(self.now, run, month)

    def deficit_funding(self, run: int, funded: bool) -> None:
        """The owners funded a cost-plus deficit, or refused to."""
        self.firms.funding_refused[run] = not funded

    def _succession(self) -> Succession:
        assert self.succession is not None, "the desk is used before the committees exist"
        return self.succession
