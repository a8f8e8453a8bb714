"""Perceived quality, satisfaction and trust.

*Perceived quality* of a community follows delivered quality with a lag, plus a slowly fading
boost from renovation works; each household sees it through a fixed personal offset.

*Satisfaction* (0-1) is quality against what the fee should buy (质价相符, Shanghai Provisions
Art. 48), plus the visible change of service against what residents are used to (cuts provoke
refusal; improvements win goodwill), minus the rise of the fee above the fee they are used to:

    s_i = 0.5 + sat_level * (q_i - min(1, fee / full_service_fee))
              + sat_trend * (q - q_anchor) - sat_price * max(0, fee / fee_anchor - 1)

Anchors (quality and fee residents are used to) follow the current values over
``behaviour.anchor_months``. A fee change voted by the owners moves the fee anchor at once by the
share of owners who approved it: a negotiated, legitimate step is partly accepted as the new
normal price, a unilateral rise is felt in full (cases B20, B21: refusal to pay after unilateral
rises).

*Trust* (0-1) of household i is its disposition, plus its personal experience (court suits,
door-to-door visits), plus a community trust stock ``T`` that every resident shares. ``T`` moves
towards ``trust_satisfaction * (mean satisfaction - its month-0 value) + G`` at the rate
``trust_adjust``, where ``G`` is the governance stock moved by events every resident sees
(disclosure, audits, negotiation, evaluations; rollbacks, broken promises and exits move it down);
such events also move ``T`` at once. Accumulated trust relaxes (model.md, principles): ``G``
fades towards 0 with the half-life ``governance_half_life_months``, personal experience with
``personal_half_life_months``, and both stay within bounds (:data:`GOVERNANCE_CAP`,
:data:`PERSONAL_CAP`), so no run of events can buy lasting trust: what lasts is what residents
keep seeing (satisfaction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feesim.engine.population import Households, per_household
from feesim.engine.state import CommunityState, RunValues

__all__ = [
    "GOVERNANCE_CAP",
    "PERSONAL_CAP",
    "RENOVATION_DECAY",
    "Perception",
    "add_personal",
    "attitudes",
    "change_fee",
    "community_satisfaction",
    "household_satisfaction",
    "household_trust",
    "monthly_retention",
    "relax_endorsement",
    "relax_personal",
    "trust_shock",
    "update_perception",
    "update_trust",
]

F32 = np.float32

#: Most trust the governance stock can hold, either way (trust points; judgement: three or
#: four process events' worth, see the trust_* coefficients of feesim.config.behaviour).
GOVERNANCE_CAP = 0.2
#: Most trust a household's personal experience can add or remove (trust points; judgement:
#: a suit's worth, ``trust_sued``).
PERSONAL_CAP = 0.3
#: Monthly decay of the visible renovation boost (half-life about six years): judgement.
RENOVATION_DECAY = 0.01


@dataclass(eq=False)
class Perception:
    """Community-level perception state; arrays over runs (``fee_anchor`` is runs x types)."""

    quality: np.ndarray  # perceived delivered quality
    anchor: np.ndarray  # quality residents are used to
    facility: np.ndarray  # visible renovation boost
    fee_anchor: np.ndarray  # (R, B) fee residents are used to
    trust: np.ndarray  # community trust stock T
    governance: np.ndarray  # governance stock G
    sat_ref: np.ndarray  # mean satisfaction at month 0

    @classmethod
    def start(cls, quality: np.ndarray, fee: np.ndarray) -> Perception:
        """Steady state at month 0: residents are used to today's service and fee."""
        r = quality.shape[0]
        return cls(
            quality=quality.astype(np.float64).copy(),
            anchor=quality.astype(np.float64).copy(),
            facility=np.zeros(r),
            fee_anchor=fee.astype(np.float64).copy(),
            trust=np.zeros(r),
            governance=np.zeros(r),
            sat_ref=np.full(r, 0.5),
        )

    @property
    def seen_quality(self) -> np.ndarray:
        """Quality residents see: perceived service plus the renovation boost."""
        return self.quality + self.facility


def update_perception(
    p: Perception,
    delivered: np.ndarray,
    fee: np.ndarray,
    lag: np.ndarray | float,
    anchor_months: np.ndarray | float,
) -> None:
    """Advance perceived quality and the anchors by one month (in place)."""
    p.quality += lag * (delivered - p.quality)
    p.facility *= 1.0 - RENOVATION_DECAY
    p.anchor += (p.seen_quality - p.anchor) / anchor_months
    rate = np.asarray(1.0 / np.asarray(anchor_months, dtype=np.float64))
    p.fee_anchor += (fee - p.fee_anchor) * (rate[:, None] if rate.ndim else rate)


def community_satisfaction(
    p: Perception, fee: np.ndarray, full_fee: np.ndarray, beh: object
) -> np.ndarray:
    """Satisfaction (before personal offsets) of each run and building type, shape (R, B)."""
    seen = p.seen_quality[:, None]
    expected = np.minimum(1.0, fee / full_fee)
    rel_rise = np.maximum(0.0, fee / np.maximum(p.fee_anchor, 1e-9) - 1.0)

    def col(x: object) -> object:
        a = np.asarray(x, dtype=np.float64)
        return a[:, None] if a.ndim else a

    return (
        0.5
        + col(beh.sat_level) * (seen - expected)
        + col(beh.sat_trend) * (seen - p.anchor[:, None])
        - col(beh.sat_price) * rel_rise
    )


def household_satisfaction(
    hh: Households, sat_rb: np.ndarray, sat_level: np.ndarray | float
) -> np.ndarray:
    """Satisfaction of every household in [0, 1] (float32)."""
    s = sat_rb.astype(F32).ravel().take(hh.rb)
    s += per_household(sat_level, hh.run) * hh.qbias
    np.clip(s, 0.0, 1.0, out=s)
    return s


def household_trust(hh: Households, p: Perception, shift: np.ndarray | None = None) -> np.ndarray:
    """Trust of every household in [0, 1] (float32).

    ``shift`` (per run) moves every disposition, e.g. to the trust of the community's history.
    """
    t = p.trust.astype(F32).take(hh.run)
    if shift is not None:
        t += shift.astype(F32).take(hh.run)
    t += hh.trust0
    t += hh.trust_personal
    np.clip(t, 0.0, 1.0, out=t)
    return t


def monthly_retention(half_life_months: np.ndarray | float) -> np.ndarray | float:
    """Share of a fading quantity left after one month, for a half-life in months."""
    return 0.5 ** (1.0 / np.asarray(half_life_months, dtype=np.float64))


def update_trust(
    p: Perception,
    mean_sat: np.ndarray,
    adjust: np.ndarray | float,
    weight: np.ndarray | float,
    half_life: np.ndarray | float,
) -> None:
    """Move community trust one month towards its target; the governance stock fades."""
    target = weight * (mean_sat - p.sat_ref) + p.governance
    p.trust += adjust * (target - p.trust)
    p.governance *= monthly_retention(half_life)


def trust_shock(p: Perception, runs: np.ndarray, amount: np.ndarray | float) -> None:
    """An event every resident sees (disclosure, audit, rollback, exit...): moves T and G.

    The governance stock stays within :data:`GOVERNANCE_CAP`; the community stock moves by
    what the governance stock could take.
    """
    before = p.governance[runs].copy()
    p.governance[runs] = np.clip(before + amount, -GOVERNANCE_CAP, GOVERNANCE_CAP)
    p.trust[runs] += p.governance[runs] - before


def relax_personal(hh: Households, half_life: np.ndarray | float) -> None:
    """Personal trust experience fades one month towards 0 (in place)."""
    hh.trust_personal *= per_household(monthly_retention(half_life), hh.run)


def relax_endorsement(hh: Households, half_life: np.ndarray | float) -> None:
    """Owners' commitment to the fee they voted for fades one month towards 0 (in place)."""
    hh.endorsed *= per_household(monthly_retention(half_life), hh.run)


def add_personal(hh: Households, who: np.ndarray | slice, amount: np.ndarray | float) -> None:
    """Add personal trust experience to some households, within :data:`PERSONAL_CAP`."""
    hh.trust_personal[who] = np.clip(
        hh.trust_personal[who] + amount, -PERSONAL_CAP, PERSONAL_CAP
    ).astype(hh.trust_personal.dtype)


def attitudes(
    hh: Households,
    p: Perception,
    fee: np.ndarray,
    full_fee: np.ndarray,
    beh: RunValues,
    trust_shift: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Satisfaction and trust of every household this month (float32 arrays in [0, 1])."""
    sat_rb = community_satisfaction(p, fee, full_fee, beh)
    trust = household_trust(hh, p, trust_shift)
    return household_satisfaction(hh, sat_rb, beh.sat_level), trust


def change_fee(
    state: CommunityState, p: Perception, run: int, fees: np.ndarray, accepted: float = 0.0
) -> None:
    """Change the fees of run ``run`` (from its next bill).

    ``accepted`` is the share of owners who voted for the change: residents take that share of
    the change as the new normal price at once (a legitimate, negotiated step); the rest is felt
    as a price rise until they get used to it.
    """
    n = len(fees)
    change = fees - state.fee[run, :n]
    p.fee_anchor[run, :n] += accepted * change
    state.fee[run, :n] = fees
