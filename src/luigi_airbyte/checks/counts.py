"""Record-count reconciliation: did the rows Airbyte says it committed reach the warehouse?

Airbyte has reported a sync as succeeded while the final table lost most of its rows
(airbytehq/airbyte#86347), so downstream steps should not trust the job status alone.

Two modes:

* ``sync``: count the rows written by one sync, i.e. whose ``_airbyte_meta`` JSON has
  ``"sync_id": <job id>``, and compare with the records committed by that job. In a
  deduplicated stream the final table keeps one row per key, so fewer rows than committed
  records is normal (updates to one key, and records a retried attempt re-sent, as
  Airbyte's at-least-once delivery allows); only more rows than committed fails there.
* ``total``: compare the table's row count with an expected total (``committed`` is then
  read as the expected total per stream), e.g. after a full-refresh overwrite.

Two more reconciliations catch records lost or duplicated inside Airbyte itself:

* ``lost:<stream>``: on the final, succeeded attempt, the records the source emitted
  less those the destination rejected and those a mapper filtered out must all have
  been committed. Only the final attempt is judged: an earlier failed attempt emits
  records it never commits, and the next attempt reads them again (Airbyte's own
  counting; see docs/transforms-and-checks.md). ``on_lost_records: warn`` reports a
  shortfall as a warning instead of failing.
* ``duplicates:<stream>``: where a stream has a primary key and an append mode, no key
  may appear twice among this sync's rows (a retried attempt that re-sent rows).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from luigi_airbyte.airbyte.models import StreamStats
from luigi_airbyte.checks.result import CheckResult, Severity
from luigi_airbyte.checks.warehouse import (
    Warehouse,
    WarehouseError,
    open_warehouse,
    quote_identifier,
)
from luigi_airbyte.masking import mask_url

Mode = Literal["sync", "total"]
LostMode = Literal["fail", "warn"]
Tolerance = int | float | str
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def allowed_difference(expected: int, tolerance: Tolerance) -> float:
    """Absolute tolerance (``5``) or a percentage of ``expected`` (``"1%"``)."""
    if isinstance(tolerance, str):
        match = _PERCENT.match(tolerance)
        if match:
            return expected * float(match.group(1)) / 100.0
        if tolerance.strip().isdigit():
            return float(tolerance.strip())
        raise ValueError(f"tolerance must be a count (5) or a percentage ('1%'), not {tolerance!r}")
    if isinstance(tolerance, bool) or tolerance < 0:
        raise ValueError("tolerance must be a non-negative number or a percentage")
    return float(tolerance)


def _count(wh: Warehouse, table: str, mode: Mode, sync_id: int | None, meta: str) -> int:
    sql = f"SELECT COUNT(*) FROM {wh.quote_table(table)}"
    if mode == "sync":
        sql += f" WHERE {wh.json_text(meta, 'sync_id')} = :sync_id"
        return int(wh.scalar(sql, {"sync_id": str(sync_id)}) or 0)
    return int(wh.scalar(sql) or 0)


def reconcile_counts(
    committed: Mapping[str, int],
    warehouse_url: str,
    tables: Mapping[str, str],
    *,
    tolerance: Tolerance = 0,
    mode: Mode = "sync",
    sync_id: int | None = None,
    meta_column: str = "_airbyte_meta",
    severity: Severity = "error",
    final_attempt: Sequence[StreamStats] | None = None,
    on_lost_records: LostMode = "fail",
    primary_keys: Mapping[str, Sequence[str]] | None = None,
    deduped: Collection[str] = (),
) -> list[CheckResult]:
    """One ``counts:<stream>`` result per stream of ``committed`` and ``tables``.

    Streams in ``deduped`` (a deduplicated sync mode) fail only with more rows than
    committed records (``mode='sync'``).

    A stream without a table mapping is looked up under its own name; a mapped stream
    missing from ``committed`` is expected to have 0 rows. Warehouse problems (missing
    table, missing ``_airbyte_meta``, unreachable database) are failed results, not errors.

    ``final_attempt`` (the final attempt's per-stream stats) adds one ``lost:<stream>``
    result per stream; ``primary_keys`` (streams in an append mode with a primary key,
    ``mode='sync'`` only) adds one ``duplicates:<stream>`` result each.
    """
    if on_lost_records not in ("fail", "warn"):
        raise ValueError("on_lost_records must be 'fail' or 'warn'")
    lost = (
        lost_records(final_attempt, severity if on_lost_records == "fail" else "warning")
        if final_attempt is not None
        else []
    )
    counted = _reconcile_tables(
        committed,
        warehouse_url,
        tables,
        tolerance=tolerance,
        mode=mode,
        sync_id=sync_id,
        meta_column=meta_column,
        severity=severity,
        primary_keys=primary_keys or {},
        deduped=frozenset(deduped),
    )
    return lost + counted


def lost_records(
    final_attempt: Sequence[StreamStats], severity: Severity = "error"
) -> list[CheckResult]:
    """Emitted against committed on the final attempt, one ``lost:<stream>`` each.

    Expected committed = emitted - rejected - filtered out. A shortfall is a failed
    result carrying both numbers; more committed than expected passes (a destination
    may write a record it was sent twice; the duplicates rule looks at that).
    """
    out = []
    for s in sorted(final_attempt, key=lambda s: s.name):
        expected = s.records_emitted - s.records_rejected - s.records_filtered_out
        short = expected - s.records_committed
        details = {
            "stream": s.name,
            "emitted": s.records_emitted,
            "rejected": s.records_rejected,
            "filtered_out": s.records_filtered_out,
            "expected": expected,
            "committed": s.records_committed,
            "lost": max(0, short),
        }
        if short <= 0:
            out.append(
                CheckResult(
                    f"lost:{s.name}",
                    "counts",
                    True,
                    severity,
                    f"{s.name}: the final attempt committed {s.records_committed} of "
                    f"{expected} records it emitted (less rejected and filtered out)",
                    details,
                )
            )
            continue
        out.append(
            CheckResult(
                f"lost:{s.name}",
                "counts",
                False,
                severity,
                f"{s.name}: {short} records lost: the final attempt emitted {expected} "
                f"(less rejected and filtered out) but committed {s.records_committed}. "
                "Look at the job's destination logs in Airbyte and re-sync the stream; set "
                "counts.on_lost_records: warn in the pipeline file only if this loss is "
                "expected.",
                details,
            )
        )
    return out


@dataclass(frozen=True)
class _Counting:
    """How every stream of one reconciliation is counted and judged."""

    tolerance: Tolerance
    mode: Mode
    sync_id: int | None
    meta: str
    severity: Severity

    def result(
        self, name: str, passed: bool, message: str, details: dict[str, object]
    ) -> CheckResult:
        return CheckResult(name, "counts", passed, self.severity, message, details)


def _reconcile_tables(
    committed: Mapping[str, int],
    warehouse_url: str,
    tables: Mapping[str, str],
    *,
    tolerance: Tolerance,
    mode: Mode,
    sync_id: int | None,
    meta_column: str,
    severity: Severity,
    primary_keys: Mapping[str, Sequence[str]],
    deduped: frozenset[str] = frozenset(),
) -> list[CheckResult]:
    if mode not in ("sync", "total"):
        raise ValueError("mode must be 'sync' or 'total'")
    if mode == "sync" and sync_id is None:
        raise ValueError("mode='sync' needs the sync's job id (sync_id)")
    allowed_difference(0, tolerance)  # validate before touching the warehouse
    how = _Counting(tolerance, mode, sync_id, meta_column, severity)
    streams = {**{s: s for s in committed}, **dict(tables)}
    where = mask_url(warehouse_url)
    try:
        wh = open_warehouse(warehouse_url)
    except WarehouseError as exc:
        return [
            how.result(
                f"counts:{s}",
                False,
                f"{s}: cannot count rows: {exc}",
                {"stream": s, "warehouse": where},
            )
            for s in sorted(streams)
        ]
    with wh:
        results = [
            _reconcile_one(
                wh,
                how,
                stream,
                streams[stream],
                int(committed.get(stream, 0)),
                mapped=stream in tables,
                deduped=mode == "sync" and stream in deduped,
            )
            for stream in sorted(streams)
        ]
        if mode == "sync":
            results += [
                _duplicates_one(wh, how, stream, streams[stream], tuple(primary_keys[stream]))
                for stream in sorted(primary_keys)
                if stream in streams and primary_keys[stream]
            ]
        return results


def _duplicates_one(
    wh: Warehouse, how: _Counting, stream: str, table: str, key: tuple[str, ...]
) -> CheckResult:
    """Rows of this sync whose primary key appears more than once (append modes)."""
    name = f"duplicates:{stream}"
    sync_id = how.sync_id
    details: dict[str, object] = {
        "stream": stream,
        "table": table,
        "primary_key": list(key),
        "sync_id": sync_id,
    }
    cols = ", ".join(quote_identifier(c) for c in key)
    sql = (
        f"SELECT COALESCE(SUM(n - 1), 0), COUNT(*) FROM (SELECT COUNT(*) AS n "
        f"FROM {wh.quote_table(table)} WHERE {wh.json_text(how.meta, 'sync_id')} = :sync_id "
        f"GROUP BY {cols} HAVING COUNT(*) > 1) dup"
    )
    try:
        if not wh.table_exists(table):
            raise WarehouseError(f"table {table} not found")
        extra = int(wh.scalar(sql, {"sync_id": str(sync_id)}) or 0)
    except WarehouseError as exc:
        return how.result(
            name, False, f"{stream}: cannot look for duplicate keys in {table}: {exc}", details
        )
    details["duplicates"] = extra
    key_text = ", ".join(key)
    if extra == 0:
        return how.result(
            name,
            True,
            f"{stream}: no primary key ({key_text}) appears twice among the rows of sync "
            f"{sync_id} in {table}",
            details,
        )
    return how.result(
        name,
        False,
        f"{stream}: {extra} duplicate rows by primary key ({key_text}) among the rows of sync "
        f"{sync_id} in {table}: a retried attempt re-sent records in an append mode. "
        "Deduplicate the table (or switch the stream to a deduped mode in Airbyte) before "
        "anything reads it.",
        details,
    )


def _reconcile_one(
    wh: Warehouse,
    how: _Counting,
    stream: str,
    table: str,
    expected: int,
    *,
    mapped: bool,
    deduped: bool = False,
) -> CheckResult:
    name = f"counts:{stream}"
    details: dict[str, object] = {
        "stream": stream,
        "table": table,
        "mode": how.mode,
        "sync_id": how.sync_id,
        "expected": expected,
        "tolerance": how.tolerance,
        "warehouse": wh.display_url,
    }
    if not wh.table_exists(table):
        hint = "" if mapped else " (no table mapping was given, so the stream name was used)"
        return how.result(
            name,
            False,
            f"{stream}: table {table} not found in {wh.display_url}{hint}. Fix the stream's "
            "table in the pipeline file (counts.tables), or check the destination's "
            "namespace and prefix settings in Airbyte.",
            details,
        )
    try:
        # check explicitly: SQLite reads a quoted unknown column as a string literal
        if how.mode == "sync" and how.meta.lower() not in {c.lower() for c in wh.columns(table)}:
            raise WarehouseError(f"{table} has no {how.meta} column")
        actual = _count(wh, table, how.mode, how.sync_id, how.meta)
    except WarehouseError as exc:
        fix = (
            f" Tables written by older destinations lack {how.meta}; use mode 'total' for them."
            if how.mode == "sync"
            else ""
        )
        return how.result(
            name, False, f"{stream}: cannot count rows in {table}: {exc}.{fix}", details
        )
    return _judge(how, name, stream, table, expected, actual, deduped, details)


def _judge(
    how: _Counting,
    name: str,
    stream: str,
    table: str,
    expected: int,
    actual: int,
    deduped: bool,
    details: dict[str, object],
) -> CheckResult:
    """Pass or fail ``actual`` rows against ``expected`` within the tolerance."""
    allowed = allowed_difference(expected, how.tolerance)
    difference = actual - expected
    details.update(actual=actual, difference=difference, allowed=allowed)
    what = f"rows of sync {how.sync_id}" if how.mode == "sync" else "rows"
    source = "Airbyte committed" if how.mode == "sync" else "expected"
    if abs(difference) <= allowed:
        return how.result(
            name,
            True,
            f"{stream}: {actual} {what} in {table}; {source} {expected} "
            f"(tolerance {how.tolerance})",
            details,
        )
    if deduped and difference < 0:
        details["deduped"] = True
        return how.result(
            name,
            True,
            f"{stream}: {actual} {what} in {table} for {expected} records committed: a "
            "deduplicated table keeps one row per key (updates, and records re-sent by a "
            "retried attempt, collapse)",
            details,
        )
    cause = (
        "rows are missing: data may have been lost"
        if difference < 0
        else "more rows than expected: duplicates, or another writer"
    )
    return how.result(
        name,
        False,
        f"{stream}: {actual} {what} in {table}, but {source} {expected} (difference "
        f"{difference:+d}, tolerance {how.tolerance}); {cause}. Inspect the table and the job "
        "in Airbyte; if the difference is expected (deduplication, deletes), raise "
        "counts.tolerance in the pipeline file.",
        details,
    )
