"""An Airbyte-compatible server for local runs and tests.

It speaks the Public API (``/api/public/v1`` and ``/v1``) and the Config API (``/api/v1``) on
the wire as Airbyte does, runs real data movement into a local warehouse, and injects faults
on request. Start one in-process with ``Sandbox`` or from the shell with
``python -m luigi_airbyte.sandbox``.
"""

from luigi_airbyte.sandbox.server import Sandbox, serve
from luigi_airbyte.sandbox.world import World, demo_world, load_world, world_from_dict

__all__ = ["Sandbox", "World", "demo_world", "load_world", "serve", "world_from_dict"]
