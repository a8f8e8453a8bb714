"""Month-0 steady state: the community as it stands before anything changes.

A scenario describes a community as reported (fees, collection rate, firm); the model starts it
in the steady state those figures imply, so that with nothing changing (no wage growth, no
proposal) nothing drifts:

1. the firm staffs what its revenue at the reported collection affords at its target margin,
   capped by the contracted standard and floored at its safety minimum (or the given quality);
2. residents are used to today's service and fee;
3. households' payment records come from a *spin-up*: several years of billing cycles are
   simulated at the month-0 community state (payments drawn, records updated, neighbours' shares
   recomputed), so that records have their stationary, two-humped spread (reliable payers and
   chronic refusers) rather than everyone at the average. Each year of the spin-up, a community
   offset in the payment log-odds is corrected so that the expected year-end collection rate
   (fee-weighted) equals the reported one. The offset stands for whatever the mechanisms do not
   name (local norms, history); the mechanisms then move collection away from it. Bills left
   unpaid in the last spin-up year become the month-0 arrears.

Reported rates are year to date at year end. With ``C`` bills a year and a household paying a
bill within its cycle with probability ``P`` (and then settling the year's overdue bills too),
the bill of cycle ``c`` is still unpaid in December with probability ``(1 - P) ** (C - c + 1)``,
so the household's expected year-end rate is ``1 - mean_k (1 - P) ** k`` for ``k = 1..C``.
"""

from __future__ import annotations

import numpy as np

from feesim.payment import PaymentCoefficients, logistic, propensity
from feesim.population import Households

__all__ = ["SPIN_UP_YEARS", "spin_up", "year_end_rate"]

F32 = np.float32

#: Years of payment history simulated before month 0.
SPIN_UP_YEARS = 8


def year_end_rate(p: np.ndarray, bills_per_year: np.ndarray | int) -> np.ndarray:
    """Expected share of a year's bills paid by December for cycle propensity ``p``."""
    c = np.asarray(bills_per_year)
    q = 1.0 - p.astype(np.float64)
    # mean_{k=1..C} q**k = q (1 - q**C) / (C (1 - q)), with the limit 1 at q = 1.
    with np.errstate(divide="ignore", invalid="ignore"):
        unpaid = np.where(q < 1 - 1e-12, q * (1 - q**c) / (c * (1 - q)), 1.0)
    return 1.0 - unpaid


def spin_up(
    hh: Households,
    coef: PaymentCoefficients,
    satisfaction: np.ndarray,
    trust: np.ndarray,
    fee_h: np.ndarray,
    target: np.ndarray,
    bills_per_year: np.ndarray,
    habit_memory: np.ndarray | float,
    rng: np.random.Generator,
    years: int = SPIN_UP_YEARS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate the payment history that leads to the reported collection rate.

    Parameters
    ----------
    fee_h : float32 (n,) fee per m2 of each household.
    target : float (R,) reported collection rate per run; NaN where none is given (offset 0).
    bills_per_year : int array (n,) bills a year (12 monthly, 4 quarterly, 1 yearly).
    habit_memory : float or float32 array (n,) monthly weight of the latest payment outcome.
    rng : numpy Generator for the spin-up's payment draws.

    Returns
    -------
    (neighbours, offset, unpaid_share) : float32 (n,), float64 (R,), float64 (n,)
        Stairwell share with a good record, the community offset added to every household's
        payment log-odds, and the share of last year's bills each household left unpaid.
        ``hh.habit`` is set to the month-0 payment records.
    """
    bill = (fee_h * hh.area).astype(np.float64)
    weight = hh.per_run(bill)
    burden = fee_h * hh.area_per_income
    solve = ~np.isnan(target)
    t = np.clip(np.nan_to_num(target, nan=0.5), 1e-6, 1 - 1e-6)
    goal = np.log(t / (1 - t))
    offset = np.zeros(hh.n_runs)
    size = np.maximum(np.diff(hh.group_start), 1).astype(F32)
    cycle_months = (12 // bills_per_year).astype(np.float64)
    omega = (1.0 - (1.0 - np.asarray(habit_memory, dtype=np.float64)) ** cycle_months).astype(F32)
    max_bills = int(bills_per_year.max())
    hh.habit[:] = 1.0
    neighbours = np.ones(hh.n, dtype=F32)
    unpaid_tail = np.zeros(hh.n)
    for year in range(years):
        # Correct the offset on the expected rate at the records as they stand.
        z = propensity(hh, coef, satisfaction, trust, neighbours, burden,
                       offset.astype(F32).take(hh.run))
        rate = year_end_rate(logistic(z), bills_per_year)
        coll = np.clip(hh.per_run(rate * bill) / np.maximum(weight, 1e-12), 1e-6, 1 - 1e-6)
        offset = np.where(solve, offset + 0.9 * (goal - np.log(coll / (1 - coll))), offset)
        off_h = offset.astype(F32).take(hh.run)
        unpaid_run = np.zeros(hh.n)  # consecutive unpaid bills at the end of the year
        for k in range(max_bills):
            active = k < bills_per_year
            z = propensity(hh, coef, satisfaction, trust, neighbours, burden, off_h)
            paid = rng.random(hh.n, dtype=F32) < logistic(z)
            hh.habit += np.where(active, omega, F32(0)) * (paid - hh.habit)
            unpaid_run = np.where(active, np.where(paid, 0.0, unpaid_run + 1.0), unpaid_run)
            neighbours = (hh.per_group(hh.habit).astype(F32) / size).take(hh.group)
        if year == years - 1:
            unpaid_tail = unpaid_run / bills_per_year
    return neighbours, offset, unpaid_tail
