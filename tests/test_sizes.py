"""Size limits on ``src/``: no module over 700 lines, no function over 60 lines.

A function's length runs from its first decorator to its last line (nested functions
count inside their parent and again on their own). ``luigi_airbyte/sandbox/`` is left
out here: the branch ``sandboxsplit`` splits the engine and adds its own size test.

``OVER_LIMIT`` lists what still exceeds a limit, each with the lines it has today. It
may only shrink: an entry that grows fails, and an entry that is back under the limit
(or gone) must be deleted, so the list is a to-do list that cannot be added to quietly.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 60

# Known debt: "path" or "path::function" -> its lines today (a ceiling, not a target).
# Split by concern with no behaviour change, then delete the entry.
OVER_LIMIT: dict[str, int] = {}


def measure(root: Path = SRC) -> dict[str, int]:
    """Everything over a limit under ``root``: "path" or "path::function" -> lines."""
    over: dict[str, int] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            over[rel] = lines
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                if length > MAX_FUNCTION_LINES:
                    key = f"{rel}::{node.name}"
                    over[key] = max(length, over.get(key, 0))
    return over


def test_nothing_new_is_over_a_limit() -> None:
    new = {k: v for k, v in measure().items() if k not in OVER_LIMIT}
    assert not new, (
        f"over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} a function "
        f"(split it by concern): {new}"
    )


def test_known_debt_does_not_grow() -> None:
    grown = {k: (v, OVER_LIMIT[k]) for k, v in measure().items() if v > OVER_LIMIT.get(k, v)}
    assert not grown, f"(lines now, ceiling): {grown}"


def test_paid_debt_is_deleted_from_the_list() -> None:
    stale = sorted(set(OVER_LIMIT) - set(measure()))
    assert not stale, f"back under the limit; delete from OVER_LIMIT: {stale}"


def test_the_measure_sees_a_long_function_and_a_long_module(tmp_path: Path) -> None:
    pkg = tmp_path / "luigi_airbyte"
    pkg.mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    (pkg / "long.py").write_text("@decorator\ndef f():\n" + body, encoding="utf-8")
    (pkg / "big.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1), encoding="utf-8")
    (pkg / "ok.py").write_text("def g():\n" + body[: -len(f"    x{MAX_FUNCTION_LINES - 1} = 59\n")])
    assert measure(tmp_path) == {
        "luigi_airbyte/long.py::f": MAX_FUNCTION_LINES + 2,
        "luigi_airbyte/big.py": MAX_MODULE_LINES + 1,
    }
