"""``rng=`` everywhere (Scientific Python SPEC 7), ``seed=`` a deprecated alias where it was public.

Introspection over the ``__all__`` of every feesim module: every public function, class and
method that takes a ``seed`` parameter also takes ``rng``. Calling with ``seed=`` warns (a
DeprecationWarning naming ``rng=``, pointing at the caller) and gives the same numbers;
giving both is refused; a bad value is a ConfigError naming ``rng``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import feesim
from feesim.errors import ConfigError

#: Where ``seed`` is data, not the Python API (SPEC 7 is about functions that draw): a file
#: key read into a dataclass field, the seed a result records, a cache key; and the engine's
#: internals, which the engine renovation keeps (its public surface, FeeModel, takes rng=).
DATA = {
    "feesim.config.scenario.Simulation",  # [simulation] seed
    "feesim.studies.forecast.community.ForecastSettings",  # [forecast] seed
    "feesim.studies.portfolio.Portfolio",  # [portfolio] seed
    "feesim.studies.calibration.fit.FitSettings",  # the fit's recorded seed
    "feesim.studies.ensemble.Chunk",  # a work unit's SeedSequence
    "feesim.studies.sensitivity.designs.Design",  # the design's recorded seed
    "feesim.studies.forecast.result.ForecastResult.build",  # records the seed it was given
    "feesim.studies.calibration.fit.EvaluationCache.key",  # a cache key
    "feesim.studies.calibration.cases.case_scenario",  # sets the file key simulation.seed
    "feesim.engine.results.SimulationResult.from_recorder",  # engine: records the seed
    "feesim.engine.rng.Streams",  # engine internals
    "feesim.engine.rng.as_seed_sequence",  # engine internals
}


def _public_callables():
    seen = {}
    for info in pkgutil.walk_packages(feesim.__path__, "feesim."):
        if info.name.startswith("feesim.surfaces.dashboard.app"):
            continue  # builds the Solara page at import
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            targets = []
            if inspect.isclass(obj):
                targets.append(obj)
                targets += [
                    getattr(obj, k)
                    for k, v in vars(obj).items()
                    if not k.startswith("_")
                    and (inspect.isfunction(v) or isinstance(v, classmethod | staticmethod))
                ]
            elif callable(obj):
                targets.append(obj)
            for t in targets:
                f = getattr(t, "__func__", t)
                key = f"{f.__module__}.{f.__qualname__}"
                try:
                    seen[key] = inspect.signature(t)
                except (TypeError, ValueError):
                    continue
    return seen


def test_every_public_callable_with_a_seed_takes_rng():
    found = {k: s for k, s in _public_callables().items() if "seed" in s.parameters}
    assert "feesim.engine.simulate.simulate" in found  # the walk sees the package
    missing = sorted(k for k, s in found.items() if k not in DATA and "rng" not in s.parameters)
    assert not missing, f"take seed= but not rng=: {missing}"


def test_the_exceptions_are_still_there():
    everything = _public_callables()
    stale = sorted(k for k in DATA if k not in everything or "seed" not in everything[k].parameters)
    assert not stale, f"listed as data but gone or renamed: {stale}"


def test_seed_warns_gives_the_same_numbers_and_refuses_both(small_scenario):
    a = feesim.simulate(small_scenario, rng=3).series
    with pytest.warns(DeprecationWarning, match="use rng=") as record:
        b = feesim.simulate(small_scenario, seed=3).series
    assert record[0].filename == __file__  # stacklevel: the caller's line
    assert a.equals(b)
    with pytest.raises(ConfigError, match="rng"):
        feesim.simulate(small_scenario, rng=3, seed=3)


def test_deprecated_seed_of_the_studies(small_scenario, examples):
    from feesim.studies.ensemble import Ensemble
    from feesim.studies.forecast import load_forecast_input, run_forecast

    with pytest.warns(DeprecationWarning, match="rng="):
        assert Ensemble(small_scenario, seed=4).seed == 4
    assert Ensemble(small_scenario, rng=np.random.SeedSequence(4)).seed == 4
    inp = load_forecast_input(examples / "community_xianghe.toml", months_after_vote=6)
    kw = {"runs": 8, "workers": 1, "ensemble": None, "populations": 2}
    with pytest.warns(DeprecationWarning):
        old = run_forecast(inp, seed=5, **kw).to_dict()
    new = run_forecast(inp, rng=5, **kw).to_dict()
    old.pop("elapsed_s"), new.pop("elapsed_s")
    assert old == new


@pytest.mark.parametrize("bad", [-1, 1.5, "1", True, [1]])
def test_a_bad_rng_is_a_config_error_naming_it(small_scenario, bad):
    with pytest.raises(ConfigError, match=r"^rng: got"):
        feesim.simulate(small_scenario, rng=bad)
    with pytest.raises(ConfigError, match=r"^rng: got"):
        feesim.FeeModel(small_scenario, rng=bad)
