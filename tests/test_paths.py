"""One way to edit a scenario: dotted paths in ``with_changes``, the sensitivity factors and
``feesim.config.params``, validated exactly as loading a file is."""

from __future__ import annotations

import tomllib

import pytest

import feesim
from feesim.config import params
from feesim.config.scenario import Campaign, Proposal, Renovation
from feesim.errors import ConfigError
from feesim.studies import sensitivity as sa
from feesim.studies.sensitivity.factors import _apply, _get

from .conftest import SMALL_TOML


def _loaded(old: str, new: str) -> feesim.Scenario:
    """The small scenario loaded from its TOML text with ``old`` replaced by ``new``."""
    assert old in SMALL_TOML
    return feesim.scenario_from_mapping(tomllib.loads(SMALL_TOML.replace(old, new, 1)))


# -- every kind of path ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "value", "old", "new"),
    [
        ("simulation.months", 30, "months = 24", "months = 30"),
        ("committee.capacity", 0.25, "capacity = 0.6", "capacity = 0.25"),
        ("firm.tier", "tidy", 'tier = "basic"', 'tier = "tidy"'),
        (
            "community.building_types[1].fee_per_m2",
            1.5,
            "fee_per_m2 = 1.2",
            "fee_per_m2 = 1.5",
        ),
        (
            "proposals[0].door_to_door_rounds",
            3,
            "door_to_door_rounds = 2",
            "door_to_door_rounds = 3",
        ),
        (
            "proposals[0].negotiation_meetings",
            True,
            "month = 8\n",
            "month = 8\nnegotiation_meetings = true\n",
        ),
        ("proposals[0].step_pct", 0.35, "step_pct = 0.2", "step_pct = 0.35"),
        ("proposals[0].step_yuan", 0.3, "step_pct = 0.2", "step_yuan = 0.3"),
        (
            "proposals[0].new_fee_per_m2",
            {"multi-storey": 0.9, "high-rise": 1.4},
            "step_pct = 0.2",
            "new_fee_per_m2 = { multi-storey = 0.9, high-rise = 1.4 }",
        ),
        (
            "proposals[0]",
            {"month": 5, "step_yuan": 0.1},
            "month = 8\nstep_pct = 0.2\nservice_quality = 0.1\ndoor_to_door_rounds = 2\n",
            "month = 5\nstep_yuan = 0.1\n",
        ),
        (
            "campaigns",
            [{"month": 3, "steps": 2}],
            "[[proposals]]",
            "[[campaigns]]\nmonth = 3\nsteps = 2\n\n[[proposals]]",
        ),
        (
            "behaviour.pay_trust",
            0.5,
            "[[proposals]]",
            "[behaviour]\npay_trust = 0.5\n\n[[proposals]]",
        ),
    ],
)
def test_with_changes_gives_what_the_edited_file_gives(small_scenario, path, value, old, new):
    changed = small_scenario.with_changes(**{path: value})
    assert changed == _loaded(old, new)
    assert params.get(changed, path) == params.get(_loaded(old, new), path)


def test_whole_numbers_in_number_fields_become_floats_as_when_loading(small_scenario):
    changed = small_scenario.with_changes(**{"proposals[0].step_pct": 1})
    assert type(changed.proposals[0].step_pct) is float


def test_renovation_and_tier_upgrade_entries(load_example):
    quyang = load_example("quyang_path")
    assert quyang.government.renovations
    moved = quyang.with_changes(**{"government.renovations[0].month": 4})
    assert moved.government.renovations[0].month == 4
    assert (
        moved.government.renovations[0].cost_per_m2 == quyang.government.renovations[0].cost_per_m2
    )
    assert moved.proposals == quyang.proposals
    works = quyang.with_changes(
        **{
            "government.renovations": (Renovation(month=2),),
            "government.tier_upgrades": [{"month": 3, "tier": "tidy"}],
        }
    )
    assert works.government.renovations == (Renovation(month=2),)
    assert works.government.tier_upgrades[0].tier == "tidy"


def test_a_step_replaces_the_fees_named_by_building_type(load_example):
    xianghe = load_example("xianghe_2025")
    assert xianghe.proposals[0].new_fee_per_m2 is not None
    p = xianghe.with_changes(**{"proposals[0].step_pct": 0.3}).proposals[0]
    assert (p.step_pct, p.new_fee_per_m2, p.step_yuan) == (0.3, None, None)
    back = xianghe.with_changes(
        **{"proposals[0].new_fee_per_m2": {"multi-storey": 1.0, "high-rise": 1.5}}
    )
    assert (
        back.proposals[0].step_pct is None and back.proposals[0].new_fee_per_m2["high-rise"] == 1.5
    )


def test_a_value_of_none_stays_none(small_scenario):
    # Loading cannot say None; a round trip through plain data used to bring back the default.
    changed = small_scenario.with_changes(**{"community.initial_collection_rate": None})
    assert changed.community.initial_collection_rate is None
    again = changed.with_changes(**{"simulation.months": 20})
    assert again.community.initial_collection_rate is None


def test_changes_are_checked_together_after_all_of_them(small_scenario):
    # The vote is in month 8. Ten months of quality first are allowed only with a later vote:
    # the checks run once all changes are made, not after each.
    changed = small_scenario.with_changes(
        **{"proposals[0].quality_first_months": 10, "proposals[0].month": 12}
    )
    assert (changed.proposals[0].month, changed.proposals[0].quality_first_months) == (12, 10)
    with pytest.raises(
        ConfigError,
        match=r"^proposals\[0\]\.quality_first_months: got 10; expected <= month \(9\)",
    ):
        small_scenario.with_changes(
            **{"proposals[0].quality_first_months": 10, "proposals[0].month": 9}
        )


def test_entries_given_as_objects_are_checked_like_tables(small_scenario):
    bad = Proposal(month=4)  # a fee proposal without a new fee
    with pytest.raises(
        ConfigError, match=r"proposals\[0\]\.new_fee_per_m2: got None; expected exactly one"
    ):
        small_scenario.with_changes(proposals=(bad,))
    with pytest.raises(
        ConfigError, match=r"campaigns\[0\]\.steps: got 9; expected a value in \[1, 5\]"
    ):
        small_scenario.with_changes(campaigns=(Campaign(month=2, steps=9),))


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "simulation.monts",
            1,
            r"^simulation\.monts: unknown field 'monts' in simulation; allowed: months, params, "
            r"seed, start$",
        ),
        (
            "nonsense",
            1,
            r"^nonsense: unknown field 'nonsense' in the scenario; allowed: behaviour, ",
        ),
        (
            "proposals[3].step_pct",
            0.1,
            r"^proposals\[3\]\.step_pct: proposals\[3\] does not exist; the scenario has 1 "
            r"proposals entry$",
        ),
        (
            "community.building_types[2].fee_per_m2",
            1.0,
            r"community\.building_types\[2\] does not exist; community has 2 building_types "
            r"entries$",
        ),
        (
            "government.renovations[0].month",
            1,
            r"government\.renovations\[0\] does not exist; government has 0 renovations entries",
        ),
        (
            "proposals.step_pct",
            0.1,
            r"^proposals\.step_pct: 'proposals' is an array; give the element, e\.g\. "
            r"'proposals\[0\]'$",
        ),
        ("simulation[0].months", 1, r"'simulation' is not an array; remove the index"),
        ("simulation.months.x", 1, r"'months' is a value, not a table"),
        ("proposals[0]..step_pct", 1, r"cannot read ''; expected names separated by dots"),
        ("proposals[-1].step_pct", 1, r"cannot read 'proposals\[-1\]'"),
        (
            "proposals[0].step_pct",
            20,
            r"^proposals\[0\]\.step_pct: got 20\.0; expected a value in \[-0\.9, 10\] share$",
        ),
        (
            "proposals[0].campaign_steps",
            1.5,
            r"^proposals\[0\]\.campaign_steps: got 1\.5; expected an integer$",
        ),
        (
            "proposals[0].negotiation_meetings",
            1,
            r"negotiation_meetings: got 1; expected true or false",
        ),
        (
            "firm.tier",
            "gold",
            r"^firm\.tier: got 'gold'; expected one of 'basic', 'tidy', 'liveable'$",
        ),
        (
            "simulation.start",
            "2024-13",
            r"^simulation\.start: got '2024-13'; expected a month as 'YYYY-MM'",
        ),
        (
            "proposals[0].month",
            24,
            r"^proposals\[0\]\.month: got 24; expected < simulation\.months \(24\)$",
        ),
        (
            "behaviour.pay_trust",
            -1,
            r"^behaviour\.pay_trust: got -1\.0; expected a value in \[0, 30\]",
        ),
        ("proposals[0]", 3, r"^proposals\[0\]: got 3; expected a table$"),
    ],
)
def test_bad_changes_name_the_path_the_value_and_what_is_allowed(
    small_scenario, path, value, message
):
    with pytest.raises(ConfigError, match=message):
        small_scenario.with_changes(**{path: value})


def test_the_path_of_the_edited_object_prefixes_messages():
    p = Proposal(month=3, step_pct=0.1)
    assert params.edit(p, {"step_yuan": 0.2}, path="proposal") == Proposal(month=3, step_yuan=0.2)
    with pytest.raises(ConfigError, match=r"^proposal\.step_yuan: got 99\.0; expected a value in"):
        params.edit(p, {"step_yuan": 99}, path="proposal")
    with pytest.raises(ConfigError, match=r"^proposal\.stp: unknown field 'stp' in the proposal"):
        params.edit(p, {"stp": 1}, path="proposal")


def test_resolve_reads_the_declaration():
    spec = params.resolve(feesim.Scenario, "community.building_types[0].fee_per_m2")
    assert (spec.name, spec.dtype, spec.kind, spec.unit) == (
        "fee_per_m2",
        "float",
        "lever",
        "yuan/m2/month",
    )
    assert (
        spec.inside(50)
        and not spec.inside(50.01)
        and spec.allowed() == "a value in [0, 50] yuan/m2/month"
    )
    assert params.resolve(feesim.Scenario, "proposals[0]").hint is Proposal
    assert params.resolve(feesim.Scenario, "proposals[0].step_pct").dtype == "float"
    assert params.resolve(feesim.Scenario, "meta.name").dtype is None


# -- the sensitivity factors edit the same way -------------------------------------------------
@pytest.mark.parametrize(
    ("path", "lo", "hi", "value"),
    [
        ("proposals[0].step_pct", 0.1, 0.6, 0.45),
        ("proposals[0].campaign_steps", 0, 5, 3),
        ("proposals[0].negotiation_meetings", 0, 1, True),
        ("community.building_types[1].fee_per_m2", 0.5, 2.0, 1.7),
        ("government.wage_growth", 0.0, 0.1, 0.07),
        ("committee.door_to_door_intensity", 0.1, 0.9, 0.2),
        ("behaviour.pay_trust", 0.5, 2.0, 1.1),
    ],
)
def test_a_factor_and_with_changes_agree(load_example, path, lo, hi, value):
    xianghe = load_example("xianghe_2025")
    f = sa.Factor(path, lo, hi)
    by_factor = _apply(xianghe, (f,), (value,))
    assert by_factor == xianghe.with_changes(**{path: value})
    assert _get(by_factor, path) == params.get(by_factor, path) == value


@pytest.mark.parametrize(
    "path",
    [
        "proposals[0].stp_pct",
        "proposals.step_pct",
        "government[0].wage_growth",
        "proposals[0]..step_pct",
    ],
)
def test_a_factor_and_with_changes_refuse_a_bad_path_alike(small_scenario, path):
    with pytest.raises(ConfigError) as by_changes:
        small_scenario.with_changes(**{path: 0.1})
    with pytest.raises(ConfigError) as by_factor:
        sa.Factor(path, 0.1, 0.2)
    assert str(by_factor.value) == f"factor {by_changes.value}"


def test_a_factor_beyond_the_entries_says_how_many_there_are(small_scenario):
    with pytest.raises(ConfigError) as by_changes:
        small_scenario.with_changes(**{"proposals[1].step_pct": 0.1})
    with pytest.raises(ConfigError) as by_factor:
        _get(small_scenario, "proposals[1].step_pct")
    assert str(by_factor.value) == f"factor {by_changes.value}"
    assert "the scenario has 1 proposals entry" in str(by_changes.value)
