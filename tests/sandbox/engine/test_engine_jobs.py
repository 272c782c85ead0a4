"""The job state machine: statuses, attempts, conflicts, cancel, listing, stats."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import base_world, conn_id, run_sync, wait_job, wait_status

from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.sandbox.errors import BadRequest, Conflict, NotFound, Unprocessable

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_job_response_shape_and_lifecycle(tmp_path: Path, make_engine: Any) -> None:
    engine: Engine = make_engine(base_world(tmp_path), start=False)
    cid = conn_id(engine)
    job = engine.create_job(cid, "sync")
    assert job == {
        "jobId": 1,
        "status": "pending",
        "jobType": "sync",
        "startTime": job["startTime"],
        "connectionId": cid,
    }
    assert ISO_Z.match(job["startTime"])
    engine.start()
    done = wait_job(engine, job["jobId"])
    assert done["status"] == "succeeded"
    assert ISO_Z.match(done["lastUpdatedAt"])
    assert re.match(r"^PT(\d+H)?(\d+M)?(\d+S)?$", done["duration"])
    assert done["rowsSynced"] == 20
    assert done["bytesSynced"] > 0
    second = engine.create_job(cid, "sync")
    assert second["jobId"] == 2
    wait_job(engine, 2)
    with pytest.raises(NotFound) as nf:
        engine.get_job(99)
    assert (nf.value.resource_type, nf.value.resource_id) == ("job", "99")


def test_conflicts_and_bad_requests(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(tmp_path)
    data["connections"].append(
        {"name": "off", "source": "gen", "destination": "wh", "status": "inactive"}
    )
    engine: Engine = make_engine(data, start=False)
    cid = conn_id(engine)
    engine.create_job(cid, "sync")
    for job_type in ("sync", "reset", "clear"):
        with pytest.raises(Conflict) as c:
            engine.create_job(cid, job_type)
        assert c.value.kind == "try-again-later"
        assert c.value.message == f"A sync is already running for: {cid}"
    with pytest.raises(Conflict) as c:
        engine.config_sync(cid)
    assert c.value.kind == "try-again-later"
    with pytest.raises(Conflict) as c:
        engine.create_job(conn_id(engine, "off"), "sync")
    assert (c.value.kind, c.value.message) == ("state-conflict", "Could not fulfill request")
    with pytest.raises(Unprocessable, match="Refreshes are not supported in the public API"):
        engine.create_job(cid, "refresh")
    with pytest.raises(BadRequest):
        engine.create_job(cid, "bogus")
    with pytest.raises(NotFound):
        engine.create_job("00000000-0000-0000-0000-000000000000", "sync")


def test_retry_goes_incomplete_then_succeeds(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(
        tmp_path,
        settings={"attempt_backoff_seconds": 0.4},
        faults={"jobs": {"c1": {"fail_attempts": 2}}},
    )
    engine: Engine = make_engine(data)
    cid = conn_id(engine)
    job = engine.create_job(cid, "sync")
    wait_status(engine, job["jobId"], "incomplete")
    assert "lastUpdatedAt" not in engine.get_job(job["jobId"])
    done = wait_job(engine, job["jobId"])
    assert done["status"] == "succeeded"
    info = engine.job_info(job["jobId"])
    attempts = [a["attempt"] for a in info["attempts"]]
    assert [a["status"] for a in attempts] == ["failed", "failed", "succeeded"]
    assert [a["id"] for a in attempts] == [0, 1, 2]
    failure = attempts[0]["failureSummary"]["failures"][0]
    assert failure["externalMessage"]
    assert failure["failureOrigin"] == "source"
    # A full-refresh stream is read again from the start by each attempt (Airbyte's way),
    # so Airbyte counts its final attempt only: 20, not 10 + 10 + 20.
    assert [a["totalStats"]["recordsCommitted"] for a in attempts] == [10, 10, 20]
    # the batch in flight when an attempt failed was emitted and never committed
    assert attempts[0]["totalStats"]["recordsEmitted"] > 10
    assert attempts[0]["failureSummary"]["partialSuccess"] is True
    assert info["job"]["aggregatedStats"]["recordsCommitted"] == 20 == done["rowsSynced"]
    assert engine.destination_counts(cid) == {"users": 20}


def test_job_fails_after_max_attempts(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(
        tmp_path,
        settings={"max_attempts": 2},
        faults={"jobs": {"*": {"fail_attempts": 5, "failure_message": "source is down"}}},
    )
    engine: Engine = make_engine(data)
    cid = conn_id(engine)
    before = engine.destination_counts(cid)
    done = run_sync(engine, cid)
    assert done["status"] == "failed"
    assert "lastUpdatedAt" in done
    info = engine.job_info(done["jobId"])
    assert len(info["attempts"]) == 2
    last = info["attempts"][-1]["attempt"]
    assert last["failureSummary"]["failures"][0]["externalMessage"] == "source is down"
    # overwrite: a failed job leaves the old table alone (staging is dropped)
    assert engine.destination_counts(cid) == before == {"users": 0}
    # the connection is free again
    assert engine.create_job(cid, "sync")["status"] == "pending"


def test_cancel_running_job(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(tmp_path, settings={"job_duration_seconds": 5})
    engine: Engine = make_engine(data)
    cid = conn_id(engine)
    job = engine.create_job(cid, "sync")
    wait_status(engine, job["jobId"], "running")
    cancelled = engine.cancel_job(job["jobId"])
    assert cancelled["status"] == "cancelled"
    assert "lastUpdatedAt" in cancelled
    info = engine.job_info(job["jobId"])
    failure = info["attempts"][0]["attempt"]["failureSummary"]["failures"][0]
    assert failure["failureType"] == "manual_cancellation"
    assert info["attempts"][0]["attempt"]["status"] == "failed"
    with pytest.raises(Conflict) as c:
        engine.cancel_job(job["jobId"])
    assert (c.value.kind, c.value.message) == ("state-conflict", "Job is not currently running")
    assert job["jobId"] in engine.terminal_times()
    # the worker stops; overwrite staging never reaches the final table
    time.sleep(0.2)
    assert engine.destination_counts(cid) == {"users": 0}
    assert engine.create_job(cid, "sync")["jobId"] == 2


def test_cancel_pending_job_and_config_cancel(tmp_path: Path, make_engine: Any) -> None:
    engine: Engine = make_engine(base_world(tmp_path), start=False)
    cid = conn_id(engine)
    job = engine.create_job(cid, "sync")
    info = engine.cancel_job_info(job["jobId"])
    assert info["job"]["status"] == "cancelled"
    assert info["attempts"] == []
    with pytest.raises(NotFound):
        engine.cancel_job(1234)


def test_live_stats_while_running(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(
        tmp_path,
        source_streams=[{"name": "users", "size": 40, "growth_per_sync": 0}],
        settings={"records_per_second": 40},
    )
    engine: Engine = make_engine(data)
    cid = conn_id(engine)
    job = engine.create_job(cid, "sync")
    deadline = time.monotonic() + 5
    seen: set[int] = set()
    while time.monotonic() < deadline:
        j = engine.get_job(job["jobId"])
        if j["status"] == "succeeded":
            break
        if j["status"] == "running":
            committed = engine.job_info(job["jobId"])["job"]["aggregatedStats"]["recordsCommitted"]
            seen.add(committed)
        time.sleep(0.05)
    done = wait_job(engine, job["jobId"])
    assert done["rowsSynced"] == 40
    assert len(seen - {0, 40}) >= 2, seen  # several partial values were visible


def test_list_jobs_filters_and_order(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(
        tmp_path,
        extra_connections=[{"name": "c2", "source": "gen", "destination": "wh", "prefix": "q_"}],
    )
    engine: Engine = make_engine(data)
    c1, c2 = conn_id(engine, "c1"), conn_id(engine, "c2")
    j1 = run_sync(engine, c1)
    j2 = run_sync(engine, c2, "clear")
    j3 = run_sync(engine, c1, "reset")
    assert [j["jobId"] for j in engine.list_jobs()] == [1, 2, 3]
    assert [j["jobId"] for j in engine.list_jobs(descending=True)] == [3, 2, 1]
    assert [j["jobId"] for j in engine.list_jobs(order_by="updatedAt")] == [1, 2, 3]
    assert [j["jobId"] for j in engine.list_jobs(connection_id=c1)] == [1, 3]
    assert [j["jobType"] for j in engine.list_jobs(job_type="clear")] == ["clear"]
    assert engine.list_jobs(status="failed") == []
    assert len(engine.list_jobs(status="succeeded")) == 3
    ws = engine.list_workspaces()[0]["workspaceId"]
    assert len(engine.list_jobs(workspace_ids=[ws])) == 3
    assert engine.list_jobs(workspace_ids=["00000000-0000-0000-0000-000000000000"]) == []
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    assert engine.list_jobs(created_at_start=future) == []
    assert len(engine.list_jobs(created_at_start=past, created_at_end=future)) == 3
    assert len(engine.list_jobs(updated_at_end=future.replace(tzinfo=None))) == 3
    with pytest.raises(BadRequest, match="Invalid order by clause provided"):
        engine.list_jobs(order_by="jobId")
    assert j1["jobType"] == "sync" and j2["jobType"] == "clear" and j3["jobType"] == "reset"
    # config API list
    out = engine.list_job_infos(config_id=c1, config_types=["sync", "reset_connection"])
    assert out["totalJobCount"] == 2
    assert [j["job"]["id"] for j in out["jobs"]] == [3, 1]
    assert out["jobs"][0]["job"]["configType"] == "reset_connection"
    page = engine.list_job_infos(config_id=None, config_types=["sync", "clear"], page_size=1)
    assert page["totalJobCount"] == 2 and len(page["jobs"]) == 1
    assert page["jobs"][0]["attempts"][0]["totalStats"]["recordsCommitted"] == 0


def test_terminal_times_are_precise(tmp_path: Path, make_engine: Any) -> None:
    engine: Engine = make_engine(base_world(tmp_path))
    before = time.time()
    job = run_sync(engine, conn_id(engine))
    t = engine.terminal_times()[job["jobId"]]
    assert before <= t <= time.time()
    assert t != int(t)


def test_job_info_shapes(tmp_path: Path, make_engine: Any) -> None:
    data = base_world(
        tmp_path,
        streams=[
            {"name": "users", "sync_mode": "incremental_append"},
            {"name": "orders", "sync_mode": "full_refresh_append"},
        ],
    )
    engine: Engine = make_engine(data)
    cid = conn_id(engine)
    job = run_sync(engine, cid)
    info = engine.job_info(job["jobId"])
    j = info["job"]
    assert j["configType"] == "sync" and j["configId"] == cid
    assert isinstance(j["createdAt"], int) and isinstance(j["updatedAt"], int)
    assert j["enabledStreams"] == [{"name": "users"}, {"name": "orders"}]
    per_stream = {s["streamName"]: s["recordsCommitted"] for s in j["streamAggregatedStats"]}
    assert per_stream == {"users": 20, "orders": 30} == engine.destination_counts(cid)
    att = info["attempts"][0]
    assert att["logType"] == "formatted" and att["logs"]["logLines"]
    streams = {s["streamName"]: s["stats"] for s in att["attempt"]["streamStats"]}
    assert streams["orders"]["recordsEmitted"] == 30
    assert att["attempt"]["totalStats"]["bytesCommitted"] == job["bytesSynced"]
    debug = engine.job_debug_info(job["jobId"])
    assert debug["job"]["airbyteVersion"]
    assert debug["job"]["sourceDefinition"]["dockerRepository"] == "airbyte/source-faker"
    assert debug["workflowState"] == {"running": False}
    sync = engine.config_sync(cid)
    assert sync["job"]["status"] == "pending" and sync["attempts"] == []
    wait_job(engine, sync["job"]["id"])
