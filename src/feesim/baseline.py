"""Month-0 steady state: the community as it stands before anything changes.

A scenario describes a community as reported (fees, collection rate, firm); the model starts it
in the steady state those figures imply, so that with nothing changing (no wage growth, no
proposal) nothing drifts:

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

from feesim.payment import PaymentCoefficients, cycle_hazard, logistic, propensity
from feesim.population import Households

__all__ = ["SETTLE_YEARS", "SPIN_UP_YEARS", "SpinUp", "spin_up", "year_end_rate"]

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
    size = np.maximum(np.diff(hh.group_start), 1).astype(F32)
    cyc = cycle_months.astype(np.int64)
    cyc_f = cyc.astype(F32)
    omega = (1.0 - (1.0 - np.asarray(habit_memory, dtype=np.float64)) ** cyc).astype(F32)
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
    for _ in range(40):
        p = logistic(log_odds(offset.astype(F32).take(hh.run)))
        hh.habit[:] = p
        neighbours = (hh.per_group(hh.habit).astype(F32) / size).take(hh.group)
        coll = np.clip(hh.per_run(year_end_rate(p, 12 // cyc) * bill) / weight, 1e-6, 1 - 1e-6)
        offset = np.where(solve, offset + 0.8 * (goal - np.log(coll / (1 - coll))), 0.0)
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
                hh.habit += np.where(closes, omega, F32(0)) * (paid_up - hh.habit)
                overdue += owed_cycle * closes
                owed_cycle *= ~closes
                neighbours = (hh.per_group(hh.habit).astype(F32) / size).take(hh.group)
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
