"""Step search: the largest step that passes, and what a given step needs to pass.

The pass probability is computed on common random numbers: every variant (step size, service
promise, quality-first lead time) is run with the same seed, chunks and populations. Because
the history before the vote does not depend on the step and every owner's turnout and approval
use the same uniforms, each run's approval can only fall as the step grows: the pass
probability is non-increasing in the step, so a grid followed by bisection finds the largest
step whose pass probability reaches the target.

Only the months up to the last possible vote are simulated (the vote month plus the retries
after a missed quorum), which makes each evaluation cheap.

For the proposed step the search also reports the smallest service improvement (grid of
quality points) and the smallest quality-first lead time (months before the vote) whose pass
probability reaches the target.

The lever that binds. When the proposed step's votes fail (or come closest to failing) on the
quorum rather than on the majorities, no step size decides the vote: the pass probability is
then flat in the step and the levers that matter are those that bring owners to vote. The
search then also varies them for the proposed step: the door-to-door rounds before the vote and
the share of households a round reaches (:data:`ROUNDS_GRID`, :data:`REACH_GRID`). These curves,
which test binds, and whether the step curve is flat (its pass probabilities within
:data:`FLAT_SPREAD` of each other) are :attr:`SearchResult.levers`; they are kept beside the
``search`` entry of ``forecast.json``, whose keys stay those of schema version 1.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from feesim.config.behaviour import Behaviour
from feesim.config.params import from_mapping
from feesim.config.scenario import Scenario
from feesim.errors import ConfigError
from feesim.seeding import rng_alias, root_seed
from feesim.studies.forecast.engine import (
    _check,
    forecast_runner,
    make_tasks,
    resolve_ensemble,
    run_tasks,
)
from feesim.studies.forecast.mapping import ForecastInput
from feesim.studies.forecast.outcomes import QUORUM_TESTS, TESTS, deciding_test_of
from feesim.studies.forecast.result import SearchResult
from feesim.studies.runner import Runner

__all__ = ["SearchResult", "pass_probabilities", "search_step"]

log = logging.getLogger(__name__)

#: Service improvements (quality points) tried for the proposed step.
SERVICE_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
#: Quality-first lead times (months before the vote) tried for the proposed step.
LEAD_GRID = (0, 1, 2, 3, 4, 6, 8, 10, 12)
#: Bisection steps after the grid (each halves the bracket).
BISECT = 4
#: Door-to-door rounds before the vote tried for the proposed step when the quorum binds.
ROUNDS_GRID = (0, 1, 2, 3, 4, 6)
#: Shares of households a door-to-door round reaches, tried when the quorum binds.
REACH_GRID = (0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9)
#: A step curve whose pass probabilities all lie within this of each other is flat: the step
#: does not decide the vote (two standard errors of a share near 1/2 at 400 runs is 0.05).
FLAT_SPREAD = 0.05


def _truncated(scenario: Scenario, months: int) -> Scenario:
    """The scenario cut to ``months`` (matters scheduled later are dropped)."""
    data = scenario.to_mapping()
    data["simulation"]["months"] = months
    for key in ("proposals", "campaigns"):
        data[key] = [x for x in data.get(key, []) if x["month"] < months]
    gov = data["government"]
    for key in ("renovations", "tier_upgrades"):
        gov[key] = [x for x in gov.get(key, []) if x["month"] < months]
    data["behaviour"] = dataclasses.asdict(scenario.behaviour)
    return from_mapping(Scenario, data)


def pass_probabilities(
    variants: Sequence[ForecastInput],
    *,
    runs: int,
    rng: int | None = None,
    populations: int,
    runner: Runner,
    ensemble: Sequence[Behaviour] = (),
    desc: str = "search",
    seed: int | None = None,
) -> list[dict[str, float]]:
    """Pass probability (and median turnout and approval) of each variant, same streams.

    ``rng`` is the root seed (``seed``: its deprecated alias). Returns one dict per variant:
    ``pass_probability``, ``turnout_heads_p50``, ``approval_heads_p50``,
    ``approval_area_p50``, ``binding`` (share of the final votes decided by each test of
    :data:`~feesim.studies.forecast.outcomes.TESTS`, among the failed votes when any failed;
    ``None`` when nothing was voted) and ``binding_among_failed`` (whether it is).
    """
    seed = root_seed(rng_alias(rng, seed), "rng")
    if seed is None:
        raise ConfigError("rng: missing; expected the root seed of the variants")
    tasks = []
    spans = []
    for v in variants:
        if v.is_null():
            spans.append(None)
            continue
        horizon = v.vote_month + v.proposal.retries + 1
        scen = _truncated(v.scenario(), horizon)
        ts = make_tasks(
            scen,
            runs=runs,
            seed=seed,
            populations=populations,
            motion=f"scenario:{v.motion_key}",
            vote_month=v.vote_month,
            ensemble=ensemble,
            overrides=v.local_behaviour,
        )
        spans.append((len(tasks), len(tasks) + len(ts)))
        tasks.extend(ts)
    done = run_tasks(runner, tasks, desc=desc) if tasks else []
    out = []
    for span in spans:
        if span is None:
            out.append(
                {
                    "pass_probability": 1.0,
                    "turnout_heads_p50": float("nan"),
                    "approval_heads_p50": float("nan"),
                    "approval_area_p50": float("nan"),
                    "binding": None,
                    "binding_among_failed": False,
                }
            )
            continue
        parts = done[span[0] : span[1]]
        passed = np.concatenate([p.vote.passed for p in parts])
        med = {}
        for k in ("turnout_heads", "approval_heads", "approval_area"):
            x = np.concatenate([getattr(p.vote, k) for p in parts])
            x = x[np.isfinite(x)]
            med[f"{k}_p50"] = float(np.median(x)) if x.size else float("nan")
        vote = [p.vote for p in parts]
        voted = np.concatenate([v.voted for v in vote])
        out.append(
            {
                "pass_probability": float(passed.mean()),
                **med,
                "binding": _binding_shares(
                    np.concatenate([v.binding for v in vote]), voted, passed
                ),
                "binding_among_failed": bool((voted & ~passed).any()),
            }
        )
    return out


def _binding_shares(
    binding: np.ndarray, voted: np.ndarray, passed: np.ndarray
) -> dict[str, float] | None:
    """Share of votes decided by each test: among failed votes if any failed, else all."""
    pick = voted & ~passed if (voted & ~passed).any() else voted
    if not pick.any():
        return None
    counts = np.bincount(binding[pick], minlength=len(TESTS))
    return {t: float(c / pick.sum()) for t, c in zip(TESTS, counts, strict=True)}


def _step_grid(inp: ForecastInput, points: int = 12) -> list[float]:
    proposed = inp.headline_step()
    hi = max(0.6, 2.0 * proposed)
    grid = set(np.round(np.linspace(0, hi, points + 1)[1:], 4).tolist())
    if proposed > 0:
        grid.add(round(proposed, 4))
    return sorted(grid)


def search_step(
    inp: ForecastInput,
    *,
    target: float = 0.8,
    runs: int = 400,
    rng: int | np.random.SeedSequence | np.random.Generator | None = None,
    populations: int = 20,
    workers: int | None = None,
    ensemble: Sequence[Behaviour] | str | None = "auto",
    progress: bool | None = None,
    runner: Runner | None = None,
    executor: cf.Executor | str | None = None,
    step_grid: Sequence[float] | None = None,
    service_grid: Sequence[float] = SERVICE_GRID,
    lead_grid: Sequence[int] = LEAD_GRID,
    rounds_grid: Sequence[int] = ROUNDS_GRID,
    reach_grid: Sequence[float] = REACH_GRID,
    seed: int | None = None,
    deciding: str | None = None,
) -> SearchResult:
    """Find the largest step whose pass probability reaches ``target``; curves for the report.

    Parameters
    ----------
    inp : ForecastInput
    target : float
        Pass probability to reach (0-1, default 0.8).
    runs, rng, populations, workers, ensemble, progress, runner, executor, seed
        As in :func:`~feesim.studies.forecast.engine.run_forecast` (``seed``: the deprecated
        alias of ``rng``). The search makes many small
        calls; a runner (or executor) kept open across them starts the workers once.
    step_grid : sequence of float, optional
        Headline (area-weighted) steps to try (0.2 = +20%); default: 12 steps up to twice the
        proposed step (at least +60%), plus the proposed step.
    service_grid, lead_grid
        Service improvements and quality-first lead times tried for the proposed step.
    rounds_grid, reach_grid
        Door-to-door rounds and reach tried for the proposed step when the quorum binds.
    deciding : str, optional
        The test the forecast of the proposed step names as deciding the vote
        (:meth:`~feesim.studies.forecast.result.ForecastResult.deciding_test`, one of
        :data:`~feesim.studies.forecast.outcomes.TESTS`). Given, it decides whether the quorum
        binds, so that the door-to-door advice follows the test the summary and the report
        name; by default the search's own runs of the proposed step decide, by the same rule
        (:func:`~feesim.studies.forecast.outcomes.deciding_test_of`).

    Returns
    -------
    SearchResult
        A read-only mapping, the ``search`` entry of ``forecast.json``: ``target``, ``runs``,
        ``seed``, ``curve``
        (``step_pct``, ``pass_probability``, ``approval_heads_p50``, ``turnout_heads_p50``),
        ``largest_step_pct`` (``None`` if no step reaches the target), ``largest_step_bound``
        (``"bisection"``, ``"at_least"`` when even the largest step tried passes, or
        ``"none"``), ``largest_step_pass_probability``, ``largest_step_fees``,
        ``proposed_step_pct``, ``proposed_pass_probability``, ``service`` and
        ``quality_first`` (grids, pass probabilities and the smallest value reaching the
        target, or ``None``). Its :attr:`~SearchResult.levers` say which test binds, whether
        the step curve is flat and, when the quorum binds, the pass probability against the
        door-to-door rounds and reach (see the module docstring).
    """
    if not (isinstance(target, int | float) and 0 < target <= 1):
        raise ConfigError(f"target: got {target!r}; expected a probability in (0, 1]")
    if deciding is not None and deciding not in TESTS:
        raise ConfigError(f"deciding: got {deciding!r}; expected one of {', '.join(TESTS)}")
    seed = root_seed(rng_alias(rng, seed), "rng")
    seed = inp.seed if seed is None else seed
    _check(runs, populations, seed)
    members = resolve_ensemble(ensemble)
    grid = sorted(float(s) for s in (step_grid if step_grid is not None else _step_grid(inp)))
    if not grid or any(s <= -0.9 for s in grid):
        raise ConfigError(f"step_grid: got {grid!r}; expected steps > -0.9")
    own = runner is None
    runner = forecast_runner(executor if own else runner, workers, progress)
    kw = {"runs": runs, "rng": seed, "populations": populations, "runner": runner}
    try:
        curve = pass_probabilities(
            [inp.scaled(s) for s in grid], ensemble=members, desc="step curve", **kw
        )
        probs = [c["pass_probability"] for c in curve]
        ok = [i for i, p in enumerate(probs) if p >= target]
        bound, best, best_p = "none", None, None
        if ok:
            i = max(ok)
            best, best_p = grid[i], probs[i]
            if i == len(grid) - 1:
                bound = "at_least"
            else:
                bound = "bisection"
                lo, hi = grid[i], grid[i + 1]
                for _ in range(BISECT):
                    mid = 0.5 * (lo + hi)
                    (r,) = pass_probabilities(
                        [inp.scaled(mid)], ensemble=members, desc="bisection", **kw
                    )
                    grid.append(mid)
                    curve.append(r)
                    if r["pass_probability"] >= target:
                        lo, best, best_p = mid, mid, r["pass_probability"]
                    else:
                        hi = mid
        order = np.argsort(grid)
        service = _lever_curve(
            inp,
            [{"service_quality": float(q)} for q in service_grid],
            list(map(float, service_grid)),
            target,
            members,
            kw,
            "service",
        )
        leads = [int(m) for m in lead_grid if int(m) <= inp.vote_month]
        quality_first = _lever_curve(
            inp,
            [{"quality_first_months": m} for m in leads],
            leads,
            target,
            members,
            kw,
            "quality first",
        )
        levers = _binding_levers(
            inp, grid, curve, target, members, kw, list(rounds_grid), list(reach_grid), deciding
        )
    finally:
        if own:
            runner.close()
    proposed = inp.headline_step()
    (prop_r,) = [c for s, c in zip(grid, curve, strict=True) if abs(s - round(proposed, 4)) < 1e-9][
        :1
    ] or [None]
    data = {
        "target": float(target),
        "runs": runs,
        "seed": seed,
        "curve": {
            "step_pct": [float(grid[i]) for i in order],
            "pass_probability": [curve[i]["pass_probability"] for i in order],
            "approval_heads_p50": [curve[i]["approval_heads_p50"] for i in order],
            "turnout_heads_p50": [curve[i]["turnout_heads_p50"] for i in order],
        },
        "largest_step_pct": best,
        "largest_step_bound": bound,
        "largest_step_pass_probability": best_p,
        "largest_step_fees": (
            dict(zip(inp.building_names, map(float, inp.scaled(best).new_fees()), strict=True))
            if best is not None
            else None
        ),
        "proposed_step_pct": proposed,
        "proposed_pass_probability": None if prop_r is None else prop_r["pass_probability"],
        "service": _rename(service, "smallest_service_improvement"),
        "quality_first": _rename(quality_first, "smallest_quality_first_months"),
    }
    return SearchResult(data, levers=levers)


def _binding_levers(
    inp: ForecastInput,
    grid: list[float],
    curve: list[dict[str, Any]],
    target: float,
    members: list[Behaviour],
    kw: dict[str, Any],
    rounds_grid: list[int],
    reach_grid: list[float],
    deciding: str | None = None,
) -> dict[str, Any]:
    """Which test binds at the proposed step, whether the step curve is flat, turnout levers.

    The quorum binds when the deciding test (``deciding``, else the search's own runs of the
    proposed step by :func:`deciding_test_of`) is a quorum test.
    """
    proposed = inp.headline_step()
    near = int(np.argmin([abs(s - proposed) for s in grid]))
    binding = curve[near]["binding"]
    probs = [c["pass_probability"] for c in curve]
    flat = bool(max(probs) - min(probs) <= FLAT_SPREAD)
    test = deciding or deciding_test_of(binding, curve[near]["binding_among_failed"])
    quorum = test in QUORUM_TESTS
    out: dict[str, Any] = {
        "binding": binding,
        "binding_test": test,
        "quorum_binds": quorum,
        "flat": flat,
        "flat_spread": FLAT_SPREAD,
        "step_range": [float(min(grid)), float(max(grid))],
        "pass_range": [float(min(probs)), float(max(probs))],
        "rounds": None,
        "reach": None,
    }
    if not quorum:
        return out
    p = inp.proposal
    rounds = _lever_curve(
        inp,
        [{"door_to_door_rounds": int(r)} for r in rounds_grid],
        [int(r) for r in rounds_grid],
        target,
        members,
        kw,
        "door-to-door rounds",
    )
    # Reach acts through the rounds: with none planned, one round is assumed so that the curve
    # says what a round reaching that share would do.
    with_rounds = inp if p.door_to_door_rounds > 0 else inp.with_proposal(door_to_door_rounds=1)
    variants = [
        dataclasses.replace(
            with_rounds,
            status_quo=with_rounds.status_quo.with_changes(
                **{"committee.door_to_door_intensity": float(x)}
            ),
        )
        for x in reach_grid
    ]
    res = pass_probabilities(variants, ensemble=members, desc="door-to-door reach", **kw)
    reach_probs = [r["pass_probability"] for r in res]
    out["rounds"] = _rename(rounds, "smallest_rounds") | {"current": int(p.door_to_door_rounds)}
    out["reach"] = {
        "grid": [float(x) for x in reach_grid],
        "pass_probability": reach_probs,
        "smallest_reach": next(
            (float(g) for g, q in zip(reach_grid, reach_probs, strict=True) if q >= target), None
        ),
        "rounds": int(with_rounds.proposal.door_to_door_rounds),
        "current": float(inp.status_quo.committee.door_to_door_intensity),
    }
    return out


def _rename(d: dict[str, Any], key: str) -> dict[str, Any]:
    out = {k: v for k, v in d.items() if k != "smallest"}
    out[key] = d["smallest"]
    return out


def _lever_curve(
    inp: ForecastInput,
    changes: list[dict[str, Any]],
    grid: list[Any],
    target: float,
    members: list[Behaviour],
    kw: dict[str, Any],
    desc: str,
) -> dict[str, Any]:
    if not grid:
        return {"grid": [], "pass_probability": [], "smallest": None}
    res = pass_probabilities(
        [inp.with_proposal(**c) for c in changes], ensemble=members, desc=desc, **kw
    )
    probs = [r["pass_probability"] for r in res]
    smallest = next((g for g, p in zip(grid, probs, strict=True) if p >= target), None)
    return {"grid": grid, "pass_probability": probs, "smallest": smallest}
