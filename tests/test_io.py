"""Atomic writes: whole or nothing, with ordinary permissions."""

from __future__ import annotations

import os
import stat

import pytest

from feesim.io import atomic_write_text, write_atomically


def test_atomic_write_replaces_whole_file_with_umask_permissions(tmp_path):
    p = tmp_path / "a" / "out.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask
    assert [x.name for x in p.parent.iterdir()] == ["out.txt"]  # no temporary left


def test_failed_write_keeps_the_old_content(tmp_path):
    p = tmp_path / "out.txt"
    atomic_write_text(p, "old")

    def boom(fh):
        fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomically(p, boom)
    assert p.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["out.txt"]


def test_read_toml_names_the_file_in_every_failure(tmp_path):
    from feesim.errors import ConfigError
    from feesim.io import read_toml

    good = tmp_path / "good.toml"
    good.write_text("[a]\nb = 1\n")
    assert read_toml(good) == {"a": {"b": 1}}
    bad = tmp_path / "bad.toml"
    bad.write_text("[a\n")
    cases = [
        (tmp_path / "missing.toml", "no such scenario file"),
        (tmp_path, "is a folder; expected a scenario file"),
        (bad, "not valid TOML"),
    ]
    for path, message in cases:
        with pytest.raises(ConfigError) as info:
            read_toml(path, "scenario")
        assert str(path) in str(info.value) and message in str(info.value)
