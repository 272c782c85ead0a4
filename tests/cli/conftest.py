"""Fixtures for the CLI tests: an isolated working directory, a CliRunner, sandboxes.

Commands run in-process through ``click.testing.CliRunner`` against the real ``cli``
group (``cli.app`` lists every command), with
a sandbox Airbyte on loopback. The working directory is a fresh folder, so the default
metadata store (``.luigi-airbyte/metadata.db``) belongs to the test, and no
``LUIGI_AIRBYTE_*`` variable or luigi.cfg leaks in from the machine.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from luigi_airbyte.cli.app import cli
from luigi_airbyte.sandbox import Sandbox
from luigi_airbyte.sandbox.world import demo_world_data

CRM = "Postgres CRM → Warehouse"
EVENTS = "Events API → Warehouse"
SECRET_VAR = "CLI_TEST_AIRBYTE_SECRET"


@pytest.fixture(autouse=True)
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh working directory; no settings from the environment or a stray luigi.cfg."""
    for key in list(os.environ):
        if key.startswith("LUIGI_AIRBYTE_") or key == "LUIGI_CONFIG_PATH":
            monkeypatch.delenv(key)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work


Invoke = Callable[..., Result]


@pytest.fixture
def invoke() -> Invoke:
    """``invoke("sync", "crm", ...)`` → click Result (stdout and stderr kept apart)."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        return runner.invoke(
            cli, list(args), env=env, input=input, catch_exceptions=False, prog_name="luigi-airbyte"
        )

    return run


def world(
    *, job_seconds: float = 0.2, faults: dict[str, Any] | None = None, **settings: Any
) -> dict[str, Any]:
    """The demo world with fast jobs (and optional faults / settings)."""
    data = copy.deepcopy(demo_world_data())
    data["settings"] = {**data["settings"], "job_duration_seconds": job_seconds, **settings}
    if faults:
        data["faults"] = faults
    return data


@pytest.fixture
def start_sandbox(
    airbyte_sandbox_factory: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Sandbox]:
    """Start a sandbox with ``world(**kwargs)``; its secret goes to ``$CLI_TEST_AIRBYTE_SECRET``."""

    def start(**kwargs: Any) -> Sandbox:
        sb = airbyte_sandbox_factory(world(**kwargs))
        monkeypatch.setenv(SECRET_VAR, sb.client_secret)
        return sb

    return start


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """The demo world with 0.2 s jobs."""
    return start_sandbox()


@pytest.fixture
def airbyte_args() -> Callable[[Sandbox], list[str]]:
    """The connection flags for a sandbox (the secret as a reference, never a literal)."""

    def args(sb: Sandbox) -> list[str]:
        return [
            "--url",
            sb.url,
            "--client-id",
            sb.client_id,
            "--client-secret-ref",
            f"env:{SECRET_VAR}",
        ]

    return args
