"""source-faker 7.2.1 behind the sandbox: discover, check, two syncs with the saved state."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.helpers import (
    attempts,
    committed_per_stream,
    conn_id,
    faker_world,
    rows_of_sync,
    run_sync,
)
from luigi_airbyte.sandbox.connectors.envs import ConnectorEnv
from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.sandbox.world import world_from_dict

# the first test on a fresh machine builds the connector environment (minutes)
pytestmark = [pytest.mark.connectors, pytest.mark.timeout(900)]


def test_faker_syncs_twice_and_the_second_run_resumes_from_its_state(
    faker_env: ConnectorEnv, tmp_path: Path
) -> None:
    world = world_from_dict(faker_world(), base_dir=tmp_path)
    with Engine(world) as engine:
        engine.start()
        cid = conn_id(engine)
        src_id = engine.get_connection(cid)["sourceId"]
        # the catalog is the connector's own: its streams, cursor and primary key
        discovered = {
            s["stream"]["name"]: s["stream"]
            for s in engine.discover_schema(src_id)["catalog"]["streams"]
        }
        assert set(discovered) == {"users", "purchases", "products"}
        assert discovered["users"]["defaultCursorField"] == ["updated_at"]
        assert discovered["users"]["sourceDefinedPrimaryKey"] == [["id"]]
        assert engine.check_source(src_id)["status"] == "succeeded"

        first = run_sync(engine, cid)
        assert first["status"] == "succeeded", attempts(engine, first["jobId"])
        c1 = committed_per_stream(engine, first["jobId"])
        counts1 = engine.destination_counts(cid)
        assert c1["users"] == 30  # count: 30 users, one row each
        assert counts1 == c1  # every committed record is a row, and nothing else
        rows = engine.destination_rows(cid, "users")
        assert {
            "_airbyte_raw_id",
            "_airbyte_extracted_at",
            "_airbyte_meta",
            "_airbyte_generation_id",
            "id",
            "updated_at",
            "address",
        } <= set(rows[0])
        stats = {
            s["streamName"]: s["stats"] for s in attempts(engine, first["jobId"])[0]["streamStats"]
        }
        assert stats["users"]["estimatedRecords"] == 30  # from the TRACE ESTIMATE
        assert stats["users"]["stateMessagesEmitted"] >= 3  # records_per_slice: 10

        second = run_sync(engine, cid)
        assert second["status"] == "succeeded", attempts(engine, second["jobId"])
        c2 = committed_per_stream(engine, second["jobId"])
        counts2 = engine.destination_counts(cid)
        # the saved state says everything was read: incremental streams add nothing
        assert c2["users"] == 0 and c2["purchases"] == 0
        assert counts2["users"] == counts1["users"]
        assert counts2["purchases"] == counts1["purchases"]
        # full refresh replaces: the table holds exactly the second read
        assert counts2["products"] == c2["products"] > 0
        assert rows_of_sync(engine, cid, "products", second["jobId"]) == counts2["products"]
        # reconciliation by sync id: each sync's rows are what it committed
        for stream in ("users", "purchases"):
            assert rows_of_sync(engine, cid, stream, first["jobId"]) == c1[stream]
            assert rows_of_sync(engine, cid, stream, second["jobId"]) == c2[stream]
