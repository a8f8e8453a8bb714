"""The vectorised engine and the per-agent Mesa reference give the same distributions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

import feesim
from feesim.config.scenario import SCHEDULABLE
from feesim.errors import ConfigError
from feesim.studies.reference import REFERENCE_SCHEDULABLE, HouseholdAgent, ReferenceModel

RUNS = 40
COLUMNS = (
    "collection_rate",
    "payment_record",
    "satisfaction",
    "trust",
    "service_quality",
    "arrears_yuan",
)


@pytest.fixture(scope="module")
def scenario(load_example):
    return load_example("frozen_fee").with_changes(
        **{"community.households": 100, "simulation.months": 24}
    )


def _ends(result, month=23):
    s = result.series
    return s[s["month"] == month].set_index("run")


def _compare(a, b):
    """p-values of two-sample KS tests and standardised mean differences per column."""
    out = {}
    for col in COLUMNS:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        se = np.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
        out[col] = (stats.ks_2samp(x, y).pvalue, abs(x.mean() - y.mean()) / max(se, 1e-12))
    return out


@pytest.fixture(scope="module")
def engines(scenario):
    vec = _ends(feesim.FeeModel([scenario] * RUNS, rng=1).run())
    ref_model = ReferenceModel([scenario] * RUNS, rng=2, strict_ledger=True)
    assert len(ref_model.agents_by_type[HouseholdAgent]) == 100 * RUNS
    ref = _ends(ref_model.run())
    return vec, ref


def test_same_distributions(engines):
    vec, ref = engines
    for col, (p, z) in _compare(vec, ref).items():
        assert p > 0.001, (col, p)
        assert z < 4.0, (col, z)


def test_the_comparison_detects_a_different_rule(scenario, engines):
    """Negative control: the same test flags a rule change of moderate size."""
    _, ref = engines
    altered = dataclasses.replace(
        scenario, behaviour=dataclasses.replace(scenario.behaviour, pay_intercept_fr=-2.5)
    )
    vec = _ends(feesim.FeeModel([altered] * RUNS, rng=1).run())
    result = _compare(vec, ref)
    assert min(p for p, _ in result.values()) < 0.001


def test_reference_keeps_the_ledger_and_refuses_unsupported_rules(scenario, small_scenario):
    # strict_ledger checked every month in the fixture; here: unsupported scenarios.
    with pytest.raises(ConfigError, match="proposals"):
        ReferenceModel(small_scenario)
    with pytest.raises(ConfigError, match=r"legal\.enabled"):
        ReferenceModel(scenario.with_changes(**{"legal.enabled": True}))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("legal.enabled", True),
        ("legal.sue_share", 0.5),
        ("committee.auto_propose", True),
        ("committee.tender_after_bad_scores", 2),
        ("firm.tier", "liveable"),
        ("firm.contract", "cost_plus"),
    ],
)
def test_reference_refuses_scheduled_changes_it_does_not_implement(scenario, key, value):
    """A [[schedule]] change the reference does not implement is refused in one line, not
    silently ignored (review item 5)."""
    sc = scenario.with_changes(schedule=[{"month": 6, "set": {key: value}}])
    with pytest.raises(ConfigError) as err:
        ReferenceModel(sc)
    msg = str(err.value)
    assert msg.startswith(f"scenarios[0].schedule[0].set.{key}:") and "\n" not in msg
    assert "per-agent reference" in msg


def test_reference_runs_scheduled_changes_of_the_shared_community_rules(scenario):
    assert set(SCHEDULABLE) > REFERENCE_SCHEDULABLE
    sc = scenario.with_changes(
        schedule=[{"month": 3, "set": {"government.subsidy_per_m2": 0.2}}],
        **{"simulation.months": 6},
    )
    events = ReferenceModel(sc, rng=1).run().events
    assert (events["event"] == "lever_changed").sum() == 1
