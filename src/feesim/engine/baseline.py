"""Month-0 steady state: the community as it stood when its figures were reported.

A scenario describes a community as reported (fees, collection rate, firm) and the conditions
under which the figures were observed (its *history*, :class:`~feesim.config.scenario.History`:
by default no subsidy, no public income to the firm, a fixed-fee contract and ordinary trust).
The model starts it in the steady state those figures imply under its history, so that with
nothing changing (no wage growth, no lever) nothing drifts; the scenario's own subsidy, public
income, contract and trust then act from month 0 through their mechanisms (the firm staffs for
the revenue it gets, residents trust as they do), exactly as they would if switched on later. A
reported rate is an observation of the community, not something the levers in force are fitted
away against (model.md, principles):

1. the firm staffs what its revenue at the reported collection affords at its target margin,
   capped by the contracted standard and floored at its safety minimum (or the given quality);
2. residents are used to today's service and fee;
3. households' payment records come from a *spin-up*: several calendar years of bills and
   payments are simulated month by month at the month-0 community state, with the same rules as
   the model (monthly hazard within a billing cycle, settling the year's overdue bills, records
   updated at each cycle's close, neighbours' shares recomputed). Records therefore start with
   their stationary, two-humped spread (reliable payers and chronic refusers) rather than all at
   the average. After each spin-up year a community offset in the payment log-odds is corrected
   so that the *realised* year-end collection rate (fee-weighted) moves to the reported one. The
   offset stands for whatever the mechanisms do not name (local norms, history); the mechanisms
   then move collection away from it. Bills left unpaid in the last spin-up year become the
   month-0 arrears, and that year's month-by-month cash is the firm's trailing-year record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from feesim.config.scenario import TIER_QUALITY, Scenario
from feesim.engine.population import Households, per_household, template_index
from feesim.engine.rng import Decision, Streams
from feesim.engine.rules import complaints
from feesim.engine.rules.collection import record_weight, stairwell_share, update_records
from feesim.engine.rules.evaluation import assess
from feesim.engine.rules.firm import FUNCTIONS, FirmBook
from feesim.engine.rules.government import subsidy_factor
from feesim.engine.rules.payment import (
    PaymentCoefficients,
    cycle_hazard,
    logistic,
    payment_coefficients,
    propensity,
)
from feesim.engine.rules.perception import Perception, attitudes, household_trust
from feesim.engine.state import BehaviourRuns, CommunityState, Residents, Setting, run_values

__all__ = [
    "SETTLE_YEARS",
    "SPIN_UP_YEARS",
    "HistoryValues",
    "SpinUp",
    "Templates",
    "build_firms",
    "initial_collection",
    "spin_up",
    "start_residents",
    "year_end_rate",
]

F32 = np.float32

#: Calendar years of payment history simulated before month 0 while the offset is corrected,
#: then years at the final offset, and the correction's gain per year.
SPIN_UP_YEARS = 5
SETTLE_YEARS = 2
SPIN_UP_GAIN = 0.35


def year_end_rate(p: np.ndarray, bills_per_year: np.ndarray | int) -> np.ndarray:
    """Expected share of a year's bills paid by December for a constant cycle propensity ``p``.

    With ``C`` bills a year, the bill of cycle ``c`` is still unpaid in December with
    probability ``(1 - p) ** (C - c + 1)``. Used for the first guess of the spin-up.
    """
    c = np.asarray(bills_per_year)
    q = 1.0 - p.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        unpaid = np.where(q < 1 - 1e-12, q * (1 - q**c) / (c * (1 - q)), 1.0)
    return 1.0 - unpaid


@dataclass(eq=False)
class SpinUp:
    """What the spin-up hands to the model."""

    neighbours: np.ndarray  # float32 (n,) stairwell share with a good record
    offset: np.ndarray  # float64 (R,) community offset in the payment log-odds
    unpaid_months: np.ndarray  # float64 (n,) months of bills left unpaid in the last year
    cash_profile: np.ndarray  # float64 (R, 12) share of the year's billing paid in each month
    realised: np.ndarray  # float64 (R,) realised year-end rate of the last spin-up year


def spin_up(
    hh: Households,
    coef: PaymentCoefficients,
    satisfaction: np.ndarray,
    trust: np.ndarray,
    fee_h: np.ndarray,
    target: np.ndarray,
    cycle_months: np.ndarray,
    habit_memory: np.ndarray | float,
    rng: np.random.Generator,
    years: int = SPIN_UP_YEARS,
    settle_years: int = SETTLE_YEARS,
) -> SpinUp:
    """Simulate the payment history that leads to the reported collection rate.

    Parameters
    ----------
    fee_h : float32 (n,) fee per m2 of each household.
    target : float (R,) reported collection rate per run; NaN where none is given (offset 0).
    cycle_months : int array (n,) months per bill (1 monthly, 3 quarterly, 12 yearly).
    habit_memory : float or float32 array (n,) monthly weight of the latest payment outcome.
    rng : numpy Generator for the spin-up's payment draws.
    years : int
        Years during which the offset is corrected after each year.
    settle_years : int
        Further years at the final offset, so that records become stationary for it.

    Returns
    -------
    SpinUp
        ``hh.habit`` is set to the month-0 payment records as a side effect.
    """
    bill = (fee_h * hh.area).astype(np.float64)  # monthly bill (yuan)
    yearly = hh.per_run(12.0 * bill)
    burden = fee_h * hh.area_per_income
    solve = ~np.isnan(target)
    t = np.clip(np.nan_to_num(target, nan=0.5), 1e-6, 1 - 1e-6)
    goal = np.log(t / (1 - t))
    cyc = cycle_months.astype(np.int64)
    cyc_f = cyc.astype(F32)
    omega = record_weight(habit_memory, cyc).astype(F32)
    # Only the record and neighbour terms move during the spin-up: split them off once.
    hh.habit[:] = F32(0.5)
    static = propensity(hh, coef, satisfaction, trust, coef.undermatch, burden, F32(0))
    hh.habit[:] = 1.0
    neighbours = np.ones(hh.n, dtype=F32)

    def log_odds(off_h: np.ndarray) -> np.ndarray:
        z = static + off_h
        z += coef.habit * (hh.habit - F32(0.5))
        z += coef.norm * (neighbours - coef.undermatch)
        return z

    # First guess: the deterministic fixed point (records equal to propensities) whose
    # closed-form year-end rate meets the target; the stochastic years then refine it.
    offset = np.zeros(hh.n_runs)
    weight = np.maximum(hh.per_run(bill), 1e-12)
    bills_per_year = 12 // cyc
    for _ in range(40):
        p = logistic(log_odds(offset.astype(F32).take(hh.run)))
        hh.habit[:] = p
        neighbours = stairwell_share(hh)
        coll = np.clip(hh.per_run(year_end_rate(p, bills_per_year) * bill) / weight, 1e-6, 1 - 1e-6)
        step = np.where(solve, goal - np.log(coll / (1 - coll)), 0.0)
        offset += 0.8 * step
        if np.max(np.abs(step), initial=0.0) < 0.01:  # the stochastic years refine the rest
            break
    cash = np.zeros((hh.n_runs, 12))
    realised = np.full(hh.n_runs, np.nan)
    owed_cycle = np.zeros(hh.n)  # in months of bill
    overdue = np.zeros(hh.n)
    unpaid_months = np.zeros(hh.n)
    total = years + settle_years
    for year in range(total):
        off_h = offset.astype(F32).take(hh.run)
        last = year == total - 1
        for month in range(12):
            starts = month % cyc == 0
            owed_cycle += np.where(starts, cyc, 0)
            pays = rng.random(hh.n, dtype=F32) < cycle_hazard(log_odds(off_h), cyc_f)
            if last:
                cash[:, month] = hh.per_run((owed_cycle + overdue) * pays * bill)
            owed_cycle *= ~pays
            overdue *= ~pays
            closes = month % cyc == cyc - 1
            if closes.any():
                paid_up = owed_cycle == 0
                update_records(hh.habit, paid_up, np.where(closes, omega, F32(0)))
                overdue += owed_cycle * closes
                owed_cycle *= ~closes
                neighbours = stairwell_share(hh)
        unpaid_months = overdue.copy()
        realised = 1.0 - hh.per_run(overdue * bill) / np.maximum(yearly, 1e-12)
        overdue[:] = 0.0  # last year's unpaid bills become arrears (not settled by payers)
        if year < years:
            # The realised rate answers an offset change over about two years (records adjust
            # with a lag, and the habit feedback amplifies it): a small fixed gain converges
            # without oscillating.
            r = np.clip(realised, 1e-6, 1 - 1e-6)
            offset = np.where(solve, offset + SPIN_UP_GAIN * (goal - np.log(r / (1 - r))), offset)
    profile = cash / np.maximum(yearly, 1e-12)[:, None]
    return SpinUp(
        neighbours=neighbours,
        offset=offset,
        unpaid_months=unpaid_months,
        cash_profile=profile,
        realised=realised,
    )


@dataclass(frozen=True, eq=False)
class Templates:
    """Household populations shared by replicates.

    ``template`` holds one copy of each, the batch's run ``r`` copies template ``mapping[r]``,
    and ``first[i]`` is the first run copying template ``i``.
    """

    template: Households
    mapping: np.ndarray
    first: list[int]


@dataclass(frozen=True, eq=False)
class HistoryValues:
    """The conditions of each run's history (arrays over runs)."""

    subsidy_rate: np.ndarray  # yuan/m2/month
    public_to_firm: np.ndarray  # yuan/month of public income the firm received
    cost_plus: np.ndarray  # bool
    trust_shift: np.ndarray  # history's trust minus the scenario's (added to dispositions)

    @classmethod
    def of(cls, scenarios: list[Scenario]) -> HistoryValues:
        """The history of each scenario."""
        hist = [sc.history for sc in scenarios]
        share = [
            sc.firm.public_income_firm_share
            if h.public_income_firm_share is None
            else h.public_income_firm_share
            for sc, h in zip(scenarios, hist, strict=True)
        ]
        return cls(
            subsidy_rate=np.array([h.subsidy_per_m2 for h in hist], dtype=np.float64),
            public_to_firm=np.array([h.public_income_yuan_month for h in hist]) * share,
            cost_plus=np.array([h.contract == "cost_plus" for h in hist]),
            trust_shift=np.array(
                [
                    h.trust - sc.community.initial_trust
                    for sc, h in zip(scenarios, hist, strict=True)
                ]
            ),
        )


def initial_collection(scenarios: list[Scenario]) -> np.ndarray:
    """The reported collection rate of each run (NaN where none is given)."""
    return np.array(
        [
            np.nan
            if sc.community.initial_collection_rate is None
            else sc.community.initial_collection_rate
            for sc in scenarios
        ]
    )


def _standard_normal(streams: Streams, decision: Decision, runs: int) -> np.ndarray:
    """One standard normal draw per run, each from the run's own stream."""
    u = streams.uniform_runs(decision, 0, np.arange(runs), np.ones(runs, dtype=np.int64))
    return ndtri(np.clip(u.astype(np.float64), 1e-9, 1 - 1e-9))


def build_firms(
    setting: Setting,
    state: CommunityState,
    equip_rb: np.ndarray,
    history: HistoryValues,
    streams: Streams,
) -> FirmBook:
    """Each run's firm at month 0: its contract, cost structure, staffing and trailing year.

    Each run's firm draws the margin below which it declines to renew (stream ``FIRM``, one
    per run, so the draw does not depend on the other runs of the batch).

    Staffing, cash and the trailing year are those of the history; the book's contract form is
    the history's too until :func:`start_residents` has spun the history up.
    """
    runs, R = setting.scenarios, setting.runs
    f = lambda g: np.array([g(sc.firm) for sc in runs], dtype=np.float64)
    std_staff = f(lambda x: x.staff_per_10k_m2) * setting.area_total / 1e4
    labour_per_wage = std_staff * f(lambda x: x.wage_premium * (1 + x.social_insurance_rate))
    ms = f(lambda x: x.materials_share)
    materials_full = labour_per_wage * setting.wage[0] * ms / (1 - ms)
    equipment = (equip_rb * setting.area_rb).sum(axis=1)
    tier_q = np.array([TIER_QUALITY[sc.firm.tier] for sc in runs])
    firms = FirmBook(
        state=np.zeros(R, dtype=np.int8),
        exit_month=np.full(R, -1, dtype=np.int32),
        since=np.zeros(R, dtype=np.int32),
        serial=np.zeros(R, dtype=np.int32),
        x=np.zeros((R, len(FUNCTIONS))),
        held=np.zeros(R),
        q=np.zeros((R, len(FUNCTIONS))),
        management=f(lambda x: x.management_quality),
        cash=np.zeros(R, dtype=np.int64),
        tier_q=tier_q,
        floor_q=np.zeros(R),
        commit_q=np.zeros(R),
        rectify_until=np.full(R, -1, dtype=np.int32),
        term_end=f(lambda x: x.term_months).astype(np.int32),
        loss_months=np.zeros(R, dtype=np.int32),
        thin_months=np.zeros(R, dtype=np.int32),
        ring_revenue=np.zeros((R, 12)),
        ring_cost=np.zeros((R, 12)),
        ring_fee_cash=np.zeros((R, 12)),
        ring_fee_due=np.zeros((R, 12)),
        cost_plus=history.cost_plus.copy(),
        std_staff=std_staff,
        labour_per_wage=labour_per_wage,
        materials_full=materials_full,
        equipment=equipment,
        target_margin=f(lambda x: x.target_margin),
        cut_margin=f(lambda x: x.cut_margin),
        remuneration=f(lambda x: x.remuneration_rate),
        deficit_months=f(lambda x: x.deficit_months),
        funding_refused=np.zeros(R, dtype=bool),
        staff_floor=f(lambda x: x.staff_floor),
        max_cut=f(lambda x: x.max_cut_rate),
        max_hire=f(lambda x: x.max_hire_rate),
        quality_lag=f(lambda x: x.quality_lag),
        exit_loss_months=f(lambda x: x.exit_loss_months).astype(np.int32),
        renewal_margin=f(lambda x: x.renewal_margin)
        + f(lambda x: x.renewal_margin_sd) * _standard_normal(streams, Decision.FIRM, R),
        renewal_months=f(lambda x: x.renewal_months).astype(np.int32),
        notice_months=f(lambda x: x.notice_months).astype(np.int32),
        term_months=f(lambda x: x.term_months).astype(np.int32),
        credit_months=f(lambda x: x.credit_limit_months),
        cash_months=f(lambda x: x.initial_cash_months),
    )
    _staff_baseline(firms, setting, state, history, np.ones(R))
    return firms


def _staff_baseline(
    firms: FirmBook,
    setting: Setting,
    state: CommunityState,
    history: HistoryValues,
    subsidy_factor: np.ndarray,
) -> None:
    """Month-0 staffing, cash and trailing year of every firm (sets ``state.subsidy_paid``).

    What the history's revenue affords; ``subsidy_factor`` is the share of the history's
    district subsidy each firm's assessment earned.
    """
    runs, R, fb = setting.scenarios, setting.runs, firms
    c0 = initial_collection(runs)
    accrual = (state.fee * setting.area_rb).sum(axis=1)
    state.subsidy_paid = history.subsidy_rate * setting.area_total * subsidy_factor
    revenue0 = accrual * np.nan_to_num(c0, nan=0.85) + history.public_to_firm + state.subsidy_paid
    wage0, price0 = setting.wage[0], setting.price[0]
    x_tier = fb.staffing_for(fb.tier_q)
    given = np.array(
        [np.nan if sc.firm.initial_quality is None else sc.firm.initial_quality for sc in runs]
    )
    x0 = np.where(
        np.isnan(given),
        np.clip(fb.affordable(revenue0, wage0, price0), fb.staff_floor, x_tier),
        fb.staffing_for(np.nan_to_num(given)),
    )
    fb.allocate(x0)
    fb.held = fb.staffing.copy()
    fb.q = np.minimum(fb.x * fb.management[:, None], 1.2)
    cost0 = fb.service_cost(wage0, price0)
    fb.cash[:] = np.rint(fb.cash_months * cost0 * 100).astype(np.int64)
    # Trailing-year rings as the last twelve months looked: cash comes in after each bill
    # at the constant monthly hazard that yields the collection rate by the cycle's end.
    coll = np.nan_to_num(c0, nan=0.85)
    hazard = 1.0 - (1.0 - coll) ** (1.0 / setting.cycle)
    profile = np.empty((R, 12))
    for k in range(12):  # ring slot k holds the calendar month of simulated month k - 12
        j = (setting.cal_months[0] - 1 + k) % 12 % setting.cycle
        profile[:, k] = hazard * (1.0 - hazard) ** j
    profile /= profile.sum(axis=1, keepdims=True)
    fb.ring_fee_cash[:] = (12.0 * accrual * coll)[:, None] * profile
    fb.ring_revenue[:] = (revenue0 - accrual * coll)[:, None] + fb.ring_fee_cash
    fb.ring_cost[:] = cost0[:, None]
    fb.ring_fee_due[:] = accrual[:, None]


def _history(
    hh: Households,
    setting: Setting,
    coef: PaymentCoefficients,
    s: np.ndarray,
    tau: np.ndarray,
    fee_h: np.ndarray,
    streams: Streams,
    templates: Templates | None,
) -> SpinUp:
    """Month-0 payment history: spun up for every run, or once per shared population."""
    rng = streams.generator(Decision.POPULATION, sub=1)
    target = initial_collection(setting.scenarios)
    if templates is None:
        return spin_up(
            hh,
            coef,
            s,
            tau,
            fee_h,
            target,
            setting.cycle.take(hh.run),
            per_household(setting.beh.habit_memory, hh.run),
            rng,
        )
    template, mapping, first = templates.template, templates.mapping, templates.first
    src = template_index(template, mapping)
    # The first run copying each template holds exactly the template's households.
    idx = np.concatenate([np.arange(hh.run_start[r], hh.run_start[r + 1]) for r in first])
    beh = run_values(BehaviourRuns, [setting.scenarios[r].behaviour for r in first])
    hist = spin_up(
        template,
        payment_coefficients(template, beh),
        s[idx],
        tau[idx],
        fee_h[idx],
        target[first],
        setting.cycle[first].take(template.run),
        per_household(beh.habit_memory, template.run),
        rng,
    )
    hh.habit[:] = template.habit[src]
    return SpinUp(
        neighbours=hist.neighbours[src],
        offset=hist.offset[mapping],
        unpaid_months=hist.unpaid_months[src],
        cash_profile=hist.cash_profile[mapping],
        realised=hist.realised[mapping],
    )


def start_residents(
    hh: Households,
    setting: Setting,
    state: CommunityState,
    firms: FirmBook,
    streams: Streams,
    templates: Templates | None,
    history: HistoryValues,
) -> tuple[Residents, Perception]:
    """Households' attitudes and payment history at month 0; the firm's trailing year.

    Residents are used to the history's service and fee. A subsidy is only paid on a good
    enough assessment, so firms staff for what the score earned. Payment records, arrears and
    the community offsets come from the spin-up under the history's conditions (module doc),
    and the firm's trailing year of cash is the spin-up's last year, month by month. Then the
    scenario's own conditions take over: the firm's contract form, and residents' trust at
    its month-0 level (their attitudes of month 0 are recomputed with it).
    """
    perception = Perception.start(firms.quality, state.fee)
    coef = payment_coefficients(hh, setting.beh)
    shift = history.trust_shift
    s, tau = attitudes(hh, perception, state.fee, state.full_fee, setting.beh, shift)
    # The assessment as month 1 will make it: the hotline record is what month-0 moods bring.
    hotline = complaints.rate(
        complaints.expected(hh, s, perception, setting.beh)[:, None], setting.area_total
    )
    score = assess(firms, hh.mean(s), hotline, setting.hotline_weight)
    factor = subsidy_factor(score, setting.subsidy_min)
    if np.any((history.subsidy_rate > 0) & (factor < 1)):
        _staff_baseline(firms, setting, state, history, factor)
        perception = Perception.start(firms.quality, state.fee)
        s, tau = attitudes(hh, perception, state.fee, state.full_fee, setting.beh, shift)
    perception.sat_ref = hh.mean(s)
    fee_h = hh.by_type(state.fee)
    spun = _history(hh, setting, coef, s, tau, fee_h, streams, templates)
    coef.intercept = (coef.intercept + spun.offset.astype(F32).take(hh.run)).astype(F32)
    has_leader = hh.per_group(hh.leader) > 0
    # Bills left unpaid at the end of the spin-up's last year are the month-0 arrears.
    monthly_fen = fee_h.astype(np.float64) * hh.area * 100.0
    hh.arrears[:] = np.rint(monthly_fen * spun.unpaid_months).astype(np.int64)
    # The firm's trailing year is the spin-up's last year, month by month.
    accrual = (state.fee * setting.area_rb).sum(axis=1)
    other = firms.ring_revenue - firms.ring_fee_cash
    for k in range(12):  # ring slot k holds the calendar month of simulated month k - 12
        cal = (setting.cal_months[0] - 1 + k) % 12
        firms.ring_fee_cash[:, k] = 12.0 * accrual * spun.cash_profile[:, cal]
    firms.ring_revenue[:] = other + firms.ring_fee_cash
    firms.cost_plus[:] = [sc.firm.contract == "cost_plus" for sc in setting.scenarios]
    residents = Residents(
        coef=coef,
        offset=spun.offset,
        has_volunteer=has_leader.take(hh.group),
        satisfaction=s,
        trust=household_trust(hh, perception),
        fee_h=fee_h,
        neighbours=spun.neighbours,
    )
    return residents, perception
