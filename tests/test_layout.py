"""The package's shape: no import cycles among its modules (imports inside functions counted), lower stages never
import higher ones, and test aids stay out of the importable package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "videossr"

# The pipeline, lowest first: a module may import its own stage and the ones before it, never a later one.
# ``videossr/*.py`` (constants, io, procs, cli) are the shared primitives every stage may use.
STAGES = ("sampling", "tasks", "rewards", "datasets", "training", "evaluation")


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(root: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports anywhere in its body (module level, functions, classes).

    ``from videossr.x import y`` counts ``videossr.x.y`` when that is a module, else ``videossr.x``. A relative import
    is resolved against the module's own package.
    """
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            bases = [alias.name for alias in node.names]
            names: list[str] = []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            bases = [base]
            names = [alias.name for alias in node.names]
        else:
            continue
        for base in bases:
            subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
            if subs:
                found.update(subs)
            if base in known and len(subs) < len(names) or (base in known and not names):
                found.add(base)
    found.discard(name)
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    modules = package_modules(root)
    known = set(modules)
    return {name: imported_modules(path, name, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def stage_of(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return STAGES.index(parts[1]) if parts[1] in STAGES else None
    return -1  # a shared primitive


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path):
    pkg = tmp_path / "videossr"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("from videossr.a import y\n")
    (pkg / "a" / "y.py").write_text("def f():\n    from videossr.a.x import g\n")
    (pkg / "z.py").write_text("from . import io\n")
    (pkg / "io.py").write_text("")
    graph = import_graph(pkg)
    assert graph["videossr.z"] == {"videossr.io"}
    assert cycles(graph) == [["videossr.a.x", "videossr.a.y"]]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles (function-level imports counted): " + "; ".join(" <-> ".join(c) for c in found)


def test_lower_stages_never_import_higher_ones():
    wrong = []
    for module, deps in import_graph().items():
        own = stage_of(module)
        if own is None:
            continue
        for dep in deps:
            theirs = stage_of(dep)
            if theirs is not None and theirs > own:
                wrong.append(f"{module} -> {dep}")
    assert not wrong, "a stage imports a later one: " + ", ".join(sorted(wrong))


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_is_a_package(stage):
    assert (PACKAGE / stage / "__init__.py").is_file()


def test_no_test_aids_in_the_package():
    assert not (PACKAGE / "testing").exists()
