"""Collection: the five-step campaign, legal action, and the limitation period.

The five-step escalation of seed 004 (Huangpu, a maintenance-fund top-up) runs over about three
months from the day the bills go out:

1. the firm brings the bill to every door (days 0-12);
2. a second round by micro-grid, with phone and WeChat (days 12-20);
3. building volunteers contact those who refuse (days 20-30);
4. the residents' committee and the subdistrict housing office, one by one (second month);
5. legal action against the few who still refuse (third month).

Steps 1-4 are *rounds*: a household with an unpaid campaign bill pays in a round with
probability ``logistic(z + step_boost)``, plus ``pay_persuasion`` where a volunteer lives in the
stairwell (step 3) and for everyone still unpaid in step 4. Outside campaign rounds the ordinary
monthly hazard applies (:func:`feesim.payment.cycle_hazard`). Step 5 files suits. Every round
is a formal demand, which restarts the three-year limitation period (Civil Code Art. 195).

Legal action (``legal.enabled``, or step 5): the firm sues debtors owing at least
``threshold_months`` of bills, a share ``sue_share`` a month (firms sue a minority); each suit
costs the firm; after ``delay_months`` the court rules for the firm with probability
``win_rate`` and the debtor pays everything owed, otherwise the claim is lost. A suit lowers the
sued household's trust and raises the enforcement everyone in the community feels (deterrence),
which decays month by month. Water and power are never cut (Civil Code Art. 944).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from feesim.population import Households

__all__ = [
    "CAMPAIGN_DAYS",
    "DETERRENCE_DECAY",
    "MAX_ROUNDS",
    "STEP_NAMES",
    "CampaignPlan",
    "eligible_debtors",
    "write_off_expired",
]

#: Names of the five steps.
STEP_NAMES = (
    "door_to_door_bill",
    "micro_grid_round",
    "building_volunteers",
    "committee_one_by_one",
    "legal_action",
)
#: Day (since the bills went out) by which each step is over; seed 004 dates steps 1-3
#: (bills out on 10 February, >70% by the 22nd, 90% by 12 March).
CAMPAIGN_DAYS = (12, 20, 30, 60, 90)
#: Month offset (from the campaign's first month) of each step.
STEP_MONTH = (0, 0, 0, 1, 2)
#: Most payment rounds in one month (steps 1-3).
MAX_ROUNDS = 3
#: Monthly persistence of the enforcement signal after suits are filed (judgement).
DETERRENCE_DECAY = 0.7
#: Slot values: no round, the ordinary monthly hazard, or campaign step 1-4.
NO_ROUND, ORDINARY = -1, 0


@dataclass(eq=False)
class CampaignPlan:
    """Campaigns of one batch: each has a run, a first month, a number of steps and a bill."""

    run: list[int] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    bill: list[str] = field(default_factory=list)  # "fee" or "fund"
    outstanding: list[int] = field(default_factory=list)  # fen owed when the campaign began

    def add(self, run: int, start: int, steps: int, bill: str) -> int:
        """Register a campaign; returns its id."""
        if bill not in ("fee", "fund"):
            raise ValueError(f"bill must be 'fee' or 'fund', not {bill!r}")
        self.run.append(int(run))
        self.start.append(int(start))
        self.steps.append(int(steps))
        self.bill.append(bill)
        self.outstanding.append(-1)
        return len(self.run) - 1

    def schedule(
        self, month: int, bill: str, n_runs: int
    ) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """What collection looks like in ``month`` for ``bill`` in every run.

        Returns
        -------
        slots : int8 array (MAX_ROUNDS, R)
            For each payment round of the month and run: -1 no round, 0 the ordinary monthly
            hazard, 1-4 a campaign step.
        legal : bool array (R,)
            Runs whose campaign takes step 5 (suits against remaining debtors) this month.
        active : list of int
            Ids of campaigns with a step this month.
        """
        slots = np.full((MAX_ROUNDS, n_runs), NO_ROUND, dtype=np.int8)
        slots[0] = ORDINARY
        legal = np.zeros(n_runs, dtype=bool)
        active = []
        for cid in range(len(self.run)):
            if self.bill[cid] != bill:
                continue
            offset = month - self.start[cid]
            here = [s for s in range(1, self.steps[cid] + 1) if STEP_MONTH[s - 1] == offset]
            if not here:
                continue
            active.append(cid)
            run = self.run[cid]
            rounds = [s for s in here if s <= 4]
            if rounds:
                slots[:, run] = NO_ROUND
                slots[: len(rounds), run] = rounds
            legal[run] |= 5 in here
        return slots, legal, active


def eligible_debtors(
    hh: Households, monthly_bill_fen: np.ndarray, threshold_months: np.ndarray | float
) -> np.ndarray:
    """Households owing at least ``threshold_months`` of their monthly bill and not yet sued."""
    limit = monthly_bill_fen * np.asarray(threshold_months, dtype=np.float64)
    if np.ndim(threshold_months):
        limit = monthly_bill_fen * np.asarray(threshold_months, dtype=np.float64).take(hh.run)
    return (hh.owed() >= np.maximum(limit, 1)) & (hh.suit_month < 0)


def write_off_expired(
    hh: Households, limitation_months: np.ndarray | int, month: int
) -> np.ndarray:
    """Write off arrears whose limitation period has run out (checked at each year end).

    A household's clock (``demand_month``) starts when it first falls into arrears and restarts
    with every formal demand (campaign round, suit) or payment of arrears; arrears with no
    demand for the whole limitation period are lost (Civil Code Arts. 188, 195). Returns the fen
    written off per run.
    """
    limit = limitation_months
    if np.ndim(limitation_months):
        limit = np.asarray(limitation_months).take(hh.run)
    expired = (hh.arrears > 0) & (month - hh.demand_month >= limit) & (hh.suit_month < 0)
    lost = hh.arrears * expired
    hh.arrears -= lost
    return hh.per_run(lost)
