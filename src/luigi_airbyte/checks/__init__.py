"""Data checks that run before anything downstream reads the data.

Freshness, drift, record-count reconciliation and SQL checks each return
``CheckResult`` values; ``raise_for`` turns failed error-severity results into a
``CheckFailedError`` (exit 6). See docs/transforms-and-checks.md.
"""

from __future__ import annotations

from luigi_airbyte.checks.counts import allowed_difference, reconcile_counts
from luigi_airbyte.checks.drift import diff_connection
from luigi_airbyte.checks.drift_types import (
    Difference,
    DriftReport,
    ExpectedConnection,
    ExpectedStream,
)
from luigi_airbyte.checks.freshness import check_freshness, job_end, last_success_end
from luigi_airbyte.checks.result import CheckResult, FailedChecksError, Severity, raise_for
from luigi_airbyte.checks.sql import run_sql_check, run_sql_expect_empty
from luigi_airbyte.checks.warehouse import Warehouse, WarehouseError, open_warehouse
from luigi_airbyte.masking import mask_url

__all__ = [
    "CheckResult",
    "Difference",
    "DriftReport",
    "ExpectedConnection",
    "ExpectedStream",
    "FailedChecksError",
    "Severity",
    "Warehouse",
    "WarehouseError",
    "allowed_difference",
    "check_freshness",
    "diff_connection",
    "job_end",
    "last_success_end",
    "mask_url",
    "open_warehouse",
    "raise_for",
    "reconcile_counts",
    "run_sql_check",
    "run_sql_expect_empty",
]
