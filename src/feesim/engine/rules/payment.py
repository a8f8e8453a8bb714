"""The payment decision: who pays the bill, when.

Each household has a *propensity*: the probability ``P = logistic(z)`` of paying a bill within
its billing cycle, where

    z = intercept[type] + leader_lean * leader + community_offset
        + pay_habit * (habit - 0.5)                       # own record: strongest predictor
        + pay_satisfaction[type] * (satisfaction - 0.5)   # non-payment as protest
        + pay_trust * (trust - 0.5)
        + pay_norm[type] * (neighbours_paying - undermatch - 0.5)   # conditional cooperation
        - pay_burden * bill / income
        + pay_enforcement[type] * deterrence + pay_persuasion * visited
        + pay_endorsement * endorsed                    # the owner voted for this fee

Types follow Fischbacher, Gaechter & Fehr (2001): conditional cooperators weigh service and
neighbours and slightly under-match what they see; free riders respond mainly to enforcement;
unconditional payers pay. ``deterrence`` (0-1) grows with the suits residents have seen
(:func:`feesim.engine.rules.collection.deterrence`). An absentee owner (the unit let or empty)
weighs the service by ``absentee_response`` of an occupier's ``pay_satisfaction``: they see less
of it and owe the fee whether or not they use it (Civil Code Art. 944). ``community_offset`` is
set at month 0 so that the community's collection equals its reported rate (see
:mod:`feesim.engine.model`).

Outside campaigns a household with an unpaid bill pays in a given month with the constant hazard
``1 - (1 - P) ** (1 / L)`` for a cycle of ``L`` months, so that the share paid by the end of the
cycle is ``P``. During a collection campaign each step is one *round* paid with probability
``logistic(z + step_boost)`` (:mod:`feesim.engine.rules.collection`). A household that pays settles
this year's bills; arrears from earlier years are settled only in campaign rounds (the full
statement is brought to the door) or by court order.

One uniform per household and month (stream ``PAYMENT``) decides, whatever the number of
rounds, so a campaign changes who pays only through the probabilities (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feesim.engine.population import CC, FR, UP, Households, per_household

__all__ = [
    "PaymentCoefficients",
    "cycle_hazard",
    "logistic",
    "payment_coefficients",
    "propensity",
    "rounds_paid",
    "settle",
    "settle_fund",
]

F32 = np.float32


@dataclass(eq=False)
class PaymentCoefficients:
    """Payment coefficients as seen by each household (float32 arrays or scalars)."""

    intercept: np.ndarray
    satisfaction: np.ndarray
    norm: np.ndarray
    enforcement: np.ndarray
    habit: np.ndarray | np.floating
    trust: np.ndarray | np.floating
    burden: np.ndarray | np.floating
    persuasion: np.ndarray | np.floating
    undermatch: np.ndarray
    endorsement: np.ndarray | np.floating = F32(0)


def _by_type(hh: Households, cc: object, fr: object, up: object) -> np.ndarray:
    out = np.empty(hh.n, dtype=F32)
    for t, v in ((CC, cc), (FR, fr), (UP, up)):
        mask = hh.htype == t
        val = per_household(v, hh.run)
        out[mask] = val[mask] if np.ndim(val) else val
    return out


def payment_coefficients(hh: Households, beh: object) -> PaymentCoefficients:
    """Gather the behavioural coefficients each household uses to decide whether to pay.

    Parameters
    ----------
    hh : Households
    beh : object
        Run-level behaviour values (attributes are scalars or arrays over runs).
    """
    run = hh.run
    lean = per_household(beh.leader_lean, run) * hh.leader
    up_sat = per_household(beh.pay_satisfaction_fr, run) * F32(0.5)
    # Absentee owners see less of the service and weigh it less (they owe the fee all the same).
    seen = np.where(hh.absentee, per_household(beh.absentee_response, run), F32(1)).astype(F32)
    return PaymentCoefficients(
        intercept=_by_type(hh, beh.pay_intercept_cc, beh.pay_intercept_fr, beh.pay_intercept_up)
        + lean,
        satisfaction=_by_type(hh, beh.pay_satisfaction, beh.pay_satisfaction_fr, up_sat) * seen,
        norm=_by_type(hh, beh.pay_norm, beh.pay_norm_fr, 0.0),
        enforcement=_by_type(hh, beh.pay_enforcement, beh.pay_enforcement_fr, beh.pay_enforcement),
        habit=per_household(beh.pay_habit, run),
        trust=per_household(beh.pay_trust, run),
        burden=per_household(beh.pay_burden, run),
        persuasion=per_household(beh.pay_persuasion, run),
        endorsement=per_household(beh.pay_endorsement, run),
        # Conditional cooperators under-match what they see; others follow the share as seen.
        undermatch=np.where(hh.htype == CC, per_household(beh.undermatch, run), F32(0)).astype(F32)
        + F32(0.5),
    )


def propensity(
    hh: Households,
    c: PaymentCoefficients,
    satisfaction: np.ndarray,
    trust: np.ndarray,
    neighbours: np.ndarray,
    bill_burden: np.ndarray,
    offset: np.ndarray,
    enforcement: np.ndarray | None = None,
) -> np.ndarray:
    """Payment log-odds ``z`` of every household (float32).

    Parameters
    ----------
    satisfaction, trust : float32 arrays in [0, 1]
    neighbours : float32 array
        Share of the household's stairwell group with a good payment record.
    bill_burden : float32 array
        Monthly bill divided by monthly income.
    offset : float32 array
        Community offset of each household's run (taken per household).
    enforcement : float32 array, optional
        Enforcement level each household faces (legal deterrence), 0 if None.
    """
    z = c.intercept + offset
    z += c.habit * (hh.habit - F32(0.5))
    z += c.satisfaction * (satisfaction - F32(0.5))
    z += c.trust * (trust - F32(0.5))
    z += c.norm * (neighbours - c.undermatch)
    z -= c.burden * bill_burden
    if enforcement is not None:
        z += c.enforcement * enforcement
    z += c.endorsement * hh.endorsed
    return z


def logistic(z: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function (float32 in, float32 out)."""
    with np.errstate(over="ignore"):
        out = np.exp(-z)
    out += F32(1.0)
    np.reciprocal(out, out=out)
    return out


def cycle_hazard(z: np.ndarray, cycle_months: float | np.ndarray) -> np.ndarray:
    """Monthly payment probability for a bill of an ``L``-month cycle, propensity logistic(z)."""
    p = logistic(z)
    if np.ndim(cycle_months) == 0 and float(cycle_months) == 1.0:
        return p
    with np.errstate(divide="ignore"):
        np.log1p(-p, out=p)
    p *= F32(1.0) / np.asarray(cycle_months, dtype=F32)
    np.expm1(p, out=p)
    np.negative(p, out=p)
    return p


def rounds_paid(u: np.ndarray, probabilities: list[np.ndarray]) -> np.ndarray:
    """Round (0-based) in which each household pays, or -1; one uniform ``u`` per household.

    With round probabilities ``p_k`` the household pays in the first round ``k`` where
    ``u < 1 - prod_{j<=k} (1 - p_j)``: the same ``u`` gives the same household fewer or more
    rounds only through the probabilities (monotone coupling).
    """
    out = np.full(u.shape[0], -1, dtype=np.int8)
    survive = np.ones(u.shape[0], dtype=F32)
    for k, p in enumerate(probabilities):
        survive *= F32(1.0) - p
        newly = (out < 0) & (u < F32(1.0) - survive)
        out[newly] = k
    return out


def settle(
    hh: Households, pays: np.ndarray, with_arrears: np.ndarray | bool = False, month: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Households flagged in ``pays`` pay this year's bills (current cycle and overdue ones).

    Earlier years' arrears are paid only where ``with_arrears`` is true: when a campaign brings
    the full statement to the door or a court orders payment. Ordinary payers rarely clear old
    debts of their own accord, so without campaigns and suits arrears stay unrecovered.

    Returns
    -------
    (cycle, overdue, arrears) : int64 arrays over runs (fen) paid towards the current cycle's
        bill, this year's earlier bills and earlier years' arrears.
    """
    out = []
    for arr in (hh.owed_cycle, hh.overdue):
        paid = arr * pays
        arr -= paid
        out.append(hh.per_run(paid))
    if np.any(with_arrears):
        mask = pays & with_arrears
        paid = hh.arrears * mask
        hh.arrears -= paid
        out.append(hh.per_run(paid))
        hh.demand_month[mask] = month  # paying arrears restarts the limitation clock
    else:
        out.append(np.zeros(hh.n_runs, dtype=np.int64))
    return out[0], out[1], out[2]


def settle_fund(hh: Households, pays: np.ndarray) -> np.ndarray:
    """Households flagged in ``pays`` pay their maintenance-fund bill; returns fen per run."""
    paid = hh.owed_fund * pays
    hh.owed_fund -= paid
    return hh.per_run(paid)
