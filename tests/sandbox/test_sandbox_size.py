"""Size limits for the sandbox package: no module over 700 lines, no function over 60.

Another engineer extends this to all of ``src/``; the walk is over files, so only
``PACKAGE`` changes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import luigi_airbyte.sandbox as sandbox_pkg

PACKAGE = Path(sandbox_pkg.__file__).parent
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """``file:line name (N lines)`` for each function or method longer than ``limit``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > limit:
                out.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
    return out


def test_modules_are_at_most_700_lines() -> None:
    too_long = []
    for path in _modules():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(PACKAGE)}: {n} lines")
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_functions_are_at_most_60_lines() -> None:
    too_long = [f for path in _modules() for f in long_functions(path)]
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines: {too_long}"


def test_the_checker_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    path = tmp_path / "long.py"
    path.write_text(f"def f() -> None:\n{body}\n", encoding="utf-8")
    assert long_functions(path) == [f"long.py:1 f ({MAX_FUNCTION_LINES + 1} lines)"]
    assert long_functions(path, limit=MAX_FUNCTION_LINES + 1) == []
