"""``feesim calibrate``: the whole calibration, phase by phase, with a checkpoint.

Phases: load and check the data; fit the reported regressions; fit the model (indirect
inference); the parameter ensemble; leave one case out against the baselines; parameter
recovery (full runs only); write the fitted file and the report.

Every simulation is appended to ``<out>/checkpoint/sims-<tag>.jsonl`` and every finished phase
to ``<out>/checkpoint/state-<tag>.json``, where the tag identifies the data, the budget, the
package version and its source code. Running the same command again after an interruption skips
finished phases and replays cached simulations, so the fit continues where it stopped.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from feesim.io import atomic_write_text
from feesim.seeding import rng_alias, root_seed
from feesim.studies.calibration.data import (
    CaseData,
    Target,
    calibration_dir,
    data_hash,
    load_cases,
    load_targets,
)
from feesim.studies.calibration.fit import Calibrator, EvaluationCache, FitResult, FitSettings
from feesim.studies.calibration.fitted import (
    CALIBRATION_VERSION,
    fit_metadata,
    parameters_table,
    params_path,
    write_params_file,
)
from feesim.studies.calibration.posterior import sample_posterior
from feesim.studies.calibration.report import write_report
from feesim.studies.calibration.result import CalibrationRun
from feesim.studies.calibration.validate import (
    LooResult,
    RecoveryResult,
    leave_one_out,
    recovery,
    validation_figures,
)
from feesim.studies.runner import Runner, progress_bar

__all__ = ["CalibrationRun", "run_calibration"]

log = logging.getLogger(__name__)


# -- (de)serialisation of phase results ----------------------------------------------------------
def _fit_to_json(f: FitResult) -> dict:
    return {
        "theta": f.theta.to_dict(),
        "u": f.u.tolist(),
        "cost": f.cost,
        "residuals": f.residuals.to_dict(),
        "jacobian": f.jacobian.to_dict(orient="split"),
        "cov": f.cov.to_dict(orient="split"),
        "nfev": f.nfev,
        "elapsed": f.elapsed,
        "converged": f.converged,
        "message": f.message,
        "extra": f.extra,
    }


def _fit_from_json(d: dict) -> FitResult:
    split = lambda x: pd.DataFrame(x["data"], index=x["index"], columns=x["columns"])
    return FitResult(
        theta=pd.Series(d["theta"]),
        u=np.array(d["u"]),
        cost=d["cost"],
        residuals=pd.Series(d["residuals"]),
        jacobian=split(d["jacobian"]),
        cov=split(d["cov"]),
        nfev=d["nfev"],
        elapsed=d["elapsed"],
        converged=d["converged"],
        message=d["message"],
        extra=d.get("extra", {}),
    )


class _State:
    """Finished phases on disk (JSON), keyed by the run's tag."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict = {}
        if path is not None and path.is_file():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                self.data = {}

    def get(self, key: str) -> object | None:
        return self.data.get(key)

    def put(self, key: str, value: object) -> None:
        self.data[key] = value
        if self.path is not None:
            atomic_write_text(self.path, json.dumps(self.data))


def _code_hash() -> str:
    """Hash of the package's source: a cached simulation is only valid for the code that ran it."""
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha1()
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _tag(cases: CaseData, settings: FitSettings, quick: bool) -> str:
    text = json.dumps(
        {
            "code": _code_hash(),
            "data": data_hash(cases),
            "settings": asdict(settings),
            "version": CALIBRATION_VERSION,
            "quick": quick,
        },
        sort_keys=True,
    )
    return hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass
class _Setup:
    """What the phases share: the data, the checkpoint and the calibrator."""

    cases: CaseData
    targets: list[Target]
    tag: str
    ck: Path
    cache: EvaluationCache
    state: _State
    cal: Calibrator


def run_calibration(
    out: str | Path | None = None,
    *,
    quick: bool = False,
    rng: int | np.random.SeedSequence | None = None,
    settings: FitSettings | None = None,
    fresh: bool = False,
    progress: bool = True,
    report: bool = True,
    workers: int | None = None,
    executor: Runner | cf.Executor | str | None = None,
    seed: int | None = None,
) -> CalibrationRun:
    """Run the calibration and write ``<out>/fitted/params-<version>.toml`` and the report.

    Parameters
    ----------
    out : path-like, optional
        Output folder; default: ``calibration/`` of the source tree (``calibration/quick`` with
        ``quick``, so a quick run never replaces the shipped fit).
    quick : bool
        Small budget (:meth:`FitSettings.quick`), under a minute.
    rng : int or SeedSequence, optional
        Root of the fit's common random numbers (SPEC 7; default 2025).
    settings : FitSettings, optional
        Explicit budget (overrides ``quick`` and ``rng``).
    fresh : bool
        Ignore the checkpoint and start again.
    progress : bool
        Show progress bars.
    report : bool
        Write ``REPORT.md`` and the figures.
    workers : int, optional
        Worker processes of the local pool that runs the batches of simulations (Jacobians,
        screen, posterior particles, leave-one-out re-solves; default: every available core;
        1: this process). The results do not depend on it.
    executor : Runner, Executor, "serial" or "processes", optional
        Where the batches run instead (see :class:`feesim.studies.runner.Runner`); a
        :class:`~feesim.studies.runner.Runner` given here is used as it is (``workers`` is then
        its own) and left open.
    seed : int, optional
        Deprecated alias of ``rng``.
    """
    seed = root_seed(rng_alias(rng, seed), "rng")
    seed = 2025 if seed is None else seed
    t_all = time.perf_counter()
    base = calibration_dir()
    out_dir = Path(out) if out is not None else (base / "quick" if quick else base)
    settings = settings or (FitSettings.quick(seed) if quick else FitSettings(seed=seed))
    timings: dict[str, float] = {}
    s = _setup(base, out_dir, settings, quick=quick, fresh=fresh, timings=timings)
    # The bar starts no thread, so that the runner's pool can fork its workers.
    bar = progress_bar(None, "simulations", "sim", progress, leave=True)
    s.cal.progress = lambda: bar.update(1)
    try:
        with Runner.using(executor, workers=workers, progress=False) as runner:
            s.cal.runner = runner
            fit = _fit_phase(s, bar, timings)
            ens, ens_u = _ensemble_phase(s, fit, settings, bar, timings)
            loo = _leave_one_out_phase(s, fit, ens_u, bar, timings)
            rec = _recovery_phase(s, fit, settings, bar, timings) if settings.recovery else None
    finally:
        # The calibrator outlives the run (CalibrationRun.calibrator): no closed runner on it.
        s.cal.runner = None
        bar.close()
    run = _write_outputs(
        s,
        settings,
        fit,
        ens,
        loo,
        rec,
        out_dir,
        quick=quick,
        timings=timings,
        t_all=t_all,
        report=report,
    )
    log.info("calibration finished in %.0f s: %s", time.perf_counter() - t_all, run.params_file)
    return run


# -- the phases ----------------------------------------------------------------------------------
def _setup(
    base: Path,
    out_dir: Path,
    settings: FitSettings,
    *,
    quick: bool,
    fresh: bool,
    timings: dict[str, float],
) -> _Setup:
    """Data and targets, the checkpoint (emptied with ``fresh``) and the calibrator."""
    t = time.perf_counter()
    cases = load_cases(base / "cases.csv")
    _, targets = load_targets(base / "targets.toml")
    tag = _tag(cases, settings, quick)
    ck = out_dir / "checkpoint"
    if fresh:
        for p in (ck / f"sims-{tag}.jsonl", ck / f"state-{tag}.json", ck / f"recovery-{tag}.jsonl"):
            p.unlink(missing_ok=True)
    cache = EvaluationCache(ck / f"sims-{tag}.jsonl", tag)
    state = _State(ck / f"state-{tag}.json")
    cal = Calibrator(cases, targets, settings, cache=cache)
    timings["data and reported regressions"] = time.perf_counter() - t
    log.info(
        "%d cases used (%d observations); %d moments; %d parameters; checkpoint %s (%d cached)",
        len(cal.simulator.case_ids),
        len(cal.simulator.observations),
        len(cal.moments.names),
        len(cal.names),
        ck,
        cache.loaded,
    )
    return _Setup(cases, targets, tag, ck, cache, state, cal)


def _fit_phase(s: _Setup, bar: tqdm, timings: dict[str, float]) -> FitResult:
    """The fit (indirect inference), or the checkpoint's."""
    cal, state = s.cal, s.state
    t = time.perf_counter()
    saved = state.get("fit")
    if saved:
        fit = _fit_from_json(saved)  # type: ignore[arg-type]
        log.info("fit: from checkpoint (cost %.3f)", fit.cost)
    else:
        bar.set_description("fit")
        fit = cal.fit()
        state.put("fit", _fit_to_json(fit))
        log.info("fit: cost %.3f after %d simulations (%s)", fit.cost, fit.nfev, fit.message)
    timings["fit"] = time.perf_counter() - t
    return fit


def _ensemble_phase(
    s: _Setup, fit: FitResult, settings: FitSettings, bar: tqdm, timings: dict[str, float]
) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """The parameter ensemble (posterior draws), or the checkpoint's; set on ``fit``."""
    cal, state = s.cal, s.state
    t = time.perf_counter()
    saved = state.get("ensemble")
    if saved:
        ens = pd.DataFrame(saved["theta"])  # type: ignore[index]
        ens.index.name = "member"
        ens_u = [np.array(u) for u in saved["u"]]  # type: ignore[index]
        # The sampler's diagnostics are checkpointed with the particles, not with the fit.
        fit.extra["posterior_ess"] = float(saved.get("ess", np.nan))  # type: ignore[union-attr]
        fit.extra["posterior_acceptance"] = float(saved.get("acceptance", np.nan))  # type: ignore[union-attr]
    else:
        bar.set_description("posterior")
        ens = sample_posterior(
            cal, fit, particles=settings.bootstrap, rng=np.random.default_rng([settings.seed, 11])
        )
        ens_u = list(ens.attrs.pop("u"))
        fit.extra["posterior_ess"] = float(ens.attrs.get("ess", np.nan))
        fit.extra["posterior_acceptance"] = float(ens.attrs.get("acceptance", np.nan))
        state.put(
            "ensemble",
            {
                "theta": ens.to_dict(orient="list"),
                "u": [u.tolist() for u in ens_u],
                "ess": fit.extra["posterior_ess"],
                "acceptance": fit.extra["posterior_acceptance"],
            },
        )
    fit.ensemble = ens
    fit.extra["ensemble_u"] = [u.tolist() for u in ens_u]
    timings["ensemble"] = time.perf_counter() - t
    return ens, ens_u


def _leave_one_out_phase(
    s: _Setup, fit: FitResult, ens_u: list[np.ndarray], bar: tqdm, timings: dict[str, float]
) -> LooResult:
    """Leave one case out against the baselines, or the checkpoint's."""
    cal, state = s.cal, s.state
    t = time.perf_counter()
    saved = state.get("loo")
    if saved:
        loo = LooResult(
            frame=pd.DataFrame(saved["frame"]),  # type: ignore[index]
            thetas=pd.DataFrame(saved["thetas"]).set_index("case_id"),  # type: ignore[index]
        )
    else:
        bar.set_description("leave one out")
        loo = leave_one_out(cal, fit, members=ens_u)
        state.put(
            "loo",
            {
                "frame": loo.frame.to_dict(orient="list"),
                "thetas": loo.thetas.reset_index().to_dict(orient="list"),
            },
        )
    timings["leave one out"] = time.perf_counter() - t
    return loo


def _recovery_phase(
    s: _Setup, fit: FitResult, settings: FitSettings, bar: tqdm, timings: dict[str, float]
) -> RecoveryResult:
    """Parameter recovery on data simulated at the fit, or the checkpoint's."""
    cal, state, ck, tag = s.cal, s.state, s.ck, s.tag
    t = time.perf_counter()
    saved = state.get("recovery")
    bar.set_description("recovery")
    rcache = EvaluationCache(ck / f"recovery-{tag}.jsonl", tag)
    truth = fit.theta.to_dict()
    rec_settings = FitSettings(
        **{
            **asdict(settings),
            "screen": 0,
            "starts": 1,
            "recovery": False,
            "polish": settings.polish // 2,
        }
    )
    if saved:
        rec = RecoveryResult(
            frame=pd.DataFrame(saved["frame"]).set_index("parameter"),  # type: ignore[index]
            fit=_fit_from_json(saved["fit"]),  # type: ignore[index]
        )
    else:
        rec = recovery(
            cal,
            truth,
            seed=settings.seed + 7919,
            settings=rec_settings,
            cache=rcache,
            tolerance=recovery_tolerance(fit, cal),
            posterior_particles=max(settings.bootstrap // 2, 16),
        )
        state.put(
            "recovery",
            {
                "frame": rec.frame.reset_index().to_dict(orient="list"),
                "fit": _fit_to_json(rec.fit),
            },
        )
    timings["parameter recovery"] = time.perf_counter() - t
    return rec


def _write_outputs(
    s: _Setup,
    settings: FitSettings,
    fit: FitResult,
    ens: pd.DataFrame,
    loo: LooResult,
    rec: RecoveryResult | None,
    out_dir: Path,
    *,
    quick: bool,
    timings: dict[str, float],
    t_all: float,
    report: bool,
) -> CalibrationRun:
    """``validation.json``, the fitted file and (with ``report``) the report."""
    cases, targets, cache, cal = s.cases, s.targets, s.cache, s.cal
    t = time.perf_counter()
    behaviour = cal.behaviour(fit.u)
    summary = fit.summary_frame(cal.parameters)
    fields = {p.name: p.fields for p in cal.parameters}
    ptable = parameters_table(summary, fields)
    elapsed = time.perf_counter() - t_all
    meta = fit_metadata(
        cost=fit.cost,
        data_hash=data_hash(cases),
        settings=settings,
        n_simulations=len(cache.store),
        elapsed=elapsed,
        quick=quick,
        extra={
            **{
                f"loo_{col}_{outcome}": float(v)
                for outcome, row in loo.summary_frame().iterrows()
                for col, v in row.items()
                if col.startswith("wmae_") and col != "wmae_fitted"
            },
            **{
                f"model_error_{outcome}": float(row["model_error"])
                for outcome, row in loo.summary_frame().iterrows()
                if np.isfinite(row.get("model_error", np.nan))
            },
            "loo_beats_baselines": bool(loo.beats_baselines),
            "recovery_all_within_tolerance": bool(rec.all_recovered) if rec is not None else False,
            "posterior_ess": float(fit.extra.get("posterior_ess", np.nan)),
            "posterior_acceptance": float(fit.extra.get("posterior_acceptance", np.nan)),
        },
    )
    coverage_synthetic = None
    if rec is not None and "covered_90" in rec.frame:
        coverage_synthetic = float(rec.frame["covered_90"].mean())
    validation = validation_figures(loo, coverage_synthetic)
    atomic_write_text(out_dir / "validation.json", json.dumps(validation, indent=2) + "\n")
    behaviour_params = ptable[[p.kind == "behaviour" for p in cal.parameters]]
    pfile = write_params_file(
        params_path(out_dir),
        behaviour,
        fit_meta=meta,
        parameters=behaviour_params,
        case_parameters=cal.case_values(fit.u),
        ensemble=ens[[p.name for p in cal.parameters if p.kind == "behaviour"]],
    )
    run = CalibrationRun(
        cases=cases,
        targets=targets,
        settings=settings,
        calibrator=cal,
        fit=fit,
        loo=loo,
        recovery=rec,
        params_file=pfile,
        quick=quick,
        timings=timings,
    )
    if report:
        run.timings["outputs"] = time.perf_counter() - t
        run.report_file = write_report(run, out_dir, total_seconds=time.perf_counter() - t_all)
    return run


def recovery_tolerance(fit: FitResult, cal: Calibrator) -> dict[str, float]:
    """Tolerance of the recovery check per parameter.

    Twice the posterior spread (the ensemble's sd, or the asymptotic se), at least a twentieth
    of the search range: an estimate from data of this size should land that close to the
    truth about 95% of the time if the method works.
    """
    spread = fit.spread()
    return {p.name: float(max(2.0 * spread[p.name], 0.05 * (p.hi - p.lo))) for p in cal.parameters}
