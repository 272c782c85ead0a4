"""A connector that crashes or hangs mid-read fails the attempt; the retry resumes from state."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from connectors.helpers import FAKER_CONFIG, attempts, conn_id, faker_world, run_sync
from luigi_airbyte.sandbox.connectors.envs import ConnectorEnv
from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.sandbox.world import world_from_dict

# the first test on a fresh machine builds the connector environment (minutes)
pytestmark = [pytest.mark.connectors, pytest.mark.timeout(900)]
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
    reads_log = tmp_path / "failed-once.reads"
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
        failed = tries[0]
        reason = failed["failureSummary"]["failures"][0]
        assert reason["failureOrigin"] == "source"
        assert reason["failureType"] == failure_type
        assert message in reason["externalMessage"]
        by_stream = {s["streamName"]: s["stats"] for s in failed["streamStats"]}
        # faker 7.2.1 sends its first users STATE (loop_offset 10) after 20 records: those 20
        # are committed with it, the 3 records after it are not
        assert by_stream["users"]["recordsCommitted"] == 20
        assert by_stream["users"]["recordsEmitted"] == 23
        # the retry was given exactly that committed state, not the empty one nor a later one
        reads = [json.loads(line) for line in reads_log.read_text().splitlines()]
        assert len(reads) == 2
        assert reads[0] == []
        (given,) = [s for s in reads[1] if s["stream"]["stream_descriptor"]["name"] == "users"]
        assert given["stream"]["stream_state"]["loop_offset"] == 10
        users = engine.destination_rows(cid, "users")
        # at-least-once: 11-20 came twice, and the dedup stream keeps one row per id
        assert len(users) == len({u["id"] for u in users})
        total = sum(
            {s["streamName"]: s["stats"] for s in t["streamStats"]}["users"]["recordsCommitted"]
            for t in tries
        )
        assert len(users) <= total
        purchases = engine.destination_rows(cid, "purchases")
        assert len(purchases) == len({p["id"] for p in purchases}) > 0
