"""The README keeps its promises: the quick start runs, and what it names exists.

A reader on a fresh machine copies from the README first; a renamed file, a dropped sub-command
or a stale snippet would fail them before anything else does.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from feesim.surfaces.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_quick_start_snippet_runs_and_reproduces_the_vote(monkeypatch):
    monkeypatch.chdir(ROOT)
    snippet = _blocks("python")[0]
    assert "feesim.simulate" in snippet, "the first Python block should be the quick start"
    namespace: dict[str, object] = {}
    exec(compile(snippet, "README.md quick start", "exec"), namespace)
    result = namespace["result"]
    votes = result.votes
    assert len(votes) >= 1 and bool(votes["passed"].iloc[0])
    assert 0.75 <= float(votes["approval_heads"].iloc[0]) <= 0.95  # reported 85% (seed 002)


def test_every_command_named_in_the_readme_exists():
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)
    named = set()
    for block in _blocks("bash"):
        for line in block.splitlines():
            named.update(re.findall(r"(?:^|[\s/])feesim (\w+)", line))
    assert named, "the README shows no feesim command"
    assert named <= subcommands, f"README names unknown commands: {sorted(named - subcommands)}"


def test_every_example_and_notebook_named_in_the_readme_exists():
    paths = set(re.findall(r"\b((?:examples|notebooks)/[\w.-]+\.(?:toml|csv|ipynb))", README))
    assert paths
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"README names missing files: {missing}"


def test_ci_runs_the_readme_test_command():
    marker = README.index("<!-- test-command -->")
    expected = _blocks("bash")
    block = next(b for b in expected if README.index(b) > marker).strip()
    ci = ROOT / ".ci" / "run"
    if not ci.exists():  # pragma: no cover - the checkout always has it
        pytest.fail(".ci/run is missing")
    shown = subprocess.run(
        ["awk", r"/<!-- test-command -->/{f=1; next} f && /^```/{if (b) exit; b=1; next} f && b"],
        input=README,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert shown == block
    assert "pip install" in block and "pytest" in block  # set-up and tests in one command
    assert "awk '/<!-- test-command -->/" in ci.read_text()


def test_the_readme_names_every_lever_that_cannot_change_at_a_month():
    """ "Levers ... can be switched at a month" holds with the exceptions the README states: every
    scenario lever outside SCHEDULABLE that carries no month of its own is named there (review
    item 7)."""
    from feesim.config.params import describe
    from feesim.config.scenario import SCHEDULABLE, Scenario

    own_months = ("proposals[]", "campaigns[]", "schedule[]", "government.renovations[]")
    own_months += ("government.tier_upgrades[]", "firm.overhaul_months", "firm.replace_months")
    section = README.split("## Levers and the directions", 1)[1].split("Trust relaxes", 1)[0]
    for row in describe(Scenario):
        name = row["field"]
        if row["kind"] != "lever" or name in SCHEDULABLE or name.startswith(own_months):
            continue
        if name == "community.building_types[].fee_per_m2":
            assert "fee itself changes only by the owners' vote" in section
            continue
        assert re.search(rf"`[\w.]*\b{name.rsplit('.', 1)[1]}`", section), name
