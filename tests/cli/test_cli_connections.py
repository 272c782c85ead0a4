"""``connections list``: names, ids and state of what the credential can see."""

from __future__ import annotations

import json

CRM = "Postgres CRM → Warehouse"
EVENTS = "Events API → Warehouse"


def test_list_connections_as_json(invoke, sandbox, airbyte_args) -> None:
    result = invoke("connections", "list", *airbyte_args(sandbox), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    by_name = {c["name"]: c for c in doc["connections"]}
    assert set(by_name) == {CRM, EVENTS}
    crm = by_name[CRM]
    assert crm["status"] == "active"
    assert {s["name"] for s in crm["streams"]} == {"users", "orders"}
    assert crm["connection_id"] in {c["connectionId"] for c in sandbox.engine.list_connections()}


def test_list_connections_as_a_table(invoke, sandbox, airbyte_args) -> None:
    result = invoke("connections", "list", *airbyte_args(sandbox))
    assert result.exit_code == 0, result.stderr
    assert CRM in result.stdout and EVENTS in result.stdout
    assert "incremental_deduped_history" in result.stdout


def test_an_unknown_name_points_at_connections_list(invoke, sandbox, airbyte_args) -> None:
    result = invoke("sync", "No Such Connection", *airbyte_args(sandbox))
    assert result.exit_code == 4
    assert "luigi-airbyte connections list" in result.stderr
    assert CRM in result.stderr  # the visible connections are listed
