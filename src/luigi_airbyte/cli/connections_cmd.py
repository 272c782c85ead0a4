"""``connections list``: the connections the API credential can see, with their state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from luigi_airbyte.cli.common import CONTEXT_SETTINGS, emit_json, json_option
from luigi_airbyte.cli.options import AirbyteFlags, airbyte_options
from luigi_airbyte.cli.render import note, table

if TYPE_CHECKING:
    from luigi_airbyte.airbyte import Connection


@click.group("connections", context_settings=CONTEXT_SETTINGS)
def connections_group() -> None:
    """Look at Airbyte connections (names and ids to use in a pipeline file)."""


def connection_document(conn: Connection) -> dict[str, Any]:
    """One connection as JSON (the shape of ``connections list --json`` items)."""
    return {
        "connection_id": conn.connection_id,
        "name": conn.name,
        "status": conn.status.value,
        "status_reason": conn.status_reason,
        "workspace_id": conn.workspace_id,
        "schedule": conn.schedule_type,
        "prefix": conn.prefix,
        "streams": [
            {"name": s.name, "sync_mode": s.sync_mode, "cursor": list(s.cursor_field)}
            for s in conn.streams
        ],
    }


@connections_group.command("list")
@airbyte_options
@json_option
def list_command(airbyte: AirbyteFlags, as_json: bool) -> None:
    """List connections (in the configured workspace, else every visible one).

    \b
    Example:
      luigi-airbyte connections list -f pipeline.yaml
      luigi-airbyte connections list --url http://localhost:8000/api/public/v1 --json
    """
    from luigi_airbyte.app.queries import workspace_connections

    conns = airbyte.call(workspace_connections, as_json=as_json)
    if as_json:
        emit_json({"connections": [connection_document(c) for c in conns]})
        return
    if not conns:
        note("no connections visible to this credential")
        return
    table(
        ("name", "id", "status", "schedule", "streams"),
        [
            (
                c.name,
                c.connection_id,
                c.status.value,
                c.schedule_type or "",
                ", ".join(f"{s.name} ({s.sync_mode})" for s in c.streams),
            )
            for c in conns
        ],
    )
