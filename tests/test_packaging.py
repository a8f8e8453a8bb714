"""The built wheel carries the calibrated fit, and an installed copy uses it by default."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FITTED = ROOT / "calibration" / "fitted"
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools")
    # Build from a fresh copy of what the wheel is made of: setuptools builds in the source
    # folder, and a stale build/ there would hide a missing package-data rule.
    src = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", symlinks=True, ignore=IGNORE)
    shutil.copytree(FITTED, src / "calibration" / "fitted")
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*cmd, "-w", str(out), str(src)], check=True, capture_output=True)
    (whl,) = out.glob("feesim-*.whl")
    return whl


def test_the_wheel_ships_every_fitted_parameter_file(wheel):
    shipped = sorted(p.name for p in FITTED.glob("params-*.toml"))
    assert shipped, "calibration/fitted has no fitted file"
    with zipfile.ZipFile(wheel) as z:
        for name in shipped:
            assert z.read(f"feesim/_fitted/{name}") == (FITTED / name).read_bytes()


def test_an_installed_wheel_defaults_to_the_shipped_fit(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    newest = sorted(FITTED.glob("params-*.toml"))[-1]
    probe = (
        "import feesim, feesim.config.behaviour as b;"
        "from pathlib import Path;"
        f"assert Path(feesim.__file__).is_relative_to({str(site)!r}), feesim.__file__;"
        "files = b.fitted_params_files();"
        f"assert files and files[-1].name == {newest.name!r}, files;"
        f"assert b.default_behaviour() == b.load_params_file({str(newest)!r});"
        "assert b.default_behaviour() != b.Behaviour()"
    )
    # Run from an empty folder with only the unpacked wheel ahead of the environment, so the
    # source tree's calibration/fitted cannot be what is found.
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "no fitted parameter file found" not in run.stderr


def test_the_wheel_ships_the_catalogue_and_the_chinese_font(wheel, tmp_path):
    """A fresh install renders Chinese: compiled catalogue and font are package data."""
    src = ROOT / "src" / "feesim"
    shipped = (
        "locale/zh_CN/LC_MESSAGES/feesim.mo",
        "surfaces/fonts/FeesimNotoSansSC-Regular.otf",
        "surfaces/fonts/OFL.txt",
    )
    with zipfile.ZipFile(wheel) as z:
        for name in shipped:
            assert z.read(f"feesim/{name}") == (src / name).read_bytes(), name
        z.extractall(tmp_path / "site")
    site = str(tmp_path / "site")
    probe = (
        "import feesim.i18n as i;"
        "from feesim.surfaces import fonts;"
        f"assert str(fonts.FONT_FILE).startswith({site!r}), fonts.FONT_FILE;"
        "assert i.translation('zh_CN').gettext('Collection rate (收缴率)') == '收缴率';"
        "assert fonts.missing_glyphs('收缴率业主大会') == ''"
    )
    env = {"PYTHONPATH": site, "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
