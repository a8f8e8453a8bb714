"""The owners' vote under PRC Civil Code Art. 278, and how owners decide.

Counting (:func:`tally`), exactly as the statute and the SPC interpretation (domain-rules 1.1):

- one head per owner; an owner of several units is one head with the areas summed;
- quorum: participating owners hold at least 2/3 of the exclusive area AND are at least 2/3 of
  the owners; without quorum there is no decision (distinct from a rejection);
- a fee change or hiring a firm needs MORE THAN 1/2 of the participating area AND of the
  participating owners; raising maintenance funds (also rebuilding, change of use) needs AT LEAST
  3/4 of both;
- optionally (off by default, legally contested since 2021), owners who did not vote are counted
  with the majority of those who did (从众).

Heads are integers and areas are integers in 0.01 m2, so every comparison is exact: a quorum of
exactly 2/3 is met, an approval of exactly 1/2 is not, an approval of exactly 3/4 is.

Deciding (:func:`approval_utility`, :func:`cast`): each unit has an approval utility and a
turnout propensity. Door-to-door rounds (逐户上门) visit a share of households; a visit raises
turnout (ballots collected at the door), approval and personal trust. In every round each
household also leans towards its stairwell group's current leaning. The owner's primary unit
casts the owner's ballot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feesim.engine.population import Households, per_household
from feesim.engine.rng import Decision, Streams
from feesim.engine.rules.payment import logistic

__all__ = [
    "MATTERS",
    "SUPERMAJORITY_MATTERS",
    "VoteOutcome",
    "approval_utility",
    "cast",
    "count",
    "tally",
]

F32 = np.float32

#: Matters the model votes on; the second group needs 3/4 (Art. 278 items 6-8).
MATTERS = ("fee", "hire_firm", "maintenance_fund")
SUPERMAJORITY_MATTERS = frozenset({"maintenance_fund"})

TESTS = ("quorum_heads", "quorum_area", "approval_heads", "approval_area")


@dataclass(frozen=True)
class VoteOutcome:
    """Result of one vote in each of several runs (arrays over those runs)."""

    total_heads: np.ndarray
    total_area_c: np.ndarray
    part_heads: np.ndarray
    part_area_c: np.ndarray
    yes_heads: np.ndarray
    yes_area_c: np.ndarray
    supermajority: np.ndarray
    quorum_met: np.ndarray
    passed: np.ndarray
    binding: np.ndarray  # names of the deciding test

    @property
    def turnout_heads(self) -> np.ndarray:
        """Participating owners / all owners."""
        return _ratio(self.part_heads, self.total_heads)

    @property
    def turnout_area(self) -> np.ndarray:
        """Participating area / total area."""
        return _ratio(self.part_area_c, self.total_area_c)

    @property
    def approval_heads(self) -> np.ndarray:
        """Approving owners / participating owners."""
        return _ratio(self.yes_heads, self.part_heads)

    @property
    def approval_area(self) -> np.ndarray:
        """Approving area / participating area."""
        return _ratio(self.yes_area_c, self.part_area_c)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def tally(
    total_heads: np.ndarray,
    total_area_c: np.ndarray,
    part_heads: np.ndarray,
    part_area_c: np.ndarray,
    yes_heads: np.ndarray,
    yes_area_c: np.ndarray,
    supermajority: np.ndarray | bool = False,
    silent_majority: bool = False,
) -> VoteOutcome:
    """Apply Civil Code Art. 278 to counts of heads and areas (vectorised over votes).

    Parameters
    ----------
    total_heads, total_area_c : int arrays
        Owners and their exclusive area (0.01 m2) in each community.
    part_heads, part_area_c : int arrays
        Owners who took part in the vote, and their area.
    yes_heads, yes_area_c : int arrays
        Participating owners who approved, and their area.
    supermajority : bool or bool array
        True for matters needing at least 3/4 (raising maintenance funds, rebuilding, change
        of use); False for more than 1/2 (fees, hiring or dismissing a firm, renewals).
    silent_majority : bool
        Count non-voters with the majority of voters by heads (从众); contested, off by default.

    Returns
    -------
    VoteOutcome

    Examples
    --------
    Exactly 2/3 of owners and of area take part; 2 of 4 participants approve: quorum met, but a
    half is not "more than half":

    >>> out = tally([6], [600], [4], [400], [2], [200])
    >>> bool(out.quorum_met[0]), bool(out.passed[0])
    (True, False)
    """
    th, ta = np.asarray(total_heads, np.int64), np.asarray(total_area_c, np.int64)
    ph, pa = np.asarray(part_heads, np.int64), np.asarray(part_area_c, np.int64)
    yh, ya = np.asarray(yes_heads, np.int64), np.asarray(yes_area_c, np.int64)
    sup = np.broadcast_to(np.asarray(supermajority, dtype=bool), th.shape).copy()
    if np.any((ph > th) | (pa > ta) | (yh > ph) | (ya > pa) | (yh < 0) | (ya < 0)):
        raise ValueError("vote counts must satisfy 0 <= yes <= participants <= total")
    if silent_majority:
        majority_yes = 2 * yh > ph
        yh = np.where(majority_yes, yh + (th - ph), yh)
        ya = np.where(majority_yes, ya + (ta - pa), ya)
        ph, pa = th.copy(), ta.copy()
    q_heads = 3 * ph >= 2 * th
    q_area = 3 * pa >= 2 * ta
    quorum = q_heads & q_area
    a_heads = np.where(sup, 4 * yh >= 3 * ph, 2 * yh > ph) & (ph > 0)
    a_area = np.where(sup, 4 * ya >= 3 * pa, 2 * ya > pa) & (pa > 0)
    passed = quorum & a_heads & a_area
    # Margins of each test (share above its threshold) to name the deciding one.
    thr = np.where(sup, 0.75, 0.5)
    margins = np.stack(
        [
            _ratio(ph, th) - 2 / 3,
            _ratio(pa, ta) - 2 / 3,
            np.nan_to_num(_ratio(yh, ph), nan=0.0) - thr,
            np.nan_to_num(_ratio(ya, pa), nan=0.0) - thr,
        ]
    )
    masked = margins.copy()
    masked[2:, ~quorum] = np.inf  # no quorum: a quorum test decided
    masked[:2, quorum & ~passed] = np.inf  # quorum met but rejected: an approval test decided
    binding = np.asarray(TESTS, dtype=object)[np.argmin(masked, axis=0)]
    return VoteOutcome(
        total_heads=th,
        total_area_c=ta,
        part_heads=ph,
        part_area_c=pa,
        yes_heads=yh,
        yes_area_c=ya,
        supermajority=sup,
        quorum_met=quorum,
        passed=passed,
        binding=binding,
    )


def approval_utility(
    hh: Households,
    beh: object,
    satisfaction: np.ndarray,
    trust: np.ndarray,
    step_rb: np.ndarray,
    burden_rise: np.ndarray,
    promised_quality: np.ndarray,
    quality_gain: np.ndarray,
    process_steps: np.ndarray,
) -> np.ndarray:
    """Approval log-odds of every unit for one proposal per run (float32).

    ``logit P(yes) = approve_intercept + approve_trust (trust - .5) + approve_satisfaction
    (satisfaction - .5) - approve_step * relative_step - approve_burden * bill_rise / income
    + approve_package * promised_quality * trust + approve_quality_gain * improvement_seen
    + approve_process * process_steps + leader_lean * leader``

    Parameters
    ----------
    step_rb : (R, B) relative fee step per run and building type.
    burden_rise : float32 (n,) rise of the monthly bill (or a one-off bill spread over a year)
        divided by income.
    promised_quality : (R,) service improvement promised with the proposal.
    quality_gain : (R,) improvement already seen since the proposal was announced.
    process_steps : (R,) count of process steps (disclosure, audit, negotiation, trial, renovation).
    """
    run = hh.run
    v = np.full(hh.n, 0.0, dtype=F32) + per_household(beh.approve_intercept, run)
    v += per_household(beh.approve_trust, run) * (trust - F32(0.5))
    v += per_household(beh.approve_satisfaction, run) * (satisfaction - F32(0.5))
    v -= per_household(beh.approve_step, run) * step_rb.astype(F32).ravel().take(hh.rb)
    v -= per_household(beh.approve_burden, run) * burden_rise
    v += per_household(beh.approve_package, run) * per_household(promised_quality, run) * trust
    v += per_household(np.asarray(beh.approve_quality_gain) * quality_gain, run)
    v += per_household(np.asarray(beh.approve_process) * process_steps, run)
    v += per_household(beh.leader_lean, run) * hh.leader
    return v


def cast(
    hh: Households,
    beh: object,
    streams: Streams,
    month: int,
    sub: int,
    utility: np.ndarray,
    engagement: np.ndarray,
    rounds: np.ndarray,
    intensity: np.ndarray,
    voting: np.ndarray,
    participants: np.ndarray | None = None,
    runs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Owners decide whether to take part and whether to approve.

    Parameters
    ----------
    utility : float32 (n,) approval log-odds before persuasion.
    engagement : float32 (n,) engagement in [0, 1].
    rounds : int (R,) door-to-door rounds per run.
    intensity : float (R,) share of households a round reaches.
    voting : bool (R,) runs holding this vote.
    sub : int
        Index of this vote within the month (separates random streams of several votes).
    participants : bool array over owners, optional
        Owners taking part, when the question is on the same ballot as an earlier one (a
        value-added package): only approval is decided then.
    runs : int array, optional
        The batch's run numbers of ``hh``'s runs when ``hh`` is a subset of the batch (default:
        ``0..R-1``). Each run draws from its own streams, so a household's draws do not depend
        on which other communities vote in the same month (common random numbers).

    Returns
    -------
    (participates, approves, visited) : bool arrays over owners, owners, households
        Entries of runs not voting are False.
    """
    run = hh.run
    turnout = per_household(beh.turnout_intercept, run) + per_household(
        beh.turnout_engagement, run
    ) * (engagement - F32(0.5))
    turnout = np.asarray(turnout, dtype=F32)
    v = utility.copy()
    visited = np.zeros(hh.n, dtype=bool)
    norm_w = per_household(beh.approve_norm, run)
    group_size = np.diff(hh.group_start).astype(F32)
    lean_norm = np.zeros(hh.n, dtype=F32)
    n_rounds = int(rounds[voting].max()) if voting.any() else 0

    batch_runs = np.arange(hh.n_runs) if runs is None else np.asarray(runs)
    sizes = np.diff(hh.run_start)

    def uniform(decision: Decision, sub_key: int) -> np.ndarray:
        return streams.uniform_runs(decision, month, batch_runs, sizes, sub=sub_key)

    for k in range(n_rounds + 1):
        # Stairwell talk: everyone leans towards the group's current leaning.
        leaning = logistic(v + lean_norm)
        group_share = hh.per_group(leaning).astype(F32) / np.maximum(group_size, F32(1))
        lean_norm = norm_w * (group_share.take(hh.group) - F32(0.5))
        if k == n_rounds:
            break
        reach = np.where(voting & (rounds > k), intensity, 0.0).astype(F32).take(run)
        hit = uniform(Decision.VISIT, 100 * sub + k) < reach
        visited |= hit
        v += per_household(beh.approve_visit, run) * hit
        turnout += per_household(beh.turnout_visit, run) * hit
    v += lean_norm
    p_turn = logistic(turnout)
    p_yes = logistic(v)
    u_turn = uniform(Decision.TURNOUT, sub)
    u_yes = uniform(Decision.APPROVAL, sub)
    in_vote = voting.take(run)
    if participants is None:
        part_unit = in_vote & (u_turn < p_turn)
    else:
        part_unit = in_vote & participants.take(hh.owner)
    yes_unit = part_unit & (u_yes < p_yes)
    return part_unit.take(hh.owner_primary), yes_unit.take(hh.owner_primary), visited & in_vote


def count(hh: Households, participates: np.ndarray, approves: np.ndarray) -> dict[str, np.ndarray]:
    """Per-run counts of heads and 0.01 m2 areas for :func:`tally` (arrays over all runs)."""
    area = hh.owner_area_c
    return {
        "total_heads": np.diff(hh.owner_start),
        "total_area_c": hh.per_owner_run(area),
        "part_heads": hh.per_owner_run(participates),
        "part_area_c": hh.per_owner_run(area * participates),
        "yes_heads": hh.per_owner_run(approves),
        "yes_area_c": hh.per_owner_run(area * approves),
    }
