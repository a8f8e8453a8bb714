"""The money ledger: every yuan is accounted for, in fen (0.01 yuan) as exact integers.

The books; the flows themselves are assembled by the firm's monthly settlement
(:func:`feesim.engine.rules.firm.settle_month`). Accounts per community: the households' unpaid
bills (*receivable*, and the unpaid
maintenance-fund bills), the provider's *cash*, the owners' account (cost-plus funds and the
public income the owners hold) and the *maintenance fund* (fund bills paid, and the share of the
owners' public income the committee puts in, ``committee.public_income_to_fund``). Each month
the model posts a set of flows (:data:`FLOWS`); :meth:`Ledger.post` moves the balances and
checks that

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
from feesim.errors import LedgerError

__all__ = ["FLOWS", "Ledger"]

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
    "public_to_fund",  # the part of the owners' public income put into the maintenance fund
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
        if np.any((f["public_to_fund"] < 0) | (f["public_to_fund"] > f["public_to_owners"])):
            raise LedgerError("the fund was given public income the owners did not hold")
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
        self.owners_account += f["public_to_owners"] - f["public_to_fund"]
        self.fund_balance += f["fund_paid"] + f["public_to_fund"] - f["works_owners"]
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
