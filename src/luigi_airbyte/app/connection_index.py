"""The run's one connection listing, indexed once by id and by name.

Resolving N steps against a listing of N connections is then O(N), not N scans of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from luigi_airbyte.airbyte import Connection


@dataclass(frozen=True)
class ConnectionIndex:
    listing: list[Connection]
    by_id: dict[str, Connection]  # lower-case id -> the first connection with it
    by_name: dict[str, list[Connection]]

    @classmethod
    def of(cls, listing: list[Connection]) -> ConnectionIndex:
        by_id: dict[str, Connection] = {}
        by_name: dict[str, list[Connection]] = {}
        for conn in listing:
            by_id.setdefault(conn.connection_id.lower(), conn)
            by_name.setdefault(conn.name, []).append(conn)
        return cls(listing, by_id, by_name)

    def with_id(self, connection_id: str) -> Connection | None:
        return self.by_id.get(connection_id.strip().lower())

    def only_named(self, name: str) -> Connection | None:
        """The one connection with this exact name; None when none or several have it."""
        named = self.by_name.get(name, [])
        return named[0] if len(named) == 1 else None
