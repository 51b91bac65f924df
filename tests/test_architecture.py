"""The import rules of docs/ARCHITECTURE.md, checked on the source: no upward import, no cycle.

Every ``import`` statement that runs counts, also those inside functions (the lazy ones that keep PyTorch
out of runs that do not need it): a lazy import still ties the two modules together. Imports under
``if TYPE_CHECKING:`` only name types for annotations and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = ("cli", "common", "pano", "soundloc")

# Lower layers first; a module may import its own layer and the layers before it, never a later one.
LAYERS = [
    ["common"],
    ["soundloc"],
    ["pano.sphere"],
    ["pano.media"],
    ["pano.run"],
    ["pano.paths", "pano.localizers", "pano.planning"],
    ["pano.rendering"],
    ["pano.pipeline", "pano.foa"],
    ["pano.batch"],
    ["pano.view"],
    ["pano"],  # the package face
    ["cli"],
]
# Packages of one layer that must not import each other either (they meet only in the pipeline).
SIBLINGS_APART = {"pano.localizers", "pano.planning"}


def _module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(root: Path = ROOT) -> dict[str, Path]:
    return {_module_name(root, p): p for top in TOP if (root / top).is_dir() for p in (root / top).rglob("*.py")}


def _type_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def _imports(path: Path, name: str) -> set[str]:
    """Modules ``path`` imports when it runs (at import time or inside functions)."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skip = _type_only(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def _graph(root: Path = ROOT) -> dict[str, set[str]]:
    mods = _modules(root)
    return {name: {i for i in _imports(path, name) if i in mods and i != name} for name, path in mods.items()}


def _unit(module: str) -> str:
    """The layer entry a module belongs to (the longest prefix listed in LAYERS)."""
    best = ""
    for layer in LAYERS:
        for entry in layer:
            if (module == entry or module.startswith(entry + ".")) and len(entry) > len(best):
                best = entry
    return best


def _rank(unit: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def _wrong_way(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a later layer, or between siblings kept apart."""
    bad = []
    for module, deps in graph.items():
        mine = _unit(module)
        for dep in deps:
            theirs = _unit(dep)
            if _rank(theirs) > _rank(mine) or (theirs != mine and {mine, theirs} <= SIBLINGS_APART):
                bad.append(f"{module} -> {dep}")
    return sorted(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of two or more modules: each is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_every_module_has_a_layer():
    assert [m for m in _modules() if not _unit(m)] == []


def test_no_module_imports_a_later_layer_or_a_sibling_kept_apart():
    assert _wrong_way(_graph()) == []


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_pano_top_level_holds_only_the_face_and_the_orchestrator():
    loose = sorted(p.name for p in (ROOT / "pano").glob("*.py"))
    assert loose == ["__init__.py", "pipeline.py"]


def test_the_checker_reports_an_upward_import_a_leak_and_a_cycle(tmp_path):
    files = {
        "common/a.py": "import pano.sphere.b\n",  # plumbing that knows of 360° video
        "pano/sphere/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pano.view.s\n",
        "pano/sphere/g.py": "def f():\n    from pano.view import s\n",  # a lazy upward import
        "pano/view/s.py": "",
        "pano/media/x.py": "from . import y\n",
        "pano/media/y.py": "from pano.media.x import thing\n",
        "pano/localizers/l.py": "import pano.planning.p\n",
        "pano/planning/p.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = _graph(tmp_path)
    assert _wrong_way(graph) == ["common.a -> pano.sphere.b", "pano.localizers.l -> pano.planning.p",
                                 "pano.sphere.g -> pano.view.s"]
    assert _cycles(graph) == [["pano.media.x", "pano.media.y"]]
