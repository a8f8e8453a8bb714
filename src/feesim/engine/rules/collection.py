"""Collection: bills, payments, the five-step campaign, legal action and the limitation period.

Each month (:func:`bill`, :func:`collect`, :func:`close_cycles`): bills go out at the start of
each billing cycle; households pay (the ordinary hazard of :mod:`feesim.engine.rules.payment`,
or a campaign's rounds); at the close of a cycle each household's *payment record* moves towards
whether it paid this cycle's bill (weight :func:`record_weight`, the one place records change)
and its stairwell's share of good records is recomputed (:func:`stairwell_share`); unpaid bills
become overdue, and at the year's end they become arrears.

The five-step escalation of seed 004 (Huangpu, a maintenance-fund top-up) runs over about three
months from the day the bills go out:

1. the firm brings the bill to every door (days 0-12);
2. a second round by micro-grid, with phone and WeChat (days 12-20);
3. building volunteers contact those who refuse (days 20-30);
4. the residents' committee and the subdistrict housing office, one by one (second month);
5. legal action against those who still refuse (third month): a share ``legal.sue_share`` of
   those whose debt makes a suit worth its cost is sued.

Steps 1-4 are *rounds*: a household with an unpaid campaign bill pays in a round with
probability ``logistic(z + step_boost)``, plus ``pay_persuasion`` where a volunteer lives in the
stairwell (step 3) and for everyone still unpaid in step 4. A round reaches an absentee owner
with probability ``behaviour.absentee_reach`` only; unreached, they pay at the ordinary hazard.
Outside campaign rounds the ordinary monthly hazard applies
(:func:`feesim.engine.rules.payment.cycle_hazard`). Step 5 files suits against a share of those
still refusing, as ordinary legal action does against long-term debtors.
Every round is a formal demand, which restarts the three-year limitation period (Civil Code Art.
195).

Legal action (``legal.enabled``, or step 5): the firm sues debtors owing at least
``threshold_months`` of bills, a share ``sue_share`` a month (firms sue a minority), and only
where the suit is worth its cost (:func:`worth_suing`: the expected recovery, ``win_rate`` times
what the debtor will owe when the court rules, i.e. the debt plus the bills falling due during
the ``delay_months``, at least ``cost_per_case_yuan``; domain-rules B.5: suits are costly and
slow). Each suit costs the firm; after ``delay_months`` the court rules for the firm with
probability ``win_rate`` and the debtor pays everything owed, otherwise the claim is lost. A suit
lowers the sued household's trust. Everyone in the community feels legal *deterrence*
(:func:`deterrence`): it grows with the suits residents have seen, per 100 households and fading
with ``behaviour.deterrence_half_life_months``, and saturates (half strength at
``behaviour.deterrence_suits``), so that a few suits a year in a large estate are not a threat
every free rider heeds. Water and power are never cut (Civil Code Art. 944).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from feesim.engine.population import Households, per_household
from feesim.engine.rng import Decision, Streams
from feesim.engine.rules.payment import (
    cycle_hazard,
    logistic,
    propensity,
    rounds_paid,
    settle,
    settle_fund,
)
from feesim.engine.rules.perception import add_personal, monthly_retention
from feesim.engine.state import CommunityState, MonthFlows, Residents, RunValues, Setting

F32 = np.float32

__all__ = [
    "CAMPAIGN_DAYS",
    "MAX_ROUNDS",
    "PAID_KEYS",
    "STEP_NAMES",
    "CampaignPlan",
    "RoundLog",
    "bill",
    "close_cycles",
    "collect",
    "deterrence",
    "eligible_debtors",
    "fresh_start",
    "record_weight",
    "stairwell_share",
    "update_records",
    "worth_suing",
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
#: Slot values: no round, the ordinary monthly hazard, or campaign step 1-4.
NO_ROUND, ORDINARY = -1, 0
#: Ordinary payment hazard of a fund bill: due within a quarter (judgement).
FUND_CYCLE_MONTHS = 3
#: What :func:`collect` returns per run (fen; ``suits`` counts cases): fees paid towards the
#: current cycle, this year's overdue bills, earlier years' arrears, by court order; fund bills
#: paid; arrears written off; suits filed.
PAID_KEYS = ("cycle", "overdue", "arrears", "court", "fund", "written_off", "suits")


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

    def note_outstanding(self, active: list[int], owed: np.ndarray, hh: Households) -> None:
        """Remember what each campaign starting now was owed (its share-paid curve's base)."""
        for cid in active:
            if self.outstanding[cid] < 0:
                sl = hh.run_slice(self.run[cid])
                self.outstanding[cid] = int(owed[sl].sum())

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


class RoundLog(Protocol):
    """Where the share of each campaign's bill paid after each round is recorded."""

    def campaign_rounds(
        self,
        month: int,
        active: list[int],
        slots: np.ndarray,
        rounds: np.ndarray,
        owed: np.ndarray,
        plan: CampaignPlan,
    ) -> None:
        """Record this month's rounds of the ``active`` campaigns."""


def eligible_debtors(
    hh: Households, monthly_bill_fen: np.ndarray, threshold_months: np.ndarray | float
) -> np.ndarray:
    """Households owing at least ``threshold_months`` of their monthly bill and not yet sued."""
    limit = monthly_bill_fen * np.asarray(threshold_months, dtype=np.float64)
    if np.ndim(threshold_months):
        limit = monthly_bill_fen * np.asarray(threshold_months, dtype=np.float64).take(hh.run)
    return (hh.owed() >= np.maximum(limit, 1)) & (hh.suit_month < 0)


def worth_suing(hh: Households, monthly_bill_fen: np.ndarray, legal: RunValues) -> np.ndarray:
    """Households whose debt makes a suit worth its cost to the firm.

    The court rules after ``delay_months``, for the firm with probability ``win_rate``, and the
    debtor then pays everything owed: the debt now plus the bills falling due meanwhile. The
    firm sues where that expected recovery covers ``cost_per_case_yuan``.
    """
    delay = per_household(legal.delay_months, hh.run)
    claim = hh.owed() + monthly_bill_fen * delay
    recovery = per_household(legal.win_rate, hh.run) * claim
    return recovery >= 100.0 * per_household(legal.cost_per_case_yuan, hh.run)


def deterrence(seen: np.ndarray, half_strength: np.ndarray | float) -> np.ndarray:
    """Legal deterrence (0-1) residents feel, from the suits they have seen per 100 households.

    Saturating: ``seen / (seen + half_strength)``; none without suits, half at
    ``half_strength``, approaching full deterrence only when suits are common.
    """
    return seen / (seen + np.asarray(half_strength, dtype=np.float64))


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


# -- payment records --------------------------------------------------------------------------
def record_weight(habit_memory: np.ndarray | float, cycle_months: np.ndarray) -> np.ndarray:
    """Weight of a cycle's outcome in the payment record: ``1 - (1 - m) ** L``.

    ``habit_memory`` ``m`` is the monthly weight; a cycle of ``L`` months counts as ``L``
    months of memory.
    """
    return 1.0 - (1.0 - np.asarray(habit_memory, dtype=np.float64)) ** cycle_months


def update_records(habit: np.ndarray, paid_up: np.ndarray, weight: np.ndarray) -> None:
    """Move each payment record ``weight`` of the way to this cycle's outcome (in place)."""
    habit += weight * (paid_up - habit)


def fresh_start(hh: Households, run: int, share: float) -> None:
    """A new provider: the bad records of ``run``'s households move ``share`` back to neutral.

    Non-payment under the old provider is forgiven in part; a good record stays good (a fresh
    start cannot make good payers worse).
    """
    habit = hh.habit[hh.run_slice(run)]
    habit += F32(share) * np.maximum(F32(0.5) - habit, F32(0))


def stairwell_share(hh: Households, habit: np.ndarray | None = None) -> np.ndarray:
    """Share of each household's stairwell group with a good record (float32, per household)."""
    size = np.maximum(np.diff(hh.group_start), 1).astype(F32)
    return (hh.per_group(hh.habit if habit is None else habit).astype(F32) / size).take(hh.group)


# -- the month's collection phase --------------------------------------------------------------
def bill(
    t: int, hh: Households, fee_h: np.ndarray, setting: Setting, state: CommunityState
) -> np.ndarray:
    """Issue the bills of cycles starting this month; returns fen billed per run.

    At month 0 a community enters mid-cycle and is billed the rest of its cycle. A fee rise
    that applies from this month in the middle of a cycle (the end of a trial period,
    ``state.fee_supplement``) is billed for the months of the cycle left, the rest of the
    cycle having been billed at the old fee.
    """
    m = setting.cal_months[t]
    offset = (m - 1) % setting.cycle
    starts = offset == 0
    months_billed = np.where(starts, setting.cycle, 0)
    if t == 0:
        months_billed = setting.cycle - offset  # enter mid-cycle: bill the rest of the cycle
    billed = np.zeros(setting.runs, dtype=np.int64)
    if months_billed.any():
        mult = months_billed.astype(np.float64).take(hh.run)
        amount = np.rint(fee_h.astype(np.float64) * hh.area * mult * 100).astype(np.int64)
        hh.owed_cycle += amount
        billed = hh.per_run(amount)
    if state.fee_supplement.any():
        # Runs starting a cycle were just billed in full at the new fee.
        left = np.where(months_billed > 0, 0, setting.cycle - offset).astype(np.float64)
        rise = hh.by_type(state.fee_supplement).astype(np.float64)
        extra = np.rint(rise * hh.area * left.take(hh.run) * 100).astype(np.int64)
        hh.owed_cycle += extra
        billed = billed + hh.per_run(extra)
        state.fee_supplement[:] = 0.0
    if m == 1 or t == 0:
        state.billed_year = np.zeros(setting.runs, dtype=np.int64)
    state.billed_year = state.billed_year + billed
    return billed


def collect(
    t: int,
    hh: Households,
    residents: Residents,
    setting: Setting,
    state: CommunityState,
    campaigns: CampaignPlan,
    streams: Streams,
    flows: MonthFlows,
    recorder: RoundLog,
) -> dict[str, np.ndarray]:
    """Court judgments, then payments of fees and fund bills; suits; limitation.

    Returns the month's payments per run (keys :data:`PAID_KEYS`). Moves the households'
    debts, the suits residents have seen (``state.suits_seen``, fading) and the deterrence
    they feel (``state.enforcement``, from next month), and ``flows.legal_cost``; campaign
    rounds are logged to ``recorder``.
    """
    R, coef = setting.runs, residents.coef
    paid = {k: np.zeros(R, dtype=np.int64) for k in PAID_KEYS}
    _judge_suits(t, hh, setting, streams, paid)
    enf = per_household(state.enforcement, hh.run) if state.enforcement.any() else None
    burden = residents.fee_h * hh.area_per_income
    z = propensity(
        hh,
        coef,
        residents.satisfaction,
        residents.trust,
        residents.neighbours,
        burden,
        F32(0),
        enf,
    )
    # Property fees.
    slots, legal, active, share = campaigns.schedule(t, "fee", R)
    u = streams.uniform(Decision.PAYMENT, t, hh.n)
    with_arrears: np.ndarray | bool = False
    if not active:
        pays = u < cycle_hazard(z, setting.cycle_h)
    else:
        owed = hh.owed()
        campaigns.note_outstanding(active, owed, hh)
        probs = _round_probs(hh, setting, residents, z, slots, setting.cycle_h, share)
        rounds = rounds_paid(u, probs)
        pays = rounds >= 0
        with_arrears = np.any(slots > 0, axis=0).take(hh.run)
        recorder.campaign_rounds(t, active, slots, rounds, owed, campaigns)
    for key, v in zip(
        ("cycle", "overdue", "arrears"), settle(hh, pays, with_arrears, t), strict=True
    ):
        paid[key] += v
    _demand(hh, slots, t)
    _file_suits(t, hh, residents, setting, streams, legal, paid, flows)
    if setting.cal_months[t] == 12:
        paid["written_off"] += write_off_expired(hh, setting.legal.limitation_months, t)
    # Maintenance-fund bills.
    if hh.owed_fund.any():
        fslots, flegal, factive, fshare = campaigns.schedule(t, "fund", R)
        # For a fund top-up, step 5 is the assembly-authorised legal demand: one last round
        # under enforcement (the committee, not the firm, holds the claim).
        fslots[0, flegal] = 5
        zf = z + coef.burden * burden  # remove the fee burden ...
        zf -= coef.burden * (hh.owed_fund.astype(F32) / F32(1200.0)) / hh.income
        uf = streams.uniform(Decision.FUND_PAYMENT, t, hh.n)
        owed_f = hh.owed_fund.copy()
        if factive:
            campaigns.note_outstanding(factive, owed_f, hh)
            probs = _round_probs(hh, setting, residents, zf, fslots, FUND_CYCLE_MONTHS, fshare)
            rounds = rounds_paid(uf, probs)
            fpays = rounds >= 0
            recorder.campaign_rounds(t, factive, fslots, rounds, owed_f, campaigns)
        else:
            fpays = uf < cycle_hazard(zf, FUND_CYCLE_MONTHS)
        paid["fund"] += settle_fund(hh, fpays)
    beh = setting.beh
    seen = state.suits_seen * monthly_retention(beh.deterrence_half_life_months)
    state.suits_seen = seen + 100.0 * paid["suits"] / setting.n_households
    state.enforcement = deterrence(state.suits_seen, beh.deterrence_suits)
    return paid


def close_cycles(t: int, hh: Households, setting: Setting) -> np.ndarray | None:
    """Close the billing cycles ending this month, and the year in December.

    At a cycle's close every household's payment record moves towards whether it paid the
    cycle's bill (:func:`update_records`) and unpaid bills become overdue; in December, this
    year's overdue bills become arrears (a new debtor's limitation clock starts). Returns the
    stairwell shares recomputed from the new records, or None when no cycle closed.
    """
    m = setting.cal_months[t]
    closing = (m % setting.cycle) == 0
    neighbours = None
    if closing.any():
        paid_up = hh.owed_cycle == 0
        omega = record_weight(setting.beh.habit_memory, setting.cycle)
        w = np.where(closing, omega, 0.0).astype(F32).take(hh.run)
        update_records(hh.habit, paid_up, w)
        if closing.all():
            hh.overdue += hh.owed_cycle
            hh.owed_cycle[:] = 0
        else:
            mask = closing.take(hh.run)
            hh.overdue += hh.owed_cycle * mask
            hh.owed_cycle *= ~mask
        neighbours = stairwell_share(hh)
    if m == 12:
        # New debtors: their limitation clock starts now.
        hh.demand_month[(hh.arrears == 0) & (hh.overdue > 0)] = t
        hh.arrears += hh.overdue
        hh.overdue[:] = 0
    return neighbours


def _round_probs(
    hh: Households,
    setting: Setting,
    residents: Residents,
    z: np.ndarray,
    slots: np.ndarray,
    cycle: object,
    share: np.ndarray,
) -> list[np.ndarray]:
    """Payment probability of every household in each round of the month.

    The ordinary hazard (slot value 0; over ``share`` of the month per run) or a campaign
    step (1-4; 5 = a legal demand, fund bills only). A step is a chance to pay at least as
    good as the ordinary hazard over the days it covers: a campaign adds pressure on those
    who would not pay, it does not hold back those who would.
    """
    b = setting.beh
    out = []
    monthly = cycle_hazard(z, cycle)
    ordinary = monthly
    if np.any(share < 1):
        ordinary = 1 - (1 - monthly) ** share.astype(F32).take(hh.run)

    def at_least_ordinary(p: np.ndarray, s: int) -> np.ndarray:
        days = STEP_DAYS[s - 1] / MONTH_DAYS
        base = 1 - (1 - monthly) ** F32(days)
        # Door-to-door steps; the legal demand of step 5 is served in writing and reaches all.
        return base + (reach if s <= 4 else F32(1)) * (np.maximum(p, base) - base)

    pers = per_household(b.pay_persuasion, hh.run)
    # A round reaches an absentee owner only by chance (the door is answered by a renter or
    # nobody); unreached, the owner pays at the ordinary hazard over the step's days.
    reach = np.where(hh.absentee, per_household(b.absentee_reach, hh.run), F32(1)).astype(F32)
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
                zz = zz + pers * residents.has_volunteer
            if s == 4:
                zz = zz + pers
            p = np.where(mask, at_least_ordinary(logistic(zz), s), p)
        legal = step_h == 5
        if legal.any():
            zl = z + residents.coef.enforcement
            p = np.where(legal, at_least_ordinary(logistic(zl), 5), p)
        out.append(p.astype(F32))
    return out


def _demand(hh: Households, slots: np.ndarray, t: int) -> None:
    """Campaign rounds are formal demands: restart limitation clocks of those runs."""
    demanded = np.any(slots > 0, axis=0)
    if demanded.any():
        hh.demand_month[demanded.take(hh.run)] = t


def _judge_suits(
    t: int, hh: Households, setting: Setting, streams: Streams, paid: dict[str, np.ndarray]
) -> None:
    if not np.any(hh.suit_month >= 0):
        return
    legal = setting.legal
    delay = per_household(legal.delay_months, hh.run)
    due = (hh.suit_month >= 0) & (t - hh.suit_month >= delay)
    if not due.any():
        return
    u = streams.uniform(Decision.LEGAL, t, hh.n, sub=1)
    win = due & (u < per_household(legal.win_rate, hh.run))
    lose = due & ~win
    c, o, a = settle(hh, win, True, t)
    paid["court"] += c + o + a
    lost = hh.arrears * lose + hh.overdue * lose
    paid["written_off"] += hh.per_run(lost)
    hh.arrears -= hh.arrears * lose
    hh.overdue -= hh.overdue * lose
    hh.suit_month[due] = -1


def _file_suits(
    t: int,
    hh: Households,
    residents: Residents,
    setting: Setting,
    streams: Streams,
    legal_step: np.ndarray,
    paid: dict[str, np.ndarray],
    flows: MonthFlows,
) -> None:
    if not (setting.legal_on.any() or legal_step.any()):
        return
    legal = setting.legal
    monthly_bill = residents.fee_h.astype(np.float64) * hh.area * 100
    eligible = eligible_debtors(hh, monthly_bill, legal.threshold_months)
    u = streams.uniform(Decision.LEGAL, t, hh.n)
    # Ordinary legal action targets long-term debtors; the campaign's step 5 targets everyone
    # still refusing its bill. Either way the firm sues only where the suit pays for itself,
    # and only a share of those (domain-rules B.5: suits are costly and slow, firms sue a
    # minority of debtors).
    refusing = legal_step.take(hh.run) & (hh.owed() > 0) & (hh.suit_month < 0)
    worth = worth_suing(hh, monthly_bill, legal)
    sue = (
        ((eligible & setting.legal_on.take(hh.run)) | refusing)
        & worth
        & (u < per_household(legal.sue_share, hh.run))
    )
    if not sue.any():
        return
    hh.suit_month[sue] = t
    hh.demand_month[sue] = t
    sued = per_household(setting.beh.trust_sued, hh.run)
    add_personal(hh, sue, sued[sue] if np.ndim(sued) else sued)
    cases = hh.per_run(sue)
    paid["suits"] += cases
    flows.legal_cost += np.rint(cases * np.asarray(legal.cost_per_case_yuan) * 100).astype(np.int64)
