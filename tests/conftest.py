"""Shared fixtures: paths, small valid scenarios.

The suite runs in English (``LANGUAGE=en``, set before any test and inherited by the commands
the tests start): most tests read English output; the tests of the Chinese surfaces ask for
Chinese explicitly (``--lang zh_CN``, ``lang="zh_CN"`` or their own environment).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import feesim

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

#: A small, valid scenario used as the base of many tests (TOML text).
SMALL_TOML = """
[meta]
name = "small"

[simulation]
months = 24
start = "2024-01"
seed = 5

[community]
households = 240
billing = "quarterly"
initial_collection_rate = 0.8

[[community.building_types]]
name = "multi-storey"
share = 0.7
fee_per_m2 = 0.7
mean_area_m2 = 55.0

[[community.building_types]]
name = "high-rise"
share = 0.3
fee_per_m2 = 1.2
mean_area_m2 = 80.0
equipment_cost_per_m2 = 0.4

[firm]
tier = "basic"

[committee]
capacity = 0.6
door_to_door_intensity = 0.6

[[proposals]]
month = 8
step_pct = 0.2
service_quality = 0.1
door_to_door_rounds = 2
"""


def pytest_configure(config: pytest.Config) -> None:
    """English output for the whole run (feesim's default language is Chinese)."""
    os.environ["LANGUAGE"] = "en"


@pytest.fixture(scope="session")
def examples() -> Path:
    """The examples folder."""
    return EXAMPLES


@pytest.fixture(scope="session")
def small_scenario() -> feesim.Scenario:
    """A small scenario (240 households, 24 months, one fee proposal)."""
    import tomllib

    return feesim.scenario_from_mapping(tomllib.loads(SMALL_TOML))


@pytest.fixture(scope="session")
def load_example():
    """Load an example scenario by stem."""

    def _load(name: str) -> feesim.Scenario:
        return feesim.load_scenario(EXAMPLES / f"{name}.toml")

    return _load


#: Scenarios of this name fail in the engine when :func:`broken_engine` is in use.
BROKEN = "broken"


@pytest.fixture
def broken_engine(monkeypatch):
    """The engine, except that a batch holding a scenario named :data:`BROKEN` raises.

    Work units look the engine up when they run, so the failure reaches them in this process
    (serially or on a thread pool), the way a real failure of one work unit would.
    """
    import feesim.engine.model as model

    real = model.FeeModel

    class FeeModel(real):
        def __init__(self, scenarios, *args, **kwargs):
            if any(s.meta.name == BROKEN for s in scenarios):
                raise feesim.SimulationError(f"scenario {BROKEN!r} failed on purpose")
            super().__init__(scenarios, *args, **kwargs)

    monkeypatch.setattr(model, "FeeModel", FeeModel)
    return BROKEN
