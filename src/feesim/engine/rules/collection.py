"""Collection: the five-step campaign, legal action, and the limitation period.

The five-step escalation of seed 004 (Huangpu, a maintenance-fund top-up) runs over about three
months from the day the bills go out:

1. the firm brings the bill to every door (days 0-12);
2. a second round by micro-grid, with phone and WeChat (days 12-20);
3. building volunteers contact those who refuse (days 20-30);
4. the residents' committee and the subdistrict housing office, one by one (second month);
5. legal action against those who still refuse (third month): a share ``legal.sue_share`` of
   them is sued.

Steps 1-4 are *rounds*: a household with an unpaid campaign bill pays in a round with
probability ``logistic(z + step_boost)``, plus ``pay_persuasion`` where a volunteer lives in the
stairwell (step 3) and for everyone still unpaid in step 4. Outside campaign rounds the ordinary
monthly hazard applies (:func:`feesim.engine.rules.payment.cycle_hazard`). Step 5 files suits
against a share of those still refusing, as ordinary legal action does against long-term debtors.
Every round is a formal demand, which restarts the three-year limitation period (Civil Code Art.
195).

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

from feesim.engine.population import Households, per_household
from feesim.engine.rng import Decision
from feesim.engine.rules.payment import (
    cycle_hazard,
    logistic,
    propensity,
    rounds_paid,
    settle,
    settle_fund,
)

F32 = np.float32

__all__ = [
    "CAMPAIGN_DAYS",
    "DETERRENCE_DECAY",
    "MAX_ROUNDS",
    "STEP_NAMES",
    "CampaignPlan",
    "CollectionMixin",
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
#: Days each step lasts.
STEP_DAYS = (12, 8, 10, 30, 30)
#: Month offset (from the campaign's first month) of each step.
STEP_MONTH = (0, 0, 0, 1, 2)
#: Most payment rounds in one month (steps 1-3, or fewer steps and the rest of the month).
MAX_ROUNDS = 3
#: Days of a month on the campaign's clock.
MONTH_DAYS = 30
#: Monthly persistence of the enforcement signal after suits are filed (judgement).
DETERRENCE_DECAY = 0.7
#: Slot values: no round, the ordinary monthly hazard, or campaign step 1-4.
NO_ROUND, ORDINARY = -1, 0
#: Ordinary payment hazard of a fund bill: due within a quarter (judgement).
FUND_CYCLE_MONTHS = 3


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
    ) -> tuple[np.ndarray, np.ndarray, list[int], np.ndarray]:
        """What collection looks like in ``month`` for ``bill`` in every run.

        A campaign's rounds replace the month's ordinary hazard for the days they cover; when
        they end before the month does (a campaign of one or two steps), the ordinary hazard
        applies for the rest of the month, so that a campaign never leaves a household fewer
        chances to pay than no campaign.

        Returns
        -------
        slots : int8 array (MAX_ROUNDS, R)
            For each payment round of the month and run: -1 no round, 0 the ordinary monthly
            hazard, 1-4 a campaign step.
        legal : bool array (R,)
            Runs whose campaign takes step 5 (suits against remaining debtors) this month.
        active : list of int
            Ids of campaigns with a step this month.
        ordinary_share : float array (R,)
            Share of the month the run's ordinary round covers (1 without a campaign).
        """
        slots = np.full((MAX_ROUNDS, n_runs), NO_ROUND, dtype=np.int8)
        slots[0] = ORDINARY
        share = np.ones(n_runs)
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
                end = CAMPAIGN_DAYS[rounds[-1] - 1] - 30 * STEP_MONTH[rounds[-1] - 1]
                if end < MONTH_DAYS:
                    slots[len(rounds), run] = ORDINARY
                    share[run] = (MONTH_DAYS - end) / MONTH_DAYS
            legal[run] |= 5 in here
        return slots, legal, active, share


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


class CollectionMixin:
    """The collection phase of a :class:`~feesim.engine.model.FeeModel` month (step 6).

    Court judgments, campaign rounds or the ordinary hazard, payments, suits, limitation and
    fund bills, with the rules of this module and :mod:`feesim.engine.rules.payment`.
    """

    def _collect(self, t: int) -> dict[str, np.ndarray]:
        hh, _b, R = self.hh, self.beh, len(self.scenarios)
        paid = {
            k: np.zeros(R, dtype=np.int64)
            for k in ("cycle", "overdue", "arrears", "court", "fund", "written_off", "suits")
        }
        self._judge_suits(t, paid)
        enf = per_household(self.enforcement, hh.run) if self.enforcement.any() else None
        burden = self.fee_h * hh.area_per_income
        z = propensity(
            hh, self.coef, self.satisfaction, self.trust, self.neighbours, burden, F32(0), enf
        )
        # Property fees.
        slots, legal, active, share = self.campaigns.schedule(t, "fee", R)
        u = self.streams.uniform(Decision.PAYMENT, t, hh.n)
        with_arrears: np.ndarray | bool = False
        if not active:
            pays = u < cycle_hazard(z, self._cycle_h())
        else:
            owed = hh.owed()
            self._campaign_start(active, owed)
            rounds = rounds_paid(u, self._round_probs(z, slots, self._cycle_h(), share))
            pays = rounds >= 0
            with_arrears = np.any(slots > 0, axis=0).take(hh.run)
            self.recorder.campaign_rounds(t, active, slots, rounds, owed, self.campaigns)
        for key, v in zip(
            ("cycle", "overdue", "arrears"), settle(hh, pays, with_arrears, t), strict=True
        ):
            paid[key] += v
        self._demand(slots, t)
        self._file_suits(t, legal, paid)
        if self.cal_months[t] == 12:
            paid["written_off"] += write_off_expired(hh, self.legal.limitation_months, t)
        # Maintenance-fund bills.
        if hh.owed_fund.any():
            fslots, flegal, factive, fshare = self.campaigns.schedule(t, "fund", R)
            # For a fund top-up, step 5 is the assembly-authorised legal demand: one last round
            # under enforcement (the committee, not the firm, holds the claim).
            fslots[0, flegal] = 5
            zf = z + self.coef.burden * burden  # remove the fee burden ...
            zf -= self.coef.burden * (hh.owed_fund.astype(F32) / F32(1200.0)) / hh.income
            uf = self.streams.uniform(Decision.FUND_PAYMENT, t, hh.n)
            owed_f = hh.owed_fund.copy()
            if factive:
                self._campaign_start(factive, owed_f)
                rounds = rounds_paid(uf, self._round_probs(zf, fslots, FUND_CYCLE_MONTHS, fshare))
                fpays = rounds >= 0
                self.recorder.campaign_rounds(t, factive, fslots, rounds, owed_f, self.campaigns)
            else:
                fpays = uf < cycle_hazard(zf, FUND_CYCLE_MONTHS)
            paid["fund"] += settle_fund(hh, fpays)
        self.enforcement = DETERRENCE_DECAY * self.enforcement + (paid["suits"] > 0)
        self.paid_units = pays
        return paid

    def _cycle_h(self) -> float | np.ndarray:
        if self.uniform_cycle:
            return float(self.cycle[0])
        if getattr(self, "_cycle_households", None) is None:
            self._cycle_households = self.cycle.astype(F32).take(self.hh.run)
        return self._cycle_households

    def _campaign_start(self, active: list[int], owed: np.ndarray) -> None:
        plan = self.campaigns
        for cid in active:
            if plan.outstanding[cid] < 0:
                sl = self.hh.run_slice(plan.run[cid])
                plan.outstanding[cid] = int(owed[sl].sum())

    def _round_probs(
        self, z: np.ndarray, slots: np.ndarray, cycle: object, share: np.ndarray
    ) -> list[np.ndarray]:
        """Payment probability of every household in each round of the month.

        The ordinary hazard (slot value 0; over ``share`` of the month per run) or a campaign
        step (1-4; 5 = a legal demand, fund bills only). A step is a chance to pay at least as
        good as the ordinary hazard over the days it covers: a campaign adds pressure on those
        who would not pay, it does not hold back those who would.
        """
        hh, b = self.hh, self.beh
        out = []
        monthly = cycle_hazard(z, cycle)
        ordinary = monthly
        if np.any(share < 1):
            ordinary = 1 - (1 - monthly) ** share.astype(F32).take(hh.run)

        def at_least_ordinary(p: np.ndarray, s: int) -> np.ndarray:
            days = STEP_DAYS[s - 1] / MONTH_DAYS
            return np.maximum(p, 1 - (1 - monthly) ** F32(days))

        pers = per_household(b.pay_persuasion, hh.run)
        for k in range(slots.shape[0]):
            step = slots[k]
            if k > 0 and np.all(step < 0):
                break
            step_h = step.take(hh.run)
            p = np.zeros(hh.n, dtype=F32)
            p = np.where(step_h == ORDINARY, ordinary, p)
            for s, name in (
                (1, "campaign_door"),
                (2, "campaign_grid"),
                (3, "campaign_volunteer"),
                (4, "campaign_committee"),
            ):
                mask = step_h == s
                if not mask.any():
                    continue
                zz = z + per_household(getattr(b, name), hh.run)
                if s == 3:
                    zz = zz + pers * self.has_volunteer
                if s == 4:
                    zz = zz + pers
                p = np.where(mask, at_least_ordinary(logistic(zz), s), p)
            legal = step_h == 5
            if legal.any():
                p = np.where(legal, at_least_ordinary(logistic(z + self.coef.enforcement), 5), p)
            out.append(p.astype(F32))
        return out

    def _demand(self, slots: np.ndarray, t: int) -> None:
        """Campaign rounds are formal demands: restart limitation clocks of those runs."""
        demanded = np.any(slots > 0, axis=0)
        if demanded.any():
            self.hh.demand_month[demanded.take(self.hh.run)] = t

    def _judge_suits(self, t: int, paid: dict[str, np.ndarray]) -> None:
        hh = self.hh
        if not np.any(hh.suit_month >= 0):
            return
        delay = per_household(self.legal.delay_months, hh.run)
        due = (hh.suit_month >= 0) & (t - hh.suit_month >= delay)
        if not due.any():
            return
        u = self.streams.uniform(Decision.LEGAL, t, hh.n, sub=1)
        win = due & (u < per_household(self.legal.win_rate, hh.run))
        lose = due & ~win
        c, o, a = settle(hh, win, True, t)
        paid["court"] += c + o + a
        lost = hh.arrears * lose + hh.overdue * lose
        paid["written_off"] += hh.per_run(lost)
        hh.arrears -= hh.arrears * lose
        hh.overdue -= hh.overdue * lose
        hh.suit_month[due] = -1

    def _file_suits(self, t: int, legal_step: np.ndarray, paid: dict[str, np.ndarray]) -> None:
        hh = self.hh
        if not (self.legal_on.any() or legal_step.any()):
            return
        monthly_bill = self.fee_h.astype(np.float64) * hh.area * 100
        eligible = eligible_debtors(hh, monthly_bill, self.legal.threshold_months)
        u = self.streams.uniform(Decision.LEGAL, t, hh.n)
        # Ordinary legal action targets long-term debtors; the campaign's step 5 targets everyone
        # still refusing its bill. Either way the firm sues only a share of them (domain-rules
        # B.5: suits are costly and slow, firms sue a minority of debtors).
        refusing = legal_step.take(hh.run) & (hh.owed() > 0) & (hh.suit_month < 0)
        sue = ((eligible & self.legal_on.take(hh.run)) | refusing) & (
            u < per_household(self.legal.sue_share, hh.run)
        )
        if not sue.any():
            return
        hh.suit_month[sue] = t
        hh.demand_month[sue] = t
        hh.trust_personal[sue] += per_household(self.beh.trust_sued, hh.run) * np.ones(1, F32)
        cases = hh.per_run(sue)
        paid["suits"] += cases
        self._legal_cost += np.rint(cases * np.asarray(self.legal.cost_per_case_yuan) * 100).astype(
            np.int64
        )
