"""Record the golden outputs: what the package's commands write for every example.

These files guard the engine's wiring: ``tests/test_golden.py`` runs the same commands and
requires the same bytes (CSV, JSON) or the same tables (Parquet, read back), run for run. A change
that is *meant* to change results updates them deliberately::

    python tests/golden/record.py            # rewrite tests/golden/data/
    python tests/golden/record.py --check    # compare only (what the test does)

and the commit says why the numbers moved.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = HERE / "data"

#: name -> feesim command-line arguments (``{out}`` is the output folder).
CASES: dict[str, list[str]] = {
    **{
        f"run-{name}": ["run", f"examples/{name}.toml", "--out", "{out}"]
        for name in ("frozen_fee", "xianghe_2025", "quyang_path", "fund_topup")
    },
    "run-district_hongkou": ["run", "examples/district_hongkou.toml", "--quiet", "--out", "{out}"],
    "forecast-community_xianghe": [
        "forecast",
        "examples/community_xianghe.toml",
        "--runs",
        "120",
        "--quiet",
        "--out",
        "{out}",
    ],
    "forecast-xianghe_2025-search": [
        "forecast",
        "examples/xianghe_2025.toml",
        "--runs",
        "60",
        "--search",
        "--search-runs",
        "40",
        "--quiet",
        "--out",
        "{out}",
    ],
    # The whole city (every district, housing type and million-household chunk) for four years:
    # the first contract terms end and the first firms leave; ten years took four minutes of
    # the suite and run the same code again.
    "run-city_shanghai": [
        "run",
        "examples/city_shanghai.toml",
        "--months",
        "48",
        "--workers",
        "2",
        "--quiet",
        "--out",
        "{out}",
    ],
    "ensemble-two": [
        "ensemble",
        "examples/xianghe_2025.toml",
        "examples/quyang_path.toml",
        "--replicates",
        "3",
        "--workers",
        "2",
        "--quiet",
        "--out",
        "{out}",
    ],
}
#: Cases whose outputs are too large to keep: only their SHA-256 digests are stored.
DIGEST_ONLY = frozenset({"run-city_shanghai"})
#: Files whose content is not a result (timings, pictures whose bytes depend on the renderer).
SKIP_SUFFIXES = (".png", ".html", ".log")
#: Keys of JSON files that record wall time.
TIME_KEYS = ("elapsed_s",)


def _strip_times(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _strip_times(v) for k, v in obj.items() if k not in TIME_KEYS}
    if isinstance(obj, list):
        return [_strip_times(v) for v in obj]
    return obj


def canonical(path: Path) -> bytes:
    """The bytes of a result file that must not change."""
    if path.suffix == ".json":
        return json.dumps(
            _strip_times(json.loads(path.read_text())), indent=1, sort_keys=True
        ).encode()
    if path.suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(path)
        return frame.to_csv(index=False).encode()
    return path.read_bytes()


def run_case(name: str, out: Path) -> dict[str, bytes]:
    """Run one case into ``out``; return its result files (relative path -> canonical bytes)."""
    args = [a.replace("{out}", str(out)) for a in CASES[name]]
    exe = Path(sys.executable).with_name("feesim")
    subprocess.run([str(exe), *args], cwd=ROOT, check=True, capture_output=True)
    files = {}
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.suffix not in SKIP_SUFFIXES:
            files[str(p.relative_to(out))] = canonical(p)
    return files


def digest(content: bytes) -> bytes:
    """What is kept of a file of a digest-only case."""
    return hashlib.sha256(content).hexdigest().encode()


def stored(name: str) -> dict[str, bytes]:
    """The recorded result files of one case (digests for a digest-only case)."""
    base = DATA / name
    if name in DIGEST_ONLY:
        return {k: v.encode() for k, v in json.loads((base / "sha256.json").read_text()).items()}
    return {
        str(p.relative_to(base))[: -len(".gz")]: gzip.decompress(p.read_bytes())
        for p in sorted(base.rglob("*.gz"))
    }


def record(names: list[str]) -> None:
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            files = run_case(name, Path(tmp) / "out")
        target = DATA / name
        shutil.rmtree(target, ignore_errors=True)
        if name in DIGEST_ONLY:
            target.mkdir(parents=True)
            digests = {k: digest(v).decode() for k, v in files.items()}
            (target / "sha256.json").write_text(
                json.dumps(digests, indent=1, sort_keys=True) + "\n"
            )
            print(f"{name}: {len(files)} files, digests only")
            continue
        for rel, content in files.items():
            dest = target / (rel + ".gz")
            dest.parent.mkdir(parents=True, exist_ok=True)
            # mtime=0: the archive's bytes depend only on the content.
            dest.write_bytes(gzip.compress(content, mtime=0))
        whole = hashlib.sha256(b"".join(files.values())).hexdigest()[:12]
        print(f"{name}: {len(files)} files, sha256 {whole}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "cases", nargs="*", help=f"cases to record (default all: {', '.join(CASES)})"
    )
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    names = args.cases or list(CASES)
    if not args.check:
        record(names)
        return 0
    bad = 0
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            files = run_case(name, Path(tmp) / "out")
        if name in DIGEST_ONLY:
            files = {k: digest(v) for k, v in files.items()}
        want = stored(name)
        differ = sorted(k for k in set(files) | set(want) if files.get(k) != want.get(k))
        print(f"{name}: {'identical' if not differ else 'DIFFERS: ' + ', '.join(differ)}")
        bad += bool(differ)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
