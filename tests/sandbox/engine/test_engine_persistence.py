"""A restarted engine with the same world and state file still knows its jobs and cursors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from engine_helpers import base_world, conn_id, run_sync, wait_job

from luigi_airbyte.sandbox.engine import Engine

APPEND = [{"name": "users", "sync_mode": "incremental_append"}]


def test_jobs_cursors_and_apps_survive_restart(tmp_path: Path, make_engine: Any) -> None:
    state = tmp_path / "state" / "engine.json"
    data = base_world(tmp_path, streams=APPEND)
    first: Engine = make_engine(data, state_path=state)
    cid = conn_id(first)
    j1, j2 = run_sync(first, cid), run_sync(first, cid)
    assert (j1["rowsSynced"], j2["rowsSynced"]) == (20, 6)
    app = first.create_application("rotated")
    world_app = first.list_applications()[0]
    first.delete_application(world_app["id"])
    first.patch_connection(cid, {"name": "renamed", "prefix": "p_"})
    first.token_ttl_seconds = 42
    info_before = first.job_info(j2["jobId"])
    first.close()
    assert json.loads(state.read_text(encoding="utf-8"))["next_job_id"] == 3
    assert not list(state.parent.glob("*.tmp"))

    second: Engine = make_engine(data, state_path=state)
    assert [j["jobId"] for j in second.list_jobs()] == [1, 2]
    assert second.get_job(j2["jobId"]) == j2
    assert second.job_info(j2["jobId"]) == info_before
    assert second.terminal_times().keys() == {1, 2}
    assert second.verify_client(app["clientId"], app["clientSecret"])
    assert not second.verify_client("cid", "csecret")  # deleted stays deleted
    assert second.get_connection(cid)["name"] == "renamed"
    assert second.token_ttl_seconds == 42
    # the cursor and the source's epochs persisted: only the next epoch's changes come
    j3 = run_sync(second, cid)
    assert j3["jobId"] == 3
    assert j3["rowsSynced"] == 6
    assert second.destination_counts(cid) == {"users": 32}


def test_running_job_resumes_after_restart(tmp_path: Path, make_engine: Any) -> None:
    state = tmp_path / "engine.json"
    data = base_world(
        tmp_path,
        streams=APPEND,
        source_streams=[{"name": "users", "size": 40, "growth_per_sync": 0}],
        settings={"records_per_second": 40},
    )
    first: Engine = make_engine(data, state_path=state)
    cid = conn_id(first)
    job = first.create_job(cid, "sync")
    deadline = time.monotonic() + 5
    while (
        first.job_info(job["jobId"])["job"].get("aggregatedStats", {}).get("recordsCommitted", 0)
        < 4
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    first.close()
    partial = first.job_info(job["jobId"])["job"]["aggregatedStats"]["recordsCommitted"]
    assert 0 < partial < 40

    second: Engine = make_engine(data, state_path=state, start=False)
    resumed = second.job_info(job["jobId"])
    assert resumed["job"]["status"] == "incomplete"
    lost = resumed["attempts"][0]["attempt"]
    assert lost["status"] == "failed"
    assert lost["failureSummary"]["failures"][0]["failureType"] == "heartbeat_timeout"
    second.start()
    done = wait_job(second, job["jobId"])
    assert done["status"] == "succeeded"
    # the new attempt resumed from the last checkpoint: no record lost, none written twice
    assert done["rowsSynced"] == 40 == second.destination_counts(cid)["users"]
    assert len(second.job_info(job["jobId"])["attempts"]) == 2


def test_workspace_notifications_survive_restart(tmp_path: Path, make_engine: Any) -> None:
    state = tmp_path / "state" / "engine.json"
    data = base_world(tmp_path, streams=APPEND)
    first: Engine = make_engine(data, state_path=state)
    ws = first.list_workspaces()[0]["workspaceId"]
    hook = {"webhook": {"enabled": True, "url": "http://127.0.0.1:9/hook"}}
    first.patch_workspace(ws, {"notifications": {"failure": hook}})
    first.close()

    second: Engine = make_engine(data, state_path=state)
    notes = second.get_workspace(ws)["notifications"]
    assert notes["failure"]["webhook"] == hook["webhook"]
    assert notes["success"]["webhook"] == {"enabled": False}
