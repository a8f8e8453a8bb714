"""Complaints to the 12345 city hotline.

Each month every household complains with probability

    logistic(complaint_intercept + complaint_dissatisfaction * max(0, 0.5 - satisfaction)
             + complaint_cut * max(0, quality_anchor - quality_seen))

so complaints rise with dissatisfaction and, sharply, when service visibly falls below what
residents are used to. Those who live there call: owner-occupiers and renters, not the empty
units of absentee owners. The default intercept gives about one complaint a month in a
1,000-household community at mid satisfaction (AGG-12: 14 valid complaints per community a year
in Shanghai in 2018, concentrated in 11% of communities). Draws use the ``COMPLAINT`` stream.

What complaints feed (the model keeps each community's last twelve months,
``CommunityState.complaints``): the district assessment's residents' part counts the hotline
record (:func:`feesim.engine.rules.evaluation.assessment_score`), and a *surge* (:func:`surge`)
makes the owners' committee act (an early resident evaluation, or a rectification order;
:meth:`feesim.engine.committee.OwnersCommittee.on_complaint_surge`).
"""

from __future__ import annotations

import numpy as np

from feesim.engine.population import Households, per_household
from feesim.engine.rng import Decision, Streams
from feesim.engine.rules.payment import logistic
from feesim.engine.rules.perception import Perception

__all__ = [
    "SURGE_MIN_COMPLAINTS",
    "SURGE_MONTHS",
    "SURGE_RATIO",
    "SURGE_Z",
    "TYPICAL_RATE",
    "count",
    "expected",
    "probability",
    "rate",
    "surge",
]

F32 = np.float32

#: Valid hotline complaints per 100,000 m2 of a community a year, Shanghai's average in 2018
#: (AGG-12: 173,000 complaints in 12,099 communities, 22 per 100,000 m2).
TYPICAL_RATE = 22.0
#: A *surge*: complaints of the last :data:`SURGE_MONTHS` months at a yearly rate at least
#: :data:`SURGE_RATIO` times that of the nine months before and above the city's average, and
#: more than chance brings at that earlier rate (:data:`SURGE_Z` Poisson standard deviations
#: above it, about one window in ten thousand) and at least :data:`SURGE_MIN_COMPLAINTS`
#: (judgement: complaints pile up when service is visibly cut, AGG-12: 11% of communities draw
#: 47% of complaints; a committee counting a few dozen calls does not act on chance).
SURGE_MONTHS = 3
SURGE_RATIO = 2.0
SURGE_Z = 3.7
SURGE_MIN_COMPLAINTS = 5


def probability(
    hh: Households, satisfaction: np.ndarray, perception: Perception, beh: object
) -> np.ndarray:
    """Each household's probability of calling the hotline this month (0 for an empty unit)."""
    cut = np.maximum(0.0, perception.anchor - perception.seen_quality)
    z = per_household(beh.complaint_intercept + np.asarray(beh.complaint_cut) * cut, hh.run)
    z = z + per_household(beh.complaint_dissatisfaction, hh.run) * np.maximum(
        F32(0.5) - satisfaction, F32(0)
    )
    p = logistic(np.asarray(z, dtype=F32))
    return np.where(~hh.absentee | hh.renter, p, F32(0))


def count(
    hh: Households,
    satisfaction: np.ndarray,
    perception: Perception,
    beh: object,
    streams: Streams,
    month: int,
) -> np.ndarray:
    """Number of hotline complaints in each run this month (int64 over runs)."""
    p = probability(hh, satisfaction, perception, beh)
    u = streams.uniform(Decision.COMPLAINT, month, hh.n)
    return hh.per_run(u < p)


def expected(
    hh: Households, satisfaction: np.ndarray, perception: Perception, beh: object
) -> np.ndarray:
    """Expected complaints of each run in a month (what the month-0 record is filled with)."""
    return hh.per_run(probability(hh, satisfaction, perception, beh).astype(np.float64))


def rate(monthly: np.ndarray, area_m2: np.ndarray) -> np.ndarray:
    """Yearly complaints per 100,000 m2 from months of counts (runs x months, any number)."""
    months = monthly.shape[1]
    return monthly.sum(axis=1) * (12.0 / months) / np.maximum(area_m2, 1e-9) * 1e5


def surge(record: np.ndarray, month: int, area_m2: np.ndarray) -> np.ndarray:
    """Runs whose complaints surged in the months up to ``month`` (bool over runs).

    ``record`` holds each run's last twelve months of complaints, month ``t`` in slot
    ``t % 12``.
    """
    order = (month - np.arange(12)) % 12  # this month first
    calls = record[:, order[:SURGE_MONTHS]].sum(axis=1)
    earlier = record[:, order[SURGE_MONTHS:]]
    expected = earlier.sum(axis=1) * SURGE_MONTHS / earlier.shape[1]
    recent = calls * (12.0 / SURGE_MONTHS) / np.maximum(area_m2, 1e-9) * 1e5
    return (
        (calls >= SURGE_RATIO * expected)
        & (calls >= expected + SURGE_Z * np.sqrt(expected) + 0.5)
        & (recent > TYPICAL_RATE)
        & (calls >= SURGE_MIN_COMPLAINTS)
    )
