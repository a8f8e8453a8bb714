"""The dashboard in a real browser: ``feesim dashboard`` served locally, driven by Playwright.

Chromium is Debian's package (``/usr/bin/chromium``); the test installs it with apt-get when it
is missing (we run as root) and skips only if that is impossible. Playwright's own browser
download does not work offline, so it is never used. The server is started as a subprocess in
its own process group and always killed. A screenshot is kept in ``out/artifacts/``.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
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
    vicious, _ = out["vicious cycle"]
    assert (vicious.events["event"] == "firm_exit").any()  # the firm leaves
    virtuous, summary = out["virtuous cycle (quality first)"]
    fee_votes = virtuous.votes[virtuous.votes["matter"] == "fee"]
    assert fee_votes["passed"].iloc[0] and fee_votes["approval_heads"].iloc[0] > 0.9
    assert not (virtuous.events["event"] == "firm_exit").any()
    assert min(summary["collection_rate_by_year_end"].values()) > 0.9
    no_qf, _ = out["price step without quality first"]
    no_qf_votes = no_qf.votes[no_qf.votes["matter"] == "fee"]
    # Passed with less approval than with quality first, then rolled back at the first bad
    # evaluation.
    assert no_qf_votes["approval_heads"].iloc[0] < fee_votes["approval_heads"].iloc[0]
    assert (no_qf.events["event"] == "rolled_back").any()


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


@pytest.fixture()
def dashboard_url(tmp_path):
    """``feesim dashboard`` running on a free local port; killed afterwards."""
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    env = {k: v for k, v in os.environ.items() if k != "FEESIM_DASHBOARD_SCENARIO"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "feesim.surfaces.cli.main",
            "dashboard",
            "--port",
            str(port),
            "--no-browser",
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
                pytest.fail(f"dashboard exited: {(tmp_path / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("dashboard did not answer within 60 s")
            time.sleep(0.3)
        yield url
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


def _image(locator) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"), dtype=np.int16)


def _changed_share(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return 1.0
    return float(np.mean(np.any(a != b, axis=2)))


@pytest.mark.slow
def test_dashboard_in_a_real_browser(dashboard_url, capsys):
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    console: list[tuple[str, str]] = []
    requests: list[str] = []
    failed: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1300})
            page.set_default_timeout(30_000)
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: console.append(("pageerror", str(e))))
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(dashboard_url)
            page.get_by_text("Presets").first.wait_for()
            month = page.locator(".feesim-month")

            def step(n: int = 1) -> None:
                for _ in range(n):
                    before = month.inner_text()
                    page.get_by_role("button", name="Step", exact=True).click()
                    page.wait_for_function(
                        "b => document.querySelector('.feesim-month').innerText !== b", arg=before
                    )

            # A preset: the vicious cycle starts afresh, no price step.
            page.get_by_role("button", name="vicious cycle").click()
            page.wait_for_function(
                "() => document.querySelector('.feesim-levers').innerText.includes('no price')"
            )
            assert month.inner_text() == "0"
            step()
            cycle = page.locator(".feesim-cycle img").first
            cycle.wait_for()
            first = _image(cycle)
            step(6)
            assert month.inner_text() == "7"
            page.wait_for_timeout(500)
            later = _image(cycle)
            assert _changed_share(first, later) > 0.01  # the lines grew

            # A slider: five presses on the price-step slider, then Reset builds that model.
            slider = page.get_by_role("slider").nth(2)  # after play and render intervals
            slider.focus()
            for _ in range(5):
                slider.press("ArrowRight")
            page.locator(".feesim-pending").wait_for()
            page.wait_for_function(
                "() => document.querySelector('.feesim-pending').innerText.includes('+5% step')"
            )
            page.get_by_role("button", name="Reset", exact=True).click()
            page.wait_for_function(
                "() => document.querySelector('.feesim-levers').innerText.includes('+5% step')"
            )
            assert month.inner_text() == "0"

            # The virtuous preset played past its vote: the vote panel and the ballots show.
            page.get_by_role("button", name="virtuous cycle (quality first)").click()
            page.wait_for_function(
                "() => document.querySelector('.feesim-levers').innerText.includes('+50% step')"
            )
            page.get_by_role("button", name="▶").click()
            page.wait_for_function(
                "() => Number(document.querySelector('.feesim-month').innerText) >= 14",
                timeout=60_000,
            )
            page.get_by_role("button", name="❚❚").click()
            vote = page.locator(".feesim-vote")
            vote.wait_for()
            assert "turnout" in vote.inner_text() and "passed" in vote.inner_text()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(shot), full_page=True)
            with capsys.disabled():
                print(f"\ndashboard screenshot: {shot}")

            # Page 1: the phase diagram of the base community and this run's path.
            page.get_by_role("tab", name="Page 1").click()
            page.locator(".feesim-phase img").first.wait_for(timeout=60_000)
            assert "2 stable state(s)" in page.locator("pre").first.inner_text()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "dashboard-phase.png"), full_page=True)
        finally:
            browser.close()
    errors = [m for m in console if m[0] in ("error", "pageerror")]
    assert errors == []
    assert failed == []
    # Nothing came from outside this machine (no CDN).
    hosts = {urlparse(u).hostname for u in requests if urlparse(u).scheme in ("http", "https")}
    assert hosts == {"127.0.0.1"}
    assert shot.stat().st_size > 10_000
