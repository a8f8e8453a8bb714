"""Households as a struct of numpy arrays, for one community or many at once.

A *batch* holds ``R`` runs (replicates of one scenario, or different communities). Households
of all runs sit in one set of arrays, sorted by run, then building type, then stairwell group,
so that per-run and per-group sums are contiguous ``np.add.reduceat`` calls and run-level values
reach households through one ``take``. Owners (vote heads) are a second, shorter set of arrays:
an owner of several units is one head with the units' areas summed (SPC interpretation Art. 9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from feesim.config.scenario import Scenario
from feesim.engine.rng import Decision, Streams

__all__ = [
    "CC",
    "FR",
    "UP",
    "Households",
    "build_households",
    "per_household",
    "template_index",
    "tile_households",
]

#: Behavioural types: conditional cooperator, free rider, unconditional payer.
CC, FR, UP = 0, 1, 2

F32 = np.float32


@dataclass(eq=False)
class Households:
    """State of every household (unit) of a batch; arrays of length ``n``.

    Static attributes are set once; dynamic ones change month by month. Money is in fen
    (0.01 yuan) as int64 so that the ledger balances exactly.
    """

    # -- layout -------------------------------------------------------------------------------
    n_runs: int
    n_types: int  # building types per run (padded to the largest scenario)
    run: np.ndarray  # int32 run of each household
    run_start: np.ndarray  # int64 (R+1,) first household of each run, and n
    rb: np.ndarray  # int32 run * n_types + building type, to take (run, type) values
    btype: np.ndarray  # int8 building type
    group: np.ndarray  # int32 stairwell group (global id)
    group_start: np.ndarray  # int64 (G+1,) first household of each group
    group_run: np.ndarray  # int32 run of each group
    owner: np.ndarray  # int32 owner (global id) of each unit
    # -- owners (vote heads) ------------------------------------------------------------------
    owner_primary: np.ndarray  # int64 the owner's first unit (it speaks for the owner)
    owner_area_c: np.ndarray  # int64 owner's summed area in 0.01 m2 (exact vote arithmetic)
    owner_run: np.ndarray  # int32
    owner_start: np.ndarray  # int64 (R+1,) first owner of each run
    # -- static attributes --------------------------------------------------------------------
    area: np.ndarray  # float32 m2
    htype: np.ndarray  # int8 CC / FR / UP
    absentee: np.ndarray  # bool: owner lives elsewhere
    renter: np.ndarray  # bool: an absentee owner's unit let to renters (else empty)
    retiree: np.ndarray  # bool
    leader: np.ndarray  # bool: floor leader, party member or volunteer
    income: np.ndarray  # float32 yuan/month
    area_per_income: np.ndarray  # float32 m2 per yuan of monthly income (burden = fee * this)
    qbias: np.ndarray  # float32 perception offset
    trust0: np.ndarray  # float32 trust disposition
    engagement0: np.ndarray  # float32 engagement offset
    # -- dynamic state ------------------------------------------------------------------------
    habit: np.ndarray  # float32 payment record in [0, 1]
    trust_personal: np.ndarray  # float32 personal trust experience (suits, visits)
    endorsed: np.ndarray  # float32 commitment to the fee in force (1 = the owner voted for it)
    owed_cycle: np.ndarray  # int64 fen unpaid of the current billing cycle's bill
    overdue: np.ndarray  # int64 fen unpaid of earlier cycles of this calendar year
    arrears: np.ndarray  # int64 fen unpaid of earlier years' bills
    owed_fund: np.ndarray  # int64 fen unpaid maintenance-fund top-up
    demand_month: np.ndarray  # int32 month the limitation clock last (re)started
    suit_month: np.ndarray  # int32 month a suit was filed (-1 none)

    @property
    def n(self) -> int:
        """Number of households in the batch."""
        return int(self.run.shape[0])

    def owed(self) -> np.ndarray:
        """Everything each household owes on property fees (fen)."""
        return self.owed_cycle + self.overdue + self.arrears

    @property
    def n_owners(self) -> int:
        """Number of owners (vote heads) in the batch."""
        return int(self.owner_run.shape[0])

    def subset(self, runs: np.ndarray) -> tuple[Households, np.ndarray, np.ndarray]:
        """The households of some runs as a batch of their own (a copy).

        Returns
        -------
        (households, units, owners) : Households, int64 array, int64 array
            The subset (runs renumbered 0..k-1 in the given order), and for each of its units and
            owners the index in this batch.
        """
        runs = np.asarray(runs, dtype=np.int64)
        owners = (
            np.concatenate([np.arange(self.owner_start[r], self.owner_start[r + 1]) for r in runs])
            if runs.size
            else np.zeros(0, dtype=np.int64)
        )
        return tile_households(self, runs), template_index(self, runs), owners

    def run_slice(self, r: int) -> slice:
        """Households of run ``r``."""
        return slice(int(self.run_start[r]), int(self.run_start[r + 1]))

    def per_run(self, values: np.ndarray) -> np.ndarray:
        """Sum ``values`` (length n) over the households of each run (length R)."""
        return _segment_sum(values, self.run_start)

    def mean(self, values: np.ndarray) -> np.ndarray:
        """Mean of ``values`` (length n) over the households of each run (float64, length R)."""
        return self.per_run(values.astype(np.float64)) / np.diff(self.run_start)

    def by_type(self, values_rb: np.ndarray) -> np.ndarray:
        """A (runs x building types) value as seen by each household (float32)."""
        return values_rb.astype(F32).ravel().take(self.rb)

    def per_group(self, values: np.ndarray) -> np.ndarray:
        """Sum ``values`` over each stairwell group."""
        return _segment_sum(values, self.group_start)

    def per_owner_run(self, values: np.ndarray) -> np.ndarray:
        """Sum owner-level ``values`` over the owners of each run."""
        return _segment_sum(values, self.owner_start)


def per_household(value: float | np.ndarray, run: np.ndarray) -> np.floating | np.ndarray:
    """A run-level parameter as seen by each household.

    A float32 scalar if it is the same for every run, else a float32 array taken by each
    household's run.
    """
    if np.ndim(value) == 0:
        return F32(value)
    return np.asarray(value, dtype=F32).take(run)


def _segment_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum over contiguous segments ``[starts[k], starts[k+1])``; empty segments give 0."""
    n_seg = starts.shape[0] - 1
    if values.dtype == np.bool_:
        values = values.astype(np.int64)
    out = np.zeros(n_seg, dtype=values.dtype if values.dtype.kind in "iu" else np.float64)
    nonempty = starts[1:] > starts[:-1]
    if values.shape[0] == 0 or not nonempty.any():
        return out
    sums = np.add.reduceat(values, starts[:-1][nonempty])
    out[nonempty] = sums
    return out


def _split_groups(n: int, lo: int, hi: int, rng: np.random.Generator) -> np.ndarray:
    """Sizes of consecutive stairwell groups covering ``n`` households, each in [lo, hi]."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sizes = rng.integers(lo, hi + 1, size=n // max(lo, 1) + 2)
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, n))
    sizes = sizes[: k + 1].copy()
    sizes[-1] -= int(cum[k] - n)
    if sizes.shape[0] > 1 and sizes[-1] < lo:
        sizes[-2] += sizes[-1]
        sizes = sizes[:-1]
    return sizes


def _type_counts(n: int, shares: Sequence[float]) -> np.ndarray:
    """Largest-remainder rounding of ``n * shares`` to integers summing to ``n``."""
    raw = np.asarray(shares, dtype=np.float64) * n
    counts = np.floor(raw).astype(np.int64)
    rest = n - int(counts.sum())
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


def build_households(scenarios: Sequence[Scenario], streams: Streams) -> Households:
    """Create the households of every run of a batch.

    Parameters
    ----------
    scenarios : sequence of Scenario
        One scenario per run (replicates repeat the same object).
    streams : Streams
        The batch's random streams; the population uses :attr:`Decision.POPULATION`.

    Returns
    -------
    Households
        Arrays sorted by run, building type and stairwell group; dynamic state at its month-0
        defaults (the model then sets habits to the community's baseline).
    """
    rng = streams.generator(Decision.POPULATION)
    n_types = max(len(s.community.building_types) for s in scenarios)
    cols: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "btype",
            "group_size",
            "area",
            "htype",
            "absentee",
            "retiree",
            "leader",
            "income",
            "qbias",
            "trust0",
            "engagement0",
            "owner_local",
            "n_owners",
        )
    }
    run_sizes = np.zeros(len(scenarios), dtype=np.int64)
    groups_per_run = np.zeros(len(scenarios), dtype=np.int64)
    for r, sc in enumerate(scenarios):
        c, b = sc.community, sc.behaviour
        n = c.households
        run_sizes[r] = n
        counts = _type_counts(n, [bt.share for bt in c.building_types])
        btype = np.repeat(np.arange(len(counts), dtype=np.int8), counts)
        area = np.empty(n, dtype=np.float64)
        sizes = []
        pos = 0
        for k, bt in enumerate(c.building_types):
            m = int(counts[k])
            a = rng.normal(bt.mean_area_m2, bt.area_sd_m2, size=m)
            area[pos : pos + m] = np.clip(a, 0.4 * bt.mean_area_m2, 2.5 * bt.mean_area_m2)
            sizes.append(_split_groups(m, c.stairwell_min, c.stairwell_max, rng))
            pos += m
        group_size = np.concatenate(sizes)
        groups_per_run[r] = group_size.shape[0]
        u = rng.random(n)
        htype = np.where(
            u < c.conditional_cooperator_share,
            CC,
            np.where(u < c.conditional_cooperator_share + c.free_rider_share, FR, UP),
        ).astype(np.int8)
        absentee = rng.random(n) < c.absentee_share
        retiree = (rng.random(n) < c.retiree_share) & ~absentee
        leader = (rng.random(n) < c.leader_share) & ~absentee
        income = np.where(
            retiree,
            c.pension_yuan_month * rng.lognormal(-0.045, 0.3, size=n),
            c.income_yuan_month * rng.lognormal(-0.125, 0.5, size=n),
        )
        qbias = rng.normal(0.0, b.quality_bias_sd, size=n)
        trust0 = rng.normal(c.initial_trust, b.trust_sd, size=n)
        engagement0 = (
            rng.normal(0.0, 0.15, size=n)
            + b.engagement_absentee * absentee
            + 0.1 * retiree
            + 0.25 * leader
        )
        # Owners: a few hold two units (one head, summed area); pair random distinct units.
        owner_local = np.arange(n, dtype=np.int64)
        pairs = round(c.multi_unit_owner_share * n / (1.0 + c.multi_unit_owner_share))
        if pairs > 0:
            chosen = rng.permutation(n)[: 2 * pairs]
            first, second = (
                np.minimum(chosen[0::2], chosen[1::2]),
                np.maximum(chosen[0::2], chosen[1::2]),
            )
            owner_local[second] = first
        # Renumber owners 0..k-1 in order of their primary (lowest) unit.
        is_primary = owner_local == np.arange(n)
        rank = np.cumsum(is_primary) - 1
        owner_local = rank[owner_local]
        for key, val in (
            ("btype", btype),
            ("group_size", group_size),
            ("area", area),
            ("htype", htype),
            ("absentee", absentee),
            ("retiree", retiree),
            ("leader", leader),
            ("income", income),
            ("qbias", qbias),
            ("trust0", trust0),
            ("engagement0", engagement0),
            ("owner_local", owner_local),
            ("n_owners", np.array([int(is_primary.sum())])),
        ):
            cols[key].append(val)

    cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    # Which absentee units are let: drawn from a stream of their own, so that the rest of the
    # population does not depend on the share of renters.
    occupancy = streams.generator(Decision.POPULATION, sub=2)
    let = (
        np.concatenate(
            [
                occupancy.random(sc.community.households) < sc.community.renter_share
                for sc in scenarios
            ]
        )
        if scenarios
        else np.zeros(0, dtype=bool)
    )
    n_total = int(run_sizes.sum())
    run_start = np.concatenate([[0], np.cumsum(run_sizes)]).astype(np.int64)
    run = np.repeat(np.arange(len(scenarios), dtype=np.int32), run_sizes)
    group_sizes = cat["group_size"].astype(np.int64)
    group_start = np.concatenate([[0], np.cumsum(group_sizes)]).astype(np.int64)
    group = np.repeat(np.arange(group_sizes.shape[0], dtype=np.int32), group_sizes)
    group_run = np.repeat(np.arange(len(scenarios), dtype=np.int32), groups_per_run)
    owners_per_run = cat["n_owners"].astype(np.int64)
    owner_offset = np.concatenate([[0], np.cumsum(owners_per_run)])
    owner = (cat["owner_local"].astype(np.int64) + owner_offset[:-1][run]).astype(np.int32)
    area = np.round(cat["area"], 2)
    area_c = np.rint(area * 100).astype(np.int64)
    n_owners = int(owner_offset[-1])
    owner_area_c = np.bincount(owner, weights=area_c, minlength=n_owners).astype(np.int64)
    # bincount with float weights is exact here: sums of integers far below 2**53.
    owner_primary = np.full(n_owners, n_total, dtype=np.int64)
    np.minimum.at(owner_primary, owner, np.arange(n_total, dtype=np.int64))
    income = np.maximum(cat["income"], 100.0)
    return Households(
        n_runs=len(scenarios),
        n_types=n_types,
        run=run,
        run_start=run_start,
        rb=(run.astype(np.int64) * n_types + cat["btype"]).astype(np.int32),
        btype=cat["btype"].astype(np.int8),
        group=group,
        group_start=group_start,
        group_run=group_run,
        owner=owner,
        owner_primary=owner_primary,
        owner_area_c=owner_area_c,
        owner_run=np.repeat(np.arange(len(scenarios), dtype=np.int32), owners_per_run),
        owner_start=owner_offset.astype(np.int64),
        area=area.astype(F32),
        htype=cat["htype"].astype(np.int8),
        absentee=cat["absentee"].astype(bool),
        renter=cat["absentee"].astype(bool) & let,
        retiree=cat["retiree"].astype(bool),
        leader=cat["leader"].astype(bool),
        income=income.astype(F32),
        area_per_income=(area / income).astype(F32),
        qbias=cat["qbias"].astype(F32),
        trust0=cat["trust0"].astype(F32),
        engagement0=cat["engagement0"].astype(F32),
        habit=np.ones(n_total, dtype=F32),
        trust_personal=np.zeros(n_total, dtype=F32),
        endorsed=np.zeros(n_total, dtype=F32),
        owed_cycle=np.zeros(n_total, dtype=np.int64),
        overdue=np.zeros(n_total, dtype=np.int64),
        arrears=np.zeros(n_total, dtype=np.int64),
        owed_fund=np.zeros(n_total, dtype=np.int64),
        demand_month=np.zeros(n_total, dtype=np.int32),
        suit_month=np.full(n_total, -1, dtype=np.int32),
    )


def template_index(template: Households, mapping: np.ndarray) -> np.ndarray:
    """For tiled households, the template household each household copies."""
    sizes = np.diff(template.run_start)[mapping]
    starts = template.run_start[mapping]
    return np.concatenate([np.arange(a, a + n) for a, n in zip(starts, sizes, strict=True)])


def tile_households(template: Households, mapping: np.ndarray) -> Households:
    """Households of a batch whose runs copy template runs: run ``r`` gets template ``mapping[r]``.

    Used when replicates of one community share a few household populations: the expensive
    month-0 history is computed once per template, and replicates still differ in every
    decision they draw afterwards (each household of each run has its own random numbers).
    """
    mapping = np.asarray(mapping, dtype=np.int64)
    sizes = np.diff(template.run_start)[mapping]
    src = template_index(template, mapping)
    n_runs = mapping.shape[0]
    run = np.repeat(np.arange(n_runs, dtype=np.int32), sizes)
    run_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    # Stairwell groups: copy each template run's groups with new ids.
    t_groups = np.diff(template.group_start)
    g_first = np.searchsorted(template.group_run, np.arange(template.n_runs), side="left")
    g_count = np.bincount(template.group_run, minlength=template.n_runs)
    g_src = np.concatenate([np.arange(g_first[j], g_first[j] + g_count[j]) for j in mapping])
    group_sizes = t_groups[g_src]
    group_start = np.concatenate([[0], np.cumsum(group_sizes)]).astype(np.int64)
    group = np.repeat(np.arange(group_sizes.shape[0], dtype=np.int32), group_sizes)
    group_run = np.repeat(np.arange(n_runs, dtype=np.int32), g_count[mapping])
    # Owners: same per run, renumbered.
    o_count = np.diff(template.owner_start)[mapping]
    owner_start = np.concatenate([[0], np.cumsum(o_count)]).astype(np.int64)
    o_src = np.concatenate(
        [
            np.arange(template.owner_start[j], template.owner_start[j] + c)
            for j, c in zip(mapping, o_count, strict=True)
        ]
    )
    local_owner = template.owner[src] - template.owner_start[mapping][run]
    owner = (local_owner + owner_start[:-1][run]).astype(np.int32)
    local_primary = (
        template.owner_primary[o_src]
        - template.run_start[mapping][np.repeat(np.arange(n_runs), o_count)]
    )
    owner_primary = local_primary + run_start[:-1][np.repeat(np.arange(n_runs), o_count)]
    per_unit = {
        name: getattr(template, name)[src].copy()
        for name in (
            "btype",
            "area",
            "htype",
            "absentee",
            "renter",
            "retiree",
            "leader",
            "income",
            "area_per_income",
            "qbias",
            "trust0",
            "engagement0",
            "habit",
            "trust_personal",
            "endorsed",
            "owed_cycle",
            "overdue",
            "arrears",
            "owed_fund",
            "demand_month",
            "suit_month",
        )
    }
    return Households(
        n_runs=n_runs,
        n_types=template.n_types,
        run=run,
        run_start=run_start,
        rb=(run.astype(np.int64) * template.n_types + per_unit["btype"]).astype(np.int32),
        group=group,
        group_start=group_start,
        group_run=group_run,
        owner=owner,
        owner_primary=owner_primary.astype(np.int64),
        owner_area_c=template.owner_area_c[o_src].copy(),
        owner_run=np.repeat(np.arange(n_runs, dtype=np.int32), o_count),
        owner_start=owner_start,
        **per_unit,
    )
