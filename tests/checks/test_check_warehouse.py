"""The read-only warehouse adapter: URL masking, names, read-only opening, parameters."""

from __future__ import annotations

import select
import subprocess
import sys
from pathlib import Path

import pytest

from luigi_airbyte.checks.warehouse import (
    WarehouseError,
    duckdb_path,
    mask_url,
    open_warehouse,
    split_table,
)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://u:pw@h:5432/db", "postgresql+psycopg://u:***@h:5432/db"),
        ("postgresql://u:p%40ss@h/db?sslmode=require", "postgresql://u:***@h/db?sslmode=require"),
        ("postgresql://u@h/db?password=x&sslmode=a", "postgresql://u@h/db?password=***&sslmode=a"),
        ("duckdb:////data/w.duckdb", "duckdb:////data/w.duckdb"),
        ("sqlite:///rel.db", "sqlite:///rel.db"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_split_table() -> None:
    assert split_table("orders") == ["orders"]
    assert split_table("crm.users") == ["crm", "users"]
    assert split_table('"my.schema".users') == ["my.schema", "users"]
    with pytest.raises(ValueError):
        split_table("a.b.c.d")


def test_duckdb_and_sqlite_answer_the_same_questions(warehouse_url: str) -> None:
    with open_warehouse(warehouse_url) as wh:
        assert wh.table_exists("orders")
        assert not wh.table_exists("missing")
        assert wh.columns("orders") == ["id", "_airbyte_meta"]
        assert wh.scalar("select count(*) from orders where id > :n", {"n": 8}) == 2
        assert wh.rows("select id from orders order by id", limit=2) == [(1,), (2,)]
        assert wh.quote_table("main.orders") == '"main"."orders"'


def test_duckdb_is_opened_read_only(duckdb_url: str) -> None:
    with open_warehouse(duckdb_url) as wh, pytest.raises(WarehouseError):
        wh.scalar("insert into orders values (100, '{}')")


def test_sqlite_is_opened_read_only(sqlite_url: str) -> None:
    with open_warehouse(sqlite_url) as wh:
        with pytest.raises(WarehouseError, match="readonly"):
            wh.scalar("insert into orders values (100, '{}')")
        assert wh.scalar("select count(*) from orders") == 10  # still usable after an error


def test_relative_duckdb_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    duckdb.connect(str(tmp_path / "rel.duckdb")).close()
    monkeypatch.chdir(tmp_path)
    with open_warehouse("duckdb:///rel.duckdb") as wh:
        assert wh.scalar("select 41 + 1") == 42


def test_errors_carry_a_masked_url() -> None:
    with pytest.raises(WarehouseError) as info:
        open_warehouse("postgresql+psycopg://u:hunter2@127.0.0.1:1/db?connect_timeout=2")
    assert "hunter2" not in str(info.value)
    with pytest.raises(WarehouseError, match="not a database URL"):
        open_warehouse("nonsense")


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the DuckDB file read-write, as a destination does while it
    writes; returns once it holds it."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            "con = duckdb.connect(sys.argv[1])\n"
            "print('held', flush=True)\n"
            "time.sleep(float(sys.argv[2]))\n"
            "print('releasing', flush=True)\n"
            "con.close()\n",
            str(path),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_check_waits_for_a_duckdb_file_a_sync_is_writing(
    duckdb_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = Path(duckdb_path(duckdb_url) or "")
    holder = _hold(path, 1.0)
    try:
        with open_warehouse(duckdb_url) as wh:
            # it opened once the holder let go: "releasing", printed before it closes, is
            # already there to read ...
            assert holder.stdout is not None
            assert select.select([holder.stdout], [], [], 0)[0]
            assert holder.stdout.readline().strip() == "releasing"
            assert wh.scalar("select count(*) from orders") == 10  # ... and reads
    finally:
        holder.wait(timeout=30)
    assert "another process holds the DuckDB file" in caplog.text


def test_the_wait_for_a_held_duckdb_file_is_bounded(duckdb_url: str) -> None:
    path = Path(duckdb_path(duckdb_url) or "")
    holder = _hold(path, 30.0)
    try:
        with pytest.raises(WarehouseError, match="another process held the DuckDB file") as info:
            open_warehouse(duckdb_url, lock_wait=0.5)
        assert str(path) in str(info.value) and "run the check again" in str(info.value)
    finally:
        holder.kill()
        holder.wait(timeout=30)
