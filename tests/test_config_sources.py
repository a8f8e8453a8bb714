"""Every parameter the review named states a unit and bounds where it is a number, and a source
or the judgement behind it (review item 6)."""

from __future__ import annotations

import pytest

from feesim.config.params import describe
from feesim.config.scenario import Scenario

NAMED = (
    "legal.cost_per_case_yuan",
    "legal.delay_months",
    "history.",
    "proposals[].menu[].",
    "behaviour.trust_visit",
)
ROWS = [r for r in describe(Scenario) if r["field"].startswith(NAMED)]


def test_the_named_parameters_are_all_found():
    assert len(ROWS) == 2 + 5 + 3 + 1


@pytest.mark.parametrize("row", ROWS, ids=[r["field"] for r in ROWS])
def test_a_named_parameter_has_a_source_or_says_it_is_judgement(row):
    assert row["source"].strip(), row["field"]
    if row["type"].startswith(("a number", "an integer")):
        assert row["unit"] and row["lo"] is not None and row["hi"] is not None, row["field"]
