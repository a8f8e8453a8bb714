"""The owners' committee (业委会), with the residents' committee and party branch.

One :class:`OwnersCommittee` Mesa agent per community runs the *motions* put to the owners:

- scheduled proposals of the scenario (fee steps with a service package, maintenance-fund
  top-ups, hiring a firm);
- an automatic cost-covering step when the firm discloses sustained losses
  (``committee.auto_propose``);
- a vote to hire a firm from the district's pre-qualified pool after the firm left (repeated
  monthly until one passes), at a tender month (``firm.replace_months``), or after repeated bad
  resident evaluations (``committee.tender_after_bad_scores``).

A motion's life: *scheduled* -> *announced* (disclosure, audit or price assessment and
negotiation meetings move trust; with quality first the firm starts delivering the package) ->
vote (``feesim.engine.rules.vote``; with no quorum it is retried the next month while retries
remain) -> *pending* (a passed fee waits for the next billing cycle, or a trial period) ->
*effective* (fees change, the package becomes part of the contract, a collection campaign may
start), or *rejected* / *no_quorum* / *trial_failed* / *rolled_back*.

Resident evaluations (:mod:`feesim.engine.rules.evaluation`) below the threshold lead to a
rollback of the latest step when ``committee.rollback`` is on and the step is recent (可进可退),
otherwise to a
rectification order; ``committee.tender_after_bad_scores`` bad scores in a row lead to a tender.

Every event lands in the model's event log; votes land in the vote table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING

import mesa
import numpy as np

from feesim.config.scenario import TIER_QUALITY, Package, Proposal, Scenario
from feesim.engine.population import per_household
from feesim.engine.rules.vote import SUPERMAJORITY_MATTERS, approval_utility, cast, count, tally

if TYPE_CHECKING:  # pragma: no cover
    from feesim.engine.model import FeeModel

__all__ = ["KIND_REACH", "Ballot", "Motion", "OwnersCommittee", "hold_votes"]

F32 = np.float32

#: Reach of door-to-door work by who organises it: an owners' committee; the executive
#: committee of public housing with the housing authority (seed 004); or, with no committee,
#: the residents' committee alone (沪房规范〔2021〕6号 §9). Judgement.
KIND_REACH = {"owners": 1.0, "executive": 0.85, "none": 0.6}

#: Statuses in which a motion still holds the firm back from leaving.
OPEN = frozenset({"scheduled", "announced", "pending"})


@dataclass(eq=False)
class Motion:
    """A matter on its way through the owners' assembly."""

    key: int
    spec: Proposal
    origin: str  # "scenario", "auto", "replacement", "tender"
    status: str = "scheduled"
    vote_month: int = 0
    announce_month: int = 0
    retries_left: int = 0
    fee_before: np.ndarray | None = None
    new_fee: np.ndarray | None = None
    effective_month: int = -1
    quality_at_announce: float = 0.0  # quality residents saw at the announcement
    quality_delivered: float = -1.0  # quality the firm delivered at the announcement
    approval: float = 0.0  # approval by heads of the main vote (share of participants)
    packages_adopted: list[bool] = field(default_factory=list)

    @property
    def label(self) -> str:
        """Short label used in tables."""
        return f"{self.origin}:{self.key}"


class OwnersCommittee(mesa.Agent):
    """Owners' committee of the community in the model's row ``slot``.

    Parameters
    ----------
    model : FeeModel
    slot : int
        The community's row in the model's arrays.
    scenario : Scenario
    """

    def __init__(self, model: mesa.Model, slot: int, scenario: Scenario) -> None:
        super().__init__(model)
        self.slot = int(slot)
        self.settings = scenario.committee
        self.building_names = scenario.community.building_names
        self.default_tier_q = TIER_QUALITY[scenario.firm.tier]
        self.motions: list[Motion] = []
        self.last_step: tuple[int, np.ndarray, Motion, float] | None = None
        self.bad_scores = 0
        for prop in scenario.proposals:
            self._add(prop, "scenario")

    # -- bookkeeping -----------------------------------------------------------------------
    def _add(self, spec: Proposal, origin: str) -> Motion:
        m = Motion(
            key=len(self.motions),
            spec=spec,
            origin=origin,
            vote_month=spec.month,
            announce_month=spec.month - spec.quality_first_months,
            retries_left=spec.retries,
        )
        self.motions.append(m)
        self.model.schedule(self.slot, m.announce_month)
        return m

    def open_motion(self, matters: tuple[str, ...] = ("fee", "hire_firm")) -> bool:
        """Whether a fee or firm motion is under way (the firm waits for its outcome)."""
        return any(m.status in OPEN and m.spec.matter in matters for m in self.motions)

    def propose(
        self,
        month: int,
        matter: str,
        new_fee: np.ndarray,
        origin: str,
        disclosure: str = "audit",
        rounds: int = 1,
        retries: int = 0,
    ) -> Motion | None:
        """Put a dynamic motion (automatic step, replacement, tender) to the owners."""
        if self.open_motion((matter,)):
            return None
        spec = Proposal(
            month=month,
            matter=matter,  # type: ignore[arg-type]
            new_fee_per_m2=dict(
                zip(self.building_names, (float(f) for f in new_fee), strict=False)
            ),
            disclosure=disclosure,
            door_to_door_rounds=rounds,
            retries=retries,  # type: ignore[arg-type]
        )
        m = self._add(spec, origin)
        self.model.log(self.slot, month, f"{origin}_proposed", f"{matter} motion {m.key}")
        return m

    # -- monthly handling --------------------------------------------------------------------
    def start_of_month(self, month: int) -> None:
        """Announce motions whose time has come and put passed ones into effect."""
        for m in self.motions:
            if m.status == "scheduled" and m.announce_month == month:
                self._announce(m, month)
            if m.status == "pending" and m.effective_month == month:
                self._take_effect(m, month)

    def due_votes(self, month: int) -> list[Motion]:
        """Announced motions whose vote is this month."""
        return [m for m in self.motions if m.status == "announced" and m.vote_month == month]

    def _announce(self, m: Motion, month: int) -> None:
        model, r = self.model, self.slot
        spec = m.spec
        current = model.fee[r, : len(self.building_names)].copy()
        m.fee_before = current
        if spec.matter in ("fee", "hire_firm"):
            if spec.new_fee_per_m2 is not None:
                new = np.array([spec.new_fee_per_m2[n] for n in self.building_names])
            elif spec.step_pct is not None:
                new = current * (1.0 + spec.step_pct)
            else:
                new = np.maximum(current + (spec.step_yuan or 0.0), 0.0)
            m.new_fee = new
        m.quality_at_announce = float(model.perception.seen_quality[r])
        m.quality_delivered = float(model.firms.quality[r])
        shock = {
            "accounts": model.beh_value("trust_disclosure", r),
            "audit": model.beh_value("trust_audit", r),
            "assessment": model.beh_value("trust_audit", r),
            "none": 0.0,
        }[spec.disclosure]
        if spec.negotiation_meetings:
            shock += model.beh_value("trust_negotiation", r)
        if shock:
            model.trust_event(r, shock)
        learning = {"audit": 1.0, "assessment": 1.0, "accounts": 0.5, "none": 0.0}[spec.disclosure]
        if learning and spec.matter == "fee":
            model.disclose_costs(r, learning * model.beh_value("disclosure_learning", r))
        if spec.quality_first_months > 0 and spec.matter == "fee":
            model.firms.commit_q[r] = max(float(model.firms.commit_q[r]), self._promised(m))
        m.status = "announced"
        model.schedule(r, m.vote_month)
        model.log(
            r,
            month,
            "announced",
            f"{spec.matter} motion {m.key} ({m.origin}); disclosure={spec.disclosure}",
        )

    def on_vote(
        self, month: int, m: Motion, passed: bool, quorum: bool, approval: float = 0.0
    ) -> None:
        """Act on the result of the main vote of motion ``m``."""
        model, r, spec = self.model, self.slot, self.spec_of(m)
        m.approval = approval if approval == approval else 0.0
        if not quorum and m.retries_left > 0:
            m.retries_left -= 1
            m.vote_month = month + 1
            model.schedule(r, month + 1)
            model.log(r, month, "no_quorum_retry", f"motion {m.key} retried next month")
            return
        if not passed:
            m.status = "no_quorum" if not quorum else "rejected"
            if spec.quality_first_months > 0:
                model.firms.commit_q[r] = 0.0
            model.log(r, month, m.status, f"{spec.matter} motion {m.key}")
            if m.origin == "replacement":
                model.on_replacement_failed(r, month)
            return
        m.status = "pending"
        if spec.matter == "maintenance_fund" or spec.matter == "hire_firm":
            m.effective_month = month + 1
        else:
            m.effective_month = model.effective_month(
                r, month + 1 + spec.trial_months, spec.effective
            )
            if spec.trial_months > 0:
                model.firms.commit_q[r] = max(float(model.firms.commit_q[r]), self._promised(m))
        model.schedule(r, m.effective_month)
        model.log(
            r, month, "passed", f"{spec.matter} motion {m.key}, effective month {m.effective_month}"
        )

    @staticmethod
    def spec_of(m: Motion) -> Proposal:
        """The proposal behind a motion."""
        return m.spec

    def _promised(self, m: Motion, extra: float = 0.0) -> float:
        """Service level a motion promises.

        The quality delivered when it was announced plus its package (and any adopted
        value-added packages).
        """
        delivered = float(self.model.firms.quality[self.slot])
        base = m.quality_delivered if m.quality_delivered >= 0 else delivered
        return min(1.2, base + m.spec.service_quality + extra)

    def _take_effect(self, m: Motion, month: int) -> None:
        model, r, spec = self.model, self.slot, m.spec
        if spec.matter == "maintenance_fund":
            model.bill_fund(r, month, spec.fund_bill_per_m2, spec.campaign_steps)
            # The works the fund pays for (new lifts, roofs) are a visible improvement.
            model.perception.facility[r] += spec.service_quality
            m.status = "effective"
            model.log(r, month, "fund_billed", f"motion {m.key}: {spec.fund_bill_per_m2} yuan/m2")
            return
        if spec.matter == "hire_firm":
            model.hire_firm(r, month, m.new_fee)
            m.status = "effective"
            return
        if spec.trial_months > 0 and model.trial_failed(r):
            m.status = "trial_failed"
            model.firms.commit_q[r] = 0.0
            model.log(r, month, "trial_failed", f"motion {m.key}: evaluation below threshold")
            return
        extra_fee = sum(
            (p.fee_per_m2 for p, ok in zip(spec.packages, m.packages_adopted, strict=False) if ok),
            0.0,
        )
        extra_q = sum(
            (p.quality for p, ok in zip(spec.packages, m.packages_adopted, strict=False) if ok), 0.0
        )
        before = model.fee[r, : len(self.building_names)].copy()
        model.set_fee(r, m.new_fee + extra_fee, accepted=m.approval)
        firms = model.firms
        floor_before = float(firms.floor_q[r])
        firms.floor_q[r] = max(floor_before, self._promised(m, extra_q))
        firms.commit_q[r] = 0.0
        if spec.release_public_income:
            model.released[r] = True
        self.last_step = (month, before, m, floor_before)
        m.status = "effective"
        if spec.campaign_steps > 0:
            model.campaigns.add(r, month, spec.campaign_steps, "fee")
        model.log(
            r,
            month,
            "fee_changed",
            f"motion {m.key}: {before.round(3).tolist()} -> "
            f"{model.fee[r, : len(self.building_names)].round(3).tolist()}",
        )

    # -- evaluations ----------------------------------------------------------------------------
    def on_evaluation(self, month: int, score: float) -> None:
        """React to a resident evaluation score."""
        model, r, s = self.model, self.slot, self.settings
        if score >= s.evaluation_threshold:
            self.bad_scores = 0
            return
        self.bad_scores += 1
        step = self.last_step
        if s.rollback and step is not None and month - step[0] <= s.rollback_window_months:
            model.set_fee(r, step[1])
            model.firms.floor_q[r] = step[3]
            step[2].status = "rolled_back"
            self.last_step = None
            model.trust_event(r, model.beh_value("trust_rollback", r))
            model.log(
                r,
                month,
                "rolled_back",
                f"score {score:.1f}: fee back to {step[1].round(3).tolist()}",
            )
        else:
            model.firms.rectify_until[r] = month + s.rectification_months
            model.log(r, month, "rectification", f"score {score:.1f}")
        if 0 < s.tender_after_bad_scores <= self.bad_scores and model.firms.state[r] == 0:
            self.bad_scores = 0
            model.tender(r, month + 1)


def _restrict(values: object, runs: np.ndarray) -> SimpleNamespace:
    """Run-level values restricted to some runs (scalars stay scalars)."""
    return SimpleNamespace(
        **{k: (v if np.ndim(v) == 0 else np.asarray(v)[runs]) for k, v in vars(values).items()}
    )


def _expand(values: np.ndarray, runs: np.ndarray, n_runs: int) -> np.ndarray:
    """Counts over some runs placed back into an array over all runs."""
    out = np.zeros(n_runs, dtype=values.dtype)
    out[runs] = values
    return out


@dataclass(frozen=True)
class Ballot:
    """One question put to the owners of one community: a motion, or one of its packages."""

    slot: int
    motion: Motion
    package: Package | None = None


def _process_steps(spec: Proposal) -> int:
    disclosure = {"none": 0, "accounts": 1, "audit": 2, "assessment": 2}[spec.disclosure]
    return (
        disclosure + spec.negotiation_meetings + (spec.trial_months > 0) + spec.renovation_bundled
    )


def hold_votes(
    model: FeeModel,
    month: int,
    sub: int,
    ballots: list[Ballot],
    participants: np.ndarray | None = None,
) -> None:
    """Put ``ballots`` (at most one per community) to the owners and act on the results.

    Counts them under Art. 278 and lets each committee act on its result; then votes the
    value-added packages of the fee motions that passed (each package separately, a
    simple-majority matter).
    """
    hh, R, B = model.hh, len(model.scenarios), model.hh.n_types
    voting = np.zeros(R, dtype=bool)
    step_rb = np.zeros((R, B))
    dfee_rb = np.zeros((R, B))
    fund_rise = np.zeros(R)
    promised = np.zeros(R)
    gain = np.zeros(R)
    process = np.zeros(R)
    rounds = np.zeros(R, dtype=np.int64)
    supermajority = np.zeros(R, dtype=bool)
    seen_q = model.perception.seen_quality
    for b in ballots:
        slot, m, spec = b.slot, b.motion, b.motion.spec
        nb = len(m.fee_before) if m.fee_before is not None else 0
        voting[slot] = True
        old = np.maximum(m.fee_before, 1e-9) if nb else None
        if b.package is not None:
            step_rb[slot, :nb] = b.package.fee_per_m2 / old
            dfee_rb[slot, :nb] = b.package.fee_per_m2
            promised[slot] = b.package.quality
        else:
            if m.new_fee is not None and nb:
                step_rb[slot, :nb] = m.new_fee / old - 1.0
                dfee_rb[slot, :nb] = m.new_fee - model.fee[slot, :nb]
            if spec.matter == "maintenance_fund":
                fund_rise[slot] = spec.fund_bill_per_m2 / 12.0
            if spec.matter == "hire_firm":
                fb = model.firms
                promised[slot] = max(0.0, fb.tier_q[slot] - fb.quality[slot])
            else:
                promised[slot] = spec.service_quality
            if spec.quality_first_months > 0:
                gain[slot] = max(0.0, seen_q[slot] - m.quality_at_announce)
            rounds[slot] = spec.door_to_door_rounds
        process[slot] = _process_steps(spec)
        supermajority[slot] = b.package is None and spec.matter in SUPERMAJORITY_MATTERS
    # Work on the voting communities' households only (all of them when every run votes);
    # each community draws from its own streams (common random numbers).
    runs_v = np.flatnonzero(voting)
    if runs_v.size == R:
        hv, units, owners, beh = hh, None, None, model.beh
    else:
        hv, units, owners = hh.subset(runs_v)
        beh = _restrict(model.beh, runs_v)

    def pick(values: np.ndarray) -> np.ndarray:
        return values if units is None else values.take(units)

    sat, trust = pick(model.satisfaction), pick(model.trust)
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
        model.streams,
        month,
        sub,
        utility,
        engagement,
        rounds[runs_v],
        model.intensity[runs_v],
        np.ones(runs_v.size, dtype=bool),
        participants,
        runs_v,
    )
    gain_trust = per_household(beh.trust_visit, hv.run) * visited
    if units is None:
        hh.trust_personal += gain_trust
        part, yes = part_v, yes_v
    else:
        hh.trust_personal[units] += gain_trust
        part = np.zeros(hh.n_owners, dtype=bool)
        yes = np.zeros(hh.n_owners, dtype=bool)
        part[owners], yes[owners] = part_v, yes_v
    counts = {k: v for k, v in count(hv, part_v, yes_v).items()}
    counts = {k: _expand(v, runs_v, R) for k, v in counts.items()}
    idx = np.flatnonzero(voting)
    silent = np.array([model.scenarios[r].vote.silent_majority for r in idx], dtype=bool)
    by_slot = {b.slot: b for b in ballots}
    packages: list[Ballot] = []
    for flag in (False, True):
        sel = idx[silent == flag]
        if not sel.size:
            continue
        out = tally(
            **{k: v[sel] for k, v in counts.items()},
            supermajority=supermajority[sel],
            silent_majority=flag,
        )
        for j, slot in enumerate(sel):
            b = by_slot[int(slot)]
            model.recorder.vote(month, int(slot), b.motion, out, j, model, b.package)
            passed = bool(out.passed[j])
            if b.package is not None:
                b.motion.packages_adopted.append(passed)
                continue
            committee = model.committees[int(slot)]
            committee.on_vote(
                month, b.motion, passed, bool(out.quorum_met[j]), float(out.approval_heads[j])
            )
            if passed and b.motion.spec.matter == "fee":
                packages.extend(Ballot(int(slot), b.motion, p) for p in b.motion.spec.packages)
    model.last_vote = {"month": month, "participates": part, "approves": yes, "voting": voting}
    # Packages: the k-th package of every community in one more round (separate streams).
    by_rank: dict[int, list[Ballot]] = {}
    for b in packages:
        k = b.motion.spec.packages.index(b.package)
        by_rank.setdefault(k, []).append(b)
    for k, group in sorted(by_rank.items()):
        # Same ballot sheet: the owners who took part answer the package questions too.
        hold_votes(model, month, 1000 * (sub + 1) + k, group, participants=part)
