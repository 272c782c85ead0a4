"""Counts and SQL checks against a real PostgreSQL (jsonb and text ``_airbyte_meta``)."""

from __future__ import annotations

import pytest

from luigi_airbyte.checks import open_warehouse, reconcile_counts, run_sql_check
from luigi_airbyte.checks.warehouse import WarehouseError
from pg_server import PostgresServer

pytestmark = pytest.mark.postgres
PASSWORD = "pg-pass-0042"  # the server trusts local connections; only masking is tested


@pytest.fixture(scope="module")
def pg_url(pg_server: PostgresServer) -> str:
    pg_server.create_database("checks")
    for sql in (
        "CREATE SCHEMA raw",
        "CREATE TABLE raw.orders (id int, _airbyte_meta jsonb)",
        "INSERT INTO raw.orders SELECT i, jsonb_build_object('changes', '[]'::jsonb,"
        " 'sync_id', CASE WHEN i <= 3 THEN 101 ELSE 1010 END) FROM generate_series(1, 5) i",
        "CREATE TABLE raw.orders_text (id int, _airbyte_meta text)",
        "INSERT INTO raw.orders_text VALUES (1, '{\"sync_id\":101}'), (2, '{\"sync_id\": 101}')",
    ):
        pg_server.execute("checks", sql)
    return f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:{pg_server.port}/checks"


def test_sync_counts_on_jsonb_and_text(pg_url: str) -> None:
    results = reconcile_counts(
        {"orders": 3, "orders_text": 2},
        pg_url,
        {"orders": "raw.orders", "orders_text": "raw.orders_text"},
        sync_id=101,
    )
    assert [r.passed for r in results] == [True, True], [r.message for r in results]
    assert all(PASSWORD not in r.message and PASSWORD not in str(r.details) for r in results)


def test_total_mode_missing_table_and_sql_check(pg_url: str) -> None:
    ok, missing = reconcile_counts(
        {"orders": 5, "users": 1},
        pg_url,
        {"orders": "raw.orders", "users": "raw.users"},
        mode="total",
    )
    assert ok.passed and not missing.passed
    assert "not found" in missing.message and PASSWORD not in missing.message
    assert run_sql_check(pg_url, "select count(*) = 5 from raw.orders", "five").passed


def test_postgres_connection_is_read_only(pg_url: str) -> None:
    with open_warehouse(pg_url) as wh:
        assert wh.dialect == "postgresql" and PASSWORD not in wh.display_url
        with pytest.raises(WarehouseError, match="read-only"):
            wh.scalar("insert into raw.orders values (99, '{}') returning id")
        assert wh.scalar("select count(*) from raw.orders") == 5
