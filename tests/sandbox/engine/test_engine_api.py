"""Resource shapes (public and config API), PATCH, checks, discovery, applications, files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import base_world, conn_id, run_sync

from luigi_airbyte.sandbox.engine import MASK, Engine
from luigi_airbyte.sandbox.errors import BadRequest, Conflict, NotFound
from luigi_airbyte.sandbox.world import demo_world


def test_workspace_source_destination_shapes(tmp_path: Path, make_engine: Any) -> None:
    engine: Engine = make_engine(base_world(tmp_path), start=False)
    (ws,) = engine.list_workspaces()
    assert set(ws) == {"workspaceId", "name", "dataResidency", "notifications"}
    assert ws["notifications"]["failure"] == {
        "email": {"enabled": False},
        "webhook": {"enabled": False},
    }
    assert engine.get_workspace(ws["workspaceId"]) == ws
    conn = engine.list_connections()[0]
    src = engine.get_source(conn["sourceId"])
    assert src["sourceType"] == "faker" and src["workspaceId"] == ws["workspaceId"]
    assert src["configuration"] == {"password": MASK, "host": "db", "sourceType": "faker"}
    assert isinstance(src["createdAt"], int)
    dst = engine.get_destination(conn["destinationId"])
    assert dst["destinationType"] == "duckdb"
    assert dst["configuration"] == {
        "destination_path": str(tmp_path / "wh.duckdb"),
        "destinationType": "duckdb",
    }
    assert engine.destination_url(conn["destinationId"]) == f"duckdb:///{tmp_path / 'wh.duckdb'}"
    for call in (engine.get_workspace, engine.get_source, engine.get_destination):
        with pytest.raises(NotFound):
            call("00000000-0000-0000-0000-000000000000")


def test_connection_response_and_patch(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(
        tmp_path,
        streams=[{"name": "users", "sync_mode": "incremental_deduped_history"}],
    )
    data["connections"][0]["schedule"] = {"type": "cron", "cron_expression": "0 0 12 * * ?"}
    engine: Engine = make_engine(data, start=False)
    cid = conn_id(engine)
    conn = engine.get_connection(cid)
    assert conn["schedule"] == {"scheduleType": "cron", "cronExpression": "0 0 12 * * ? UTC"}
    assert conn["configurations"] == {
        "streams": [
            {
                "name": "users",
                "syncMode": "incremental_deduped_history",
                "cursorField": ["updated_at"],
                "primaryKey": [["id"]],
            }
        ]
    }
    assert conn["tags"] == [] and conn["prefix"] == "p_"
    cfg = engine.config_connection(cid)
    by_name = {s["stream"]["name"]: s["config"] for s in cfg["syncCatalog"]["streams"]}
    assert by_name["users"]["syncMode"] == "incremental"
    assert by_name["users"]["destinationSyncMode"] == "append_dedup"
    assert by_name["users"]["selected"] is True and by_name["orders"]["selected"] is False
    assert cfg["scheduleData"] == {
        "cron": {"cronExpression": "0 0 12 * * ?", "cronTimeZone": "UTC"}
    }
    assert cfg["breakingChange"] is False and isinstance(cfg["created_at"], int)

    patched = engine.patch_connection(
        cid,
        {
            "name": "new name",
            "schedule": {"scheduleType": "manual"},
            "configurations": {
                "streams": [
                    {"name": "orders", "syncMode": "full_refresh_append"},
                    {"name": "events", "syncMode": "incremental_append", "cursorField": ["at"]},
                ]
            },
        },
    )
    assert patched["name"] == "new name" and patched["schedule"] == {"scheduleType": "manual"}
    assert [(s["name"], s["syncMode"]) for s in patched["configurations"]["streams"]] == [
        ("orders", "full_refresh_append"),
        ("events", "incremental_append"),
    ]
    assert engine.get_connection(cid) == patched
    with pytest.raises(BadRequest, match="Invalid stream"):
        engine.patch_connection(cid, {"configurations": {"streams": [{"name": "nope"}]}})
    with pytest.raises(BadRequest, match="syncMode"):
        engine.patch_connection(
            cid, {"configurations": {"streams": [{"name": "users", "syncMode": "bad"}]}}
        )
    with pytest.raises(BadRequest, match="cursor"):
        engine.patch_connection(
            cid,
            {
                "configurations": {
                    "streams": [
                        {"name": "users", "syncMode": "incremental_append", "cursorField": ["x"]}
                    ]
                }
            },
        )
    engine.patch_connection(cid, {"status": "inactive"})
    with pytest.raises(Conflict):
        engine.create_job(cid, "sync")
    engine.patch_connection(cid, {"status": "deprecated"})
    assert engine.list_connections() == []
    assert len(engine.list_connections(include_deleted=True)) == 1
    ws = engine.list_workspaces()[0]["workspaceId"]
    assert len(engine.list_connections([ws], include_deleted=True)) == 1
    assert engine.list_connections(["00000000-0000-0000-0000-000000000000"]) == []


def test_stream_properties(tmp_path: Path, make_engine: Any) -> None:
    engine: Engine = make_engine(demo_world(tmp_path), start=False)
    conn = engine.list_connections()[0]
    props = engine.stream_properties(conn["sourceId"], conn["destinationId"])
    users = next(p for p in props if p["streamName"] == "users")
    assert users["streamnamespace"] == "public"
    assert "incremental_deduped_history" in users["syncModes"]
    assert "incremental_update" not in users["syncModes"]
    assert users["defaultCursorField"] == ["updated_at"]
    assert users["sourceDefinedPrimaryKey"] == [["id"]]
    assert users["propertyFields"] == [["id"], ["name"], ["email"], ["updated_at"]]
    all_modes = engine.stream_properties(conn["sourceId"])[0]["syncModes"]
    assert len(all_modes) == 9
    with pytest.raises(NotFound):
        engine.stream_properties(conn["sourceId"], "00000000-0000-0000-0000-000000000000")


def test_checks_and_discovery(tmp_path: Path, make_engine: Any) -> None:
    (tmp_path / "blocker").write_text("a file, not a directory", encoding="utf-8")
    data = base_world(tmp_path)
    data["sources"].append(
        {"name": "files", "type": "file", "streams": [{"name": "x", "path": "missing.csv"}]}
    )
    data["sources"].append(
        {"name": "broken", "type": "generator", "check_error": "auth failed", "streams": []}
    )
    data["destinations"].append({"name": "bad", "type": "sqlite", "path": "blocker/sub/lite.db"})
    data["connections"] += [
        {"name": "c2", "source": "files", "destination": "bad"},
        {"name": "c3", "source": "broken", "destination": "wh"},
    ]
    engine: Engine = make_engine(data, start=False)
    conns = {c["name"]: c for c in engine.list_connections()}
    ok = engine.check_source(conns["c1"]["sourceId"])
    assert ok["status"] == "succeeded" and ok["jobInfo"]["succeeded"] is True
    assert ok["jobInfo"]["configType"] == "check_connection_source"
    missing = engine.check_source(conns["c2"]["sourceId"])
    assert missing["status"] == "failed" and "missing.csv" in missing["message"]
    assert engine.check_source(conns["c3"]["sourceId"])["message"] == "auth failed"
    assert engine.check_destination(conns["c1"]["destinationId"])["status"] == "succeeded"
    assert engine.check_destination(conns["c2"]["destinationId"])["status"] == "failed"

    disc = engine.discover_schema(conns["c1"]["sourceId"])
    assert disc["jobInfo"]["succeeded"] is True and disc["catalogId"]
    events = next(s for s in disc["catalog"]["streams"] if s["stream"]["name"] == "events")
    assert events["stream"]["supportedSyncModes"] == ["full_refresh", "incremental"]
    assert events["stream"]["jsonSchema"]["properties"]["at"]["format"] == "date-time"
    assert events["config"]["cursorField"] == ["at"]
    failed = engine.discover_schema(conns["c2"]["sourceId"])
    assert failed["jobInfo"]["succeeded"] is False and "catalog" not in failed


def test_applications(tmp_path: Path, make_engine: Any) -> None:
    engine: Engine = make_engine(base_world(tmp_path), start=False)
    (world_app,) = engine.list_applications()
    assert set(world_app) == {"id", "name", "clientId", "clientSecret", "createdAt"}
    assert engine.verify_client("cid", "csecret")
    assert not engine.verify_client("cid", "wrong")
    new = engine.create_application("ci")
    assert engine.get_application(new["id"]) == new
    assert engine.verify_client(new["clientId"], new["clientSecret"])
    assert len(engine.list_applications()) == 2
    assert engine.delete_application(new["id"]) == new
    assert not engine.verify_client(new["clientId"], new["clientSecret"])
    with pytest.raises(NotFound):
        engine.get_application(new["id"])
    with pytest.raises(NotFound):
        engine.delete_application(new["id"])
    assert engine.token_ttl_seconds == 900
    engine.token_ttl_seconds = 5
    assert engine.token_ttl_seconds == 5


def test_file_source_csv_and_jsonl(tmp_path: Path, make_engine: Any) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text(
        "id,name,updated_at\n1,ann,2024-01-01\n2,bob,2024-01-02\n3,cy,2024-01-03\n",
        encoding="utf-8",
    )
    jl = tmp_path / "events.jsonl"
    jl.write_text(
        "\n".join(json.dumps({"id": i, "kind": "k", "payload": {"n": i}}) for i in range(5)),
        encoding="utf-8",
    )
    data = {
        "workspaces": [{"name": "ws"}],
        "sources": [
            {
                "name": "files",
                "type": "file",
                "streams": [
                    {"name": "people", "path": "people.csv", "cursor_field": "updated_at"},
                    {"name": "events", "path": "events.jsonl"},
                ],
            }
        ],
        "destinations": [{"name": "lite", "type": "sqlite", "path": "lite.db"}],
        "connections": [
            {
                "name": "c",
                "source": "files",
                "destination": "lite",
                "streams": [
                    {"name": "people", "sync_mode": "incremental_append"},
                    {"name": "events", "sync_mode": "full_refresh_overwrite"},
                ],
            }
        ],
    }
    engine: Engine = make_engine(data)
    cid = conn_id(engine, "c")
    assert run_sync(engine, cid)["rowsSynced"] == 8
    with csv.open("a", encoding="utf-8") as fh:
        fh.write("4,dee,2024-01-04\n")
    assert run_sync(engine, cid)["rowsSynced"] == 1 + 5
    assert engine.destination_counts(cid) == {"people": 4, "events": 5}
    props = {
        p["streamName"]: p for p in engine.stream_properties(engine.get_connection(cid)["sourceId"])
    }
    assert props["events"]["propertyFields"] == [["id"], ["kind"], ["payload"]]
    rows = engine.destination_rows(cid, "events", order_by="id")
    assert json.loads(rows[2]["payload"]) == {"n": 2}
