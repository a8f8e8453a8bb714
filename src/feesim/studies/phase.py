"""Phase diagrams: the low trap, the high equilibrium and the threshold between them.

The "three lows" vicious cycle and the virtuous cycle are two basins of one feedback loop:
households pay when they see service and see their neighbours pay; the firm staffs what the
collected fees afford; service follows staffing. A community pushed far enough down (a payment
strike, a scandal that costs trust) may not come back even though nothing structural changed.

:func:`phase_diagram` makes that visible. It keeps everything *structural* fixed (the
community, its fee, the firm's costs and the households' behaviour, including the community
offset solved at month 0 to reproduce the reported collection rate), holds wages and prices
constant, removes every scheduled intervention (proposals, campaigns, renovations, tier
upgrades, staff overhauls, tenders), and varies only the *initial state*:

``variable="collection"``
    a payment shock: the households' payment records are mapped (monotonically, keeping their
    spread) so that their mean equals the start value, and the firm's last twelve months of fee
    cash are scaled so that the collection it plans on equals it too. Service, trust and
    everything else start where the community stands.
``variable="trust"``
    a trust shock: the community trust stock is moved so that mean household trust equals the
    start value.

Each start is simulated for ``years`` with common random numbers (the same seed, so the same
households and the same random draws for every start of a replicate), and the community's
long-run collection (the firm's trailing-twelve-month collection, averaged over the last
``settle_years``) is recorded. Settled end points are grouped into *stable states*; the start
value at which outcomes switch from one state to the next is the *threshold*.

By default the firm is *held*: it does not give notice whatever its losses, nor decline to renew
its contract on a thin margin (its exit rules would replace the firm and the fee, i.e. change the
structure being studied), and the committee does not propose steps on its own. The month at
which the firm would have given notice under the scenario's own rules is reported
(``would_exit_month``), so the low trap can be read as "the firm leaves after N months". Pass
``hold_firm=False`` to let exits and replacements happen.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from feesim.config.scenario import Scenario
from feesim.errors import ConfigError
from feesim.protocol import ESTIMATE_COLUMNS, load_result, sample_estimate, save_result

if TYPE_CHECKING:  # pragma: no cover
    from feesim.engine.model import FeeModel

__all__ = ["PhaseDiagram", "phase_diagram", "set_start", "structural_scenario"]

log = logging.getLogger(__name__)

Variable = Literal["collection", "trust"]
VARIABLES: tuple[str, ...] = ("collection", "trust")

#: Exit thresholds that a held firm never reaches (the largest values the scenario accepts).
_HOLD_EXIT_MONTHS = 240
_HOLD_CREDIT_MONTHS = 120.0


@dataclass(frozen=True)
class PhaseDiagram:
    """Result of :func:`phase_diagram`.

    Attributes
    ----------
    variable : str
        The start variable (``"collection"`` or ``"trust"``).
    table : pandas.DataFrame
        One row per simulated start: ``start``, ``replicate``, ``collection`` (long-run
        collection), ``quality``, ``trust``, ``payment_record``, ``drift`` (change of the
        long-run collection against the window before it), ``settled``, ``state`` (index into
        :attr:`states`, -1 if not settled), ``would_exit_month`` (month the firm gives, or would
        give, notice; -1 if never) and ``firm_exited``.
    paths : pandas.DataFrame
        One row per start, replicate and month: ``month``, ``collection`` (the firm's trailing
        twelve-month collection), ``quality`` (delivered service quality), ``trust`` (mean
        household trust), ``payment_record`` (mean payment record), ``firm_cash_yuan``.
    states : pandas.DataFrame
        One row per stable state, from low to high collection: ``state``, ``collection``,
        ``quality``, ``trust`` (means over the runs ending there), ``start_min``, ``start_max``
        (the starts that ended there) and ``runs``.
    thresholds : tuple of float
        Start values separating the basins of adjacent states (one fewer than the states).
    meta : dict
        Scenario name, years, replicates, seeds, settings.

    Notes
    -----
    A result of the protocol of :mod:`feesim.protocol` (``summary_text``, ``summary_frame``,
    ``save``, ``load``); ``feesim.surfaces.plotting.plot_phase_diagram`` and
    ``plot_phase_plane`` draw it.
    """

    variable: str
    table: pd.DataFrame
    paths: pd.DataFrame
    states: pd.DataFrame
    thresholds: tuple[float, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_states(self) -> int:
        """Number of stable states found."""
        return len(self.states)

    @property
    def bistable(self) -> bool:
        """Whether more than one stable state was found."""
        return self.n_states > 1

    @property
    def threshold(self) -> float | None:
        """The threshold between the two lowest states, or None if there is one state."""
        return self.thresholds[0] if self.thresholds else None

    def summary_text(self) -> str:
        """A short description of the states and thresholds."""
        name = self.meta.get("scenario", "")
        lines = [
            f"{name}: {self.n_states} stable state(s) from {len(self.table)} starts of "
            f"{self.variable} over {self.meta.get('years')} years"
        ]
        for _, s in self.states.iterrows():
            exit_share = self._exit_share(int(s["state"]))
            lines.append(
                f"  state {int(s['state'])}: collection {s['collection']:.2f}, quality "
                f"{s['quality']:.2f}, trust {s['trust']:.2f}; reached from starts "
                f"{s['start_min']:.2f}-{s['start_max']:.2f} ({int(s['runs'])} runs"
                + (f", firm would leave in {exit_share:.0%}" if exit_share > 0 else "")
                + ")"
            )
        for k, th in enumerate(self.thresholds):
            lines.append(f"  threshold between states {k} and {k + 1}: {self.variable} {th:.2f}")
        unsettled = int((~self.table["settled"]).sum())
        if unsettled:
            lines.append(f"  {unsettled} run(s) had not settled by the end")
        return "\n".join(lines)

    def _exit_share(self, state: int) -> float:
        rows = self.table[self.table["state"] == state]
        return float((rows["would_exit_month"] >= 0).mean()) if len(rows) else 0.0

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """The stable states as estimates over the runs that ended in them (tidy).

        One row per state and outcome (``collection``, ``quality``, ``trust``: long-run values
        averaged over the last ``settle_years``): ``state``, ``outcome``, ``runs``,
        ``start_min``, ``start_max`` (the starts that ended there), and the mean over those runs
        with ``sd / sqrt(runs)`` and the normal ``1 - alpha`` interval (``mean``, ``mean_se``,
        ``mean_ci_lower``, ``mean_ci_upper``). The thresholds are :attr:`thresholds`.
        """
        rows = []
        settled = self.table[self.table["state"] >= 0]
        for state, g in settled.groupby("state", sort=True):
            for outcome in ("collection", "quality", "trust"):
                rows.append(
                    {
                        "state": int(state),
                        "outcome": outcome,
                        "runs": len(g),
                        "start_min": float(g["start"].min()),
                        "start_max": float(g["start"].max()),
                        **sample_estimate(g[outcome], alpha),
                    }
                )
        columns = ["state", "outcome", "runs", "start_min", "start_max", *ESTIMATE_COLUMNS]
        return pd.DataFrame(rows, columns=columns)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``table``, ``paths`` and ``states`` as Parquet and the sidecar; returns the folder.

        The sidecar holds :attr:`meta` (scenario, seed, settings) as the provenance.
        """
        tables = {"table": self.table, "paths": self.paths, "states": self.states}
        attrs = {"variable": self.variable, "thresholds": list(self.thresholds)}
        return save_result(directory, self, tables, provenance=self.meta, attrs=attrs)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> PhaseDiagram:
        """Read a diagram written by :meth:`save`."""
        stored = load_result(directory, cls)
        t, a = stored.tables, stored.attrs
        return cls(
            variable=a["variable"],
            table=t["table"],
            paths=t["paths"],
            states=t["states"],
            # JSON has no NaN: a threshold outside the grid of starts was saved as null.
            thresholds=tuple(float("nan") if x is None else float(x) for x in a["thresholds"]),
            meta=stored.provenance,
        )


def structural_scenario(
    scenario: Scenario,
    years: int,
    *,
    hold_firm: bool = True,
    households: int | None = None,
) -> Scenario:
    """The scenario a phase diagram simulates: same structure, constant conditions.

    Wages and prices stay at their month-0 level; scheduled interventions are removed; with
    ``hold_firm`` the firm never gives notice and the committee proposes nothing on its own.

    Parameters
    ----------
    scenario : Scenario
    years : int
        Horizon in years.
    hold_firm : bool
        Keep the firm whatever its losses.
    households : int, optional
        Override the number of households (for quick diagrams).

    Returns
    -------
    Scenario
    """
    from feesim.engine.rules.government import min_wage_path

    wage0 = float(min_wage_path(scenario, 1)[0])
    changes: dict[str, Any] = {
        "simulation.months": int(12 * years),
        "government.use_wage_history": False,
        "government.min_wage_yuan": wage0,
        "government.wage_growth": 0.0,
        "government.materials_inflation": 0.0,
        "government.renovations": (),
        "government.tier_upgrades": (),
        "firm.overhaul_months": (),
        "firm.replace_months": (),
        "proposals": (),
        "campaigns": (),
    }
    if hold_firm:
        changes.update(
            {
                "firm.exit_loss_months": _HOLD_EXIT_MONTHS,
                "firm.credit_limit_months": _HOLD_CREDIT_MONTHS,
                "committee.auto_propose": False,
            }
        )
    if households is not None:
        scenario = scenario.resized(int(households))
    return scenario.with_changes(**changes)


def _check(
    starts: np.ndarray, variable: str, years: int, runs: int, settle_years: int, gap: float
) -> None:
    if variable not in VARIABLES:
        raise ConfigError(f"variable: got {variable!r}; expected one of {', '.join(VARIABLES)}")
    if starts.ndim != 1 or starts.size < 2:
        raise ConfigError(f"starts: got {starts.tolist()!r}; expected at least two start values")
    if np.any(~np.isfinite(starts)) or np.any(starts < 0) or np.any(starts > 1):
        raise ConfigError(f"starts: got {starts.tolist()!r}; expected values in [0, 1]")
    if not 2 <= years <= 50:
        raise ConfigError(f"years: got {years!r}; expected 2 to 50")
    if runs < 1:
        raise ConfigError(f"runs: got {runs!r}; expected at least 1")
    if not 1 <= settle_years < years:
        raise ConfigError(f"settle_years: got {settle_years!r}; expected 1 to years - 1")
    if not 0 < gap < 1:
        raise ConfigError(f"gap: got {gap!r}; expected a share in (0, 1)")


def set_start(model: FeeModel, variable: str, value: float, run: int = 0) -> None:
    """Put run ``run`` of a freshly built model into a start state (in place).

    ``"collection"``: payment records are mapped so their mean is ``value`` (below the current
    mean they are scaled down, above it the gaps to 1 are scaled down, so the spread between
    reliable payers and refusers is kept), stairwell shares are recomputed, and the firm's
    trailing-year fee cash is scaled so that the collection it plans on is ``value``.
    ``"trust"``: the community trust stock moves so that mean household trust is ``value``.
    """
    sl = model.hh.run_slice(run)
    if variable == "collection":
        h = model.hh.habit[sl].astype(np.float64)
        h0 = float(h.mean())
        if value <= h0:
            new = h * (value / max(h0, 1e-9))
        else:
            new = 1.0 - (1.0 - h) * (1.0 - value) / max(1.0 - h0, 1e-9)
        model.set_payment_records(run, np.clip(new, 0.0, 1.0))
        model.set_trailing_collection(run, value)
    else:
        mean_trust = float(model.residents.trust[sl].astype(np.float64).mean())
        # Household trust is recomputed from the stock when the month's perception is formed.
        model.shift_trust(run, value - mean_trust)


def _simulate_start(
    scenario: Scenario,
    variable: str,
    value: float,
    seed: np.random.SeedSequence,
    exit_rule: tuple[int, float],
    hold_firm: bool = True,
) -> tuple[pd.DataFrame, int, bool]:
    """Run one start; returns its monthly path, the (would-be) notice month and exit flag."""
    from feesim.engine.model import FeeModel
    from feesim.engine.rules.firm import NOTICE, REGULAR

    # A fresh copy of the seed for every start: same households, same draws (common numbers).
    model = FeeModel(scenario, rng=np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key))
    set_start(model, variable, value)
    fb = model.firms
    exit_months, credit_months = exit_rule
    # A held firm must not leave by any of its exit rules. Besides sustained losses and a cash
    # shortfall (lifted in the scenario, see structural_scenario) a fixed-fee firm declines to
    # renew at term end after a thin trailing-year margin (model.md, "Institutions carry their
    # money"; feesim.engine.rules.firm, "Exit"); that rule is drawn per firm and has no
    # scenario value that switches it off, so the held firm's own threshold is kept here for
    # ``would_exit_month`` and the firm itself is given one it never meets.
    own_renewal = fb.renewal_margin.copy()
    thin = 0
    if hold_firm:
        fb.renewal_margin[:] = -np.inf
    T = model.months
    out = {k: np.empty(T) for k in ("collection", "quality", "trust", "payment_record", "cash")}
    would_exit = -1
    exited = False
    for t in range(T):
        model.step()
        coll = model.trailing_collection()
        out["collection"][t] = min(float(coll[0]), 1.0)
        out["quality"][t] = float(fb.quality[0])
        out["trust"][t] = float(model.recorder.series["trust"][t, 0])
        out["payment_record"][t] = float(model.recorder.series["payment_record"][t, 0])
        out["cash"][t] = float(fb.cash[0]) / 100.0
        if fb.state[0] != REGULAR:
            exited = True
        if would_exit < 0:
            cost = float(model.recorder.series["service_cost_yuan"][t, 0])
            losing = int(model.loss_months()[0]) >= exit_months
            broke = out["cash"][t] < -credit_months * cost
            # The non-renewal rule of FirmBook.review with the firm's own threshold.
            _, profit = fb.trailing()
            revenue = float(fb.ring_revenue[0].sum())
            margin = float(profit[0]) / revenue if revenue > 0 else 0.0
            regular = fb.state[0] == REGULAR
            thin = thin + 1 if regular and margin < own_renewal[0] else 0
            declines = (
                regular
                and not fb.cost_plus[0]
                and int(fb.term_end[0]) - t == int(fb.notice_months[0])
                and thin >= min(int(fb.renewal_months[0]), t - int(fb.since[0]) + 1)
            )
            if losing or broke or declines or fb.state[0] == NOTICE:
                would_exit = t
    path = pd.DataFrame(
        {
            "month": np.arange(T),
            "collection": out["collection"],
            "quality": out["quality"],
            "trust": out["trust"],
            "payment_record": out["payment_record"],
            "firm_cash_yuan": out["cash"],
        }
    )
    return path, would_exit, exited


def _cluster(values: np.ndarray, gap: float) -> np.ndarray:
    """Group sorted values wherever consecutive ones differ by more than ``gap``."""
    order = np.argsort(values, kind="stable")
    labels = np.empty(values.size, dtype=np.int64)
    k = 0
    for i, j in enumerate(order):
        if i > 0 and values[j] - values[order[i - 1]] > gap:
            k += 1
        labels[j] = k
    return labels


def _threshold(table: pd.DataFrame, lower: int, upper: int) -> float:
    """Start value where the share of runs ending in ``upper`` (vs ``lower``) crosses 1/2.

    Linear interpolation between neighbouring starts; NaN if the share does not cross 1/2
    inside the grid of starts.
    """
    sub = table[table["state"].isin((lower, upper))]
    share = sub.groupby("start")["state"].apply(lambda s: float((s == upper).mean())).sort_index()
    x, y = share.index.to_numpy(dtype=float), share.to_numpy()
    if y[0] > 0.5 and y[-1] < 0.5:  # the upper state lies at low starts: read it reversed
        y = 1.0 - y
    if y[0] == 0.5:
        return float(x[0])
    for i in range(1, len(x)):
        if y[i - 1] < 0.5 <= y[i]:
            return float(x[i - 1] + (0.5 - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))
    return float("nan")


def phase_diagram(
    scenario: Scenario,
    starts: Sequence[float] | np.ndarray | None = None,
    *,
    variable: Variable = "collection",
    years: int = 20,
    runs: int = 2,
    rng: int | np.random.SeedSequence = 0,
    settle_years: int = 3,
    hold_firm: bool = True,
    households: int | None = None,
    gap: float = 0.15,
    drift_tolerance: float = 0.05,
    min_runs: int = 2,
) -> PhaseDiagram:
    """Find the stable states of a community and the threshold between their basins.

    Parameters
    ----------
    scenario : Scenario
        The community (its proposals and other scheduled interventions are ignored).
    starts : sequence of float, optional
        Start values of ``variable`` in [0, 1]; default ``0.05, 0.15, ..., 0.95``.
    variable : {"collection", "trust"}
        What the start values set (see the module docstring).
    years : int
        Years simulated from each start. Paths far from a threshold settle within five to ten
        years; close to it they can linger for a decade.
    runs : int
        Replicates per start (each with its own households and random draws, shared by all
        starts of that replicate).
    rng : int or numpy.random.SeedSequence
        Root seed; replicate ``k`` uses its ``k``-th spawned child.
    settle_years : int
        Years at the end over which the long-run state is averaged.
    hold_firm : bool
        Keep the firm whatever its losses (default; see the module docstring).
    households : int, optional
        Override the number of households (smaller is faster).
    gap : float
        Long-run collection rates further apart than this belong to different states.
    drift_tolerance : float
        A run has settled if its long-run collection moved less than this against the
        ``settle_years`` before.
    min_runs : int
        Settled runs a group needs to count as a stable state. Close to a threshold the
        dynamics slow down and a run can linger for years before it falls to one side; a lone
        end point is therefore reported as unsettled (``state`` -1) rather than as a state.

    Returns
    -------
    PhaseDiagram

    Examples
    --------
    >>> import feesim
    >>> from feesim.studies.phase import phase_diagram
    >>> sc = feesim.load_scenario("examples/frozen_fee.toml")      # doctest: +SKIP
    >>> pd_ = phase_diagram(sc, [0.2, 0.5, 0.8], years=12)          # doctest: +SKIP
    >>> pd_.n_states, pd_.threshold                                 # doctest: +SKIP
    """
    values = np.asarray(
        np.linspace(0.05, 0.95, 10) if starts is None else list(starts), dtype=np.float64
    )
    _check(values, variable, years, runs, settle_years, gap)
    if min_runs < 1:
        raise ConfigError(f"min_runs: got {min_runs!r}; expected at least 1")
    sc = structural_scenario(scenario, years, hold_firm=hold_firm, households=households)
    exit_rule = (int(scenario.firm.exit_loss_months), float(scenario.firm.credit_limit_months))
    root = rng if isinstance(rng, np.random.SeedSequence) else np.random.SeedSequence(int(rng))
    seeds = root.spawn(runs)
    window = 12 * settle_years
    rows, paths = [], []
    for rep, seed in enumerate(seeds):
        for value in values:
            path, would_exit, exited = _simulate_start(
                sc, variable, float(value), seed, exit_rule, hold_firm
            )
            last = path.iloc[-window:]
            before = path.iloc[-2 * window : -window]
            drift = float(last["collection"].mean() - before["collection"].mean())
            rows.append(
                {
                    "start": float(value),
                    "replicate": rep,
                    "collection": float(last["collection"].mean()),
                    "quality": float(last["quality"].mean()),
                    "trust": float(last["trust"].mean()),
                    "payment_record": float(last["payment_record"].mean()),
                    "drift": drift,
                    "settled": abs(drift) < drift_tolerance,
                    "would_exit_month": would_exit,
                    "firm_exited": exited,
                }
            )
            path.insert(0, "replicate", rep)
            path.insert(0, "start", float(value))
            paths.append(path)
    table = pd.DataFrame(rows)
    table["state"] = -1
    settled = table["settled"].to_numpy()
    if settled.any():
        labels = _cluster(table.loc[settled, "collection"].to_numpy(), gap)
        counts = np.bincount(labels)
        keep = counts >= min_runs
        renumber = np.cumsum(keep) - 1
        table.loc[settled, "state"] = np.where(keep[labels], renumber[labels], -1)
        table.loc[table["state"] < 0, "settled"] = False
    states = (
        table[table["state"] >= 0]
        .groupby("state")
        .agg(
            collection=("collection", "mean"),
            quality=("quality", "mean"),
            trust=("trust", "mean"),
            start_min=("start", "min"),
            start_max=("start", "max"),
            runs=("start", "size"),
        )
        .reset_index()
    )
    thresholds = tuple(_threshold(table, k, k + 1) for k in range(len(states) - 1))
    meta = {
        "scenario": scenario.meta.name,
        "variable": variable,
        "years": years,
        "runs": runs,
        "settle_years": settle_years,
        "hold_firm": hold_firm,
        "households": sc.community.households,
        "seed": {"entropy": root.entropy, "spawn_key": list(root.spawn_key)},
        "gap": gap,
        "drift_tolerance": drift_tolerance,
        "min_runs": min_runs,
    }
    result = PhaseDiagram(
        variable=variable,
        table=table,
        paths=pd.concat(paths, ignore_index=True),
        states=states,
        thresholds=thresholds,
        meta=meta,
    )
    log.info("phase diagram of %s: %d state(s)", scenario.meta.name, result.n_states)
    return result
