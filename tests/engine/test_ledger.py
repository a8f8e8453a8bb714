"""The ledger: flows land in the accounts they name, money is conserved, tampering is caught."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feesim.engine.ledger import FLOWS, Ledger
from feesim.engine.model import FeeModel
from feesim.engine.population import build_households
from feesim.engine.rng import Streams
from feesim.errors import LedgerError


@pytest.fixture
def books(small_scenario):
    """Two runs of 240 households each owing 100 yuan; fund of 5,000 yuan per run."""
    hh = build_households([small_scenario, small_scenario], Streams(1))
    hh.owed_cycle[:] = 10_000
    ledger = Ledger.open(hh, fund_balance=np.array([500_000, 500_000]), strict=True)
    return hh, ledger


def _flows(**given):
    """Every flow of two runs, zero unless given."""
    out = {k: np.zeros(2, dtype=np.int64) for k in FLOWS}
    out.update({k: np.asarray(v, dtype=np.int64) for k, v in given.items()})
    return out


def _pay(hh, who):
    """Households ``who`` pay their whole cycle bill; returns fen paid per run."""
    paid = np.where(who, hh.owed_cycle, 0)
    hh.owed_cycle -= paid
    return hh.per_run(paid)


def test_the_books_open_on_what_households_owe(books):
    _, ledger = books
    np.testing.assert_array_equal(ledger.receivable, [2_400_000, 2_400_000])
    np.testing.assert_array_equal(ledger.fund_receivable, [0, 0])
    np.testing.assert_array_equal(ledger.owners_account, [0, 0])


def test_each_flow_lands_in_its_account(books):
    hh, ledger = books
    paid = _pay(hh, hh.run == 0)  # run 0 pays everything, run 1 nothing
    cash = np.array([1_000_000, 1_000_000])
    flows = _flows(
        **{
            "fee_paid": paid,
            "public_income": np.array([30_000, 30_000]),
            "public_to_provider": np.array([30_000, 10_000]),
            "public_to_owners": np.array([0, 20_000]),
            "public_to_fund": np.array([0, 12_000]),  # of the owners' 20,000 (Shanghai Art. 51)
            "subsidy": np.array([5_000, 0]),
            "service_cost": np.array([400_000, 400_000]),
            "fund_paid": np.array([0, 0]),
            "works_owners": np.array([100_000, 0]),
            "remuneration": np.array([0, 40_000]),
        }
    )
    # Run 0 is a fixed-fee firm; run 1 cost-plus: its income goes to the owners' account, which
    # pays the service and the firm's remuneration.
    revenue, cost = ledger.post(flows, cash, np.array([False, True]), paid, flows["fund_paid"], hh)
    np.testing.assert_array_equal(revenue, [2_400_000 + 30_000 + 5_000, 40_000])
    np.testing.assert_array_equal(cost, [400_000, 0])
    np.testing.assert_array_equal(cash, [1_000_000 + 2_435_000 - 400_000, 1_040_000])
    np.testing.assert_array_equal(ledger.owners_account, [0, 10_000 - 400_000 - 40_000 + 8_000])
    np.testing.assert_array_equal(ledger.receivable, [0, 2_400_000])
    np.testing.assert_array_equal(ledger.fund_balance, [400_000, 500_000 + 12_000])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 10**7), min_size=10, max_size=10),
    st.booleans(),
)
def test_money_is_conserved_whatever_the_flows(small_scenario, amounts, cost_plus):
    hh = build_households([small_scenario], Streams(2))
    hh.owed_cycle[:] = 10**6
    ledger = Ledger.open(hh, fund_balance=np.array([10**6]))
    pub, share, subsidy, support, service, legal, works, payout, remun, to_fund = amounts
    to_provider = pub * share // 10**7
    to_fund = (pub - to_provider) * to_fund // 10**7
    flows = {
        "fee_paid": np.array([10**6]),
        "public_income": np.array([pub]),
        "public_to_provider": np.array([to_provider]),
        "public_to_owners": np.array([pub - to_provider]),
        "public_to_fund": np.array([to_fund]),
        "subsidy": np.array([subsidy]),
        "government_support": np.array([support]),
        "service_cost": np.array([service]),
        "legal_cost": np.array([legal]),
        "works_owners": np.array([works]),
        "payout": np.array([payout]),
        "remuneration": np.array([remun]),
    }
    cash = np.array([0], dtype=np.int64)
    before = ledger.owners_account + ledger.fund_balance
    ledger.post(flows, cash, np.array([cost_plus]), flows["fee_paid"], np.array([0]))
    came_in = 10**6 + pub + subsidy + support
    went_out = service + legal + works + payout
    assert (cash + ledger.owners_account + ledger.fund_balance - before)[0] == came_in - went_out


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ({"fee_paid": [1, 0]}, "fee payments"),
        ({"fund_paid": [0, 1]}, "fund payments"),
        ({"public_income": [100, 0]}, "public income"),
        ({"public_to_fund": [100, 0]}, "did not hold"),
        ({"public_to_fund": [-1, 0]}, "did not hold"),
        ({"fee_written_off": [10**9, 0]}, "credited more"),
        ({"fee_billed": [1, 0]}, "receivable differs"),
        ({"fund_billed": [0, 1]}, "fund receivable differs"),
    ],
)
def test_a_tampered_flow_is_caught(books, tamper, message):
    hh, ledger = books
    zero = np.zeros(2, dtype=np.int64)
    with pytest.raises(LedgerError, match=message):
        ledger.post(_flows(**tamper), zero.copy(), np.zeros(2, bool), zero, zero, hh)


def test_a_bill_nobody_posted_is_caught_only_in_strict_mode(books):
    hh, ledger = books
    hh.owed_cycle[0] += 1  # one fen billed off the books
    zero = np.zeros(2, dtype=np.int64)
    lax = Ledger.open(hh, fund_balance=zero)
    lax.receivable -= np.array([1, 0])
    lax.post(_flows(), zero.copy(), np.zeros(2, bool), zero, zero, hh)  # not checked
    with pytest.raises(LedgerError, match="receivable differs"):
        ledger.post(_flows(), zero.copy(), np.zeros(2, bool), zero, zero, hh)
    with pytest.raises(KeyError, match="unknown ledger flows"):
        ledger.post({"fee_paied": zero}, zero.copy(), np.zeros(2, bool), zero, zero, hh)
    assert "fee_paid" in FLOWS


def test_ledger_detects_created_money(small_scenario):
    model = FeeModel(small_scenario, rng=1, strict_ledger=True)
    model.step()
    model.hh.owed_cycle[0] += 12345  # a bill nobody issued
    with pytest.raises(LedgerError):
        model.step()
