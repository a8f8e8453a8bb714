"""Golden outputs: the commands write, byte for byte, what they wrote when recorded.

The recorded files are in ``tests/golden/data`` (see ``tests/golden/record.py``, which also
rewrites them when a change is meant to move results).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "golden_record", Path(__file__).parent / "golden" / "record.py"
)
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(golden.CASES))
def test_outputs_are_identical_to_the_recorded_ones(name, tmp_path):
    files = golden.run_case(name, tmp_path / "out")
    if name in golden.DIGEST_ONLY:
        files = {k: golden.digest(v) for k, v in files.items()}
    want = golden.stored(name)
    assert sorted(files) == sorted(want)
    differ = [k for k in want if files[k] != want[k]]
    assert not differ, f"{name}: results differ from the recorded ones in {differ}"


def test_a_different_run_does_not_match(tmp_path, monkeypatch):
    """The comparison is sensitive: another seed gives other bytes."""
    monkeypatch.setitem(
        golden.CASES, "run-xianghe_2025", [*golden.CASES["run-xianghe_2025"], "--seed", "5"]
    )
    files = golden.run_case("run-xianghe_2025", tmp_path / "out")
    want = golden.stored("run-xianghe_2025")
    assert files["series.csv"] != want["series.csv"]
    assert files["meta.json"] != want["meta.json"]
