"""Studies built on the engine: ensembles, forecasts, calibration, sensitivity, portfolios, phase.

Each study runs the engine through :class:`feesim.studies.ensemble.Ensemble` or
:func:`feesim.simulate` and returns a result object; none imports a surface. Studies of many
simulations hand their work units to the one runner, :class:`feesim.studies.runner.Runner`
(any executor, failures kept as data, one process-pool factory).
"""
