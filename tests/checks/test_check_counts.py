"""Record-count reconciliation on real DuckDB and SQLite files (see conftest for the data)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from luigi_airbyte.airbyte.models import StreamStats
from luigi_airbyte.checks import reconcile_counts
from luigi_airbyte.checks.counts import allowed_difference, lost_records

# conftest: sync 100 wrote 5 rows, sync 101 wrote 3, sync 1010 wrote 2; 10 in total.


def test_sync_mode_counts_only_rows_of_that_sync(warehouse_url: str) -> None:
    [result] = reconcile_counts({"orders": 3}, warehouse_url, {"orders": "orders"}, sync_id=101)
    assert result.passed, result.message
    assert result.name == "counts:orders"
    assert result.details["actual"] == 3  # not 5: sync 1010 must not match 101


def test_compact_and_spaced_json_both_count(warehouse_url: str) -> None:
    [result] = reconcile_counts({"orders": 5}, warehouse_url, {"orders": "orders"}, sync_id=100)
    assert result.passed, result.message


def test_text_column_with_a_broken_json_row(warehouse_url: str) -> None:
    # a text column where one row holds "not json": it must not break the count
    [result] = reconcile_counts({"s": 2}, warehouse_url, {"s": "orders_text"}, sync_id=1010)
    assert result.passed, result.message


def test_missing_rows_fail_with_difference_and_fix(warehouse_url: str) -> None:
    [result] = reconcile_counts({"orders": 5}, warehouse_url, {"orders": "orders"}, sync_id=101)
    assert not result.passed and result.severity == "error"
    assert result.details["difference"] == -2
    assert "rows are missing" in result.message
    assert "counts.tolerance" in result.message


def test_extra_rows_fail(warehouse_url: str) -> None:
    [result] = reconcile_counts({"orders": 1}, warehouse_url, {"orders": "orders"}, sync_id=101)
    assert not result.passed
    assert "duplicates" in result.message


@pytest.mark.parametrize(
    ("committed", "tolerance", "passed"),
    [
        (4, 1, True),  # |3 - 4| <= 1
        (4, 0, False),
        (5, "2", True),
        (4, "50%", True),  # 50% of 4 = 2
        (4, "10%", False),  # 10% of 4 = 0.4
        (3, "0%", True),
    ],
    ids=["abs-inside", "abs-zero", "abs-string", "pct-inside", "pct-outside", "pct-exact"],
)
def test_tolerance(duckdb_url: str, committed: int, tolerance: int | str, passed: bool) -> None:
    [result] = reconcile_counts(
        {"orders": committed}, duckdb_url, {"orders": "orders"}, sync_id=101, tolerance=tolerance
    )
    assert result.passed is passed, result.message


def test_total_mode_compares_the_table_total(warehouse_url: str) -> None:
    ok, bad = (
        reconcile_counts({"orders": n}, warehouse_url, {"orders": "orders"}, mode="total")[0]
        for n in (10, 12)
    )
    assert ok.passed and ok.details["actual"] == 10
    assert not bad.passed and bad.details["difference"] == -2


def test_total_mode_works_without_airbyte_meta(warehouse_url: str) -> None:
    [result] = reconcile_counts({"legacy": 2}, warehouse_url, {"legacy": "legacy"}, mode="total")
    assert result.passed


def test_sync_mode_without_airbyte_meta_says_so(warehouse_url: str) -> None:
    [result] = reconcile_counts({"legacy": 2}, warehouse_url, {"legacy": "legacy"}, sync_id=1)
    assert not result.passed
    assert "_airbyte_meta" in result.message and "'total'" in result.message


def test_missing_table_is_a_failed_check_with_a_fix(warehouse_url: str) -> None:
    [result] = reconcile_counts({"users": 1}, warehouse_url, {"users": "nope"}, sync_id=1)
    assert not result.passed
    assert "table nope not found" in result.message
    assert "counts.tables" in result.message


def test_unmapped_stream_uses_its_name_and_mapped_stream_without_count_expects_zero(
    warehouse_url: str,
) -> None:
    results = reconcile_counts({"orders": 3}, warehouse_url, {"other": "legacy"}, sync_id=101)
    by_name = {r.name: r for r in results}
    assert by_name["counts:orders"].passed
    other = by_name["counts:other"]  # committed nothing; legacy has no meta → cannot count
    assert not other.passed


def test_schema_qualified_table(duckdb_url: str) -> None:
    [result] = reconcile_counts({"users": 1}, duckdb_url, {"users": "crm.users"}, sync_id=7)
    assert result.passed, result.message


def test_missing_database_file_fails_every_stream_and_creates_nothing(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path}/none.sqlite", f"duckdb:///{tmp_path}/none.duckdb"):
        results = reconcile_counts({"a": 1, "b": 2}, url, {}, sync_id=1)
        assert [r.passed for r in results] == [False, False]
        assert "does not exist" in results[0].message
    assert list(tmp_path.iterdir()) == []


def test_unreachable_postgres_never_shows_the_password() -> None:
    url = "postgresql+psycopg://loader:s3cr3t-pw@127.0.0.1:1/warehouse?connect_timeout=2"
    [result] = reconcile_counts({"orders": 1}, url, {"orders": "orders"}, sync_id=1)
    assert not result.passed
    assert "s3cr3t-pw" not in result.message
    assert "s3cr3t-pw" not in str(result.to_dict())
    assert "***" in result.message


def test_argument_errors_are_raised_before_touching_the_warehouse() -> None:
    with pytest.raises(ValueError, match="sync_id"):
        reconcile_counts({"a": 1}, "sqlite:///x", {}, mode="sync")
    with pytest.raises(ValueError, match="tolerance"):
        reconcile_counts({"a": 1}, "sqlite:///x", {}, mode="total", tolerance="lots")
    with pytest.raises(ValueError):
        allowed_difference(10, -1)
    assert allowed_difference(200, "1.5%") == pytest.approx(3.0)


# --- records lost or duplicated inside Airbyte (issue 8, item 3) ---------------------------


def _final(name: str, emitted: int, committed: int, **more: int) -> StreamStats:
    return StreamStats(name=name, records_emitted=emitted, records_committed=committed, **more)


def test_a_shortfall_on_the_final_attempt_fails_with_both_numbers() -> None:
    [result] = lost_records([_final("orders", 500, 450)])
    assert result.name == "lost:orders" and result.blocking
    assert result.details["expected"] == 500 and result.details["committed"] == 450
    assert result.details["lost"] == 50
    assert "on_lost_records" in result.message


def test_rejected_and_filtered_out_records_are_not_lost() -> None:
    [result] = lost_records(
        [_final("orders", 500, 450, records_rejected=20, records_filtered_out=30)]
    )
    assert result.passed, result.message


def test_on_lost_records_warn_reports_without_blocking(warehouse_url: str) -> None:
    results = reconcile_counts(
        {"orders": 3},
        warehouse_url,
        {"orders": "orders"},
        sync_id=101,
        final_attempt=[_final("orders", 4, 3)],
        on_lost_records="warn",
    )
    lost = next(r for r in results if r.name == "lost:orders")
    assert not lost.passed and lost.severity == "warning" and not lost.blocking


def _append_table(path: Path, ids: list[int], sync_id: int) -> str:
    con = sqlite3.connect(path)
    con.execute("create table orders (id integer, _airbyte_meta text)")
    meta = json.dumps({"sync_id": sync_id, "changes": []})
    con.executemany("insert into orders values (?, ?)", [(i, meta) for i in ids])
    con.execute("insert into orders values (1, ?)", (json.dumps({"sync_id": sync_id - 1}),))
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def test_duplicate_keys_among_this_syncs_rows_fail(tmp_path: Path) -> None:
    url = _append_table(tmp_path / "w.sqlite", [1, 2, 3, 1, 2], sync_id=9)
    results = reconcile_counts(
        {"orders": 5}, url, {"orders": "orders"}, sync_id=9, primary_keys={"orders": ["id"]}
    )
    dup = next(r for r in results if r.name == "duplicates:orders")
    assert dup.blocking and dup.details["duplicates"] == 2
    counts = next(r for r in results if r.name == "counts:orders")
    assert counts.passed  # the count alone cannot see it: 5 committed, 5 rows


def test_distinct_keys_pass_and_an_older_syncs_row_is_not_a_duplicate(tmp_path: Path) -> None:
    url = _append_table(tmp_path / "w.sqlite", [1, 2, 3], sync_id=9)
    results = reconcile_counts(
        {"orders": 3}, url, {"orders": "orders"}, sync_id=9, primary_keys={"orders": ["id"]}
    )
    assert all(r.passed for r in results), [r.message for r in results]


def test_a_deduplicated_stream_may_keep_fewer_rows_than_committed(warehouse_url: str) -> None:
    # sync 101 wrote 3 rows; 5 committed records (updates, re-sent records) collapse by key
    [fewer] = reconcile_counts(
        {"orders": 5}, warehouse_url, {"orders": "orders"}, sync_id=101, deduped={"orders"}
    )
    assert fewer.passed and fewer.details["deduped"] is True
    assert "one row per key" in fewer.message
    # more rows than records is never explained by deduplication
    [more] = reconcile_counts(
        {"orders": 1}, warehouse_url, {"orders": "orders"}, sync_id=101, deduped={"orders"}
    )
    assert not more.passed
