"""The forecast's answer: :class:`ForecastResult` and the keys of ``forecast.json``.

Every key of ``forecast.json`` is listed in :data:`JSON_KEYS` with its meaning; the set of keys
and their types are stable (a schema test guards them; ``schema_version`` changes if they do).
A *distribution* is ``{"mean", "p05", "p50", "p95"}`` over runs (all ``null`` when no run has a
value, e.g. the vote of a null proposal). Probabilities are shares of runs.

Windows: months are counted from 0 at ``start``; the vote is in ``vote_month``; "12m" figures
are read 12 months after the vote month (``vote_month + 12``), "end" figures in the last month;
firm exit "within N months" counts runs whose firm gave notice (irrevocable in the model) or left
in months ``vote_month`` to ``vote_month + N - 1``. Margin and cash are those of whoever serves
the community in that month (the firm, a temporary provider after an exit, or a new firm).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from feesim.i18n import N_, ngettext
from feesim.i18n import gettext as _
from feesim.io import atomic_write_text
from feesim.protocol import (
    ESTIMATE_COLUMNS,
    feesim_version,
    jsonable,
    load_result,
    sample_estimate,
    save_result,
    share_estimate,
)
from feesim.studies.forecast.mapping import ForecastInput
from feesim.studies.forecast.outcomes import (
    EXIT_WINDOWS,
    TEST_WORDS,
    TESTS,
    BranchOutcome,
    deciding_test_of,
)

__all__ = [
    "JSON_KEYS",
    "MIN_RUNS_PER_SET",
    "SCHEMA_VERSION",
    "ForecastResult",
    "SearchResult",
    "verdict",
]

SCHEMA_VERSION = 4

#: Fewest runs per parameter set (median) for the sets' own pass shares to be compared: with
#: fewer, the runs are too few to tell the sets apart (the summary and the report say so).
MIN_RUNS_PER_SET = 10

_DIST = "distribution {mean, p05, p50, p95} over runs"

#: Every top-level key of ``forecast.json`` with its meaning (the schema test checks these).
JSON_KEYS: dict[str, str] = {
    "schema_version": "integer; changes when keys or their meaning change",
    "feesim_version": "version of feesim that produced the file",
    "community": "community name",
    "source": "input file",
    "input_format": "'community' (bureau community file) or 'scenario' (full scenario file)",
    "runs": "replicates of each branch",
    "seed": "root seed (same seed, runs and populations: same numbers)",
    "populations": "household populations drawn per chunk of 500 runs",
    "ensemble_members": "behaviour parameter sets the runs were spread over (0: none; at most "
    "runs, as run r uses set r % M)",
    "ensemble_size": "behaviour parameter sets in the ensemble (0: none; more than "
    "ensemble_members when there are fewer runs than sets)",
    "start": "calendar month of month 0 (YYYY-MM)",
    "months": "months simulated",
    "vote_month": "month of the (first) vote, counted from 0 at start",
    "vote_date": "calendar month of the vote (YYYY-MM)",
    "proposal": "the proposal: fees before and after by building type, headline step, package",
    "null_proposal": "true when the proposal changes nothing (not voted; equals the status quo)",
    "verdict": "pass probability in words: very likely passes (>= 0.9), likely passes "
    "(>= 0.66), as likely to pass as not, likely fails (<= 0.33), very likely fails (<= 0.1); "
    "for a null proposal 'no change, not put to a vote'",
    "pass_probability": "share of runs whose final vote passes (Art. 278: quorum and majorities)",
    "pass_probability_se": "Monte Carlo (seed) standard error of pass_probability",
    "no_quorum_probability": "share of runs whose final vote misses the 2/3 quorum",
    "rejected_probability": "share of runs with a quorum whose majorities fail",
    "effective_probability": "share of runs in which the new fee took effect in the horizon",
    "turnout_heads": f"participating owners / all owners, final vote: {_DIST}",
    "turnout_area": f"participating area / all area, final vote: {_DIST}",
    "approval_heads": f"approving owners / participating owners: {_DIST}",
    "approval_area": f"approving area / participating area: {_DIST}",
    "binding": "share of runs whose final vote was decided by each test (the one failed, or "
    "the closest to failing when passed): quorum_heads, quorum_area, approval_heads, "
    "approval_area",
    "binding_failed": "the same shares among failed votes only (null if none failed)",
    "binding_test": "the test that binds most often (among failed votes if any failed)",
    "collection_rate_12m": f"year-to-date collection rate 12 months after the vote: {_DIST}",
    "collection_rate_end": f"year-to-date collection rate in the last month: {_DIST}",
    "firm_margin_12m": f"firm's net margin over the 12 months after the vote: {_DIST}",
    "firm_cash_12m_yuan": f"firm's cash 12 months after the vote (yuan): {_DIST}",
    "firm_cash_end_yuan": f"firm's cash in the last month (yuan): {_DIST}",
    "firm_exit_probability_12m": "share of runs whose firm gives notice or leaves within 12 "
    "months of the vote (null when the runs follow fewer months after the vote)",
    "firm_exit_probability_36m": "the same within 36 months (null when the runs follow fewer "
    "months after the vote)",
    "status_quo_collection_rate_12m": "status quo counterpart (same streams, no proposal)",
    "status_quo_collection_rate_end": "status quo counterpart",
    "status_quo_firm_margin_12m": "status quo counterpart",
    "status_quo_firm_cash_12m_yuan": "status quo counterpart",
    "status_quo_firm_cash_end_yuan": "status quo counterpart",
    "status_quo_firm_exit_probability_12m": "status quo counterpart (null when not followed)",
    "status_quo_firm_exit_probability_36m": "status quo counterpart (null when not followed)",
    "difference_collection_rate_12m": f"proposal minus status quo, run by run: {_DIST}",
    "difference_collection_rate_end": f"proposal minus status quo, run by run: {_DIST}",
    "difference_firm_margin_12m": f"proposal minus status quo, run by run: {_DIST}",
    "difference_firm_cash_end_yuan": f"proposal minus status quo, run by run: {_DIST}",
    "collection_path": "monthly year-to-date collection rate: month, date, and for 'proposal' "
    "and 'status_quo' lists of mean, p05, p50, p95",
    "exit_path": "monthly share of runs whose firm has given notice or left since the vote: "
    "month, proposal, status_quo",
    "uncertainty": "seed_se (Monte Carlo), ensemble_members, pass_probability_by_member "
    "(distribution over members or null), between_member_sd (or null), model_error (the fitted "
    "model's own error out of sample, not in the ranges: approval, turnout and collection, the "
    "root mean square of its leave-one-case-out errors; null when the forecast runs another "
    "model than the package's fit)",
    "windows": "collection_12m_month, exit_window_start, exit_windows, months_after_vote",
    "defaults": "every item the input file left out, with the default used",
    "decomposition": "how much of the change is the process and how much the step: for "
    "collection_rate_12m, collection_rate_end, firm_margin_12m and firm_exit_probability_36m, "
    "the mean over runs of total (proposal minus status quo), process (the same process without "
    "the step minus status quo) and step (proposal minus process), on common random numbers "
    "(each null for firm_exit_probability_36m when the runs follow fewer than 36 months after "
    "the vote); null for a null proposal",
    "search": "step search results (null unless --search)",
    "elapsed_s": "wall time of the simulations (seconds)",
}

DIST_KEYS = (
    "turnout_heads",
    "turnout_area",
    "approval_heads",
    "approval_area",
    "collection_rate_12m",
    "collection_rate_end",
    "firm_margin_12m",
    "firm_cash_12m_yuan",
    "firm_cash_end_yuan",
)


def _points(x: float) -> str:
    """A difference of shares in percentage points (language in force)."""
    return _("{x} percentage points").format(x=f"{100 * x:.1f}")


def model_error_words(err: Mapping[str, float]) -> str:
    """Every outcome of the model's own error in words (language in force).

    The summary and the report tell the same outcomes: collection, approval and turnout (all
    that ``uncertainty.model_error`` has; turnout is left out only when it is missing).
    """
    c, a = _points(err["collection"]), _points(err["approval"])
    t = err.get("turnout")
    if t is None or not math.isfinite(t):
        return _("{c} in collection and {a} in approval").format(c=c, a=a)
    return _("{c} in collection, {a} in approval and {t} in turnout").format(c=c, a=a, t=_points(t))


def pass_interval(data: Mapping[str, Any], alpha: float = 0.05) -> tuple[float, float]:
    """The pass probability's range from the random draws alone (Wilson interval).

    ``data`` is the content of ``forecast.json``; the summary and the report both state this
    range (``1 - alpha``, default 95%).
    """
    est = share_estimate(float(data["pass_probability"]), int(data["runs"]), alpha)
    return float(est["mean_ci_lower"]), float(est["mean_ci_upper"])


def _clean(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def dist(values: np.ndarray) -> dict[str, float | None]:
    """``{mean, p05, p50, p95}`` of the finite values (``None`` each when there are none)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": None, "p05": None, "p50": None, "p95": None}
    q = np.quantile(v, [0.05, 0.5, 0.95])
    return {
        "mean": float(v.mean()),
        "p05": float(q[0]),
        "p50": float(q[1]),
        "p95": float(q[2]),
    }


def verdict(p: float) -> str:
    """The pass probability in words (English, as ``forecast.json`` keeps it).

    Translated where it is shown (the words are marked for the catalogue).
    """
    if p >= 0.9:
        return N_("very likely passes")
    if p >= 0.66:
        return N_("likely passes")
    if p > 0.33:
        return N_("as likely to pass as not")
    if p > 0.1:
        return N_("likely fails")
    return N_("very likely fails")


def _at(series: np.ndarray, month: int) -> np.ndarray:
    return series[:, min(max(month, 0), series.shape[1] - 1)]


def net_margin(series: Mapping[str, np.ndarray], a: int, z: int) -> np.ndarray:
    """Each run's net margin over months ``a`` to ``z - 1`` (NaN where nothing was billed).

    Parameters
    ----------
    series : mapping of str to ndarray
        Per-run monthly series (runs x months) with ``firm_revenue_yuan`` and
        ``firm_cost_yuan``.
    a, z : int
        First month and the month after the last.
    """
    rev = series["firm_revenue_yuan"][:, a:z].sum(axis=1)
    cost = series["firm_cost_yuan"][:, a:z].sum(axis=1)
    out = np.full(rev.shape, np.nan)
    np.divide(rev - cost, rev, out=out, where=rev > 0)
    return out


def _margin(b: BranchOutcome, a: int, z: int) -> np.ndarray:
    return net_margin(b.series, a, z)


def _exit_line(d: Mapping[str, Any], after: int) -> str:
    """The firm's notice or exit within each window the runs follow (``after`` months)."""
    parts = []
    for w in EXIT_WINDOWS:
        if w > after:
            parts.append(
                _("{w} months: not followed (the runs end {after} months after the vote)").format(
                    w=w, after=after
                )
            )
        else:
            parts.append(
                _("{w} months {p} (status quo {q})").format(
                    w=w,
                    p=f"{d[f'firm_exit_probability_{w}m']:.1%}",
                    q=f"{d[f'status_quo_firm_exit_probability_{w}m']:.1%}",
                )
            )
    # The firm's state "exit" is reached through notice: a firm that gives notice counts.
    return _("  firm notice/exit  within {windows}").format(windows=_(", ").join(parts))


def _followed(key: str, after: int) -> bool:
    """Whether the exit window of ``key`` (``..._exit_probability_<w>m``) fits in ``after``."""
    if "exit_probability_" not in key:
        return True
    window = int(key.rsplit("_", 1)[1].rstrip("m"))
    return window <= after


def _exit_within(b: BranchOutcome, start: int, window: int) -> np.ndarray:
    return (b.exit_month >= start) & (b.exit_month < start + window)


@dataclass(frozen=True)
class ForecastResult:
    """A forecast: the JSON-ready figures plus the per-run outcomes behind them.

    Attributes
    ----------
    data : dict
        The content of ``forecast.json`` (keys in :data:`JSON_KEYS`).
    status_quo, proposal : BranchOutcome
        Per-run arrays of both branches (for plots and further analysis).
    input : ForecastInput
    dates : tuple of str
        Calendar month (YYYY-MM) of every simulated month.
    search_levers : dict or None
        The step search's :attr:`SearchResult.levers` (which test binds, whether the step curve
        is flat, the turnout levers' curves); not part of ``forecast.json``.
    decomposition : dict or None
        How much of the change is the step and how much the process: the ``decomposition``
        entry of ``forecast.json`` (for each of ``collection_rate_12m``,
        ``collection_rate_end``, ``firm_margin_12m`` and ``firm_exit_probability_36m``, the mean
        ``total``, ``process`` and ``step`` effect); None for a null proposal. Page 1 of the
        report shows it when it is not None.

    Notes
    -----
    A result of the protocol of :mod:`feesim.protocol`: :meth:`save` writes the data only;
    the report is :func:`feesim.surfaces.report.write_report`.
    """

    data: dict[str, Any]
    status_quo: BranchOutcome
    proposal: BranchOutcome
    input: ForecastInput
    dates: tuple[str, ...] = field(default=())
    search_levers: dict[str, Any] | None = None
    decomposition: Any = None

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        inp: ForecastInput,
        *,
        status_quo: BranchOutcome,
        proposal: BranchOutcome,
        runs: int,
        seed: int,
        populations: int,
        ensemble_members: int,
        elapsed_s: float,
        process: BranchOutcome | None = None,
        model_error: Mapping[str, float] | None = None,
    ) -> ForecastResult:
        """Summarise the branches.

        ``process`` is the process without the step; ``model_error`` the fitted model's
        out-of-sample error by outcome (:func:`~feesim.studies.forecast.fitted_model_error`).
        """
        from feesim.engine.rules.government import calendar

        sc = inp.status_quo
        years, cal = calendar(sc)
        dates = tuple(f"{y:04d}-{m:02d}" for y, m in zip(years, cal, strict=True))
        T = len(dates)
        vm = inp.vote_month
        m12 = min(vm + 12, T - 1)
        null = inp.is_null()
        v = proposal.vote
        # Run r uses set r % M: with fewer runs than sets only the first `runs` are simulated.
        ensemble_size = int(ensemble_members)
        ensemble_members = min(ensemble_size, int(runs))
        d: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "feesim_version": feesim_version(),
            "community": inp.name,
            "source": inp.source,
            "input_format": inp.file_format,
            "runs": runs,
            "seed": seed,
            "populations": populations,
            "ensemble_members": ensemble_members,
            "ensemble_size": ensemble_size,
            "start": sc.simulation.start,
            "months": T,
            "vote_month": vm,
            "vote_date": dates[vm] if vm < T else None,
            "proposal": _proposal_info(inp),
            "null_proposal": null,
        }
        if null:
            passed = np.ones(runs, dtype=bool)
            d["pass_probability"] = 1.0
            d["no_quorum_probability"] = 0.0
            d["rejected_probability"] = 0.0
            d["effective_probability"] = 1.0
        else:
            passed = v.passed
            d["pass_probability"] = float(passed.mean())
            d["no_quorum_probability"] = float((v.voted & ~v.quorum_met).mean())
            d["rejected_probability"] = float((v.quorum_met & ~v.passed).mean())
            d["effective_probability"] = float(v.effective.mean())
        p = d["pass_probability"]
        d["pass_probability_se"] = float(math.sqrt(p * (1 - p) / runs))
        d["verdict"] = N_("no change, not put to a vote") if null else verdict(p)
        for k in ("turnout_heads", "turnout_area", "approval_heads", "approval_area"):
            d[k] = dist(getattr(v, k))
        d.update(_binding(v, null))
        # Collection and the firm, both branches, and paired differences.
        for key, values in _per_run(status_quo, proposal, vm, m12, T).items():
            if "exit_probability" in key:
                # A window longer than the months followed is not followed: null, not 0.
                d[key] = float(values.mean()) if _followed(key, T - vm) else None
            else:
                d[key] = dist(values)
        pc, sc_ = proposal.series["collection_rate"], status_quo.series["collection_rate"]
        d["collection_path"] = {
            "month": list(range(T)),
            "date": list(dates),
            "proposal": _bands(pc),
            "status_quo": _bands(sc_),
        }
        d["exit_path"] = {
            "month": list(range(T)),
            "proposal": _exit_path(proposal, vm, T),
            "status_quo": _exit_path(status_quo, vm, T),
        }
        d["uncertainty"] = _uncertainty(passed, proposal.member, ensemble_members, d)
        d["uncertainty"]["model_error"] = dict(model_error) if model_error else None
        d["windows"] = {
            "collection_12m_month": m12,
            "exit_window_start": vm,
            "exit_windows": list(EXIT_WINDOWS),
            "months_after_vote": T - vm,
        }
        d["decomposition"] = (
            None
            if null or process is None
            else _decomposition(status_quo, process, proposal, vm, m12, T)
        )
        d["defaults"] = list(inp.defaults)
        d["search"] = None
        d["elapsed_s"] = float(elapsed_s)
        return cls(
            data=d,
            status_quo=status_quo,
            proposal=proposal,
            input=inp,
            dates=dates,
            decomposition=d["decomposition"],
        )

    # -- views ---------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    @property
    def pass_probability(self) -> float:
        """Share of runs in which the proposal passes."""
        return float(self.data["pass_probability"])

    def deciding_test(self) -> str | None:
        """The test that decides the vote, as the summary and the report name it.

        Among failed votes (``binding_failed``), the outcome groups come first: missing the
        quorum (its tests' shares, as ``no_quorum_probability``) against being voted down (as
        ``rejected_probability``); within the larger group, the test that failed most often
        (``quorum_heads`` or ``quorum_area``, ``approval_heads`` or ``approval_area``). A quorum
        failure is split between two tests, so the single most frequent test can belong to the
        smaller group. Without failed votes, the test the votes came closest to failing
        (``binding_test``). None when nothing was voted. The rule is
        :func:`~feesim.studies.forecast.outcomes.deciding_test_of`, which the step search
        applies too.
        """
        d = self.data
        failed = d.get("binding_failed")
        if not failed:
            return d.get("binding_test")
        groups = (d["no_quorum_probability"], d["rejected_probability"])
        return deciding_test_of(failed, among_failed=True, groups=groups)

    def pass_interval(self, alpha: float = 0.05) -> tuple[float, float]:
        """The pass probability's range from the random draws alone (Wilson interval).

        The summary and the report both state this range (``1 - alpha``, default 95%).
        """
        return pass_interval(self.data, alpha)

    def with_search(self, search: Mapping[str, Any]) -> ForecastResult:
        """Copy with step-search results attached (key ``search``; a :class:`SearchResult`).

        The search's :attr:`SearchResult.levers` become :attr:`search_levers`.
        """
        return dataclasses.replace(
            self,
            data={**self.data, "search": dict(search)},
            search_levers=getattr(search, "levers", None),
        )

    def per_member_pass(self) -> pd.DataFrame:
        """Pass probability under each behaviour parameter set (one row per set).

        Columns ``member``, ``runs`` (runs spread over that set) and ``pass_probability``; one
        row (member 0) without an ensemble. Empty for a null proposal (nothing is voted).
        """
        if self.data["null_proposal"]:
            return pd.DataFrame(columns=["member", "runs", "pass_probability"])
        frame = pd.DataFrame(
            {"member": self.proposal.member, "passed": self.proposal.vote.passed.astype(float)}
        )
        g = frame.groupby("member")["passed"]
        return pd.DataFrame({"runs": g.size(), "pass_probability": g.mean()}).reset_index()

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready content of ``forecast.json``."""
        return jsonable(self.data)

    def to_json(self, indent: int | None = 2) -> str:
        """``forecast.json`` as text (keys in :data:`JSON_KEYS`, NaN written as null)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def summary_text(self) -> str:
        """A short answer to the bureau's questions, for the terminal (language in force)."""
        d = self.data
        pr = d["proposal"]
        fees = ", ".join(
            f"{n} {pr['fee_before'][n]:.2f} -> {pr['fee_after'][n]:.2f}"
            for n in pr["building_types"]
        )
        pct = lambda x: _("n/a") if x is None else f"{x:.0%}"
        rng = lambda x: f"{pct(x['p50'])} ({pct(x['p05'])}-{pct(x['p95'])})"
        head = _("{community}: vote in {date} (month {month}), {runs} runs, seed {seed}").format(
            community=d["community"],
            date=d["vote_date"],
            month=d["vote_month"],
            runs=d["runs"],
            seed=d["seed"],
        )
        if d["ensemble_members"]:
            m = int(d["ensemble_members"])
            head += ngettext(", {m} parameter set", ", {m} parameter sets", m).format(m=m)
        proposal = _("  proposal          {fees} yuan/m2/month ({step} area-weighted)").format(
            fees=fees, step=f"{pr['headline_step_pct']:+.1%}"
        )
        if pr["service_improvement"]:
            proposal += _(", service +{q}").format(q=f"{pr['service_improvement']:.2f}")
        lines = [
            head,
            proposal,
        ]
        if d["null_proposal"]:
            lines.append(
                _("  pass probability  {p}: {verdict}").format(
                    p=f"{d['pass_probability']:.1%}", verdict=_(d["verdict"])
                )
            )
        else:
            lo, hi = self.pass_interval()
            lines.append(
                _("  pass probability  {p} (other random draws: {lo}-{hi}, 95%): {verdict}").format(
                    p=f"{d['pass_probability']:.1%}",
                    lo=f"{lo:.0%}",
                    hi=f"{hi:.0%}",
                    verdict=_(d["verdict"]),
                )
            )
        if not d["null_proposal"]:
            lines += [
                _("  turnout           heads {h}, area {a}; quorum 2/3 of both").format(
                    h=rng(d["turnout_heads"]), a=rng(d["turnout_area"])
                ),
                _("  approval          heads {h}, area {a}; needs > 1/2 of both").format(
                    h=rng(d["approval_heads"]), a=rng(d["approval_area"])
                ),
                _("  deciding test     {test}; no quorum {nq}, rejected {rej}").format(
                    test=_(TEST_WORDS[test]) if (test := self.deciding_test()) else _("n/a"),
                    nq=f"{d['no_quorum_probability']:.1%}",
                    rej=f"{d['rejected_probability']:.1%}",
                ),
            ]
        w = d["windows"]
        m12, after = w["collection_12m_month"], w["months_after_vote"]
        lines += [
            # Year to date: the share of this calendar year's bills paid by that month, so a
            # month early in the year reads lower than December (domain-rules 2.2).
            _(
                "  collection        {c} vs status quo {s}: year to date in {when}, {n} months "
                "after the vote (median, 5-95%)"
            ).format(
                c=rng(d["collection_rate_12m"]),
                s=rng(d["status_quo_collection_rate_12m"]),
                when=d["collection_path"]["date"][m12],
                n=m12 - d["vote_month"],
            ),
            # Over the months after the vote up to the collection month: 12, or fewer when
            # the runs end sooner.
            _(
                "  firm margin       {m} vs status quo {s} over the {n} months after the vote "
                "(median)"
            ).format(
                m=pct(d["firm_margin_12m"]["p50"]),
                s=pct(d["status_quo_firm_margin_12m"]["p50"]),
                n=m12 - d["vote_month"],
            ),
            _exit_line(d, after),
        ]
        spread = self._spread_line()
        if spread:
            lines.append(spread)
        err = d["uncertainty"].get("model_error")
        if err:
            # The ranges are the runs' spread; how far the model itself has been from what
            # communities reported is another matter (calibration/validation.json).
            lines.append(
                _("  model error       ")
                + _(
                    "with each reported community left out of the fit in turn, the model missed "
                    "the reported ranges by {errors} (root mean square, 0 inside a range); the "
                    "ranges above do not include it"
                ).format(errors=model_error_words(err))
            )
        s = d.get("search")
        if s:
            lines += _search_lines(s, self.search_levers)
        lines.append(
            _("  {n} items took defaults (listed in the report)").format(n=len(d["defaults"]))
        )
        lines.append(_("  simulated in {s} s").format(s=f"{d['elapsed_s']:.1f}"))
        return "\n".join(lines)

    def parameter_spread(self) -> dict[str, Any] | None:
        """Whether the pass probability differs between parameter sets beyond seed noise.

        Each set's pass share is an estimate from its own runs; with few runs per set the
        shares spread by binomial noise alone (60 identical sets of 20 runs each spread over
        about 30 points). The between-set variance of the pass indicator is compared with the
        binomial variance expected from the runs per set (Pearson's chi-square test of
        homogeneity, K - 1 degrees of freedom, 5% level); only a larger spread is parameter
        uncertainty.

        Returns
        -------
        dict or None
            ``sets`` (sets with runs), ``runs_per_set`` (median), ``too_few`` (fewer than
            :data:`MIN_RUNS_PER_SET` runs per set: too few to tell the sets apart, no test is
            made), ``runs_needed`` (runs for :data:`MIN_RUNS_PER_SET` per set), ``p_value``
            (None when too few, or when every run passed or every run failed: the sets do not
            differ), ``beyond_noise`` and the sets' pass shares' ``p05`` and ``p95``; None
            without an ensemble of at least two sets or for a null proposal.
        """
        d = self.data
        k = int(d["ensemble_members"] or 0)
        if k < 2 or d["null_proposal"]:
            return None
        passed = np.asarray(self.proposal.vote.passed, dtype=float)
        member = np.asarray(self.proposal.member)
        counts = np.array([(member == j).sum() for j in range(k)])
        used = counts > 0
        shares = np.array([passed[member == j].mean() for j in np.flatnonzero(used)])
        pbar = float(passed.mean())
        lo, hi = np.quantile(shares, [0.05, 0.95])
        out: dict[str, Any] = {
            "sets": int(used.sum()),
            "runs_per_set": int(np.median(counts[used])),
            "too_few": bool(np.median(counts[used]) < MIN_RUNS_PER_SET),
            # Every set of the ensemble, not only those the runs reached.
            "runs_needed": max(int(d.get("ensemble_size") or 0), k) * MIN_RUNS_PER_SET,
            "p_value": None,
            "beyond_noise": False,
            "p05": float(lo),
            "p95": float(hi),
        }
        if out["too_few"] or pbar in (0.0, 1.0) or used.sum() < 2:
            return out
        from scipy.stats import chi2

        stat = float((counts[used] * (shares - pbar) ** 2).sum() / (pbar * (1 - pbar)))
        out["p_value"] = float(chi2.sf(stat, int(used.sum()) - 1))
        out["beyond_noise"] = out["p_value"] < 0.05
        return out

    def _spread_line(self) -> str | None:
        """The pass probability's spread over parameter sets, if it exceeds seed noise."""
        spread = self.parameter_spread()
        if spread is None:
            return None
        head = _("  parameter sets    ")
        k, size = self.data["ensemble_members"], self.data.get("ensemble_size") or 0
        pooled = (
            _(
                "the pass probability above pools the runs of all {k} fitted parameter sets; "
                "--no-ensemble gives the file's point estimate alone"
            ).format(k=k)
            if k >= size
            else _(
                "the pass probability above pools the runs of {k} of the {n} fitted parameter "
                "sets (one run each); --no-ensemble gives the file's point estimate alone"
            ).format(k=k, n=size)
        )
        if spread["too_few"]:
            per = spread["runs_per_set"]
            return head + ngettext(
                "{pooled}; about {per} run per set is too few to tell the sets apart (run at "
                "least {k} runs for that)",
                "{pooled}; about {per} runs per set are too few to tell the sets apart (run at "
                "least {k} runs for that)",
                per,
            ).format(pooled=pooled, per=per, k=spread["runs_needed"])
        if spread["p_value"] is None:
            return head + _("{pooled}; the sets do not differ").format(pooled=pooled)
        if not spread["beyond_noise"]:
            return head + _(
                "{pooled}; their pass shares differ no more than seed noise from ~{per} runs per "
                "set (chi-square p = {p}): no parameter spread to report (more --runs would show "
                "one if there is)"
            ).format(pooled=pooled, per=spread["runs_per_set"], p=f"{spread['p_value']:.2f}")
        return head + _(
            "{pooled}; pass probability {lo}-{hi} across them (5-95%, beyond seed noise: "
            "chi-square p = {p}, ~{per} runs per set)"
        ).format(
            pooled=pooled,
            lo=f"{spread['p05']:.0%}",
            hi=f"{spread['p95']:.0%}",
            p=f"{spread['p_value']:.2g}",
            per=spread["runs_per_set"],
        )

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """The forecast's figures as estimates over runs, one row per branch and outcome.

        ``branch`` is ``proposal``, ``status_quo`` or ``difference`` (proposal minus status quo,
        run by run); ``outcome`` a key of ``forecast.json`` without the branch prefix. Shares
        of runs (``pass_probability``, ``no_quorum_probability``, ``rejected_probability``,
        ``effective_probability``, ``firm_exit_probability_*``) have the binomial standard error
        (``pass_probability_se`` of ``forecast.json``) and the Wilson interval; the other
        figures (turnout and approval of the final vote, collection, margin and cash) the mean
        over the runs that have a value, ``sd / sqrt(runs)`` and the normal interval.

        Parameters
        ----------
        alpha : float
            One minus the level of the intervals (0.05: 95%).

        Returns
        -------
        pandas.DataFrame
            Columns ``branch``, ``outcome``, ``runs``, ``mean``, ``mean_se``,
            ``mean_ci_lower``, ``mean_ci_upper``.
        """
        d = self.data
        runs = int(d["runs"])
        rows: list[dict[str, Any]] = []
        for key in (
            "pass_probability",
            "no_quorum_probability",
            "rejected_probability",
            "effective_probability",
        ):
            rows.append(_row("proposal", key, runs, share_estimate(d[key], runs, alpha)))
        vote = self.proposal.vote
        for key in ("turnout_heads", "turnout_area", "approval_heads", "approval_area"):
            v = np.asarray(getattr(vote, key), dtype=np.float64)
            n = 0 if d["null_proposal"] else int(np.isfinite(v).sum())
            est = sample_estimate(v if n else [], alpha)
            rows.append(_row("proposal", key, n, est))
        T = len(self.dates)
        m12 = int(d["windows"]["collection_12m_month"])
        figures = _per_run(self.status_quo, self.proposal, int(d["vote_month"]), m12, T)
        for key, values in figures.items():
            branch, outcome = "proposal", key
            for prefix in ("status_quo", "difference"):
                if key.startswith(prefix + "_"):
                    branch, outcome = prefix, key[len(prefix) + 1 :]
            if "exit_probability" in key:
                if not _followed(key, T - int(d["vote_month"])):
                    continue  # not followed: no estimate
                est = share_estimate(float(values.mean()), len(values), alpha)
                rows.append(_row(branch, outcome, len(values), est))
            else:
                n = int(np.isfinite(values).sum())
                rows.append(_row(branch, outcome, n, sample_estimate(values, alpha)))
        return pd.DataFrame(rows, columns=["branch", "outcome", "runs", *ESTIMATE_COLUMNS])

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the forecast's data: ``forecast.json``, the per-run tables and the sidecar.

        ``forecast.json`` is :meth:`to_json` (what ``feesim forecast`` writes); each branch is
        saved as ``<branch>_runs.parquet`` (one row per run: exit month, ensemble member, the
        final vote) and ``<branch>_series.parquet`` (one row per run and month); a null
        proposal's branch is the status quo and is not written twice. The sidecar holds the
        input (scenario and proposal) and the calendar. The report (``report.html`` and the
        plots) is a surface: :func:`feesim.surfaces.report.write_report`. Returns the folder.
        """
        out = Path(directory)
        atomic_write_text(out / "forecast.json", self.to_json())
        branches = [("status_quo", self.status_quo)]
        if not self.data["null_proposal"]:
            branches.append(("proposal", self.proposal))
        tables = {}
        for name, branch in branches:
            tables[f"{name}_runs"], tables[f"{name}_series"] = branch.to_frames()
        d = self.data
        provenance = {
            k: d[k]
            for k in ("community", "source", "runs", "seed", "populations", "ensemble_members")
        }
        attrs = {
            "input": self.input.to_mapping(),
            "dates": list(self.dates),
            "search_levers": self.search_levers,
        }
        return save_result(out, self, tables, provenance=provenance, attrs=attrs)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> ForecastResult:
        """Read a forecast written by :meth:`save`."""
        d = Path(directory)
        stored = load_result(d, cls)
        t = stored.tables
        data = json.loads((d / "forecast.json").read_text(encoding="utf-8"))
        status_quo = BranchOutcome.from_frames(t["status_quo_runs"], t["status_quo_series"])
        proposal = (
            status_quo
            if data["null_proposal"]
            else BranchOutcome.from_frames(t["proposal_runs"], t["proposal_series"])
        )
        return cls(
            data=data,
            status_quo=status_quo,
            proposal=proposal,
            input=ForecastInput.from_mapping(stored.attrs["input"]),
            dates=tuple(stored.attrs["dates"]),
            search_levers=stored.attrs.get("search_levers"),
            decomposition=data.get("decomposition"),
        )


def _row(branch: str, outcome: str, runs: int, est: dict[str, float]) -> dict[str, Any]:
    return {"branch": branch, "outcome": outcome, "runs": runs, **est}


def _per_run(
    status_quo: BranchOutcome, proposal: BranchOutcome, vm: int, m12: int, T: int
) -> dict[str, np.ndarray]:
    """Per-run values behind the collection and firm figures, keyed as in ``forecast.json``.

    Distributions over these values are the figures; ``*_exit_probability_*`` are booleans
    whose mean is the share.
    """
    out: dict[str, np.ndarray] = {}
    for prefix, b in (("", proposal), ("status_quo_", status_quo)):
        col = b.series["collection_rate"]
        cash = b.series["firm_cash_yuan"]
        out[f"{prefix}collection_rate_12m"] = _at(col, m12)
        out[f"{prefix}collection_rate_end"] = _at(col, T - 1)
        out[f"{prefix}firm_margin_12m"] = _margin(b, vm + 1, m12 + 1)
        out[f"{prefix}firm_cash_12m_yuan"] = _at(cash, m12)
        out[f"{prefix}firm_cash_end_yuan"] = _at(cash, T - 1)
        for w in EXIT_WINDOWS:
            out[f"{prefix}firm_exit_probability_{w}m"] = _exit_within(b, vm, w)
    pc, sc_ = proposal.series["collection_rate"], status_quo.series["collection_rate"]
    out["difference_collection_rate_12m"] = _at(pc, m12) - _at(sc_, m12)
    out["difference_collection_rate_end"] = _at(pc, T - 1) - _at(sc_, T - 1)
    out["difference_firm_margin_12m"] = _margin(proposal, vm + 1, m12 + 1) - _margin(
        status_quo, vm + 1, m12 + 1
    )
    out["difference_firm_cash_end_yuan"] = _at(proposal.series["firm_cash_yuan"], T - 1) - _at(
        status_quo.series["firm_cash_yuan"], T - 1
    )
    return out


def _decomposition(
    status_quo: BranchOutcome,
    process: BranchOutcome,
    proposal: BranchOutcome,
    vm: int,
    m12: int,
    T: int,
) -> dict[str, dict[str, float | None]]:
    """Mean effects: total, process (without the step) and step (see ``JSON_KEYS``)."""

    def values(b: BranchOutcome) -> dict[str, np.ndarray]:
        col = b.series["collection_rate"]
        return {
            "collection_rate_12m": _at(col, m12),
            "collection_rate_end": _at(col, T - 1),
            "firm_margin_12m": _margin(b, vm + 1, m12 + 1),
            "firm_exit_probability_36m": _exit_within(b, vm, 36).astype(float),
        }

    sq, pr, pp = values(status_quo), values(process), values(proposal)
    mean = lambda x: float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")
    out: dict[str, dict[str, float | None]] = {}
    for k in sq:
        if not _followed(k, T - vm):  # a window the runs do not follow: null, not 0
            out[k] = {"total": None, "process": None, "step": None}
            continue
        out[k] = {
            "total": mean(pp[k] - sq[k]),
            "process": mean(pr[k] - sq[k]),
            "step": mean(pp[k] - pr[k]),
        }
    return out


@dataclass(frozen=True)
class SearchResult(Mapping[str, Any]):
    """The step search (:func:`~feesim.studies.forecast.search.search_step`).

    A read-only mapping: the ``search`` entry of ``forecast.json`` (``target``, ``runs``,
    ``seed``, ``curve``, ``largest_step_pct``, ``largest_step_bound``,
    ``largest_step_pass_probability``, ``largest_step_fees``, ``proposed_step_pct``,
    ``proposed_pass_probability``, ``service``, ``quality_first``), with the results protocol.

    Attributes
    ----------
    data : dict
    levers : dict or None
        Which test binds at the proposed step (``binding``: the shares of the search's own
        runs; ``binding_test``: the deciding test, the forecast's when it was handed to the
        search, so it may differ from what ``binding`` alone would say; ``quorum_binds``),
        whether the step curve is flat (``flat``, ``pass_range`` over ``step_range``) and,
        when the quorum binds, the pass probability against the door-to-door rounds
        (``rounds``: ``grid``, ``pass_probability``, ``smallest_rounds``, ``current``) and reach
        (``reach``: the same with ``smallest_reach``, and the ``rounds`` assumed).
        Kept beside the ``search`` entry of ``forecast.json`` (its schema is unchanged).
    """

    data: dict[str, Any]
    levers: dict[str, Any] | None = None

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (as in ``forecast.json``)."""
        return jsonable(self.data)

    def summary_text(self) -> str:
        """The largest step reaching the target, and what the proposed step needs."""
        return "\n".join(line.strip() for line in _search_lines(self.data, self.levers))

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Pass probability of every variant tried, as an estimate over runs.

        One row per variant: ``lever`` (``step``: the headline step; ``service``: the service
        improvement for the proposed step; ``quality_first``: months of quality first for the
        proposed step; ``door_to_door_rounds`` and ``door_to_door_reach`` when the quorum binds,
        see :attr:`levers`), its ``value``, ``runs`` and the pass probability as ``mean`` with
        its binomial standard error and Wilson interval (``mean_se``, ``mean_ci_lower``,
        ``mean_ci_upper``).
        """
        runs = int(self.data["runs"])
        rows = []
        curve = self.data["curve"]
        levers = [("step", curve["step_pct"], curve["pass_probability"])]
        for lever in ("service", "quality_first"):
            c = self.data.get(lever) or {"grid": [], "pass_probability": []}
            levers.append((lever, c["grid"], c["pass_probability"]))
        for lever, key in (("door_to_door_rounds", "rounds"), ("door_to_door_reach", "reach")):
            c = (self.levers or {}).get(key) or {"grid": [], "pass_probability": []}
            levers.append((lever, c["grid"], c["pass_probability"]))
        for lever, grid, probs in levers:
            for value, p in zip(grid, probs, strict=True):
                est = share_estimate(float(p), runs, alpha)
                rows.append({"lever": lever, "value": float(value), "runs": runs, **est})
        return pd.DataFrame(rows, columns=["lever", "value", "runs", *ESTIMATE_COLUMNS])

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the curves (:meth:`summary_frame`) as Parquet; the whole search in the sidecar."""
        provenance = {k: self.data.get(k) for k in ("seed", "runs", "target")}
        return save_result(
            directory,
            self,
            {"curves": self.summary_frame()},
            provenance=provenance,
            attrs={"search": self.data, "levers": self.levers},
        )

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> SearchResult:
        """Read a search written by :meth:`save`."""
        attrs = load_result(directory, cls).attrs
        return cls(data=attrs["search"], levers=attrs.get("levers"))


def _search_lines(s: dict[str, Any], levers: dict[str, Any] | None = None) -> list[str]:
    out = []
    target = f"{s['target']:.0%}"
    step = s.get("largest_step_pct")
    if step is None:
        out.append(_("  step search       no step reaches {t} (see the curve)").format(t=target))
    elif s.get("largest_step_bound") == "at_least":
        # Every step tried reaches the target: the grid's end is a lower bound, not the answer.
        msg = _(
            "  step search       largest step passing with >= {t}: at least {step}, the largest "
            "step tried (pass probability {p})"
        )
        out.append(
            msg.format(t=target, step=f"{step:+.1%}", p=f"{s['largest_step_pass_probability']:.1%}")
        )
    else:
        msg = _(
            "  step search       largest step passing with >= {t}: {step} (pass probability {p})"
        )
        out.append(
            msg.format(t=target, step=f"{step:+.1%}", p=f"{s['largest_step_pass_probability']:.1%}")
        )
    if levers and levers.get("flat"):
        lo, hi = levers["pass_range"]
        out.append(
            _("  step curve        flat ({lo}-{hi}): the step does not decide the vote").format(
                lo=f"{lo:.0%}", hi=f"{hi:.0%}"
            )
        )
    sv = s.get("service")
    if sv is not None:
        smallest = sv.get("smallest_service_improvement")
        out.append(
            _("  service needed    {x} quality points for the proposed step").format(
                x=f"{smallest:.2f}"
            )
            if smallest is not None
            else _("  service needed    none up to {x} reaches the target").format(
                x=f"{sv['grid'][-1]:.2f}"
            )
        )
    lt = s.get("quality_first")
    if lt is not None:
        smallest = lt.get("smallest_quality_first_months")
        out.append(
            _("  quality first     {n} months ahead of the vote reach the target").format(
                n=smallest
            )
            if smallest is not None
            else _("  quality first     no lead time up to {n} months reaches the target").format(
                n=lt["grid"][-1] if lt["grid"] else 0
            )
        )
    rounds = (levers or {}).get("rounds")
    if rounds:
        smallest = rounds.get("smallest_rounds")
        out.append(
            _("  door-to-door      {n} rounds reach the target (planned {c})").format(
                n=smallest, c=rounds["current"]
            )
            if smallest is not None
            else _("  door-to-door      no number of rounds up to {n} reaches the target").format(
                n=rounds["grid"][-1]
            )
        )
    return out


def _proposal_info(inp: ForecastInput) -> dict[str, Any]:
    p = inp.proposal
    names = list(inp.building_names)
    before, after = inp.current_fees, inp.new_fees()
    return {
        "building_types": names,
        "fee_before": {n: float(x) for n, x in zip(names, before, strict=True)},
        "fee_after": {n: float(x) for n, x in zip(names, after, strict=True)},
        "step_pct": {
            n: float(a / b - 1) if b > 0 else None
            for n, a, b in zip(names, after, before, strict=True)
        },
        "headline_step_pct": inp.headline_step(),
        "service_improvement": float(p.service_quality),
        "quality_first_months": int(p.quality_first_months),
        "trial_months": int(p.trial_months),
        "disclosure": p.disclosure,
        "negotiation_meetings": bool(p.negotiation_meetings),
        "door_to_door_rounds": int(p.door_to_door_rounds),
        "renovation_bundled": bool(p.renovation_bundled),
        "campaign_steps": int(p.campaign_steps),
        "packages": [
            {"name": k.name, "fee_per_m2": k.fee_per_m2, "service_improvement": k.quality}
            for k in p.packages
        ],
    }


def _binding(v: Any, null: bool) -> dict[str, Any]:
    none = dict.fromkeys(TESTS, 0.0)
    if null or not v.voted.any():
        return {"binding": none, "binding_failed": None, "binding_test": None}
    counts = np.bincount(v.binding[v.voted], minlength=len(TESTS))
    n = max(int(v.voted.sum()), 1)
    binding = {t: float(c / n) for t, c in zip(TESTS, counts, strict=True)}
    failed = v.voted & ~v.passed
    if failed.any():
        fc = np.bincount(v.binding[failed], minlength=len(TESTS))
        bf = {t: float(c / failed.sum()) for t, c in zip(TESTS, fc, strict=True)}
        top = TESTS[int(np.argmax(fc))]
    else:
        bf = None
        top = TESTS[int(np.argmax(counts))]
    return {"binding": binding, "binding_failed": bf, "binding_test": top}


def _bands(x: np.ndarray) -> dict[str, list[float | None]]:
    with np.errstate(all="ignore"):
        q = np.nanquantile(x, [0.05, 0.5, 0.95], axis=0) if x.size else np.zeros((3, 0))
        mean = np.nanmean(x, axis=0)
    return {
        "mean": [_clean(float(a)) for a in mean],
        "p05": [_clean(float(a)) for a in q[0]],
        "p50": [_clean(float(a)) for a in q[1]],
        "p95": [_clean(float(a)) for a in q[2]],
    }


def _exit_path(b: BranchOutcome, vm: int, T: int) -> list[float]:
    m = np.arange(T)
    gone = (b.exit_month[:, None] >= 0) & (b.exit_month[:, None] <= m[None, :])
    return [float(x) for x in gone.mean(axis=0)]


def _uncertainty(
    passed: np.ndarray, member: np.ndarray, members: int, d: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "seed_se": d["pass_probability_se"],
        "ensemble_members": members,
        "pass_probability_by_member": None,
        "between_member_sd": None,
    }
    if members > 1:
        per = np.array([passed[member == k].mean() for k in range(members) if (member == k).any()])
        out["pass_probability_by_member"] = dist(per)
        out["between_member_sd"] = float(per.std(ddof=1)) if per.size > 1 else None
    return out
