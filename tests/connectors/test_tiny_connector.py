"""The protocol edges with a tiny connector script: spec, secrets, TRACE errors, garbage."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.helpers import attempts, conn_id, run_sync
from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.sandbox.errors import WorldError
from luigi_airbyte.sandbox.world import world_from_dict

pytestmark = pytest.mark.connectors
TINY = [sys.executable, str(Path(__file__).with_name("tiny_connector.py"))]


def tiny_world(config: dict[str, Any], mode: str = "incremental_deduped_history") -> dict[str, Any]:
    return {
        "workspaces": [{"name": "ws"}],
        "sources": [
            {
                "name": "tiny",
                "type": "airbyte",
                "connector": "source-tiny",
                "command": TINY,
                "config": config,
                "timeout_seconds": 2,
            }
        ],
        "destinations": [{"name": "wh", "type": "duckdb", "path": "wh.duckdb"}],
        "connections": [
            {
                "name": "c1",
                "source": "tiny",
                "destination": "wh",
                "streams": [{"name": "items", "sync_mode": mode}],
            }
        ],
        "settings": {"max_attempts": 2},
    }


def test_spec_rejects_a_bad_config_before_the_engine_serves(tmp_path: Path) -> None:
    world = world_from_dict(tiny_world({"rows": "many"}), base_dir=tmp_path)
    with pytest.raises(WorldError) as err:
        Engine(world)
    text = str(err.value)
    assert "sources[0].config: 'api_key' is a required property" in text
    assert "sources[0].config.rows: 'many' is not of type 'integer'" in text


def test_world_rejects_a_connector_source_without_a_way_to_run_it(tmp_path: Path) -> None:
    data = tiny_world({"api_key": "k"})
    del data["sources"][0]["command"]
    with pytest.raises(WorldError, match="set exactly one of pip, executable, command"):
        world_from_dict(data, base_dir=tmp_path)


def test_secret_references_reach_the_connector_and_stay_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINY_KEY", "s3cr3t-value")
    world = world_from_dict(tiny_world({"api_key": "env:TINY_KEY", "rows": 5}), base_dir=tmp_path)
    with Engine(world) as engine:
        engine.start()
        cid = conn_id(engine)
        src = engine.get_source(engine.get_connection(cid)["sourceId"])
        assert "s3cr3t-value" not in str(src) and src["sourceType"] == "tiny"
        assert run_sync(engine, cid, timeout=30)["status"] == "succeeded"
        rows = engine.destination_rows(cid, "items", order_by="id")
        assert [r["api_key"] for r in rows] == ["s3cr3t-value"] * 5


def test_check_reports_the_connectors_message(tmp_path: Path) -> None:
    world = world_from_dict(tiny_world({"api_key": "wrong"}), base_dir=tmp_path)
    with Engine(world) as engine:
        src_id = engine.get_connection(conn_id(engine))["sourceId"]
        check = engine.check_source(src_id)
        assert check["status"] == "failed" and check["message"] == "bad key"


@pytest.mark.parametrize(
    ("behaviour", "ftype", "message"),
    [
        ("trace_error", "config_error", "The API key has expired."),
        ("garbage", "system_error", "not an Airbyte protocol message: '<html>502 Bad Gateway"),
        ("hang", "heartbeat_timeout", "didn't send any records in the last 2 seconds"),
    ],
)
def test_a_failing_read_fails_the_attempt_and_keeps_the_committed_state(
    tmp_path: Path, behaviour: str, ftype: str, message: str
) -> None:
    config = {"api_key": "k", "rows": 6, "behaviour": behaviour}
    world = world_from_dict(tiny_world(config), base_dir=tmp_path)
    with Engine(world) as engine:
        engine.start()
        cid = conn_id(engine)
        job = run_sync(engine, cid, timeout=30)
        assert job["status"] == "failed"
        tries = attempts(engine, job["jobId"])
        assert len(tries) == 2  # each attempt resumes from the STATE after id 2, 4
        reason = tries[0]["failureSummary"]["failures"][0]
        assert reason["failureOrigin"] == "source"
        assert reason["failureType"] == ftype
        assert message in reason["externalMessage"]
        # attempt 1 committed ids 1-2 and failed; attempt 2 resumed at 3, committed 3-4
        assert [t["recordsSynced"] for t in tries] == [2, 2]
        rows = engine.destination_rows(cid, "items", order_by="id")
        assert [r["id"] for r in rows] == [1, 2, 3, 4]


def test_cancelling_a_job_stops_the_connector(tmp_path: Path) -> None:
    config = {"api_key": "k", "rows": 6, "behaviour": "hang"}
    data = tiny_world(config)
    data["sources"][0]["timeout_seconds"] = 600  # only the cancel can end this read
    world = world_from_dict(data, base_dir=tmp_path)
    with Engine(world) as engine:
        engine.start()
        cid = conn_id(engine)
        job = engine.create_job(cid, "sync")
        deadline = time.monotonic() + 30
        while engine.destination_counts(cid).get("items", 0) < 2:  # committed ids 1-2: hanging
            assert time.monotonic() < deadline, engine.get_job(job["jobId"])
            time.sleep(0.05)
        engine.cancel_job(job["jobId"])
        deadline = time.monotonic() + 10
        while engine.get_job(job["jobId"])["status"] != "cancelled":
            assert time.monotonic() < deadline, engine.get_job(job["jobId"])
            time.sleep(0.05)
        # the worker killed the connector and let go of the job
        while any(t.is_alive() for t in engine._workers.values()):
            assert time.monotonic() < deadline, "the attempt is still running"
            time.sleep(0.05)
        assert engine.destination_counts(cid) == {"items": 2}
