"""A connector that crashes or hangs mid-read fails the attempt; the retry resumes from state."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tests.connectors.helpers import FAKER_CONFIG, attempts, conn_id, faker_world, run_sync

from luigi_airbyte.sandbox.connectors.envs import ConnectorEnv
from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.sandbox.world import world_from_dict

pytestmark = pytest.mark.connectors
WRAPPER = Path(__file__).with_name("faulty_faker.py")


@pytest.mark.parametrize(
    ("mode", "failure_type", "message"),
    [
        ("crash", "system_error", "Source process exited with non-zero exit code 3"),
        ("hang", "heartbeat_timeout", "didn't send any records in the last 4 seconds"),
    ],
)
def test_a_failed_read_is_retried_from_the_committed_state(
    faker_env: ConnectorEnv, tmp_path: Path, mode: str, failure_type: str, message: str
) -> None:
    faker = faker_env.executable("source-faker")
    argv = [sys.executable, str(WRAPPER), str(faker), mode, str(tmp_path / "failed-once")]
    source = {"command": argv, "config": dict(FAKER_CONFIG), "timeout_seconds": 4}
    streams = [
        {"name": "users", "sync_mode": "incremental_deduped_history"},
        {"name": "purchases", "sync_mode": "incremental_append"},
    ]
    world = world_from_dict(faker_world(source, streams), base_dir=tmp_path)
    with Engine(world) as engine:
        engine.start()
        cid = conn_id(engine)
        job = run_sync(engine, cid)
        tries = attempts(engine, job["jobId"])
        assert job["status"] == "succeeded", tries
        assert len(tries) == 2
        failed, retried = tries
        reason = failed["failureSummary"]["failures"][0]
        assert reason["failureOrigin"] == "source"
        assert reason["failureType"] == failure_type
        assert message in reason["externalMessage"]
        by_stream = {s["streamName"]: s["stats"] for s in failed["streamStats"]}
        # two STATEs of users came before the fault: 20 rows committed, the 3 after them not
        assert by_stream["users"]["recordsCommitted"] == 20
        assert by_stream["users"]["recordsEmitted"] == 23
        retry = {s["streamName"]: s["stats"] for s in retried["streamStats"]}
        assert retry["users"]["recordsCommitted"] == 10  # resumed after the 20, not from 0
        users = engine.destination_rows(cid, "users")
        assert len(users) == len({u["id"] for u in users}) == 30
        purchases = engine.destination_rows(cid, "purchases")
        assert len(purchases) == len({p["id"] for p in purchases}) > 0
