"""The package's import graph: no import cycle, and no module importing from a higher layer.

The layers, lowest first: foundation (``feesim.errors``, ``feesim.io`` and any other top-level
module except the facade ``feesim/__init__.py``) < ``feesim.config`` < ``feesim.engine`` <
``feesim.studies`` < ``feesim.surfaces``. A module may import its own layer and the ones below;
the facade ``feesim`` may import ``feesim.config`` and ``feesim.engine`` only.

The graph is read from the source with :mod:`ast`, so every import counts: module-level ones,
those inside functions and those under ``if TYPE_CHECKING:``; relative imports are resolved.
An edge goes to the most specific module that exists (``from feesim.config import scenario``
is an import of ``feesim.config.scenario``; ``from feesim.config.scenario import Scenario`` of
``feesim.config.scenario``). Importing a submodule also runs its packages' ``__init__``, but
those implicit edges are left out: a package's ``__init__`` importing one of its own modules
would otherwise make a cycle of every module in it.

Run as a script (``python tests/test_architecture.py``) to print every violation.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "feesim"

#: Layer packages, lowest first (the foundation, rank 0, is every other top-level module).
LAYERS = ("config", "engine", "studies", "surfaces")
#: What the facade ``feesim/__init__.py`` may import.
FACADE_MAY_IMPORT = ("config", "engine")


def module_files(src: Path = SRC, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package's ``__init__`` by its own name)."""
    out = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _target(name: str, modules: Iterable[str]) -> str | None:
    """The longest known module that ``name`` is or lies in (``None`` outside the package)."""
    known = set(modules)
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, path: Path, modules: Iterable[str]) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its source.

    Parameters
    ----------
    module : str
        Dotted name of the module (for resolving relative imports).
    path : Path
        Its source file.
    modules : iterable of str
        Every module of the package.
    """
    modules = set(modules)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # ``from . import x`` in a package's __init__ is relative to the package itself
                base = module.split(".")
                drop = node.level - 1 if is_package else node.level
                base = base[: len(base) - drop] if drop else base
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # ``from pkg import name``: ``name`` may be a submodule or an attribute
            names = [f"{stem}.{alias.name}" for alias in node.names] + [stem]
            if any(
                _target(f"{stem}.{a.name}", modules) not in (None, _target(stem, modules))
                for a in node.names
            ):
                names.remove(stem)
        for name in names:
            hit = _target(name, modules)
            if hit is not None and hit != module:
                out.add(hit)
    return out


def import_graph(src: Path = SRC, package: str = PACKAGE) -> dict[str, set[str]]:
    """The package's import graph: module -> the package modules it imports."""
    files = module_files(src, package)
    return {m: imports_of(m, p, files) for m, p in files.items()}


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[tuple[list[str], list[str]]]:
    """One cycle per tangle: a strongly connected component of several modules (or a self-loop).

    Returns
    -------
    list of (cycle, component)
        ``cycle`` is a shortest path ``[a, b, ..., a]`` from the component's alphabetically
        first module back to itself; ``component`` lists every module of the tangle (all of
        them lie on some cycle; breaking ``cycle`` alone may leave others).
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:  # Tarjan 1972, iterative over the edges of v
        nonlocal counter
        work = [(v, iter(sorted(graph.get(v, ()))))]
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, edges = work[-1]
            advanced = False
            for w in edges:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    advanced = True
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1 or node in graph.get(node, ()):
                    components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    cycles = []
    for comp in sorted(components):
        members = set(comp)
        start = comp[0]
        previous: dict[str, str] = {}
        frontier = [start]
        found = None
        while frontier and found is None:
            nxt = []
            for node in frontier:
                for w in sorted(graph.get(node, ())):
                    if w == start:
                        found = node
                        break
                    if w in members and w not in previous:
                        previous[w] = node
                        nxt.append(w)
                if found is not None:
                    break
            frontier = nxt
        path = [start]
        node = found
        while node is not None and node != start:
            path.append(node)
            node = previous[node]
        cycles.append(([start, *reversed(path[1:]), start], comp))
    return cycles


def describe_cycle(cycle: list[str], component: list[str]) -> str:
    """One line: the cycle, and the other modules of its tangle if there are more."""
    text = " -> ".join(cycle)
    others = sorted(set(component) - set(cycle))
    return text + (f" (same tangle: {', '.join(others)})" if others else "")


def layer_of(module: str, package: str = PACKAGE) -> int | None:
    """Rank of a module's layer (0 = foundation); ``None`` for the facade ``feesim`` itself."""
    if module == package:
        return None
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return 1 + LAYERS.index(parts[1])
    return 0


def _layer_name(rank: int) -> str:
    return "foundation" if rank == 0 else LAYERS[rank - 1]


def layer_violations(
    graph: Mapping[str, Iterable[str]], package: str = PACKAGE
) -> list[tuple[str, str, str]]:
    """Imports from a higher layer, as ``(importer, imported, reason)``."""
    out = []
    for module in sorted(graph):
        for target in sorted(graph[module]):
            rank, target_rank = layer_of(module, package), layer_of(target, package)
            if target_rank is None:  # the facade stands for the highest layer it exposes
                target_rank = max(1 + LAYERS.index(n) for n in FACADE_MAY_IMPORT)
            if rank is None:
                allowed = {0} | {1 + LAYERS.index(n) for n in FACADE_MAY_IMPORT}
                if target_rank not in allowed:
                    out.append((module, target, f"the facade may import only {FACADE_MAY_IMPORT}"))
            elif target_rank > rank:
                out.append(
                    (
                        module,
                        target,
                        f"{_layer_name(rank)} imports {_layer_name(target_rank)} (a higher layer)",
                    )
                )
    return out


# -- the tests ---------------------------------------------------------------------------------
def test_the_graph_sees_every_kind_of_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "low").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "low" / "__init__.py").write_text("from . import a\n")
    (pkg / "low" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.low.b import X\n"
    )
    (pkg / "low" / "b.py").write_text("def f():\n    from ..low import c\n")
    (pkg / "low" / "c.py").write_text("import pkg.low.a\nfrom .a import thing\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": set(),
        "pkg.low": {"pkg.low.a"},
        "pkg.low.a": {"pkg.low.b"},
        "pkg.low.b": {"pkg.low.c"},
        "pkg.low.c": {"pkg.low.a"},
    }
    cycle = ["pkg.low.a", "pkg.low.b", "pkg.low.c", "pkg.low.a"]
    assert find_cycles(graph) == [(cycle, cycle[:3])]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_layer_rule_flags_upward_imports_and_the_facade():
    graph = {
        "feesim": {"feesim.engine.model", "feesim.studies.ensemble"},
        "feesim.io": {"feesim.errors"},
        "feesim.config.scenario": {"feesim.io", "feesim.engine.rng"},
        "feesim.surfaces.cli.main": {"feesim.studies.ensemble", "feesim.config.scenario"},
        "feesim.studies.ensemble": {"feesim"},
        "feesim.config.params": {"feesim"},
    }
    found = {(a, b) for a, b, _ in layer_violations(graph)}
    assert found == {
        ("feesim", "feesim.studies.ensemble"),
        ("feesim.config.scenario", "feesim.engine.rng"),
        ("feesim.config.params", "feesim"),
    }


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(describe_cycle(*c) for c in cycles)


def test_no_module_imports_a_higher_layer():
    bad = layer_violations(import_graph())
    assert not bad, "layer violations:\n" + "\n".join(f"{a} -> {b}: {r}" for a, b, r in bad)


def main() -> int:
    """Print every cycle and layer violation; exit status 1 if there is any."""
    graph = import_graph()
    cycles = find_cycles(graph)
    bad = layer_violations(graph)
    for c in cycles:
        print("cycle: " + describe_cycle(*c))
    for a, b, reason in bad:
        print(f"layer: {a} -> {b}: {reason}")
    print(
        f"{len(graph)} modules, {sum(len(v) for v in graph.values())} imports: "
        f"{len(cycles)} cycle(s), {len(bad)} layer violation(s)"
    )
    return 1 if cycles or bad else 0


if __name__ == "__main__":
    sys.exit(main())
