"""User-written SQL assertions against the warehouse.

Two shapes, the two that need no further configuration: a query returning one truthy
value (``select count(*) = 0 from orders where amount < 0``), or a query that must
return no rows (``select * from orders where id is null``). A failing expect-empty check
shows at most a few sample rows: the point is to locate the problem, not to copy data
into alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from luigi_airbyte.checks.result import CheckResult, Severity
from luigi_airbyte.checks.warehouse import WarehouseError, open_warehouse
from luigi_airbyte.masking import mask_url

Expect = Literal["truthy", "empty"]
SAMPLE_ROWS = 3
_MAX_CELL = 80


def _cell(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 3] + "..."


def run_sql_check(
    warehouse_url: str,
    query: str,
    name: str,
    *,
    expect: Expect = "truthy",
    params: Mapping[str, Any] | None = None,
    severity: Severity = "error",
) -> CheckResult:
    """Pass iff ``query`` returns exactly one truthy value (``expect="truthy"``) or no rows."""
    if expect not in ("truthy", "empty"):
        raise ValueError("expect must be 'truthy' or 'empty'")
    details: dict[str, object] = {
        "query": query,
        "expect": expect,
        "warehouse": mask_url(warehouse_url),
    }
    try:
        with open_warehouse(warehouse_url) as wh:
            rows = wh.rows(query, params, limit=None if expect == "truthy" else SAMPLE_ROWS + 1)
    except WarehouseError as exc:
        return CheckResult(name, "sql", False, severity, f"query failed: {exc}", details)
    if expect == "empty":
        if not rows:
            return CheckResult(name, "sql", True, severity, "query returned no rows", details)
        sample = [[_cell(v) for v in row] for row in rows[:SAMPLE_ROWS]]
        more = "more than " if len(rows) > SAMPLE_ROWS else ""
        details["sample"] = sample
        return CheckResult(
            name,
            "sql",
            False,
            severity,
            f"query returned {more}{min(len(rows), SAMPLE_ROWS)} row(s), expected none; "
            f"first: {', '.join(sample[0])}",
            details,
        )
    if len(rows) != 1 or len(rows[0]) != 1:
        shape = f"{len(rows)} rows" if len(rows) != 1 else f"{len(rows[0])} columns"
        return CheckResult(
            name,
            "sql",
            False,
            severity,
            f"query returned {shape}; a truthy check needs exactly one value "
            "(or use expect: empty)",
            details,
        )
    value = rows[0][0]
    details["value"] = _cell(value)
    if value:
        return CheckResult(name, "sql", True, severity, f"query returned {_cell(value)}", details)
    return CheckResult(
        name,
        "sql",
        False,
        severity,
        f"query returned {_cell(value)}, expected a truthy value",
        details,
    )


def run_sql_expect_empty(
    warehouse_url: str,
    query: str,
    name: str,
    *,
    params: Mapping[str, Any] | None = None,
    severity: Severity = "error",
) -> CheckResult:
    """Pass iff ``query`` returns no rows (``run_sql_check(..., expect="empty")``)."""
    return run_sql_check(
        warehouse_url, query, name, expect="empty", params=params, severity=severity
    )
