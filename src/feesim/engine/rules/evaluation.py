"""Scores: the residents' periodic evaluation and the district's assessment of the firm.

*Resident evaluation* (居民评议; seed 002: every six months, owner representatives and floor
leaders fill in a scoring sheet on the firm). The score (0-100) is half the service delivered as
a share of what the contract and the voted packages promise (the sheet's items), half the mean
satisfaction of the evaluators (floor leaders, party members and volunteers; all households
where a community has none), times 100. A firm keeping its promises in a community of neutral
mood scores about 75. The committee acts on a score below ``committee.evaluation_threshold``
(:mod:`feesim.engine.committee`): rectification, a price rollback (可进可退, seed 000), or, after
repeated bad scores (``committee.tender_after_bad_scores``), tendering the contract.

*Broken promises* (:func:`broken_promises`): at an evaluation residents see how far delivered
service falls short of what was promised with past steps (the packages) or ahead of a vote
(quality first, a trial); each point of shortfall costs ``trust_broken_promise`` of community
trust (model.md: broken promises cost trust).

*District assessment* (subsidy and rankings; domain-rules section 5: third party 40-50%,
housing office 20-30%, residential area 15-40%). Here: 60% inspected service (delivered quality
as a share of the contracted tier's standard: inspectors check the standard the contract names,
e.g. the Pudong basic standard) and 40% residents' verdict. Of the residents' verdict,
``government.assessment_hotline_weight`` (0.1 of the score by default) is the community's 12345
hotline record: 100 at or below the city's average complaint rate
(:data:`~feesim.engine.rules.complaints.TYPICAL_RATE`), ``100 * average / rate`` above it (half
the points at twice the average); the rest is their satisfaction, where neutral satisfaction
(0.5) scores 75 as on the evaluation sheet (100 * min(1, 0.25 + satisfaction)). Weights:
judgement within the sources' ranges; districts weigh complaints (Xuhui removed firms "with many
complaints, poor management and low satisfaction", AGG-03; Beixinjing street tracks its 12345
satisfaction, AGG-05).
"""

from __future__ import annotations

import numpy as np

from feesim.engine.population import Households
from feesim.engine.rules.complaints import TYPICAL_RATE
from feesim.engine.rules.firm import FirmBook, quality_of_staffing
from feesim.engine.state import Setting

__all__ = [
    "ASSESSMENT_QUALITY_WEIGHT",
    "PROMISE_TOLERANCE",
    "assess",
    "assessment_score",
    "broken_promises",
    "evaluation_score",
    "evaluations_due",
    "resident_scores",
]

#: Weight of inspected quality in the district assessment (third party + housing office).
ASSESSMENT_QUALITY_WEIGHT = 0.6
#: Shortfall of delivered against promised service that residents overlook (quality points;
#: judgement: about one function's worth of slack).
PROMISE_TOLERANCE = 0.02


def evaluation_score(
    hh: Households, satisfaction: np.ndarray, delivered: np.ndarray, promised: np.ndarray
) -> np.ndarray:
    """Residents' evaluation score (0-100) of every run.

    Parameters
    ----------
    satisfaction : float32 (n,) household satisfaction.
    delivered, promised : (R,) quality delivered and quality promised (contract and packages).
    """
    lead = hh.leader
    n_lead = hh.per_run(lead)
    sat_lead = hh.per_run(np.where(lead, satisfaction, 0.0))
    n_all = np.diff(hh.run_start)
    sat_all = hh.per_run(satisfaction.astype(np.float64))
    mean = np.where(n_lead > 0, sat_lead / np.maximum(n_lead, 1), sat_all / np.maximum(n_all, 1))
    kept = np.clip(delivered / np.maximum(promised, 1e-9), 0.0, 1.0)
    return 100.0 * (0.5 * kept + 0.5 * mean)


def assessment_score(
    quality: np.ndarray,
    standard: np.ndarray,
    mean_satisfaction: np.ndarray,
    complaint_rate: np.ndarray | None = None,
    hotline_weight: np.ndarray | float = 0.0,
) -> np.ndarray:
    """District assessment score (0-100).

    From delivered quality against the contracted ``standard``, residents' mean satisfaction
    and, when given, the community's hotline ``complaint_rate`` (complaints per 100,000 m2 a
    year) with its weight in the score (``hotline_weight``; see the module doc).
    """
    q = np.clip(quality / np.maximum(standard, 1e-9), 0.0, 1.0)
    residents = np.clip(0.25 + mean_satisfaction, 0.0, 1.0)
    score = ASSESSMENT_QUALITY_WEIGHT * q + (1 - ASSESSMENT_QUALITY_WEIGHT) * residents
    if complaint_rate is not None:
        hotline = np.minimum(1.0, TYPICAL_RATE / np.maximum(complaint_rate, 1e-9))
        score = score + np.asarray(hotline_weight) * (hotline - residents)
    return 100.0 * score


def resident_scores(hh: Households, satisfaction: np.ndarray, firms: FirmBook) -> np.ndarray:
    """Residents' evaluation score of every run's firm.

    The firm is held to what its contract's standard and the voted packages promise, and to
    any service it committed ahead of a vote or a trial.
    """
    promised = np.maximum(
        np.minimum(firms.tier_q, firms.quality), np.maximum(firms.floor_q, firms.commit_q)
    )
    return evaluation_score(hh, satisfaction, firms.quality, promised)


def assess(
    firms: FirmBook,
    mean_satisfaction: np.ndarray,
    complaint_rate: np.ndarray | None = None,
    hotline_weight: np.ndarray | float = 0.0,
) -> np.ndarray:
    """The district assessment score of every run's firm this month (it sets the subsidy).

    ``complaint_rate``: each community's hotline complaints per 100,000 m2 a year over the last
    twelve months, weighing ``hotline_weight`` of the score (without it the residents' part is
    their satisfaction alone).
    """
    standard = np.maximum(firms.tier_q, firms.floor_q)
    return assessment_score(
        firms.quality, standard, mean_satisfaction, complaint_rate, hotline_weight
    )


def evaluations_due(t: int, setting: Setting) -> np.ndarray:
    """Runs whose committee holds a resident evaluation at the end of month ``t``."""
    since = t + 1 - setting.eval_start
    every = setting.eval_every
    holds = (every > 0) & (since > 0) & (since % np.maximum(every, 1) == 0)
    return np.flatnonzero(holds)


def broken_promises(firms: FirmBook) -> np.ndarray:
    """Promised service (packages, commitments) not delivered, beyond a tolerance (per run)."""
    promised = np.maximum(firms.floor_q, firms.commit_q)
    # A firm staffed for its promise keeps it while quality catches up with the staff.
    kept = np.maximum(firms.quality, quality_of_staffing(firms.staffing, firms.management))
    shortfall = promised - kept - PROMISE_TOLERANCE
    return np.where(promised > 0, np.maximum(shortfall, 0.0), 0.0)
