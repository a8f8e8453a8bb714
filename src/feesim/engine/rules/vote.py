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

Holding a vote (:func:`hold`): each question on the ballot (:class:`Ballot`: a motion, or one
of a passed fee motion's value-added packages) means something to each voter: the relative
step, the rise of the bill against income, the service promised, the improvement already seen
under quality first, the process behind it (disclosure, audit, negotiation, trial, renovation)
and the door-to-door rounds that carry it. At most one question per community is put in a
round; a community's second question of the month waits for the next round
(:func:`ballot_rounds`), and the packages of the motions that passed follow on the same ballot
sheet (:func:`package_rounds`), answered by the owners who took part.

Deciding (:func:`approval_utility`, :func:`cast`): each unit has an approval utility and a
turnout propensity. Door-to-door rounds (逐户上门) visit a share of households (of absentee
owners, ``behaviour.absentee_reach`` of that share: they are seldom at home); a visit raises
turnout (ballots collected at the door), approval and personal trust. In every round each
household also leans towards its stairwell group's current leaning. The owner's primary unit
casts the owner's ballot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from feesim.config.scenario import Package, Proposal
from feesim.engine.population import Households, per_household
from feesim.engine.rng import Decision, Streams
from feesim.engine.rules.payment import logistic
from feesim.engine.rules.perception import add_personal
from feesim.engine.state import RunValues

__all__ = [
    "KIND_REACH",
    "MATTERS",
    "SUPERMAJORITY_MATTERS",
    "Ballot",
    "Decided",
    "Electorate",
    "VoteOutcome",
    "VoteRound",
    "approval_utility",
    "ballot_rounds",
    "cast",
    "count",
    "hold",
    "package_rounds",
    "process_steps",
    "tally",
]

F32 = np.float32

#: Matters the model votes on; the second group needs 3/4 (Art. 278 items 6-8).
MATTERS = ("fee", "hire_firm", "maintenance_fund")
SUPERMAJORITY_MATTERS = frozenset({"maintenance_fund"})

TESTS = ("quorum_heads", "quorum_area", "approval_heads", "approval_area")

#: Reach of door-to-door work by who organises it: an owners' committee; the executive
#: committee of public housing with the housing authority (seed 004); or, with no committee,
#: the residents' committee alone (沪房规范〔2021〕6号 §9). Judgement.
KIND_REACH = {"owners": 1.0, "executive": 0.85, "none": 0.6}


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

    def row(self, j: int) -> dict[str, Any]:
        """Every figure of vote ``j`` as plain Python values (areas in m2)."""
        return {
            "total_heads": int(self.total_heads[j]),
            "turnout_heads": float(self.turnout_heads[j]),
            "turnout_area": float(self.turnout_area[j]),
            "approval_heads": float(self.approval_heads[j]),
            "approval_area": float(self.approval_area[j]),
            "quorum_met": bool(self.quorum_met[j]),
            "passed": bool(self.passed[j]),
            "binding": str(self.binding[j]),
            "supermajority": bool(self.supermajority[j]),
            "part_heads": int(self.part_heads[j]),
            "yes_heads": int(self.yes_heads[j]),
            "total_area_m2": self.total_area_c[j] / 100.0,
            "part_area_m2": self.part_area_c[j] / 100.0,
            "yes_area_m2": self.yes_area_c[j] / 100.0,
        }


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
    # Absentee owners are found at home only by chance (domain-rules 1.4).
    at_home = np.where(hh.absentee, per_household(beh.absentee_reach, run), F32(1)).astype(F32)

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
        reach = np.where(voting & (rounds > k), intensity, 0.0).astype(F32).take(run) * at_home
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


# -- holding a vote ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Ballot:
    """One question put to the owners of one community: a motion, or one of its packages.

    ``fee_before`` and ``new_fee`` are the fees (one per building type) when the motion was
    announced and the fees it proposes; ``quality_at_announce`` is the service residents saw
    then. ``ref`` is the committee's own record of the motion, handed back with the result.
    """

    run: int
    spec: Proposal
    label: str
    fee_before: np.ndarray | None
    new_fee: np.ndarray | None
    quality_at_announce: float
    package: Package | None = None
    ref: Any = None

    @property
    def name(self) -> str:
        """The label of the question in the vote table."""
        return self.label + (f":{self.package.name}" if self.package is not None else "")

    @property
    def matter(self) -> str:
        """What is decided: the motion's matter, or ``package``."""
        return "package" if self.package is not None else self.spec.matter


@dataclass(frozen=True, eq=False)
class Electorate:
    """The owners of a batch and what they feel in the month of a vote."""

    hh: Households
    beh: RunValues  # behavioural coefficients over runs
    streams: Streams
    satisfaction: np.ndarray  # float32 per household
    trust: np.ndarray  # float32 per household
    fee: np.ndarray  # (R, B) fees in force
    seen_quality: np.ndarray  # (R,) service as residents see it
    works_seen: np.ndarray  # (R,) the visible boost of renovation works residents still see
    firm_gap: np.ndarray  # (R,) contract standard minus delivered service (what a new firm offers)
    #: (R,) public income a fixed-fee provider now takes, per m2 of the estate (yuan/m2/month):
    #: what a step that releases it (``Proposal.release_public_income``) gives back to the owners
    #: (0 under cost-plus, where the firm's income is the owners' already).
    releasable_per_m2: np.ndarray
    intensity: np.ndarray  # (R,) share of households a door-to-door round reaches
    silent_majority: np.ndarray  # (R,) bool count non-voters with the majority (contested)


@dataclass(frozen=True, eq=False)
class Decided:
    """The result of one ballot: ``figures`` are :meth:`VoteOutcome.row`'s."""

    ballot: Ballot
    figures: dict[str, Any]

    @property
    def passed(self) -> bool:
        """Quorum met and approved."""
        return bool(self.figures["passed"])


@dataclass(frozen=True, eq=False)
class VoteRound:
    """What one round of voting decided, and who took part (arrays over the batch's owners)."""

    decided: list[Decided]  # in counting order
    participates: np.ndarray
    approves: np.ndarray
    voting: np.ndarray  # (R,) bool runs that voted


def process_steps(spec: Proposal) -> int:
    """Steps of process behind a proposal: disclosure (2 for an audit), meetings, trial, works."""
    disclosure = {"none": 0, "accounts": 1, "audit": 2, "assessment": 2}[spec.disclosure]
    return (
        disclosure + spec.negotiation_meetings + (spec.trial_months > 0) + spec.renovation_bundled
    )


def ballot_rounds(ballots: list[Ballot]) -> list[list[Ballot]]:
    """Group ballots into rounds with at most one per community (each community's k-th in k)."""
    rounds: dict[int, list[Ballot]] = {}
    seen: dict[int, int] = {}
    for b in ballots:
        k = seen.get(b.run, 0)
        seen[b.run] = k + 1
        rounds.setdefault(k, []).append(b)
    return [rounds[k] for k in sorted(rounds)]


def package_rounds(ballots: list[Ballot]) -> list[tuple[int, list[Ballot]]]:
    """Package questions grouped by their rank in their motion: the k-th of every community."""
    by_rank: dict[int, list[Ballot]] = {}
    for b in ballots:
        k = b.spec.packages.index(b.package)
        by_rank.setdefault(k, []).append(b)
    return sorted(by_rank.items())


def _expand(values: np.ndarray, runs: np.ndarray, n_runs: int) -> np.ndarray:
    """Counts over some runs placed back into an array over all runs."""
    out = np.zeros(n_runs, dtype=values.dtype)
    out[runs] = values
    return out


def hold(
    month: int,
    sub: int,
    ballots: list[Ballot],
    voters: Electorate,
    participants: np.ndarray | None = None,
) -> VoteRound:
    """Put ``ballots`` (at most one per community) to the owners and count them (Art. 278).

    Door-to-door visits raise the visited households' personal trust (``hh.trust_personal``,
    in place, within its cap; it fades, :mod:`feesim.engine.rules.perception`). ``sub``
    separates this round's random streams from the month's other rounds; ``participants``
    (over owners) are the owners who took part in the main vote when these are the value-added
    packages on the same ballot sheet.
    """
    hh = voters.hh
    R, B = hh.n_runs, hh.n_types
    voting = np.zeros(R, dtype=bool)
    step_rb = np.zeros((R, B))
    dfee_rb = np.zeros((R, B))
    fund_rise = np.zeros(R)
    promised = np.zeros(R)
    gain = np.zeros(R)
    process = np.zeros(R)
    rounds = np.zeros(R, dtype=np.int64)
    supermajority = np.zeros(R, dtype=bool)
    for b in ballots:
        slot, spec = b.run, b.spec
        nb = len(b.fee_before) if b.fee_before is not None else 0
        voting[slot] = True
        old = np.maximum(b.fee_before, 1e-9) if nb else None
        if b.package is not None:
            step_rb[slot, :nb] = b.package.fee_per_m2 / old
            dfee_rb[slot, :nb] = b.package.fee_per_m2
            promised[slot] = b.package.quality
        else:
            if b.new_fee is not None and nb:
                step_rb[slot, :nb] = b.new_fee / old - 1.0
                dfee_rb[slot, :nb] = b.new_fee - voters.fee[slot, :nb]
            if spec.matter == "maintenance_fund":
                fund_rise[slot] = spec.fund_bill_per_m2 / 12.0
            if spec.matter == "fee" and spec.release_public_income and nb:
                # The public income the firm took goes back to the owners with the step (seed
                # 001: "after the rise the committee no longer draws on the public income and
                # can spend it on what owners need"); owners share common income by area
                # (Civil Code Art. 282-283), so it offsets the rise per m2, in the bill and in
                # the relative step (judgement: the money is theirs, though pooled, part of it
                # in their maintenance fund). It offsets at most the rise: giving back what was
                # theirs does not make a step a cut, nor a zero step a gain.
                off = np.minimum(voters.releasable_per_m2[slot], np.maximum(dfee_rb[slot, :nb], 0))
                dfee_rb[slot, :nb] -= off
                step_rb[slot, :nb] -= off / old
            if spec.matter == "hire_firm":
                promised[slot] = voters.firm_gap[slot]
            else:
                promised[slot] = spec.service_quality
            if spec.quality_first_months > 0:
                gain[slot] = max(0.0, voters.seen_quality[slot] - b.quality_at_announce)
            if spec.renovation_bundled:
                # Works bundled with the step are an improvement residents see before they vote
                # (counted once if quality first already includes them).
                gain[slot] = max(gain[slot], voters.works_seen[slot])
            rounds[slot] = spec.door_to_door_rounds
        process[slot] = process_steps(spec)
        supermajority[slot] = b.package is None and spec.matter in SUPERMAJORITY_MATTERS
    # Work on the voting communities' households only (all of them when every run votes);
    # each community draws from its own streams (common random numbers).
    runs_v = np.flatnonzero(voting)
    if runs_v.size == R:
        hv, units, owners, beh = hh, None, None, voters.beh
    else:
        hv, units, owners = hh.subset(runs_v)
        beh = voters.beh.restrict(runs_v)

    def pick(values: np.ndarray) -> np.ndarray:
        return values if units is None else values.take(units)

    sat, trust = pick(voters.satisfaction), pick(voters.trust)
    # A one-off fund bill weighs like a year of monthly bills (judgement).
    rise = dfee_rb[runs_v].astype(F32).ravel().take(hv.rb) + fund_rise[runs_v].astype(F32).take(
        hv.run
    )
    utility = approval_utility(
        hv,
        beh,
        sat,
        trust,
        step_rb[runs_v],
        rise * hv.area_per_income,
        promised[runs_v],
        gain[runs_v],
        process[runs_v],
    )
    engagement = (
        0.5 + hv.engagement0 + per_household(beh.engagement_trust, hv.run) * (trust - F32(0.5))
    )
    np.clip(engagement, 0.0, 1.0, out=engagement)
    if participants is not None and owners is not None:
        participants = participants.take(owners)
    part_v, yes_v, visited = cast(
        hv,
        beh,
        voters.streams,
        month,
        sub,
        utility,
        engagement,
        rounds[runs_v],
        voters.intensity[runs_v],
        np.ones(runs_v.size, dtype=bool),
        participants,
        runs_v,
    )
    menus = [b for b in ballots if b.package is None and b.spec.menu]
    choice = None
    if menus:
        yes_v, choice = _menu_choice(
            hv, beh, voters, month, sub, menus, runs_v, sat, trust, part_v, yes_v, visited, process
        )
    gain_trust = per_household(beh.trust_visit, hv.run) * visited
    if units is None:
        add_personal(hh, slice(None), gain_trust)
        part, yes = part_v, yes_v
    else:
        add_personal(hh, units, gain_trust)
        part = np.zeros(hh.n_owners, dtype=bool)
        yes = np.zeros(hh.n_owners, dtype=bool)
        part[owners], yes[owners] = part_v, yes_v
    counts = {k: _expand(v, runs_v, R) for k, v in count(hv, part_v, yes_v).items()}
    silent = voters.silent_majority[runs_v]
    by_run = {b.run: b for b in ballots}
    decided = []
    for flag in (False, True):
        sel = runs_v[silent == flag]
        if not sel.size:
            continue
        out = tally(
            **{k: v[sel] for k, v in counts.items()},
            supermajority=supermajority[sel],
            silent_majority=flag,
        )
        for j, slot in enumerate(sel):
            figures = out.row(j)
            if choice is not None and int(slot) in choice:
                figures["option"] = choice[int(slot)]
            decided.append(Decided(by_run[int(slot)], figures))
    return VoteRound(decided, part, yes, voting)


def _menu_choice(
    hv: Households,
    beh: RunValues,
    voters: Electorate,
    month: int,
    sub: int,
    menus: list[Ballot],
    runs_v: np.ndarray,
    sat: np.ndarray,
    trust: np.ndarray,
    part_v: np.ndarray,
    yes_v: np.ndarray,
    visited: np.ndarray,
    process: np.ndarray,
) -> tuple[np.ndarray, dict[int, int]]:
    """Menu votes: every owner who takes part picks the option it values most.

    An option's value is the approval utility of its step and its service (the same terms as a
    yes/no vote, a door-to-door visit included) plus a Gumbel draw (a logit choice); the option
    most chosen by heads is the one put to the Art. 278 count, its choosers being the "yes".
    Returns the "yes" of every owner (unchanged outside the menu runs) and each menu run's
    winning option (index into its menu), keyed by the batch's run number.
    """
    R = hv.n_runs
    where = {int(np.searchsorted(runs_v, b.run)): b for b in menus}  # local run -> ballot
    K = max(len(b.spec.menu) for b in menus)
    values = np.full((K, hv.n), -np.inf, dtype=np.float32)
    sizes = np.diff(hv.run_start)
    for k in range(K):
        step_rb = np.zeros((R, hv.n_types))
        dfee_rb = np.zeros((R, hv.n_types))
        promised = np.zeros(R)
        offered = []
        for i, b in where.items():
            if k >= len(b.spec.menu):
                continue
            opt = b.spec.menu[k]
            nb = len(b.fee_before)
            step_rb[i, :nb] = opt.step_pct
            dfee_rb[i, :nb] = b.fee_before * opt.step_pct
            promised[i] = opt.service_quality
            offered.append(i)
        rise = dfee_rb.astype(F32).ravel().take(hv.rb)
        u = approval_utility(
            hv, beh, sat, trust, step_rb, rise * hv.area_per_income, promised, np.zeros(R), process
        )
        u += per_household(beh.approve_visit, hv.run) * visited
        draw = voters.streams.uniform_runs(
            Decision.APPROVAL, month, runs_v, sizes, sub=500 + 10 * sub + k
        )
        gumbel = -np.log(-np.log(np.clip(draw, 1e-7, 1 - 1e-7)))
        values[k] = np.where(np.isin(hv.run, offered), u + gumbel.astype(F32), -np.inf)
    pick_owner = np.argmax(values, axis=0).take(hv.owner_primary)
    winners: dict[int, int] = {}
    yes = yes_v.copy()
    for i, b in where.items():
        mine = hv.owner_run == i
        chose = np.bincount(pick_owner[mine & part_v], minlength=len(b.spec.menu))
        best = int(np.argmax(chose))
        winners[int(b.run)] = best
        yes[mine] = part_v[mine] & (pick_owner[mine] == best)
    return yes, winners
