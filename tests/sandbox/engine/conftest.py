"""Fixtures for the sandbox engine tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.sandbox.world import World, world_from_dict


@pytest.fixture
def make_engine(tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    """Build (and later close) a started engine from a world dict."""
    engines: list[Engine] = []

    def make(
        world: dict[str, Any] | World, *, start: bool = True, state_path: Path | None = None
    ) -> Engine:
        w = world if isinstance(world, World) else world_from_dict(world, base_dir=tmp_path)
        engine = Engine(w, state_path=state_path)
        engines.append(engine)
        if start:
            engine.start()
        return engine

    yield make
    for e in engines:
        e.close()
