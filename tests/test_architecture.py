"""The shape of the code: no import cycles (function-level imports included), and the core never reaches
into the engine behind `tfae train` or the CLI."""

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).parents[1] / "src"
# The engine and the command line are built on the core, never the other way round.
ENGINE = ("tfae.training", "tfae.cli", "tfae.__main__")


def _module_name(path):
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(path): path for path in SOURCE.joinpath("tfae").rglob("*.py")}


def _imports(name, path, modules):
    """Every tfae module that ``name`` imports, at the top or inside a function, by its AST."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from tfae.models import saving` imports the module tfae.models.saving.
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in modules and target != name)
    # Importing tfae.a.b runs tfae/a/__init__ first: an edge to that package too, unless it is one of the importer's
    # own (already being imported by then).
    ancestors = {".".join(name.split(".")[:depth]) for depth in range(1, name.count(".") + 1)} | {name}
    for target in list(found):
        parts = target.split(".")
        found.update(
            package
            for package in (".".join(parts[:depth]) for depth in range(2, len(parts)))
            if package in modules and package not in ancestors
        )
    return found


def _graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycle_through(graph, start):
    """A shortest import path from ``start`` back to itself, or ``None``."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph[module]):
                if target == start:
                    return paths[module] + [start]
                if target not in paths:
                    paths[target] = paths[module] + [target]
                    following.append(target)
        frontier = following
    return None


def test_the_scan_sees_function_level_imports():
    # A check of the checker: tfae.load_model imports the saving module inside the function.
    assert "tfae.models.saving" in _graph()["tfae"]


def test_the_scan_sees_the_package_a_submodule_import_runs_first():
    # tfae.models.autoencoder imports tfae.bottlenecks.base, which runs tfae/bottlenecks/__init__.py first.
    assert "tfae.bottlenecks" in _graph()["tfae.models.autoencoder"]


def test_no_module_imports_itself_through_others():
    graph = _graph()
    cycles = {" -> ".join(cycle) for name in graph if (cycle := _cycle_through(graph, name))}
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles))


@pytest.mark.parametrize("engine", ENGINE)
def test_the_core_does_not_import_the_engine(engine):
    importers = {
        name
        for name, targets in _graph().items()
        if not name.startswith(ENGINE)
        and any(target == engine or target.startswith(engine + ".") for target in targets)
    }
    assert not importers, f"{sorted(importers)} import {engine}"
