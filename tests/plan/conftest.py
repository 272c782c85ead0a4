"""Fixtures for plan / apply / preflight (helpers live in plan_helpers.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from plan_helpers import SECRET_VAR, Project, world_data

from luigi_airbyte.sandbox import Sandbox


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("LUIGI_AIRBYTE_") or key == "LUIGI_CONFIG_PATH":
            monkeypatch.delenv(key)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield


@pytest.fixture
def make_project(
    tmp_path: Path,
    airbyte_sandbox_factory: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Project]:
    def make(world: dict[str, Any] | None = None, **kwargs: Any) -> Project:
        sb = airbyte_sandbox_factory(world if world is not None else world_data(**kwargs))
        monkeypatch.setenv(SECRET_VAR, sb.client_secret)
        root = tmp_path / "cwd"
        project = Project(root, sb, root / "pipeline.yaml", CliRunner())
        project.write()
        return project

    return make


@pytest.fixture
def project(make_project: Callable[..., Project]) -> Project:
    return make_project()
