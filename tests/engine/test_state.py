"""The engine's typed state: per-run values, the setting's calendar rules."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from feesim import FeeModel
from feesim.config.behaviour import Behaviour
from feesim.engine.state import BehaviourRuns, LegalRuns, run_values


def test_run_values_are_scalars_where_runs_agree_and_arrays_where_not(small_scenario):
    a = small_scenario.behaviour
    b = dataclasses.replace(a, pay_trust=a.pay_trust + 1.0)
    values = run_values(BehaviourRuns, [a, b, a])
    assert isinstance(values.sat_level, float)
    np.testing.assert_allclose(values.pay_trust, [a.pay_trust, a.pay_trust + 1, a.pay_trust])
    assert values.value("pay_trust", 1) == pytest.approx(a.pay_trust + 1)
    sub = values.restrict(np.array([1]))
    assert isinstance(sub, BehaviourRuns)
    np.testing.assert_allclose(sub.pay_trust, [a.pay_trust + 1])
    # Every coefficient is a declared field: a typo is an error, not a silent default.
    assert {f.name for f in dataclasses.fields(values)} == {
        f.name for f in dataclasses.fields(Behaviour)
    }
    with pytest.raises(AttributeError):
        values.pay_trusst  # noqa: B018
    again = pickle.loads(pickle.dumps(values))
    np.testing.assert_array_equal(again.pay_trust, values.pay_trust)


def test_legal_values_carry_only_what_collection_reads(small_scenario):
    values = run_values(LegalRuns, [small_scenario.legal])
    assert values.win_rate == small_scenario.legal.win_rate
    assert not hasattr(values, "enabled")


@pytest.mark.parametrize(
    ("rule", "earliest", "expected"),
    [("next_month", 5, 5), ("next_cycle", 5, 6), ("next_cycle", 6, 6), ("next_year", 5, 12)],
)
def test_a_passed_fee_takes_effect_at_the_rule_s_month(small_scenario, rule, earliest, expected):
    # Quarterly billing from January: cycles start in months 0, 3, 6, ...
    setting = FeeModel(small_scenario, rng=1).setting
    assert setting.effective_month(0, earliest, rule) == expected
