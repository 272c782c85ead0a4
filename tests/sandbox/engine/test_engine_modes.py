"""Real data movement: every sync mode over three jobs, into DuckDB and SQLite."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest
from engine_helpers import conn_id, run_sync, wait_job

from luigi_airbyte.sandbox.engine import Engine
from luigi_airbyte.sandbox.world import SYNC_MODES

SIZE, GROWTH, UPDATES = 20, 4, 2

# rows in the destination after syncs 1, 2, 3 of a stream with the sizes above
EXPECTED = {
    "full_refresh_overwrite": [20, 24, 28],
    "full_refresh_overwrite_deduped": [20, 24, 28],
    "full_refresh_append": [20, 44, 72],
    "full_refresh_update": [20, 24, 28],
    "full_refresh_soft_delete": [20, 24, 28],
    "incremental_append": [20, 26, 32],
    "incremental_deduped_history": [20, 24, 28],
    "incremental_update": [20, 24, 28],
    "incremental_soft_delete": [20, 24, 28],
}
APPEND_ONLY = {"full_refresh_append", "incremental_append"}


def modes_world(modes: list[str], dest: dict[str, Any]) -> dict[str, Any]:
    """One source and one connection per mode, so the jobs run side by side."""
    return {
        "workspaces": [{"name": "ws"}],
        "sources": [
            {
                "name": f"src-{m}",
                "type": "generator",
                "streams": [
                    {
                        "name": "users",
                        "size": SIZE,
                        "growth_per_sync": GROWTH,
                        "updates_per_sync": UPDATES,
                        "seed": 1,
                    }
                ],
            }
            for m in modes
        ],
        "destinations": [dest],
        "connections": [
            {
                "name": m,
                "source": f"src-{m}",
                "destination": dest["name"],
                "prefix": f"{m}__",
                "streams": [{"name": "users", "sync_mode": m}],
            }
            for m in modes
        ],
    }


def run_rounds(engine: Engine, modes: list[str], rounds: int = 3) -> dict[str, list[dict]]:
    jobs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for _ in range(rounds):
        created = {m: engine.create_job(conn_id(engine, m), "sync")["jobId"] for m in modes}
        for m, jid in created.items():
            done = wait_job(engine, jid, timeout=30)
            assert done["status"] == "succeeded", done
            jobs[m].append({**done, "counts": engine.destination_counts(conn_id(engine, m))})
    return jobs


def check_modes(jobs: dict[str, list[dict[str, Any]]]) -> None:
    for mode, runs in jobs.items():
        counts = [r["counts"]["users"] for r in runs]
        assert counts == EXPECTED[mode], mode
        if mode in APPEND_ONLY:
            # committed == rows really written, exactly, job by job
            assert [r["rowsSynced"] for r in runs] == [
                b - a for a, b in zip([0, *counts], counts, strict=False)
            ]
        if mode.startswith("full_refresh_overwrite"):
            assert [r["rowsSynced"] for r in runs] == counts


def test_every_mode_into_duckdb(tmp_path: Path, make_engine: Any) -> None:
    modes = list(SYNC_MODES)
    engine: Engine = make_engine(
        modes_world(modes, {"name": "wh", "type": "duckdb", "path": "wh.duckdb"})
    )
    jobs = run_rounds(engine, modes)
    check_modes(jobs)
    engine.close()  # release the file so we can read it like dbt would

    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    try:
        cols = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'incremental_append__users' ORDER BY ordinal_position"
            ).fetchall()
        ]
        assert cols == [
            "id",
            "name",
            "email",
            "updated_at",
            "_airbyte_raw_id",
            "_airbyte_extracted_at",
            "_airbyte_meta",
            "_airbyte_generation_id",
        ]
        raw_id, meta, gen = con.execute(
            "SELECT _airbyte_raw_id, _airbyte_meta, _airbyte_generation_id "
            "FROM incremental_append__users ORDER BY _airbyte_extracted_at DESC LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        uuid.UUID(raw_id)
        last_job = jobs["incremental_append"][-1]["jobId"]
        assert json.loads(meta) == {"sync_id": last_job, "changes": []}
        assert gen == 0
        # overwrite starts a new generation each sync (a truncate refresh)
        gens = con.execute(
            "SELECT DISTINCT _airbyte_generation_id FROM full_refresh_overwrite__users"
        ).fetchall()
        assert gens == [(3,)]
        # dedup keeps the latest version of every row: the same as the newest per id in the
        # incremental-append history of an identical source
        latest = con.execute(
            "SELECT id, name, updated_at FROM incremental_append__users "
            "QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY updated_at DESC) = 1 ORDER BY id"
        ).fetchall()
        deduped = con.execute(
            "SELECT id, name, updated_at FROM incremental_deduped_history__users ORDER BY id"
        ).fetchall()
        assert deduped == latest
        assert len({r[0] for r in deduped}) == 28
        staging = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '_airbyte_tmp%'"
        ).fetchone()
        assert staging == (0,)
    finally:
        con.close()


def test_modes_into_sqlite_via_sqlalchemy(tmp_path: Path, make_engine: Any) -> None:
    modes = ["full_refresh_overwrite", "full_refresh_append", "incremental_deduped_history"]
    engine: Engine = make_engine(
        modes_world(modes, {"name": "lite", "type": "sqlite", "path": "out/lite.db"})
    )
    jobs = run_rounds(engine, modes)
    check_modes(jobs)
    assert engine.destination_url(engine.list_connections()[0]["destinationId"]).startswith(
        "sqlite:///"
    )
    con = sqlite3.connect(tmp_path / "out" / "lite.db")
    try:
        n, ids = con.execute(
            "SELECT count(*), count(DISTINCT id) FROM incremental_deduped_history__users"
        ).fetchone()
        assert n == ids == 28
        meta = con.execute("SELECT _airbyte_meta FROM full_refresh_append__users").fetchone()
        assert json.loads(meta[0])["changes"] == []
    finally:
        con.close()


@pytest.mark.parametrize("job_type", ["clear", "reset"])
def test_clear_empties_tables_and_bumps_generation(
    tmp_path: Path, make_engine: Any, job_type: str
) -> None:
    modes = ["incremental_append"]
    engine: Engine = make_engine(
        modes_world(modes, {"name": "wh", "type": "duckdb", "path": "wh.duckdb"})
    )
    cid = conn_id(engine, "incremental_append")
    assert run_sync(engine, cid)["rowsSynced"] == 20
    clear = run_sync(engine, cid, job_type)
    assert clear["status"] == "succeeded" and clear["jobType"] == job_type
    assert clear["rowsSynced"] == 0
    assert engine.destination_counts(cid) == {"users": 0}
    # the cursor was reset too: the next sync reads the whole (grown) table again
    again = run_sync(engine, cid)
    assert again["rowsSynced"] == 24 == engine.destination_counts(cid)["users"]
    rows = engine.destination_rows(cid, "users")
    assert {r["_airbyte_generation_id"] for r in rows} == {1}
