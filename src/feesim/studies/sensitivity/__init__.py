"""Global sensitivity analysis: which levers and uncertainties move approval, collection, firms.

Four steps, each a plain function with a result object:

1. :class:`Factor` names a numeric scenario field by its dotted path (``"government.wage_growth"``,
   ``"committee.door_to_door_intensity"``, ``"behaviour.pay_trust"``,
   ``"proposals[0].step_pct"``) and the range to explore. The path and the range are checked
   against the field's declaration in :mod:`feesim.config.scenario` (its bounds, its unit and
   whether it is a *lever* or an *uncertainty*; *settings* are not factors).
2. :func:`design` draws the points to simulate: a Saltelli design on a scrambled Sobol' sequence
   (``method="sobol"``, ``n * (D + 2)`` points for ``D`` factors, first-order and total indices)
   or Morris trajectories (``method="morris"``, ``n * (D + 1)`` points, elementary effects).
3. :func:`evaluate` simulates every design point with :class:`feesim.studies.ensemble.Ensemble` (one
   scenario, or one portfolio of communities, per point; chunked; any ``Executor``) and reduces
   the simulated tables to *outcomes* (:class:`PassProbability`, :class:`Approval`,
   :class:`Collection`, :class:`FirmExit`, :class:`ServiceQuality`, or your own
   :class:`Outcome`). It returns an :class:`Evaluation` whose ``table`` has one row per design
   point and outcome.
4. :func:`analyse` estimates the indices with bootstrap confidence intervals and returns a
   :class:`SensitivityResult` (``summary_frame()``, ``summary_text()``, ``save()``,
   ``load()``; drawn by :func:`feesim.surfaces.plotting.plot_sensitivity`).

Estimators. Sobol': first-order indices by Saltelli et al. (2010), total indices by Jansen
(1999), both on the output standardised over the A and B matrices, with normal-approximation
intervals from a bootstrap over the base samples: exactly the estimators of SALib's
``sobol.analyze``, which is used when SALib is installed (``pip install 'feesim[sensitivity]'``)
and re-implemented here otherwise (``engine="numpy"``). Morris: mean, mean absolute value
(``mu_star``) and standard deviation of the elementary effects on the unit scale, so an effect
reads as the change of the outcome when the factor moves across its whole range (SALib's
``morris.analyze`` when installed).

Common random numbers. Every design point is simulated with the same root seed, so the same
households and the same random draws: the outcome is a deterministic function of the factors
(given the seed and the replicates) and differences between points are the factors' effects,
not seed noise. The indices are therefore those of the model averaged over the simulated
replicates and communities, and they are conditional on everything the design holds fixed: the
base scenario or portfolio, the other behavioural coefficients (the judgement defaults or the
calibrated parameters, whichever :func:`feesim.config.behaviour.default_behaviour` loaded; see
:func:`behaviour_source`) and the ranges chosen for the factors.

Integer fields (months, rounds, campaign steps) are drawn uniformly over their whole values
``lo..hi``; true/false fields over both values.

Examples
--------
>>> import feesim
>>> from feesim.studies import sensitivity as sa
>>> base = feesim.load_scenario("examples/xianghe_2025.toml")  # doctest: +SKIP
>>> factors = [
...     sa.Factor("proposals[0].step_pct", 0.1, 0.6),
...     sa.Factor("committee.door_to_door_intensity", 0.1, 0.9),
...     sa.Factor("behaviour.approve_step", 1.5, 4.5),
... ]  # doctest: +SKIP
>>> d = sa.design(factors, 64, rng=1)  # doctest: +SKIP
>>> ev = sa.evaluate(base, d, replicates=4, workers=2)  # doctest: +SKIP
>>> res = sa.analyse(ev)  # doctest: +SKIP
>>> res.summary_frame()  # doctest: +SKIP
>>> from feesim.surfaces.plotting import plot_sensitivity
>>> plot_sensitivity(res)  # doctest: +SKIP
"""

from feesim.studies.sensitivity.analysis import SensitivityResult, analyse
from feesim.studies.sensitivity.designs import Design, design
from feesim.studies.sensitivity.evaluation import Evaluation, behaviour_source, evaluate
from feesim.studies.sensitivity.factors import Factor
from feesim.studies.sensitivity.outcomes import (
    DEFAULT_OUTCOMES,
    Approval,
    Collection,
    FirmExit,
    MemberTables,
    Outcome,
    PassProbability,
    ServiceQuality,
)

__all__ = [
    "DEFAULT_OUTCOMES",
    "Approval",
    "Collection",
    "Design",
    "Evaluation",
    "Factor",
    "FirmExit",
    "MemberTables",
    "Outcome",
    "PassProbability",
    "SensitivityResult",
    "ServiceQuality",
    "analyse",
    "behaviour_source",
    "design",
    "evaluate",
]
