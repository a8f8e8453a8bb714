"""The dashboard's drawings as SVG and HTML text, fast enough to redraw every month.

A trainer plays a ten-year run in front of a room: each month the page shows new lines, the
monitor numbers and the latest vote. Redrawing matplotlib figures took 1.5-3.7 s a month; these
drawings are SVG text built from the run's numbers (a few milliseconds), sent to the browser as
one element and drawn there, crisp at any projector resolution. Text in them is real text, in
the page's font (the shipped Chinese font is embedded in the page, see
:func:`feesim.surfaces.fonts.css_font_face`), so Chinese renders on any machine.

Scales are fixed for a base community (:func:`scales`): the x axis spans the whole horizon from
the first month and each panel's y axis is set by the community, not by the run, so presets can
be compared by eye; values beyond a scale are drawn at its edge.

Nothing here imports solara: the functions take plain numbers and return text.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from feesim.i18n import N_
from feesim.i18n import gettext as _

__all__ = [
    "EVENTS",
    "PANELS",
    "RunTrace",
    "Scales",
    "community_png",
    "cycle_svg",
    "monitor_html",
    "run_trace",
    "scales",
    "vote_svg",
]

#: Colours (colour-blind safe pairs, as :data:`feesim.surfaces.plotting.COLOURS`).
LINE = "#1f4e79"
YTD = "#6a9fd4"
GHOST = "#9e9e9e"
GRID = "#e3e3e3"
AXIS = "#555555"
PAID, OPEN, UNPAID = "#2e7d32", "#a5d6a7", "#c62828"
YES, NO, ABSENT = "#1565c0", "#ef6c00", "#cfd8dc"

#: The four panels of the cycle chart: key, title, what the y axis shows.
PANELS: tuple[tuple[str, str], ...] = (
    ("fee", N_("Fee (yuan per m² per month)")),
    ("quality", N_("Service quality (1 = liveable standard)")),
    ("collection", N_("Collection rate (收缴率)")),
    ("cash", N_("Firm's cash (thousand yuan)")),
)

#: Events marked on the chart: engine event name -> (label, colour).
EVENTS: dict[str, tuple[str, str]] = {
    "passed": (N_("vote passed"), "#2e7d32"),
    "rejected": (N_("vote failed"), "#c62828"),
    "no_quorum": (N_("vote: no quorum"), "#c62828"),
    "fee_changed": (N_("new fee"), "#1b5e20"),
    "rolled_back": (N_("step rolled back"), "#ef6c00"),
    "notice": (N_("firm gives notice"), "#6a1b9a"),
    "firm_exit": (N_("firm leaves"), "#6a1b9a"),
    "emergency_provider": (N_("temporary provider (应急物业)"), "#8d6e63"),
    "firm_hired": (N_("new firm"), "#1565c0"),
    "state_provider": (N_("district state-owned provider"), "#455a64"),
}
#: Which labels win the room on the chart when events crowd together, first first: the firm
#: leaving and who takes over, then the votes and the fee, then the rest.
EVENT_ORDER: tuple[str, ...] = (
    "firm_exit",
    "state_provider",
    "firm_hired",
    "passed",
    "rejected",
    "no_quorum",
    "rolled_back",
    "fee_changed",
    "notice",
    "emergency_provider",
)


@dataclass
class RunTrace:
    """What the cycle chart draws of one run: one value per simulated month.

    Attributes
    ----------
    months : ndarray
    fee, quality, collection_ytd, collection_12m, cash : ndarray
        Area-weighted fee (yuan/m2/month), delivered service quality, collection year to date
        and over the trailing twelve months, the serving provider's cash (yuan).
    events : list of (month, event)
    """

    months: np.ndarray
    fee: np.ndarray
    quality: np.ndarray
    collection_ytd: np.ndarray
    collection_12m: np.ndarray
    cash: np.ndarray
    events: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.months)


def run_trace(series: pd.DataFrame, trace: pd.DataFrame, events: pd.DataFrame) -> RunTrace:
    """A :class:`RunTrace` from a run's series, the dashboard model's trace and its events.

    ``series`` is :attr:`feesim.SimulationResult.series` of one run, ``trace`` the dashboard
    model's :meth:`~feesim.surfaces.dashboard.model.DashboardModel.trace_frame` (trailing
    twelve-month collection), ``events`` the run's event table.
    """
    s = series[series["run"] == 0] if "run" in series else series
    n = min(len(s), len(trace))
    ev = [
        (int(m), str(e))
        for m, e in zip(events["month"], events["event"], strict=True)
        if str(e) in EVENTS
    ]
    return RunTrace(
        months=s["month"].to_numpy()[:n],
        fee=s["fee_per_m2"].to_numpy(dtype=float)[:n],
        quality=s["service_quality"].to_numpy(dtype=float)[:n],
        collection_ytd=s["collection_rate"].to_numpy(dtype=float)[:n],
        collection_12m=trace["collection"].to_numpy(dtype=float)[:n],
        cash=s["firm_cash_yuan"].to_numpy(dtype=float)[:n],
        events=ev,
    )


@dataclass(frozen=True)
class Scales:
    """Fixed axes of the cycle chart for one base community."""

    months: int
    fee: tuple[float, float]
    cash: tuple[float, float]
    start_year: int
    start_month: int


def _nice(x: float, strict: bool = False) -> float:
    """The next 'round' number at or above ``x``.

    1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k; with ``strict`` only 1, 2, 2.5, 5 x 10^k (tick
    steps and scale ends).
    """
    if x <= 0:
        return 1.0
    k = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10) if strict else (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * k >= x - 1e-12:
            return m * k
    return 10 * k


def scales(base: Any, months: int) -> Scales:
    """Fixed scales for the base community ``base`` (a Scenario) over ``months``.

    Fee: 0 to 2.2 times the highest fee of the base (room for a step of up to +100% and a new
    firm's higher fee). Cash: from -1/4 to 1 year of the fee revenue the base bills at its
    fees; a run's cash beyond it is drawn at the edge.
    """
    bts = base.community.building_types
    top = max(b.fee_per_m2 for b in bts)
    area = sum(b.share * b.mean_area_m2 for b in bts) * base.community.households
    year = 12 * area * sum(b.share * b.fee_per_m2 for b in bts) / 1e3  # thousand yuan
    hi = _nice(year, strict=True)
    start = str(base.simulation.start)
    return Scales(
        months=int(months),
        fee=(0.0, _nice(2.2 * top, strict=True)),
        cash=(-_nice(hi / 4, strict=True), hi),
        start_year=int(start[:4]),
        start_month=int(start[5:7]),
    )


# ==============================================================================================
# the cycle chart
# ==============================================================================================
# Flat enough that the four panels, the monitor numbers and the levers fit one 1366x768 (or
# 1280x720) projector screen: the page scales the chart to the height left for it.
W, PANEL_H, GAP, LEFT, RIGHT, TOP, BOTTOM = 1200, 96, 36, 78, 16, 62, 34


def _ticks(lo: float, hi: float) -> np.ndarray:
    """Round tick values from ``lo`` to ``hi`` (4 to 6 of them, on a 1-2-2.5-5 step)."""
    span = hi - lo
    for step in (_nice(span / 5, True), _nice(span / 4, True), _nice(span / 3, True)):
        k = math.ceil(lo / step - 1e-9)
        ticks = np.arange(k, math.floor(hi / step + 1e-9) + 1) * step
        if 3 <= len(ticks) <= 6:
            return ticks
    return np.linspace(lo, hi, 5)


def _label_width(text: str, size: float = 14.0) -> float:
    """Rough width in pixels of ``text`` at ``size``: CJK about a square, Latin about 0.6."""
    wide = sum(1 for ch in text if ord(ch) > 0x2E7F)
    return size * (wide + 0.6 * (len(text) - wide))


def _fmt(v: float, digits: int) -> str:
    return f"{v:.{digits}f}"


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    pts = [
        f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True) if np.isfinite(y) and np.isfinite(x)
    ]
    return "M" + " L".join(pts) if pts else ""


def cycle_svg(
    run: RunTrace | None,
    sc: Scales,
    *,
    ghost: RunTrace | None = None,
    ghost_label: str = "",
) -> str:
    """The cycle chart: fee, service, collection (trailing 12 months and year to date), cash.

    Four full-width panels on one month axis spanning the horizon, fixed scales (``sc``), the
    run's events as labelled lines, and ``ghost`` (the previous run) as a grey dashed line.
    Returns an ``<svg>`` element scaled to the width of its container.
    """
    n_panels = len(PANELS)
    height = TOP + n_panels * PANEL_H + (n_panels - 1) * GAP + BOTTOM
    plot_w = W - LEFT - RIGHT
    months = max(sc.months, 1)

    def xpos(m: np.ndarray | float) -> Any:
        return LEFT + np.asarray(m, dtype=float) / months * plot_w

    ranges = {
        "fee": sc.fee,
        "quality": (0.0, 1.1),
        # above 100%: a campaign recovering old arrears brings in more than the year billed
        # (the virtuous preset reaches about 115%)
        "collection": (0.0, 1.25),
        "cash": sc.cash,
    }
    out = [
        f'<svg class="feesim-cycle-svg" viewBox="0 0 {W} {height}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" '
        'font-size="16" style="display:block">',
        f'<rect width="{W}" height="{height}" fill="white"/>',
    ]
    for k, (key, title) in enumerate(PANELS):
        top = TOP + k * (PANEL_H + GAP)
        lo, hi = ranges[key]

        def ypos(v: np.ndarray, top: float = top, lo: float = lo, hi: float = hi) -> Any:
            v = np.clip(np.asarray(v, dtype=float), lo, hi)
            return top + PANEL_H - (v - lo) / (hi - lo) * PANEL_H

        out.append(
            f'<text x="{LEFT}" y="{top - 9}" font-size="18" font-weight="600" '
            f'fill="#222">{html.escape(_(title))}</text>'
        )
        # y grid and labels
        ticks = _ticks(lo, hi)
        for t in ticks:
            y = float(ypos(t))
            out.append(
                f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            )
            label = (
                f"{t:.0%}"
                if key == "collection"
                else _fmt(t, 2)
                if key in ("fee", "quality")
                else f"{t:,.0f}"
            )
            out.append(
                f'<text x="{LEFT - 8}" y="{y + 5:.1f}" text-anchor="end" fill="{AXIS}">'
                f"{label}</text>"
            )
        if key == "cash" and lo < 0 < hi:
            y = float(ypos(0.0))
            out.append(
                f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#888"/>'
            )
        out.append(
            f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_H}" fill="none" '
            f'stroke="#bbb"/>'
        )
        # year lines (every January)
        first_jan = (13 - sc.start_month) % 12
        for m in range(first_jan, months + 1, 12):
            x = float(xpos(m))
            out.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + PANEL_H}" stroke="{GRID}"/>'
            )
        for trace, ghosted in ((ghost, True), (run, False)):
            if trace is None or len(trace) == 0:
                continue
            xs = xpos(trace.months)
            values = {
                "fee": trace.fee,
                "quality": trace.quality,
                "collection": trace.collection_12m,
                "cash": trace.cash / 1e3,
            }[key]
            colour = GHOST if ghosted else LINE
            dash = ' stroke-dasharray="7 5"' if ghosted else ""
            width = 2.5 if ghosted else 3.5
            out.append(
                f'<path d="{_path(xs, ypos(values))}" fill="none" stroke="{colour}" '
                f'stroke-width="{width}"{dash} stroke-linejoin="round"/>'
            )
            if key == "collection" and not ghosted:
                out.append(
                    f'<path d="{_path(xs, ypos(trace.collection_ytd))}" fill="none" '
                    f'stroke="{YTD}" stroke-width="2" stroke-dasharray="2 4"/>'
                )
        if key == "collection":
            legend = [
                (LINE, "", _("last 12 months (recovered arrears count)")),
                (YTD, ' stroke-dasharray="2 4"', _("this year so far (starts again each January)")),
            ]
            x = LEFT + 260
            for colour, dash, label in legend:
                out.append(
                    f'<line x1="{x}" x2="{x + 34}" y1="{top - 13}" y2="{top - 13}" '
                    f'stroke="{colour}" stroke-width="3"{dash}/>'
                    f'<text x="{x + 40}" y="{top - 8}" fill="#333" font-size="15">'
                    f"{html.escape(label)}</text>"
                )
                x += 40 + 24 + _label_width(label, 15)
        if key == "fee" and ghost is not None and len(ghost):
            text = ghost_label or _("previous run")
            out.append(
                f'<line x1="{W - RIGHT - 250}" x2="{W - RIGHT - 216}" y1="{top - 13}" '
                f'y2="{top - 13}" stroke="{GHOST}" stroke-width="2.5" stroke-dasharray="7 5"/>'
                f'<text x="{W - RIGHT - 210}" y="{top - 8}" fill="#666" font-size="15">'
                f"{html.escape(text)}</text>"
            )
    # x axis: years
    bottom = TOP + n_panels * PANEL_H + (n_panels - 1) * GAP
    first_jan = (13 - sc.start_month) % 12
    for m in range(first_jan, months + 1, 12):
        x = float(xpos(m))
        year = sc.start_year + (sc.start_month - 1 + m) // 12
        out.append(
            f'<text x="{x:.1f}" y="{bottom + 23}" text-anchor="middle" fill="{AXIS}">{year}</text>'
        )
    # events: a line through every panel (its label as a tooltip), and a label on top. Events
    # of one month share a label. Labels are placed by importance (EVENT_ORDER), each in the
    # first of two rows where it overlaps no label already there; one with no room is left
    # out (its line and tooltip stay). Near the right edge a label ends at its line.
    if run is not None:
        by_month: dict[int, list[str]] = {}
        for month, event in sorted(run.events, key=lambda e: e[0]):  # logged order within
            names = by_month.setdefault(int(month), [])
            if event not in names:
                names.append(event)
        placed: list[list[tuple[float, float]]] = [[], []]
        labels = []
        for month, names in by_month.items():
            x = float(xpos(month))
            label = " · ".join(_(EVENTS[e][0]) for e in names)
            for event in names:
                out.append(
                    f'<line class="feesim-event" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 24}" '
                    f'y2="{bottom}" stroke="{EVENTS[event][1]}" stroke-width="1.6" '
                    f'stroke-dasharray="4 3" opacity="0.8"><title>{html.escape(label)}</title>'
                    "</line>"
                )
            last = len(EVENT_ORDER)
            rank = min(EVENT_ORDER.index(e) if e in EVENT_ORDER else last for e in names)
            labels.append((rank, month, x, label, EVENTS[names[0]][1]))
        for _rank, _month, x, label, colour in sorted(labels):
            width = _label_width(label)
            at_end = x + 3 + width > W - 4
            span = (x - 3 - width, x - 3) if at_end else (x + 3, x + 3 + width)
            row = next(
                (
                    r
                    for r in (0, 1)
                    if all(span[1] + 8 < a or b + 8 < span[0] for a, b in placed[r])
                ),
                None,
            )
            if row is None:
                continue
            placed[row].append(span)
            anchor = ' text-anchor="end"' if at_end else ""
            out.append(
                f'<text class="feesim-event-label" x="{x - 3 if at_end else x + 3:.1f}" '
                f'y="{15 + 17 * row}" fill="{colour}" font-size="14" font-weight="600"{anchor}>'
                f"{html.escape(label)}</text>"
            )
    out.append("</svg>")
    return "".join(out)


# ==============================================================================================
# monitor numbers, the vote, the community
# ==============================================================================================
def monitor_html(items: Sequence[tuple[str, str, str]]) -> str:
    """Big numbers: one tile per ``(label, value, note)``."""
    tiles = "".join(
        "<div class='feesim-tile'>"
        f"<div class='feesim-tile-label'>{html.escape(label)}</div>"
        f"<div class='feesim-tile-value'>{html.escape(value)}</div>"
        f"<div class='feesim-tile-note'>{html.escape(note)}</div></div>"
        for label, value, note in items
    )
    return f"<div class='feesim-monitor'>{tiles}</div>"


def vote_svg(vote: Mapping[str, Any] | None) -> str:
    """The latest vote: turnout and approval by owners and by area against Art. 278's lines.

    ``vote`` is a row of the votes table (``turnout_heads``, ``turnout_area``,
    ``approval_heads``, ``approval_area``, ``supermajority``), or None before any vote.
    """
    w, h, left, bottom = 560, 300, 50, 250
    out = [
        f'<svg class="feesim-vote-svg" viewBox="0 0 {w} {h}" width="100%" '
        'xmlns="http://www.w3.org/2000/svg" font-size="15" style="display:block">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
    ]
    top = 20
    span = bottom - top

    def y(v: float) -> float:
        return bottom - max(0.0, min(1.0, v)) * span

    for t in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(
            f'<line x1="{left}" x2="{w - 10}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y(t) + 5:.1f}" text-anchor="end" fill="{AXIS}">'
            f"{t:.0%}</text>"
        )
    if vote is None:
        out.append(
            f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle" fill="#666" font-size="18">'
            f"{html.escape(_('no vote yet'))}</text></svg>"
        )
        return "".join(out)
    bars = [
        ("turnout_heads", _("owners taking part"), "#90a4ae"),
        ("turnout_area", _("area taking part"), "#607d8b"),
        ("approval_heads", _("owners in favour"), YES),
        ("approval_area", _("area in favour"), "#0d47a1"),
    ]
    slot = (w - left - 10) / 4
    for i, (key, label, colour) in enumerate(bars):
        v = float(vote[key]) if vote[key] is not None and np.isfinite(vote[key]) else 0.0
        x = left + i * slot + slot * 0.18
        bw = slot * 0.64
        out.append(
            f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bw:.1f}" height="{bottom - y(v):.1f}" '
            f'fill="{colour}"/><text x="{x + bw / 2:.1f}" y="{max(y(v) + 24, top + 24):.1f}" '
            f'text-anchor="middle" fill="white" font-weight="700" font-size="18">{v:.0%}</text>'
            f'<text x="{x + bw / 2:.1f}" y="{bottom + 22}" text-anchor="middle" fill="#333" '
            f'font-size="14">{html.escape(label)}</text>'
        )
    approve = 0.75 if vote.get("supermajority") else 0.5
    for x0, x1, thr, label in (
        (left, left + 2 * slot, 2 / 3, _("quorum 2/3")),
        (left + 2 * slot, w - 10, approve, _("more than half") if approve == 0.5 else "3/4"),
    ):
        out.append(
            f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{y(thr):.1f}" y2="{y(thr):.1f}" '
            f'stroke="#222" stroke-width="2" stroke-dasharray="6 4"/>'
            f'<text x="{x1 - 4:.1f}" y="{y(thr) - 6:.1f}" text-anchor="end" fill="#222" '
            'font-size="14" font-weight="600" stroke="white" stroke-width="4" '
            f'paint-order="stroke">{html.escape(label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def community_png(grid: np.ndarray, colours: Sequence[str], cell: int = 6) -> str:
    """A stairwell grid (:func:`feesim.surfaces.plotting.community_grid`) as a PNG data URL.

    Each household is a ``cell`` x ``cell`` square in its category's colour; empty cells are
    white. Encoding a small image is much cheaper than drawing a figure.
    """
    from PIL import Image

    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colours], dtype=np.uint8)
    img = np.full((*grid.shape, 3), 255, dtype=np.uint8)
    ok = np.isfinite(grid)
    img[ok] = rgb[grid[ok].astype(int)]
    img = np.repeat(np.repeat(img, cell, axis=0), cell, axis=1)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
