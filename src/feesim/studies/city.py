"""The synthetic city: communities drawn by district and housing type from the sources.

:func:`generate` draws a portfolio table (:mod:`feesim.studies.portfolio`) for a synthetic Shanghai
or one of its districts from the 2018-19 price monitoring averages (AGG-07: commodity and 售后房
(sold public housing), multi-storey and high-rise, by district) and the scale of AGG-08 (27,500
communities, old-community fees typically 0.4-0.8 yuan/m2/month); the rest is judgement, documented
in the fields of :class:`Generator` (the ``[generator]`` table of a portfolio file).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from feesim.config.params import param
from feesim.errors import ConfigError

__all__ = ["AGG07_CITY", "AGG07_FEES", "GENERATED_HOUSEHOLDS", "Generator", "generate"]

#: Households a drawn community has at least and at most (:func:`generate` clips each drawn
#: size to this range; a portfolio's ``[generator]`` is checked against it).
GENERATED_HOUSEHOLDS = (50, 12500)

#: Average fee (yuan/m2/month, 2018-19) by district: commodity multi-storey, commodity high-rise,
#: 售后房 multi-storey, 售后房 high-rise. AGG-07 (Shanghai property association price monitoring,
#: 8,149 communities; averages include contract price, public income and government rewards).
AGG07_FEES: dict[str, tuple[float, float, float, float]] = {
    "Pudong": (1.30, 2.08, 1.18, 1.51),
    "Huangpu": (2.83, 3.00, 1.40, 2.27),
    "Jing'an": (1.56, 2.51, 1.41, 1.72),
    "Xuhui": (1.58, 2.71, 1.17, 1.74),
    "Changning": (3.12, 3.24, 1.27, 1.89),
    "Putuo": (1.48, 2.07, 1.13, 1.73),
    "Hongkou": (1.46, 2.15, 0.97, 1.63),
    "Yangpu": (1.48, 2.01, 1.14, 1.66),
    "Baoshan": (1.18, 1.76, 1.11, 1.37),
    "Minhang": (1.97, 1.98, 1.18, 1.52),
    "Jiading": (1.36, 2.11, 1.18, 1.60),
    "Jinshan": (0.74, 1.50, 0.75, 1.31),
    "Songjiang": (1.32, 1.94, 1.23, 2.05),
    "Qingpu": (1.71, 2.12, 1.41, 1.85),
    "Fengxian": (1.00, 1.92, 0.82, 2.27),
    "Chongming": (0.99, 1.50, 0.73, 2.23),
}
#: City averages of the same four columns (AGG-07).
AGG07_CITY = (1.49, 2.18, 1.15, 2.15)


@dataclass(frozen=True)
class Generator:
    """How to draw a synthetic Shanghai-like set of communities (judgement unless sourced)."""

    communities: int = param(
        27500,
        unit="communities",
        lo=1,
        hi=200000,
        doc="number of communities",
        source="AGG-08: 27,500 residential communities in Shanghai (May 2025)",
    )
    households: int = param(
        10_000_000,
        unit="households",
        lo=6,
        hi=50_000_000,
        doc="total households (approximate)",
        source="model.md: about 10 million households",
    )
    districts: tuple[str, ...] = param(
        (), doc="districts to draw from (default: all 16 of AGG-07, equally weighted)"
    )
    share_old_public: float = param(
        0.40,
        unit="share",
        lo=0,
        hi=1,
        doc="sold public housing (售后房) among communities",
        source="judgement; AGG-08: 82% of buildings are over 20 years old",
    )
    share_old_commodity: float = param(
        0.40, unit="share", lo=0, hi=1, doc="older commodity estates among communities"
    )
    households_sd_log: float = param(
        0.7,
        unit="log",
        lo=0,
        hi=3,
        doc="spread of community sizes (lognormal)",
        source="model.md: old Shanghai estates 300-3,000 households",
    )
    old_fee_low: float = param(
        0.4, unit="yuan/m2/month", lo=0, hi=10, source="AGG-08: old-community fees 0.4-0.8"
    )
    old_fee_high: float = param(0.8, unit="yuan/m2/month", lo=0, hi=10, source="AGG-08")
    collection_old: float = param(
        0.78,
        unit="share",
        lo=0.05,
        hi=0.99,
        doc="mean collection of old communities",
        source="domain-rules B7: old Shanghai estates 50-80%; national ~76-82%",
    )
    other_income_cap: float = param(
        0.5,
        unit="yuan/m2/month",
        lo=0,
        hi=20,
        doc="most public income and rewards an old estate earns beyond its fee",
        source="judgement: AGG-07 averages include public income and rewards; old estates "
        "have little parking or advertising",
    )
    collection_new: float = param(
        0.88,
        unit="share",
        lo=0.05,
        hi=0.99,
        doc="mean collection of newer estates",
        source="AGG-16: 2024 key-city average 82%; good cases above 90%",
    )

    def _validate(self, path: str) -> None:
        if self.share_old_public + self.share_old_commodity > 1 + 1e-9:
            raise ConfigError(f"{path}.share_old_commodity: shares of old housing exceed 1")
        unknown = [d for d in self.districts if d not in AGG07_FEES]
        if unknown:
            raise ConfigError(
                f"{path}.districts: got {unknown[0]!r}; expected one of {', '.join(AGG07_FEES)}"
            )


def generate(spec: Generator, rng: np.random.Generator) -> pd.DataFrame:
    """Draw a synthetic portfolio table (see :class:`Generator` for the sources)."""
    n = spec.communities
    districts = list(spec.districts or AGG07_FEES)
    district = np.array(districts)[rng.integers(0, len(districts), n)]
    u = rng.random(n)
    kind = np.where(
        u < spec.share_old_public,
        "old_public",
        np.where(
            u < spec.share_old_public + spec.share_old_commodity, "old_commodity", "commodity"
        ),
    )
    mean_size = spec.households / n
    size = rng.lognormal(
        np.log(mean_size) - spec.households_sd_log**2 / 2, spec.households_sd_log, n
    )
    households = np.clip(np.round(size), *GENERATED_HOUSEHOLDS).astype(int)
    fees = np.array([AGG07_FEES[d] for d in district])
    city = np.array(AGG07_CITY)
    old = kind != "commodity"
    public = kind == "old_public"
    # Old estates: AGG-08's 0.4-0.8 range, shifted by the district's 售后房 level vs the city's.
    rel = np.where(public, fees[:, 2] / city[2], fees[:, 0] / city[0])
    old_fee = rng.uniform(spec.old_fee_low, spec.old_fee_high, n) * np.clip(rel, 0.6, 1.6)
    new_multi = fees[:, 0] * rng.lognormal(0.0, 0.15, n)
    new_high = fees[:, 1] * rng.lognormal(0.0, 0.15, n)
    fee_multi = np.where(old, old_fee, new_multi)
    # High-rise premium of the district (AGG-07 high-rise minus multi-storey), halved for old.
    premium = np.where(public, fees[:, 3] - fees[:, 2], fees[:, 1] - fees[:, 0])
    fee_high = np.where(old, old_fee + 0.5 * np.maximum(premium, 0.2), new_high)
    share_high = np.where(old, rng.choice([0.0, 0.0, 0.3, 0.6], n), rng.choice([0.5, 0.8, 1.0], n))
    # AGG-07 levels include public income and government rewards: what a community's firm
    # earns beyond its contract fee is the district level minus the fee (old estates capped).
    level = (
        np.where(public, fees[:, 2], fees[:, 0]) * (1 - share_high)
        + np.where(public, fees[:, 3], fees[:, 1]) * share_high
    )
    fee_mix = fee_multi * (1 - share_high) + fee_high * share_high
    subsidy = np.where(public, 0.25, 0.0)  # Pudong/Zhoupu old public housing (domain-rules 5)
    other = np.clip(level - fee_mix - subsidy, 0.0, None)
    other = np.where(old, np.minimum(other, spec.other_income_cap), other)
    mean_collection = np.where(old, spec.collection_old, spec.collection_new)
    collection = np.clip(rng.beta(mean_collection * 12, (1 - mean_collection) * 12), 0.3, 0.99)
    table = pd.DataFrame(
        {
            "community": [f"{d}-{i:05d}" for i, d in enumerate(district)],
            "district": district,
            "households": households,
            "housing_kind": kind,
            "share_high_rise": share_high,
            "fee_multi": np.round(fee_multi, 2),
            "fee_high": np.round(fee_high, 2),
            "mean_area_m2": np.round(
                np.where(old, rng.uniform(45, 70, n), rng.uniform(80, 120, n)), 1
            ),
            "collection": np.round(collection, 3),
            "trust": np.round(rng.uniform(0.35, 0.65, n), 3),
            "billing": np.where(old, "quarterly", "monthly"),
            "tier": np.where(public, "basic", np.where(old, "basic", "tidy")),
            "committee": np.where(public, rng.choice(["executive", "owners"], n), "owners"),
            "capacity": np.round(rng.uniform(0.2, 0.8, n), 2),
            "subsidy_per_m2": subsidy,
            "other_income_per_m2": np.round(other, 3),
        }
    )
    return table
