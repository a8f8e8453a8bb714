"""Live dashboard of the two cycles for trainers (``feesim dashboard``).

A Mesa ``SolaraViz`` app (:mod:`feesim.surfaces.dashboard.app`) shows one community month by month
under levers a trainer moves: the price step and its timing, months of quality first, the service
package, wage growth, door-to-door intensity, the five-step campaign, evaluation with rollback and
renovation bundling; with presets for the vicious cycle, the virtuous cycle (quality first) and a
price step without quality first.

Modules
-------
levers
    The levers, the presets and the scenario they make (no solara import).
model
    :class:`~feesim.surfaces.dashboard.model.DashboardModel`, the :class:`feesim.FeeModel` the app
    runs (no solara import).
app
    The Solara page (imports solara and Mesa's visualization; optional dependencies of the
    ``dashboard`` extra).
server
    Starting the app: :func:`~feesim.surfaces.dashboard.server.serve` behind ``feesim dashboard``.

Nothing is imported here, so ``import feesim.surfaces.dashboard`` never imports solara.
"""

from __future__ import annotations

__all__: list[str] = []
