"""A job takes its configured ``job_duration_seconds``: the pace counts from the attempt's
start, so the time the destination takes to open and write is inside it, not added to it.

Benchmarks compare a run against a floor of tasks that sleep exactly as long as a sync
takes; a sandbox whose 1 s jobs took 1.02 s (DuckDB opening the file for every job at one
worker) charged that to luigi-airbyte. These tests slow the destination on purpose, so the
difference is far above any machine's noise: the old pace gave ``duration + slowness``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import base_world, conn_id, wait_job

from luigi_airbyte.sandbox.destinations import DuckDBWriter
from luigi_airbyte.sandbox.engine import Engine

SLOW_S = 0.3
DURATION_S = 0.5


def _job_seconds(engine: Engine) -> float:
    """Wall seconds from ``create_job`` to the job's end, as the sandbox recorded it."""
    t0 = time.time()
    job = engine.create_job(conn_id(engine), "sync")
    done = wait_job(engine, job["jobId"])
    assert done["status"] == "succeeded", done
    return engine.terminal_times()[job["jobId"]] - t0


def _slow(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    original: Callable[..., Any] = getattr(DuckDBWriter, name)

    def slow(self: DuckDBWriter, *args: Any, **kwargs: Any) -> Any:
        time.sleep(SLOW_S)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DuckDBWriter, name, slow)


def test_a_destination_slow_to_open_does_not_lengthen_the_job(
    tmp_path: Path, make_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = base_world(tmp_path, streams=[], settings={"job_duration_seconds": DURATION_S})
    engine: Engine = make_engine(world)
    _slow(monkeypatch, "_open")
    seconds = _job_seconds(engine)
    assert DURATION_S <= seconds < DURATION_S + SLOW_S * 0.6, seconds


def test_slow_writes_fall_inside_the_jobs_duration(
    tmp_path: Path, make_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 20 users in 20 chunks of one row, 0.025 s of pace each. The first write takes 0.3 s:
    # the chunks after it are already due, so the job still ends at 0.5 s, not 0.3 s later.
    world = base_world(
        tmp_path,
        settings={"job_duration_seconds": DURATION_S, "chunk_size": 1},
        streams=[{"name": "users", "sync_mode": "full_refresh_append"}],
    )
    engine: Engine = make_engine(world)
    calls: list[float] = []
    original = DuckDBWriter._insert_rows

    def slow_insert(self: DuckDBWriter, *args: Any, **kwargs: Any) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(SLOW_S)  # one slow write, early: the pace that follows absorbs it
        original(self, *args, **kwargs)

    monkeypatch.setattr(DuckDBWriter, "_insert_rows", slow_insert)
    seconds = _job_seconds(engine)
    assert len(calls) == 20
    assert DURATION_S <= seconds < DURATION_S + SLOW_S * 0.6, seconds
