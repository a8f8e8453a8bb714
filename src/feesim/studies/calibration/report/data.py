"""The report's data: the first coding and the second sourcing pass, and its records.

What ``cases.csv`` holds and feeds (section "Data"), the second pass's records and which the
calibration simulates, what is left out, and the simulated records and passed fee steps against
the reported ones (section "The second pass's records").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from feesim.studies.calibration.data import EXIT_CIRCUMSTANCES, MORE_USES, SAME_FIGURE
from feesim.studies.calibration.records import PASSED_SE, PASSED_SHARE
from feesim.studies.calibration.report.common import (
    OUTCOME_COLS,
    PASSED_FLOOR,
    RECORD_KINDS,
    _fmt_interval,
    _ids,
    _md_table,
    _member_sims,
    _pct,
    _verdict,
)
from feesim.studies.calibration.validate import interval_error

if TYPE_CHECKING:  # pragma: no cover
    from feesim.config.scenario import Scenario
    from feesim.studies.calibration.result import CalibrationRun


def unsimulated_exits(table: pd.DataFrame) -> bool:
    """Whether exits are flagged ``fit`` but none is simulated (see :func:`second_pass_table`)."""
    return bool(
        "exits" in table.index
        and table.loc["exits", "flagged fit"]
        and not table.loc["exits", "simulated"]
    )


def second_pass_table(run: CalibrationRun) -> pd.DataFrame:
    """How many records of each second-pass kind there are, are flagged, and are simulated.

    One row per kind (``tallies``: one per figure; ``events``: one per vote; ``takeovers``,
    ``exits``: one per row) with the counts of records, of those flagged ``fit`` and ``none``,
    and of those the calibration simulates (its moments), and the simulated observations.
    """
    cases, designs = run.cases, run.calibrator.simulator.records
    rows = []
    for frame_name, kind in RECORD_KINDS.items():
        frame = getattr(cases, frame_name)
        use = frame["use"] if "use" in frame else pd.Series(dtype=str)
        sim = [d.obs_id for d in designs if d.kind == kind]
        rows.append(
            {
                "kind": frame_name,
                "records": len(frame),
                "flagged fit": int((use == "fit").sum()),
                "flagged none": int((use == "none").sum()),
                "simulated": len(sim),
                "simulated records": ", ".join(dict.fromkeys(sim)) or "-",
            }
        )
    return pd.DataFrame(rows).set_index("kind")


def unsimulated_tallies(run: CalibrationRun) -> pd.DataFrame:
    """Tally figures flagged ``fit`` that no record design simulates (with what they are)."""
    t = run.cases.tallies
    if t.empty:
        return t
    simulated = {
        (d.obs_id, d.measure, round(d.lo, 9), round(d.hi, 9))
        for d in run.calibrator.simulator.records
        if d.kind == "tally"
    }
    key = zip(t["obs_id"], t["measure"], t["lo"].round(9), t["hi"].round(9), strict=True)
    used = np.array([k in simulated for k in key], dtype=bool)
    out = t[(t["use"] == "fit") & ~used]
    return out[["obs_id", "measure", "count", "basis", "source", "lo", "hi", "disputed"]]


def left_out_records(run: CalibrationRun) -> pd.DataFrame:
    """Second-pass rows with a figure marked ``none``: which flags, and the row's ``use_note``.

    An old flag marked ``none`` because a new flag reads the same figure and is ``fit`` (a
    takeover's collection, an event's approval bound) is not a figure left out.
    """
    raw = run.cases.raw
    if "record_kind" not in raw:
        return pd.DataFrame(columns=["record_kind", "left out", "reason"])
    flags = [c for c in ("use_approval", "use_turnout", "use_collection", *MORE_USES) if c in raw]
    read_by = {old: [new for o, new in SAME_FIGURE if o == old] for old in flags}
    rows = {}
    for obs, r in raw[raw["record_kind"] != ""].iterrows():
        left = [
            c
            for c in flags
            if r[c] == "none" and not any(r.get(new, "") == "fit" for new in read_by[c])
        ]
        if left:
            rows[obs] = {
                "record_kind": r["record_kind"],
                "left out": ", ".join(c.removeprefix("use_") for c in left),
                "reason": r["use_note"].replace("|", "/"),
            }
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["record_kind", "left out", "reason"]
    ).rename_axis("obs_id")


def record_table(run: CalibrationRun) -> pd.DataFrame:
    """The second pass's simulated records, reported against simulated at the fit.

    One row per record design: ``kind`` (tally, event, takeover), ``measure``, what was voted
    on or what came in, the reported ``lo``/``hi`` (an event: 1 passed, 0 failed), the mean
    over replicates at the fit (an event: the pass rate), its 5-95% range over the posterior
    members, ``distance`` (from the reported interval; an event: from 0 or 1) and the whitened
    ``residual`` of the objective.
    """
    cal, fit = run.calibrator, run.fit
    raw = run.cases.raw
    sim = cal.simulate(fit.u)
    members = _member_sims(run)

    def means(s: object) -> pd.Series:
        rec = s.records  # type: ignore[attr-defined]
        if rec is None or rec.empty:
            return pd.Series(dtype=float)
        return rec.groupby(["obs_id", "measure"])["value"].mean()

    at_fit, by_member = means(sim), [means(m) for m in members]
    rows = []
    for d in cal.simulator.records:
        key = (d.obs_id, d.measure)
        value = float(at_fit.get(key, np.nan))
        band = [float(m.get(key, np.nan)) for m in by_member]
        r = raw.loc[d.obs_id] if d.obs_id in raw.index else pd.Series(dtype=str)
        what = (
            str(r.get("firm_change", ""))
            if d.kind == "takeover"
            else f"{r.get('vote_subject', '')} ({r.get('vote_rule', '')})"
        )
        distance = (
            abs(value - d.lo)
            if d.kind == "event"
            else float(interval_error(np.array([value]), np.array([d.lo]), np.array([d.hi]))[0])
        )
        name = f"{d.kind}:{d.obs_id}:{d.measure}"
        rows.append(
            {
                "obs_id": d.obs_id,
                "kind": d.kind,
                "measure": d.measure,
                "what": what,
                "weight": d.weight,
                "reported_lo": d.lo,
                "reported_hi": d.hi,
                "simulated": value,
                "param_lo": float(np.nanquantile(band, 0.05)) if members else np.nan,
                "param_hi": float(np.nanquantile(band, 0.95)) if members else np.nan,
                "distance": distance,
                "residual": float(fit.residuals.get(name, np.nan)),
            }
        )
    return pd.DataFrame(rows)


@dataclasses.dataclass(frozen=True)
class PassedShare:
    """Share of the simulated runs of the fee steps reported passed that pass in the model.

    Attributes
    ----------
    share : float
        At the fit, over every run of every such step.
    lo, hi : float
        5-95% range of the share over the posterior members (NaN without members).
    by_case : pandas.Series
        Pass rate at the fit per observation (``obs_id`` index), lowest first.
    """

    share: float
    lo: float
    hi: float
    by_case: pd.Series


def passed_share(run: CalibrationRun) -> PassedShare:
    """The pass share of the reported-passed fee steps at the fit and over the posterior."""
    cal = run.calibrator
    obs = cal.simulator.passed_obs

    def runs(s: object) -> pd.DataFrame:
        c = s.cases  # type: ignore[attr-defined]
        return c[c["obs_id"].isin(obs)]

    at_fit = runs(cal.simulate(run.fit.u))
    members = [float(runs(m)["passed"].mean()) for m in _member_sims(run)]
    lo, hi = np.nanquantile(members, [0.05, 0.95]) if members else (np.nan, np.nan)
    return PassedShare(
        share=float(at_fit["passed"].mean()) if len(at_fit) else np.nan,
        lo=float(lo),
        hi=float(hi),
        by_case=at_fit.groupby("obs_id")["passed"].mean().astype(float).sort_values(),
    )


#: Circumstances of an exit that name a revenue shortfall: what the model's notice rules
#: (sustained losses, cash beyond the credit limit, a loss-making contract not renewed)
#: represent. The others (a contract that simply expired, a committee or developer dispute, low
#: occupancy, a fund dispute) are not in the model.
REVENUE_SHORTFALL = (
    "low_collection",
    "arrears",
    "increase_refused",
    "fee_cut_vote",
    "fee_cut_demand",
    "rising_costs",
    "no_fee_promise",
)


#: Fees (as a share of the estate's full-service fee) and the firm's patience (months of
#: trailing-year losses before notice, the margin below which it declines renewal) over which
#: :func:`patience_sweep` reads when the frozen-fee estate's firm leaves: the estate's own fee
#: (None) and two nearer cost; the judgement (the :class:`~feesim.config.scenario.Firm`
#: defaults, None) and a firm twice as patient that renews at a 10% loss.
SWEEP_FEE_SHARES: tuple[float | None, ...] = (None, 0.7, 0.85)
SWEEP_PATIENCE: tuple[tuple[int, float] | None, ...] = (None, (48, -0.1))
#: Months simulated by the sweep (twenty years: long enough for a patient firm to leave).
SWEEP_MONTHS = 240


def patience_sweep(
    scenario: Scenario,
    replicates: int,
    seed: np.random.SeedSequence,
    fee_shares: Sequence[float | None] = SWEEP_FEE_SHARES,
    patience: Sequence[tuple[int, float] | None] = SWEEP_PATIENCE,
    months: int = SWEEP_MONTHS,
) -> pd.DataFrame:
    """When an estate's firm leaves, by the fee against cost and by the firm's patience.

    Each combination simulates ``scenario`` for ``months`` months on the same random numbers,
    with every building type's fee set to the share of its full-service fee (None: the
    scenario's own) and the firm's ``exit_loss_months`` and ``renewal_margin``
    set to the pair (None: the scenario's own).

    Returns
    -------
    pandas.DataFrame
        One row per combination: ``fee_to_full`` (the fee over the full-service fee, mean over
        building types), ``exit_loss_months``, ``renewal_margin``, ``runs``, ``notices`` (runs
        whose firm gives notice), ``notice`` (median month) and ``collection`` (median, ``lo``
        and ``hi``: fees paid over billed in the twelve months before the notice).
    """
    from feesim.studies.calibration.moments import _run

    rows = []
    for share in fee_shares:
        types = tuple(
            bt
            if share is None
            else dataclasses.replace(bt, fee_per_m2=round(share * bt.full_service_fee_per_m2, 4))
            for bt in scenario.community.building_types
        )
        base = dataclasses.replace(
            scenario, community=dataclasses.replace(scenario.community, building_types=types)
        ).with_changes(**{"simulation.months": months})
        for pair in patience:
            sc = base
            if pair is not None:
                sc = base.with_changes(
                    **{"firm.exit_loss_months": pair[0], "firm.renewal_margin": pair[1]}
                )
            rec = _run([sc] * replicates, seed)
            g = notice_readings(rec.series)
            c = g["collection_notice"].dropna()
            rows.append(
                {
                    "fee_to_full": float(
                        np.mean([b.fee_per_m2 / b.full_service_fee_per_m2 for b in types])
                    ),
                    "exit_loss_months": int(sc.firm.exit_loss_months),
                    "renewal_margin": float(sc.firm.renewal_margin),
                    "runs": replicates,
                    "notices": len(g),
                    "notice": float(g["notice"].median()) if len(g) else np.nan,
                    "collection": float(c.median()) if len(c) else np.nan,
                    "lo": float(c.min()) if len(c) else np.nan,
                    "hi": float(c.max()) if len(c) else np.nan,
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ExitCheck:
    """The reported firm exits against the fitted model's firm in the frozen-fee estate.

    Attributes
    ----------
    runs : int
        Runs of ``examples/frozen_fee.toml`` (ten years) at the fit.
    readings : pandas.DataFrame
        One row per run whose firm gives notice (:func:`notice_readings`).
    reported : pandas.DataFrame
        Exits flagged ``fit`` with a collection at exit: ``obs_id``, ``lo``, ``hi``.
    circumstances : pandas.Series
        How many of the exits flagged ``fit`` name each circumstance, most named first (ties by
        name).
    exits : int
        Exits flagged ``fit``.
    revenue : int
        Those naming a revenue shortfall (:data:`REVENUE_SHORTFALL`).
    sweep : pandas.DataFrame
        The same estate by fee against cost and the firm's patience (:func:`patience_sweep`).
    """

    runs: int
    readings: pd.DataFrame
    reported: pd.DataFrame
    circumstances: pd.Series
    exits: int
    revenue: int
    sweep: pd.DataFrame


def notice_readings(series: dict[str, np.ndarray]) -> pd.DataFrame:
    """When each run's firm gives notice and leaves, and what it collected the year before.

    Parameters
    ----------
    series : dict of str to numpy.ndarray
        The recorder's series, (months, runs): ``firm_state`` (code 1: notice given, whatever
        its reason: sustained losses, cash beyond the credit limit, or a loss-making contract
        not renewed), ``paid_yuan``, ``billed_yuan``, ``firm_revenue_yuan``, ``firm_cost_yuan``.

    Returns
    -------
    pandas.DataFrame
        One row per run that gives notice: ``run``, ``notice`` (month), ``exit`` (first month
        after the notice in another state; NaN if after the run's end), ``collection_notice`` and
        ``collection_exit`` (fees paid over fees billed in the twelve months up to that month,
        arrears recovered included; any calendar), ``margin`` (the firm's net margin over the
        twelve months before the notice).
    """
    state = np.asarray(series["firm_state"])
    paid = np.asarray(series["paid_yuan"], dtype=float)
    billed = np.asarray(series["billed_yuan"], dtype=float)
    rev = np.asarray(series["firm_revenue_yuan"], dtype=float)
    cost = np.asarray(series["firm_cost_yuan"], dtype=float)

    def trailing(m: int, r: int) -> float:
        # The twelve months before month m (the margin's window too): at an exit, the last
        # year the firm served, not the temporary provider's first month.
        a = max(0, m - 12)
        b = billed[a:m, r].sum()
        return float(paid[a:m, r].sum() / b) if b > 0 else np.nan

    rows = []
    for r in range(state.shape[1]):
        hit = np.flatnonzero(state[:, r] == 1)
        if not len(hit):
            continue
        m = int(hit[0])
        after = np.flatnonzero(state[m:, r] != 1)
        x = m + int(after[0]) if len(after) else None
        a = max(0, m - 12)
        income = rev[a:m, r].sum()
        rows.append(
            {
                "run": r,
                "notice": m,
                "exit": np.nan if x is None else x,
                "collection_notice": trailing(m, r),
                "collection_exit": np.nan if x is None else trailing(x, r),
                "margin": (income - cost[a:m, r].sum()) / income if income > 0 else np.nan,
            }
        )
    cols = ["run", "notice", "exit", "collection_notice", "collection_exit", "margin"]
    return pd.DataFrame(rows, columns=cols)


def exit_circumstances(exits: pd.DataFrame) -> pd.Series:
    """How many exits name each circumstance, most named first, ties by name.

    ``repeated`` (an earlier firm also left) is a history, not a circumstance of this exit.
    """
    flags = sorted(c for c in EXIT_CIRCUMSTANCES if c in exits.columns and c != "repeated")
    counts = exits[flags].astype(bool).sum()
    counts = counts[counts > 0]
    order = sorted(counts.index, key=lambda c: (-int(counts[c]), c))
    return counts[order].astype(int)


def exit_check(run: CalibrationRun) -> ExitCheck | None:
    """Simulate the frozen-fee estate for ten years at the fit and read when its firm leaves.

    None when no exit is flagged ``fit`` or the run simulates no example.
    """
    from feesim.studies.calibration.moments import _example, _run

    exits = run.cases.exits
    used = exits[exits["use"] == "fit"]
    sim = run.calibrator.simulator.settings
    if used.empty or not sim.examples:
        return None
    sc = dataclasses.replace(
        _example("frozen_fee", sim.example_households),
        behaviour=run.calibrator.behaviour(run.fit.u),
    )
    rec = _run([sc] * sim.replicates, np.random.SeedSequence([run.settings.seed, 4]))
    sweep = patience_sweep(sc, sim.replicates, np.random.SeedSequence([run.settings.seed, 5]))
    with_level = used[used["collection_at_exit_lo"].notna()]
    reported = pd.DataFrame(
        {
            "obs_id": with_level.index,
            "lo": with_level["collection_at_exit_lo"].to_numpy(float),
            "hi": with_level["collection_at_exit_hi"].to_numpy(float),
        }
    )
    revenue = int(used[[c for c in REVENUE_SHORTFALL if c in used]].astype(bool).any(axis=1).sum())
    return ExitCheck(
        runs=int(np.asarray(rec.series["firm_state"]).shape[1]),
        readings=notice_readings(rec.series),
        reported=reported,
        circumstances=exit_circumstances(used),
        exits=len(used),
        revenue=revenue,
        sweep=sweep,
    )


def _exits_section(check: ExitCheck | None) -> list[str]:
    L = ["### Firm exits: a check, not fitted", ""]
    if check is None:
        return [*L, "No exit is flagged `fit`, or this run simulates no example.", ""]
    circ = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in check.circumstances.items())
    L.append(
        f"Of the {check.exits} exits flagged `fit`, {check.revenue} name a revenue shortfall "
        f"({', '.join(c.replace('_', ' ') for c in REVENUE_SHORTFALL)}), which is what the "
        "model's notice rules represent (sustained losses, cash beyond the credit limit, a "
        "loss-making contract not renewed); the others name reasons the model does not have "
        "(a contract that simply expired, a dispute, low occupancy). "
        f"Circumstances named (an exit may name several): {circ}."
    )
    L.append("")
    g = check.readings
    head = (
        "At the fit the frozen-fee estate's firm (`examples/frozen_fee.toml`, wages +3.1% a "
        "year, ten years) gives notice in "
    )
    if g.empty:
        L += [head + f"none of {check.runs} runs.", ""]
        return L + _sweep_lines(check)
    c = g["collection_notice"].dropna()
    left = g.dropna(subset=["exit"])
    cx = left["collection_exit"].dropna()
    L.append(
        head + f"{len(g)} of {check.runs} runs, in month {int(g['notice'].median())} (median; "
        f"{int(g['notice'].min())}-{int(g['notice'].max())}), after a year at a net margin of "
        f"{g['margin'].median():.0%} (median). Fees paid over fees billed in the twelve months "
        f"before the notice: {c.median():.2f} (median; {c.min():.2f}-{c.max():.2f})"
        + (
            f"; in the firm's last twelve months ({len(left)} runs): {cx.median():.2f} "
            f"({cx.min():.2f}-{cx.max():.2f})."
            if len(cx)
            else "; no run's firm is gone before the end."
        )
    )
    if len(check.reported) and len(c):
        top = float(check.reported["hi"].max())
        model = float(cx.median()) if len(cx) else float(c.median())
        rep = "; ".join(
            f"{r.obs_id} {_fmt_interval(r.lo, r.hi)}" for r in check.reported.itertuples()
        )
        verdict = (
            "the model's firm leaves at a higher collection than any of these. The reported "
            "figures do not say over what period they were counted or what the fee covered "
            "against cost, so this does not show that the model's firm is less patient; it "
            "says only that these firms stayed on to a lower collection than the model's does"
            if model > top
            else "the model's firm leaves at a lower collection than any of these"
            if model < float(check.reported["lo"].min())
            else "the model's firm leaves within the range of collection these firms left at"
        )
        L.append("")
        L.append(f"Collection when the reported firms left: {rep}. Against them {verdict}.")
    L.append("")
    L += _sweep_lines(check)
    return L


def _sweep_lines(check: ExitCheck) -> list[str]:
    """The patience sweep's table and what it says about fitting the exits."""
    w = check.sweep
    if w.empty:
        return []
    runs = int(w["runs"].iloc[0])
    L = [
        f"What sets the collection at which the model's firm leaves: the same estate and "
        f"behaviour over {SWEEP_MONTHS // 12} years ({runs} run{'' if runs == 1 else 's'} "
        "each, common random numbers), its fee set to a share of its full-service fee and "
        "the firm's patience varied (`exit_loss_months`: months of trailing-year losses "
        "before it gives notice; `renewal_margin`: the trailing-year margin below which it "
        "declines to renew; the first of each pair is the judgement default):",
        "",
    ]
    table = pd.DataFrame(
        {
            "exit_loss_months": [str(int(v)) for v in w["exit_loss_months"]],
            "renewal_margin": [f"{v:+.2f}" for v in w["renewal_margin"]],
            "notice given": [
                f"{int(n)} of {int(r)}" for n, r in zip(w["notices"], w["runs"], strict=True)
            ],
            "notice month (median)": ["" if np.isnan(v) else str(int(v)) for v in w["notice"]],
            "collection, year before the notice (median; range)": [
                "" if np.isnan(c) else f"{c:.2f} ({lo:.2f}-{hi:.2f})"
                for c, lo, hi in zip(w["collection"], w["lo"], w["hi"], strict=True)
            ],
        },
        index=pd.Index([f"{v:.2f}" for v in w["fee_to_full"]], name="fee / full-service fee"),
    )
    L.append(_md_table(table))
    L.append("")
    if len(check.reported):
        top = float(check.reported["hi"].max())
        reach = w[w["collection"] <= top]
        where = "; ".join(
            f"fee {r.fee_to_full:.2f} of full with {int(r.exit_loss_months)} months and "
            f"{r.renewal_margin:+.2f}"
            for r in reach.itertuples()
        )
        found = (
            f"The model's firm leaves at a collection as low as the reported ones (at most "
            f"{top:.2f}) only in: {where}."
            if len(reach)
            else f"No combination has the model's firm leave at a collection as low as the "
            f"reported ones (at most {top:.2f})."
        )
        L.append(
            found + " The collection at which a firm leaves depends on what the fee covers "
            "against cost as much as on the firm's patience, and the exits with a collection "
            f"figure ({', '.join(check.reported['obs_id'])}) give neither their fee against "
            "cost nor how long the firm carried its losses. A moment on them would fit the "
            "patience to an assumed fee, so the exits are this check and not a moment of the "
            "objective; the patience keeps its judgement value (`feesim.config.scenario.Firm`)."
        )
        L.append("")
    return L


def _data_section(run: CalibrationRun) -> list[str]:
    f = run.cases.frame
    L = ["## Data", ""]
    counts = []
    for o in OUTCOME_COLS:
        vc = f[f"use_{o}"].replace("", "(no figure)").value_counts()
        counts.append(pd.Series(vc, name=o))
    L.append(
        f"`cases.csv` has {len(f)} rows, {run.cases.n_sourced_outcomes} of them with a sourced "
        "outcome. Which figures of the first coding feed what:"
    )
    L.append("")
    L.append(
        _md_table(pd.concat(counts, axis=1).fillna(0).astype(int).rename_axis("use"), "{:.0f}")
    )
    L.append("")
    L.append(
        "`fit`: a row of an auxiliary regression; `target`: the community is a time-path "
        "target simulated with its curated example; `no`: excluded, with the reason in the "
        "row's `use_note` (fee cuts, parking fees, maintenance-fund votes, steps of unknown size, "
        "disputed tallies with no usable interval, collection levels observed without any "
        "change, which the model takes as input); `none`: a second-pass row's figure that the "
        "step regressions do not read. Censored figures are intervals: '>0.95' is [0.95, 1], a "
        "rounded 85% is [0.845, 0.855], a disputed tally is the interval between the competing "
        "counts, and a share of all owners bounds the share of participants from below."
    )
    L.append("")
    L.append("### The second sourcing pass")
    L.append("")
    raw = run.cases.raw
    second = raw[raw["record_kind"] != ""] if "record_kind" in raw else raw.iloc[:0]
    kinds = second["record_kind"].value_counts()
    L.append(
        f"The second pass (`calibration/README.md` section 8) adds {len(second)} rows ("
        + ", ".join(f"{v} {k}" for k, v in kinds.items())
        + "). Their figures are read as tidy records (`load_cases()`: `tallies`, one per "
        "figure; `events`, one per vote; `takeovers`; `exits`), and the flags `"
        + "`, `".join(MORE_USES)
        + "` say which the calibration may use (`fit`) and which not (`none`, README 8.5). "
        "How many of each the calibration simulates as moments of its objective:"
    )
    L.append("")
    spt = second_pass_table(run)
    L.append(_md_table(spt, "{:.0f}"))
    L.append("")
    L.append(
        "Simulated (`feesim.studies.calibration.records`): tallies by heads of votes that are "
        "not disputed, turnout as a share of all owners and approval as a share of the "
        "participants, each as a vote to hire a firm from the pool at the community's fee; "
        "every event flagged `fit` as that community's vote (a firm vote as a vote to hire a "
        "firm); every takeover flagged `fit` as a new team at an unchanged fee in a community "
        "collecting what was reported before. The fee steps reported passed add one moment: "
        "the share of their simulated runs that pass (records section)."
    )
    L.append("")
    un = unsimulated_tallies(run)
    if len(un):
        L.append(
            "Tally figures flagged `fit` that are not simulated (area counts, other bases and "
            "disputed tallies are not the model's approval or turnout by heads; a share of all "
            "owners enters through the bound it implies on the participants' share, which is "
            "simulated where the table above lists the record):"
        )
        L.append("")
        L.append(_md_table(un.set_index("obs_id")))
        L.append("")
    if unsimulated_exits(spt):
        L.append(
            f"The {spt.loc['exits', 'flagged fit']} exits flagged `fit` are coded with their "
            "circumstances but are not a moment of the objective: they are compared with the "
            "model's firm in a check (section 'Firm exits: a check, not fitted')."
        )
        L.append("")
    left = left_out_records(run)
    L.append(
        f"Left out: {len(left)} second-pass rows have a figure marked `none`, with the reason in "
        "the row's `use_note` (README 8.5; Hong Kong and Taiwan, whose rules the model does not "
        "implement, 8.6; the 20 records coded without a row, 8.8):"
    )
    L.append("")
    L.append(_md_table(left))
    L.append("")
    return L


def _records_section(run: CalibrationRun, records: pd.DataFrame, passed: PassedShare) -> list[str]:
    L = ["## The second pass's records: reported against simulated", ""]
    if records.empty:
        L += ["No record of the second pass is simulated in this run.", ""]
    else:
        L.append(
            "Every simulated tally, event and takeover at the fit: `reported` (an event: passed "
            "or failed), `simulated` (the mean over replicates; an event: the share of runs that "
            "pass), `param_lo`/`param_hi` (5-95% over the posterior members), `distance` (from "
            "the reported interval; an event: from 1 or 0) and the whitened `residual` in the "
            "objective."
        )
        L.append("")
        shown = records.copy()
        shown["reported"] = [
            ("passed" if lo == 1 else "failed") if k == "event" else _fmt_interval(lo, hi)
            for k, lo, hi in zip(
                shown["kind"], shown["reported_lo"], shown["reported_hi"], strict=True
            )
        ]
        cols = ["kind", "measure", "what", "weight", "reported", "simulated", "param_lo"]
        cols += ["param_hi", "distance", "residual"]
        L.append(_md_table(shown.set_index("obs_id")[cols]))
        L.append("")
        for kind, label in (("tally", "tallies"), ("takeover", "takeovers")):
            g = records[records["kind"] == kind]
            if len(g):
                inside = g[g["distance"] <= 1e-9]
                L.append(
                    f"- {label.capitalize()}: {len(inside)} of {len(g)} within the reported "
                    f"interval ({_ids(inside)}); mean distance outside "
                    f"{g['distance'].mean():.3f}, largest {g['distance'].max():.3f} "
                    f"({g.loc[g['distance'].idxmax(), 'obs_id']})."
                )
        ev = records[records["kind"] == "event"]
        if len(ev):
            right = ev[ev["distance"] < 0.5]
            L.append(
                f"- Events: the model gives the reported result in most runs for {len(right)} of "
                f"{len(ev)} votes ({_ids(right)}); mean distance of the pass rate from the "
                f"result {ev['distance'].mean():.2f}."
            )
        L.append("")
    L.append("### Fee steps reported passed")
    L.append("")
    if not np.isfinite(passed.share):
        L += ["No fee step reported passed is simulated in this run.", ""]
        return L
    band = (
        f" (5-95% over the posterior members: {_pct(passed.lo)} to {_pct(passed.hi)})"
        if np.isfinite(passed.lo)
        else ""
    )
    L.append(
        f"A passed vote met its quorum and majority, so the model should pass these steps. At "
        f"the fit {_pct(passed.share)} of the simulated runs of the {len(passed.by_case)} fee "
        f"steps reported passed pass{band}. The institutions issue asks for at least "
        f"{_pct(PASSED_FLOOR)} after recalibration: {_verdict(passed.share >= PASSED_FLOOR)}"
        + (
            f", {100 * (PASSED_FLOOR - passed.share):.0f} points short."
            if passed.share < PASSED_FLOOR
            else "."
        )
        + f" The objective holds the share above {_pct(PASSED_SHARE)} with a tolerance of "
        f"{100 * PASSED_SE:.0f} points (`records.PASSED_SHARE`, a one-sided moment). Pass rate "
        "per step at the fit, lowest first:"
    )
    L.append("")
    by = passed.by_case.to_frame("pass rate")
    by["step_pct"] = run.cases.frame.loc[by.index, "step_pct"]
    L.append(_md_table(by.rename_axis("obs_id")))
    L.append("")
    return L
