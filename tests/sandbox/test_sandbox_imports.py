"""No import cycle between the sandbox's modules, imports inside functions included.

An import only under ``if TYPE_CHECKING:`` does not count: it never runs.
``from package import submodule`` is an edge to the submodule and to the package's
``__init__`` (the form names the package); ``import package.module`` is an edge to the module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import luigi_airbyte.sandbox as sandbox_pkg

PACKAGE = Path(sandbox_pkg.__file__).parent
PREFIX = "luigi_airbyte.sandbox"


def _module_name(path: Path, root: Path = PACKAGE, prefix: str = PREFIX) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([prefix, *parts])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, known: set[str]) -> set[str]:
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in out if m in known}


def import_graph(root: Path = PACKAGE, prefix: str = PREFIX) -> dict[str, set[str]]:
    paths = sorted(root.rglob("*.py"))
    known = {_module_name(p, root, prefix) for p in paths}
    return {
        _module_name(p, root, prefix): _imports(ast.parse(p.read_text(encoding="utf-8")), known)
        for p in paths
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := dfs(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := dfs(start)) is not None:
            return found
    return None


def test_the_sandbox_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checker_sees_a_cycle_through_a_function_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg.b import g\n"
        "def f():\n    from pkg import b\n    return b\n",
        encoding="utf-8",
    )
    (pkg / "b.py").write_text("import pkg.a\n", encoding="utf-8")
    assert find_cycle(import_graph(pkg, "pkg")) == ["pkg.a", "pkg.b", "pkg.a"]
    b_only_for_types = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n"
    (pkg / "b.py").write_text(b_only_for_types, encoding="utf-8")
    assert find_cycle(import_graph(pkg, "pkg")) is None
    (pkg / "__init__.py").write_text("from pkg.a import f\n", encoding="utf-8")
    assert find_cycle(import_graph(pkg, "pkg")) == ["pkg", "pkg.a", "pkg"]


def private_reaches(path: Path) -> list[str]:
    """``file:line obj._name`` for each private attribute read on anything but self/cls."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__"):
            continue
        base = node.value.id if isinstance(node.value, ast.Name) else "<expr>"
        if base not in ("self", "cls"):
            out.append(f"{path.name}:{node.lineno} {base}.{node.attr}")
    return out


def test_http_modules_do_not_reach_into_the_engine() -> None:
    """The HTTP layer renders what the engine's public methods return."""
    paths = [*sorted(PACKAGE.glob("http_*.py")), PACKAGE / "app.py", PACKAGE / "server.py"]
    reaches = [r for p in paths for r in private_reaches(p)]
    assert reaches == []


def test_the_reach_checker_sees_a_private_read(tmp_path: Path) -> None:
    path = tmp_path / "http_x.py"
    path.write_text("def f(call):\n    return call.engine._jobs, call._lock\n", encoding="utf-8")
    assert private_reaches(path) == ["http_x.py:2 <expr>._jobs", "http_x.py:2 call._lock"]
