"""pytest fixtures that give each test its own Airbyte-compatible sandbox on loopback.

Installed with luigi-airbyte (entry point ``pytest11``), so any project can use them::

    def test_sync(airbyte_sandbox):
        sb = airbyte_sandbox                 # started, demo world, warehouse under tmp_path
        client = MyClient(sb.url, sb.client_id, sb.client_secret)
        ...
        assert len(sb.requests("/jobs", method="POST")) == 1

    @pytest.mark.sandbox_world("worlds/slow_jobs.yaml")     # relative to the test file
    def test_cancel(airbyte_sandbox): ...

    @pytest.mark.sandbox_world({"workspaces": [{"name": "W"}], ...})   # or a dict / World
    def test_custom(airbyte_sandbox): ...

    def test_two(airbyte_sandbox_factory):
        a = airbyte_sandbox_factory()                        # demo world
        b = airbyte_sandbox_factory(my_world, state_path=tmp_path / "state.json")

Relative paths inside a dict world resolve against the test's ``tmp_path``. Every sandbox is
stopped when the test ends. The sandbox is imported lazily, so merely having the plugin
installed costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from luigi_airbyte.sandbox import Sandbox, World

SandboxFactory = Callable[..., "Sandbox"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        "sandbox_world(world): the world for the airbyte_sandbox fixture "
        "(a YAML path relative to the test file, a dict, or a World)",
    )


def _resolve_world(world: Any, base: Path, tmp_path: Path) -> World:
    from luigi_airbyte.sandbox import World, demo_world, load_world, world_from_dict

    if world is None:
        return demo_world(tmp_path / "sandbox")
    if isinstance(world, World):
        return world
    if isinstance(world, (str, Path)):
        path = Path(world)
        return load_world(path if path.is_absolute() else base / path)
    if isinstance(world, dict):
        return world_from_dict(world, source="<sandbox_world marker>", base_dir=tmp_path)
    raise TypeError(f"sandbox_world: expected a path, dict or World, got {type(world).__name__}")


@pytest.fixture
def airbyte_sandbox_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[SandboxFactory]:
    """Start sandboxes with any world; all of them stop when the test ends."""
    from luigi_airbyte.sandbox import Sandbox

    started: list[Sandbox] = []
    base = Path(str(request.path)).parent

    def factory(world: Any = None, **kwargs: Any) -> Sandbox:
        sandbox = Sandbox(_resolve_world(world, base, tmp_path / f"sb{len(started)}"), **kwargs)
        sandbox.start()
        started.append(sandbox)
        return sandbox

    yield factory
    for sandbox in reversed(started):
        sandbox.stop()


@pytest.fixture
def airbyte_sandbox(
    request: pytest.FixtureRequest, airbyte_sandbox_factory: SandboxFactory
) -> Sandbox:
    """A started sandbox: the demo world, or the one named by ``@pytest.mark.sandbox_world``."""
    marker = request.node.get_closest_marker("sandbox_world")
    world = None
    if marker is not None:
        if len(marker.args) != 1:
            raise pytest.UsageError("sandbox_world takes exactly one argument: the world")
        world = marker.args[0]
    return airbyte_sandbox_factory(world)
