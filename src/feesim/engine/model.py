"""The feesim model: households, property firms and owners' committees, month by month.

:class:`FeeModel` is a :class:`mesa.Model` that simulates one community, or a batch of
communities (replicates or a portfolio) side by side in the same arrays. Households are a struct
of numpy arrays (:mod:`feesim.engine.population`); each community's firm and committee are Mesa
agents (:class:`~feesim.engine.rules.firm.PropertyFirm`,
:class:`~feesim.engine.committee.OwnersCommittee`). Each rule lives in its own module; this module
only fixes the order in which they act.

Monthly order of events (one step = one month)
----------------------------------------------
1. **Calendar**: wages and prices of the month; renovation works finishing (visible
   improvement, costs shared with the government, possibly a tier upgrade); service-tier
   upgrades; staff overhauls; tenders; firms whose notice ends leave and a temporary provider
   takes over.
2. **Committees**: motions are announced (disclosure, audit, negotiation; quality first starts);
   passed motions take effect (fees change before bills go out; new firms arrive; fund bills).
3. **Firms** set staffing and deliver service (:mod:`feesim.engine.rules.firm`).
4. **Households perceive** service; satisfaction and trust (:mod:`feesim.engine.rules.perception`).
5. **Billing** at the start of each billing cycle.
6. **Collection** (:mod:`feesim.engine.rules.collection`, :mod:`feesim.engine.rules.payment`): court
judgments, campaign
   rounds or the ordinary monthly hazard, payments settling bills; suits filed; fund bills.
7. **Complaints** to the 12345 hotline (:mod:`feesim.engine.rules.complaints`).
8. **Owners' votes** (:mod:`feesim.engine.rules.vote`).
9. **Evaluations**: residents' evaluation every few months; the district assessment that sets
   the subsidy (:mod:`feesim.engine.rules.evaluation`).
10. **Finances** through the ledger (:mod:`feesim.engine.ledger`); trailing-year results; morale;
    notices; automatic proposals on disclosed losses.
11. **Closing**: billing cycles close (payment records, overdue bills), year end (arrears),
    limitation; community trust moves; the month is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import mesa
import numpy as np

from feesim.config.behaviour import Behaviour
from feesim.config.scenario import TIER_QUALITY, Scenario
from feesim.engine.baseline import BaselineMixin, run_values
from feesim.engine.committee import KIND_REACH, Ballot, OwnersCommittee, hold_votes
from feesim.engine.ledger import FinanceMixin, Ledger
from feesim.engine.population import (
    build_households,
    tile_households,
)
from feesim.engine.recorder import Recorder
from feesim.engine.rng import Streams, as_seed_sequence
from feesim.engine.rules import complaints
from feesim.engine.rules.collection import CampaignPlan, CollectionMixin
from feesim.engine.rules.evaluation import assessment_score, evaluation_score
from feesim.engine.rules.firm import (
    NOTICE,
    REGULAR,
    PropertyFirm,
)
from feesim.engine.rules.government import calendar, min_wage_path, price_index_path
from feesim.engine.rules.perception import (
    community_satisfaction,
    household_satisfaction,
    household_trust,
    trust_shock,
    update_perception,
    update_trust,
)
from feesim.engine.rules.succession import SuccessionMixin
from feesim.errors import ConfigError, SimulationError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from feesim.engine.results import SimulationResult

__all__ = ["FeeModel"]

log = logging.getLogger(__name__)

F32 = np.float32
CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}


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


class FeeModel(BaselineMixin, CollectionMixin, SuccessionMixin, FinanceMixin, mesa.Model):
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
        root = as_seed_sequence(first.seed if rng is None else rng)
        super().__init__(rng=root)
        self.scenarios = runs
        self.streams = Streams(root)
        self.months = first.months
        self.month = 0
        self.years, self.cal_months = calendar(runs[0])
        if populations is not None and populations < 1:
            raise ConfigError(f"populations: got {populations!r}; expected an integer >= 1")
        self._setup(strict_ledger, populations)

    # ==========================================================================================
    # set-up
    # ==========================================================================================
    def _setup(self, strict_ledger: bool, populations: int | None) -> None:
        runs = self.scenarios
        R = len(runs)
        self._templates = None
        if populations is None:
            self.hh = hh = build_households(runs, self.streams)
        else:
            mapping, first = _share_populations(runs, populations)
            template = build_households([runs[r] for r in first], self.streams)
            self.hh = hh = tile_households(template, mapping)
            self._templates = (template, mapping, first)
        B = hh.n_types
        self.beh = run_values(
            [sc.behaviour for sc in runs],
            [f for f in Behaviour.__dataclass_fields__],
        )
        self.n_households = np.diff(hh.run_start)
        self.area_rb = np.bincount(
            hh.rb, weights=hh.area.astype(np.float64), minlength=R * B
        ).reshape(R, B)
        self.area_total = self.area_rb.sum(axis=1)
        self.fee = np.zeros((R, B))
        self.full_fee = np.ones((R, B))
        equip_rb = np.zeros((R, B))
        for r, sc in enumerate(runs):
            for k, bt in enumerate(sc.community.building_types):
                self.fee[r, k] = bt.fee_per_m2
                self.full_fee[r, k] = bt.full_service_fee_per_m2
                equip_rb[r, k] = bt.equipment_cost_per_m2
        self.cycle = np.array([CYCLE_MONTHS[sc.community.billing] for sc in runs])
        self.uniform_cycle = bool(np.all(self.cycle == self.cycle[0]))
        # Exogenous paths (T, R), computed once per distinct government setting.
        cache: dict[object, tuple[np.ndarray, np.ndarray]] = {}
        self.wage = np.empty((self.months, R))
        self.price = np.empty((self.months, R))
        for r, sc in enumerate(runs):
            key = sc.government  # frozen: equal settings share one computed path
            if key not in cache:
                cache[key] = (min_wage_path(sc), price_index_path(sc))
            self.wage[:, r], self.price[:, r] = cache[key]
        col = lambda f: np.array([f(sc) for sc in runs], dtype=np.float64)
        self.capacity = col(lambda s: s.committee.capacity)
        self.intensity = col(
            lambda s: (
                s.committee.door_to_door_intensity
                * (0.5 + s.committee.capacity)
                * KIND_REACH[s.committee.kind]
            )
        )
        self.public_income = col(lambda s: s.firm.public_income_yuan_month)
        self.public_share = col(lambda s: s.firm.public_income_firm_share)
        self.subsidy_rate = col(lambda s: s.government.subsidy_per_m2)
        self.subsidy_min = col(lambda s: s.government.subsidy_min_score)
        self.eval_every = np.array([sc.committee.evaluation_months for sc in runs])
        self.eval_start = np.array([sc.committee.evaluation_start_month for sc in runs])
        self.legal_on = np.array([sc.legal.enabled for sc in runs])
        self.legal = run_values(
            [sc.legal for sc in runs],
            [
                "threshold_months",
                "sue_share",
                "cost_per_case_yuan",
                "delay_months",
                "win_rate",
                "limitation_months",
            ],
        )
        self.released = np.zeros(R, dtype=bool)
        self.enforcement = np.zeros(R)
        self.score = np.full(R, np.nan)
        self.fee_before_exit = self.fee.copy()
        self.emergency_votes = np.zeros(R, dtype=np.int64)
        self.agenda: dict[int, set[int]] = {}
        self.campaigns = CampaignPlan()
        self.recorder = Recorder(self)
        self._setup_firms(equip_rb)
        self._setup_households()
        self.ledger = Ledger.open(
            hh,
            fund_balance=np.rint(
                100 * self.area_total * col(lambda s: s.community.maintenance_fund_per_m2)
            ).astype(np.int64),
            strict=strict_ledger,
        )
        self.firm_agents = [PropertyFirm(self, r) for r in range(R)]
        self.committees = [OwnersCommittee(self, r, sc) for r, sc in enumerate(runs)]
        for r, sc in enumerate(runs):
            for c in sc.campaigns:
                self.campaigns.add(r, c.month, c.steps, "fee")
            for m in sc.firm.overhaul_months + sc.firm.replace_months:
                self.schedule(r, m)
            for w in sc.government.renovations:
                self.schedule(r, w.month)
            for u in sc.government.tier_upgrades:
                self.schedule(r, u.month)

    def schedule(self, slot: int, month: int) -> None:
        """Ask for ``slot``'s committee and levers to be handled at the start of ``month``."""
        if 0 <= month < self.months:
            self.agenda.setdefault(int(month), set()).add(int(slot))

    def log(self, slot: int, month: int, event: str, detail: str = "") -> None:
        """Add a line to the event log."""
        self.recorder.event(slot, month, event, detail)

    def beh_value(self, name: str, slot: int) -> float:
        """A behavioural coefficient of one run."""
        v = getattr(self.beh, name)
        return float(v if np.ndim(v) == 0 else v[slot])

    def trust_event(self, slot: int, amount: float) -> None:
        """An event every resident of the community sees."""
        trust_shock(self.perception, np.array([slot]), amount)

    def set_fee(self, slot: int, fees: np.ndarray, accepted: float = 0.0) -> None:
        """Change the fees of a community (from its next bill).

        ``accepted`` is the share of owners who voted for the change: residents take that share
        of the change as the new normal price at once (a legitimate, negotiated step); the rest
        is felt as a price rise until they get used to it (:mod:`feesim.engine.rules.perception`).
        """
        n = len(fees)
        change = fees - self.fee[slot, :n]
        self.perception.fee_anchor[slot, :n] += accepted * change
        self.fee[slot, :n] = fees

    def disclose_costs(self, slot: int, share: float) -> None:
        """Residents learn what full service really costs.

        Their fair fee for the full liveable standard moves ``share`` of the way to it (per
        building type).
        """
        t = min(self.month, self.months - 1)
        sub = self.firms_slice(slice(slot, slot + 1))
        wage, price = self.wage[t, slot : slot + 1], self.price[t, slot : slot + 1]
        per_m2 = sub.unit_cost(wage, price)[0] / self.area_total[slot]
        keep = (1 + sub.target_margin[0]) / 0.95  # margin, at a good collection rate
        nb = len(self.scenarios[slot].community.building_types)
        equip = (
            np.array(
                [bt.equipment_cost_per_m2 for bt in self.scenarios[slot].community.building_types]
            )
            * price[0]
        )
        true_fee = (per_m2 + equip) * keep
        self.full_fee[slot, :nb] += share * (true_fee - self.full_fee[slot, :nb])

    def effective_month(self, slot: int, earliest: int, rule: str) -> int:
        """First month on or after ``earliest`` at which a passed fee takes effect."""
        if rule == "next_month":
            return earliest
        for t in range(earliest, self.months + 240):
            m = (self.cal_months[0] - 1 + t) % 12 + 1
            if rule == "next_year" and m == 1:
                return t
            if rule == "next_cycle" and (m - 1) % self.cycle[slot] == 0:
                return t
        return earliest

    def _fee_h(self) -> np.ndarray:
        return self.fee.astype(F32).ravel().take(self.hh.rb)

    def _mean(self, values: np.ndarray) -> np.ndarray:
        return self.hh.per_run(values.astype(np.float64)) / self.n_households

    def _attitudes(self) -> tuple[np.ndarray, np.ndarray]:
        sat_rb = community_satisfaction(self.perception, self.fee, self.full_fee, self.beh)
        return (
            household_satisfaction(self.hh, sat_rb, self.beh.sat_level),
            household_trust(self.hh, self.perception),
        )

    def _expected_revenue(self, month: int) -> np.ndarray:
        coll, _ = self.firms.trailing()
        accrual = (self.fee * self.area_rb).sum(axis=1)
        public = self.public_income * self.public_share * ~self.released
        return accrual * np.minimum(coll, 1.0) + public + self.subsidy_paid

    # ==========================================================================================
    # levers and agents' requests
    # ==========================================================================================
    def bill_fund(self, slot: int, month: int, per_m2: float, steps: int) -> None:
        """Bill a maintenance-fund top-up to every unit of a community."""
        hh = self.hh
        sl = hh.run_slice(slot)
        amount = np.rint(per_m2 * hh.area[sl].astype(np.float64) * 100).astype(np.int64)
        hh.owed_fund[sl] += amount
        self._fund_billed[slot] += int(amount.sum())
        hh.demand_month[sl] = month
        if steps > 0:
            self.campaigns.add(slot, month, steps, "fund")

    def _evaluation_scores(self) -> np.ndarray:
        fb = self.firms
        promised = np.maximum(
            np.minimum(fb.tier_q, fb.quality), np.maximum(fb.floor_q, fb.commit_q)
        )
        return evaluation_score(self.hh, self.satisfaction, fb.quality, promised)

    def trial_failed(self, slot: int) -> bool:
        """Whether the residents' verdict at the end of a trial period is negative."""
        score = self._evaluation_scores()[slot]
        return bool(score < self.scenarios[slot].committee.evaluation_threshold)

    def step(self) -> None:
        """Advance every community by one month (the order is in the module docstring)."""
        t = self.month
        if t >= self.months:
            raise SimulationError(
                f"month {t}: the model has already run its {self.months} months "
                "(check model.running before stepping)"
            )
        R = len(self.scenarios)
        # The month's one-off flows, filled by the steps below.
        self._fund_billed = np.zeros(R, dtype=np.int64)
        self._legal_cost = np.zeros(R, dtype=np.int64)
        self._overhaul_cost = np.zeros(R, dtype=np.int64)
        self._works_owners = np.zeros(R, dtype=np.int64)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            due = sorted(self.agenda.pop(t, set()))
            self._calendar(t, due)
            for slot in due:
                self.committees[slot].start_of_month(t)
            self._service(t)
            self._perceive()
            billed = self._bill(t)
            paid = self._collect(t)
            n_complaints = self._complaints(t)
            self._votes(t, due)
            self._evaluate(t)
            flows = self._finances(t, billed, paid)
            self.recorder.month(t, flows, paid, n_complaints)
            self._close(t)
        self.month += 1
        self.running = self.month < self.months

    # -- state a user may set (phase diagrams, what-if starts) ----------------------------------
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
        size = np.maximum(np.diff(hh.group_start), 1).astype(F32)
        self.neighbours = (hh.per_group(hh.habit).astype(F32) / size).take(hh.group)

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
        unconditional), ``leader``, ``absentee``, ``paying`` (owes nothing of this year's
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
                "paying": owed == 0,
                "payment_record": hh.habit[sl],
                "satisfaction": self.satisfaction[sl],
                "trust": self.trust[sl],
                "owed_yuan": (owed + hh.arrears[sl]) / 100.0,
            }
        )
        vote = getattr(self, "last_vote", None)
        voted = vote is not None and bool(vote["voting"][run])
        frame["voted"] = vote["participates"].take(hh.owner[sl]) if voted else False
        frame["approved"] = vote["approves"].take(hh.owner[sl]) if voted else False
        return frame

    def run(self, months: int | None = None) -> SimulationResult:
        """Step to the end of the horizon (or ``months`` more) and return the result."""
        from feesim.engine.results import SimulationResult

        end = self.months if months is None else min(self.months, self.month + months)
        while self.month < end:
            self.step()
        return SimulationResult.from_model(self)

    # -- 1. calendar (provider changes: feesim.engine.rules.succession.SuccessionMixin)
    # ----------------------
    def _calendar(self, t: int, due: list[int]) -> None:
        fb = self.firms
        leaving = np.flatnonzero((fb.state == NOTICE) & (fb.exit_month <= t))
        if leaving.size:
            self._emergency(t, leaving)
        for slot in np.flatnonzero((fb.state == REGULAR) & (fb.term_end == t)):
            self._renew(int(slot), t)
        for slot in due:
            sc = self.scenarios[slot]
            for w in sc.government.renovations:
                if w.month == t:
                    self.perception.facility[slot] += w.quality_boost
                    owners = w.cost_per_m2 * (1 - w.government_share) * self.area_total[slot]
                    self._works_owners[slot] += round(owners * 100)
                    self.trust_event(slot, self.beh_value("trust_disclosure", slot))
                    if w.upgrade_tier is not None:
                        fb.tier_q[slot] = max(fb.tier_q[slot], TIER_QUALITY[w.upgrade_tier])
                    self.log(
                        slot,
                        t,
                        "renovation",
                        f"{w.cost_per_m2} yuan/m2, government share {w.government_share}",
                    )
            for u in sc.government.tier_upgrades:
                if u.month == t:
                    fb.tier_q[slot] = max(fb.tier_q[slot], TIER_QUALITY[u.tier])
                    self.log(slot, t, "tier_upgrade", u.tier)
            if t in sc.firm.overhaul_months and fb.state[slot] == REGULAR:
                fb.management[slot] = 1.0
                labour = fb.staffing[slot] * fb.labour_per_wage[slot] * self.wage[t, slot]
                self._overhaul_cost[slot] += round(labour * 100)
                self.trust_event(slot, self.beh_value("trust_new_firm", slot))
                self.log(slot, t, "staff_overhaul", "management team replaced")
            if t in sc.firm.replace_months:
                self.tender(slot, t)

    # -- 3. service ----------------------------------------------------------------------------
    def _service(self, t: int) -> None:
        self.firms.plan(self._expected_revenue(t), self.wage[t], self.price[t], t)

    # -- 4. perception -------------------------------------------------------------------------
    def _perceive(self) -> None:
        b = self.beh
        update_perception(
            self.perception, self.firms.quality, self.fee, b.perception_lag, b.anchor_months
        )
        self.satisfaction, self.trust = self._attitudes()
        self.fee_h = self._fee_h()

    # -- 5. billing ----------------------------------------------------------------------------
    def _bill(self, t: int) -> np.ndarray:
        hh = self.hh
        m = self.cal_months[t]
        offset = (m - 1) % self.cycle
        starts = offset == 0
        months_billed = np.where(starts, self.cycle, 0)
        if t == 0:
            months_billed = self.cycle - offset  # enter mid-cycle: bill the rest of the cycle
        billed = np.zeros(len(self.scenarios), dtype=np.int64)
        if months_billed.any():
            mult = months_billed.astype(np.float64).take(hh.run)
            amount = np.rint(self.fee_h.astype(np.float64) * hh.area * mult * 100).astype(np.int64)
            hh.owed_cycle += amount
            billed = hh.per_run(amount)
        if m == 1 or t == 0:
            self._billed_year = np.zeros(len(self.scenarios), dtype=np.int64)
        self._billed_year = self._billed_year + billed
        return billed

    # -- 6. collection: feesim.engine.rules.collection.CollectionMixin
    # ---------------------------------------- -- 7. complaints
    # -------------------------------------------------------------------------
    def _complaints(self, t: int) -> np.ndarray:
        return complaints.count(
            self.hh, self.satisfaction, self.perception, self.beh, self.streams, t
        )

    # -- 8. votes ------------------------------------------------------------------------------
    def _votes(self, t: int, due: list[int]) -> None:
        # Committees with business this month: those on the agenda at its start, and those that
        # announced a vote for this very month while handling it.
        slots = sorted(set(due) | self.agenda.pop(t, set()))
        ballots = [(s, m) for s in slots for m in self.committees[s].due_votes(t)]
        by_order: dict[int, list] = {}
        seen: dict[int, int] = {}
        for slot, m in ballots:
            k = seen.get(slot, 0)
            seen[slot] = k + 1
            by_order.setdefault(k, []).append((slot, m))
        for sub, items in sorted(by_order.items()):
            hold_votes(self, t, sub, [Ballot(slot, m) for slot, m in items])

    # -- 9. evaluations ------------------------------------------------------------------------
    def _evaluate(self, t: int) -> None:
        mean_sat = self._mean(self.satisfaction)
        self.mean_satisfaction = mean_sat
        fb = self.firms
        self.score = assessment_score(fb.quality, np.maximum(fb.tier_q, fb.floor_q), mean_sat)
        since = t + 1 - self.eval_start
        holds = (self.eval_every > 0) & (since > 0) & (since % np.maximum(self.eval_every, 1) == 0)
        if not holds.any():
            return
        scores = self._evaluation_scores()
        for slot in np.flatnonzero(holds):
            slot = int(slot)
            self.trust_event(slot, self.beh_value("trust_evaluation", slot))
            self.log(slot, t, "evaluation", f"score {scores[slot]:.1f}")
            self.committees[slot].on_evaluation(t, float(scores[slot]))

    # -- 10. finances: feesim.engine.ledger.FinanceMixin
    # ----------------------------------------------

    # -- 11. closing ---------------------------------------------------------------------------
    def _close(self, t: int) -> None:
        hh, b = self.hh, self.beh
        m = self.cal_months[t]
        closing = (m % self.cycle) == 0
        if closing.any():
            paid_up = hh.owed_cycle == 0
            omega = 1.0 - (1.0 - np.asarray(b.habit_memory)) ** self.cycle
            w = np.where(closing, omega, 0.0).astype(F32).take(hh.run)
            hh.habit += w * (paid_up - hh.habit)
            if closing.all():
                hh.overdue += hh.owed_cycle
                hh.owed_cycle[:] = 0
            else:
                mask = closing.take(hh.run)
                hh.overdue += hh.owed_cycle * mask
                hh.owed_cycle *= ~mask
            size = np.maximum(np.diff(hh.group_start), 1).astype(F32)
            self.neighbours = (hh.per_group(hh.habit).astype(F32) / size).take(hh.group)
        if m == 12:
            # New debtors: their limitation clock starts now.
            hh.demand_month[(hh.arrears == 0) & (hh.overdue > 0)] = t
            hh.arrears += hh.overdue
            hh.overdue[:] = 0
        update_trust(self.perception, self.mean_satisfaction, b.trust_adjust, b.trust_satisfaction)
