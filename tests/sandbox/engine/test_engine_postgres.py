"""A PostgreSQL destination through SQLAlchemy + psycopg 3, with the namespace as schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine_helpers import conn_id, run_sync

from luigi_airbyte.sandbox.engine import Engine
from pg_server import PostgresServer

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_url(pg_server: PostgresServer) -> str:
    return pg_server.create_database("sandbox_engine")


def test_sync_into_postgres_schema(tmp_path: Path, make_engine: Any, pg_url: str) -> None:
    import sqlalchemy as sa

    data = {
        "workspaces": [{"name": "ws"}],
        "sources": [
            {
                "name": "gen",
                "type": "generator",
                "namespace": "public",
                "streams": [{"name": "users", "size": 15, "growth_per_sync": 3}],
            }
        ],
        "destinations": [{"name": "pg", "type": "postgres", "url": pg_url}],
        "connections": [
            {
                "name": "c",
                "source": "gen",
                "destination": "pg",
                "namespace_definition": "custom_format",
                "namespace": "raw_crm",
                "streams": [{"name": "users", "sync_mode": "incremental_deduped_history"}],
            }
        ],
    }
    engine: Engine = make_engine(data)
    cid = conn_id(engine, "c")
    dst = engine.get_connection(cid)["destinationId"]
    assert engine.check_destination(dst)["status"] == "succeeded"
    assert engine.get_destination(dst)["configuration"]["password"] in (None, "**********")
    assert run_sync(engine, cid)["rowsSynced"] == 15
    second = run_sync(engine, cid)
    assert second["rowsSynced"] == 3 + 1  # 3 new rows, 1 updated (updates default to growth/2)
    assert engine.destination_counts(cid) == {"users": 18}
    eng = sa.create_engine(pg_url)
    try:
        with eng.connect() as con:
            n, ids, gens = con.execute(
                sa.text(
                    "SELECT count(*), count(DISTINCT id), max(_airbyte_generation_id) "
                    "FROM raw_crm.users"
                )
            ).one()
    finally:
        eng.dispose()
    assert (n, ids, gens) == (18, 18, 0)
