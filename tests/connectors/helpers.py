"""Small worlds around real connectors, and ways to look at what a sync wrote."""

from __future__ import annotations

import json
import time
from typing import Any

from luigi_airbyte.sandbox.engine import Engine

TERMINAL = {"succeeded", "failed", "cancelled"}
FAKER_CONFIG = {
    "count": 30,
    "seed": 7,
    "records_per_slice": 10,
    "always_updated": False,
    "parallelism": 1,
}


def faker_world(
    source: dict[str, Any] | None = None,
    streams: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    src = source or {"pip": "airbyte-source-faker==7.2.1", "config": dict(FAKER_CONFIG)}
    return {
        "workspaces": [{"name": "ws"}],
        "sources": [{"name": "faker", "type": "airbyte", "connector": "source-faker", **src}],
        "destinations": [{"name": "wh", "type": "duckdb", "path": "wh.duckdb"}],
        "connections": [
            {
                "name": "c1",
                "source": "faker",
                "destination": "wh",
                "prefix": "f_",
                "streams": streams
                if streams is not None
                else [
                    {"name": "users", "sync_mode": "incremental_deduped_history"},
                    {"name": "purchases", "sync_mode": "incremental_append"},
                    {"name": "products", "sync_mode": "full_refresh_overwrite"},
                ],
            }
        ],
        "applications": [{"name": "app", "client_id": "cid", "client_secret": "csecret"}],
        "settings": {"max_attempts": 3, **(settings or {})},
    }


def run_sync(engine: Engine, connection_id: str, timeout: float = 120.0) -> dict[str, Any]:
    job = engine.create_job(connection_id, "sync")
    deadline = time.monotonic() + timeout
    while True:
        got = engine.get_job(job["jobId"])
        if got["status"] in TERMINAL:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"job not terminal after {timeout}s: {got}")
        time.sleep(0.05)


def conn_id(engine: Engine, name: str = "c1") -> str:
    return next(c["connectionId"] for c in engine.list_connections() if c["name"] == name)


def attempts(engine: Engine, job_id: int) -> list[dict[str, Any]]:
    return [a["attempt"] for a in engine.job_info(job_id)["attempts"]]


def committed_per_stream(engine: Engine, job_id: int) -> dict[str, int]:
    read = engine.job_info(job_id)["job"]
    return {s["streamName"]: s["recordsCommitted"] for s in read["streamAggregatedStats"]}


def rows_of_sync(engine: Engine, cid: str, stream: str, job_id: int) -> int:
    rows = engine.destination_rows(cid, stream)
    return sum(1 for r in rows if json.loads(r["_airbyte_meta"])["sync_id"] == job_id)
