"""World files: validation names every bad field, ids are stable, big worlds load."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import base_world, conn_id, run_sync

from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.sandbox.errors import WorldError
from luigi_airbyte.sandbox.world import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    HttpFault,
    demo_world,
    derived_id,
    load_world,
    world_from_dict,
)


def problems_of(data: Any, tmp_path: Path) -> list[str]:
    with pytest.raises(WorldError) as info:
        world_from_dict(data, source="w.yaml", base_dir=tmp_path)
    assert "w.yaml" in str(info.value)
    return info.value.problems


def test_demo_world_is_valid_and_stable(tmp_path: Path) -> None:
    a, b = demo_world(tmp_path / "a"), demo_world(tmp_path / "b")
    assert [s.name for s in a.sources] == ["Postgres CRM", "Events API"]
    assert [c.name for c in a.connections] == [
        "Postgres CRM → Warehouse",
        "Events API → Warehouse",
    ]
    assert [a.connection_id(c) for c in a.connections] == [
        b.connection_id(c) for c in b.connections
    ]
    assert a.applications[0].client_id == DEMO_CLIENT_ID
    assert a.settings.job_duration_seconds is not None
    assert a.settings.job_duration_seconds <= 2
    assert a.resolve_path("warehouse.duckdb") == tmp_path / "a" / "warehouse.duckdb"


def test_demo_world_runs_a_sync(tmp_path: Path, make_engine: Any) -> None:
    world = demo_world(tmp_path)
    world.settings.job_duration_seconds = 0.1
    engine: Engine = make_engine(world)
    assert engine.verify_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    cid = conn_id(engine, "Events API → Warehouse")
    job = run_sync(engine, cid)
    assert job["status"] == "succeeded"
    assert job["rowsSynced"] == 1000
    assert engine.destination_counts(cid) == {"events": 1000}
    assert len(engine.list_workspaces()) == 1


def test_load_world_yaml_resolves_paths_next_to_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    f = tmp_path / "sub" / "world.yaml"
    f.write_text(
        """
workspaces: [{name: ws}]
sources:
  - name: files
    type: file
    streams: [{name: people, path: people.csv, primary_key: id, cursor_field: updated_at}]
destinations: [{name: lite, type: sqlite, path: out/lite.db}]
connections:
  - name: c
    id: 11111111-2222-3333-4444-555555555555
    source: files
    destination: lite
    schedule: {type: cron, cron_expression: "0 0 12 * * ?"}
    streams: [{name: people, sync_mode: incremental_append}]
settings: {token_ttl_seconds: 60}
faults:
  http:
    - {endpoint: "POST /jobs", status: 503, nth: [1, 3], retry_after: 2}
    - {endpoint: "*", status: 429, rate: 0.5, seed: 4}
  jobs: {c: {fail_attempts: 1}}
""",
        encoding="utf-8",
    )
    world = load_world(f)
    assert world.resolve_path("people.csv") == tmp_path / "sub" / "people.csv"
    assert world.connection_id(world.connections[0]) == "11111111-2222-3333-4444-555555555555"
    assert world.settings.token_ttl_seconds == 60
    assert all(isinstance(h, HttpFault) for h in world.faults.http)
    assert world.faults.http[0].nth == [1, 3]
    assert world.faults.jobs["c"].fail_attempts == 1
    assert world.sources[0].streams[0].primary_key == [["id"]]


def test_ids_are_uuid5_of_names(tmp_path: Path) -> None:
    world = world_from_dict(base_world(tmp_path), base_dir=tmp_path)
    cid = world.connection_id(world.connections[0])
    assert cid == derived_id("connection", "c1")
    assert uuid.UUID(cid).version == 5


def test_bad_sync_mode_names_the_field(tmp_path: Path) -> None:
    data = base_world(tmp_path, streams=[{"name": "users", "sync_mode": "foo"}])
    (p,) = problems_of(data, tmp_path)
    assert p.startswith("connections[0].streams[0].sync_mode: 'foo' is not one of [")
    assert "incremental_deduped_history" in p


def test_every_problem_is_listed(tmp_path: Path) -> None:
    data = base_world(tmp_path)
    data["connections"].append({"name": "c2", "source": "gen", "destination": "wh", "bogus": 1})
    data["connections"].append({"name": "c3", "source": "nope", "destination": "wh"})
    data["destinations"][0]["type"] = "oracle"
    data["faults"] = {"http": [{"status": 404}]}
    data["settings"]["max_attempts"] = 0
    problems = problems_of(data, tmp_path)
    fields = sorted(p.split(":")[0] for p in problems)
    assert fields == [
        "connections[1].bogus",
        "connections[2].source",
        "destinations[0].type",
        "faults.http[0].status",
        "settings.max_attempts",
    ]
    assert any("unknown field" in p for p in problems)


def test_references_are_checked(tmp_path: Path) -> None:
    data = base_world(tmp_path, streams=[{"name": "nope"}])
    data["connections"].append({"name": "c2", "source": "missing", "destination": "wh"})
    data["connections"].append({"name": "c3", "source": "gen", "destination": "gone"})
    data["connections"].append({"name": "c1", "source": "gen", "destination": "wh"})
    data["faults"] = {"jobs": {"unknown-conn": {"zero_records": True}}}
    problems = problems_of(data, tmp_path)
    text = "\n".join(problems)
    assert "connections[0].streams[0].name: source 'gen' has no stream 'nope'" in text
    assert "connections[1].source: unknown source 'missing'" in text
    assert "connections[2].destination: unknown destination 'gone'" in text
    assert "connections[3].name: 'c1' is also the name of connections[0]" in text
    assert "faults.jobs.unknown-conn: unknown connection" in text


def test_file_and_destination_requirements(tmp_path: Path) -> None:
    data = base_world(tmp_path)
    data["sources"].append({"name": "f", "type": "file", "streams": [{"name": "x"}]})
    data["destinations"].append({"name": "pg", "type": "postgres"})
    data["connections"][0]["id"] = "not-a-uuid"
    problems = problems_of(data, tmp_path)
    text = "\n".join(problems)
    assert "connections[0].id: 'not-a-uuid' is not a UUID" in text
    # the field-level error stops the run before references; fix it and see the rest
    data["connections"][0].pop("id")
    text = "\n".join(problems_of(data, tmp_path))
    assert "sources[1].streams[0].path: a file source stream needs a path" in text
    assert "destinations[1].url: a postgres destination needs a SQLAlchemy URL" in text


def test_yaml_errors_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("workspaces: [\n", encoding="utf-8")
    with pytest.raises(WorldError, match="not valid YAML"):
        load_world(bad)
    with pytest.raises(WorldError, match="cannot read"):
        load_world(tmp_path / "absent.yaml")
    with pytest.raises(WorldError, match="expected a mapping"):
        world_from_dict([1, 2])


def test_world_of_1000_connections_loads(tmp_path: Path) -> None:
    data = base_world(tmp_path)
    data["connections"] = [
        {
            "name": f"conn-{i:04d}",
            "source": "gen",
            "destination": "wh",
            "streams": [{"name": "users", "sync_mode": "incremental_append"}],
        }
        for i in range(1000)
    ]
    world = world_from_dict(data, base_dir=tmp_path)
    engine = Engine(world)
    try:
        conns = engine.list_connections()
        assert len(conns) == 1000
        assert conns[0]["name"] == "conn-0000"
        assert len({c["connectionId"] for c in conns}) == 1000
    finally:
        engine.close()
