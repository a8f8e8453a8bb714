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

``calibration/targets.toml`` holds aggregate figures; tables with ``use = "objective"`` enter
the calibration's objective with their standard error ``se``.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from feesim.errors import ConfigError
from feesim.io import read_toml

__all__ = [
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
    "matter": {"fee", "maintenance_fund", "hire_firm", "parking", "frozen"},
    "status": {"passed", "rejected", "reverted", "unilateral", "proposed", "frozen"},
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
    "use_approval": {"fit", "target", "no", ""},
    "use_collection": {"fit", "frozen", "target", "no", ""},
    "use_turnout": {"fit", "no", ""},
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
    """

    raw: pd.DataFrame
    frame: pd.DataFrame
    path: Path
    sha256: str

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
    raw = raw.set_index("obs_id", drop=False)
    out: dict[str, list[object]] = {}
    for obs, r in raw.iterrows():
        derived = _derive(str(obs), r)
        for k, v in derived.items():
            out.setdefault(k, []).append(v)
    frame = pd.DataFrame(out, index=raw.index)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return CaseData(raw=raw, frame=frame, path=p, sha256=sha)


def _num(obs: str, r: pd.Series, col: str) -> float:
    text = r[col].strip()
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise _err(obs, col, text, "a number or an empty cell") from None


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
    intervals = {}
    for lo_c, hi_c in SHARE_PAIRS:
        lo, hi = r[lo_c].strip(), r[hi_c].strip()
        if (lo == "") != (hi == ""):
            raise _err(obs, f"{lo_c}/{hi_c}", (lo, hi), "both bounds or neither")
        a, b = _interval(lo, hi)
        if not math.isnan(a) and not 0 <= a <= b <= 1:
            raise _err(obs, f"{lo_c}/{hi_c}", (lo, hi), "0 <= lo <= hi <= 1")
        intervals[lo_c[: -len("_lo")]] = (a, b)
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
