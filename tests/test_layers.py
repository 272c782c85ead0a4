"""The layer rule from docs/architecture.md, enforced: imports only point down the table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "luigi_airbyte"

# package -> the luigi_airbyte packages it may import ("errors" is the shared root module)
ALLOWED: dict[str, set[str]] = {
    "cli": {
        "tasks",
        "app",
        "pipeline",
        "sync",
        "checks",
        "transforms",
        "store",
        "observe",
        "secrets",
        "airbyte",
        "sandbox",
        "testing",
    },
    "tasks": {
        "app",
        "pipeline",
        "sync",
        "checks",
        "transforms",
        "store",
        "observe",
        "secrets",
        "airbyte",
    },
    "app": {"pipeline", "sync", "checks", "transforms", "store", "observe", "secrets", "airbyte"},
    "pipeline": {"sync", "checks", "transforms", "store", "observe", "secrets", "airbyte"},
    "sync": {"airbyte", "store", "observe"},
    "checks": {"airbyte", "observe"},
    "transforms": {"observe"},
    "store": set(),
    "observe": set(),
    "secrets": set(),
    "airbyte": set(),
    "sandbox": set(),
    "testing": {"sandbox"},
}
ALWAYS = {"errors", "masking", "_version"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level >= 2:
            names.append("luigi_airbyte." + (node.module or "") + "<relative>")
    return names


def _package_files() -> list[tuple[str, Path]]:
    out = []
    for pkg in ALLOWED:
        for f in sorted((SRC / pkg).rglob("*.py")):
            out.append((pkg, f))
    return out


@pytest.mark.parametrize(("pkg", "path"), _package_files(), ids=lambda v: str(v).split("src/")[-1])
def test_imports_point_down(pkg: str, path: Path) -> None:
    for name in _imports(path):
        if name.endswith("<relative>"):
            pytest.fail(f"{path}: use absolute imports across packages, not {name}")
        if name == "luigi" or name.startswith("luigi."):
            assert pkg == "tasks", f"{path}: only luigi_airbyte.tasks may import luigi ({name})"
        if not name.startswith("luigi_airbyte."):
            continue
        target = name.split(".")[1]
        if target == pkg or target in ALWAYS:
            continue
        assert target in ALLOWED[pkg], f"{path}: {pkg} must not import luigi_airbyte.{target}"


def test_every_package_is_in_the_table() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)
