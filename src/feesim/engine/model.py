"""The feesim model: households, property firms and owners' committees, month by month.

:class:`FeeModel` is a :class:`mesa.Model` that simulates one community, or a batch of
communities (replicates or a portfolio) side by side in the same arrays. It owns the batch's
state (:mod:`feesim.engine.state`), builds the month-0 state (:mod:`feesim.engine.baseline`)
and fixes the order in which the rules act; each rule lives in its own module of
:mod:`feesim.engine.rules` as functions or a small class over explicit state.

What Mesa does here: ``mesa.Model`` is the clock (``time`` counts months: one step is one
month, and :attr:`FeeModel.month` reads it) and the owner of the random streams (``rng=``, a
root :class:`numpy.random.SeedSequence` from which every decision's stream is derived,
:mod:`feesim.engine.rng`). The owners' committees are Mesa agents
(:class:`~feesim.engine.committee.OwnersCommittee`) that make the community's decisions:
motions, announcements, reactions to votes, evaluations and losses, tenders. Households are not
agents but a struct of arrays (:mod:`feesim.engine.population`), and each community's firm is a
row of the vectorised :class:`~feesim.engine.rules.firm.FirmBook`: a city is 10 million
households and 27,500 firms (:mod:`feesim.studies.reference` writes households as agents, for
comparison). Dated business (announcements, fee changes, levers falling due) sits on an
:class:`~feesim.engine.community.Agenda` handled at a fixed point inside the month rather than on
Mesa's event list, whose events fire between steps.

Monthly order of events (one step = one month)
----------------------------------------------
1. **Calendar**: firms whose notice ends leave and a temporary provider takes over; contracts
   whose term ends renew (:mod:`~feesim.engine.rules.succession`); renovation works finish and
   service tiers are upgraded (:mod:`~feesim.engine.rules.government`); staff overhauls
   (:mod:`~feesim.engine.rules.firm`); tenders.
2. **Committees**: motions are announced (disclosure, audit, negotiation; quality first starts);
   passed motions take effect (fees change before bills go out; new firms arrive; fund bills).
3. **Firms** set staffing and deliver service (:mod:`~feesim.engine.rules.firm`).
4. **Households perceive** service; satisfaction and trust
   (:mod:`~feesim.engine.rules.perception`).
5. **Billing** at the start of each billing cycle (:mod:`~feesim.engine.rules.collection`).
6. **Collection** (:mod:`~feesim.engine.rules.collection`, :mod:`~feesim.engine.rules.payment`):
   court judgments, campaign rounds or the ordinary monthly hazard, payments settling bills;
   suits filed; fund bills.
7. **Complaints** to the 12345 hotline (:mod:`~feesim.engine.rules.complaints`), kept for a
   year: they count in the district assessment, and a surge makes the committee act.
8. **Owners' votes** (:mod:`~feesim.engine.rules.vote`).
9. **Evaluations**: the district assessment that sets the subsidy; residents' evaluation every
   few months, or early after a surge of complaints (:mod:`~feesim.engine.rules.evaluation`).
10. **Finances** (:func:`~feesim.engine.rules.firm.settle_month` through the
    :mod:`~feesim.engine.ledger`); trailing-year results; morale; notices; committees told of
    disclosed losses.
11. **Closing**: the month is recorded; billing cycles close (payment records, overdue bills),
    year end (arrears); community trust moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import mesa
import numpy as np

from feesim.config.scenario import Scenario
from feesim.engine import baseline
from feesim.engine.committee import OwnersCommittee
from feesim.engine.community import Agenda, CommunityDesk
from feesim.engine.ledger import Ledger
from feesim.engine.levers import apply_change, door_to_door_reach
from feesim.engine.population import Households, build_households, tile_households
from feesim.engine.recorder import Recorder
from feesim.engine.results import SimulationResult
from feesim.engine.rng import Streams, as_seed_sequence
from feesim.engine.rules import collection, complaints, evaluation, firm, government, vote
from feesim.engine.rules.firm import DISCLOSE_LOSS_MONTHS, REGULAR, FirmBook
from feesim.engine.rules.perception import (
    Perception,
    attitudes,
    relax_endorsement,
    relax_personal,
    update_perception,
    update_trust,
)
from feesim.engine.rules.succession import Succession
from feesim.engine.state import (
    CYCLE_MONTHS,
    BehaviourRuns,
    CommunityState,
    LastVote,
    LegalRuns,
    MonthFlows,
    Residents,
    Setting,
    run_values,
)
from feesim.errors import ConfigError, SimulationError
from feesim.seeding import check_rng

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FeeModel"]

F32 = np.float32


def _share_populations(runs: Sequence[Scenario], k: int) -> tuple[np.ndarray, list[int]]:
    """Map runs to template populations: replicates (same scenario object) share ``k``.

    Returns ``mapping`` (template of each run) and ``first`` (the first run of each template).
    """
    mapping = np.empty(len(runs), dtype=np.int64)
    first: list[int] = []
    seen: dict[int, list[int]] = {}
    for r, sc in enumerate(runs):
        templates = seen.setdefault(id(sc), [])
        count = sum(1 for q in range(r) if runs[q] is sc)
        if count < k:
            templates.append(len(first))
            first.append(r)
        mapping[r] = templates[count % k if count >= k else count]
    return mapping, first


def _setting(runs: list[Scenario], hh: Households, area_rb: np.ndarray) -> Setting:
    """What stays fixed during the batch's run."""
    years, cal_months = government.calendar(runs[0])
    months = runs[0].simulation.months
    R = len(runs)
    cycle = np.array([CYCLE_MONTHS[sc.community.billing] for sc in runs])
    uniform = bool(np.all(cycle == cycle[0]))
    # Exogenous paths (T, R), computed once per distinct government setting.
    cache: dict[object, tuple[np.ndarray, np.ndarray]] = {}
    wage, price = np.empty((months, R)), np.empty((months, R))
    for r, sc in enumerate(runs):
        key = sc.government  # frozen: equal settings share one computed path
        if key not in cache:
            cache[key] = (government.min_wage_path(sc), government.price_index_path(sc))
        wage[:, r], price[:, r] = cache[key]
    col = lambda f: np.array([f(sc) for sc in runs], dtype=np.float64)
    return Setting(
        scenarios=runs,
        months=months,
        years=years,
        cal_months=cal_months,
        n_households=np.diff(hh.run_start),
        area_rb=area_rb,
        area_total=area_rb.sum(axis=1),
        cycle=cycle,
        cycle_h=float(cycle[0]) if uniform else cycle.astype(F32).take(hh.run),
        wage=wage,
        price=price,
        intensity=col(door_to_door_reach),
        public_income=col(lambda s: s.firm.public_income_yuan_month),
        public_share=col(lambda s: s.firm.public_income_firm_share),
        public_to_fund=col(lambda s: s.committee.public_income_to_fund),
        subsidy_rate=col(lambda s: s.government.subsidy_per_m2),
        subsidy_min=col(lambda s: s.government.subsidy_min_score),
        hotline_weight=col(lambda s: s.government.assessment_hotline_weight),
        eval_every=np.array([sc.committee.evaluation_months for sc in runs]),
        eval_start=np.array([sc.committee.evaluation_start_month for sc in runs]),
        legal_on=np.array([sc.legal.enabled for sc in runs]),
        legal=run_values(LegalRuns, [sc.legal for sc in runs]),
        beh=run_values(BehaviourRuns, [sc.behaviour for sc in runs]),
    )


class FeeModel(mesa.Model):
    """One community, or a batch of communities, simulated month by month.

    Parameters
    ----------
    scenarios : Scenario or sequence of Scenario
        One scenario, or one per run (replicates may repeat the same object). All must share
        the horizon and the start month.
    rng : int or numpy.random.SeedSequence, optional
        Root of all random streams; defaults to the first scenario's ``simulation.seed``.
    strict_ledger : bool
        Check every month, household by household, that the receivable equals what households
        owe (slower; used in tests).
    populations : int, optional
        Replicates (runs given the same :class:`Scenario` object) share at most this many
        household populations and month-0 histories, computed once each and copied; replicates
        still draw every later decision independently. Makes large ensembles of one community
        much faster to set up; ``None`` (default) gives every run its own population.

    Attributes
    ----------
    hh : Households
        The household arrays (:mod:`feesim.engine.population`).
    setting, state, residents : Setting, CommunityState, Residents
        What stays fixed, what moves month by month, and households' attitudes this month
        (:mod:`feesim.engine.state`).
    firms : FirmBook
        The firm (or temporary provider) of every run.
    perception : Perception
        What residents perceive and their community trust stock.
    ledger : Ledger
        The books, in fen.
    committees : list of OwnersCommittee
        The committee of every run (Mesa agents).
    last_vote : LastVote or None
        Who took part and approved in the latest vote.

    Examples
    --------
    >>> from feesim import FeeModel, load_scenario
    >>> model = FeeModel(load_scenario("examples/xianghe_2025.toml"), rng=1)  # doctest: +SKIP
    >>> result = model.run()                                                  # doctest: +SKIP
    """

    def __init__(
        self,
        scenarios: Scenario | Sequence[Scenario],
        *,
        rng: int | np.random.SeedSequence | None = None,
        strict_ledger: bool = False,
        populations: int | None = None,
    ) -> None:
        runs = [scenarios] if isinstance(scenarios, Scenario) else list(scenarios)
        if not runs:
            raise ConfigError("scenarios: at least one scenario is required")
        first = runs[0].simulation
        for i, sc in enumerate(runs):
            if (sc.simulation.months, sc.simulation.start) != (first.months, first.start):
                raise ConfigError(
                    f"scenarios[{i}].simulation: months/start {sc.simulation.months}/"
                    f"{sc.simulation.start} differ from {first.months}/{first.start}; a batch "
                    "shares one calendar"
                )
        if populations is not None and populations < 1:
            raise ConfigError(f"populations: got {populations!r}; expected an integer >= 1")
        root = as_seed_sequence(first.seed if rng is None else check_rng(rng, "rng"))
        super().__init__(rng=root)
        self.streams = Streams(root)
        self._setup(runs, strict_ledger, populations)

    # ==========================================================================================
    # set-up
    # ==========================================================================================
    def _setup(self, runs: list[Scenario], strict_ledger: bool, populations: int | None) -> None:
        R = len(runs)
        templates = None
        if populations is None:
            self.hh = hh = build_households(runs, self.streams)
        else:
            mapping, first = _share_populations(runs, populations)
            template = build_households([runs[r] for r in first], self.streams)
            self.hh = hh = tile_households(template, mapping)
            templates = baseline.Templates(template, mapping, first)
        B = hh.n_types
        area_rb = np.bincount(hh.rb, weights=hh.area.astype(np.float64), minlength=R * B).reshape(
            R, B
        )
        self.setting = setting = _setting(runs, hh, area_rb)
        fee, full_fee, equip_rb = np.zeros((R, B)), np.ones((R, B)), np.zeros((R, B))
        for r, sc in enumerate(runs):
            for k, bt in enumerate(sc.community.building_types):
                fee[r, k] = bt.fee_per_m2
                full_fee[r, k] = bt.full_service_fee_per_m2
                equip_rb[r, k] = bt.equipment_cost_per_m2
        self.state = state = CommunityState(
            fee=fee,
            full_fee=full_fee,
            released=np.zeros(R, dtype=bool),
            enforcement=np.zeros(R),
            suits_seen=np.zeros(R),
            score=np.full(R, np.nan),
            subsidy_paid=np.zeros(R),
            fee_before_exit=fee.copy(),
            emergency_votes=np.zeros(R, dtype=np.int64),
            mean_satisfaction=np.zeros(R),
            billed_year=np.zeros(R, dtype=np.int64),
            works_due=np.zeros(R, dtype=np.int64),
            fee_supplement=np.zeros((R, B)),
            complaints=np.zeros((R, 12)),
        )
        self.campaigns = collection.CampaignPlan()
        self.recorder = Recorder(hh, setting.months, B)
        self.agenda = Agenda(setting.months)
        history = baseline.HistoryValues.of(runs)
        self.firms: FirmBook = baseline.build_firms(setting, state, equip_rb, history, self.streams)
        self.residents: Residents
        self.perception: Perception
        self.residents, self.perception = baseline.start_residents(
            hh, setting, state, self.firms, self.streams, templates, history
        )
        # The hotline record of the year before month 0: what residents' month-0 mood brings.
        state.complaints[:] = complaints.expected(
            hh, self.residents.satisfaction, self.perception, setting.beh
        )[:, None]
        fund = np.array([sc.community.maintenance_fund_per_m2 for sc in runs], dtype=np.float64)
        self.ledger = Ledger.open(
            hh,
            fund_balance=np.rint(100 * setting.area_total * fund).astype(np.int64),
            strict=strict_ledger,
        )
        self.flows = MonthFlows.empty(R)
        self.desk = CommunityDesk(
            setting,
            state,
            self.residents,
            hh,
            self.firms,
            self.perception,
            self.campaigns,
            self.agenda,
            self.recorder.event,
        )
        self.committees = [OwnersCommittee(self, r, sc, self.desk) for r, sc in enumerate(runs)]
        self.succession = Succession(
            setting,
            state,
            self.firms,
            self.perception,
            self.committees,
            self.recorder.event,
            self._fresh_start,
            self.desk.endorse,
        )
        self.desk.succession = self.succession
        self.last_vote: LastVote | None = None
        for r, sc in enumerate(runs):
            for c in sc.campaigns:
                self.campaigns.add(r, c.month, c.steps, "fee")
            for m in sc.firm.overhaul_months + sc.firm.replace_months:
                self.agenda.add(r, m)
            for w in sc.government.renovations:
                self.agenda.add(r, w.month)
            for u in sc.government.tier_upgrades:
                self.agenda.add(r, u.month)
            for change in sc.schedule:
                self.agenda.add(r, change.month)

    # ==========================================================================================
    # the clock and the user's view
    # ==========================================================================================
    @property
    def scenarios(self) -> list[Scenario]:
        """The scenario of every run."""
        return self.setting.scenarios

    @property
    def months(self) -> int:
        """The horizon (months)."""
        return self.setting.months

    @property
    def month(self) -> int:
        """Months simulated so far (Mesa's ``time``: one unit a month)."""
        return min(int(self.time), self.setting.months)

    def log(self, run: int, month: int, event: str, detail: str = "") -> None:
        """Add a line to the event log."""
        self.recorder.event(run, month, event, detail)

    def result(self) -> SimulationResult:
        """The tables of the months simulated so far."""
        return SimulationResult.from_recorder(
            self.recorder, self.setting, self.month, self.streams.provenance()
        )

    def run(self, months: int | None = None) -> SimulationResult:
        """Step to the end of the horizon (or ``months`` more) and return the result."""
        end = self.months if months is None else min(self.months, self.month + months)
        if end > self.month:
            self.run_until(end)
        return self.result()

    def simulating(self) -> int:
        """Inside :meth:`step`: the month being simulated.

        Mesa advances its clock before it calls ``step``, so the month is ``time - 1``.
        """
        return int(self.time) - 1

    def step(self) -> None:
        """Advance every community by one month (the order is in the module docstring)."""
        t = self.simulating()
        if t >= self.months:
            self.time = float(self.months)  # undo Mesa's advance: nothing was simulated
            raise SimulationError(
                f"month {t}: the model has already run its {self.months} months "
                "(check model.running before stepping)"
            )
        self.desk.now = t
        self.flows = self.desk.flows = MonthFlows.empty(self.setting.runs)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            due = sorted(self.agenda.pop(t))
            self._calendar(t, due)
            for run in due:
                self.committees[run].start_of_month(t)
            self._service(t)
            self._perceive()
            billed = self._bill(t)
            paid = self._collect(t)
            n_complaints = self._complaints(t)
            self.state.complaints[:, t % 12] = n_complaints
            self._votes(t, due)
            self._evaluate(t)
            flows = self._finances(t, billed, paid)
            self.recorder.month(
                t,
                self.setting,
                self.state,
                self.residents,
                self.firms,
                self.perception,
                self.ledger,
                flows,
                paid,
                n_complaints,
            )
            self._close(t)
        self.running = t + 1 < self.months

    # -- 1. calendar -----------------------------------------------------------------------------
    def _calendar(self, t: int, due: list[int]) -> None:
        self.succession.month_begins(t)
        fb, setting = self.firms, self.setting
        for run in due:
            tier_before = fb.tier_q[run]
            for change in setting.scenarios[run].schedule:
                if change.month == t:
                    apply_change(t, run, change, setting, fb, self.committees, self.log)
            sc = setting.scenarios[run]
            owners_share = government.public_works(
                t,
                run,
                sc,
                self.perception,
                fb.tier_q,
                setting.area_total[run],
                setting.coefficient("trust_disclosure", run),
                self.recorder.event,
            )
            if owners_share:
                self._finance_works(t, run, owners_share)
            if t in sc.firm.overhaul_months and fb.state[run] == REGULAR:
                self.flows.overhaul_cost[run] += firm.overhaul(fb, run, setting.wage[t, run])
                self.desk.trust_event(run, setting.coefficient("trust_new_firm", run))
                self._fresh_start(run)
                self.log(run, t, "staff_overhaul", "management team replaced")
            if fb.tier_q[run] > tier_before and fb.state[run] == REGULAR:
                self.committees[run].on_tier_upgrade(t)
            if t in sc.firm.replace_months:
                self.succession.tender(t, run, t)

    def _finance_works(self, t: int, run: int, owners_fen: int) -> None:
        """The owners' share of finished works: due from the fund, any lack billed."""
        self.state.works_due[run] += owners_fen
        fund = int(self.ledger.fund_balance[run])
        per_m2 = government.works_top_up(owners_fen, fund, self.setting.area_total[run])
        if per_m2 > 0:
            self.desk.bill_fund(run, t, per_m2, 0)
            self.log(run, t, "works_top_up", f"{per_m2:.2f} yuan/m2 billed for the works")

    def _fresh_start(self, run: int) -> None:
        """A new firm or team: payment records partly start afresh."""
        share = self.setting.coefficient("fresh_start", run)
        collection.fresh_start(self.hh, run, share)
        self.residents.neighbours = collection.stairwell_share(self.hh)
        # The part of the community offset below neutral (the unnamed history with the
        # old provider) is forgiven by the same share as the records.
        off = float(self.residents.offset[run])
        if off < 0:
            delta = -float(share) * off
            self.residents.offset[run] += delta
            sl = self.hh.run_slice(run)
            self.residents.coef.intercept[sl] += np.float32(delta)

    # -- 3. service ------------------------------------------------------------------------------
    def _service(self, t: int) -> None:
        revenue = firm.expected_revenue(self.firms, self.setting, self.state)
        self.firms.plan(revenue, self.setting.wage[t], self.setting.price[t], t)

    # -- 4. perception -----------------------------------------------------------------------------
    def _perceive(self) -> None:
        b, p, state, res = self.setting.beh, self.perception, self.state, self.residents
        update_perception(p, self.firms.quality, state.fee, b.perception_lag, b.anchor_months)
        res.satisfaction, res.trust = attitudes(self.hh, p, state.fee, state.full_fee, b)
        res.fee_h = self.hh.by_type(state.fee)

    # -- 5. billing and 6. collection --------------------------------------------------------------
    def _bill(self, t: int) -> np.ndarray:
        return collection.bill(t, self.hh, self.residents.fee_h, self.setting, self.state)

    def _collect(self, t: int) -> dict[str, np.ndarray]:
        return collection.collect(
            t,
            self.hh,
            self.residents,
            self.setting,
            self.state,
            self.campaigns,
            self.streams,
            self.flows,
            self.recorder,
        )

    # -- 7. complaints -----------------------------------------------------------------------------
    def _complaints(self, t: int) -> np.ndarray:
        return complaints.count(
            self.hh,
            self.residents.satisfaction,
            self.perception,
            self.setting.beh,
            self.streams,
            t,
        )

    # -- 8. votes ----------------------------------------------------------------------------------
    def _votes(self, t: int, due: list[int]) -> None:
        # Committees with business this month: those on the agenda at its start, and those that
        # announced a vote for this very month while handling it.
        runs = sorted(set(due) | self.agenda.pop(t))
        ballots = [
            self.committees[r].ballot(m) for r in runs for m in self.committees[r].due_votes(t)
        ]
        for sub, group in enumerate(vote.ballot_rounds(ballots)):
            self._hold(t, sub, group)

    def _electorate(self) -> vote.Electorate:
        fb = self.firms
        return vote.Electorate(
            hh=self.hh,
            beh=self.setting.beh,
            streams=self.streams,
            satisfaction=self.residents.satisfaction,
            trust=self.residents.trust,
            fee=self.state.fee,
            seen_quality=self.perception.seen_quality,
            works_seen=self.perception.facility,
            firm_gap=np.maximum(0.0, fb.tier_q - fb.quality),
            # Under cost-plus the firm's income is the owners' already (it pays their service
            # and the rest is theirs): releasing public income gives them nothing new.
            releasable_per_m2=self.setting.public_income
            * self.setting.public_share
            * ~self.state.released
            * ~fb.cost_plus
            / self.setting.area_total,
            intensity=self.setting.intensity,
            silent_majority=np.array([sc.vote.silent_majority for sc in self.scenarios]),
        )

    def _hold(
        self,
        t: int,
        sub: int,
        ballots: list[vote.Ballot],
        participants: np.ndarray | None = None,
    ) -> None:
        """Hold one round of votes; act on the results; then the packages on the same sheet."""
        result = vote.hold(t, sub, ballots, self._electorate(), participants)
        packages: list[vote.Ballot] = []
        for d in result.decided:
            b = d.ballot
            self.recorder.vote(t, d, self.setting.area_rb[b.run])
            if b.package is not None:
                b.ref.packages_adopted.append(d.passed)
                continue
            packages += self.committees[b.run].on_vote(
                t,
                b.ref,
                d.passed,
                d.figures["quorum_met"],
                d.figures["approval_heads"],
                d.figures.get("option", -1),
                self._approvers(b.run, result.approves) if d.passed else None,
            )
        self.last_vote = LastVote(t, result.participates, result.approves, result.voting)
        for k, group in vote.package_rounds(packages):
            # Same ballot sheet: the owners who took part answer the package questions too.
            self._hold(t, 1000 * (sub + 1) + k, group, participants=result.participates)

    def _approvers(self, run: int, approves: np.ndarray) -> np.ndarray:
        """Households of ``run`` whose owner voted yes (``approves`` is over owners)."""
        lo, hi = self.hh.run_start[run], self.hh.run_start[run + 1]
        return lo + np.flatnonzero(approves.take(self.hh.owner[lo:hi]))

    # -- 9. evaluations ----------------------------------------------------------------------------
    def _evaluate(self, t: int) -> None:
        state, area = self.state, self.setting.area_total
        state.mean_satisfaction = self.hh.mean(self.residents.satisfaction)
        hotline = complaints.rate(state.complaints, area)
        state.score = evaluation.assess(
            self.firms, state.mean_satisfaction, hotline, self.setting.hotline_weight
        )
        holds = set(evaluation.evaluations_due(t, self.setting).tolist())
        early = set()
        for run in np.flatnonzero(complaints.surge(state.complaints, t, area)):
            run = int(run)
            if self.committees[run].on_complaint_surge(t) and run not in holds:
                early.add(run)
        if not (holds or early):
            return
        scores = evaluation.resident_scores(self.hh, self.residents.satisfaction, self.firms)
        shortfall = evaluation.broken_promises(self.firms)
        for run in sorted(holds | early):
            self.desk.trust_event(run, self.setting.coefficient("trust_evaluation", run))
            if shortfall[run] > 0:
                broken = self.setting.coefficient("trust_broken_promise", run)
                self.desk.trust_event(run, broken * shortfall[run])
                self.log(run, t, "promise_broken", f"{shortfall[run]:.2f} of promised service")
            why = " (early: complaint surge)" if run in early else ""
            self.log(run, t, "evaluation", f"score {scores[run]:.1f}{why}")
            self.committees[run].on_evaluation(t, float(scores[run]))

    # -- 10. finances ------------------------------------------------------------------------------
    def _finances(
        self, t: int, billed: np.ndarray, paid: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        fb = self.firms
        self.flows.works_owners += government.pay_works(
            self.state.works_due, self.ledger.fund_balance, paid["fund"]
        )
        flows = firm.settle_month(
            t, fb, self.ledger, self.setting, self.state, self.flows, billed, paid, self.hh
        )
        # Only firms near a notice, or whose losses are about to be disclosed, need to know
        # whether a step is under way (asking every committee each month is costly).
        near = (fb.state == REGULAR) & (
            (fb.loss_months + 1 >= np.minimum(fb.exit_loss_months, DISCLOSE_LOSS_MONTHS))
            | (fb.cash < 0)
        )
        pending = np.zeros(self.setting.runs, dtype=bool)
        for run in np.flatnonzero(near):
            pending[run] = self.committees[run].open_motion()
        service = flows["service_cost"] / 100.0
        for run in fb.review(t, service, pending, self.ledger.owners_account):
            self.log(int(run), t, "notice", f"firm will leave in month {fb.exit_month[run]}")
        for run in np.flatnonzero((fb.loss_months == DISCLOSE_LOSS_MONTHS) & ~pending):
            self.committees[run].on_losses_disclosed(t)
        if self.setting.cal_months[t] == 12:
            self._audit_cost_plus(t)
        return flows

    def _audit_cost_plus(self, t: int) -> None:
        """December: cost-plus firms publish audited accounts; deficits go to the owners."""
        fb, desk = self.firms, self.desk
        for run in np.flatnonzero(fb.cost_plus & (fb.state == REGULAR)):
            run = int(run)
            desk.trust_event(run, self.setting.coefficient("trust_disclosure", run))
            desk.disclose_costs(run, 0.5 * self.setting.coefficient("disclosure_learning", run))
            balance = self.ledger.owners_account[run] / 100.0
            self.log(run, t, "accounts_audited", f"owners' account {balance:,.0f} yuan")
            if balance < 0:
                self.committees[run].on_deficit(t, -balance)

    # -- 11. closing -------------------------------------------------------------------------------
    def _close(self, t: int) -> None:
        neighbours = collection.close_cycles(t, self.hh, self.setting)
        if neighbours is not None:
            self.residents.neighbours = neighbours
        b = self.setting.beh
        update_trust(
            self.perception,
            self.state.mean_satisfaction,
            b.trust_adjust,
            b.trust_satisfaction,
            b.governance_half_life_months,
        )
        relax_personal(self.hh, b.personal_half_life_months)
        relax_endorsement(self.hh, b.endorsement_half_life_months)

    # ==========================================================================================
    # state a user may read or set (phase diagrams, what-if starts, pictures)
    # ==========================================================================================
    def set_payment_records(self, run: int, records: np.ndarray) -> None:
        """Replace the payment records of the households of ``run`` (0-1 each).

        Stairwell shares are recomputed from the new records.
        """
        hh = self.hh
        sl = hh.run_slice(run)
        values = np.asarray(records, dtype=np.float64)
        if values.shape != (sl.stop - sl.start,) or np.any((values < 0) | (values > 1)):
            raise ConfigError(
                f"records: got shape {values.shape}; expected {sl.stop - sl.start} values in "
                "[0, 1], one per household of the run"
            )
        hh.habit[sl] = values.astype(F32)
        self.residents.neighbours = collection.stairwell_share(hh)

    def trailing_collection(self) -> np.ndarray:
        """Each firm's trailing-twelve-month collection ratio (what it plans staffing on)."""
        return self.firms.trailing()[0]

    def set_trailing_collection(self, run: int, value: float) -> None:
        """Make the firm of ``run`` remember its last twelve months' collection as ``value``."""
        if not 0.0 <= value <= 1.5:
            raise ConfigError(f"value: got {value!r}; expected a collection ratio in [0, 1.5]")
        fb = self.firms
        k = value / max(float(self.trailing_collection()[run]), 1e-9)
        other = fb.ring_revenue[run] - fb.ring_fee_cash[run]
        fb.ring_fee_cash[run] = fb.ring_fee_cash[run] * k
        fb.ring_revenue[run] = other + fb.ring_fee_cash[run]

    def shift_trust(self, run: int, delta: float) -> None:
        """Move the community trust stock of ``run`` by ``delta`` (felt from the next month)."""
        self.perception.trust[run] += delta

    def loss_months(self) -> np.ndarray:
        """Each firm's consecutive months with a trailing-year loss (its exit clock)."""
        return self.firms.loss_months.copy()

    def household_frame(self, run: int = 0) -> pd.DataFrame:
        """One row per household of ``run`` as it stands now (for pictures of the community).

        Columns: ``household``, ``building_type``, ``group`` (stairwell group, numbered from 0
        within the run), ``owner``, ``area_m2``, ``type`` (conditional_cooperator, free_rider,
        unconditional), ``leader``, ``absentee``, ``occupancy`` (``owner``, ``renter`` or
        ``empty``), ``paying`` (owes nothing of this year's
        bills), ``payment_record``, ``satisfaction``, ``trust``, ``owed_yuan``, and from the
        latest vote, if any: ``voted`` and ``approved`` (of the owner the unit belongs to).
        """
        import pandas as pd

        hh = self.hh
        sl = hh.run_slice(run)
        types = np.array(["conditional_cooperator", "free_rider", "unconditional"])
        owed = hh.owed_cycle[sl] + hh.overdue[sl]
        names = np.array(self.scenarios[run].community.building_names)
        frame = pd.DataFrame(
            {
                "household": np.arange(sl.stop - sl.start),
                "building_type": names[hh.btype[sl]],
                "group": hh.group[sl] - hh.group[sl.start],
                "owner": hh.owner[sl] - hh.owner_start[run],
                "area_m2": hh.area[sl],
                "type": types[hh.htype[sl]],
                "leader": hh.leader[sl],
                "absentee": hh.absentee[sl],
                "occupancy": np.where(
                    hh.absentee[sl], np.where(hh.renter[sl], "renter", "empty"), "owner"
                ),
                "paying": owed == 0,
                "payment_record": hh.habit[sl],
                "satisfaction": self.residents.satisfaction[sl],
                "trust": self.residents.trust[sl],
                "owed_yuan": (owed + hh.arrears[sl]) / 100.0,
            }
        )
        vote_ = self.last_vote
        voted = vote_ is not None and bool(vote_.voting[run])
        frame["voted"] = vote_.participates.take(hh.owner[sl]) if voted else False
        frame["approved"] = vote_.approves.take(hh.owner[sl]) if voted else False
        return frame
