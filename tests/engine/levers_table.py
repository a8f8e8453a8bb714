"""The levers and the direction each must move the outcomes (the comparative-statics contract).

Each :class:`Lever` names a base community, how the lever changes it (in force from month 0),
optionally the same lever switched on later (``dated``), and the expected sign of its effect on
outcomes (``signs``), or the direction it must not move them (``holds``: "not down" / "not up"),
with the source of the expectation. ``tests/engine/test_comparative_statics.py`` asserts every
row on common random numbers; the README's table "Levers and the directions they must move
outcomes" is this list (a test keeps them in step).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from feesim.config.scenario import Campaign, Change, Proposal, Renovation, Scenario
from tests.engine import statics as st

#: Outcomes, with the minimum size of a directed effect and how each is read.
OUTCOMES: dict[str, tuple[float, st.Outcome | None]] = {
    "approval": (0.02, st.vote("approval_heads")),
    "turnout": (0.02, st.vote("turnout_heads")),
    "passes": (0.1, st.vote("passed")),
    "collection": (0.01, None),  # at the lever's horizon (Lever.collection_month)
    "exit": (6.0, st.notice_month),  # months until notice or exit: positive = later
    "assessment": (1.0, st.trailing("assessment_score", 60)),  # district score, last 5 years
    # The providers' net margin over the whole run (share of revenue): half a point of revenue
    # is what a lever must move it by (listed firms earn 5-7%, AGG-17).
    "margin": (0.005, st.firm_margin),
}


@dataclass(frozen=True)
class Lever:
    """One lever: how it changes a base community, and the signs it must give."""

    name: str
    base: str  # "frozen" or "xianghe"
    apply: Callable[[Scenario], Scenario]
    signs: dict[str, int]  # outcome -> +1 up, -1 down
    source: str
    dated: Callable[[Scenario], Scenario] | None = None  # the lever switched on at month 12
    collection_month: int = 59  # December of year 5 (frozen) / of year 3 (xianghe: 35)
    replicates: int = 16
    #: Outcomes the lever must not move the other way: +1 not down, -1 not up (no effect of at
    #: least the outcome's minimum and three standard errors against the direction).
    holds: dict[str, int] = dataclasses.field(default_factory=dict)
    #: Smaller minimum effects for this lever (an effect the sources expect to be small; for a
    #: ``holds`` outcome, the smallest move the other way that counts against it).
    minimum: dict[str, float] = dataclasses.field(default_factory=dict)
    #: Month collection is read at when the lever is switched on at month 12 (default: the same
    #: as ``collection_month``); for a one-off lever, the end of the year it acts in.
    dated_collection_month: int | None = None
    #: Known shortfalls of the model as fitted, by outcome (measured figures): that outcome's
    #: test is a strict expected failure, so that the mark must go when the model delivers.
    shortfall: dict[str, str] = dataclasses.field(default_factory=dict)
    #: The same, for the lever switched on at month 12.
    dated_shortfall: dict[str, str] = dataclasses.field(default_factory=dict)


def _set_all(changes: dict[str, object]) -> Callable[[Scenario], Scenario]:
    return lambda sc: sc.with_changes(**changes)


def _schedule_all(changes: dict[str, object], month: int = 12) -> Callable[[Scenario], Scenario]:
    def f(sc: Scenario) -> Scenario:
        return dataclasses.replace(sc, schedule=(*sc.schedule, Change(month, dict(changes))))

    return f


def _set(path: str, value: object) -> Callable[[Scenario], Scenario]:
    return _set_all({path: value})


def _schedule(path: str, value: object, month: int = 12) -> Callable[[Scenario], Scenario]:
    return _schedule_all({path: value}, month)


#: A district subsidy of 0.1 yuan/m2 paid whatever the assessment score.
_UNCONDITIONAL = {"government.subsidy_per_m2": 0.1, "government.subsidy_min_score": 0.0}


def _proposal(**changes: object) -> Callable[[Scenario], Scenario]:
    def f(sc: Scenario) -> Scenario:
        return dataclasses.replace(sc, proposals=(dataclasses.replace(sc.proposals[0], **changes),))

    return f


def _campaign(month: int, steps: int) -> Callable[[Scenario], Scenario]:
    return lambda sc: dataclasses.replace(sc, campaigns=(*sc.campaigns, Campaign(month, steps)))


def _renovation(month: int) -> Callable[[Scenario], Scenario]:
    def f(sc: Scenario) -> Scenario:
        works = Renovation(month=month, cost_per_m2=60.0, government_share=0.4, quality_boost=0.08)
        gov = dataclasses.replace(sc.government, renovations=(works,))
        return dataclasses.replace(sc, government=gov)

    return f


def _bundled_works(sc: Scenario) -> Scenario:
    """Works finished two months before the vote and bundled with the step (美丽家园)."""
    month = max(sc.proposals[0].month - 2, 0)
    with_works = _renovation(month)(sc)
    return _proposal(renovation_bundled=True)(with_works)


def _process_only(month: int) -> Callable[[Scenario], Scenario]:
    """A zero step carrying posted accounts, negotiation meetings and two door-to-door rounds."""

    def f(sc: Scenario) -> Scenario:
        prop = Proposal(
            month=month,
            step_pct=0.0,
            disclosure="accounts",
            negotiation_meetings=True,
            door_to_door_rounds=2,
        )
        return dataclasses.replace(sc, proposals=(*sc.proposals, prop))

    return f


def _overhaul(month: int) -> Callable[[Scenario], Scenario]:
    def f(sc: Scenario) -> Scenario:
        firm = dataclasses.replace(sc.firm, overhaul_months=(month,))
        return dataclasses.replace(sc, firm=firm)

    return f


#: The contract. Bases: ``frozen`` is examples/frozen_fee.toml (fee frozen, wages +3.1%/year,
#: ten years); ``xianghe`` is examples/xianghe_2025.toml with its +29% step voted in month 10
#: (Xianghe's own package and process unless the lever changes them).
LEVERS: tuple[Lever, ...] = (
    Lever(
        "district subsidy 0.1 yuan/m2, paid on a score of 60 or more (the Pudong rule)",
        "frozen",
        _set("government.subsidy_per_m2", 0.1),
        {"collection": +1, "margin": +1},
        "domain-rules 3.5 (break-even), 5 (Pudong subsidy: nothing below a score of 60). The "
        "frozen fee buys less service each year; the score falls below 60 and the subsidy "
        "stops (median month 79, 69-87) at about the time the firm's losses begin (median "
        "month 78.5; 75 without it), so the notice comes when it would have: exit is asked "
        "only not to come earlier by 2 months or more (0.3.0 fit: -0.8 months, se 1.8, 40 runs; "
        "switched on later +2.1, se 2.4)",
        dated=_schedule("government.subsidy_per_m2", 0.1),
        holds={"exit": +1},
        minimum={"exit": 2.0},
        replicates=40,  # exit months vary widely run to run
    ),
    Lever(
        "district subsidy 0.1 yuan/m2, paid whatever the score",
        "frozen",
        _set_all(_UNCONDITIONAL),
        {"collection": +1, "exit": +1, "margin": +1},
        "domain-rules 3.5 (break-even: a subsidy lowers the collection the firm needs)",
        dated=_schedule_all(_UNCONDITIONAL),
        replicates=40,  # exit months vary widely run to run (as the process-only lever)
    ),
    Lever(
        "public income 12,000 yuan/month to the firm",
        "frozen",
        _set("firm.public_income_yuan_month", 12000.0),
        {"collection": +1, "exit": +1, "margin": +1},
        "domain-rules D.1 (revenue)",
        dated=_schedule("firm.public_income_yuan_month", 12000.0),
    ),
    Lever(
        "wage growth 6% instead of 3.1% a year",
        "frozen",
        _set("government.wage_growth", 0.06),
        {"collection": -1, "exit": -1, "margin": -1},
        "domain-rules 3.2, 3.4 (labour 70% of cost)",
    ),
    Lever(
        "residents' trust 0.6 instead of 0.5",
        "frozen",
        _set("community.initial_trust", 0.6),
        {"collection": +1, "exit": +1},
        "domain-rules C.3 (trust raises willingness to pay)",
    ),
    Lever(
        "staff overhaul (new management team)",
        "frozen",
        _overhaul(0),
        {"collection": +1},
        "seed 001 (大换血 before any increase)",
        dated=_overhaul(12),
    ),
    Lever(
        "renovation works (40% government)",
        "frozen",
        _renovation(0),
        {"collection": +1},
        "model.md (美丽家园 bundled with service)",
        dated=_renovation(12),
    ),
    Lever(
        "renovation works finished before the vote, bundled with the step",
        "xianghe",
        _bundled_works,
        {"approval": +1},
        "model.md (美丽家园 bundled with service); seeds 001, 003 and A02 (steps "
        "bundled with works, all passed)",
    ),
    Lever(
        "cost-plus contract (酬金制) instead of a fixed fee",
        "frozen",
        _set("firm.contract", "cost_plus"),
        {"exit": +1, "collection": +1},
        "domain-rules 3.1 and Shanghai Provisions Art. 48 (酬金制: audited accounts every year, "
        "the owners fund a deficit or the firm leaves; the firm earns its remuneration)",
        dated=_schedule("firm.contract", "cost_plus"),
    ),
    Lever(
        "five-step collection campaign",
        "frozen",
        _campaign(0, 5),
        {"collection": +1},
        "seed 004 (five-step escalation); recovered arrears are one-off cash (issue 14)",
        dated=_campaign(12, 5),
        collection_month=11,
        dated_collection_month=23,
        holds={"exit": +1},
    ),
    Lever(
        "bigger step: +60% instead of +29%, same package",
        "xianghe",
        _proposal(new_fee_per_m2=None, step_pct=0.6),
        {"approval": -1, "margin": +1},
        "cases A/B: approval falls with the step (model.md, cases.csv); N11a tier choice",
    ),
    Lever(
        "quality first: service 6 months before the vote",
        "xianghe",
        _proposal(quality_first_months=6),
        {"approval": +1, "margin": -1},
        "seeds 000-002 (先质后价); model.md (the firm invests in quality ahead of revenue)",
    ),
    Lever(
        "no door-to-door rounds (2 -> 0)",
        "xianghe",
        _proposal(door_to_door_rounds=0),
        {"turnout": -1, "approval": -1},
        "domain-rules A.5 (turnout follows outreach), seed 002",
    ),
    Lever(
        "larger service package (0.15 -> 0.3)",
        "xianghe",
        _proposal(service_quality=0.3),
        {"approval": +1, "collection": +1, "margin": -1},
        "seed 002 (what the step buys), model.md (quality-price match; the collection gain of "
        "a step comes from what residents get for the money): the same step buys the same "
        "service, so a fixed-fee firm pays a larger promise out of its margin and collection "
        "may rise only as far as that buys (0.3.0 fit: +0.004, margin -0.024)",
        collection_month=35,
        # an effect the same money bounds: what the firm's margin buys (+0.004, se < 0.001)
        minimum={"collection": 0.002},
    ),
    Lever(
        "no audit: accounts posted only",
        "xianghe",
        _proposal(disclosure="accounts"),
        {"approval": -1},
        "seed 003 (a third-party cost review made residents accept the fee)",
    ),
    Lever(
        "no negotiation meetings",
        "xianghe",
        _proposal(negotiation_meetings=False),
        {"approval": -1},
        "seeds 000, 002 (price joint meetings)",
    ),
    # -- institutions as they work (issue 14) -------------------------------------------------
    Lever(
        "legal action against long-term debtors (suits worth their cost)",
        "frozen",
        _set("legal.enabled", True),
        {"collection": +1},
        "domain-rules 2.1, B.2-5 (firms win >90%; suits costly and slow)",
        dated=_schedule("legal.enabled", True),
    ),
    Lever(
        "absentee owners 20% -> 50% of units",
        "xianghe",
        _set("community.absentee_share", 0.5),
        {"turnout": -1},
        "domain-rules 1.4 (ballots collected door to door; 'often people are not at home')",
    ),
    Lever(
        "12345 record left out of the district assessment (10% of the score -> 0)",
        "frozen",
        _set("government.assessment_hotline_weight", 0.0),
        {"assessment": +1},
        "domain-rules 5; AGG-03, AGG-05, AGG-12 (a declining estate draws more complaints than "
        "the city's average)",
        dated=_schedule("government.assessment_hotline_weight", 0.0),
    ),
    Lever(
        "3-month trial of the new service before the fee",
        "xianghe",
        _proposal(trial_months=3),
        {"approval": +1, "margin": -1},
        "seed 003 (先体验后付费: the service before the fee), AGG-21",
        minimum={"approval": 0.01},
    ),
    Lever(
        "public income (15,000 yuan/month) released to the owners with the step",
        "xianghe",
        _proposal(release_public_income=True),
        {"approval": +1, "margin": -1},
        "seed 001 (the public income no longer pays for the service: owners can spend it), "
        "Shanghai Provisions Art. 51 (public income is the owners'; if used mainly for the "
        "fund, over half goes to it)",
    ),
    Lever(
        "process only: a zero step with posted accounts, meetings, 2 door-to-door rounds",
        "frozen",
        _process_only(12),
        {"collection": +1, "exit": +1},
        "seed 002 (explaining the figures), domain-rules C.3 (trust raises willingness to pay)",
        collection_month=35,
        replicates=40,  # exit months vary widely run to run: 16 runs give about 3 se
    ),
)


def base_scenario(lever: Lever, load_example: Callable[[str], Scenario]) -> Scenario:
    """The lever's base community."""
    return load_example("frozen_fee" if lever.base == "frozen" else "xianghe_2025")


_ARROW = {+1: "up", -1: "down"}
_HOLD = {+1: "not down", -1: "not up"}
_COLUMNS = ("approval", "turnout", "passes", "collection", "exit", "assessment", "margin")


def _cell(lever: Lever, outcome: str) -> str:
    if outcome in lever.signs:
        return _ARROW[lever.signs[outcome]]
    return _HOLD.get(lever.holds.get(outcome, 0), "")


def _met(lever: Lever) -> str:
    """Whether the shipped fit meets the lever's directions, and where not, by how much."""
    short = [f"{k}: {v}" for k, v in lever.shortfall.items()]
    short += [f"{k} (switched on later): {v}" for k, v in lever.dated_shortfall.items()]
    return "no, " + "; ".join(short) if short else "yes"


def table_markdown() -> str:
    """The README's table of levers and directions (exit: up = later)."""
    head = (
        "| lever | "
        + " | ".join(_COLUMNS)
        + " | also switched on later | met by the shipped fit | source |"
    )
    rule = "|" + "---|" * (len(_COLUMNS) + 4)
    rows = [
        "| "
        + lever.name
        + " | "
        + " | ".join(_cell(lever, c) for c in _COLUMNS)
        + f" | {'yes' if lever.dated else ''}"
        + f" | {_met(lever)}"
        + f" | {lever.source} |"
        for lever in LEVERS
    ]
    return "\n".join([head, rule, *rows])
