"""The package's import graph, read from the source with ``ast``: no circle, and no import against the layers.

Layers, lowest first: a module may import its own package and any package of a lower layer, never
one of its own layer or above (``bin`` and ``bench``, the entry points, are the top). Imports inside
functions count: they run too, only later. Imports under ``if TYPE_CHECKING:`` count for the
layers (they state a dependency) but not as a circle (they never run).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

LAYERS: tuple[tuple[str, ...], ...] = (
    ("",),                        # lamer/*.py: atomic, checksum, jsonfile, layout, progress, shards, yaml_io
    ("launch", "adapters"),
    ("data", "upstream"),
    ("runtime",),                 # process-wide guards around torch and ESPnet
    ("ssl", "probe"),             # training and the downstream probe, side by side
    ("eval", "recipe"),           # scoring and analyses; the recipe's plan and jobs
    ("ablation",),
    ("bench", "bin"),             # entry points
)
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}


def module_name(path: Path, root: Path) -> str:
    """``lamer.x.y`` of ``root/lamer/x/y.py`` (a package is its ``__init__``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:``."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return inside


def import_graph(root: Path, package: str = "lamer") -> dict[str, dict[str, bool]]:
    """``{module: {imported module: runs}}`` of every module under ``root/package``, ``runs`` False
    for an import made for type checkers only. ``from a import b`` is module ``a.b`` where that is
    one, else ``a``."""
    paths = {module_name(path, root): path for path in sorted((root / package).rglob("*.py"))}
    graph: dict[str, dict[str, bool]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        typing_only = _type_checking_nodes(tree)
        edges: dict[str, bool] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in paths else node.module
                           for alias in node.names]
            else:
                continue
            for target in targets:
                if target in paths and target != name:
                    edges[target] = edges.get(target, False) or id(node) not in typing_only
        graph[name] = edges
    return graph


def circles(graph: dict[str, dict[str, bool]]) -> list[list[str]]:
    """The import circles among imports that run (strongly connected components of more than one
    module, or a module importing itself), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target, runs in graph[module].items():
            if not runs:
                continue
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def layer_of(module: str, packages: set[str]) -> str:
    """The subpackage of ``packages`` a module belongs to (``""`` for a module directly under ``lamer/``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in packages else ""


def layer_violations(graph: dict[str, dict[str, bool]], packages: set[str]) -> list[str]:
    """Every import of a package of the same layer or above, and every package with no layer."""
    problems = [f"lamer.{package}: in no layer; add it to LAYERS" for package in sorted(packages - RANK.keys())]
    for module, edges in sorted(graph.items()):
        source = layer_of(module, packages)
        for target in sorted(edges):
            destination = layer_of(target, packages)
            if source == destination or source not in RANK or destination not in RANK:
                continue
            if RANK[destination] >= RANK[source]:
                problems.append(f"{module} imports {target}: {destination or 'lamer'} is not below "
                                f"{source or 'lamer'}")
    return problems


def subpackages(root: Path, package: str = "lamer") -> set[str]:
    """The names of the subpackages of ``root/package``, ``""`` standing for its own modules."""
    return {"", *(path.parent.name for path in (root / package).glob("*/__init__.py"))}


def test_the_package_has_no_import_circle():
    assert circles(import_graph(REPO)) == []


def test_no_module_imports_against_the_layers():
    assert layer_violations(import_graph(REPO), subpackages(REPO)) == []


@pytest.fixture
def planted(tmp_path):
    """A small ``lamer`` tree, sound as written; a test plants one fault in it."""
    files = {"__init__.py": "", "atomic.py": "", "data/__init__.py": "",
             "data/table.py": "from lamer.atomic import x\n",
             "probe/__init__.py": "", "probe/model.py": "import lamer.data.table\n",
             "eval/__init__.py": "", "eval/usage.py": "def f():\n    from lamer.probe.model import y\n"}
    for name, text in files.items():
        (tmp_path / "lamer" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "lamer" / name).write_text(text)
    return tmp_path


def test_the_checks_pass_a_sound_tree(planted):
    graph = import_graph(planted)
    assert graph["lamer.eval.usage"] == {"lamer.probe.model": True}
    assert circles(graph) == [] and layer_violations(graph, subpackages(planted)) == []


def test_a_circle_is_found_even_through_an_import_inside_a_function(planted):
    (planted / "lamer" / "data" / "other.py").write_text("def g():\n    from lamer.data.table import t\n")
    (planted / "lamer" / "data" / "table.py").write_text("from lamer.data.other import g\n")
    assert circles(import_graph(planted)) == [["lamer.data.other", "lamer.data.table"]]


def test_an_import_for_type_checkers_only_is_no_circle(planted):
    (planted / "lamer" / "data" / "other.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lamer.data.table import t\n")
    (planted / "lamer" / "data" / "table.py").write_text("from lamer.data.other import g\n")
    assert circles(import_graph(planted)) == []


def test_an_upward_import_and_an_import_within_a_layer_are_found(planted):
    (planted / "lamer" / "data" / "table.py").write_text("from lamer.eval import usage\n")
    (planted / "lamer" / "probe" / "model.py").write_text("from lamer import ssl\n")
    (planted / "lamer" / "ssl").mkdir()
    (planted / "lamer" / "ssl" / "__init__.py").write_text("")
    assert layer_violations(import_graph(planted), subpackages(planted)) == [
        "lamer.data.table imports lamer.eval.usage: eval is not below data",
        "lamer.probe.model imports lamer.ssl: ssl is not below probe",
    ]


def test_a_package_without_a_layer_is_found(planted):
    (planted / "lamer" / "espnet").mkdir()
    (planted / "lamer" / "espnet" / "__init__.py").write_text("")
    assert layer_violations(import_graph(planted), subpackages(planted)) == [
        "lamer.espnet: in no layer; add it to LAYERS"]
