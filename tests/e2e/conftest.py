"""Fixtures for the end-to-end tests (helpers live in ``e2e_helpers``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.e2e_helpers import Project, world_data
from luigi_airbyte.sandbox import Sandbox


@pytest.fixture
def make_project(
    tmp_path: Path, airbyte_sandbox_factory: Callable[..., Sandbox]
) -> Callable[..., Project]:
    """Start a sandbox with ``world_data(**kwargs)`` and write a project for it."""
    count = 0

    def make(world: dict[str, Any] | None = None, **kwargs: Any) -> Project:
        nonlocal count
        count += 1
        sandbox = airbyte_sandbox_factory(world if world is not None else world_data(**kwargs))
        project = Project(tmp_path / f"project{count}", sandbox)
        project.write()
        return project

    return make


@pytest.fixture
def project(make_project: Callable[..., Project]) -> Project:
    """The default project: demo world with fast jobs, the default pipeline written."""
    return make_project()


@pytest.fixture
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """For in-process CLI calls: no settings from the environment, no stray luigi.cfg."""
    for key in list(os.environ):
        if key.startswith("LUIGI_AIRBYTE_") or key == "LUIGI_CONFIG_PATH":
            monkeypatch.delenv(key)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work
