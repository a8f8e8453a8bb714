"""The owners' committee (业委会), with the residents' committee and party branch.

One :class:`OwnersCommittee` Mesa agent per community runs the *motions* put to the owners:

- scheduled proposals of the scenario (fee steps with a service package, maintenance-fund
  top-ups, hiring a firm);
- an automatic cost-covering step when the firm discloses sustained losses, or when the
  contract is up (``committee.auto_propose``);
- a vote to hire a firm from the district's pre-qualified pool after the firm left (repeated
  monthly until one passes), at a tender month (``firm.replace_months``), or after repeated bad
  resident evaluations (``committee.tender_after_bad_scores``).

A motion's life: *scheduled* -> *announced* (disclosure, audit or price assessment and
negotiation meetings move trust; with quality first the firm starts delivering the package) ->
vote (:mod:`feesim.engine.rules.vote`; with no quorum it is retried the next month while
retries remain) -> *pending* (a passed fee waits for the next billing cycle, or for the end of
its trial period, when residents' verdict falls and the fee applies at once, a supplementary
bill covering the rest of the cycle) -> *effective* (fees change, the package becomes part of
the contract, a collection campaign may start), or *rejected* / *no_quorum* / *trial_failed* /
*rolled_back*.

Resident evaluations (:mod:`feesim.engine.rules.evaluation`) below the threshold lead to a
rollback of the latest step when ``committee.rollback`` is on and the step is recent (可进可退),
otherwise to a rectification order; ``committee.tender_after_bad_scores`` bad scores in a row
lead to a tender. A surge of hotline complaints (:func:`feesim.engine.rules.complaints.surge`)
brings an early evaluation, or a rectification order where the committee holds no evaluations
(``committee.complaint_response``).

The committee sees its community and pulls its levers only through the :class:`Community`
interface (the model provides one, :class:`feesim.engine.community.CommunityDesk`); every event
lands in the event log, every vote in the vote table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import mesa
import numpy as np

from feesim.config.scenario import Proposal, Scenario
from feesim.engine.rules.complaints import SURGE_MONTHS
from feesim.engine.rules.vote import Ballot

__all__ = ["OPEN", "Community", "Motion", "OwnersCommittee"]

#: Statuses in which a motion still holds the firm back from leaving.
OPEN = frozenset({"scheduled", "announced", "pending"})
#: Trust coefficient of each kind of disclosure at an announcement.
DISCLOSURE_TRUST = {
    "accounts": "trust_disclosure",
    "audit": "trust_audit",
    "assessment": "trust_audit",
    "none": None,
}
#: How much of the true cost of full service residents learn from each kind of disclosure
#: (times ``behaviour.disclosure_learning``).
DISCLOSURE_LEARNING = {"audit": 1.0, "assessment": 1.0, "accounts": 0.5, "none": 0.0}
#: Months over which a deficit-funding step repays the owners' deficit (judgement: one
#: budget year, as the yearly audited accounts of a cost-plus contract run; domain-rules 3.1).
DEFICIT_REPAY_MONTHS = 12


class Community(Protocol):
    """What an owners' committee sees of its community and the levers it can pull.

    ``run`` is the community's row in the batch; months count from 0.
    """

    # -- what it sees ----------------------------------------------------------------------
    def fees(self, run: int) -> np.ndarray:
        """The fees in force, one per building type (a copy)."""

    def seen_quality(self, run: int) -> float:
        """Service quality as residents see it (with any renovation boost)."""

    def delivered_quality(self, run: int) -> float:
        """Service quality the firm delivers."""

    def coefficient(self, name: str, run: int) -> float:
        """A behavioural coefficient (e.g. the trust an audit earns)."""

    def firm_is_regular(self, run: int) -> bool:
        """Whether a regular firm (not leaving, not a temporary provider) serves."""

    def commitment(self, run: int) -> float:
        """Service the firm delivers ahead of revenue (quality first, trial); 0 none."""

    def service_floor(self, run: int) -> float:
        """Service the firm must keep under the packages voted so far."""

    def trial_failed(self, run: int) -> bool:
        """Whether residents' verdict at the end of a trial period is negative."""

    def effective_month(self, run: int, earliest: int, rule: str) -> int:
        """First month on or after ``earliest`` when a passed fee can take effect."""

    def asking_fee(self, run: int, base: np.ndarray) -> np.ndarray:
        """Fees that cover the cost of the contract's standard (``base`` scaled up)."""

    # -- the calendar and the record ---------------------------------------------------------
    def schedule(self, run: int, month: int) -> None:
        """Ask to be called (:meth:`OwnersCommittee.start_of_month`) in ``month``."""

    def log(self, run: int, month: int, event: str, detail: str = "") -> None:
        """Add a line to the event log."""

    # -- levers ----------------------------------------------------------------------------------
    def trust_event(self, run: int, amount: float) -> None:
        """An event every resident sees moves community trust by ``amount``."""

    def disclose_costs(self, run: int, share: float) -> None:
        """Residents learn ``share`` of the gap to what full service really costs."""

    def set_commitment(self, run: int, quality: float) -> None:
        """Have the firm deliver ``quality`` ahead of revenue (0 ends the commitment)."""

    def set_service_floor(self, run: int, quality: float) -> None:
        """The service the contract's packages oblige the firm to keep."""

    def repayment_fee(self, run: int, amount_yuan: float, months: int) -> np.ndarray:
        """Fee per m2 (per building type) that raises ``amount_yuan`` over ``months``."""

    def endorse(self, run: int, households: np.ndarray | None) -> None:
        """The fee now in force was voted for by the owners of ``households`` (None: by nobody)."""

    def set_fee(
        self, run: int, fees: np.ndarray, accepted: float = 0.0, rest_of_cycle: bool = False
    ) -> None:
        """Change the fees from the next bill (``accepted``: share of owners who voted yes).

        With ``rest_of_cycle`` a rise applies from this month: the months of the billing cycle
        already billed at the old fee get a supplementary bill for the difference.
        """

    def release_public_income(self, run: int) -> None:
        """Public income goes to the owners' account instead of the firm."""

    def start_campaign(self, run: int, month: int, steps: int) -> None:
        """A five-step collection campaign of the fee bills, ``steps`` steps long."""

    def bill_fund(self, run: int, month: int, per_m2: float, steps: int) -> None:
        """Bill a maintenance-fund top-up (collected with a campaign of ``steps`` steps)."""

    def show_works(self, run: int, quality: float) -> None:
        """Visible works (lifts, roofs) paid by the fund raise seen quality by ``quality``."""

    def order_rectification(self, run: int, until: int) -> None:
        """Order the firm to restore service, giving up its margin, until month ``until``."""

    def hire_firm(self, run: int, month: int, fees: np.ndarray) -> None:
        """A firm the owners voted for takes over at ``fees``."""

    def tender(self, run: int, month: int) -> None:
        """Put the contract out to the district pool (a hire-firm vote in ``month``)."""

    def replacement_failed(self, run: int, month: int) -> None:
        """The owners did not vote a new firm in."""

    def deficit_funding(self, run: int, funded: bool) -> None:
        """The owners voted to fund a cost-plus deficit (``funded``) or voted it down."""


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
    choice: int = -1  # the option a menu vote chose
    approvers: np.ndarray | None = None  # households whose owner voted for the motion
    surcharge: np.ndarray | None = None  # part of the new fee that repays a deficit, per type
    surcharge_until: int = -1  # month the surcharge lapses (-1: none running)

    @property
    def service_quality(self) -> float:
        """Service the motion promises: its package, or the chosen option's."""
        if self.choice >= 0:
            return self.spec.menu[self.choice].service_quality
        return self.spec.service_quality

    @property
    def label(self) -> str:
        """Short label used in tables."""
        return f"{self.origin}:{self.key}"


@dataclass(frozen=True)
class _Step:
    """The latest fee step that took effect (what a rollback undoes)."""

    month: int
    fee_before: np.ndarray
    motion: Motion
    floor_before: float


class OwnersCommittee(mesa.Agent):
    """Owners' committee of the community in row ``run`` of the batch.

    Parameters
    ----------
    model : mesa.Model
        The model the agent belongs to (Mesa's registry); the committee never reads it.
    run : int
        The community's row in the batch.
    scenario : Scenario
    community : Community
        What the committee sees of its community and the levers it pulls.
    """

    def __init__(
        self, model: mesa.Model, run: int, scenario: Scenario, community: Community
    ) -> None:
        super().__init__(model)
        self.run = int(run)
        self.community = community
        self.settings = scenario.committee
        self.building_names = scenario.community.building_names
        self.motions: list[Motion] = []
        self.last_step: _Step | None = None
        self.bad_scores = 0
        self.surge_month = -(10**6)  # month it last acted on a surge of complaints
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
        self.community.schedule(self.run, m.announce_month)
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
        self.community.log(self.run, month, f"{origin}_proposed", f"{matter} motion {m.key}")
        return m

    def _ask_cost_covering_step(
        self, month: int, margin: float, relative: bool, origin: str = "auto"
    ) -> None:
        """Propose the fee that covers the firm's cost when it exceeds today's by ``margin``."""
        c, r = self.community, self.run
        current = c.fees(r)
        fee = c.asking_fee(r, current.copy())
        above = fee > current * (1 + margin) if relative else fee > current + margin
        if np.any(above):
            self.propose(month, "fee", fee, origin, rounds=2, retries=1)

    # -- monthly handling --------------------------------------------------------------------
    def start_of_month(self, month: int) -> None:
        """Announce motions whose time has come and put passed ones into effect."""
        for m in self.motions:
            if m.status == "scheduled" and m.announce_month == month:
                self._announce(m, month)
            if m.status == "pending" and m.effective_month == month:
                self._take_effect(m, month)
            if m.surcharge_until == month and m.surcharge is not None:
                self._end_surcharge(m, month)

    def due_votes(self, month: int) -> list[Motion]:
        """Announced motions whose vote is this month."""
        return [m for m in self.motions if m.status == "announced" and m.vote_month == month]

    def ballot(self, m: Motion) -> Ballot:
        """The question a motion puts to the owners."""
        return Ballot(
            run=self.run,
            spec=m.spec,
            label=m.label,
            fee_before=m.fee_before,
            new_fee=m.new_fee,
            quality_at_announce=m.quality_at_announce,
            ref=m,
        )

    def _announce(self, m: Motion, month: int) -> None:
        c, r, spec = self.community, self.run, m.spec
        current = c.fees(r)
        m.fee_before = current
        if spec.matter in ("fee", "hire_firm"):
            if spec.new_fee_per_m2 is not None:
                new = np.array([spec.new_fee_per_m2[n] for n in self.building_names])
            elif spec.step_pct is not None:
                new = current * (1.0 + spec.step_pct)
            else:
                new = np.maximum(current + (spec.step_yuan or 0.0), 0.0)
            m.new_fee = new
        m.quality_at_announce = c.seen_quality(r)
        m.quality_delivered = c.delivered_quality(r)
        name = DISCLOSURE_TRUST[spec.disclosure]
        shock = c.coefficient(name, r) if name else 0.0
        if spec.negotiation_meetings:
            shock += c.coefficient("trust_negotiation", r)
        if shock:
            c.trust_event(r, shock)
        learning = DISCLOSURE_LEARNING[spec.disclosure]
        if learning and spec.matter == "fee":
            c.disclose_costs(r, learning * c.coefficient("disclosure_learning", r))
        if spec.quality_first_months > 0 and spec.matter == "fee":
            c.set_commitment(r, max(c.commitment(r), self._promised(m)))
        m.status = "announced"
        c.schedule(r, m.vote_month)
        c.log(
            r,
            month,
            "announced",
            f"{spec.matter} motion {m.key} ({m.origin}); disclosure={spec.disclosure}",
        )

    def on_vote(
        self,
        month: int,
        m: Motion,
        passed: bool,
        quorum: bool,
        approval: float = 0.0,
        option: int = -1,
        approvers: np.ndarray | None = None,
    ) -> list[Ballot]:
        """Act on the result of the main vote of motion ``m``.

        ``option`` is the service level a menu vote chose; ``approvers`` the households whose
        owner voted yes (they endorse the fee if it takes effect). Returns the questions that follow
        on the same ballot sheet: the value-added packages of a fee motion that passed (each a
        simple-majority matter of its own).
        """
        c, r, spec = self.community, self.run, m.spec
        m.approval = approval if approval == approval else 0.0
        m.approvers = approvers
        if spec.menu and option >= 0 and passed:
            m.choice = option
            m.new_fee = m.fee_before * (1.0 + spec.menu[option].step_pct)
            c.log(r, month, "menu_choice", f"motion {m.key}: {spec.menu[option].name}")
        if not quorum and m.retries_left > 0:
            m.retries_left -= 1
            m.vote_month = month + 1
            c.schedule(r, month + 1)
            c.log(r, month, "no_quorum_retry", f"motion {m.key} retried next month")
            return []
        if m.origin == "deficit":
            c.deficit_funding(r, funded=passed)
        if not passed:
            m.status = "no_quorum" if not quorum else "rejected"
            if spec.quality_first_months > 0:
                c.set_commitment(r, 0.0)
            c.log(r, month, m.status, f"{spec.matter} motion {m.key}")
            if m.origin == "replacement":
                c.replacement_failed(r, month)
            return []
        m.status = "pending"
        if spec.matter == "maintenance_fund" or spec.matter == "hire_firm":
            m.effective_month = month + 1
        elif spec.trial_months > 0:
            # The trial lasts what it says: the verdict falls at its end and the fee applies
            # from then, a supplementary bill covering the rest of the billing cycle.
            m.effective_month = month + 1 + spec.trial_months
            c.set_commitment(r, max(c.commitment(r), self._promised(m)))
        else:
            m.effective_month = c.effective_month(r, month + 1, spec.effective)
        c.schedule(r, m.effective_month)
        c.log(
            r, month, "passed", f"{spec.matter} motion {m.key}, effective month {m.effective_month}"
        )
        if spec.matter != "fee":
            return []
        ballot = self.ballot(m)
        return [Ballot(**{**vars(ballot), "package": p}) for p in spec.packages]

    def _promised(self, m: Motion, extra: float = 0.0) -> float:
        """Service level a motion promises.

        The quality delivered when it was announced plus its package (and any adopted
        value-added packages).
        """
        delivered = self.community.delivered_quality(self.run)
        base = m.quality_delivered if m.quality_delivered >= 0 else delivered
        return min(1.2, base + m.service_quality + extra)

    def _end_surcharge(self, m: Motion, month: int) -> None:
        """The deficit is repaid: the fee drops by the surcharge the owners voted for."""
        c, r = self.community, self.run
        c.set_fee(r, np.maximum(c.fees(r) - m.surcharge, 0.0))
        m.surcharge_until = -1
        c.log(r, month, "surcharge_ended", f"motion {m.key}: {c.fees(r).round(3).tolist()}")

    def _take_effect(self, m: Motion, month: int) -> None:
        c, r, spec = self.community, self.run, m.spec
        if spec.matter == "maintenance_fund":
            c.bill_fund(r, month, spec.fund_bill_per_m2, spec.campaign_steps)
            # The works the fund pays for (new lifts, roofs) are a visible improvement.
            c.show_works(r, spec.service_quality)
            m.status = "effective"
            c.log(r, month, "fund_billed", f"motion {m.key}: {spec.fund_bill_per_m2} yuan/m2")
            return
        if spec.matter == "hire_firm":
            c.hire_firm(r, month, m.new_fee)
            c.endorse(r, m.approvers)  # the owners voted this firm in at its fee
            m.status = "effective"
            return
        if spec.trial_months > 0 and c.trial_failed(r):
            m.status = "trial_failed"
            c.set_commitment(r, 0.0)
            c.log(r, month, "trial_failed", f"motion {m.key}: evaluation below threshold")
            return
        adopted = list(zip(spec.packages, m.packages_adopted, strict=False))
        extra_fee = sum((p.fee_per_m2 for p, ok in adopted if ok), 0.0)
        extra_q = sum((p.quality for p, ok in adopted if ok), 0.0)
        before = c.fees(r)
        after = m.new_fee + extra_fee
        c.set_fee(r, after, accepted=m.approval, rest_of_cycle=spec.trial_months > 0)
        if not np.allclose(after, before):
            # A price the owners agreed: those who voted for it are committed to paying it.
            c.endorse(r, m.approvers)
        floor_before = c.service_floor(r)
        # A step or a package is a contract term (the service it was voted for is a floor); a
        # zero step carrying only process (accounts, meetings, visits) changes no term. The
        # service is the motion's: a menu vote's is the chosen option's, not the proposal's own.
        if not np.allclose(after, before) or m.service_quality > 0 or extra_q > 0:
            c.set_service_floor(r, max(floor_before, self._promised(m, extra_q)))
            self.last_step = _Step(month, before, m, floor_before)
        c.set_commitment(r, 0.0)
        if m.surcharge is not None:
            for other in self.motions:
                other.surcharge_until = -1  # superseded: this fee repays the whole deficit
            m.surcharge_until = month + DEFICIT_REPAY_MONTHS
            c.schedule(r, m.surcharge_until)
        if spec.release_public_income:
            c.release_public_income(r)
        m.status = "effective"
        if spec.campaign_steps > 0:
            c.start_campaign(r, month, spec.campaign_steps)
        c.log(
            r,
            month,
            "fee_changed",
            f"motion {m.key}: {before.round(3).tolist()} -> {c.fees(r).round(3).tolist()}",
        )

    # -- reactions to the firm and the residents ------------------------------------------------
    def on_evaluation(self, month: int, score: float) -> None:
        """React to a resident evaluation score."""
        c, r, s = self.community, self.run, self.settings
        if score >= s.evaluation_threshold:
            self.bad_scores = 0
            return
        self.bad_scores += 1
        step = self.last_step
        if s.rollback and step is not None and month - step.month <= s.rollback_window_months:
            c.set_fee(r, step.fee_before)
            c.set_service_floor(r, step.floor_before)
            c.endorse(r, None)  # the fee they voted for is gone
            step.motion.status = "rolled_back"
            self.last_step = None
            c.trust_event(r, c.coefficient("trust_rollback", r))
            c.log(
                r,
                month,
                "rolled_back",
                f"score {score:.1f}: fee back to {step.fee_before.round(3).tolist()}",
            )
        else:
            c.order_rectification(r, month + s.rectification_months)
            c.log(r, month, "rectification", f"score {score:.1f}")
        if 0 < s.tender_after_bad_scores <= self.bad_scores and c.firm_is_regular(r):
            self.bad_scores = 0
            c.tender(r, month + 1)

    def on_complaint_surge(self, month: int) -> bool:
        """Complaints to the hotline surged: act on them (``committee.complaint_response``).

        A committee that holds resident evaluations holds one now (returns True: the model
        runs it); one that does not orders the firm to rectify. It acts at most once in a
        rectification period.
        """
        c, r, s = self.community, self.run, self.settings
        quiet = max(s.rectification_months, SURGE_MONTHS)
        if not s.complaint_response or not c.firm_is_regular(r) or month - self.surge_month < quiet:
            return False
        self.surge_month = month
        c.log(r, month, "complaint_surge", "hotline complaints surged")
        if s.evaluation_months > 0:
            return True
        c.order_rectification(r, month + s.rectification_months)
        c.log(r, month, "rectification", "complaint surge")
        return False

    def on_losses_disclosed(self, month: int) -> None:
        """The firm disclosed sustained losses: ask for a cost-covering step (auto proposal)."""
        if self.settings.auto_propose:
            self._ask_cost_covering_step(month + 2, 1e-9, relative=False)

    def on_deficit(self, month: int, deficit_yuan: float) -> None:
        """Cost-plus accounts show a deficit the owners bear: ask them to fund it with a step.

        Under 酬金制 the owners bear surplus and deficit (domain-rules 3.1); the committee puts
        to the owners, whatever ``auto_propose`` says, the fee that covers the service's cost
        and repays the deficit over :data:`DEFICIT_REPAY_MONTHS` (so a deficit never grows
        unasked: voted down, it ends the contract after ``firm.deficit_months``).
        """
        c, r = self.community, self.run
        if any(m.surcharge_until > month for m in self.motions):
            return  # a repayment is under way: next year's accounts will tell
        current = c.fees(r)
        fee = np.maximum(c.asking_fee(r, current.copy()), current)
        surcharge = c.repayment_fee(r, deficit_yuan, DEFICIT_REPAY_MONTHS)
        m = self.propose(month + 2, "fee", fee + surcharge, "deficit", rounds=2, retries=1)
        if m is not None:
            m.surcharge = surcharge  # for DEFICIT_REPAY_MONTHS once in force, then it lapses

    def on_tier_upgrade(self, month: int) -> None:
        """The contract's tier was upgraded: put the fee of its price band to the owners.

        A tier upgrade raises the service standard and the price band (model.md; Huangpu's
        three service types): the committee proposes the fee that covers the new standard
        when today's is below it, whatever ``committee.auto_propose`` says.
        """
        self._ask_cost_covering_step(month + 2, 1e-9, relative=False, origin="tier")

    def on_contract_renewed(self, month: int) -> None:
        """The contract renewed: ask for a cost-covering fee if today's is 5% or more short.

        Only a committee that proposes steps on its own (``committee.auto_propose``) does.
        """
        if self.settings.auto_propose and not self.open_motion():
            self._ask_cost_covering_step(month + 2, 0.05, relative=True)
