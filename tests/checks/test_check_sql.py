"""SQL checks: one truthy value, or no rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from luigi_airbyte.checks import run_sql_check, run_sql_expect_empty


def test_truthy_value_passes_and_falsy_fails(warehouse_url: str) -> None:
    ok = run_sql_check(warehouse_url, "select count(*) = 10 from orders", "all-rows")
    assert ok.passed and ok.kind == "sql" and ok.name == "all-rows"
    bad = run_sql_check(warehouse_url, "select count(*) from orders where id < 0", "negatives")
    assert not bad.passed and "expected a truthy value" in bad.message


def test_params(warehouse_url: str) -> None:
    ok = run_sql_check(
        warehouse_url, "select count(*) = 2 from orders where id > :n", "p", params={"n": 8}
    )
    assert ok.passed, ok.message


@pytest.mark.parametrize(
    "query", ["select id from orders", "select 1, 2", "select id from orders where id < 0"]
)
def test_truthy_needs_exactly_one_value(warehouse_url: str, query: str) -> None:
    result = run_sql_check(warehouse_url, query, "shape")
    assert not result.passed
    assert "exactly one value" in result.message


def test_expect_empty(warehouse_url: str) -> None:
    ok = run_sql_expect_empty(warehouse_url, "select * from orders where id is null", "no-null")
    assert ok.passed
    bad = run_sql_check(
        warehouse_url, "select id from orders where id > 5 order by id", "big", expect="empty"
    )
    assert not bad.passed
    assert "more than 3 row(s)" in bad.message
    assert bad.details["sample"] == [["6"], ["7"], ["8"]]


def test_broken_query_is_a_failed_check(warehouse_url: str) -> None:
    result = run_sql_check(warehouse_url, "select nope from orders", "broken", severity="warning")
    assert not result.passed and result.severity == "warning"
    assert "query failed" in result.message


def test_missing_database(tmp_path: Path) -> None:
    result = run_sql_check(f"duckdb:///{tmp_path}/x.duckdb", "select 1", "x")
    assert not result.passed and "does not exist" in result.message
