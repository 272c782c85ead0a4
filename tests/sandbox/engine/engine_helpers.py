"""Helpers for the sandbox engine tests: small worlds and waiting for jobs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from luigi_airbyte.sandbox.engine import Engine

TERMINAL = {"succeeded", "failed", "cancelled"}


def base_world(
    tmp_path: Path,
    *,
    streams: list[dict[str, Any]] | None = None,
    dest: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    faults: dict[str, Any] | None = None,
    source_streams: list[dict[str, Any]] | None = None,
    extra_connections: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One generator source (users, orders, events), one destination, one connection "c1"."""
    return {
        "workspaces": [{"name": "ws"}],
        "sources": [
            {
                "name": "gen",
                "type": "generator",
                "configuration": {"password": "hunter2", "host": "db"},
                "streams": source_streams
                or [
                    {
                        "name": "users",
                        "size": 20,
                        "growth_per_sync": 4,
                        "updates_per_sync": 2,
                        "seed": 7,
                    },
                    {"name": "orders", "size": 30, "growth_per_sync": 6, "seed": 8},
                    {"name": "events", "size": 10, "growth_per_sync": 5, "seed": 9},
                ],
            }
        ],
        "destinations": [dest or {"name": "wh", "type": "duckdb", "path": "wh.duckdb"}],
        "connections": [
            {
                "name": "c1",
                "source": "gen",
                "destination": dest["name"] if dest else "wh",
                "prefix": "p_",
                "streams": streams
                if streams is not None
                else [{"name": "users", "sync_mode": "full_refresh_overwrite"}],
            },
            *(extra_connections or []),
        ],
        "applications": [{"name": "app", "client_id": "cid", "client_secret": "csecret"}],
        "settings": {"max_attempts": 3, **(settings or {})},
        "faults": faults or {},
    }


def wait_job(engine: Engine, job_id: int, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = engine.get_job(job_id)
        if job["status"] in TERMINAL:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} not terminal after {timeout}s: {job}")
        time.sleep(0.02)


def wait_status(engine: Engine, job_id: int, status: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while engine.get_job(job_id)["status"] != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} never {status}: {engine.get_job(job_id)}")
        time.sleep(0.01)


def run_sync(engine: Engine, connection_id: str, job_type: str = "sync") -> dict[str, Any]:
    job = engine.create_job(connection_id, job_type)
    return wait_job(engine, job["jobId"])


def conn_id(engine: Engine, name: str = "c1") -> str:
    return next(c["connectionId"] for c in engine.list_connections() if c["name"] == name)
