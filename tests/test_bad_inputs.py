"""Bad and odd inputs across the commands: one line, the user's key, exit 2, --out untouched.

Issue 17 ("nothing lost, nothing mixed, no traceback") replays inputs a new user or an
attacker would try. Each case here runs ``feesim`` in this process (fast: every one stops
before any simulation) and asserts that it

- returns exit status 2,
- prints exactly one line on standard error, naming the key as the user wrote it (a file key
  such as ``proposal.new_fee`` or an option such as ``--runs``),
- prints no traceback,
- and leaves the previous contents of the output folder byte for byte as they were.

The second half checks that reused and interrupted output folders never mix two runs (tests
that fail on the code before the change), and the process-level behaviour a subprocess is
needed for: SIGTERM ends the workers, a closed pipe is quiet, ``--version``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from feesim.surfaces.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCENARIO = str(EXAMPLES / "xianghe_2025.toml")
COMMUNITY = str(EXAMPLES / "community_xianghe.toml")
FEESIM = str(Path(sys.executable).with_name("feesim"))


# ==============================================================================================
# the inputs
# ==============================================================================================
NEW_FEE = 'new_fee = { "multi-storey" = 0.97, "high-rise" = 1.44 }'


def _files(d: Path) -> dict[str, Path]:
    """Bad input files in ``d`` (made once per test module)."""
    scenario = (EXAMPLES / "xianghe_2025.toml").read_text(encoding="utf-8")
    comm = (EXAMPLES / "community_xianghe.toml").read_text(encoding="utf-8")
    made: dict[str, bytes | str | None] = {
        "a_file": "not a folder\n",
        "gbk.toml": '[meta]\nname = "上海小区"\n'.encode("gbk"),
        "latin1.toml": b'[meta]\nname = "caf\xe9"\n',
        "broken.toml": "[meta\nname = 1\n",
        "unknown_key.toml": scenario.replace("[simulation]", "[simulation]\nmonthz = 3", 1),
        "margin.toml": scenario.replace("[firm]", "[firm]\ntarget_margin = 5", 1),
        "start1850.toml": scenario.replace('start = "2024-01"', 'start = "1850-01"'),
        "empty.csv": "",
        "gbk.csv": "community,households\n小区,100\n".encode("gbk"),
        "nan.csv": "community,households,trust\na,100,\n",
        "column.csv": "community,households,colour\na,100,red\n",
        "quotes.csv": 'community,households\n"a,100\nb,"200\n',
        "missing_csv.toml": '[portfolio]\ncommunities = "nowhere.csv"\n',
        "sets.toml": f'[portfolio]\ncommunities = "{EXAMPLES / "district_hongkou.csv"}"\n'
        "parameter_sets = 1000\n",
        "empty_ensemble.toml": "",
        "gbk_ensemble.toml": "# 参数\n".encode("gbk"),
        # Chinese text saved as GBK (Notepad's "ANSI" on Chinese Windows).
        "gbk_community.toml": comm.replace('"Xianghe Jiayuan"', '"祥和家园"').encode("gbk"),
        "fee0.toml": comm.replace("fee = 0.75", "fee = 0.0")
        .replace("fee = 1.21", "fee = 0.0")
        .replace(NEW_FEE, "step_percent = 20"),
        "start_community.toml": comm.replace('start = "2024-01"', 'start = "1850-01"').replace(
            'vote = "2024-11"', "vote = 10"
        ),
        "negative_fee.toml": comm.replace(NEW_FEE, "new_fee = -1"),
        "vote5000.toml": comm.replace('vote = "2024-11"', "vote = 5000"),
        "bad_type.toml": comm.replace('type = "high-rise"', 'type = "multi-storey"'),
        "header_only.csv": "community,households\n",
        "header_only_ref.toml": '[portfolio]\ncommunities = "header_only.csv"\n',
        "few_households.toml": "[portfolio]\nmonths = 12\n[generator]\ncommunities = 20\n"
        "households = 10\n",
        "typo_ensemble.csv": "approve_stepp,pay_trust\n2.0,0.5\n",
    }
    (d / "dir.csv").mkdir()
    (d / "folder.toml").mkdir()
    paths = {"dir.csv": d / "dir.csv", "folder.toml": d / "folder.toml"}
    for name, content in made.items():
        p = d / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        paths[name] = p
    return paths


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    return _files(tmp_path_factory.mktemp("bad"))


def _cases(f: dict[str, Path], out: str) -> list[tuple[str, list[str], str | tuple[str, ...]]]:
    """(name, argv, the key the message must name, or several fragments it must hold).

    ``out`` is a folder with earlier results.
    """
    a_file = str(f["a_file"])
    return [
        # -- output paths (checked before any simulation) ------------------------------------
        ("run --out file", ["run", SCENARIO, "--out", a_file], "--out"),
        ("run --out under file", ["run", SCENARIO, "--out", a_file + "/x"], "--out"),
        ("run --out empty", ["run", SCENARIO, "--out", ""], "--out"),
        ("run --out unwritable", ["run", SCENARIO, "--out", "/sys/feesim-out"], "--out"),
        ("ensemble --out file", ["ensemble", SCENARIO, "--out", a_file], "--out"),
        ("ensemble --out under file", ["ensemble", SCENARIO, "--out", a_file + "/x"], "--out"),
        ("ensemble --out empty", ["ensemble", SCENARIO, "--out", ""], "--out"),
        ("forecast --out file", ["forecast", COMMUNITY, "--out", a_file], "--out"),
        ("forecast --out under file", ["forecast", COMMUNITY, "--out", a_file + "/x"], "--out"),
        ("forecast --out empty", ["forecast", COMMUNITY, "--out", ""], "--out"),
        (
            "forecast --target without --search",
            ["forecast", COMMUNITY, "--target", "0.9", "--out", out],
            ["--target", "0.9", "--search"],
        ),
        (
            "forecast --search-runs without --search",
            ["forecast", COMMUNITY, "--search-runs", "50", "--out", out],
            ["--search-runs", "50", "--search"],
        ),
        ("forecast --out unwritable", ["forecast", COMMUNITY, "--out", "/sys/x/y"], "--out"),
        (
            "portfolio --out file",
            ["run", str(EXAMPLES / "district_hongkou.toml"), "--out", a_file],
            "--out",
        ),
        ("bench --json folder", ["bench", "--json", str(f["dir.csv"])], "--json"),
        ("bench --json under file", ["bench", "--json", a_file + "/b.json"], "--json"),
        # -- files: missing, folders, encodings, empty, malformed ------------------------------
        ("run GBK scenario", ["run", str(f["gbk.toml"]), "--out", out], "GBK"),
        ("run Latin-1 scenario", ["run", str(f["latin1.toml"]), "--out", out], "UTF-8"),
        ("run missing scenario", ["run", "nowhere.toml", "--out", out], "nowhere.toml"),
        ("run folder as scenario", ["run", str(f["folder.toml"]), "--out", out], "folder.toml"),
        ("run broken TOML", ["run", str(f["broken.toml"]), "--out", out], "broken.toml"),
        ("run unknown key", ["run", str(f["unknown_key.toml"]), "--out", out], "monthz"),
        ("run value out of range", ["run", str(f["margin.toml"]), "--out", out], "target_margin"),
        ("run start 1850", ["run", str(f["start1850.toml"]), "--out", out], "simulation.start"),
        ("run empty portfolio", ["run", str(f["empty.csv"]), "--out", out], "empty.csv"),
        ("run GBK portfolio", ["run", str(f["gbk.csv"]), "--out", out], "GBK"),
        ("run portfolio folder", ["run", str(f["dir.csv"]), "--out", out], "dir.csv"),
        ("run portfolio empty cell", ["run", str(f["nan.csv"]), "--out", out], "empty cell"),
        ("run portfolio unknown column", ["run", str(f["column.csv"]), "--out", out], "colour"),
        ("run portfolio bad quotes", ["run", str(f["quotes.csv"]), "--out", out], "quotes.csv"),
        (
            "run portfolio missing CSV",
            ["run", str(f["missing_csv.toml"]), "--out", out],
            "portfolio.communities",
        ),
        (
            "run portfolio too many sets",
            ["run", str(f["sets.toml"]), "--out", out],
            "portfolio.parameter_sets",
        ),
        ("run community file", ["run", COMMUNITY, "--out", out], "feesim forecast"),
        (
            "calibrate --out file",
            ["calibrate", "--quick", "--quiet", "--out", a_file, "--lang", "en"],
            ("--out", "an existing file"),
        ),
        (
            "calibrate --out under file",
            ["calibrate", "--quick", "--quiet", "--out", a_file + "/x"],
            "--out",
        ),
        (
            "forecast --ensemble with one misspelt column",
            [
                "forecast",
                COMMUNITY,
                "--runs",
                "20",
                "--ensemble",
                str(f["typo_ensemble.csv"]),
                "--out",
                out,
            ],
            ("typo_ensemble.csv", "'approve_stepp'", "approve_step?", "feesim describe"),
        ),
        (
            "run portfolio --parameter-sets beyond the fitted ensemble",
            [
                "run",
                str(EXAMPLES / "district_hongkou.toml"),
                "--parameter-sets",
                "999",
                "--out",
                out,
            ],
            ("--parameter-sets", "999"),
        ),
        (
            "run portfolio --format parquet",
            [
                "run",
                str(EXAMPLES / "district_hongkou.toml"),
                "--format",
                "parquet",
                "--months",
                "12",
                "--out",
                out,
            ],
            ("--format", "parquet"),
        ),
        (
            "run header-only portfolio",
            ["run", str(f["header_only.csv"]), "--out", out],
            ("header_only.csv", "no rows"),
        ),
        (
            "run portfolio naming a header-only CSV",
            ["run", str(f["header_only_ref.toml"]), "--out", out],
            ("portfolio.communities", "header_only.csv", "no rows"),
        ),
        (
            "run generator below its households",
            ["run", str(f["few_households.toml"]), "--out", out],
            ("generator.households", "got 10 ", "1,000 to 250,000"),
        ),
        (
            "ensemble portfolio file",
            [
                "ensemble",
                str(EXAMPLES / "district_hongkou.toml"),
                "--replicates",
                "2",
                "--out",
                out,
            ],
            ("district_hongkou.toml", "feesim run"),
        ),
        (
            "ensemble portfolio CSV",
            ["ensemble", str(EXAMPLES / "district_hongkou.csv"), "--replicates", "2", "--out", out],
            ("district_hongkou.csv", "feesim run"),
        ),
        ("ensemble community file", ["ensemble", COMMUNITY, "--out", out], "feesim forecast"),
        ("ensemble GBK scenario", ["ensemble", str(f["gbk.toml"]), "--out", out], "GBK"),
        ("ensemble same file twice", ["ensemble", SCENARIO, SCENARIO, "--out", out], "twice"),
        ("forecast GBK community", ["forecast", str(f["gbk_community.toml"]), "--out", out], "GBK"),
        ("forecast missing file", ["forecast", "nowhere.toml", "--out", out], "nowhere.toml"),
        (
            "forecast empty --ensemble",
            ["forecast", COMMUNITY, "--ensemble", str(f["empty_ensemble.toml"]), "--out", out],
            "--ensemble",
        ),
        (
            "forecast GBK --ensemble",
            ["forecast", COMMUNITY, "--ensemble", str(f["gbk_ensemble.toml"]), "--out", out],
            "GBK",
        ),
        (
            "forecast missing --ensemble",
            ["forecast", COMMUNITY, "--ensemble", "nowhere.toml", "--out", out],
            "nowhere.toml",
        ),
        # -- limits ---------------------------------------------------------------------------
        (
            "forecast --runs 1e9",
            ["forecast", COMMUNITY, "--runs", "1000000000", "--out", out],
            "--runs",
        ),
        (
            "forecast --search-runs 1e9",
            ["forecast", COMMUNITY, "--search", "--search-runs", "1000000000", "--out", out],
            "--search-runs",
        ),
        (
            "ensemble --replicates 1e9",
            ["ensemble", SCENARIO, "--replicates", "1000000000", "--out", out],
            "--replicates",
        ),
        (
            "ensemble members over the limit",
            ["ensemble", SCENARIO, str(EXAMPLES / "quyang_path.toml"), "--replicates", "600000"],
            "--replicates",
        ),
        (
            "ensemble --workers 1000",
            ["ensemble", SCENARIO, "--workers", "1000", "--out", out],
            "--workers",
        ),
        (
            "forecast --workers 1000",
            ["forecast", COMMUNITY, "--workers", "1000", "--out", out],
            "--workers",
        ),
        (
            "calibrate --workers 1000",
            ["calibrate", "--quick", "--workers", "1000", "--out", out],
            "--workers",
        ),
        (
            "portfolio --workers 1000",
            ["run", str(EXAMPLES / "district_hongkou.toml"), "--workers", "1000", "--out", out],
            "--workers",
        ),
        # -- nonsense values ------------------------------------------------------------------
        (
            "forecast zero fee +20%",
            ["forecast", str(f["fee0.toml"]), "--out", out],
            "proposal.step_percent",
        ),
        (
            "forecast start 1850",
            ["forecast", str(f["start_community.toml"]), "--out", out],
            "forecast.start",
        ),
        (
            "forecast new_fee -1",
            ["forecast", str(f["negative_fee.toml"]), "--out", out],
            "proposal.new_fee",
        ),
        (
            "forecast vote 5000",
            ["forecast", str(f["vote5000.toml"]), "--out", out],
            "proposal.vote",
        ),
        (
            "forecast duplicate types",
            ["forecast", str(f["bad_type.toml"]), "--out", out],
            "buildings",
        ),
        (
            "forecast unknown --new-fee type",
            ["forecast", COMMUNITY, "--new-fee", "villa=2", "--out", out],
            "--new-fee",
        ),
        (
            "forecast --step-pct 5000",
            ["forecast", COMMUNITY, "--step-pct", "5000", "--out", out],
            "--step-pct",
        ),
        ("forecast --target 2", ["forecast", COMMUNITY, "--target", "2", "--out", out], "--target"),
        ("forecast --runs abc", ["forecast", COMMUNITY, "--runs", "abc", "--out", out], "--runs"),
        (
            "forecast --months-after-vote 0",
            ["forecast", COMMUNITY, "--months-after-vote", "0"],
            "--months-after-vote",
        ),
        ("run --months 0", ["run", SCENARIO, "--months", "0", "--out", out], "--months"),
        (
            "run --months before the vote",
            ["run", SCENARIO, "--months", "3", "--out", out],
            "--months",
        ),
        ("run --seed -1", ["run", SCENARIO, "--seed", "-1", "--out", out], "--seed"),
        ("run --seed 1.5", ["run", SCENARIO, "--seed", "1.5", "--out", out], "--seed"),
        (
            "run --parameter-sets for one scenario",
            ["run", SCENARIO, "--parameter-sets", "2", "--out", out],
            "--parameter-sets",
        ),
        (
            "run --workers for one scenario",
            ["run", SCENARIO, "--workers", "2", "--out", out],
            "--workers",
        ),
        ("run --format xml", ["run", SCENARIO, "--format", "xml", "--out", out], "--format"),
        (
            "ensemble --replicates 0",
            ["ensemble", SCENARIO, "--replicates", "0", "--out", out],
            "--replicates",
        ),
        (
            "ensemble malformed --scheduler",
            ["ensemble", SCENARIO, "--replicates", "2", "--scheduler", "nonsense::1", "--out", out],
            "--scheduler",
        ),
        (
            "ensemble dead --scheduler",
            [
                "ensemble",
                SCENARIO,
                "--replicates",
                "2",
                "--scheduler",
                "tcp://127.0.0.1:1",
                "--out",
                out,
            ],
            "--scheduler",
        ),
        ("describe --kind bad", ["describe", "--kind", "bad"], "--kind"),
        ("unknown command", ["simulate", SCENARIO], "simulate"),
        ("no command", [], "command"),
    ]


# ==============================================================================================
# replaying them
# ==============================================================================================
def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def earlier(tmp_path_factory) -> Path:
    """An output folder with the files of an earlier run (a run's and an ensemble's names)."""
    out = tmp_path_factory.mktemp("earlier") / "out"
    (out / "series").mkdir(parents=True)
    (out / "series" / "chunk-000007.parquet").write_bytes(b"earlier chunk")
    for name in ("members.csv", "summary.csv", "series.csv", "forecast.json", "report.html"):
        (out / name).write_text(f"earlier {name}\n", encoding="utf-8")
    return out


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    return status, capsys.readouterr().err


class _AnyPath(dict):
    def __missing__(self, key: str) -> Path:
        return Path(key)


CASE_NAMES = [c[0] for c in _cases(_AnyPath(), "out")]


def test_at_least_sixty_bad_inputs_are_replayed():
    assert len(CASE_NAMES) >= 60 and len(set(CASE_NAMES)) == len(CASE_NAMES)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_is_one_line_naming_the_key_exit_2(name, bad, earlier, capsys, tmp_path):
    before = _snapshot(earlier)
    a_file = bad["a_file"].read_bytes()
    cases = {c[0]: c for c in _cases(bad, str(earlier))}
    _, argv, key = cases[name]
    keys = (key,) if isinstance(key, str) else key
    cwd = Path.cwd()
    os.chdir(tmp_path)  # relative names (nowhere.toml) resolve in an empty folder
    try:
        status, err = _run(argv, capsys)
    finally:
        os.chdir(cwd)
    lines = err.strip().splitlines()
    assert status == 2, (status, err)
    assert len(lines) == 1, err
    assert "Traceback" not in err and all(k in lines[0] for k in keys), lines[0]
    assert lines[0].startswith("feesim"), lines[0]
    assert _snapshot(earlier) == before, "the earlier contents of --out changed"
    assert bad["a_file"].read_bytes() == a_file
    assert not list(tmp_path.iterdir()), "nothing is written for a bad input"


def test_a_utf8_file_with_a_byte_order_mark_is_read(tmp_path, capsys):
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + (EXAMPLES / "xianghe_2025.toml").read_bytes())
    assert main(["run", str(bom), "--months", "18"]) == 0
    assert "error" not in capsys.readouterr().err


# ==============================================================================================
# nothing mixed: reused and interrupted output folders (these fail on the code before issue 17)
# ==============================================================================================
TWO = [SCENARIO, str(EXAMPLES / "quyang_path.toml")]
SMALL = ["--months", "24", "--chunk-households", "2500", "--workers", "1", "--quiet"]


def _members_read_back(out: Path) -> tuple[int, int]:
    from feesim.studies.ensemble import EnsembleResult

    res = EnsembleResult.load(out)
    return len(res.members), int(res.series["member"].nunique())


def test_a_reused_ensemble_out_holds_the_last_run_only(tmp_path):
    out = tmp_path / "ens"
    assert main(["ensemble", *TWO, "--replicates", "3", *SMALL, "--out", str(out)]) == 0
    assert _members_read_back(out) == (6, 6)
    assert main(["ensemble", TWO[0], "--replicates", "1", *SMALL, "--out", str(out)]) == 0
    # Before: the six chunks of the first run stayed beside the new members.csv.
    assert _members_read_back(out) == (1, 1)
    assert len(list((out / "series").glob("chunk-*.parquet"))) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "staging left behind"


def test_an_interrupted_ensemble_leaves_the_earlier_out_as_it_was(tmp_path, monkeypatch):
    import feesim.studies.ensemble as ensemble

    out = tmp_path / "ens"
    assert main(["ensemble", *TWO, "--replicates", "2", *SMALL, "--out", str(out)]) == 0
    before = _snapshot(out)
    real = ensemble.run_chunk
    calls = []

    def interrupted(chunk):
        calls.append(chunk.chunk)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(chunk)

    monkeypatch.setattr(ensemble, "run_chunk", interrupted)
    args = ["ensemble", TWO[1], "--replicates", "4", "--seed", "9", *SMALL, "--out", str(out)]
    assert main(args) == 130
    # Before: the first new chunk had replaced chunk 0 beside the old members.csv.
    assert _snapshot(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_scenario_files_of_the_same_name_in_two_folders_are_both_run(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "base.toml").write_text(Path(SCENARIO).read_text(encoding="utf-8"))
    out = tmp_path / "ens"
    files = [str(tmp_path / "a" / "base.toml"), str(tmp_path / "b" / "base.toml")]
    assert main(["ensemble", *files, "--replicates", "2", *SMALL, "--out", str(out)]) == 0
    members = pd.read_csv(out / "members.csv")
    # Before: both were keyed "base" and one silently replaced the other.
    assert sorted(members["key"].unique()) == ["a/base", "b/base"]
    assert len(members) == 4


def test_every_ensemble_table_reads_as_one_parquet_dataset(tmp_path):
    out = tmp_path / "ens"
    assert main(["ensemble", *TWO, "--replicates", "2", *SMALL, "--out", str(out)]) == 0
    for table in ("series", "votes", "events", "campaigns"):
        # Before: chunks without campaigns stored null-typed columns and this failed.
        frame = pd.read_parquet(out / table)
        assert "member" in frame
    assert len(pd.read_parquet(out / "campaigns")) > 0  # quyang's collection campaign


def test_chunks_carry_absolute_output_paths(small_scenario, tmp_path, monkeypatch):
    from feesim.studies.ensemble import Ensemble

    monkeypatch.chdir(tmp_path)
    chunks = Ensemble(small_scenario, replicates=2).chunks(out="relative/out")
    # Before: "relative/out", which a Dask worker resolves in its own working directory.
    assert all(Path(c.out).is_absolute() and c.out.endswith("relative/out") for c in chunks)


def test_a_reused_forecast_out_does_not_keep_an_earlier_search_plot(tmp_path, capsys):
    out = tmp_path / "fc"
    out.mkdir()
    (out / "search.png").write_bytes(b"an earlier search")
    (out / "notes.txt").write_text("mine")
    args = ["forecast", COMMUNITY, "--runs", "20", "--workers", "1", "--quiet", "--no-ensemble"]
    assert main([*args, "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert "search.png" not in names and "notes.txt" in names and "forecast.json" in names


def test_api_save_onto_a_file_is_an_output_error(tmp_path, small_scenario):
    import feesim
    from feesim.errors import OutputError

    result = feesim.simulate(small_scenario, rng=1)
    target = tmp_path / "a_file"
    target.write_text("x")
    with pytest.raises(OutputError, match="existing file"):
        result.save(target)


# ==============================================================================================
# processes: SIGTERM, a closed pipe, --version
# ==============================================================================================
def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        out.update(int(x) for x in text.split())
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_sigterm_ends_the_ensemble_and_its_workers(tmp_path):
    out = tmp_path / "ens"
    out.mkdir()
    (out / "members.csv").write_text("earlier\n")
    args = [FEESIM, "ensemble", SCENARIO, "--replicates", "400", "--chunk-households", "4000"]
    proc = subprocess.Popen(
        [*args, "--workers", "2", "--quiet", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
        workers = _children(proc.pid)
        time.sleep(0.2)
    assert workers, "the pool did not start"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    time.sleep(2)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert not [w for w in workers if _alive(w)], "a worker outlived the command"
    assert b"Traceback" not in err
    assert (out / "members.csv").read_text() == "earlier\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_closed_pipe_is_quiet(tmp_path):
    # head exits after one line; feesim's next writes meet a closed pipe.
    script = f'"{FEESIM}" describe 2>"{tmp_path}/err" | head -n 1; echo "${{PIPESTATUS[0]}}"'
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    status = int(done.stdout.strip().splitlines()[-1])
    assert (tmp_path / "err").read_text() == ""
    assert status in (0, 128 + signal.SIGPIPE)


def test_version(capsys):
    from feesim.protocol import feesim_version

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"feesim {feesim_version()}"


def test_dashboard_on_a_taken_port_is_one_line_naming_port_exit_2(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # Before: the server started, failed to listen and the command exited 3.
        status, err = _run(["dashboard", "--no-browser", "--port", str(port)], capsys)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1, err
    assert "--port" in lines[0] and str(port) in lines[0] and "Traceback" not in err


def test_pdf_without_a_browser_is_refused_before_any_run(earlier, capsys, monkeypatch):
    """``--pdf`` with no Chromium: one line naming --pdf, exit 2, before the forecast runs (a
    missing browser used to be found only after the runs, and the staged report was dropped)."""
    import feesim.studies.forecast.engine as engine

    def no_runs(*args, **kwargs):
        raise AssertionError("the forecast ran before --pdf was checked")

    monkeypatch.setattr(engine, "run_forecast", no_runs)
    monkeypatch.setenv("FEESIM_CHROMIUM", "/nonexistent/chromium")
    before = _snapshot(earlier)
    community = ROOT / "examples" / "community_xianghe.toml"
    status, err = _run(["forecast", str(community), "--out", str(earlier), "--pdf"], capsys)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and "--pdf" in lines[0], err
    assert _snapshot(earlier) == before
