"""airbyte-source-file reads a CSV from the test's temp folder into the destination."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.conftest import FILE, FILE_OVERRIDES
from connectors.helpers import attempts, committed_per_stream, conn_id, run_sync
from luigi_airbyte.sandbox.connectors.envs import ConnectorEnv
from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.sandbox.world import world_from_dict

# the first test on a fresh machine builds the connector environment (minutes)
pytestmark = [pytest.mark.connectors, pytest.mark.timeout(900)]


def test_the_file_connector_reads_a_local_csv(file_env: ConnectorEnv, tmp_path: Path) -> None:
    csv = tmp_path / "sales.csv"
    csv.write_text("id,region,amount\n1,north,10.5\n2,south,20.25\n3,north,7\n")
    world = world_from_dict(
        {
            "workspaces": [{"name": "ws"}],
            "sources": [
                {
                    "name": "files",
                    "type": "airbyte",
                    "connector": "source-file",
                    "pip": FILE,
                    "pip_overrides": FILE_OVERRIDES,
                    "config": {
                        "dataset_name": "sales",
                        "format": "csv",
                        "url": str(csv),
                        "provider": {"storage": "local"},
                    },
                }
            ],
            "destinations": [{"name": "wh", "type": "duckdb", "path": "wh.duckdb"}],
            "connections": [
                {
                    "name": "c1",
                    "source": "files",
                    "destination": "wh",
                    "streams": [{"name": "sales", "sync_mode": "full_refresh_overwrite"}],
                }
            ],
        },
        base_dir=tmp_path,
    )
    with Engine(world) as engine:
        engine.start()
        cid = conn_id(engine)
        job = run_sync(engine, cid)
        assert job["status"] == "succeeded", attempts(engine, job["jobId"])
        assert committed_per_stream(engine, job["jobId"]) == {"sales": 3}
        assert engine.destination_counts(cid) == {"sales": 3}
        rows = engine.destination_rows(cid, "sales", order_by="id")
        assert [(r["region"], r["amount"]) for r in rows] == [
            ("north", 10.5),
            ("south", 20.25),
            ("north", 7),
        ]
        # a full refresh of a changed file replaces the table
        csv.write_text("id,region,amount\n4,east,1\n")
        again = run_sync(engine, cid)
        assert again["status"] == "succeeded", attempts(engine, again["jobId"])
        assert engine.destination_counts(cid) == {"sales": 1}
