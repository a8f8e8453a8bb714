"""Recording what happens: monthly outcomes per run, votes, events and campaign curves.

Monthly outcomes are written into preallocated (months x runs) arrays and turned into tidy
tables by :mod:`feesim.engine.results`. Collection rates follow the sources' usage (model.md):
``collection_rate`` is year to date (share of this calendar year's bills paid so far: "60% by
the end of March, 97% by the end of the year"); ``collection_rate_month`` is the share of what
was due this month (this year's unpaid bills) that got paid this month.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from feesim.engine.ledger import Ledger
from feesim.engine.population import Households
from feesim.engine.rules.collection import CAMPAIGN_DAYS, STEP_NAMES, CampaignPlan
from feesim.engine.rules.firm import EMERGENCY, FUNCTIONS, STATE_NAMES, FirmBook
from feesim.engine.rules.perception import Perception
from feesim.engine.rules.vote import Decided
from feesim.engine.state import CommunityState, Residents, Setting

__all__ = ["SERIES_COLUMNS", "Recorder"]

#: Columns of the monthly table besides run, month, calendar and per-type fees.
SERIES_COLUMNS = (
    "fee_per_m2",
    "service_quality",
    *(f"quality_{f}" for f in FUNCTIONS),
    "perceived_quality",
    "satisfaction",
    "trust",
    "payment_record",
    "collection_rate",
    "collection_rate_month",
    "arrears_yuan",
    "receivable_yuan",
    "billed_yuan",
    "paid_yuan",
    "written_off_yuan",
    "firm_revenue_yuan",
    "firm_cost_yuan",
    "firm_margin",
    "firm_cash_yuan",
    "firm_payout_yuan",
    "firm_staff",
    "firm_active",
    "firm_state",
    "firm_serial",
    "service_cost_yuan",
    "subsidy_yuan",
    "public_income_to_firm_yuan",
    "owners_account_yuan",
    "fund_balance_yuan",
    "fund_collection_rate",
    "complaints",
    "suits_filed",
    "min_wage_yuan",
    "assessment_score",
)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=np.asarray(den) > 0)
    return out


class Recorder:
    """Collects a batch's outcomes month by month.

    Parameters
    ----------
    hh : Households
        The batch's households (for per-run slices of campaign curves).
    months : int
        Horizon.
    n_types : int
        Building types per run (padded).
    """

    def __init__(self, hh: Households, months: int, n_types: int) -> None:
        self.hh = hh
        T, R = months, hh.n_runs
        self.series = {c: np.full((T, R), np.nan) for c in SERIES_COLUMNS}
        self.type_fees = np.full((T, R, n_types), np.nan)
        self.votes: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.campaigns: list[dict[str, Any]] = []
        self._fund_total = np.zeros(R, dtype=np.int64)

    # -- monthly ---------------------------------------------------------------------------
    def month(
        self,
        t: int,
        setting: Setting,
        state: CommunityState,
        residents: Residents,
        firms: FirmBook,
        perception: Perception,
        ledger: Ledger,
        flows: dict[str, np.ndarray],
        paid: dict[str, np.ndarray],
        complaints: np.ndarray,
    ) -> None:
        """Record month ``t`` (called after finances, before billing cycles close)."""
        hh, fb, s = self.hh, firms, self.series
        self.type_fees[t] = state.fee
        s["fee_per_m2"][t] = (state.fee * setting.area_rb).sum(axis=1) / setting.area_total
        s["service_quality"][t] = fb.quality
        for k, f in enumerate(FUNCTIONS):
            s[f"quality_{f}"][t] = fb.q[:, k]
        s["perceived_quality"][t] = perception.seen_quality
        s["satisfaction"][t] = state.mean_satisfaction
        s["trust"][t] = hh.mean(residents.trust)
        s["payment_record"][t] = hh.mean(hh.habit)
        unpaid_cycle = hh.per_run(hh.owed_cycle)
        unpaid_over = hh.per_run(hh.overdue)
        unpaid_old = hh.per_run(hh.arrears)
        unpaid_year = unpaid_cycle + unpaid_over
        paid_year = paid["cycle"] + paid["overdue"]
        s["collection_rate"][t] = 1.0 - _ratio(unpaid_year, state.billed_year)
        s["collection_rate_month"][t] = _ratio(paid_year, unpaid_year + paid_year)
        closing = (setting.cal_months[t] % setting.cycle) == 0
        past_due = unpaid_over + unpaid_old + np.where(closing, unpaid_cycle, 0)
        s["arrears_yuan"][t] = past_due / 100.0
        s["receivable_yuan"][t] = (unpaid_year + unpaid_old) / 100.0
        s["billed_yuan"][t] = flows["fee_billed"] / 100.0
        s["paid_yuan"][t] = flows["fee_paid"] / 100.0
        s["written_off_yuan"][t] = flows["fee_written_off"] / 100.0
        rev, cost = flows["firm_revenue"] / 100.0, flows["firm_cost"] / 100.0
        s["firm_revenue_yuan"][t] = rev
        s["firm_cost_yuan"][t] = cost
        s["firm_margin"][t] = _ratio(rev - cost, rev)
        s["firm_cash_yuan"][t] = fb.cash / 100.0
        s["firm_payout_yuan"][t] = flows["payout"] / 100.0
        s["firm_staff"][t] = fb.staff
        s["firm_active"][t] = (fb.state != EMERGENCY).astype(float)  # a state provider serves
        s["firm_state"][t] = fb.state
        s["firm_serial"][t] = fb.serial
        s["service_cost_yuan"][t] = flows["service_cost"] / 100.0
        s["subsidy_yuan"][t] = flows["subsidy"] / 100.0
        s["public_income_to_firm_yuan"][t] = flows["public_to_provider"] / 100.0
        s["owners_account_yuan"][t] = ledger.owners_account / 100.0
        s["fund_balance_yuan"][t] = ledger.fund_balance / 100.0
        self._fund_total = self._fund_total + flows["fund_billed"]
        s["fund_collection_rate"][t] = 1.0 - _ratio(ledger.fund_receivable, self._fund_total)
        s["complaints"][t] = complaints
        s["suits_filed"][t] = paid["suits"]
        s["min_wage_yuan"][t] = setting.wage[t]
        s["assessment_score"][t] = state.score

    # -- events, votes, campaigns -----------------------------------------------------------
    def event(self, slot: int, month: int, event: str, detail: str) -> None:
        """Log an event."""
        self.events.append({"run": slot, "month": month, "event": event, "detail": detail})

    def vote(self, month: int, decided: Decided, area: np.ndarray) -> None:
        """Log the result of one vote; ``area`` is the run's m2 per building type."""
        b = decided.ballot
        nb = len(b.fee_before) if b.fee_before is not None else 0
        before = after = np.nan
        if nb:
            w = area[:nb] / max(area[:nb].sum(), 1e-12)
            before = float((b.fee_before * w).sum())
            after = float((b.new_fee * w).sum()) if b.new_fee is not None else before
            if b.package is not None:
                before, after = after, after + b.package.fee_per_m2
        self.votes.append(
            {
                "run": b.run,
                "month": month,
                "matter": b.matter,
                "motion": b.name,
                "fee_before": before,
                "fee_after": after,
                "step_pct": (after / before - 1.0) if before and before == before else np.nan,
                **decided.figures,
            }
        )

    def campaign_rounds(
        self,
        month: int,
        active: list[int],
        slots: np.ndarray,
        rounds: np.ndarray,
        owed: np.ndarray,
        plan: CampaignPlan,
    ) -> None:
        """Log the share of each campaign's bill paid after each of this month's rounds."""
        hh = self.hh
        for cid in active:
            run = plan.run[cid]
            sl = hh.run_slice(run)
            start = plan.outstanding[cid]
            owed_r, rounds_r = owed[sl], rounds[sl]
            for k in range(slots.shape[0]):
                step = int(slots[k, run])
                if step <= 0:
                    continue
                left = owed_r[(rounds_r < 0) | (rounds_r > k)].sum()
                self.campaigns.append(
                    {
                        "run": run,
                        "campaign": cid,
                        "bill": plan.bill[cid],
                        "month": month,
                        "step": step,
                        "step_name": STEP_NAMES[step - 1],
                        "day": CAMPAIGN_DAYS[step - 1],
                        "share_paid": 1.0 - left / start if start > 0 else np.nan,
                    }
                )

    @staticmethod
    def state_name(code: float) -> str:
        """Name of a firm state code."""
        return STATE_NAMES[int(code)]
