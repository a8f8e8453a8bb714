"""Global sensitivity analysis: estimators against known answers, factor checks, the model."""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses

import numpy as np
import pandas as pd
import pytest

from feesim.config.behaviour import Behaviour
from feesim.errors import ConfigError, FeesimError
from feesim.studies import sensitivity as sa
from feesim.studies.sensitivity.factors import _apply
from feesim.surfaces.plotting import plot_sensitivity

# Three factors with wide declared bounds, used as labels for analytic test functions (the
# functions are evaluated on the design's unit cube, not on the fields' values).
LABELS = [
    sa.Factor("behaviour.approve_intercept", -3, 3, name="x1"),
    sa.Factor("behaviour.pay_intercept_cc", -3, 3, name="x2"),
    sa.Factor("behaviour.pay_intercept_fr", -3, 3, name="x3"),
]

#: Ishigami (a=7, b=0.1) on [-pi, pi]^3: exact first-order and total indices.
ISHIGAMI_S1 = np.array([0.3139, 0.4424, 0.0])
ISHIGAMI_ST = np.array([0.5576, 0.4424, 0.2437])


def ishigami(unit: np.ndarray) -> np.ndarray:
    x = -np.pi + 2 * np.pi * unit
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


# -- estimators -------------------------------------------------------------------------------
def test_sobol_recovers_ishigami_indices():
    d = sa.design(LABELS, 4096, rng=1)
    assert d.points == 4096 * 5
    res = sa.analyse(d, ishigami(d.unit), engine="numpy", rng=2)
    f = res.summary_frame().set_index("factor").loc[["x1", "x2", "x3"]]
    np.testing.assert_allclose(f["S1"], ISHIGAMI_S1, atol=0.03)
    np.testing.assert_allclose(f["ST"], ISHIGAMI_ST, atol=0.03)
    # intervals are centred on the estimate and narrow at this sample size
    assert ((f["ST_ci_upper"] - f["ST_ci_lower"]) < 0.1).all()
    np.testing.assert_allclose((f["S1_ci_lower"] + f["S1_ci_upper"]) / 2, f["S1"])
    assert list(f.sort_values("rank").index) == ["x1", "x2", "x3"]


def test_sobol_recovers_linear_model_indices():
    # y = sum a_i x_i with independent uniform x_i: S1_i = ST_i = a_i^2 / sum a_j^2
    a = np.array([3.0, 2.0, 0.5])
    d = sa.design(LABELS, 1024, rng=5)
    res = sa.analyse(d, {"lin": d.unit @ a}, engine="numpy", rng=6)
    f = res.summary_frame().set_index("factor").loc[["x1", "x2", "x3"]]
    exact = a**2 / (a**2).sum()
    np.testing.assert_allclose(f["S1"], exact, atol=0.02)
    np.testing.assert_allclose(f["ST"], exact, atol=0.02)
    assert res.outcomes.loc["lin", "sum_S1"] == pytest.approx(1.0, abs=0.03)


def test_morris_is_exact_on_a_linear_model():
    # every elementary effect of a linear model is its slope over the unit range
    a = np.array([2.0, -1.0, 0.0])
    d = sa.design(LABELS, 30, "morris", levels=4, rng=3)
    assert d.points == 30 * 4
    res = sa.analyse(d, {"lin": d.unit @ a}, engine="numpy", rng=4)
    f = res.summary_frame().set_index("factor").loc[["x1", "x2", "x3"]]
    np.testing.assert_allclose(f["mu"], a, atol=1e-12)
    np.testing.assert_allclose(f["mu_star"], np.abs(a), atol=1e-12)
    np.testing.assert_allclose(f["sigma"], 0.0, atol=1e-12)
    np.testing.assert_allclose(f["mu_star_ci_upper"] - f["mu_star_ci_lower"], 0.0, atol=1e-12)


def test_salib_engine_gives_the_same_estimates():
    pytest.importorskip("SALib")
    d = sa.design(LABELS, 256, rng=8)
    y = ishigami(d.unit)
    ours = sa.analyse(d, y, engine="numpy", rng=1).summary_frame()
    theirs = sa.analyse(d, y, engine="salib", rng=1).summary_frame()
    np.testing.assert_allclose(ours["S1"], theirs["S1"], atol=1e-10)
    np.testing.assert_allclose(ours["ST"], theirs["ST"], atol=1e-10)
    # bootstrap half-widths agree in size (different resamples)
    w1 = ours["ST_ci_upper"] - ours["ST_ci_lower"]
    w2 = theirs["ST_ci_upper"] - theirs["ST_ci_lower"]
    np.testing.assert_allclose(w1, w2, rtol=0.3)
    m = sa.design(LABELS, 20, "morris", rng=9)
    y = ishigami(m.unit)
    ours = sa.analyse(m, y, engine="numpy").summary_frame()
    theirs = sa.analyse(m, y, engine="salib").summary_frame()
    np.testing.assert_allclose(ours["mu_star"], theirs["mu_star"], atol=1e-10)
    np.testing.assert_allclose(ours["mu"], theirs["mu"], atol=1e-10)
    np.testing.assert_allclose(ours["sigma"], theirs["sigma"], atol=1e-10)


def test_analyse_refuses_missing_values_and_flags_constant_outcomes():
    d = sa.design(LABELS, 8, rng=1)
    y = ishigami(d.unit)
    y[[3, 7]] = np.nan
    with pytest.raises(FeesimError, match=r"outcome y: no value at 2 design point\(s\)"):
        sa.analyse(d, y)
    res = sa.analyse(d, {"flat": np.ones(d.points)})
    assert bool(res.outcomes.loc["flat", "constant"])
    assert (res.indices["value"] == 0).all()
    with pytest.raises(ConfigError, match="expected one per design point"):
        sa.analyse(d, np.ones(3))
    with pytest.raises(ConfigError, match="engine"):
        sa.analyse(d, y, engine="fast")


# -- designs ---------------------------------------------------------------------------------
def test_saltelli_blocks_differ_from_a_in_one_column():
    d = sa.design(LABELS, 16, rng=4)
    blocks = d.unit.reshape(16, 5, 3)
    A, B = blocks[:, 0], blocks[:, 4]
    for j in range(3):
        same = np.delete(np.arange(3), j)
        np.testing.assert_array_equal(blocks[:, j + 1][:, same], A[:, same])
        np.testing.assert_array_equal(blocks[:, j + 1][:, j], B[:, j])


def test_morris_trajectories_move_one_factor_by_delta():
    d = sa.design(LABELS, 12, "morris", levels=6, rng=5)
    steps = np.diff(d.unit.reshape(12, 4, 3), axis=1)
    moved = (np.abs(steps) > 0).sum(axis=2)
    assert (moved == 1).all()
    np.testing.assert_allclose(np.abs(steps).sum(axis=2), 6 / (2 * 5))
    grid = d.unit * 5
    np.testing.assert_allclose(grid, np.round(grid))  # on the 6-level grid
    # every factor moves exactly once per trajectory
    assert ((np.abs(steps) > 0).sum(axis=1) == 1).all()


def test_same_rng_same_design_and_bad_design_options():
    a = sa.design(LABELS, 8, rng=11)
    b = sa.design(LABELS, 8, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(a.unit, b.unit)
    assert not np.array_equal(a.unit, sa.design(LABELS, 8, rng=12).unit)
    with pytest.raises(ConfigError, match=r"n: got 100; expected a power of 2"):
        sa.design(LABELS, 100)
    with pytest.raises(ConfigError, match="levels: got 5"):
        sa.design(LABELS, 10, "morris", levels=5)
    with pytest.raises(ConfigError, match="method: got 'fast'"):
        sa.design(LABELS, 8, "fast")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="name 'x1' is also used"):
        sa.design([LABELS[0], sa.Factor("behaviour.pay_norm", 0, 5, name="x1")], 8)


def test_integer_and_boolean_factors_take_every_value_equally():
    steps = sa.Factor("proposals[0].campaign_steps", 0, 5)
    assert steps.dtype == "int" and steps.kind == "lever"
    u = (np.arange(6000) + 0.5) / 6000
    values, counts = np.unique(steps.values(u), return_counts=True)
    assert values.tolist() == [0, 1, 2, 3, 4, 5]
    assert (counts == 1000).all()
    assert steps.values(np.array([1.0]))[0] == 5
    flag = sa.Factor("proposals[0].negotiation_meetings", 0, 1)
    assert flag.dtype == "bool"
    assert flag.values(np.array([0.2, 0.7])).tolist() == [False, True]


# -- factor checks ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("government.wage_grwth", 0, 0.1),
            r"factor government\.wage_grwth: unknown field "
            r"'wage_grwth' in government; allowed: .*wage_growth",
        ),
        (("nonsense", 0, 1), r"factor nonsense: unknown field 'nonsense' in the scenario"),
        (
            ("behaviour.pay_trust", 0, 40),
            r"factor behaviour\.pay_trust: hi: got 40; expected "
            r"a value in \[0, 30\] log-odds per trust point",
        ),
        (
            ("government.wage_growth", -0.9, 0.1),
            r"wage_growth: lo: got -0\.9; expected a value "
            r"in \[-0\.5, 1\]",
        ),
        (
            ("committee.door_to_door_intensity", 0.5, 0.5),
            r"door_to_door_intensity: lo: got "
            r"0\.5; expected lo < hi \(hi = 0\.5\)",
        ),
        (("committee.door_to_door_intensity", 0.9, 0.1), r"expected lo < hi"),
        (
            ("simulation.months", 12, 24),
            r"simulation\.months: the field is a setting, not a "
            r"lever or an uncertainty",
        ),
        (("meta.name", 0, 1), r"meta\.name: 'name' is not a single number"),
        (("proposals[0].new_fee_per_m2", 0, 1), r"is not a single number"),
        (("proposals.step_pct", 0.1, 0.2), r"'proposals' is an array; give the element"),
        (("government[0].wage_growth", 0, 0.1), r"'government' is not an array"),
        (
            ("proposals[0].quality_first_months", 0, 2.5),
            r"hi: got 2\.5; expected a whole "
            r"number",
        ),
        (("proposals[0].negotiation_meetings", 0, 2), r"hi: got 2; expected 1"),
        (("behaviour.pay_trust", "low", 2), r"lo: got 'low'; expected a number"),
        (("behaviour.pay_trust", 1, float("inf")), r"expected a finite number"),
        (("proposals[0]..step_pct", 0, 1), r"cannot read ''"),
    ],
)
def test_bad_factors_are_refused_with_the_factor_value_and_what_is_allowed(args, message):
    with pytest.raises(ConfigError, match=message):
        sa.Factor(*args)


def test_factor_around_centres_on_the_scenario_value_within_bounds(small_scenario):
    f = sa.Factor.around(small_scenario, "behaviour.pay_trust", 0.5)
    v = small_scenario.behaviour.pay_trust
    assert (f.lo, f.hi) == pytest.approx((0.5 * v, 1.5 * v))
    assert f.kind == "uncertainty" and f.name == "pay_trust"
    g = sa.Factor.around(small_scenario, "committee.capacity", 2.0)
    assert (g.lo, g.hi) == (0.0, pytest.approx(min(1.0, 3 * small_scenario.committee.capacity)))
    # a coefficient at zero (e.g. fitted to its bound) has no relative range of its own
    zero = small_scenario.with_changes(**{"behaviour.pay_trust": 0.0})
    with pytest.raises(ConfigError, match=r"pay_trust: no range around the scenario's value 0"):
        sa.Factor.around(zero, "behaviour.pay_trust")
    h = sa.Factor.around(zero, "behaviour.pay_trust", min_half_width=1.0)
    assert (h.lo, h.hi) == (0.0, 1.0)


def test_factor_errors_found_against_the_scenario(small_scenario):
    d = sa.design([sa.Factor("proposals[1].step_pct", 0.1, 0.3)], 2, rng=1)
    with pytest.raises(ConfigError, match=r"proposals\[1\] does not exist; the scenario has 1"):
        sa.evaluate(small_scenario, d, progress=False)
    # the vote is in month 8: eight months of quality first at most (cross-field rule)
    d = sa.design([sa.Factor("proposals[0].quality_first_months", 0, 12)], 2, rng=1)
    with pytest.raises(ConfigError, match=r"quality_first_months = 12 \(hi end.*<= month \(8\)"):
        sa.evaluate(small_scenario, d, progress=False)
    d = sa.design([sa.Factor("proposals[0].step_pct", 0.1, 0.3)], 2, rng=1)
    with pytest.raises(ConfigError, match=r"outcome pass: proposal: got 2"):
        sa.evaluate(small_scenario, d, outcomes=[sa.PassProbability(proposal=2)])
    with pytest.raises(ConfigError, match=r"outcome collection: year: got 3; .* 2 December"):
        sa.evaluate(small_scenario, d, outcomes=[sa.Collection(year=3)])


def test_a_relative_step_replaces_fees_named_by_building_type(load_example):
    xianghe = load_example("xianghe_2025")
    assert xianghe.proposals[0].new_fee_per_m2 is not None
    f = sa.Factor("proposals[0].step_pct", 0.1, 0.5)
    changed = _apply(xianghe, (f,), (0.3,))
    p = changed.proposals[0]
    assert p.step_pct == 0.3 and p.new_fee_per_m2 is None and p.step_yuan is None
    assert p.service_quality == xianghe.proposals[0].service_quality
    assert changed.proposals[1:] == xianghe.proposals[1:]


# -- the model -------------------------------------------------------------------------------
FACTORS = [
    sa.Factor("proposals[0].step_pct", 0.1, 0.6, name="step"),
    sa.Factor("committee.door_to_door_intensity", 0.2, 0.9, name="reach"),
    sa.Factor("proposals[0].campaign_steps", 0, 5, name="campaign"),
]


@pytest.fixture(scope="module")
def tiny(small_scenario):
    # The judgement coefficients, not the shipped fit: these tests check the machinery and one
    # robust property of the model, and must not move when the calibration is redone.
    sc = dataclasses.replace(
        small_scenario.with_changes(**{"simulation.months": 14}), behaviour=Behaviour()
    )
    d = sa.design(FACTORS, 4, rng=7)
    return sc, d, sa.evaluate(sc, d, replicates=2, workers=1, progress=False)


def test_evaluation_table_has_one_row_per_point_and_outcome(tiny):
    _, d, ev = tiny
    names = [o.name for o in sa.DEFAULT_OUTCOMES]
    assert d.points == 4 * 5
    assert len(ev.table) == d.points * len(names)
    assert list(ev.table.columns) == ["point", "outcome", "value", "members", "failed"]
    assert set(ev.table["outcome"]) == set(names)
    assert (ev.table["failed"] == 0).all() and ev.failures.empty
    assert len(ev.members) == d.points * 2
    wide = ev.wide()
    assert list(wide.columns) == [f.name for f in FACTORS] + names
    assert wide[["pass", "approval", "collection", "firm_exit"]].stack().between(0, 1).all()
    assert wide["quality"].between(0, 1.2).all()
    assert ev.meta["behaviour"] in ("judgement defaults", "custom") or ev.meta[
        "behaviour"
    ].startswith("calibrated")
    # the point value is the mean over its two replicates
    m = ev.members[ev.members["point"] == 3]
    assert wide.loc[3, "collection"] == pytest.approx(m["collection"].mean())


def test_indices_on_the_model_are_in_sensible_ranges(tiny):
    _, _, ev = tiny
    res = sa.analyse(ev, rng=1)
    s = res.summary_frame()
    assert len(s) == 5 * 3
    assert np.isfinite(s[["S1", "ST"]].to_numpy()).all()
    # Four base points give noisy estimates (a total index can exceed 1), but Jansen's total
    # index is a mean of squared differences: never negative.
    assert (s["ST"] >= 0).all()
    # common random numbers: the campaign starts with the new bill, after the vote, so it
    # cannot change the vote at all; its indices on approval are exactly zero
    appr = s[s["outcome"] == "approval"].set_index("factor")
    assert appr.loc["campaign", "S1"] == 0.0 and appr.loc["campaign", "ST"] == 0.0
    assert appr.loc["step", "ST"] > 0.05
    assert res.top("approval", 1) == ["step"]
    assert "behaviour" in res.summary_text()


def test_same_seed_same_evaluation_on_any_executor(tiny):
    sc, d, ev = tiny
    again = sa.evaluate(sc, d, replicates=2, workers=1, progress=False)
    pd.testing.assert_frame_equal(ev.table, again.table)
    with cf.ThreadPoolExecutor(2) as pool:
        threaded = sa.evaluate(sc, d, replicates=2, executor=pool, workers=2, progress=False)
    pd.testing.assert_frame_equal(ev.table, threaded.table)
    other = sa.evaluate(sc, d, replicates=2, workers=1, rng=99, progress=False)
    assert not np.allclose(other.wide()["collection"], ev.wide()["collection"])


@pytest.mark.slow
def test_process_pool_gives_the_same_evaluation(tiny):
    sc, d, ev = tiny
    pooled = sa.evaluate(sc, d, replicates=2, workers=2, progress=False)
    pd.testing.assert_frame_equal(ev.table, pooled.table)


def test_portfolio_sweep_weights_collection_by_households(examples):
    from feesim.config.scenario import Proposal
    from feesim.studies.portfolio import load_portfolio

    district = load_portfolio(examples / "district_hongkou.toml")
    base = dataclasses.replace(
        district.base.with_changes(**{"simulation.months": 12}),
        proposals=(Proposal(month=4, step_pct=0.2, door_to_door_rounds=2),),
    )
    port = dataclasses.replace(district, base=base, table=district.table.head(3))
    d = sa.design([sa.Factor("government.subsidy_per_m2", 0.0, 0.3)], 2, rng=1)
    outcomes = [sa.Collection(), sa.FirmExit(months=12), sa.ServiceQuality(last_months=6)]
    ev = sa.evaluate(port, d, outcomes=outcomes, workers=1, progress=False)
    assert len(ev.members) == d.points * 3
    assert set(ev.members["key"]) == set(port.table["community"])
    m = ev.members[ev.members["point"] == 1]
    expected = np.average(m["collection"], weights=m["households"])
    assert ev.wide().loc[1, "collection"] == pytest.approx(expected)
    assert ev.meta["households"] == port.households


# -- results ---------------------------------------------------------------------------------
def test_plots_return_their_axes(tiny):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, _, ev = tiny
    res = sa.analyse(ev, rng=1)
    axes = plot_sensitivity(res)
    assert len(axes) == len(sa.DEFAULT_OUTCOMES)
    assert [t.get_text().split(" (")[0] for t in axes[0].get_yticklabels()][-1] == res.top(
        "pass", 1
    )[0]
    _fig, ax = plt.subplots()
    assert plot_sensitivity(res, "approval", ax=ax) is ax
    with pytest.raises(ConfigError, match="one per outcome"):
        plot_sensitivity(res, ["approval", "pass"], ax=ax)
    with pytest.raises(ConfigError, match="outcome: got 'nope'"):
        plot_sensitivity(res, "nope")
    m = sa.design(LABELS, 6, "morris", rng=1)
    assert plot_sensitivity(sa.analyse(m, ishigami(m.unit)), ax=ax) is ax
    plt.close("all")
