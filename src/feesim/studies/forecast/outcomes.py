"""What one branch of a forecast produced: per-run arrays of the final vote and the series.

:class:`BranchOutcome` (with its :class:`VoteOutcomes`) is what the forecast engine
(:mod:`~feesim.studies.forecast.engine`) returns for the status quo and for the proposal, and
what :class:`~feesim.studies.forecast.result.ForecastResult` summarises and saves. It lives apart
from both so that the engine imports the result and not the other way round.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from feesim.engine.results import TEST_WORDS as ENGINE_TEST_WORDS

__all__ = [
    "APPROVAL_TESTS",
    "EXIT_WINDOWS",
    "QUORUM_TESTS",
    "SERIES",
    "TESTS",
    "TEST_WORDS",
    "BranchOutcome",
    "VoteOutcomes",
    "deciding_test_of",
]

#: Deciding tests of a vote, in the order of :data:`feesim.engine.rules.vote.TESTS`.
TESTS = ("quorum_heads", "quorum_area", "approval_heads", "approval_area")
#: The tests of the quorum and of the majorities (Civil Code Art. 278).
QUORUM_TESTS = TESTS[:2]
APPROVAL_TESTS = TESTS[2:]
#: The deciding tests in words (the engine's, :data:`feesim.engine.results.TEST_WORDS`).
TEST_WORDS = ENGINE_TEST_WORDS


def deciding_test_of(
    shares: dict[str, float] | None,
    among_failed: bool,
    groups: tuple[float, float] | None = None,
) -> str | None:
    """The test that decides a vote, from the shares of votes each test decided.

    ``shares`` maps each test of :data:`TESTS` to the share of votes it decided, counted among
    the failed votes when ``among_failed`` (as ``binding_failed`` of a forecast), else among all
    votes. Failed votes: the group that failed more often (missing the quorum against being
    voted down, as ``groups`` gives their shares of the runs when known, else the summed shares
    of their tests; a tie counts as the quorum), then its most frequent test. No failed votes: the
    test the votes came closest to failing. None when nothing was voted (no shares, or all
    zero). :meth:`~feesim.studies.forecast.result.ForecastResult.deciding_test`, which the
    summary and the report name, and the step search both apply it.
    """
    if not shares or not any(shares.values()):
        return None
    if not among_failed:
        return max(TESTS, key=lambda t: shares.get(t) or 0.0)
    if groups is not None:
        quorum, approval = groups
    else:
        quorum = sum(shares.get(t) or 0.0 for t in QUORUM_TESTS)
        approval = sum(shares.get(t) or 0.0 for t in APPROVAL_TESTS)
    group = QUORUM_TESTS if quorum >= approval else APPROVAL_TESTS
    return max(group, key=lambda t: shares.get(t) or 0.0)


#: Months after the vote over which firm exit is counted.
EXIT_WINDOWS = (12, 36)


# ==============================================================================================
# outcomes of one branch
# ==============================================================================================
@dataclass
class VoteOutcomes:
    """The final vote on the proposal in each run (arrays over runs)."""

    voted: np.ndarray  # bool: the motion came to a vote
    month: np.ndarray  # month of the final vote (-1 if none)
    attempts: np.ndarray  # votes held (a missed quorum may be retried)
    turnout_heads: np.ndarray
    turnout_area: np.ndarray
    approval_heads: np.ndarray
    approval_area: np.ndarray
    quorum_met: np.ndarray
    passed: np.ndarray
    binding: np.ndarray  # index into TESTS, -1 if no vote
    effective: np.ndarray  # the new fee took effect within the horizon

    @classmethod
    def empty(cls, n: int) -> VoteOutcomes:
        """No vote in any of ``n`` runs."""
        nan = np.full(n, np.nan)
        return cls(
            voted=np.zeros(n, bool),
            month=np.full(n, -1),
            attempts=np.zeros(n, np.int64),
            turnout_heads=nan.copy(),
            turnout_area=nan.copy(),
            approval_heads=nan.copy(),
            approval_area=nan.copy(),
            quorum_met=np.zeros(n, bool),
            passed=np.zeros(n, bool),
            binding=np.full(n, -1),
            effective=np.zeros(n, bool),
        )

    @staticmethod
    def concat(parts: Sequence[VoteOutcomes]) -> VoteOutcomes:
        """Join chunks in order."""
        return VoteOutcomes(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in dataclasses.fields(VoteOutcomes)
            }
        )


#: Monthly series kept per run (columns of :attr:`feesim.SimulationResult.series`).
SERIES = (
    "collection_rate",
    "firm_revenue_yuan",
    "firm_cost_yuan",
    "firm_cash_yuan",
    "service_quality",
    "fee_per_m2",
    "satisfaction",
    "trust",
)


@dataclass
class BranchOutcome:
    """What one branch (status quo or proposal) produced, as arrays over runs (and months).

    Attributes
    ----------
    series : dict of str to ndarray
        ``(runs, months)`` arrays of the columns in :data:`SERIES`.
    exit_month : ndarray
        First month at or after the vote in which the firm gave notice or left (-1: never).
    member : ndarray
        Ensemble member of each run (0 without an ensemble).
    vote : VoteOutcomes
        The final vote on the proposal in each run (empty for the status quo).
    """

    series: dict[str, np.ndarray]
    exit_month: np.ndarray
    member: np.ndarray
    vote: VoteOutcomes

    @property
    def runs(self) -> int:
        """Number of runs."""
        return int(self.exit_month.shape[0])

    @staticmethod
    def concat(parts: Sequence[BranchOutcome]) -> BranchOutcome:
        """Join chunks in order."""
        return BranchOutcome(
            series={k: np.concatenate([p.series[k] for p in parts]) for k in parts[0].series},
            exit_month=np.concatenate([p.exit_month for p in parts]),
            member=np.concatenate([p.member for p in parts]),
            vote=VoteOutcomes.concat([p.vote for p in parts]),
        )

    # -- as tables (for saving) ----------------------------------------------------------------
    def to_frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Two tidy tables: one row per run, one row per run and month.

        Returns
        -------
        runs : pandas.DataFrame
            ``run``, ``exit_month``, ``member`` and the :class:`VoteOutcomes` fields as
            ``vote_<field>``.
        series : pandas.DataFrame
            ``run``, ``month`` and the series columns.
        """
        R = self.runs
        runs = pd.DataFrame(
            {"run": np.arange(R), "exit_month": self.exit_month, "member": self.member}
        )
        for f in dataclasses.fields(VoteOutcomes):
            runs[f"vote_{f.name}"] = getattr(self.vote, f.name)
        T = next(iter(self.series.values())).shape[1] if self.series else 0
        series = pd.DataFrame(
            {"run": np.repeat(np.arange(R), T), "month": np.tile(np.arange(T), R)}
        )
        for k, v in self.series.items():
            series[k] = v.ravel()
        return runs, series

    @classmethod
    def from_frames(cls, runs: pd.DataFrame, series: pd.DataFrame) -> BranchOutcome:
        """Inverse of :meth:`to_frames`."""
        R = len(runs)
        T = len(series) // R if R else 0
        names = [c for c in series.columns if c not in ("run", "month")]
        return cls(
            series={k: series[k].to_numpy().reshape(R, T) for k in names},
            exit_month=runs["exit_month"].to_numpy(),
            member=runs["member"].to_numpy(),
            vote=VoteOutcomes(
                **{
                    f.name: runs[f"vote_{f.name}"].to_numpy()
                    for f in dataclasses.fields(VoteOutcomes)
                }
            ),
        )
