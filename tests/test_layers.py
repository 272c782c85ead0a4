"""The layer rule from docs/architecture.md, enforced: imports only point down the table.

Every import counts: at module level, inside functions, and in each of its forms
(``import luigi_airbyte.x``, ``from luigi_airbyte.x import y``, ``from luigi_airbyte import x``,
relative imports). Imports under ``if TYPE_CHECKING:`` are checked too: a type that points
up is still an upward dependency for the reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "luigi_airbyte"

# package -> what it may import: a whole package ("store") or one module of it
# ("store.ledger"). The table is docs/architecture.md's, row for row.
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
    "sync": {"airbyte", "store.ledger", "observe.events"},
    "checks": {"airbyte", "observe"},
    "transforms": {"observe"},
    "store": set(),
    "observe": set(),
    "secrets": set(),
    "airbyte": set(),
    "sandbox": set(),
    "testing": {"sandbox"},
}
# Bottom modules every package may import: the error tree, the exit codes, the secret
# primitive, the retry waits, the ``with``/``close()`` mixin, Airbyte's own names, the version.
ALWAYS = {"errors", "exit_codes", "masking", "backoff", "closing", "vocabulary", "__version__"}
SUBPACKAGES = set(ALLOWED) | ALWAYS


def imported_names(source: str, module_parts: tuple[str, ...]) -> list[str]:
    """Every ``luigi_airbyte...`` (or ``luigi...``) name a module's source imports.

    ``module_parts`` is the importing module's package path, e.g. ``("luigi_airbyte",
    "sync")``, used to resolve relative imports.
    """
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(module_parts[: len(module_parts) - (node.level - 1)])
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module == "luigi_airbyte":
                # ``from luigi_airbyte import sync`` names a subpackage; anything else is
                # one of the top-level lazy exports, which may hide any package.
                names.extend(f"luigi_airbyte.{a.name}" for a in node.names)
            else:
                names.append(module)
    return names


def violations(pkg: str, source: str, module_parts: tuple[str, ...]) -> list[str]:
    """What in ``source`` (a module of ``pkg``) breaks the layer rule."""
    problems = []
    for name in imported_names(source, module_parts):
        if name == "luigi" or name.startswith("luigi."):
            if pkg != "tasks":
                problems.append(f"only luigi_airbyte.tasks may import luigi ({name})")
            continue
        if name == "luigi_airbyte":
            problems.append("import the package you need, not the top-level luigi_airbyte")
            continue
        if not name.startswith("luigi_airbyte."):
            continue
        parts = name.split(".")[1:]
        target = parts[0]
        if target == pkg or target in ALWAYS:
            continue
        if target not in SUBPACKAGES:
            problems.append(
                f"luigi_airbyte.{target} is a top-level lazy export; import it from the "
                "package that defines it"
            )
            continue
        allowed = ALLOWED[pkg]
        module = ".".join(parts[:2])
        if target not in allowed and module not in allowed:
            problems.append(f"{pkg} must not import luigi_airbyte.{'.'.join(parts)}")
    return problems


def _package_files() -> list[tuple[str, Path]]:
    out = []
    for pkg in ALLOWED:
        for f in sorted((SRC / pkg).rglob("*.py")):
            out.append((pkg, f))
    return out


def _module_parts(path: Path) -> tuple[str, ...]:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return parts if path.name == "__init__.py" else parts[:-1]


@pytest.mark.parametrize(("pkg", "path"), _package_files(), ids=lambda v: str(v).split("src/")[-1])
def test_imports_point_down(pkg: str, path: Path) -> None:
    problems = violations(pkg, path.read_text(encoding="utf-8"), _module_parts(path))
    assert problems == [], f"{path}: {problems}"


def test_every_package_is_in_the_table() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)


@pytest.mark.parametrize(
    "scratch",
    [
        "import luigi_airbyte.tasks",
        "from luigi_airbyte.tasks import build",
        "from luigi_airbyte import tasks",
        "from luigi_airbyte import AirbyteSyncTask",
        "import luigi_airbyte",
        "from ..tasks import build",
        "def f():\n    from luigi_airbyte.app.runtime import Runtime\n",
        "from luigi_airbyte.store.runs import RunRepository",  # sync may use store.ledger only
        "import luigi",
    ],
)
def test_an_upward_import_in_any_form_is_caught(scratch: str) -> None:
    assert violations("sync", scratch, ("luigi_airbyte", "sync")) != []


@pytest.mark.parametrize(
    "scratch",
    [
        "from luigi_airbyte.store.ledger import Ledger",
        "from luigi_airbyte.observe.events import Event",
        "from luigi_airbyte.airbyte import AirbyteClient",
        "from luigi_airbyte.errors import AirbyteError",
        "from luigi_airbyte.masking import mask_values",
        "from .runner import SyncRunner",
    ],
)
def test_a_downward_import_passes(scratch: str) -> None:
    assert violations("sync", scratch, ("luigi_airbyte", "sync")) == []
