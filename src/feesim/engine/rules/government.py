"""Exogenous conditions and government levers: wages, prices, subsidies, renovation, tiers.

Wages follow the published Shanghai minimum wage (domain-rules section 3.4) until its last
value, then grow by ``government.wage_growth`` once a year in ``wage_adjust_month``. The district
subsidy for old public housing is paid by assessment-score band (Dongming Road street 2023:
below 60 nothing, 60-70 80%, 71 and above 100%; domain-rules section 5). Renovation works
(美丽家园) finish at the month a scenario gives: a visible improvement residents see, the owners'
share of the cost paid from the maintenance fund, and possibly an upgrade of the service tier
(:func:`public_works`). The fund pays what it holds; what it lacks is billed to every unit by
floor area as a top-up (:func:`works_top_up`), and the works are paid as the top-up comes in
(:func:`pay_works`), so the fund never goes below zero and the government's share is what
spares the owners a bill.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from feesim.config.scenario import TIER_QUALITY, Scenario
from feesim.engine.rules.perception import Perception, trust_shock

__all__ = [
    "SHANGHAI_MIN_WAGE",
    "calendar",
    "min_wage_path",
    "pay_works",
    "price_index_path",
    "public_works",
    "subsidy_factor",
    "works_top_up",
]

#: Shanghai monthly minimum wage (yuan) by effective month (YYYY, M). domain-rules 3.4 / AGG-15.
SHANGHAI_MIN_WAGE: tuple[tuple[int, int, float], ...] = (
    (2011, 4, 1280.0),
    (2012, 4, 1450.0),
    (2013, 4, 1620.0),
    (2014, 4, 1820.0),
    (2015, 4, 2020.0),
    (2016, 4, 2190.0),
    (2017, 4, 2300.0),
    (2018, 4, 2420.0),
    (2019, 4, 2480.0),
    (2021, 7, 2590.0),
    (2023, 7, 2690.0),
    (2025, 7, 2740.0),
)


def calendar(scenario: Scenario, months: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Calendar year and month (1-12) of each simulated month."""
    months = scenario.simulation.months if months is None else months
    t = np.arange(months) + scenario.simulation.start_month - 1
    return scenario.simulation.start_year + t // 12, t % 12 + 1


def _published_wage(year: int, month: int) -> float | None:
    """Latest published minimum wage in force at (year, month), or None before the series."""
    value = None
    for y, m, w in SHANGHAI_MIN_WAGE:
        if (y, m) <= (year, month):
            value = w
    return value


def min_wage_path(scenario: Scenario, months: int | None = None) -> np.ndarray:
    """Minimum wage (yuan/month) in force in each simulated month."""
    g = scenario.government
    years, cal_months = calendar(scenario, months)
    out = np.empty(years.shape[0], dtype=np.float64)
    last_y, last_m, _last_w = SHANGHAI_MIN_WAGE[-1]
    if g.min_wage_yuan is not None:
        wage = g.min_wage_yuan
        for i, m in enumerate(cal_months):
            if i > 0 and m == g.wage_adjust_month:
                wage *= 1.0 + g.wage_growth
            out[i] = wage
        return out
    wage = None
    for i, (y, m) in enumerate(zip(years, cal_months, strict=True)):
        y, m = int(y), int(m)
        in_history = g.use_wage_history and (y, m) < (last_y + 1, last_m)
        if in_history:
            wage = _published_wage(y, m) or SHANGHAI_MIN_WAGE[0][2]
        elif wage is None:
            # Start after the series (or history switched off): begin from the value in force.
            wage = _published_wage(y, m) or SHANGHAI_MIN_WAGE[0][2]
        elif m == g.wage_adjust_month:
            wage *= 1.0 + g.wage_growth
        out[i] = wage
    return out


def price_index_path(scenario: Scenario, months: int | None = None) -> np.ndarray:
    """Materials and utilities price index (1 at month 0), compounding monthly."""
    months = scenario.simulation.months if months is None else months
    return (1.0 + scenario.government.materials_inflation) ** (np.arange(months) / 12.0)


def subsidy_factor(score: np.ndarray, min_score: np.ndarray) -> np.ndarray:
    """Share of the district subsidy paid at an assessment score (0-100).

    Bands of Dongming Road street (浦东明规〔2023〕1号): below the minimum score nothing; from the
    minimum up to 70, 80%; above 70, 100%.
    """
    score = np.asarray(score, dtype=np.float64)
    return np.where(score < min_score, 0.0, np.where(score <= 70.0, 0.8, 1.0))


def public_works(
    t: int,
    run: int,
    scenario: Scenario,
    perception: Perception,
    tier_q: np.ndarray,
    area_m2: float,
    trust_disclosure: float,
    log: Callable[[int, int, str, str], None],
) -> int:
    """Renovations finishing and service-tier upgrades in month ``t`` of run ``run``.

    A renovation raises the quality residents see by its boost (fading, see
    :mod:`feesim.engine.rules.perception`), is announced like disclosed accounts (trust
    ``trust_disclosure``) and may upgrade the contract's tier (its service standard,
    ``tier_q``, in place). Returns the owners' share of the works (fen), paid from the fund.
    """
    owners_fen = 0
    for w in scenario.government.renovations:
        if w.month == t:
            perception.facility[run] += w.quality_boost
            owners = w.cost_per_m2 * (1 - w.government_share) * area_m2
            owners_fen += round(owners * 100)
            trust_shock(perception, np.array([run]), trust_disclosure)
            if w.upgrade_tier is not None:
                tier_q[run] = max(tier_q[run], TIER_QUALITY[w.upgrade_tier])
            log(
                run,
                t,
                "renovation",
                f"{w.cost_per_m2} yuan/m2, government share {w.government_share}",
            )
    for u in scenario.government.tier_upgrades:
        if u.month == t:
            tier_q[run] = max(tier_q[run], TIER_QUALITY[u.tier])
            log(run, t, "tier_upgrade", u.tier)
    return owners_fen


def works_top_up(owners_fen: int, fund_fen: int, area_m2: float) -> float:
    """Top-up (yuan/m2) to bill for the owners' share of works the fund cannot cover."""
    lacking = owners_fen - max(fund_fen, 0)
    return lacking / 100.0 / area_m2 if lacking > 0 else 0.0


def pay_works(due: np.ndarray, fund_fen: np.ndarray, fund_paid: np.ndarray) -> np.ndarray:
    """Pay works due from the fund as far as it holds, with this month's receipts (fen).

    ``due`` (fen per run) is reduced in place by what is paid.
    """
    if not due.any():
        return np.zeros_like(due)
    pay = np.minimum(due, np.maximum(fund_fen + fund_paid, 0))
    due -= pay
    return pay
