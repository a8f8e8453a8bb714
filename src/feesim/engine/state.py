"""The engine's typed state: what a batch of communities is and where it stands this month.

A *batch* simulates ``R`` runs (replicates of one scenario, or different communities) side by
side; every array here has the runs as its first axis (``B`` is the number of building types,
padded to the largest scenario; ``T`` the horizon in months). The household arrays are
:class:`~feesim.engine.population.Households`; the firm's are
:class:`~feesim.engine.rules.firm.FirmBook`; what residents perceive is
:class:`~feesim.engine.rules.perception.Perception`.

- :class:`Setting`: what does not change during a run (areas, calendar, wages, the levers'
  settings, the behavioural coefficients per run);
- :class:`CommunityState`: what the rules move month by month at the community level (fees,
  the cost residents believe full service has, enforcement, the assessment score, ...);
- :class:`Residents`: per-household inputs to the payment decision derived each month
  (satisfaction, trust, the fee, the stairwell's payment share) and its coefficients;
- :class:`MonthFlows`: the one-off money flows of the month (fund bills, suits, overhauls,
  works) that the finances post to the ledger;
- :data:`BehaviourRuns` and :data:`LegalRuns`: a configuration dataclass's values over the runs
  of a batch (a float where every run agrees, else an array over runs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from feesim.config.behaviour import Behaviour
from feesim.config.scenario import Legal, Scenario

if TYPE_CHECKING:  # pragma: no cover
    from feesim.engine.rules.payment import PaymentCoefficients

__all__ = [
    "CYCLE_MONTHS",
    "LEGAL_FIELDS",
    "BehaviourRuns",
    "CommunityState",
    "LastVote",
    "LegalRuns",
    "MonthFlows",
    "Residents",
    "RunValues",
    "Setting",
    "run_values",
]

F32 = np.float32
#: Months per bill of each billing cycle.
CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}
#: Legal settings the collection rules read per run.
LEGAL_FIELDS = (
    "threshold_months",
    "sue_share",
    "cost_per_case_yuan",
    "delay_months",
    "win_rate",
    "limitation_months",
)


class RunValues:
    """Base of the per-batch value classes :class:`BehaviourRuns` and :class:`LegalRuns`.

    Each is a frozen dataclass with the same fields as its configuration class (every field of
    :class:`~feesim.config.behaviour.Behaviour`; the legal settings in :data:`LEGAL_FIELDS`),
    each holding a float where every run of the batch has the same value, else a float64 array
    over runs, so that rules broadcast them per household with
    :func:`~feesim.engine.population.per_household`.
    """

    def value(self, name: str, run: int) -> float:
        """The value of field ``name`` in run ``run``."""
        v = getattr(self, name)
        return float(v if np.ndim(v) == 0 else v[run])

    def updated(self, name: str, run: int, value: float, runs: int) -> RunValues:
        """A copy with field ``name`` of run ``run`` set to ``value`` (``runs`` in the batch)."""
        current = np.broadcast_to(np.asarray(getattr(self, name), dtype=np.float64), (runs,))
        values = current.copy()
        values[run] = value
        return dataclasses.replace(self, **{name: values})  # type: ignore[type-var]

    def restrict(self, runs: np.ndarray) -> RunValues:
        """The values of some runs only (scalars stay scalars)."""
        return type(self)(
            **{
                f.name: (v if np.ndim(v := getattr(self, f.name)) == 0 else np.asarray(v)[runs])
                for f in dataclasses.fields(self)  # type: ignore[arg-type]
            }
        )


def _runs_class(source: type, names: Sequence[str]) -> type[RunValues]:
    """A frozen dataclass with fields ``names`` of ``source``, each a float or an array."""
    return dataclasses.make_dataclass(
        f"{source.__name__}Runs",
        [(n, "float | np.ndarray") for n in names],
        bases=(RunValues,),
        frozen=True,
        eq=False,
        module=__name__,
        namespace={"__doc__": f"{source.__name__} values over the runs of a batch."},
    )


#: Every behavioural coefficient over the runs of a batch.
BehaviourRuns = _runs_class(Behaviour, [f.name for f in dataclasses.fields(Behaviour)])
#: The legal settings the collection rules read, over the runs of a batch.
LegalRuns = _runs_class(Legal, LEGAL_FIELDS)


def run_values[T: RunValues](kind: type[T], objs: Sequence[object]) -> T:
    """The values of ``kind``'s fields across ``objs`` (one configuration object per run).

    A float where all runs agree, else a float64 array over runs.
    """
    uniq = {id(o): o for o in objs}
    out: dict[str, float | np.ndarray] = {}
    for f in dataclasses.fields(kind):  # type: ignore[arg-type]
        name = f.name
        if len(uniq) == 1:
            out[name] = float(getattr(objs[0], name))
            continue
        vals = np.array([float(getattr(o, name)) for o in objs])
        out[name] = float(vals[0]) if np.all(vals == vals[0]) else vals
    return kind(**out)


@dataclass(eq=False)
class Setting:
    """What stays fixed during a batch's run, arrays over runs (the levers' settings included).

    Levers that a scenario schedules at a month (proposals, campaigns, renovations, tier
    upgrades, overhauls, tenders) are read from :attr:`scenarios` when their month comes.
    """

    scenarios: list[Scenario]
    months: int  # horizon
    years: np.ndarray  # (T,) calendar year of each month
    cal_months: np.ndarray  # (T,) calendar month 1-12 of each month
    n_households: np.ndarray  # (R,)
    area_rb: np.ndarray  # (R, B) m2 per run and building type
    area_total: np.ndarray  # (R,) m2
    cycle: np.ndarray  # (R,) int months per bill
    cycle_h: float | np.ndarray  # months per bill, one float or float32 per household
    wage: np.ndarray  # (T, R) minimum wage, yuan/month
    price: np.ndarray  # (T, R) materials price index
    intensity: np.ndarray  # (R,) share of households a door-to-door round reaches
    public_income: np.ndarray  # (R,) yuan/month
    public_share: np.ndarray  # (R,) share of public income contracted to the firm
    public_to_fund: np.ndarray  # (R,) share of the owners' public income put into the fund
    subsidy_rate: np.ndarray  # (R,) yuan/m2/month
    subsidy_min: np.ndarray  # (R,) assessment score below which no subsidy is paid
    hotline_weight: np.ndarray  # (R,) weight of the 12345 record in the assessment score
    eval_every: np.ndarray  # (R,) int months between resident evaluations (0 none)
    eval_start: np.ndarray  # (R,) int month evaluations begin
    legal_on: np.ndarray  # (R,) bool ordinary legal action against debtors
    legal: RunValues  # a :data:`LegalRuns`
    beh: RunValues  # a :data:`BehaviourRuns`

    @property
    def runs(self) -> int:
        """Number of runs in the batch."""
        return len(self.scenarios)

    def building_types(self, run: int) -> int:
        """Number of building types of run ``run`` (the rest of its row is padding)."""
        return len(self.scenarios[run].community.building_types)

    def coefficient(self, name: str, run: int) -> float:
        """A behavioural coefficient of one run."""
        return self.beh.value(name, run)

    def effective_month(self, run: int, earliest: int, rule: str) -> int:
        """First month on or after ``earliest`` at which a passed fee takes effect.

        ``rule`` is ``next_month``, ``next_cycle`` (the run's next billing cycle) or
        ``next_year`` (the next January).
        """
        if rule == "next_month":
            return earliest
        for t in range(earliest, self.months + 240):
            m = (self.cal_months[0] - 1 + t) % 12 + 1
            if rule == "next_year" and m == 1:
                return t
            if rule == "next_cycle" and (m - 1) % self.cycle[run] == 0:
                return t
        return earliest


@dataclass(eq=False)
class CommunityState:
    """What the rules move month by month at the community level (arrays over runs)."""

    fee: np.ndarray  # (R, B) yuan/m2/month in force
    full_fee: np.ndarray  # (R, B) fee residents believe buys the full liveable standard
    released: np.ndarray  # (R,) bool: public income released to the owners after a step
    enforcement: np.ndarray  # (R,) legal deterrence residents feel (0-1)
    suits_seen: np.ndarray  # (R,) suits residents remember, per 100 households (fading)
    score: np.ndarray  # (R,) district assessment score (sets the subsidy)
    subsidy_paid: np.ndarray  # (R,) yuan of subsidy paid in the latest month
    fee_before_exit: np.ndarray  # (R, B) fee when the firm left (the pool firm's base)
    emergency_votes: np.ndarray  # (R,) int failed votes for a replacement firm so far
    mean_satisfaction: np.ndarray  # (R,) this month's mean household satisfaction
    billed_year: np.ndarray  # (R,) int64 fen billed in this calendar year
    works_due: np.ndarray  # (R,) int64 fen of the owners' share of works not yet paid
    fee_supplement: np.ndarray  # (R, B) fee rise to bill for the rest of the cycle this month
    complaints: np.ndarray  # (R, 12) hotline complaints of the last twelve months (slot t % 12)

    def fees(self, run: int, n_types: int) -> np.ndarray:
        """The fees in force in run ``run`` (a copy, one per building type)."""
        return self.fee[run, :n_types].copy()


@dataclass(eq=False)
class Residents:
    """Per-household inputs to the payment decision (float32 arrays of length ``n``)."""

    coef: PaymentCoefficients  # coefficients, community offsets included in the intercept
    offset: np.ndarray  # (R,) float64 community offset in the payment log-odds
    has_volunteer: np.ndarray  # bool: a floor leader or volunteer lives in the stairwell
    satisfaction: np.ndarray
    trust: np.ndarray
    fee_h: np.ndarray  # fee per m2 of each household's building type
    neighbours: np.ndarray  # share of the stairwell group with a good payment record


@dataclass(eq=False)
class MonthFlows:
    """One-off flows of the month (fen, int64 over runs), posted with the finances."""

    fund_billed: np.ndarray
    legal_cost: np.ndarray
    overhaul_cost: np.ndarray
    works_owners: np.ndarray  # owners' share of renovation works (from the maintenance fund)

    @classmethod
    def empty(cls, runs: int) -> MonthFlows:
        """No flows yet."""
        return cls(*(np.zeros(runs, dtype=np.int64) for _ in range(4)))


@dataclass(frozen=True, eq=False)
class LastVote:
    """Who took part and who approved in the latest vote (arrays over owners)."""

    month: int
    participates: np.ndarray  # bool over owners
    approves: np.ndarray  # bool over owners
    voting: np.ndarray  # bool over runs: runs that held the vote
