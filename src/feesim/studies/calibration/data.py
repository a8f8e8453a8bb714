"""The calibration data: reported community cases and aggregate targets.

``calibration/cases.csv`` holds one row per community-level observation as the sources printed
it (see ``calibration/README.md``); :func:`load_cases` validates it and derives what the
regressions and the simulation need:

- every outcome becomes an interval ``[lo, hi]`` on the share scale. A bound (">0.95") is
  ``[0.95, 1]``. A printed point value is the interval of its rounding: a figure printed with
  ``d`` decimals (at least two, as sources print whole percentages) stands for
  ``value +/- 0.5 * 10**-d``, so "100%" is ``[0.995, 1]`` and "85%" is ``[0.845, 0.855]``;
- approval is expressed as a share of the owners who took part (the model's
  ``approval_heads``). A share of *all* owners (or of all households consulted) is divided by the
  turnout when the turnout is known; when it is not, it is a lower bound on the share of
  participants (participants are at most all owners), so the interval becomes ``[lo, 1]``;
- regressors: ``step_pct`` (relative step), ``process`` (count of the process flags
  third-party audit, disclosure of accounts, negotiation meetings, trial period, renovation
  bundled, door-to-door, and the audit presumed by law for a Shanghai fee step from 2021 on,
  ``flag_legal_audit``, which the case mapping also simulates), ``quality_first_any`` (service
  visibly improved first, or a new firm or team came in first), ``years_frozen``;
  ``months_after`` is the months between the new fee and a collection figure (a figure without
  a date is read as a full-year figure, 12 months).

Columns ``use_approval``, ``use_collection`` and ``use_turnout`` say which regression (or
target) each outcome feeds, so that no figure is used twice.

The rows of the second sourcing pass (``shared/sources/cases_more.csv``, README section 8) add
columns for votes (subject, legal rule, result, ballot counts, turnout and approval as printed
with an explicit basis), changes of firm or governance, and firm exits, each with its own use
flag (``use_tally_turnout``, ``use_tally_approval``, ``use_event``, ``use_takeover``,
``use_exit``: ``fit``, ``none`` with a reason in ``use_note``, or empty). :func:`load_cases`
validates them and exposes them as tidy frames (:attr:`CaseData.tallies`, ``events``,
``takeovers``, ``exits``); the frame the current regressions read is unchanged by them. The
new columns are optional, so a file of the first coding still loads.

``calibration/targets.toml`` holds aggregate figures; tables with ``use = "objective"`` enter
the calibration's objective with their standard error ``se``.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from feesim.errors import ConfigError
from feesim.io import read_toml

__all__ = [
    "EXIT_CIRCUMSTANCES",
    "CaseData",
    "Target",
    "calibration_dir",
    "data_hash",
    "load_cases",
    "load_targets",
    "rounding_interval",
]

#: Allowed values of the categorical columns.
ALLOWED = {
    "matter": {"fee", "maintenance_fund", "hire_firm", "parking", "frozen", "other"},
    "status": {"passed", "rejected", "reverted", "unilateral", "proposed", "frozen", "voided"},
    "approval_basis": {"participants", "all_owners", "households_consulted", "unknown", ""},
    "collection_basis": {"year_to_date", "annual", "cumulative_since_bill", "unknown", ""},
    "housing_kind": {
        "old_public",
        "old_commodity",
        "commodity",
        "resettlement",
        "mixed",
        "unknown",
    },
    "billing": {"monthly", "quarterly", "yearly", ""},
    # ``none``: a figure of the second pass that the current fit does not read (README 8.5).
    "use_approval": {"fit", "target", "no", "none", ""},
    "use_collection": {"fit", "frozen", "target", "no", "none", ""},
    "use_turnout": {"fit", "no", "none", ""},
}
FLAGS = (
    "quality_first",
    "trial_period",
    "renovation_bundled",
    "third_party_audit",
    "disclosure",
    "firm_replaced",
    "door_to_door",
    "negotiation_meetings",
    "package_menu",
)
#: Flags counted in the ``process`` regressor (with ``legal_audit``, derived below).
PROCESS_FLAGS = (
    "third_party_audit",
    "disclosure",
    "negotiation_meetings",
    "trial_period",
    "renovation_bundled",
    "door_to_door",
)
#: From this year a Shanghai fixed-fee increase follows an audit or price assessment
#: (Shanghai Provisions Art. 48, 沪房规范〔2021〕6号 §15): a step of a Shanghai case from this year
#: on that reports no third-party audit is presumed to have had one (``flag_legal_audit``).
LEGAL_AUDIT_YEAR = 2021
SHARE_PAIRS = (
    ("approval_heads_lo", "approval_heads_hi"),
    ("approval_area_lo", "approval_area_hi"),
    ("collection_before_lo", "collection_before_hi"),
    ("collection_after_lo", "collection_after_hi"),
)
NUMERIC = (
    "households",
    "floor_area_m2",
    "share_high_rise",
    "fee_before",
    "fee_after",
    "fee_before_multi",
    "fee_after_multi",
    "fee_before_high",
    "fee_after_high",
    "step_yuan",
    "step_pct",
    "years_since_adjustment",
    "turnout_heads",
    "turnout_area",
    "collection_months_after",
    "reliability_weight",
    "assumed_fee_before",
    "fee_cost_ratio",
    "year",
    *(c for pair in SHARE_PAIRS for c in pair),
)
#: Months assumed for a collection figure printed without a date (a full-year figure).
UNDATED_MONTHS = 12.0

# -- columns of the second sourcing pass (README section 8); optional ---------------------------
#: Bases of a printed approval share (README 8.3). Turnout is always a share of all owners (heads)
#: or of all exclusive area; Hong Kong's undivided shares are kept in the area columns.
TALLY_BASES = ("participants", "valid_ballots", "all_owners", "shares", "all_shares", "unknown")
#: Vote results that are events (the others: ``unknown``, ``advisory``).
DECIDED = ("passed", "failed", "no_quorum", "voided")
#: What a firm exit came with (``exit_circumstances``, several joined by ``;``).
EXIT_CIRCUMSTANCES = frozenset(
    {
        "low_collection",
        "arrears",
        "fee_cut_vote",
        "fee_cut_demand",
        "increase_refused",
        "rising_costs",
        "low_occupancy",
        "developer_dispute",
        "fund_dispute",
        "committee_conflict",
        "contract_expiry",
        "no_fee_promise",
        "repeated",
    }
)
MORE_USES = ("use_tally_turnout", "use_tally_approval", "use_event", "use_takeover", "use_exit")
MORE_ALLOWED = {
    "record_kind": {"vote", "fee_step", "takeover", "collection_level", "exit", ""},
    "vote_subject": {"fee", "menu", "hire_firm", "dismiss_firm", "renewal", "bylaws", ""},
    "vote_rule": {
        "civil_code_278",
        "civil_code_278_silent",
        "property_law_76",
        "hk_bmo",
        "tw_condominium",
        "none",
        "unknown",
        "",
    },
    "vote_result": {*DECIDED, "unknown", "advisory", ""},
    "firm_change": {
        "new_firm",
        "new_team",
        "custodian",
        "self_management",
        "soe_takeover",
        "community_firm",
        "trust_model",
        "cost_plus",
        "exit",
        "",
    },
    "fee_unit": {"yuan/household/month", "HKD/month", "TWD/household/month", "TWD/ping/month", ""},
    "tally_approval_heads_basis": {*TALLY_BASES, ""},
    "tally_approval_area_basis": {*TALLY_BASES, ""},
    **{col: {"fit", "none", ""} for col in MORE_USES},
}
#: Ballot counts (whole numbers) and areas (m2).
VOTE_COUNTS = ("eligible_heads", "votes_cast", "votes_valid", "votes_yes", "votes_no")
AREA_COUNTS = ("eligible_area_m2", "area_cast_m2")
#: Each count must not exceed the first of its containers that is given.
CONTAINERS = {
    "votes_yes": ("votes_valid", "votes_cast", "eligible_heads"),
    "votes_no": ("votes_valid", "votes_cast", "eligible_heads"),
    "votes_valid": ("votes_cast", "eligible_heads"),
    "votes_cast": ("eligible_heads",),
    "area_cast_m2": ("eligible_area_m2",),
}
#: Printed tally intervals: (measure, count) -> (lo column, hi column, basis column or None).
TALLY_COLUMNS = {
    ("turnout", "heads"): ("tally_turnout_heads_lo", "tally_turnout_heads_hi", None),
    ("turnout", "area"): ("tally_turnout_area_lo", "tally_turnout_area_hi", None),
    ("approval", "heads"): (
        "tally_approval_heads_lo",
        "tally_approval_heads_hi",
        "tally_approval_heads_basis",
    ),
    ("approval", "area"): (
        "tally_approval_area_lo",
        "tally_approval_area_hi",
        "tally_approval_area_basis",
    ),
}
MORE_COLUMNS = (
    *MORE_ALLOWED,
    *VOTE_COUNTS,
    *AREA_COUNTS,
    *(c for lo, hi, _ in TALLY_COLUMNS.values() for c in (lo, hi)),
    "fee_unchanged",
    "exit_date",
    "exit_circumstances",
    "use_note",
)
#: Old use flags whose ``fit`` (or ``target``) would count a figure that a new flag also uses.
SAME_FIGURE = (
    ("use_approval", "use_tally_approval"),
    ("use_approval", "use_event"),
    ("use_turnout", "use_tally_turnout"),
    ("use_collection", "use_takeover"),
)


def calibration_dir() -> Path:
    """The ``calibration`` folder of the source tree (or of the working directory)."""
    root = Path(__file__).resolve().parents[4]
    candidate = root / "calibration"
    if (candidate / "cases.csv").is_file():
        return candidate
    return Path.cwd() / "calibration"


def rounding_interval(text: str) -> tuple[float, float]:
    """Interval a printed share stands for: +/- half a unit of its last printed decimal.

    At least two decimals are assumed (sources print whole percentages), so ``"1.0"`` means
    ``[0.995, 1]``.

    Examples
    --------
    >>> rounding_interval("0.85")
    (0.845, 0.855)
    >>> rounding_interval("1")
    (0.995, 1.0)
    """
    value = float(text)
    decimals = len(text.split(".", 1)[1]) if "." in text else 0
    half = 0.5 * 10.0 ** (-max(decimals, 2))
    return round(max(0.0, value - half), 10), round(min(1.0, value + half), 10)


def _interval(lo: str, hi: str) -> tuple[float, float]:
    """Interval of a ``lo``/``hi`` cell pair (both empty: NaN)."""
    if lo == "" and hi == "":
        return math.nan, math.nan
    if lo == hi:
        return rounding_interval(lo)
    return float(lo), float(hi)


@dataclass(frozen=True)
class CaseData:
    """Validated cases with derived intervals and regressors.

    Attributes
    ----------
    raw : pandas.DataFrame
        The CSV as text (one row per observation, ``obs_id`` index).
    frame : pandas.DataFrame
        Derived columns (``obs_id`` index): ``case_id``, ``weight``, ``approval_lo/hi``
        (share of participants), ``turnout_lo/hi``, ``collection_lo/hi``,
        ``collection_before`` (midpoint or NaN), ``months_after``, ``step_pct``, ``step_yuan``,
        ``process``, ``quality_first``, ``log_months``, ``years_frozen``, the flags, the
        ``use_*`` columns and the inputs the simulation needs.
    path : pathlib.Path
    sha256 : str
        Hash of the file content.
    tallies : pandas.DataFrame
        Second-pass vote figures, one row per figure: ``obs_id``, ``case_id``, ``measure``
        (``turnout`` or ``approval``), ``count`` (``heads`` or ``area``; Hong Kong's undivided
        shares count as area), ``basis`` (turnout: ``all_owners``; approval: one of
        ``TALLY_BASES``), ``lo``, ``hi``, ``source`` (``counts``: a ratio of ballot counts, exact;
        ``printed``: a printed share as an interval; ``implied``: a share of all owners read as
        a bound on the share of participants, as for the approval regression), ``use``
        (``use_tally_turnout`` or ``use_tally_approval``), and the vote's ``vote_subject``,
        ``vote_rule``, ``vote_result``, ``year``, ``weight``, ``disputed``.
    events : pandas.DataFrame
        One row per second-pass vote (``obs_id`` index): ``vote_subject``, ``vote_rule``,
        ``vote_result``, ``passed`` (1, 0 or NaN; a voided vote had passed), ``quorum_met``
        (1 for a vote passed under Civil Code Art. 278, 0 for ``no_quorum``, else NaN), what the
        result implies under its rule (``implied_turnout_lo``, ``implied_approval_lo`` and
        ``implied_approval_basis``), ``matter``, ``step_pct``, ``year``, ``weight``,
        ``disputed`` and ``use`` (``use_event``).
    takeovers : pandas.DataFrame
        Rows with a ``use_takeover`` flag (``obs_id`` index): ``firm_change``,
        ``fee_unchanged`` (1, 0 or NaN), collection before and after as intervals, the months
        and basis of the after figure, ``year``, ``households``, ``weight``, ``use``.
    exits : pandas.DataFrame
        Rows with a ``use_exit`` flag (``obs_id`` index): ``exit_date``, ``exit_year``,
        ``circumstances`` and one boolean column per :data:`EXIT_CIRCUMSTANCES` token,
        ``firm_change`` (what came after), fees (yuan/m2/month, or ``fee_unit``), the collection
        level at the exit (``collection_at_exit_lo/hi``), ``households``, ``floor_area_m2``,
        ``housing_kind``, ``year``, ``weight``, ``use``.
    """

    raw: pd.DataFrame
    frame: pd.DataFrame
    path: Path
    sha256: str
    tallies: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    takeovers: pd.DataFrame = field(default_factory=pd.DataFrame)
    exits: pd.DataFrame = field(default_factory=pd.DataFrame)

    def rows(self, outcome: str) -> pd.DataFrame:
        """Rows feeding one regression: ``approval``, ``turnout``, ``collection``, ``frozen``."""
        f = self.frame
        if outcome == "frozen":
            return f[f["use_collection"] == "frozen"]
        return f[f[f"use_{outcome}"] == "fit"]

    @property
    def n_sourced_outcomes(self) -> int:
        """Rows with a source URL and at least one outcome interval."""
        f = self.frame
        has = f[["approval_lo", "turnout_lo", "collection_lo", "collection_before"]].notna()
        return int((has.any(axis=1) & (self.raw["source_url"] != "")).sum())


def _err(obs: str, column: str, value: object, expected: str) -> ConfigError:
    return ConfigError(f"cases.csv[{obs}].{column}: got {value!r}; expected {expected}")


def load_cases(path: str | Path | None = None) -> CaseData:
    """Load and validate ``calibration/cases.csv``.

    Raises
    ------
    ConfigError
        Naming the row, the column, the value and what is allowed.
    """
    p = Path(path) if path is not None else calibration_dir() / "cases.csv"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"cases: file {str(p)!r} does not exist") from None
    records = list(csv.DictReader(text.splitlines()))
    if not records:
        raise ConfigError(f"cases: {str(p)!r} holds no rows")
    raw = pd.DataFrame(records, dtype=str).fillna("")
    required = {"obs_id", "case_id", "source_url", *ALLOWED, *FLAGS, *NUMERIC}
    missing = sorted(required - set(raw.columns))
    if missing:
        raise ConfigError(f"cases.csv: missing columns {missing}")
    if raw["obs_id"].duplicated().any():
        dup = raw.loc[raw["obs_id"].duplicated(), "obs_id"].iloc[0]
        raise _err(dup, "obs_id", dup, "a unique id")
    for col in MORE_COLUMNS:
        if col not in raw.columns:
            raw[col] = ""  # a file of the first coding: no second-pass columns
    raw = raw.set_index("obs_id", drop=False)
    out: dict[str, list[object]] = {}
    more: dict[str, list[dict[str, object]]] = {k: [] for k in MORE_FRAMES}
    for obs, r in raw.iterrows():
        derived = _derive(str(obs), r)
        for k, v in derived.items():
            out.setdefault(k, []).append(v)
        for k, records in _second_pass(str(obs), r, derived).items():
            more[k].extend(records)
    frame = pd.DataFrame(out, index=raw.index)
    frames = {k: pd.DataFrame(more[k], columns=list(cols)) for k, cols in MORE_FRAMES.items()}
    for k in ("events", "takeovers", "exits"):
        frames[k] = frames[k].set_index("obs_id")
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return CaseData(raw=raw, frame=frame, path=p, sha256=sha, **frames)


def _num(obs: str, r: pd.Series, col: str) -> float:
    text = r[col].strip()
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise _err(obs, col, text, "a number or an empty cell") from None


def _share_pair(obs: str, r: pd.Series, lo_c: str, hi_c: str) -> tuple[float, float]:
    """Validated interval of a ``lo``/``hi`` pair of share columns (both empty: NaN)."""
    lo, hi = r[lo_c].strip(), r[hi_c].strip()
    if (lo == "") != (hi == ""):
        raise _err(obs, f"{lo_c}/{hi_c}", (lo, hi), "both bounds or neither")
    try:
        a, b = _interval(lo, hi)
    except ValueError:
        raise _err(obs, f"{lo_c}/{hi_c}", (lo, hi), "two shares in [0, 1]") from None
    if not math.isnan(a) and not 0 <= a <= b <= 1:
        raise _err(obs, f"{lo_c}/{hi_c}", (lo, hi), "0 <= lo <= hi <= 1")
    return a, b


def _derive(obs: str, r: pd.Series) -> dict[str, object]:
    for col, allowed in ALLOWED.items():
        if r[col] not in allowed:
            raise _err(obs, col, r[col], f"one of {sorted(a for a in allowed if a)} or empty")
    for col in FLAGS:
        if r[col] not in ("", "0", "1"):
            raise _err(obs, col, r[col], "1, 0 or empty")
    nums = {c: _num(obs, r, c) for c in NUMERIC}
    w = nums["reliability_weight"]
    if not 0 < w <= 1:
        raise _err(obs, "reliability_weight", r["reliability_weight"], "a weight in (0, 1]")
    if r["source_url"].strip() == "":
        raise _err(obs, "source_url", "", "a URL or seed:<file>")
    intervals = {lo_c[: -len("_lo")]: _share_pair(obs, r, lo_c, hi_c) for lo_c, hi_c in SHARE_PAIRS}
    for col in ("turnout_heads", "turnout_area", "share_high_rise", "fee_cost_ratio"):
        v = nums[col]
        if not math.isnan(v) and not 0 <= v <= 1:
            raise _err(obs, col, r[col], "a share in [0, 1]")
    flags = {c: float(r[c] == "1") for c in FLAGS}
    flags["legal_audit"] = float(
        r["city"] == "Shanghai"
        and nums["year"] >= LEGAL_AUDIT_YEAR
        and r["matter"] == "fee"
        and nums["step_pct"] > 0
        and not flags["third_party_audit"]
    )
    # -- approval as a share of participants ------------------------------------------------
    a_lo, a_hi = intervals["approval_heads"]
    if math.isnan(a_lo):
        a_lo, a_hi = intervals["approval_area"]
    turnout = nums["turnout_heads"]
    if not math.isnan(a_lo) and r["approval_basis"] in ("all_owners", "households_consulted"):
        if math.isnan(turnout) or turnout <= 0:
            a_hi = 1.0
        else:
            a_lo, a_hi = min(1.0, a_lo / turnout), min(1.0, a_hi / turnout)
    t_lo, t_hi = (math.nan, math.nan)
    if not math.isnan(turnout):
        t_lo, t_hi = rounding_interval(r["turnout_heads"].strip())
    c_lo, c_hi = intervals["collection_after"]
    b_lo, b_hi = intervals["collection_before"]
    months = nums["collection_months_after"]
    use = {k: r[k] for k in ("use_approval", "use_collection", "use_turnout")}
    checks = (
        ("use_approval", a_lo, "an approval interval"),
        ("use_turnout", t_lo, "a turnout figure"),
    )
    for col, value, what in checks:
        if use[col] and math.isnan(value):
            raise _err(obs, col, use[col], f"empty (the row has no {what})")
    if use["use_approval"] == "target" and not r.get("example", ""):
        raise _err(obs, "use_approval", "target", "a row with an example scenario")
    if use["use_collection"] in ("fit", "frozen", "target") and math.isnan(c_lo):
        raise _err(obs, "use_collection", use["use_collection"], "empty (no collection figure)")
    step = nums["step_pct"]
    if (use["use_approval"] == "fit" or use["use_collection"] == "fit") and math.isnan(step):
        raise _err(obs, "step_pct", "", "a relative step for a row used in a step regression")
    if use["use_collection"] == "frozen" and math.isnan(nums["years_since_adjustment"]):
        raise _err(obs, "years_since_adjustment", "", "years frozen for a frozen-fee row")
    m_eff = UNDATED_MONTHS if math.isnan(months) else months
    return {
        "case_id": r["case_id"],
        "community": r["community"],
        "matter": r["matter"],
        "status": r["status"],
        "housing_kind": r["housing_kind"],
        "billing": r["billing"],
        "example": r.get("example", ""),
        "city": r["city"],
        "year": nums["year"],
        "weight": w,
        "disputed": r["disputed"] == "1",
        "approval_lo": a_lo,
        "approval_hi": a_hi,
        "turnout_lo": t_lo,
        "turnout_hi": t_hi,
        "collection_lo": c_lo,
        "collection_hi": c_hi,
        "collection_basis": r["collection_basis"],
        "collection_before": (b_lo + b_hi) / 2 if not math.isnan(b_lo) else math.nan,
        "months_after": m_eff,
        "log_months": math.log(max(m_eff, 0.1)),
        "years_frozen": nums["years_since_adjustment"],
        "step_pct": step,
        "step_yuan": nums["step_yuan"],
        "process": float(sum(flags[f] for f in (*PROCESS_FLAGS, "legal_audit"))),
        "quality_first_any": max(flags["quality_first"], flags["firm_replaced"]),
        **{f"flag_{k}": v for k, v in flags.items()},
        **{k: nums[k] for k in NUMERIC if k.startswith(("fee_", "households", "share_"))},
        "assumed_fee_before": nums["assumed_fee_before"],
        "fee_cost_ratio": nums["fee_cost_ratio"],
        "floor_area_m2": nums["floor_area_m2"],
        **use,
        "source_url": r["source_url"],
    }


# ----------------------------------------------------------------------------------------------
# the second sourcing pass: votes, changes of firm, exits (README section 8)
# ----------------------------------------------------------------------------------------------
_VOTE = ("vote_subject", "vote_rule", "vote_result")
_CONTEXT = ("vote_subject", "vote_rule", "vote_result", "year", "weight", "disputed")
MORE_FRAMES = {
    "tallies": (
        "obs_id",
        "case_id",
        "measure",
        "count",
        "basis",
        "lo",
        "hi",
        "source",
        "use",
        *_CONTEXT,
    ),
    "events": (
        "obs_id",
        "case_id",
        *_VOTE,
        "passed",
        "quorum_met",
        "implied_turnout_lo",
        "implied_approval_lo",
        "implied_approval_basis",
        "matter",
        "step_pct",
        "city",
        "year",
        "weight",
        "disputed",
        "use",
    ),
    "takeovers": (
        "obs_id",
        "case_id",
        "firm_change",
        "fee_unchanged",
        "collection_before_lo",
        "collection_before_hi",
        "collection_after_lo",
        "collection_after_hi",
        "collection_months_after",
        "collection_basis",
        "city",
        "year",
        "households",
        "weight",
        "use",
    ),
    "exits": (
        "obs_id",
        "case_id",
        "exit_date",
        "exit_year",
        "circumstances",
        *sorted(EXIT_CIRCUMSTANCES),
        "firm_change",
        "fee_before",
        "fee_after",
        "fee_unit",
        "collection_at_exit_lo",
        "collection_at_exit_hi",
        "households",
        "floor_area_m2",
        "housing_kind",
        "city",
        "year",
        "weight",
        "use",
    ),
}


def _exit_year(obs: str, text: str) -> float:
    """Year of an ``exit_date`` written ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (empty: NaN)."""
    if text == "":
        return math.nan
    parts = text.split("-")
    try:
        if len(parts) == 3:
            datetime.date.fromisoformat(text)
        elif len(parts) == 2 and len(parts[1]) == 2:
            datetime.date.fromisoformat(f"{text}-01")
        elif len(parts) != 1:
            raise ValueError
        if len(parts[0]) != 4:
            raise ValueError
        return float(int(parts[0]))
    except ValueError:
        raise _err(obs, "exit_date", text, "a date YYYY, YYYY-MM or YYYY-MM-DD") from None


def _tally_records(obs: str, r: pd.Series) -> list[dict[str, object]]:
    """Turnout and approval figures of a vote row: from the counts, printed, implied."""
    n: dict[str, float] = {}
    for col in (*VOTE_COUNTS, *AREA_COUNTS):
        v = _num(obs, r, col)
        whole = col in VOTE_COUNTS
        if not math.isnan(v) and (v < 0 or (whole and v != int(v))):
            raise _err(obs, col, r[col], "a whole number >= 0" if whole else "a number >= 0")
        n[col] = v
    for col, containers in CONTAINERS.items():
        outer = next((c for c in containers if not math.isnan(n[c])), None)
        if outer is not None and n[col] > n[outer]:
            raise _err(obs, col, r[col], f"at most {outer} ({n[outer]:g})")
    yes_no = n["votes_yes"] + n["votes_no"]
    outer = next((c for c in CONTAINERS["votes_yes"] if not math.isnan(n[c])), None)
    if outer is not None and yes_no > n[outer]:
        raise _err(obs, "votes_yes+votes_no", yes_no, f"at most {outer} ({n[outer]:g})")
    # Ratios of counts are exact: lo == hi.
    ratios = {
        ("turnout", "heads", "all_owners"): ("votes_cast", "eligible_heads"),
        ("turnout", "area", "all_owners"): ("area_cast_m2", "eligible_area_m2"),
        ("approval", "heads", "participants"): ("votes_yes", "votes_cast"),
        ("approval", "heads", "valid_ballots"): ("votes_yes", "votes_valid"),
        ("approval", "heads", "all_owners"): ("votes_yes", "eligible_heads"),
    }
    found: dict[tuple[str, str, str], tuple[float, float, str]] = {}
    for key, (num, den) in ratios.items():
        if n[den] > 0 and not math.isnan(n[num]):
            x = n[num] / n[den]
            found[key] = (x, x, "counts")
    for (measure, count), (lo_c, hi_c, basis_c) in TALLY_COLUMNS.items():
        a, b = _share_pair(obs, r, lo_c, hi_c)
        basis = r[basis_c] if basis_c else "all_owners"
        if math.isnan(a):
            if basis_c and basis:
                raise _err(obs, basis_c, basis, "empty (the row has no such approval figure)")
            continue
        if basis_c and not basis:
            raise _err(obs, basis_c, "", f"one of {list(TALLY_BASES)} for a printed approval")
        key = (measure, count, basis)
        if key in found:
            # Printed and counted: the count ratio must lie in the printed interval.
            x = found[key][0]
            if not a - 1e-9 <= x <= b + 1e-9:
                lo = r[lo_c].strip()
                raise _err(obs, lo_c, lo, f"an interval holding {x:.4f}, the ratio of the counts")
            continue
        found[key] = (a, b, "printed")
    for count in ("heads", "area"):
        # A share of all owners bounds the share of participants (README 1.3).
        share = found.get(("approval", count, "all_owners"))
        if share is None or ("approval", count, "participants") in found:
            continue
        turnout = found.get(("turnout", count, "all_owners"))
        lo, hi = share[0], 1.0
        if turnout is not None and turnout[0] > 0:
            lo, hi = min(1.0, share[0] / turnout[1]), min(1.0, share[1] / turnout[0])
        found[("approval", count, "participants")] = (lo, hi, "implied")
    counted = any(not math.isnan(v) for v in n.values())
    if (found or counted) and not r["vote_subject"]:
        raise _err(
            obs, "vote_subject", "", "a vote subject for a row with ballot counts or a tally"
        )
    return [
        {"measure": m, "count": c, "basis": b, "lo": lo, "hi": hi, "source": src}
        for (m, c, b), (lo, hi, src) in found.items()
    ]


def _event(
    obs: str, r: pd.Series, d: dict[str, object], tallies: list[dict[str, object]]
) -> dict[str, object]:
    """Pass/fail of a vote and what its result implies under its rule (README 8.4)."""
    result, rule = r["vote_result"], r["vote_rule"]
    passed = {"passed": 1.0, "voided": 1.0, "failed": 0.0, "no_quorum": 0.0}.get(result, math.nan)
    quorum, turnout_lo, approval_lo, basis = math.nan, math.nan, math.nan, ""
    if rule == "civil_code_278":
        # Art. 278: 2/3 of heads AND of area take part; a passed vote met the quorum, and more
        # than 1/2 of the participants approved (3/4 for raising maintenance funds), both counts.
        turnout = {t["count"]: (t["lo"], t["hi"]) for t in tallies if t["measure"] == "turnout"}
        if any(hi < 2 / 3 for _, hi in turnout.values()):
            quorum = 0.0
        elif len(turnout) == 2 and all(lo >= 2 / 3 for lo, _ in turnout.values()):
            quorum = 1.0
        if result == "no_quorum":
            quorum = 0.0
        if result == "passed":
            if quorum == 0.0:
                quorum_rule = "a result the turnout tally allows under Art. 278 (quorum 2/3)"
                raise _err(obs, "vote_result", result, quorum_rule)
            quorum, turnout_lo, basis = 1.0, 2 / 3, "participants"
            approval_lo = 0.75 if d["matter"] == "maintenance_fund" else 0.5
    elif rule == "property_law_76" and result == "passed":
        # Property Law Art. 76 (to 2020): more than half of ALL owners by heads and area.
        approval_lo, basis = 0.5, "all_owners"
    return {
        "passed": passed,
        "quorum_met": quorum,
        "implied_turnout_lo": turnout_lo,
        "implied_approval_lo": approval_lo,
        "implied_approval_basis": basis,
    }


def _second_pass(
    obs: str, r: pd.Series, d: dict[str, object]
) -> dict[str, list[dict[str, object]]]:
    """Validate the second-pass columns of a row; its records for the tidy frames."""
    for col, allowed in MORE_ALLOWED.items():
        if r[col] not in allowed:
            raise _err(obs, col, r[col], f"one of {sorted(a for a in allowed if a)} or empty")
    if r["fee_unchanged"] not in ("", "0", "1"):
        raise _err(obs, "fee_unchanged", r["fee_unchanged"], "1, 0 or empty")
    flags = ("use_approval", "use_collection", "use_turnout", *MORE_USES)
    if any(r[c] == "none" for c in flags) and not r["use_note"].strip():
        raise _err(obs, "use_note", "", "the reason a figure marked 'none' is not used")
    for old, new in SAME_FIGURE:
        if r[old] in ("fit", "frozen", "target") and r[new] == "fit":
            raise _err(
                obs, new, "fit", f"not 'fit' while {old} is {r[old]!r} (each figure used once)"
            )
    vote = [r[c] for c in _VOTE]
    if any(vote) and not all(vote):
        missing = next(c for c in _VOTE if not r[c])
        raise _err(obs, missing, "", "set with the other vote columns (subject, rule, result)")
    circumstances = (
        [t.strip() for t in r["exit_circumstances"].split(";")]
        if r["exit_circumstances"].strip()
        else []
    )
    for token in circumstances:
        if token not in EXIT_CIRCUMSTANCES:
            raise _err(
                obs,
                "exit_circumstances",
                token,
                f"';'-joined items of {sorted(EXIT_CIRCUMSTANCES)}",
            )
    exit_year = _exit_year(obs, r["exit_date"].strip())
    tallies = _tally_records(obs, r)
    measures = {t["measure"] for t in tallies}
    needs = (
        ("use_tally_turnout", "turnout" in measures, "turnout tally"),
        ("use_tally_approval", "approval" in measures, "approval tally"),
        ("use_event", r["vote_result"] in DECIDED, f"vote_result among {list(DECIDED)}"),
        ("use_takeover", r["firm_change"] not in ("", "exit"), "firm_change other than exit"),
        ("use_exit", bool(circumstances), "exit_circumstances"),
    )
    for col, present, what in needs:
        if r[col] and not present:
            raise _err(obs, col, r[col], f"empty (the row has no {what})")
    before = _share_pair(obs, r, "collection_before_lo", "collection_before_hi")
    if r["use_takeover"] == "fit" and (math.isnan(before[0]) or math.isnan(d["collection_lo"])):
        raise _err(obs, "use_takeover", "fit", "a row with collection before and after")
    context = {"case_id": d["case_id"], "city": d["city"], "year": d["year"], "weight": d["weight"]}
    out: dict[str, list[dict[str, object]]] = {k: [] for k in MORE_FRAMES}
    for t in tallies:
        use = r[f"use_tally_{t['measure']}"]
        out["tallies"].append(
            {"obs_id": obs, **context, **t, "use": use, "disputed": d["disputed"]}
            | {c: r[c] for c in _VOTE}
        )
    if all(vote):
        out["events"].append(
            {"obs_id": obs, **context, **{c: r[c] for c in _VOTE}, **_event(obs, r, d, tallies)}
            | {"matter": d["matter"], "step_pct": d["step_pct"], "disputed": d["disputed"]}
            | {"use": r["use_event"]}
        )
    if r["use_takeover"]:
        out["takeovers"].append(
            {
                "obs_id": obs,
                **context,
                "firm_change": r["firm_change"],
                "fee_unchanged": float(r["fee_unchanged"]) if r["fee_unchanged"] else math.nan,
                "collection_before_lo": before[0],
                "collection_before_hi": before[1],
                "collection_after_lo": d["collection_lo"],
                "collection_after_hi": d["collection_hi"],
                "collection_months_after": _num(obs, r, "collection_months_after"),
                "collection_basis": d["collection_basis"],
                "households": d["households"],
                "use": r["use_takeover"],
            }
        )
    if r["use_exit"]:
        out["exits"].append(
            {
                "obs_id": obs,
                **context,
                "exit_date": r["exit_date"].strip(),
                "exit_year": exit_year,
                "circumstances": ";".join(circumstances),
                **{t: t in circumstances for t in EXIT_CIRCUMSTANCES},
                "firm_change": r["firm_change"],
                "fee_before": d["fee_before"],
                "fee_after": d["fee_after"],
                "fee_unit": r["fee_unit"],
                # The level at (or just before) the exit is coded as collection before.
                "collection_at_exit_lo": before[0],
                "collection_at_exit_hi": before[1],
                "households": d["households"],
                "floor_area_m2": d["floor_area_m2"],
                "housing_kind": d["housing_kind"],
                "use": r["use_exit"],
            }
        )
    return out


# ----------------------------------------------------------------------------------------------
# targets
# ----------------------------------------------------------------------------------------------
USES = ("objective", "check", "rows", "context")


@dataclass(frozen=True)
class Target:
    """One aggregate target of the objective (or a check reported beside it).

    Attributes
    ----------
    name : str
        Key of the table in ``targets.toml`` plus a suffix for multi-point targets.
    value : float
        Target value (a lower bound when ``kind == "lower"``).
    se : float
        Tolerance used as standard error in the objective.
    kind : str
        ``"point"``, ``"lower"`` or ``"upper"`` (one-sided bounds: no loss on their side).
    use : str
        ``"objective"`` or ``"check"``.
    source_id, note : str
    case_id : str
        The community the target describes (left out with it in leave-one-out), or "".
    """

    name: str
    value: float
    se: float
    kind: str
    use: str
    source_id: str
    note: str
    case_id: str = ""


def load_targets(path: str | Path | None = None) -> tuple[dict, list[Target]]:
    """Read ``targets.toml``: the raw tables and the targets used by the calibration.

    Tables with ``use = "objective"`` or ``"check"`` define ``moments``: a list of tables with
    ``name``, ``value``, ``se`` and ``kind``.

    Raises
    ------
    ConfigError
        For a missing file, bad TOML, an unknown ``use`` or an incomplete moment.
    """
    p = Path(path) if path is not None else calibration_dir() / "targets.toml"
    try:
        data = read_toml(p, "targets")
    except ConfigError as exc:
        raise ConfigError(f"targets: {exc}") from None
    out: list[Target] = []
    for key, table in data.items():
        if not isinstance(table, dict):
            continue
        use = table.get("use", "context")
        if use not in USES:
            raise ConfigError(f"targets.{key}.use: got {use!r}; expected one of {list(USES)}")
        if use not in ("objective", "check"):
            continue
        moments = table.get("moments")
        if not isinstance(moments, list) or not moments:
            raise ConfigError(f"targets.{key}.moments: expected a list of moment tables")
        for i, m in enumerate(moments):
            for f in ("name", "value", "se", "kind"):
                if f not in m:
                    raise ConfigError(f"targets.{key}.moments[{i}].{f}: missing")
            if m["kind"] not in ("point", "lower", "upper"):
                raise ConfigError(
                    f"targets.{key}.moments[{i}].kind: got {m['kind']!r}; expected 'point', "
                    "'lower' or 'upper'"
                )
            if not float(m["se"]) > 0:
                raise ConfigError(f"targets.{key}.moments[{i}].se: got {m['se']!r}; expected > 0")
            out.append(
                Target(
                    name=str(m["name"]),
                    value=float(m["value"]),
                    se=float(m["se"]),
                    kind=str(m["kind"]),
                    use=use,
                    source_id=str(table.get("source_id", "")),
                    note=str(m.get("note", table.get("note", ""))),
                    case_id=str(table.get("case_id", "")),
                )
            )
    return data, out


def data_hash(cases: CaseData, targets_path: str | Path | None = None) -> str:
    """Short hash of the cases and targets files (identifies the data a fit used)."""
    p = Path(targets_path) if targets_path is not None else cases.path.parent / "targets.toml"
    h = hashlib.sha256(cases.sha256.encode())
    if p.is_file():
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def finite(x: float) -> bool:
    """Whether ``x`` is a finite number."""
    return bool(np.isfinite(x))
