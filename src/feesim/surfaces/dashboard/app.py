"""The feesim dashboard: one community month by month, for a trainer in front of a room.

Run it with ``feesim dashboard [SCENARIO.toml]`` (or ``solara run feesim.surfaces.dashboard.app``).
It works offline: the front-end comes from the ``solara-assets`` package, Vue 2 widgets from
``ipyvuetify<3``, the charts are SVG built here (:mod:`feesim.surfaces.dashboard.charts`) and
the Chinese font is embedded in the page.

The page, in Chinese or English (the switch in the top bar; the default follows the server's
``LANGUAGE``/``LC_ALL``/``LANG``, see :mod:`feesim.i18n`):

- **Controls**: Play/Pause, one month, restart and speed in the top bar; on the left the presets
  (the vicious cycle,
  the virtuous cycle with quality first, a price step without quality first), which set the
  sliders and start the community afresh, also after a run has ended; the sliders, each with
  its value and unit.
- **The run** (tab 1): big monitor numbers (month and date, fee, service, collection over the
  last twelve months and this year so far, the firm's cash); the cycle chart, full width with
  fixed scales: fee, service, collection (trailing twelve months beside year to date, whose
  drop every January is explained on the chart), the firm's cash, with the run's events
  labelled (votes, new fee, rollback, notice, exit, temporary provider, new firm) and the
  previous run as a grey dashed line; the households by stairwell, coloured by payment and by
  their owners' ballots; the latest vote against the Art. 278 thresholds.
- **Two equilibria** (tab 2): the phase diagram of the base community (constant wages, no
  intervention, see :mod:`feesim.studies.phase`) and this run's path in the quality-collection
  plane.

Why not Mesa's ``SolaraViz``: its controller keeps its own "running" state, so after a run had
reached its end a preset left Play and Step disabled; its tabs are named "Page 0/1", its
controls are in English, its play loop went on for minutes after the browser tab was closed,
and redrawing matplotlib figures every month took 1.5-3.7 s. The model is still a Mesa model
(:class:`~feesim.surfaces.dashboard.model.DashboardModel`); the page drives it itself.

Playing: a thread steps the model and redraws, one month per :data:`PACE` seconds at most (the
default speed); it stops at the end of the run, on Pause, on a preset or restart, and as soon as
the browser page has gone (closed tab or lost connection), so the server does no work for
nobody. The time a month takes (step and redraw) is shown under the chart
(``.feesim-cost``).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from html import escape
from typing import Any

import solara

from feesim.i18n import gettext as _
from feesim.i18n import language as _env_language
from feesim.i18n import ngettext, translation, use_language
from feesim.surfaces.dashboard.charts import (
    RunTrace,
    community_png,
    cycle_svg,
    monitor_html,
    run_trace,
    scales,
    vote_svg,
)
from feesim.surfaces.dashboard.levers import (
    LEVERS,
    PRESET_LABELS,
    PRESETS,
    base_name,
    format_value,
    levers_from_scenario,
)
from feesim.surfaces.dashboard.model import SCENARIO_ENV, DashboardModel, base_scenario
from feesim.surfaces.summaries import matter_name, test_name, vote_result

log = logging.getLogger("feesim.dashboard")

#: Seconds per month while playing at the default speed (a ten-year run in about 12 s).
PACE = 0.1
#: Speeds offered (months per second).
SPEEDS = (2, 5, 10, 20)
#: Phase-diagram settings of the second tab (small enough to draw in about a second).
PHASE_STARTS = (0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95)
PHASE_YEARS = 15


@functools.cache
def _base() -> Any:
    return base_scenario()


def _defaults() -> dict[str, Any]:
    return levers_from_scenario(_base())


#: Per browser session (solara keeps one value of a module-level reactive per session).
LANG = solara.reactive(None)
LEVER_STATE: dict[str, solara.Reactive] = {lever.name: solara.reactive(None) for lever in LEVERS}


def current_levers() -> dict[str, Any]:
    """The sliders' current values (the base community's own where a slider is untouched)."""
    base = _defaults()
    return {k: (r.value if r.value is not None else base[k]) for k, r in LEVER_STATE.items()}


def lever_summary(levers: dict[str, Any]) -> str:
    """One line naming every lever value with its unit (language in force)."""
    # the list separator and the label's colon as the language writes them (；and ：)
    return _("; ").join(
        _("{label}: {value}").format(
            label=_(lever.label), value=format_value(lever.name, levers[lever.name])
        )
        for lever in LEVERS
    )


def _lang() -> str:
    return LANG.value or _env_language()


@functools.cache
def _log_to_server() -> None:
    """Messages of the dashboard (e.g. that playing stopped because the page went) to stderr."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("feesim dashboard: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


@functools.cache
def _page_css() -> str:
    """The page's style: large type for a room, and the Chinese font embedded (once)."""
    from feesim.surfaces.fonts import CSS_STACK, css_font_face

    catalogue = translation("zh_CN")
    chars = "".join(str(v) for v in getattr(catalogue, "_catalog", {}).values())
    face = css_font_face(chars + _base().meta.name + "中文")
    return face + (
        f".v-application, .v-application .text-h6, .v-btn, .v-tab{{font-family:{CSS_STACK} "
        "!important}"
        ".v-application{font-size:17px}"
        ".v-btn, .v-tab{text-transform:none !important;letter-spacing:0 !important}"
        ".feesim-preset .v-btn__content{white-space:normal}"
        ".feesim-monitor{display:flex;flex-wrap:wrap;gap:10px;margin:4px 0 10px}"
        ".feesim-tile{flex:1 1 150px;background:#f3f7fb;border-radius:6px;padding:6px 12px}"
        ".feesim-tile-label{font-size:15px;color:#444}"
        ".feesim-tile-value{font-size:36px;font-weight:700;line-height:1.1;color:#1f4e79}"
        ".feesim-tile-note{font-size:13px;color:#666}"
        ".feesim-lever-label{font-size:15px;margin-top:4px;line-height:1.3}"
        ".feesim-lever-label b{color:#1f4e79}"
        ".feesim-idle{color:#888;font-size:13px}"
        ".feesim-cost{font-size:13px;color:#777}"
        ".feesim-note{font-size:15px;color:#444}"
        ".feesim-status{font-size:17px}" + _LAYOUT_CSS
    )


#: One projector screen (1366x768; at 1280x720 all but the last checkbox) shows the levers, the
#: monitor numbers and the whole cycle chart at once: Play, One month, Restart and the speed in the
#: top bar; the presets and the levers, compact, in the sidebar; the status, the numbers and the
#: chart fill the height of the run tab (``.feesim-top``), the chart scaled to the room left for it
#: (whatever the status and the "sliders moved" note take), the rest below. The top bar is thinner
#: on screens up to 900 pixels high.
_LAYOUT_CSS = (
    ":root{--feesim-bar:64px}"
    "@media (max-height:900px){:root{--feesim-bar:48px}"
    ".feesim-tile{padding:4px 12px}.feesim-tile-value{font-size:32px}"
    ".feesim-monitor{margin:0}}"
    # up to 800 pixels high the sidebar's cards go without titles: the buttons and the labels
    # say what they are, and all eleven levers fit beside the chart
    "@media (max-height:800px){.feesim-side .v-card__title{display:none !important}"
    ".feesim-side .v-card__text{padding-top:6px !important}}"
    "header.v-app-bar, header.v-app-bar .v-toolbar__content{height:var(--feesim-bar) !important}"
    ".v-navigation-drawer{top:var(--feesim-bar) !important;"
    "max-height:calc(100% - var(--feesim-bar)) !important}"
    ".v-navigation-drawer__content > .v-sheet{min-width:0 !important;padding:4px 6px !important}"
    "main.v-content{padding-top:var(--feesim-bar) !important}"
    # the run controls in the top bar
    ".feesim-run{flex-wrap:nowrap !important;align-items:center;margin-right:16px}"
    ".v-app-bar .feesim-play.v-btn:not(.v-btn--disabled){background:#fff !important;"
    "color:#1565c0 !important}"
    ".v-app-bar .v-btn-toggle{background:transparent !important}"
    # the sidebar's cards, compact
    ".feesim-side.v-card{margin:4px 2px 8px !important}"
    ".feesim-side .v-card__title{font-size:18px !important;padding:6px 12px 0 !important;"
    "line-height:1.5 !important}"
    ".feesim-side .v-card__text{padding:0 12px 6px !important}"
    ".feesim-side .feesim-preset.v-btn{margin-bottom:4px !important;min-height:34px}"
    # the levers two by two, each its label above its slider
    ".feesim-levers .v-card__text > .v-sheet{display:grid !important;"
    "grid-template-columns:1fr 1fr;column-gap:16px;row-gap:2px}"
    ".feesim-lever{row-gap:0 !important}"
    # the checkboxes last, across the card (their notes are long)
    ".feesim-lever-bool{grid-column:1 / -1;order:1}"
    ".feesim-side .v-input{margin-top:0 !important;padding-top:0 !important}"
    ".feesim-side .v-input__slot{margin-bottom:0 !important;min-height:28px}"
    ".feesim-side .v-slider{min-height:28px !important;height:28px}"
    ".feesim-side .v-input--checkbox .v-input__slot{align-items:flex-start}"
    ".feesim-side .v-messages, .feesim-side .v-input__details{display:none !important}"
    ".feesim-side .v-input--checkbox .v-label{font-size:15px}"
    # status, numbers and chart fill the tab's height (padding 12, tabs 48, gap 8, padding 12;
    # the page's invisible elements take no gap)
    ".solara-autorouter-content > .v-sheet{row-gap:0 !important}"
    ".feesim-top{margin-top:8px;height:calc(100vh - var(--feesim-bar) - 80px);min-height:460px;"
    "flex-wrap:nowrap !important}"
    ".feesim-top > .feesim-cycle{flex:1 1 0;min-height:0}"
    ".feesim-top > .feesim-cycle > svg{height:100%}"
)


def _current_context() -> Any:
    try:
        from solara.server import kernel_context

        return kernel_context.get_current_context()
    except Exception:
        return None


def page_connected(context: Any) -> bool:
    """Whether the browser page of a session is still there (True when it cannot be told).

    Solara keeps a session's kernel for a while after its page is closed; the play loop asks
    this every month and stops when no page is connected.
    """
    if context is None:
        return True
    try:
        from solara.server.kernel_context import PageStatus

        if context.closed_event.is_set():
            return False
        return PageStatus.CONNECTED in tuple(context.page_status.values())
    except Exception:
        return True


# ==============================================================================================
# components
# ==============================================================================================
@solara.component
def LanguageSwitch() -> None:
    """中文 / English."""
    solara.ToggleButtonsSingle(
        value=_lang(),
        on_value=LANG.set,
        children=[solara.Button("中文", value="zh_CN"), solara.Button("English", value="en")],
        classes=["feesim-lang"],
    )


#: Levers that act only through the price step (nothing to act on without one); the vote month
#: also times the campaign, the renovation and the evaluations, so it acts without a step.
STEP_LEVERS = frozenset({"quality_first_months", "service_package"})


@solara.component
def Sliders() -> None:
    """One slider per lever, each with its value and unit."""
    with use_language(_lang()):
        levers = current_levers()
        for lever in LEVERS:
            state = LEVER_STATE[lever.name]
            value = levers[lever.name]
            idle = lever.name in STEP_LEVERS and not float(levers["price_step"])
            kind = "feesim-lever-bool" if lever.kind == "bool" else "feesim-lever-slider"
            with solara.Column(gap="0px", classes=["feesim-lever", kind]):
                _lever(lever, state, value, idle, levers)


def _lever(lever: Any, state: solara.Reactive, value: Any, idle: bool, levers: dict) -> None:
    """One lever: its label with value and unit, and its slider (or checkbox)."""
    solara.HTML(
        tag="div",
        unsafe_innerHTML=_("{label}: <b>{value}</b>").format(
            label=escape(_(lever.label)), value=escape(format_value(lever.name, value))
        )
        + (
            " <span class='feesim-idle'>" + escape(_("(acts only with a price step)")) + "</span>"
            if idle
            else ""
        ),
        classes=["feesim-lever-label"],
    )
    if lever.kind == "bool":
        solara.Checkbox(label=_(lever.doc), value=bool(value), on_value=state.set)
    elif lever.kind == "float":
        solara.SliderFloat(
            label="",
            value=float(value),
            min=lever.lo,
            max=lever.hi,
            step=lever.step,
            on_value=state.set,
            tick_labels=False,
        )
    else:
        hi = 12 * int(levers["years"]) - 1 if lever.name == "vote_month" else lever.hi
        solara.SliderInt(
            label="",
            value=int(value),
            min=int(lever.lo),
            max=int(hi),
            step=int(lever.step),
            on_value=state.set,
        )


@solara.component
def Page() -> None:
    """The dashboard page."""
    model = solara.use_reactive(
        solara.use_memo(lambda: DashboardModel(base=_base(), **current_levers()), [])
    )
    ghost = solara.use_reactive(None)
    playing = solara.use_reactive(False)
    speed = solara.use_reactive(round(1 / PACE))
    # The month counter: a reactive variable of its own (solara.use_reactive would tie it to this
    # component, and every month would redraw the whole page); only the views read it.
    tick = solara.use_memo(lambda: solara.reactive(0), [])
    # Time the last month took (step and redraw): a plain holder, not a reactive variable, so
    # that recording it does not redraw the page a second time.
    cost = solara.use_memo(lambda: {"s": None}, [])
    live: dict[str, Any] = solara.use_memo(dict, [])  # RunView's in-place update, when shown
    running = solara.use_reactive(True)  # the model's, mirrored so that the controls follow
    tab = solara.use_reactive(0)
    context = solara.use_memo(_current_context, [])
    lang = _lang()
    _log_to_server()

    def restart(levers: dict[str, Any] | None = None) -> None:
        """A new model with the sliders' levers; the current run becomes the ghost line."""
        playing.value = False
        old = model.value
        if old.month:
            ghost.value = (_trace(old), lever_summary(old.levers))
        for key, value in (levers or {}).items():
            LEVER_STATE[key].value = value
        model.value = DashboardModel(base=_base(), **current_levers())
        running.value = True
        cost["s"] = None
        tick.value += 1

    def step_once() -> None:
        m = model.value
        if m.running:
            t0 = time.perf_counter()
            m.advance()
            tick.value += 1
            cost["s"] = time.perf_counter() - t0
            running.value = m.running

    def play(cancel: threading.Event) -> None:
        if not playing.value:
            return
        m = model.value
        pace = 1.0 / max(int(speed.value), 1)
        while playing.value and m.running and not cancel.is_set():
            if not page_connected(context):
                break
            t0 = time.perf_counter()
            m.advance()
            update = live.get("update")
            if update is not None:
                update()  # the run tab's elements, in place
            else:
                tick.value += 1  # redraws the views (in this thread)
            spent = time.perf_counter() - t0
            cost["s"] = spent  # shown with the next month
            cancel.wait(max(0.0, pace - spent))
        if not page_connected(context):
            # closed tab or lost connection: no work for nobody (solara keeps the session's
            # kernel for a while, and the loop went on for minutes)
            log.info("page gone: stopped playing at month %d", m.month)
            playing.value = False
            return
        tick.value += 1  # one render: solara's view of the elements catches up
        if not m.running:
            running.value = False
            playing.value = False

    # Not cancelled intrusively: an exception raised inside a month's step would leave the
    # model half-stepped; the loop checks ``cancel`` between months instead.
    solara.use_thread(
        play,
        dependencies=[playing.value, id(model.value), speed.value],
        intrusive_cancel=False,
    )

    with use_language(lang):
        solara.Style(_page_css())
        m = model.value
        with solara.AppBar():
            solara.AppBarTitle(_("Property fees: the two cycles"))
            with solara.Row(classes=["feesim-run"], gap="6px"):
                solara.Button(
                    _("Pause") if playing.value else _("Play"),
                    icon_name="mdi-pause" if playing.value else "mdi-play",
                    color="primary",
                    on_click=lambda: playing.set(not playing.value),
                    disabled=not running.value,
                    classes=["feesim-play"],
                )
                solara.Button(
                    _("One month"),
                    on_click=step_once,
                    disabled=playing.value or not running.value,
                    classes=["feesim-step"],
                )
                solara.Button(_("Restart"), on_click=lambda: restart(), classes=["feesim-reset"])
                with solara.Tooltip(_("months per second while playing")):
                    solara.ToggleButtonsSingle(
                        value=int(speed.value),
                        on_value=speed.set,
                        children=[
                            solara.Button(_("{n}/s").format(n=v), value=v, small=True)
                            for v in SPEEDS
                        ],
                    )
            LanguageSwitch()
        with solara.Sidebar():
            with solara.Card(_("Presets"), classes=["feesim-side", "feesim-presets"]):
                if os.environ.get(SCENARIO_ENV):
                    # the presets' levers were chosen on the built-in estate (levers.PRESETS)
                    solara.HTML(
                        tag="div",
                        unsafe_innerHTML=escape(
                            _(
                                "Made for the built-in estate: on this scenario file they may "
                                "show other lessons."
                            )
                        ),
                        classes=["feesim-cost"],
                    )
                for key in PRESETS:
                    solara.Button(
                        _(PRESET_LABELS[key]),
                        on_click=functools.partial(restart, PRESETS[key]),
                        color="primary",
                        outlined=True,
                        block=True,
                        classes=["feesim-preset"],
                        style={"white-space": "normal"},
                    )
            with solara.Card(_("Levers"), classes=["feesim-side", "feesim-levers"]):
                Sliders()
        with solara.lab.Tabs(value=tab.value, on_value=tab.set):
            solara.lab.Tab(_("The run"))
            solara.lab.Tab(_("Two equilibria"))
        # The views get the reactive month counter itself, not its value: a new month then
        # redraws the views only, not the controls (the whole page took ~0.3 s a month).
        if tab.value == 0:
            RunView(m, ghost.value, tick, cost, live, m.month, playing.value)
        else:
            PhaseView(m, tick, playing.value)


def _trace(m: DashboardModel) -> RunTrace:
    res = m.result()
    return run_trace(res.series, m.trace_frame(), res.events[res.events["run"] == 0])


#: The parts of the run tab that change every month (each one HTML element on the page).
LIVE_PARTS = ("status", "pending", "monitor", "cycle", "note", "levers", "below")
#: Those shown together on one screen, the chart scaled to the height they leave it.
TOP_PARTS = ("status", "pending", "monitor", "cycle")


def run_content(m: DashboardModel, ghost: Any, cost: dict[str, float | None]) -> dict[str, str]:
    """The HTML of each part of the run tab (:data:`LIVE_PARTS`), language in force."""
    sc = scales(m.base, m.months)
    with m.lock:  # one consistent month while the play loop steps in another thread
        trace = _trace(m) if m.month else None
        date = m.result().series["date"].iloc[-1] if m.month else None
        votes = m.result().votes if m.month else None
        frame = m.household_frame(0)
        vote = m.last_vote
    status = escape(_("{name}: month {month} of {months}")).format(
        name=escape(base_name(m.base)),
        month=f"<b class='feesim-month'>{m.month}</b>",
        months=m.months,
    )
    if date is not None:
        status += f" ({pd_date(date)})"
    if not m.running:
        status += " · " + escape(_("end of the run: press a preset or Restart"))
    elif not m.month:
        status += " · " + escape(_("press Play or One month"))
    pending = {k: v for k, v in current_levers().items() if _differs(m.levers.get(k), v)}
    note = _(
        "Collection over the last 12 months (solid) is what the firm lives on: fees received "
        "over fees billed, so arrears recovered by a campaign can take it above 100%; the rate "
        "for this year so far (dotted), as communities report it, starts again every January "
        "and so drops at each new year before the year's bills are paid."
    )
    if cost["s"] is not None:
        note += " " + _("Time per month (step and redraw): {ms} ms.").format(
            ms=f"{1e3 * cost['s']:.0f}"
        )
    return {
        "status": status,
        "pending": "<span class='feesim-pending'>"
        + escape(
            _("Sliders moved: {levers}. Press Restart to apply.").format(
                levers=lever_summary({**m.levers, **pending})
            )
        )
        + "</span>"
        if pending
        else "",
        "monitor": monitor_html(_monitor(trace)),
        "cycle": cycle_svg(
            trace, sc, ghost=None if ghost is None else ghost[0], ghost_label=_("previous run")
        ),
        "note": escape(note),
        "levers": "<span class='feesim-levers'>"
        + escape(_("In force: {levers}").format(levers=lever_summary(m.levers)))
        + "</span>",
        # the households and the vote side by side (one element: a CSS grid)
        "below": "<div style='display:grid;grid-template-columns:3fr 2fr;gap:18px'>"
        f"<div class='feesim-community'>{_community_html(frame, vote)}</div>"
        f"<div class='feesim-vote-box'>{_vote_html(votes)}</div></div>",
    }


def _content_in(
    lang: str, m: DashboardModel, ghost: Any, cost: dict[str, float | None]
) -> dict[str, str]:
    """:func:`run_content` in ``lang`` (for the play loop's thread)."""
    with use_language(lang):
        return run_content(m, ghost, cost)


@solara.component
def RunView(
    model: DashboardModel,
    ghost: Any,
    tick: solara.Reactive[int],
    cost: dict[str, float | None],
    live: dict[str, Any],
    month: int = 0,
    playing: bool = False,
) -> None:
    """Status line, monitor numbers, the cycle chart, the stairwells and the vote.

    Drawn by solara when the model, the ghost, the language or the sliders change, or a single
    month is stepped (``tick``); while playing, the play loop puts each month's content into
    the same elements directly (``live["update"]``), which costs a few milliseconds instead of a
    render of the page. ``month`` and ``playing`` (the page's view of them) make every redraw of
    the page redraw this view too, so that solara's copy of the elements is never older than
    what the loop put into them.
    """
    tick.get()
    lang = _lang()
    with use_language(lang):
        content = run_content(model, ghost, cost)
        classes = {
            "status": "feesim-status",
            "pending": "feesim-note",
            "monitor": "feesim-monitor-box",
            "cycle": "feesim-cycle",
            "note": "feesim-cost",
            "levers": "feesim-note",
            "below": "feesim-below",
        }

        def part(key: str) -> Any:
            return solara.HTML(tag="div", unsafe_innerHTML=content[key], classes=[classes[key]])

        # status, numbers and the chart on one screen (the chart takes the height left); the
        # rest below
        with solara.Column(classes=["feesim-top"]):
            elements = {key: part(key) for key in TOP_PARTS}
        elements.update({key: part(key) for key in LIVE_PARTS if key not in TOP_PARTS})

    def connect() -> Any:
        widgets = {k: solara.get_widget(el) for k, el in elements.items()}

        def update() -> None:
            new = _content_in(lang, model, ghost, cost)
            for k, w in widgets.items():
                if w.unsafe_innerHTML != new[k]:
                    w.unsafe_innerHTML = new[k]

        live["update"] = update

        def disconnect() -> None:
            if live.get("update") is update:
                live.pop("update", None)

        return disconnect

    solara.use_effect(connect, [id(model), id(ghost), lang])


def pd_date(date: Any) -> str:
    """A month as YYYY-MM."""
    return str(date)[:7]


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) != bool(b)
    try:
        return abs(float(a) - float(b)) > 1e-9
    except (TypeError, ValueError):
        return a != b


def _monitor(trace: RunTrace | None) -> list[tuple[str, str, str]]:
    if trace is None or not len(trace):
        dash = "–"
        return [
            (_("Fee"), dash, _("yuan per m² per month")),
            (_("Service"), dash, _("1 = liveable standard")),
            (_("Collection, last 12 months"), dash, ""),
            (_("Collection, this year so far"), dash, ""),
            (_("Firm's cash"), dash, _("thousand yuan")),
        ]
    i = -1
    return [
        (_("Fee"), f"{trace.fee[i]:.2f}", _("yuan per m² per month")),
        (_("Service"), f"{trace.quality[i]:.2f}", _("1 = liveable standard")),
        (
            _("Collection, last 12 months"),
            f"{trace.collection_12m[i]:.0%}",
            _("what the firm lives on; recovered arrears count, so it can pass 100%"),
        ),
        (
            _("Collection, this year so far"),
            f"{trace.collection_ytd[i]:.0%}",
            _("starts again each January"),
        ),
        (_("Firm's cash"), f"{trace.cash[i] / 1e3:,.0f}", _("thousand yuan")),
    ]


def _community_html(frame: Any, vote: Any) -> str:
    """Households by stairwell: who pays, and how their owners voted (PNG images)."""
    from feesim.surfaces.plotting import community_grid

    grid, legend = community_grid(frame, "payment")
    items = [
        (
            _("Households by stairwell (楼组): who pays"),
            community_png(grid, [c for _l, c in legend]),
            legend,
        )
    ]
    if vote is not None and bool(vote.voting[0]):
        grid_v, legend_v = community_grid(frame, "vote")
        items.append(
            (
                _("How their owners voted in month {m}").format(m=vote.month),
                community_png(grid_v, [c for _l, c in legend_v]),
                legend_v,
            )
        )
    parts = []
    for title, url, leg in items:
        keys = " ".join(
            f"<span style='display:inline-block;width:14px;height:14px;background:{c};"
            f"vertical-align:middle'></span> {escape(lab)}&nbsp;&nbsp;"
            for lab, c in leg
        )
        parts.append(
            f"<div class='feesim-note'><b>{escape(title)}</b></div>"
            f"<img src='{url}' style='width:100%;max-height:300px;object-fit:contain;"
            "object-position:left top;image-rendering:pixelated'>"
            f"<div class='feesim-cost'>{keys}</div>"
        )
    return "".join(parts)


def _vote_html(votes: Any) -> str:
    """The latest vote against the Art. 278 thresholds, and in words below."""
    last = None if votes is None or votes.empty else votes.iloc[-1]
    title = _("The latest vote (Civil Code Art. 278, 双过半)")
    text = ""
    if last is not None:
        text = _(
            "Month {month}, {matter}: {result}. Turnout {th} of owners and {ta} of the "
            "area; in favour {ah} of owners and {aa} of the area taking part. Deciding "
            "test: {test}."
        ).format(
            month=int(last["month"]),
            matter=matter_name(str(last["matter"])),
            result=vote_result(bool(last["passed"]), bool(last["quorum_met"])),
            th=f"{last['turnout_heads']:.0%}",
            ta=f"{last['turnout_area']:.0%}",
            ah=f"{last['approval_heads']:.0%}",
            aa=f"{last['approval_area']:.0%}",
            test=test_name(str(last["binding"])),
        )
    return (
        f"<div class='feesim-note'><b>{escape(title)}</b></div>"
        + vote_svg(None if last is None else last.to_dict())
        + (f"<div class='feesim-note feesim-vote'>{escape(text)}</div>" if text else "")
    )


@functools.cache
def _phase_diagram(variable: str) -> Any:
    from feesim.studies.phase import phase_diagram

    return phase_diagram(_base(), PHASE_STARTS, variable=variable, years=PHASE_YEARS, runs=1)


@solara.component
def PhaseView(model: DashboardModel, tick: solara.Reactive[int], playing: bool) -> None:
    """The phase diagram of the base community, with this run's path in the plane."""
    tick.get()  # redrawn every month
    from matplotlib.figure import Figure

    from feesim.surfaces.fonts import register
    from feesim.surfaces.plotting import plot_phase_diagram, plot_phase_plane

    with use_language(_lang()):
        register()
        diagram = _phase_diagram("collection")
        # While playing, the plane is redrawn every sixth month (a figure takes ~0.3 s).
        shown = model.month - model.month % 6 if playing else model.month
        fig = Figure(figsize=(11.0, 4.6), layout="constrained")
        ax_d, ax_p = fig.subplots(1, 2)
        plot_phase_diagram(diagram, ax=ax_d)
        # the built-in estate's name in the page's language (a file's as written)
        ax_d.set_title(base_name(_base()), fontsize="medium", loc="left")
        live = model.trace_frame().iloc[: shown + 1]
        # the plane's collection is a share of the bills (recovered arrears can take the
        # trailing ratio above 1)
        live = live.assign(collection=live["collection"].clip(upper=1.0))
        plot_phase_plane(diagram, ax=ax_p, live=live)
        with solara.Column(classes=["feesim-phase"]):
            solara.FigureMatplotlib(fig, format="png", dependencies=[id(model), shown, _lang()])
        solara.HTML(
            tag="div",
            unsafe_innerHTML=escape(
                _(
                    "Left: where collection ends, 15 years after a payment shock, for each "
                    "starting collection (wages constant, no intervention, the firm held in "
                    "place). Right: the same paths in the quality-collection plane; stars are "
                    "the stable states, the black line is this run."
                )
            ),
            classes=["feesim-note"],
        )
        solara.HTML(
            tag="div", unsafe_innerHTML=escape(_phase_text(diagram)), classes=["feesim-note"]
        )


def _phase_text(diagram: Any) -> str:
    """The stable states and the thresholds between them, in words (language in force)."""
    from feesim.surfaces.plotting import _state_name

    n = int(diagram.n_states)
    states = "; ".join(
        _("{name}: collection {c}, service {q}").format(
            name=_state_name(int(s["state"]), n),
            c=f"{s['collection']:.0%}",
            q=f"{s['quality']:.2f}",
        )
        for _i, s in diagram.states.iterrows()
    )
    text = ngettext("{n} stable state: {states}.", "{n} stable states: {states}.", n).format(
        n=n, states=states
    )
    for th in diagram.thresholds:
        text += " " + _(
            "Starting below a collection of {t}, the community falls into the low trap."
        ).format(t=f"{th:.0%}")
    return text
