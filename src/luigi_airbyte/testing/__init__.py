"""Test helpers for luigi-airbyte users: the pytest plugin with Airbyte sandbox fixtures.

See ``luigi_airbyte.testing.plugin`` for the fixtures (``airbyte_sandbox``,
``airbyte_sandbox_factory``) and the ``sandbox_world`` marker.
"""

__all__: list[str] = []
