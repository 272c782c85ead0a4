"""The catalog a connection was configured with (config API ``/v1/connections/get``).

Airbyte stores, per connection, the source catalog as it was when the connection was last
saved: every stream (selected or not) with its JSON schema. Diffing it against a fresh
``discover_schema`` tells what changed *at the source* since then: the same diff Airbyte's
UI shows under "Review changes".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from luigi_airbyte.airbyte.models import DiscoveredStream

__all__ = ["StoredStream"]


@dataclass(frozen=True, slots=True)
class StoredStream:
    """One stream of a connection's stored catalog."""

    name: str
    namespace: str | None = None
    columns: tuple[str, ...] = ()
    selected: bool = False
    primary_key: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> StoredStream:
        """Parse one ``{stream: AirbyteStream, config: AirbyteStreamConfiguration}`` entry."""
        disc = DiscoveredStream.from_api(data)
        raw_config = data.get("config")
        config: Mapping[str, Any] = raw_config if isinstance(raw_config, Mapping) else {}
        pk = config.get("primaryKey") or []
        return cls(
            name=disc.name,
            namespace=disc.namespace,
            columns=disc.columns,
            selected=bool(config.get("selected", False)),
            primary_key=tuple(tuple(str(p) for p in k) for k in pk if isinstance(k, list) and k),
        )
