"""The property firm: staffing and service, costs, margin policy, exit, emergency and new firms.

Rules (state in :class:`FirmBook`, arrays over runs so that one community or thousands step
together; :class:`PropertyFirm` is the Mesa agent through which one firm is seen and replaced):

*Service.* Staff are counted as a ratio ``x`` of the staffing the full liveable standard needs
(``firm.staff_per_10k_m2``), per function (cleaning, security, greening, repairs). Delivered
quality per function follows ``x * management_quality`` with a lag; overall quality weights the
functions by how much residents notice them.

*Costs.* Labour = staff x minimum wage x premium x (1 + social insurance); materials scale with
the service level; equipment (lifts, pumps) is fixed per m2. At full standard staffing labour is
``1 - materials_share`` (about 70%) of cost (AGG-14). Prices of materials follow inflation.

*Margin policy* (fixed-fee contracts). On the revenue it expects (trailing-twelve-month
collection of the current year's bills x this month's fees, plus public income and subsidy;
arrears recovered by campaigns or courts are one-off cash, not planned on) the firm hires up to the
staffing it can afford at its target margin, never above its tier's standard; when its expected
margin falls below target it holds its staffing, and only when it falls below ``cut_margin`` (a
loss, by default) does it cut back to what the target margin affords. Cuts fall first on
greening and repairs. A service package voted with a price step is a contractual floor it must
keep even at a loss; a package delivered ahead of a vote (quality first) or during a trial is an
investment it makes whatever its revenue; a rectification order after a bad evaluation makes it
give up its margin (but not go into loss) to restore service. Staff move at most
``max_cut_rate`` / ``max_hire_rate`` a month; a safety floor stays.
Under cost-plus contracts the firm spends what the owners' funds allow and takes its
remuneration; owners bear surplus and deficit.

*Cost-plus* (酬金制). The owners' account receives the income and pays the service and the
firm's remuneration; the firm publishes audited accounts each December (a disclosure residents
see; the committee asks the owners to fund a deficit with a fee step); a deficit the owners
refuse to fund (they vote the step down) and that exceeds ``deficit_months`` of cost ends the
contract (the firm gives notice).

*Money* (:func:`settle_month`). Each month the provider's revenue is the fees households paid
(this year's bills, arrears, court orders), its contracted share of public income and the
district subsidy its assessment earns (:mod:`feesim.engine.rules.government`); its cost is
staff, materials and equipment, suits and a staff overhaul's severance. Everything is posted to
the :class:`~feesim.engine.ledger.Ledger`, which checks that no money is created or lost. Under
cost-plus the owners' account receives the income and pays the cost and the remuneration. A
temporary provider's shortfall is advanced by the subdistrict. The project keeps a reserve of
``initial_cash_months`` of cost; cash above it is remitted to the parent company each December.
After :data:`DISCLOSE_LOSS_MONTHS` losing months the firm discloses its losses to the committee.

*Asking fees.* A firm from the district pool asks the fee that covers the cost of its standard
with its target margin at 90% collection (:func:`cost_covering_fee`); residents told the true
cost of full service (a disclosure or audit) learn :func:`full_service_fee`.

*Contract term.* At the end of each ``term_months`` term the contract renews tacitly (Shanghai
Provisions Art. 46) unless the firm has given notice or the owners tender it.

*Exit.* A fixed-fee firm whose trailing-twelve-month result stays negative for ``exit_loss_months``
months (and no price step is pending), or whose cash falls below its credit limit, gives
``notice_months`` notice, serves at its floor and leaves when the notice ends, or at the end of its
term if that comes within a year (Civil Code Art. 947: 90 days before term end). A fixed-fee firm
whose trailing-year margin has stayed below ``renewal_margin`` for ``renewal_months`` months when
its term is ``notice_months`` from its end declines to renew (no step pending): running a contract
at no margin, e.g. under a rectification order, is not a business it keeps. Below ``staff_floor``
(the essential posts) it cannot cut: it makes losses instead and leaves after ``exit_loss_months``
(domain-rules D.6). The subdistrict appoints a temporary provider from the district pool (Shanghai
Provisions Art. 52): basic service only, its cost billed to all owners, any shortfall advanced by
the subdistrict, until the owners vote a new firm in. When the temporary service runs out and no
firm was voted in, a district state-owned provider takes over where the district keeps one
(``government.state_provider``): basic service at the fee before the exit, its deficit funded by the
district (:mod:`feesim.engine.rules.succession`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from feesim.config.scenario import TIER_QUALITY
from feesim.engine.ledger import Ledger
from feesim.engine.population import Households
from feesim.engine.rules.government import subsidy_factor
from feesim.engine.state import CommunityState, MonthFlows, Setting

__all__ = [
    "CUT_WEIGHT",
    "DISCLOSE_LOSS_MONTHS",
    "EMERGENCY",
    "FUNCTIONS",
    "NOTICE",
    "REGULAR",
    "SALIENCE",
    "STAFF_SHARE",
    "STATE",
    "FirmBook",
    "allocation",
    "cost_covering_fee",
    "expected_revenue",
    "full_service_fee",
    "overhaul",
    "quality_of_staffing",
    "settle_month",
    "staffing_for_quality",
]

#: Service functions of a firm.
FUNCTIONS = ("cleaning", "security", "greening", "repairs")
#: Share of standard staffing per function (judgement; old estates employ mostly guards and
#: cleaners: e.g. 40+ guards at Anfeng, B17; 96 guards at a Minhang estate, domain-rules 3.2).
STAFF_SHARE = np.array([0.35, 0.40, 0.10, 0.15])
#: Weight of each function in residents' overall judgement (seed 000: cleaning and greening are
#: what residents watch first; judgement).
SALIENCE = np.array([0.35, 0.25, 0.20, 0.20])
#: Relative depth of cuts by function: discretionary greening and repairs go first.
CUT_WEIGHT = np.array([0.8, 0.6, 1.8, 1.4])

REGULAR, NOTICE, EMERGENCY, STATE = 0, 1, 2, 3
STATE_NAMES = ("regular", "notice", "emergency", "state")

#: Management quality of a temporary provider, of a newly selected firm and of a district
#: state-owned provider (judgement).
EMERGENCY_MANAGEMENT = 0.85
NEW_FIRM_MANAGEMENT = 0.95
STATE_MANAGEMENT = 0.85
#: Monthly loss of management quality while the firm is losing money (demoralised staff).
MANAGEMENT_DECAY = 0.004
#: Losing months after which a firm's losses are disclosed to the committee (auto proposals).
DISCLOSE_LOSS_MONTHS = 6


@dataclass(eq=False)
class FirmBook:
    """State of the firm serving each run (arrays over runs; ``x``/``q`` are runs x functions)."""

    state: np.ndarray  # int8 REGULAR / NOTICE / EMERGENCY
    exit_month: np.ndarray  # int32, -1 if no notice given
    since: np.ndarray  # int32 month the current provider started
    serial: np.ndarray  # int32 number of providers so far (0 = the original firm)
    x: np.ndarray  # staffing ratio per function
    held: np.ndarray  # overall staffing the margin policy holds on the firm's own account
    q: np.ndarray  # delivered quality per function
    management: np.ndarray
    cash: np.ndarray  # int64 fen, the current provider's own cash
    tier_q: np.ndarray  # service standard of the contract's tier: the most the firm provides
    floor_q: np.ndarray  # service packages voted with past steps: the least it must provide
    commit_q: np.ndarray  # investment ahead of revenue (quality first, trial); 0 = none
    rectify_until: np.ndarray  # int32
    term_end: np.ndarray  # int32 month the current contract term ends
    loss_months: np.ndarray  # int32 consecutive months with a trailing-year loss
    thin_months: np.ndarray  # int32 consecutive months with a trailing-year margin below renewal
    ring_revenue: np.ndarray  # (R, 12) yuan, last twelve months
    ring_cost: np.ndarray  # (R, 12)
    ring_fee_cash: np.ndarray  # (R, 12) fee cash received for the current year's bills
    ring_fee_due: np.ndarray  # (R, 12) fees accrued
    cost_plus: np.ndarray  # bool
    # static per run
    std_staff: np.ndarray  # staff (FTE) for the full liveable standard
    labour_per_wage: np.ndarray  # yuan of labour per yuan of minimum wage at full staffing
    materials_full: np.ndarray  # yuan/month of materials at full staffing, start prices
    equipment: np.ndarray  # yuan/month, start prices
    target_margin: np.ndarray
    cut_margin: np.ndarray
    remuneration: np.ndarray
    deficit_months: np.ndarray  # cost-plus: owners' deficit (months of cost) that ends it
    funding_refused: np.ndarray  # bool cost-plus: the owners voted down funding the deficit
    staff_floor: np.ndarray
    max_cut: np.ndarray
    max_hire: np.ndarray
    quality_lag: np.ndarray
    exit_loss_months: np.ndarray
    renewal_margin: np.ndarray
    renewal_months: np.ndarray
    notice_months: np.ndarray
    term_months: np.ndarray
    credit_months: np.ndarray
    cash_months: np.ndarray
    #: Staffing solved for (quality, management) pairs already seen: the targets (the voted
    #: floor, the tier, the basic standard) and the management stay put for months, and each
    #: solve is a 40-step bisection; keyed on the arrays' bytes, so a hit is the same result.
    solved: dict = field(default_factory=dict, repr=False, compare=False)

    # -- derived --------------------------------------------------------------------------
    def slice(self, runs: slice | np.ndarray) -> FirmBook:
        """The book restricted to some runs, for per-run calculations.

        Its arrays are views or copies: never write through them.
        """
        return FirmBook(
            **{k: (v[runs] if isinstance(v, np.ndarray) else v) for k, v in vars(self).items()}
        )

    def status(self, run: int) -> str:
        """'regular', 'notice' (leaving) or 'emergency' (temporary provider) in run ``run``."""
        return STATE_NAMES[int(self.state[run])]

    @property
    def staffing(self) -> np.ndarray:
        """Overall staffing ratio (share-weighted over functions)."""
        return self.x @ STAFF_SHARE

    @property
    def quality(self) -> np.ndarray:
        """Overall delivered quality (salience-weighted over functions)."""
        return self.q @ SALIENCE

    @property
    def staff(self) -> np.ndarray:
        """Staff employed (FTE)."""
        return self.staffing * self.std_staff

    def unit_cost(self, wage: np.ndarray, price: np.ndarray) -> np.ndarray:
        """Monthly cost (yuan) of one unit of overall staffing ratio, without equipment."""
        return self.labour_per_wage * wage + self.materials_full * price

    def service_cost(self, wage: np.ndarray, price: np.ndarray) -> np.ndarray:
        """Monthly cost (yuan) of the service delivered this month."""
        return self.staffing * self.unit_cost(wage, price) + self.equipment * price

    def trailing(self) -> tuple[np.ndarray, np.ndarray]:
        """Trailing-twelve-month (collection ratio, profit in yuan).

        The collection ratio is what the firm plans staffing on: cash received for the current
        year's bills over the fees accrued. Arrears recovered by a campaign or a court are
        one-off cash: they count in the profit (the money is the firm's) but not as recurring
        revenue (issue 14: planned as recurring, they made the firm overhire and then cut).
        """
        due = self.ring_fee_due.sum(axis=1)
        coll = np.divide(self.ring_fee_cash.sum(axis=1), due, out=np.ones_like(due), where=due > 0)
        return np.clip(coll, 0.0, 1.5), self.ring_revenue.sum(axis=1) - self.ring_cost.sum(axis=1)

    def affordable(
        self,
        revenue: np.ndarray,
        wage: np.ndarray,
        price: np.ndarray,
        margin: float | np.ndarray | None = None,
    ) -> np.ndarray:
        """Staffing ratio the firm can afford out of ``revenue``.

        Its cost leaves the target margin (or ``margin``) for a fixed-fee firm, or the
        remuneration for a cost-plus firm.
        """
        m = self.target_margin if margin is None else margin
        keep = np.where(self.cost_plus, 1.0 + self.remuneration, 1.0 + m)
        return (revenue / keep - self.equipment * price) / self.unit_cost(wage, price)

    def cost_covering_factor(
        self,
        revenue_at_fee: np.ndarray,
        other_income: np.ndarray,
        target_q: np.ndarray,
        wage: np.ndarray,
        price: np.ndarray,
        collection: float = 0.9,
    ) -> np.ndarray:
        """Factor by which a pool firm multiplies the fees it asks.

        At ``collection``, revenue then covers the cost of ``target_q`` with the target margin
        (a fixed-fee firm) or the remuneration (a cost-plus contract).
        """
        x = self.staffing_for(target_q, np.full(np.shape(target_q), NEW_FIRM_MANAGEMENT))
        keep = np.where(self.cost_plus, 1.0 + self.remuneration, 1.0 + self.target_margin)
        need = (x * self.unit_cost(wage, price) + self.equipment * price) * keep
        return np.maximum(need - other_income, 0.0) / np.maximum(collection * revenue_at_fee, 1e-9)

    # -- monthly rules ----------------------------------------------------------------------
    def plan(
        self, expected_revenue: np.ndarray, wage: np.ndarray, price: np.ndarray, month: int
    ) -> None:
        """Set this month's staffing and let delivered quality follow it (in place)."""
        mgmt = self.management
        x_floor = self.staffing_for(self.floor_q)
        x_tier = np.maximum(self.staffing_for(self.tier_q), x_floor)
        x_aff = self.affordable(expected_revenue, wage, price)
        x_cut = self.affordable(expected_revenue, wage, price, margin=self.cut_margin)
        current = self.staffing
        # Grow to what the target margin affords; while the expected margin is merely below
        # target, hold staffing (a firm absorbs a thin year); below the cut margin (a loss by
        # default), cut back to the target margin. What it holds is its own policy's level:
        # staff taken on under a rectification order or a commitment ahead of a vote are let go
        # (at the cut rate) when the order or the commitment ends.
        held = self.held
        x_no_margin = self.affordable(expected_revenue, wage, price, margin=0.0)
        # A voted package is kept as far as the revenue covers it without a loss: a fixed-fee
        # firm does not run its promise at a loss, the service lags, and the evaluation
        # (rectification, then rollback) is what answers that. Under cost-plus the owners fund
        # the package (a deficit is put to them, see the committee's ``on_deficit``).
        x_kept = np.where(self.cost_plus, x_floor, np.minimum(x_floor, x_no_margin))
        target = np.where(x_aff >= held, x_aff, np.where(x_cut >= held, held, x_aff))
        target = np.maximum(np.minimum(x_tier, target), x_kept)
        self.held = target
        rectify = self.rectify_until > month
        target = np.where(rectify, np.maximum(target, np.minimum(x_tier, x_no_margin)), target)
        committed = self.commit_q > 0
        target = np.where(committed, np.maximum(target, self.staffing_for(self.commit_q)), target)
        target = np.maximum(target, self.staff_floor)
        emergency_x = self.staffing_for(TIER_QUALITY["basic"])
        target = np.where(self.state == NOTICE, self.staff_floor, target)
        target = np.where((self.state == EMERGENCY) | (self.state == STATE), emergency_x, target)
        ref = np.maximum(current, 0.3)
        new = np.clip(target, current - self.max_cut * ref, current + self.max_hire * ref)
        self.allocate(new)
        goal = np.minimum(self.x * mgmt[:, None], 1.2)
        self.q += self.quality_lag[:, None] * (goal - self.q)

    def allocate(self, overall: np.ndarray) -> None:
        """Spread an overall staffing ratio over functions (see :func:`allocation`)."""
        self.x = allocation(overall, self.management)

    def staffing_for(
        self, quality: np.ndarray | float, management: np.ndarray | None = None
    ) -> np.ndarray:
        """Overall staffing that delivers ``quality`` once quality has caught up with it.

        The result is read-only (it may be shared with later calls: :attr:`solved`).
        """
        mgmt = np.asarray(self.management if management is None else management, np.float64)
        q = np.asarray(quality, dtype=np.float64)
        key = (q.shape, mgmt.shape, q.tobytes(), mgmt.tobytes())
        hit = self.solved.get(key)
        if hit is None:
            if len(self.solved) >= 32:  # a bound on memory; the steady targets come back at once
                self.solved.clear()
            hit = staffing_for_quality(q, mgmt)
            hit.flags.writeable = False
            self.solved[key] = hit
        return hit

    def record(
        self,
        month: int,
        revenue: np.ndarray,
        cost: np.ndarray,
        fee_cash: np.ndarray,
        fee_due: np.ndarray,
    ) -> None:
        """Store this month's flows (yuan) in the trailing-year rings."""
        k = month % 12
        self.ring_revenue[:, k] = revenue
        self.ring_cost[:, k] = cost
        self.ring_fee_cash[:, k] = fee_cash
        self.ring_fee_due[:, k] = fee_due

    def review(
        self,
        month: int,
        monthly_cost: np.ndarray,
        step_pending: np.ndarray,
        owners_account: np.ndarray,
    ) -> np.ndarray:
        """Loss record, morale and notice decisions; returns runs whose firm gives notice now.

        ``owners_account`` (fen) is the owners' balance: under cost-plus, a deficit the owners
        leave unfunded beyond ``deficit_months`` of cost ends the contract.
        """
        _, profit = self.trailing()
        regular = self.state == REGULAR
        investing = self.commit_q > 0
        losing = regular & ~self.cost_plus & (profit < 0) & ~investing
        self.loss_months = np.where(losing, self.loss_months + 1, 0)
        self.management = np.where(
            losing, np.maximum(self.management - MANAGEMENT_DECAY, 0.5), self.management
        )
        broke = self.cash < -(self.credit_months * monthly_cost * 100.0)
        unfunded = (
            regular
            & self.cost_plus
            & self.funding_refused
            & ~step_pending
            & (owners_account < -(self.deficit_months * monthly_cost * 100.0))
        )
        gives_notice = (
            regular
            & ~self.cost_plus
            & ~step_pending
            & ((self.loss_months >= self.exit_loss_months) | broke)
        )
        # Non-renewal: decided when the term is the notice period from its end, on a margin that
        # stayed thin for ``renewal_months`` (or its whole tenure, if shorter); a firm that
        # targets a small margin sits near it month to month, and one bad month is no reason
        # to give up a contract.
        revenue = self.ring_revenue.sum(axis=1)
        margin = np.divide(profit, revenue, out=np.zeros_like(profit), where=revenue > 0)
        thin = regular & ~self.cost_plus & (margin < self.renewal_margin)
        self.thin_months = np.where(thin, self.thin_months + 1, 0)
        declines = (
            regular
            & ~self.cost_plus
            & ~step_pending
            & (self.term_end - month == self.notice_months)
            & (self.thin_months >= np.minimum(self.renewal_months, month - self.since + 1))
        )
        gives_notice |= declines | unfunded
        self.state[gives_notice] = NOTICE
        # Leave at the end of the term when it is within a year, else when the notice ends.
        earliest = month + self.notice_months
        near_end = self.term_end - month <= 12
        leave = np.where(near_end, np.maximum(earliest, self.term_end), earliest)
        self.exit_month[gives_notice] = leave[gives_notice]
        return np.flatnonzero(gives_notice)

    def start_provider(
        self,
        runs: np.ndarray,
        month: int,
        state: int,
        management: float,
        cash_fen: np.ndarray,
        expected_revenue: np.ndarray,
        expected_cost: np.ndarray,
    ) -> None:
        """A new provider (temporary or selected) takes over in ``runs``."""
        if runs.size == 0:
            return
        self.state[runs] = state
        self.exit_month[runs] = -1
        self.since[runs] = month
        self.serial[runs] += 1
        self.management[runs] = management
        self.cash[runs] = cash_fen
        self.held[runs] = self.staffing[runs]
        self.funding_refused[runs] = False
        self.commit_q[runs] = 0.0
        self.floor_q[runs] = 0.0
        self.rectify_until[runs] = -1
        self.term_end[runs] = month + self.term_months[runs]
        self.loss_months[runs] = 0
        self.thin_months[runs] = 0
        # A newcomer judges its prospects on the community's history of collection (the fee
        # rings stay), but starts its own profit record at the planned monthly result.
        self.ring_revenue[runs] = expected_revenue[:, None]
        self.ring_cost[runs] = expected_cost[:, None]


def allocation(overall: np.ndarray, management: np.ndarray) -> np.ndarray:
    """Staffing per function (runs x functions) for an overall ratio, cutting greening first.

    Below full liveable staffing (``1 / management``), function ``f`` keeps
    ``(overall / full) ** CUT_WEIGHT[f]`` of it (then all are rescaled to the overall ratio):
    the discretionary functions shrink first and most as staffing falls, but none is cut to
    nothing, and the spread depends on the staff the firm has, not on the standard its contract
    names (a tier upgrade the revenue cannot pay for leaves the functions as they were).
    """
    overall = np.asarray(overall, dtype=np.float64)
    full = 1.0 / np.asarray(management, dtype=np.float64)
    ratio = np.minimum(overall / full, 1.0)
    x = np.maximum(ratio[..., None] ** CUT_WEIGHT * full[..., None], 0.02)
    # Rescale so the share-weighted mean equals the requested overall ratio exactly.
    return x * (overall / (x @ STAFF_SHARE))[..., None]


def quality_of_staffing(overall: np.ndarray, management: np.ndarray) -> np.ndarray:
    """Overall quality that staffing ``overall`` delivers once quality has caught up."""
    x = allocation(overall, management)
    return np.minimum(x * np.asarray(management)[..., None], 1.2) @ SALIENCE


def staffing_for_quality(quality: np.ndarray | float, management: np.ndarray) -> np.ndarray:
    """Overall staffing whose allocation delivers ``quality`` (the inverse of the above).

    Below full staffing the functions residents watch most (greening, repairs) are cut hardest,
    so a quality target takes more than ``quality / management`` staff. Solved by bisection
    (quality rises with staffing); a target above what any staffing delivers gets the most
    useful staffing.
    """
    mgmt = np.asarray(management, dtype=np.float64)
    q = np.broadcast_to(np.asarray(quality, dtype=np.float64), mgmt.shape)
    lo = np.zeros(mgmt.shape)
    hi = np.full(mgmt.shape, 1.2) / mgmt
    for _ in range(40):  # 2**-40 of the bracket: far below any staffing step
        mid = 0.5 * (lo + hi)
        below = quality_of_staffing(mid, mgmt) < q
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return np.where(q > 0, hi, 0.0)


def expected_revenue(firms: FirmBook, setting: Setting, state: CommunityState) -> np.ndarray:
    """Revenue (yuan/month) each firm plans on.

    This month's fees at its trailing-year collection of the current year's bills (at most 1;
    recovered arrears are one-off, :meth:`FirmBook.trailing`), its share of public income
    (unless released to the owners, except under cost-plus, where the owners' account that pays
    the service receives it either way) and the subsidy it was last paid.
    """
    coll, _ = firms.trailing()
    accrual = (state.fee * setting.area_rb).sum(axis=1)
    public = setting.public_income * setting.public_share * (~state.released | firms.cost_plus)
    return accrual * np.minimum(coll, 1.0) + public + state.subsidy_paid


def cost_covering_fee(
    firms: FirmBook,
    setting: Setting,
    state: CommunityState,
    t: int,
    run: int,
    base: np.ndarray,
) -> np.ndarray:
    """Fees a firm from the district pool asks in run ``run`` in month ``t``.

    ``base`` (one fee per building type) scaled up, never down, until revenue at 90%
    collection covers the cost of the contract's standard with the target margin.
    """
    month = min(t, setting.months - 1)
    sl = slice(run, run + 1)
    revenue = np.array([(base * setting.area_rb[run, : len(base)]).sum()])
    other = (setting.public_income * setting.public_share * ~state.released + state.subsidy_paid)[
        sl
    ]
    # The contract's standard, or the service voted packages oblige the firm to keep.
    standard = max(
        TIER_QUALITY[setting.scenarios[run].firm.tier], firms.tier_q[run], firms.floor_q[run]
    )
    k = firms.slice(sl).cost_covering_factor(
        revenue, other, np.array([standard]), setting.wage[month, sl], setting.price[month, sl]
    )
    return base * max(1.0, float(k[0]))


def full_service_fee(firms: FirmBook, setting: Setting, t: int, run: int) -> np.ndarray:
    """What full liveable service really costs per m2 in run ``run`` (one per building type).

    The firm's cost of full staffing and equipment with its target margin at 95% collection:
    what residents learn from disclosed accounts or an audit.
    """
    month = min(t, setting.months - 1)
    sub = firms.slice(slice(run, run + 1))
    wage, price = setting.wage[month, run : run + 1], setting.price[month, run : run + 1]
    per_m2 = sub.unit_cost(wage, price)[0] / setting.area_total[run]
    keep = (1 + sub.target_margin[0]) / 0.95  # margin, at a good collection rate
    types = setting.scenarios[run].community.building_types
    equip = np.array([bt.equipment_cost_per_m2 for bt in types]) * price[0]
    return (per_m2 + equip) * keep


def overhaul(firms: FirmBook, run: int, wage: float) -> int:
    """A staff overhaul (大换血): a new management team; returns its cost in fen.

    The cost is a month of the current labour bill (severance and hiring).
    """
    firms.management[run] = 1.0
    labour = firms.staffing[run] * firms.labour_per_wage[run] * wage
    return round(labour * 100)


def settle_month(
    t: int,
    firms: FirmBook,
    ledger: Ledger,
    setting: Setting,
    state: CommunityState,
    flows: MonthFlows,
    billed: np.ndarray,
    paid: dict[str, np.ndarray],
    hh: Households,
) -> dict[str, np.ndarray]:
    """The month's money: assemble every flow, post it to the ledger, keep the trailing year.

    Sets ``state.subsidy_paid`` and returns the flows (fen per run; :data:`feesim.engine.
    ledger.FLOWS` plus the provider's own ``firm_revenue`` and ``firm_cost``).
    """
    wage, price = setting.wage[t], setting.price[t]
    fee_paid = paid["cycle"] + paid["overdue"] + paid["arrears"] + paid["court"]
    # What recurs: this year's bills paid by households of their own accord or in a campaign's
    # rounds (arrears and court orders are one-off, see FirmBook.trailing).
    recurring = paid["cycle"] + paid["overdue"]
    active = firms.state == REGULAR
    active |= firms.state == NOTICE
    factor = subsidy_factor(state.score, setting.subsidy_min)
    subsidy = np.rint(setting.subsidy_rate * setting.area_total * factor * 100).astype(np.int64)
    state.subsidy_paid = subsidy / 100.0
    public = np.rint(setting.public_income * 100).astype(np.int64)
    to_provider = np.rint(public * setting.public_share * ~state.released).astype(np.int64)
    service = np.rint(firms.service_cost(wage, price) * 100).astype(np.int64)
    remuneration = np.where(
        firms.cost_plus & active, np.rint(service * firms.remuneration), 0
    ).astype(np.int64)
    income = fee_paid + to_provider + subsidy
    support = np.where(~active, np.maximum(service + flows.legal_cost - income, 0), 0)
    payout = np.zeros(setting.runs, dtype=np.int64)
    if setting.cal_months[t] == 12:
        # Projects remit cash above a reserve to the parent company once a year.
        reserve = np.rint(firms.cash_months * service).astype(np.int64)
        expected = firms.cash + np.where(
            firms.cost_plus & active,
            remuneration,
            income + support - service - flows.legal_cost - flows.overhaul_cost,
        )
        payout = np.where(active, np.maximum(expected - reserve, 0), 0).astype(np.int64)
    out = {
        "fee_billed": billed,
        "fee_paid": fee_paid,
        "fee_written_off": paid["written_off"],
        "fund_billed": flows.fund_billed,
        "fund_paid": paid["fund"],
        "public_income": public,
        "public_to_provider": to_provider,
        "public_to_owners": public - to_provider,
        # Under a fixed fee the owners' public income tops up their fund; under cost-plus the
        # owners' account pays their service and it stays there (deficits are not hastened).
        "public_to_fund": np.rint(
            (public - to_provider) * setting.public_to_fund * ~firms.cost_plus
        ).astype(np.int64),
        "subsidy": subsidy,
        "government_support": support.astype(np.int64),
        "service_cost": service,
        "remuneration": remuneration,
        "legal_cost": flows.legal_cost,
        "overhaul_cost": flows.overhaul_cost,
        "works_owners": flows.works_owners,
        "payout": payout,
    }
    revenue, cost = ledger.post(
        out,
        firms.cash,
        firms.cost_plus & active,
        fee_paid,
        paid["fund"],
        hh=hh if ledger.strict else None,
    )
    accrual = (state.fee * setting.area_rb).sum(axis=1)
    firms.record(t, revenue / 100.0, cost / 100.0, recurring / 100.0, accrual)
    out["firm_revenue"], out["firm_cost"] = revenue, cost
    return out
