"""No two modules of ``src/`` import each other, directly or around a longer circle.

Every import counts: at module level and inside functions (a lazy import is still a
dependency; it only moves the failure to run time), in each of its forms (``import
luigi_airbyte.x``, ``from luigi_airbyte.x import y``, ``from luigi_airbyte import x``,
relative imports). Only imports under ``if TYPE_CHECKING:`` are left out: they never run.

A package's ``__init__`` counts as a module of its own: ``from luigi_airbyte.cli import
x`` where ``x`` is a submodule is an edge to that submodule, otherwise to the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "luigi_airbyte"

# Circles that are known and allowed, each with why. A circle is listed by its modules.
EXEMPT: dict[frozenset[str], str] = {}


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``)."""
    found: dict[str, tuple[Path, bool]] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:`` (not its ``else``)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.If):
            continue
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        if name == "TYPE_CHECKING":
            for stmt in node.body:
                skip.update(id(n) for n in ast.walk(stmt))
    return skip


def _owner(name: str, modules: dict[str, tuple[Path, bool]]) -> str | None:
    """The module of ours that ``name`` lands in: itself or its nearest package."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(
    module: str, path: Path, is_package: bool, modules: dict[str, tuple[Path, bool]]
) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = _type_checking_only(tree)
    package = module if is_package else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets.add(_owner(alias.name, modules) or "")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                child = f"{base}.{alias.name}"
                targets.add(child if child in modules else _owner(base, modules) or "")
    targets.discard("")
    targets.discard(module)
    return targets


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    modules = _modules(root)
    return {name: _imports(name, path, pkg, modules) for name, (path, pkg) in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
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
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_src_has_no_import_circles() -> None:
    found = [c for c in circles(import_graph()) if c not in EXEMPT]
    assert not found, "import circles:\n" + "\n".join(
        " <-> ".join(sorted(c)) for c in sorted(found, key=sorted)
    )


def test_every_exemption_is_still_a_circle() -> None:
    """An exemption whose circle is gone must be deleted, so the list only shrinks."""
    present = set(circles(import_graph()))
    stale = [sorted(c) for c in EXEMPT if c not in present]
    assert not stale, f"exempt circles that no longer exist (delete them): {stale}"


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / PACKAGE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_lazy_import_inside_a_function_closes_a_circle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from luigi_airbyte.b import x\n",
            "b.py": "x = 1\ndef f():\n    from luigi_airbyte import a\n    return a\n",
        },
    )
    assert circles(import_graph(tmp_path)) == [frozenset({"luigi_airbyte.a", "luigi_airbyte.b"})]


def test_a_type_checking_import_does_not(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from luigi_airbyte.b import x\n",
            "b.py": (
                "from typing import TYPE_CHECKING\nx = 1\n"
                "if TYPE_CHECKING:\n    from luigi_airbyte.a import y\n"
            ),
        },
    )
    assert circles(import_graph(tmp_path)) == []


def test_relative_and_package_imports_count(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "__init__.py": "",
            "p/__init__.py": "from luigi_airbyte.p.one import thing\n",
            "p/one.py": "from . import two\nthing = 1\n",
            "p/two.py": "import luigi_airbyte.p\n",
        },
    )
    assert circles(import_graph(tmp_path)) == [
        frozenset({"luigi_airbyte.p", "luigi_airbyte.p.one", "luigi_airbyte.p.two"})
    ]
