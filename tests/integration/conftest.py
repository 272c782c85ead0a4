"""Fixtures for the integration tests: sandboxes and real clients, all closed at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.integration_helpers import client_for, world
from luigi_airbyte.airbyte import AirbyteClient
from luigi_airbyte.sandbox import Sandbox, world_from_dict


@pytest.fixture
def start_sandbox(tmp_path: Path) -> Iterator[Callable[..., Sandbox]]:
    """Start a sandbox on ``world(tmp_path, **kwargs)`` (or a given world dict)."""
    started: list[Sandbox] = []

    def start(data: dict[str, Any] | None = None, **kwargs: Any) -> Sandbox:
        base = tmp_path / f"sb{len(started)}"
        base.mkdir()
        spec = data if data is not None else world(base, **kwargs)
        sandbox = Sandbox(world_from_dict(spec, source="<integration test>", base_dir=base))
        sandbox.start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in reversed(started):
        sandbox.stop()


@pytest.fixture
def make_client() -> Iterator[Callable[..., AirbyteClient]]:
    """``client_for(sb, ...)``, closed when the test ends."""
    made: list[AirbyteClient] = []

    def make(sb: Sandbox, **kwargs: Any) -> AirbyteClient:
        client = client_for(sb, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
