"""Engine faults show up exactly as configured."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import base_world, conn_id, run_sync, wait_job, wait_status

from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.sandbox.errors import BadRequest

APPEND = [{"name": "users", "sync_mode": "incremental_append"}]


def test_zero_records(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(tmp_path, streams=APPEND, faults={"jobs": {"c1": {"zero_records": True}}})
    engine: Engine = make_engine(data)
    cid = conn_id(engine)
    job = run_sync(engine, cid)
    assert (job["status"], job["rowsSynced"]) == ("succeeded", 0)
    assert engine.destination_counts(cid) == {"users": 0}
    stats = engine.job_info(job["jobId"])["job"]["streamAggregatedStats"]
    assert stats[0]["streamName"] == "users" and stats[0]["recordsEmitted"] == 0


def test_commit_shortfall_commits_and_writes_fewer(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(tmp_path, streams=APPEND, faults={"jobs": {"*": {"commit_shortfall": 0.1}}})
    engine: Engine = make_engine(data)
    cid = conn_id(engine)
    job = run_sync(engine, cid)
    agg = engine.job_info(job["jobId"])["job"]["aggregatedStats"]
    assert agg["recordsEmitted"] == 20
    assert agg["recordsCommitted"] == 18 == job["rowsSynced"]
    assert agg["bytesCommitted"] < agg["bytesEmitted"]
    assert engine.destination_counts(cid) == {"users": 18}


@pytest.mark.parametrize(
    ("mode", "rows"), [("incremental_append", 30), ("incremental_deduped_history", 20)]
)
def test_duplicate_on_retry(tmp_path: Path, make_engine: Any, mode: str, rows: int) -> None:
    data = base_world(
        tmp_path,
        streams=[{"name": "users", "sync_mode": mode}],
        faults={"jobs": {"c1": {"fail_attempts": 1, "duplicate_on_retry": True}}},
    )
    engine: Engine = make_engine(data)
    cid = conn_id(engine)
    job = run_sync(engine, cid)
    assert job["status"] == "succeeded"
    attempts = [a["attempt"] for a in engine.job_info(job["jobId"])["attempts"]]
    # attempt 0 committed half, lost its checkpoint; attempt 1 re-sent everything
    assert [a["totalStats"]["recordsCommitted"] for a in attempts] == [10, 20]
    assert job["rowsSynced"] == 30
    assert engine.destination_counts(cid) == {"users": rows}
    if mode == "incremental_append":
        ids = [r["id"] for r in engine.destination_rows(cid, "users")]
        assert len(ids) - len(set(ids)) == 10


def test_without_duplicate_on_retry_the_retry_resumes(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(tmp_path, streams=APPEND, faults={"jobs": {"c1": {"fail_attempts": 1}}})
    engine: Engine = make_engine(data)
    cid = conn_id(engine)
    job = run_sync(engine, cid)
    assert job["rowsSynced"] == 20 == engine.destination_counts(cid)["users"]


def test_never_finish_until_cancelled(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(tmp_path, faults={"jobs": {"c1": {"never_finish": True}}})
    engine: Engine = make_engine(data)
    job = engine.create_job(conn_id(engine), "sync")
    wait_status(engine, job["jobId"], "running")
    time.sleep(0.3)
    assert engine.get_job(job["jobId"])["status"] == "running"
    assert engine.cancel_job(job["jobId"])["status"] == "cancelled"


def test_ignore_cancel(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(
        tmp_path,
        settings={"job_duration_seconds": 1.0},
        faults={"jobs": {"c1": {"ignore_cancel": True}}},
    )
    engine: Engine = make_engine(data)
    job = engine.create_job(conn_id(engine), "sync")
    wait_status(engine, job["jobId"], "running")
    assert engine.cancel_job(job["jobId"])["status"] == "running"
    assert wait_job(engine, job["jobId"])["status"] == "succeeded"


def test_stuck_job_ignoring_cancel_stops_with_engine(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(
        tmp_path, faults={"jobs": {"c1": {"never_finish": True, "ignore_cancel": True}}}
    )
    engine: Engine = make_engine(data)
    job = engine.create_job(conn_id(engine), "sync")
    wait_status(engine, job["jobId"], "running")
    engine.cancel_job(job["jobId"])
    time.sleep(0.2)
    assert engine.get_job(job["jobId"])["status"] == "running"
    started = time.monotonic()
    engine.close()
    assert time.monotonic() - started < 3


def test_schema_faults(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(
        tmp_path,
        streams=[
            {"name": "users", "sync_mode": "incremental_append"},
            {"name": "orders", "sync_mode": "full_refresh_append"},
        ],
    )
    engine: Engine = make_engine(data)
    cid = conn_id(engine)
    src = engine.get_connection(cid)["sourceId"]
    run_sync(engine, cid)
    engine.set_engine_faults(
        {
            "schema": {
                "gen": {
                    "add_columns": {"users": [{"name": "phone", "type": "string"}]},
                    "remove_columns": {"users": ["email"]},
                    "add_streams": [{"name": "invoices", "size": 3}],
                    "remove_streams": ["orders"],
                }
            }
        }
    )
    props = {p["streamName"]: p for p in engine.stream_properties(src)}
    assert set(props) == {"users", "events", "invoices"}
    assert ["phone"] in props["users"]["propertyFields"]
    assert ["email"] not in props["users"]["propertyFields"]
    catalog = engine.discover_schema(src)["catalog"]["streams"]
    users = next(s for s in catalog if s["stream"]["name"] == "users")
    assert "phone" in users["stream"]["jsonSchema"]["properties"]
    assert "email" not in users["stream"]["jsonSchema"]["properties"]
    job = run_sync(engine, cid)
    assert job["status"] == "succeeded"
    assert engine.job_info(job["jobId"])["job"]["enabledStreams"] == [{"name": "users"}]
    rows = engine.destination_rows(cid, "users")
    new = [
        r for r in rows if r["_airbyte_meta"] and f'"sync_id": {job["jobId"]}' in r["_airbyte_meta"]
    ]
    assert new and all(r["phone"] and r["email"] is None for r in new)
    assert engine.faults_snapshot()["schema"]["gen"]["remove_streams"] == ["orders"]
    engine.set_engine_faults({"schema": {}})
    assert {p["streamName"] for p in engine.stream_properties(src)} == {"users", "orders", "events"}


def test_set_engine_faults_validates_and_replaces(tmp_path: Path, make_engine: Any) -> None:
    engine: Engine = make_engine(base_world(tmp_path), start=False)
    with pytest.raises(BadRequest, match="fail_attempts"):
        engine.set_engine_faults({"jobs": {"c1": {"fail_attempts": -1}}})
    with pytest.raises(BadRequest, match="unknown source"):
        engine.set_engine_faults({"schema": {"nope": {}}})
    engine.set_engine_faults({"jobs": {"c1": {"zero_records": True}}, "http": [{"status": 503}]})
    snap = engine.faults_snapshot()
    assert snap["jobs"]["c1"]["zero_records"] is True
    assert "http" not in snap
    engine.set_engine_faults({"schema": {}})  # jobs untouched
    assert engine.faults_snapshot()["jobs"]["c1"]["zero_records"] is True
    engine.set_engine_faults({"jobs": {}})
    assert engine.faults_snapshot()["jobs"] == {}
