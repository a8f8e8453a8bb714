"""Complaints to the 12345 city hotline.

Each month every household complains with probability

    logistic(complaint_intercept + complaint_dissatisfaction * max(0, 0.5 - satisfaction)
             + complaint_cut * max(0, quality_anchor - quality_seen))

so complaints rise with dissatisfaction and, sharply, when service visibly falls below what
residents are used to. The default intercept gives about one complaint a month in a
1,000-household community at mid satisfaction (AGG-12: 14 valid complaints per community a year
in Shanghai in 2018, concentrated in 11% of communities). Draws use the ``COMPLAINT`` stream.
"""

from __future__ import annotations

import numpy as np

from feesim.engine.population import Households, per_household
from feesim.engine.rng import Decision, Streams
from feesim.engine.rules.payment import logistic
from feesim.engine.rules.perception import Perception

__all__ = ["count"]

F32 = np.float32


def count(
    hh: Households,
    satisfaction: np.ndarray,
    perception: Perception,
    beh: object,
    streams: Streams,
    month: int,
) -> np.ndarray:
    """Number of hotline complaints in each run this month (int64 over runs)."""
    cut = np.maximum(0.0, perception.anchor - perception.seen_quality)
    z = per_household(beh.complaint_intercept + np.asarray(beh.complaint_cut) * cut, hh.run)
    z = z + per_household(beh.complaint_dissatisfaction, hh.run) * np.maximum(
        F32(0.5) - satisfaction, F32(0)
    )
    p = logistic(np.asarray(z, dtype=F32))
    u = streams.uniform(Decision.COMPLAINT, month, hh.n)
    return hh.per_run(u < p)
