"""The engine: household arrays, the monthly rules, and the model that orders them.

- :mod:`~feesim.engine.population` builds the households of a batch (a struct of arrays);
- :mod:`~feesim.engine.rules` holds one module per rule (payment, collection, vote, firm,
  succession, evaluation, perception, complaints, government);
- :mod:`~feesim.engine.committee` is the owners' committee, a Mesa agent per community;
- :mod:`~feesim.engine.model` (:class:`FeeModel`) fixes the order of events in a month.

Nothing in the engine imports a study or a surface.
"""
