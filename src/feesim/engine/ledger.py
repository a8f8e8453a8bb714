"""The money ledger: every yuan is accounted for, in fen (0.01 yuan) as exact integers.

Accounts per community: the households' unpaid bills (*receivable*, and the unpaid
maintenance-fund bills), the provider's *cash*, the owners' account (cost-plus funds and public
income returned to owners) and the *maintenance fund*. Each month the model posts a set of flows
(:data:`FLOWS`); :meth:`Ledger.post` moves the balances and checks that

1. everything households paid arrived in the firm's or the owners' account (and the fund),
2. the receivable moved by bills minus payments minus write-offs, and equals what the
   households owe (``strict=True``: checked household by household),
3. money is conserved: the change of all balances equals what came in (households, public
   income, government) minus what was spent (staff and materials, suits, works) or remitted by
   the provider to its parent company.

A failed identity raises :class:`~feesim.errors.LedgerError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from feesim.engine.population import Households
from feesim.engine.rules.firm import EMERGENCY
from feesim.engine.rules.government import subsidy_factor
from feesim.errors import LedgerError

#: Losing months after which a firm's losses are disclosed to the committee (auto proposals).
DISCLOSE_LOSS_MONTHS = 6

__all__ = ["DISCLOSE_LOSS_MONTHS", "FLOWS", "FinanceMixin", "Ledger"]

#: Monthly flows (fen per run) posted to the ledger.
FLOWS = (
    "fee_billed",  # bills issued
    "fee_paid",  # paid by households (this year's bills and older arrears)
    "fee_written_off",  # arrears lost to limitation or dismissed suits
    "fund_billed",
    "fund_paid",
    "public_income",  # parking, advertising
    "public_to_provider",
    "public_to_owners",
    "subsidy",  # district subsidy to the provider
    "government_support",  # subdistrict advance covering a temporary provider's shortfall
    "service_cost",  # staff, materials, equipment paid by the provider or the owners' account
    "remuneration",  # cost-plus fee from the owners' account to the firm
    "legal_cost",
    "overhaul_cost",
    "works_owners",  # owners' share of renovation works, paid from the maintenance fund
    "payout",  # year-end remittance of the provider's cash above its reserve to its parent
)


@dataclass(eq=False)
class Ledger:
    """Balances (fen, int64 over runs) and the identities they must keep."""

    receivable: np.ndarray
    fund_receivable: np.ndarray
    owners_account: np.ndarray
    fund_balance: np.ndarray
    strict: bool = False
    history: list[dict[str, np.ndarray]] = field(default_factory=list, repr=False)
    keep_history: bool = False

    @classmethod
    def open(cls, hh: Households, fund_balance: np.ndarray, strict: bool = False) -> Ledger:
        """Open the books at month 0 from what households owe."""
        r = hh.n_runs
        return cls(
            receivable=hh.per_run(hh.owed()).astype(np.int64),
            fund_receivable=hh.per_run(hh.owed_fund).astype(np.int64),
            owners_account=np.zeros(r, dtype=np.int64),
            fund_balance=np.asarray(fund_balance, dtype=np.int64).copy(),
            strict=strict,
        )

    def post(
        self,
        flows: dict[str, np.ndarray],
        cash: np.ndarray,
        cost_plus: np.ndarray,
        household_paid: np.ndarray,
        household_fund_paid: np.ndarray,
        hh: Households | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Apply one month's flows; update ``cash`` (the providers' cash) in place.

        Returns
        -------
        (revenue, cost) : int64 arrays (fen) of the provider's own profit and loss.
        """
        f = {k: np.asarray(flows.get(k, 0), dtype=np.int64) for k in FLOWS}
        unknown = set(flows) - set(FLOWS)
        if unknown:
            raise KeyError(f"unknown ledger flows: {sorted(unknown)}")
        if not np.array_equal(np.broadcast_to(f["fee_paid"], household_paid.shape), household_paid):
            raise LedgerError("fee payments by households differ from fees received")
        if not np.array_equal(
            np.broadcast_to(f["fund_paid"], household_fund_paid.shape), household_fund_paid
        ):
            raise LedgerError("fund payments by households differ from fund receipts")
        if np.any(f["public_to_provider"] + f["public_to_owners"] != f["public_income"]):
            raise LedgerError("public income was not fully allocated")
        before = cash + self.owners_account + self.fund_balance
        income = f["fee_paid"] + f["public_to_provider"] + f["subsidy"] + f["government_support"]
        spend = f["service_cost"] + f["legal_cost"]
        fixed_rev = income
        fixed_cost = spend + f["overhaul_cost"]
        plus_rev = f["remuneration"]
        plus_cost = f["overhaul_cost"]
        revenue = np.where(cost_plus, plus_rev, fixed_rev)
        cost = np.where(cost_plus, plus_cost, fixed_cost)
        cash += revenue - cost - f["payout"]
        self.owners_account += np.where(cost_plus, income - spend - f["remuneration"], 0)
        self.owners_account += f["public_to_owners"]
        self.fund_balance += f["fund_paid"] - f["works_owners"]
        self.receivable += f["fee_billed"] - f["fee_paid"] - f["fee_written_off"]
        self.fund_receivable += f["fund_billed"] - f["fund_paid"]
        after = cash + self.owners_account + self.fund_balance
        came_in = (
            f["fee_paid"]
            + f["fund_paid"]
            + f["public_income"]
            + f["subsidy"]
            + f["government_support"]
        )
        went_out = (
            f["service_cost"]
            + f["legal_cost"]
            + f["overhaul_cost"]
            + f["works_owners"]
            + f["payout"]
        )
        if not np.array_equal(after - before, came_in - went_out):
            raise LedgerError("money was created or lost: balances moved by more than net flows")
        if np.any(self.receivable < 0) or np.any(self.fund_receivable < 0):
            raise LedgerError("households were credited more than they were billed")
        if self.strict and hh is not None:
            owed = hh.per_run(hh.owed())
            if not np.array_equal(owed, self.receivable):
                raise LedgerError("receivable differs from what households owe")
            if not np.array_equal(hh.per_run(hh.owed_fund), self.fund_receivable):
                raise LedgerError("fund receivable differs from what households owe")
        if self.keep_history:
            self.history.append(f)
        return revenue, cost


class FinanceMixin:
    """The finances phase of a :class:`~feesim.engine.model.FeeModel` month (step 10).

    Assembles the month's flows (fees, public income, subsidy, service cost, remuneration, suits,
    works, the year-end payout), posts them to the ledger, records the providers' trailing year,
    and lets the firms review their losses (notices; automatic proposals on disclosed losses).
    """

    def _finances(self, t: int, billed: np.ndarray, paid: dict[str, np.ndarray]) -> dict:
        fb, R = self.firms, len(self.scenarios)
        wage, price = self.wage[t], self.price[t]
        fee_paid = paid["cycle"] + paid["overdue"] + paid["arrears"] + paid["court"]
        active = fb.state != EMERGENCY
        factor = subsidy_factor(self.score, self.subsidy_min)
        subsidy = np.rint(self.subsidy_rate * self.area_total * factor * 100).astype(np.int64)
        self.subsidy_paid = subsidy / 100.0
        public = np.rint(self.public_income * 100).astype(np.int64)
        to_provider = np.rint(public * self.public_share * ~self.released).astype(np.int64)
        service = np.rint(fb.service_cost(wage, price) * 100).astype(np.int64)
        remuneration = np.where(
            fb.cost_plus & active, np.rint(service * fb.remuneration), 0
        ).astype(np.int64)
        income = fee_paid + to_provider + subsidy
        support = np.where(~active, np.maximum(service + self._legal_cost - income, 0), 0)
        payout = np.zeros(R, dtype=np.int64)
        if self.cal_months[t] == 12:
            # Projects remit cash above a reserve to the parent company once a year.
            reserve = np.rint(fb.cash_months * service).astype(np.int64)
            expected = fb.cash + np.where(
                fb.cost_plus & active,
                remuneration,
                income + support - service - self._legal_cost - self._overhaul_cost,
            )
            payout = np.where(active, np.maximum(expected - reserve, 0), 0).astype(np.int64)
        flows = {
            "fee_billed": billed,
            "fee_paid": fee_paid,
            "fee_written_off": paid["written_off"],
            "fund_billed": self._fund_billed,
            "fund_paid": paid["fund"],
            "public_income": public,
            "public_to_provider": to_provider,
            "public_to_owners": public - to_provider,
            "subsidy": subsidy,
            "government_support": support.astype(np.int64),
            "service_cost": service,
            "remuneration": remuneration,
            "legal_cost": self._legal_cost,
            "overhaul_cost": self._overhaul_cost,
            "works_owners": self._works_owners,
            "payout": payout,
        }
        revenue, cost = self.ledger.post(
            flows,
            fb.cash,
            fb.cost_plus & active,
            fee_paid,
            paid["fund"],
            hh=self.hh if self.ledger.strict else None,
        )
        accrual = (self.fee * self.area_rb).sum(axis=1)
        fb.record(t, revenue / 100.0, cost / 100.0, fee_paid / 100.0, accrual)
        # Only firms near a notice, or whose losses are about to be disclosed, need to know
        # whether a step is under way (asking every committee each month is costly).
        near = (fb.state == 0) & (
            (fb.loss_months + 1 >= np.minimum(fb.exit_loss_months, DISCLOSE_LOSS_MONTHS))
            | (fb.cash < 0)
        )
        pending = np.zeros(len(self.committees), dtype=bool)
        for slot in np.flatnonzero(near):
            pending[slot] = self.committees[slot].open_motion()
        for slot in fb.review(t, service / 100.0, pending):
            self.log(int(slot), t, "notice", f"firm will leave in month {fb.exit_month[slot]}")
        auto = np.flatnonzero((fb.loss_months == DISCLOSE_LOSS_MONTHS) & ~pending)
        for slot in auto:
            if self.scenarios[slot].committee.auto_propose:
                nb = len(self.scenarios[slot].community.building_types)
                fee = self._pool_fee(int(slot), self.fee[slot, :nb].copy())
                if np.any(fee > self.fee[slot, :nb] + 1e-9):
                    self.committees[slot].propose(t + 2, "fee", fee, "auto", rounds=2, retries=1)
        flows["firm_revenue"], flows["firm_cost"] = revenue, cost
        return flows
