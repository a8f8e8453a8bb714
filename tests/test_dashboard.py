"""The dashboard in a real browser: ``feesim dashboard`` served locally, driven by Playwright.

Chromium is Debian's package (``/usr/bin/chromium``); the test installs it with apt-get when it
is missing (we run as root) and skips only if that is impossible. Playwright's own browser
download does not work offline, so it is never used. The server is started as a subprocess in
its own process group and always killed. A screenshot is kept in ``out/artifacts/``.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from feesim.surfaces.dashboard.levers import (
    PRESETS,
    default_base,
    resolve_levers,
    scenario_from_levers,
)
from feesim.surfaces.dashboard.model import DashboardModel

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "out" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# ----------------------------------------------------------------------------------------------
# the model behind the dashboard (no browser)
# ----------------------------------------------------------------------------------------------
def test_levers_make_the_scenario():
    base = default_base()
    sc = scenario_from_levers(base, PRESETS["virtuous cycle (quality first)"])
    (fee,) = sc.proposals
    assert fee.step_pct == pytest.approx(0.5)
    assert (fee.month, fee.quality_first_months, fee.campaign_steps) == (12, 6, 4)
    assert fee.renovation_bundled and sc.government.renovations[0].month == 10
    assert sc.committee.rollback and sc.committee.evaluation_months == 6
    assert sc.committee.door_to_door_intensity == pytest.approx(0.6)
    vicious = scenario_from_levers(base, PRESETS["vicious cycle"])
    assert vicious.proposals == () and vicious.government.renovations == ()
    # Quality first longer than the months before the vote is cut to them.
    levers = resolve_levers(base, {"vote_month": 4, "quality_first_months": 9, "price_step": 0.2})
    assert levers["quality_first_months"] == 4


def test_the_built_in_estate_is_named_in_the_pages_language(load_example):
    from feesim.i18n import use_language
    from feesim.surfaces.dashboard.levers import DEFAULT_BASE_NAME, base_name

    with use_language("zh_CN"):
        zh = base_name(default_base())
        own = base_name(load_example("frozen_fee"))
    with use_language("en"):
        en = base_name(default_base())
    assert en == DEFAULT_BASE_NAME and zh != en and re.search(r"[\u4e00-\u9fff]", zh)
    assert own == load_example("frozen_fee").meta.name  # a file's name as written


def test_levers_reject_out_of_range_values():
    from feesim.errors import ConfigError

    with pytest.raises(ConfigError, match=r"levers\.price_step: got 3\.0; expected 0\.0 to 1\.0"):
        resolve_levers(default_base(), {"price_step": 3.0})
    with pytest.raises(ConfigError, match=r"levers\.colour: unknown lever"):
        resolve_levers(default_base(), {"colour": 1})


def test_dashboard_model_reads_a_scenario_file(load_example):
    model = DashboardModel(Path(ROOT / "examples" / "xianghe_2025.toml"))
    # Xianghe's negotiated step (0.75 -> 0.97 and 1.21 -> 1.44) is about +26% of the mean fee.
    assert 0.2 < model.levers["price_step"] < 0.35
    assert model.levers["vote_month"] == 10
    # Untouched, the scenario's own fees per building type are kept ...
    (fee,) = model.lever_scenario.proposals
    assert fee.new_fee_per_m2 == {"multi-storey": 0.97, "high-rise": 1.44}
    # ... and a moved slider replaces them with one relative step for every type.
    moved = scenario_from_levers(model.base, {"price_step": 0.4})
    assert moved.proposals[0].new_fee_per_m2 is None
    assert moved.proposals[0].step_pct == pytest.approx(0.4)
    for _ in range(3):
        model.step()
    assert model.result().series["month"].tolist() == [0, 1, 2]
    assert [t["month"] for t in model.trace] == [0, 1, 2]


def test_presets_tell_the_two_cycles_apart():
    """The three presets show what they promise on the built-in estate (seed 1)."""
    out = {}
    for name, levers in PRESETS.items():
        model = DashboardModel(**levers)
        while model.running:
            model.step()
        res = model.result()
        out[name] = (res, res.summary())
    vicious, vicious_summary = out["vicious cycle"]
    assert (vicious.events["event"] == "firm_exit").any()  # the firm leaves
    virtuous, summary = out["virtuous cycle (quality first)"]
    fee_votes = virtuous.votes[virtuous.votes["matter"] == "fee"]
    assert fee_votes["passed"].iloc[0] and fee_votes["approval_heads"].iloc[0] > 0.9
    # After the step (in force from month 15) collection is above 95% (Quyang, seeds 000-001;
    # Xianghe 97% by the year's end, seed 002) for the years the reports cover, and the firm
    # renews its contract at least twice: no exit in the first six years.
    by_year = summary["collection_rate_by_year_end"]
    assert min(by_year[y] for y in (2016, 2017, 2018)) > 0.95
    exits = virtuous.events.loc[virtuous.events["event"] == "firm_exit", "month"]
    assert (exits > 72).all()
    # Each year while both first firms serve, the virtuous estate collects more than the frozen
    # one. The fee is frozen again after the one step while wages rise 3.1% a year, so the
    # margin erodes (break-even collection rises, domain-rules D.5-6) and the goodwill of the
    # improvement fades (model.md, honest principles): under params 0.2.0 (seed 1) year-end
    # collection is 0.985/0.989/0.982 in 2016-18, 0.939 in 2020 and 0.779 in 2023, and the firm
    # declines to renew at month 108, the month the vicious preset's firm leaves too. The former
    # "no exit and above 0.9 every year for ten years" was a figure of the 0.1.0 fit and the old
    # engine (where a voted package was kept at any loss); the sources give no such horizon.
    vicious_exits = vicious.events.loc[vicious.events["event"] == "firm_exit", "month"]
    first_exit = int(min([*exits, *vicious_exits]))  # the vicious firm does leave
    years = [y for y in by_year if y < 2015 + first_exit // 12]
    assert len(years) >= 3
    assert all(by_year[y] > vicious_summary["collection_rate_by_year_end"][y] for y in years)
    no_qf, _ = out["price step without quality first"]
    no_qf_votes = no_qf.votes[no_qf.votes["matter"] == "fee"]
    # Passed with less approval than with quality first, then rolled back at the first bad
    # evaluation.
    assert no_qf_votes["approval_heads"].iloc[0] < fee_votes["approval_heads"].iloc[0]
    assert (no_qf.events["event"] == "rolled_back").any()


def test_the_cycle_chart_keeps_event_labels_apart():
    """Events of one month share a label; labels are placed by importance and one that fits
    in neither row is left out (its line and tooltip stay); near the right edge it ends at its
    line; a state-owned takeover is marked.
    The twelve-month collection line is not cut at 100% (recovered arrears count)."""
    import numpy as np

    from feesim.surfaces.dashboard.charts import RunTrace, Scales, _label_width, cycle_svg

    n = 120
    ones = np.ones(n)
    run = RunTrace(
        months=np.arange(n),
        fee=0.6 * ones,
        quality=0.5 * ones,
        collection_ytd=0.8 * ones,
        collection_12m=np.where(np.arange(n) < 60, 0.8, 1.05),
        cash=1e4 * ones,
        events=[
            (105, "notice"),
            (108, "firm_exit"),
            (108, "emergency_provider"),
            (109, "state_provider"),
            (110, "firm_hired"),
            (119, "fee_changed"),
        ],
    )
    scales = Scales(months=n, fee=(0, 1.5), cash=(-1e4, 4e4), start_year=2015, start_month=1)
    svg = cycle_svg(run, scales)
    labels = re.findall(r'class="feesim-event-label"[^>]*>([^<]*)<', svg)
    assert "firm leaves · temporary provider (应急物业)" in labels  # one month, one label
    # crowded, the more important labels win the room: who leaves and who takes over
    assert {"district state-owned provider", "new firm"} <= set(labels)
    assert "firm gives notice" not in labels
    assert svg.count("<title>") == 6  # every line keeps its label as a tooltip
    assert svg.count('class="feesim-event"') == 6  # every event keeps its line
    # no two labels of a row overlap: each starts after the one before it ends
    placed = re.findall(
        r'class="feesim-event-label" x="([\d.]+)" y="(\d+)"[^>]*?( text-anchor="end")?>([^<]*)<',
        svg,
    )
    spans: dict[str, list[tuple[float, float]]] = {}
    for x, y, end, text in placed:
        w = _label_width(text)
        spans.setdefault(y, []).append(
            (float(x) - w, float(x)) if end else (float(x), float(x) + w)
        )
    for row in spans.values():
        row.sort()
        assert all(a[1] < b[0] for a, b in itertools.pairwise(row)), row
        assert all(right <= 1200 for _left, right in row)
    assert any(end for _x, _y, end, _t in placed)  # a label near the right edge ends at its line
    alone = RunTrace(**{**run.__dict__, "events": [(60, "state_provider")]})
    assert ">district state-owned provider<" in cycle_svg(alone, scales)
    # the twelve-month line is drawn above 100% (recovered arrears count)
    assert "last 12 months (recovered arrears count)" in svg


def test_cli_checks_the_scenario_before_serving(tmp_path, capsys):
    from feesim.surfaces.cli.main import main

    assert main(["dashboard", str(tmp_path / "missing.toml"), "--no-browser"]) == 2
    assert "missing.toml: no such scenario file" in capsys.readouterr().err


def test_server_command_is_offline_production():
    from feesim.surfaces.dashboard.server import check_dependencies, solara_command

    check_dependencies()  # solara, solara-assets, Mesa's visualization, ipyvuetify<3
    cmd = solara_command("127.0.0.1", 8765)
    assert cmd[1:5] == ["-m", "solara", "run", "feesim.surfaces.dashboard.app"]
    assert "--production" in cmd and "--no-open" in cmd


def test_importing_feesim_imports_no_solara():
    code = (
        "import sys, feesim, feesim.surfaces.cli.main, feesim.studies.phase, "
        "feesim.surfaces.plotting, feesim.surfaces.dashboard.model, "
        "feesim.surfaces.dashboard.server; feesim.surfaces.cli.main.build_parser(); "
        "names = ('solara', 'ipyvuetify', 'mesa.visualization'); "
        "print(sorted(m for m in names if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------------------------
# the real browser
# ----------------------------------------------------------------------------------------------
def _chromium() -> str:
    """Debian's Chromium, installed with apt-get if missing; skip only if that is impossible."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("Chromium is missing and cannot be installed (no apt-get, or not root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium could not be installed with apt-get: {done.stderr[-400:]}")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["zh_CN", "en"])
def dashboard(request, tmp_path):
    """``feesim dashboard --lang LANG`` on a free local port: (url, language, server log)."""
    port = _free_port()
    log_path = tmp_path / "server.log"
    log = log_path.open("w")
    env = {k: v for k, v in os.environ.items() if k != "FEESIM_DASHBOARD_SCENARIO"}
    lang = request.param
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "feesim.surfaces.cli.main",
            "dashboard",
            "--port",
            str(port),
            "--no-browser",
            "--lang",
            lang,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # its own process group: the solara child dies with it
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"dashboard exited: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("dashboard did not answer within 60 s")
            time.sleep(0.3)
        yield url, lang, log_path
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()


#: What the page says, by language.
WORDS = {
    "zh_CN": {
        "title": "物业费：两种循环",
        "tabs": ("运行", "两种均衡"),
        "other": "English",
        "other_title": "Property fees: the two cycles",
        "passed": "通过",
        "event": "表决通过",
        "units": ("个月", "%"),
    },
    "en": {
        "title": "Property fees: the two cycles",
        "tabs": ("The run", "Two equilibria"),
        "other": "中文",
        "other_title": "物业费：两种循环",
        "passed": "passed",
        "event": "vote passed",
        "units": ("months", "%"),
    },
}
#: Internal names that must not reach the screen.
INTERNAL = (
    "hire_firm",
    "approval_heads",
    "approval_area",
    "quorum_heads",
    "quorum_area",
    "maintenance_fund",
    "Page 0",
    "Page 1",
    "PAGE 0",
    "True",
    "False",
    "None",
)

#: Measured seconds per simulated month while playing, by language (reported at the end).
MEASURED: dict[str, float] = {}


def _month(page) -> int:
    return int(page.locator(".feesim-month").first.inner_text())


def _wait_month(page, at_least: int, timeout: float = 120_000) -> None:
    page.wait_for_function(
        f"() => {{ const m = document.querySelector('.feesim-month');"
        f" return m && Number(m.innerText) >= {at_least}; }}",
        timeout=timeout,
    )


def _not_covered(page, selector: str) -> None:
    """The element is on screen where it is drawn: nothing lies on top of it."""
    covered = page.evaluate(
        """sel => {
            const el = document.querySelector(sel);
            el.scrollIntoView({block: "center", inline: "nearest"});
            const r = el.getBoundingClientRect();
            const pts = [[0.5, 0.5], [0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]];
            const out = [];
            for (const [fx, fy] of pts) {
                const x = r.left + fx * r.width, y = r.top + fy * r.height;
                if (y < 0 || y >= window.innerHeight || x < 0 || x >= window.innerWidth) continue;
                const hit = document.elementFromPoint(x, y);
                if (!hit || !(el === hit || el.contains(hit))) {
                    out.push([fx, fy, hit ? hit.outerHTML.slice(0, 120) : null]);
                }
            }
            return out;
        }""",
        selector,
    )
    assert covered == [], (selector, covered)


@pytest.mark.slow
def test_dashboard_in_a_room(dashboard, capsys):
    """The trainer's dashboard in a real browser, at a projector's 1366x768, in both languages.

    Text in the language chosen and no internal names; slider values with units; a preset
    played: the time per month, the vote, events on the chart; nothing covered; the previous
    run as a ghost line; presets after a run has ended; the language switch; the second tab;
    and the server stops playing when the page is closed.
    """
    url, lang, log_path = dashboard
    words = WORDS[lang]
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    console: list[tuple[str, str]] = []
    requests: list[str] = []
    failed: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(60_000)
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: console.append(("pageerror", str(e))))
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(url)
            page.locator(".feesim-month").wait_for()
            assert words["title"] in page.locator("body").inner_text()
            for tab in words["tabs"]:
                assert page.get_by_role("tab", name=tab).count() == 1
            labels = page.locator(".feesim-lever-label").all_inner_texts()
            assert len(labels) == 11
            assert any(words["units"][0] in t for t in labels)
            assert sum(words["units"][1] in t for t in labels) >= 2
            # Chinese glyphs render in the page font (embedded): the browser has the font
            assert page.evaluate(
                "() => document.fonts.check(\"16px 'Feesim Noto Sans SC'\", '收缴率')"
            )

            # the virtuous preset, played: time per month while playing
            page.locator(".feesim-preset").nth(1).click()
            page.wait_for_function(
                "() => document.querySelector('.feesim-month').innerText === '0'"
            )
            page.locator(".feesim-play").click()
            _wait_month(page, 3)
            m0, t0 = _month(page), time.perf_counter()
            _wait_month(page, m0 + 30)
            per_month = (time.perf_counter() - t0) / (_month(page) - m0)
            MEASURED[lang] = per_month
            with capsys.disabled():
                print(f"\ndashboard ({lang}): {per_month:.3f} s per simulated month while playing")
            assert per_month < 0.2
            page.locator(".feesim-play").click()  # pause
            page.wait_for_timeout(1000)  # the last redraw after the pause
            vote = page.locator(".feesim-vote")
            vote.wait_for()
            assert words["passed"] in vote.inner_text()
            events = page.locator(".feesim-event-label").all_text_contents()
            assert any(words["event"] in e for e in events), events
            text = page.locator("body").inner_text()
            for name in INTERNAL:
                assert not re.search(rf"\b{re.escape(name)}\b", text), name
            # nothing covered, nothing wider than the screen
            for selector in (
                ".feesim-cycle svg",
                ".feesim-vote-svg",
                ".feesim-tile",
                ".feesim-play",
            ):
                _not_covered(page, selector)
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
            page.locator(".feesim-cycle").first.scroll_into_view_if_needed()
            shot = ARTIFACTS / f"dashboard-{lang}.png"
            page.screenshot(path=str(shot))
            page.set_viewport_size({"width": 1366, "height": 1700})  # the whole tab at once
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / f"dashboard-{lang}-full.png"))
            page.set_viewport_size({"width": 1366, "height": 768})
            shots.append(shot)

            # Restart: the run so far becomes the grey ghost line
            page.locator(".feesim-reset").click()
            page.wait_for_function(
                "() => document.querySelector('.feesim-month').innerText === '0'"
            )
            assert page.locator(".feesim-cycle svg path[stroke='#9e9e9e']").count() == 4

            # a run played to its end, then a preset: Play works again
            page.locator(".v-btn", has_text="20").first.click()  # 20 months a second
            page.locator(".feesim-preset").nth(0).click()
            page.locator(".feesim-play").click()
            _wait_month(page, 120, timeout=180_000)
            page.wait_for_function(
                "() => document.querySelector('.feesim-play').disabled", timeout=30_000
            )
            page.locator(".feesim-preset").nth(2).click()
            page.wait_for_function(
                "() => !document.querySelector('.feesim-play').disabled"
                " && document.querySelector('.feesim-month').innerText === '0'"
            )
            page.locator(".feesim-step").click()
            _wait_month(page, 1)
            page.locator(".feesim-play").click()
            _wait_month(page, 5)
            page.locator(".feesim-play").click()

            # the language switch
            page.get_by_role("button", name=words["other"]).click()
            page.get_by_text(words["other_title"]).first.wait_for()

            # the second tab: the phase diagram and this run's path
            page.get_by_role("tab").nth(1).click()
            page.locator(".feesim-phase img").first.wait_for(timeout=90_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / f"dashboard-{lang}-phase.png"), full_page=True)
            page.get_by_role("tab").nth(0).click()

            # closing the page while playing: the server stops
            page.locator(".feesim-play").click()
            _wait_month(page, 10)
            page.close()
            deadline = time.monotonic() + 20
            while "page gone: stopped playing" not in log_path.read_text():
                assert time.monotonic() < deadline, log_path.read_text()[-2000:]
                time.sleep(0.2)
        finally:
            browser.close()
    errors = [m for m in console if m[0] in ("error", "pageerror")]
    assert errors == []
    assert failed == []
    # Nothing came from outside this machine (no CDN).
    hosts = {urlparse(u).hostname for u in requests if urlparse(u).scheme in ("http", "https")}
    assert hosts == {"127.0.0.1"}
    assert all(s.stat().st_size > 10_000 for s in shots)
    assert "Traceback" not in log_path.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("size", [(1366, 768)])
def test_one_projector_screen(dashboard, size):
    """At a projector's 1366x768, with no scrolling, the levers, Play and the whole cycle chart
    (its collection and cash panels included) are on screen together, in both languages:
    a trainer moving a slider sees the charts."""
    url, lang, _log = dashboard
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    width, height = size
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            page.goto(url)
            page.locator(".feesim-month").wait_for()
            page.wait_for_timeout(500)
            boxes = page.evaluate(
                """() => {
                    const box = e => { const r = e.getBoundingClientRect();
                        return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
                    const levers = Array.from(document.querySelectorAll(".feesim-lever-label"));
                    const card = levers[0].closest(".v-card");
                    // the cycle chart's panels (fee, service, collection, cash) by their frames
                    const panels = Array.from(
                        document.querySelectorAll(".feesim-cycle svg rect[stroke='#bbb']"));
                    return {
                        levers: box(card),
                        sliders: Array.from(card.querySelectorAll(".v-slider, .v-input--checkbox"))
                            .map(box),
                        play: box(document.querySelector(".feesim-play")),
                        monitor: box(document.querySelector(".feesim-monitor")),
                        collection: box(panels[2]),
                        cash: box(panels[3]),
                        scrolled: [window.scrollY,
                                   document.querySelector(".v-navigation-drawer__content").scrollTop],
                    };
                }"""
            )
            shot = ARTIFACTS / f"dashboard-{lang}-{width}x{height}.png"
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert boxes["scrolled"] == [0, 0]
    assert len(boxes["sliders"]) == 11
    for name in ("levers", "play", "monitor", "collection", "cash"):
        b = boxes[name]
        assert b["top"] >= 0 and b["bottom"] <= height, (name, b)
        assert b["left"] >= 0 and b["right"] <= width, (name, b)
    for b in boxes["sliders"]:
        assert b["top"] >= 0 and b["bottom"] <= height, ("slider", b)
