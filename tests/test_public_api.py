"""Each package says what it exports, as httpx does: ``__all__`` is the public surface.

A name imported into a package's ``__init__`` without being listed in ``__all__`` (or
listed without being there) is an accident waiting for a user to depend on it.
"""

from __future__ import annotations

import importlib
import types
from pathlib import Path

import pytest

import luigi_airbyte

SRC = Path(luigi_airbyte.__file__).parent
PACKAGES = sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").exists())


def _public(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # from __future__ import annotations
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_exactly_the_public_names(package: str) -> None:
    module = importlib.import_module(f"luigi_airbyte.{package}")
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"luigi_airbyte.{package} has no __all__"
    assert len(exported) == len(set(exported)), f"duplicates in luigi_airbyte.{package}.__all__"
    assert set(exported) == _public(module)


def test_top_level_exports_resolve_lazily() -> None:
    for name in luigi_airbyte.__all__:
        assert getattr(luigi_airbyte, name) is not None
