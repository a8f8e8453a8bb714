"""Configuration: typed, validated inputs (scenarios, behavioural coefficients, field metadata).

The bottom layer: frozen dataclasses loaded from TOML, each field with its unit, bounds, kind
(lever, uncertainty or setting) and source. The engine, the studies and the surfaces read them;
nothing here imports any of those.
"""
