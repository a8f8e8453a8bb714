"""feesim: simulate and forecast residential property-service fee changes.

An agent-based model (households, property firms, owners' committees) of what happens when a
residential community changes its property-service fee: owners' approval under PRC Civil Code
Art. 278, fee payment and collection, service quality and the firm's viability.

Quick start
-----------
>>> import feesim
>>> scenario = feesim.load_scenario("examples/xianghe_2025.toml")  # doctest: +SKIP
>>> result = feesim.simulate(scenario, rng=1)                      # doctest: +SKIP
>>> result.series[["month", "fee_per_m2", "collection_rate"]]       # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from feesim.config.scenario import Scenario, load_scenario, scenario_from_mapping
from feesim.engine.model import FeeModel
from feesim.engine.results import SimulationResult
from feesim.engine.simulate import simulate
from feesim.errors import ConfigError, FeesimError, LedgerError, SimulationError

try:
    __version__ = version("feesim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+local"

__all__ = [
    "ConfigError",
    "FeeModel",
    "FeesimError",
    "LedgerError",
    "Scenario",
    "SimulationError",
    "SimulationResult",
    "__version__",
    "load_scenario",
    "scenario_from_mapping",
    "simulate",
]
