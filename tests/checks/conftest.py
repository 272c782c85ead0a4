"""Warehouses with Airbyte-shaped tables (``_airbyte_meta`` JSON with a ``sync_id``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

# (sync_id, rows): 1010 is there to catch a prefix match on 101
SYNCS = {100: 5, 101: 3, 1010: 2}
TOTAL = sum(SYNCS.values())


def _meta(sync_id: int, compact: bool) -> str:
    meta = {"changes": [], "sync_id": sync_id}
    return json.dumps(meta, separators=(",", ":")) if compact else json.dumps(meta)


def _rows() -> list[tuple[int, str]]:
    rows, n = [], 0
    for sync_id, count in SYNCS.items():
        for i in range(count):
            n += 1
            rows.append((n, _meta(sync_id, compact=bool(i % 2))))
    return rows


def make_duckdb(path: Path) -> str:
    con = duckdb.connect(str(path))
    con.execute("create table orders (id integer, _airbyte_meta json)")
    con.executemany("insert into orders values (?, ?)", _rows())
    con.execute("create table orders_text (id integer, _airbyte_meta varchar)")
    con.executemany("insert into orders_text values (?, ?)", [*_rows(), (99, "not json")])
    con.execute("create table legacy (id integer)")
    con.execute("insert into legacy values (1), (2)")
    con.execute("create schema crm")
    con.execute("create table crm.users (id integer, _airbyte_meta json)")
    con.executemany("insert into crm.users values (?, ?)", [(1, _meta(7, False))])
    con.close()
    return f"duckdb:///{path}"


def make_sqlite(path: Path) -> str:
    con = sqlite3.connect(path)
    con.execute("create table orders (id integer, _airbyte_meta text)")
    con.executemany("insert into orders values (?, ?)", _rows())
    con.execute("create table orders_text (id integer, _airbyte_meta text)")
    con.executemany("insert into orders_text values (?, ?)", [*_rows(), (99, "not json")])
    con.execute("create table legacy (id integer)")
    con.execute("insert into legacy values (1), (2)")
    con.commit()
    con.close()
    return f"sqlite:///{path}"


MAKERS: dict[str, Callable[[Path], str]] = {
    "duckdb": lambda tmp: make_duckdb(tmp / "warehouse.duckdb"),
    "sqlite": lambda tmp: make_sqlite(tmp / "warehouse.sqlite"),
}


@pytest.fixture(params=sorted(MAKERS))
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return MAKERS[request.param](tmp_path)


@pytest.fixture
def duckdb_url(tmp_path: Path) -> str:
    return make_duckdb(tmp_path / "warehouse.duckdb")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return make_sqlite(tmp_path / "warehouse.sqlite")
