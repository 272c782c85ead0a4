"""Check steps: SQL, freshness, drift and record counts, evaluated for one run.

``StepExecutor`` records and reports the results; this module only computes them, from
the pipeline file, Airbyte and the warehouse.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from luigi_airbyte.airbyte import Connection, JobDetails, JobStatus
from luigi_airbyte.app.step_context import StepContext, sync_run_key
from luigi_airbyte.checks import (
    CheckResult,
    check_freshness,
    diff_connection,
    last_success_end,
    reconcile_counts,
    run_sql_check,
)
from luigi_airbyte.checks.counts import LostMode
from luigi_airbyte.checks.freshness import DATA_JOB_TYPES
from luigi_airbyte.errors import AirbyteError, CheckFailedError, LuigiAirbyteError
from luigi_airbyte.pipeline._steps import CheckStep, SyncStep
from luigi_airbyte.pipeline.graph import Node
from luigi_airbyte.sync.outcome import totals_from_details

if TYPE_CHECKING:
    from luigi_airbyte.app.runtime import Runtime


class CheckSteps:
    """Evaluates check nodes (declared checks and the implicit ``:drift``/``:counts``)."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def evaluate(self, ctx: StepContext, node: Node) -> list[CheckResult]:
        kind = node.check_kind
        if kind == "sql":
            return [self._sql_check(node)]
        if kind == "freshness":
            return [self._freshness_check(ctx, node)]
        if kind == "drift":
            return self._drift_check(ctx, node)
        if kind == "counts":
            return self._counts_check(ctx, node)
        raise LuigiAirbyteError(f"unknown check kind {kind!r}")

    def _sync_step(self, ctx: StepContext, name: str) -> SyncStep:
        pf = self.rt.pipeline_file
        assert pf is not None
        step = pf.pipeline(ctx.pipeline).step(name)
        assert isinstance(step, SyncStep)
        return step

    def _sql_check(self, node: Node) -> CheckResult:
        assert isinstance(node.step, CheckStep) and node.step.sql is not None
        spec = node.step.sql
        return run_sql_check(self.rt.warehouse_url(spec.warehouse), spec.query, node.name)

    def _freshness_check(self, ctx: StepContext, node: Node) -> CheckResult:
        assert isinstance(node.step, CheckStep) and node.step.freshness is not None
        sync = self._sync_step(ctx, node.step.freshness.sync)
        conn = self.rt.connection(sync.connection)
        end = self.last_success_end(conn)
        return check_freshness(end, node.step.freshness.max_age, name=node.name)

    def last_success_end(self, conn: Connection) -> datetime | None:
        """When Airbyte's most recent succeeded sync of ``conn`` ended (its job history)."""
        jobs = self.rt.client().list_jobs(
            conn.connection_id,
            status=JobStatus.SUCCEEDED,
            order_by="updatedAt|DESC",
            max_items=20,
        )  # syncs and refreshes; a load rejected by ``run --reload`` does not count
        rejected = self.rt.store().ledger.rejected_job_ids(conn.connection_id)
        return last_success_end(list(jobs), exclude=rejected)

    def _drift_check(self, ctx: StepContext, node: Node) -> list[CheckResult]:
        sync = self._sync_step(ctx, node.target_sync)
        if sync.expect is None:
            raise CheckFailedError(
                f"check {node.name!r}: sync step {sync.name!r} has no `expect:` to compare with"
            )
        from luigi_airbyte.app.plan import apply_command, drift_expectations  # drift only

        client = self.rt.client()
        conn = self.rt.connection(sync.connection)
        conn = client.get_connection(conn.connection_id)  # always the live configuration
        expected, expect_connection = drift_expectations(sync.expect)
        props = client.get_stream_properties(conn.source_id, conn.destination_id)
        discovered = client.discover_schema(conn.source_id)
        pf = self.rt.pipeline_file
        hint = apply_command(str(pf.source), sync.connection) if pf is not None else None
        return diff_connection(
            conn,
            expected,
            props,
            discovered,
            expect_connection=expect_connection,
            apply_hint=hint,
        ).to_results()

    def _counts_check(self, ctx: StepContext, node: Node) -> list[CheckResult]:
        sync = self._sync_step(ctx, node.target_sync)
        spec = sync.counts
        if isinstance(node.step, CheckStep) and node.step.counts is not None:
            spec = node.step.counts  # type: ignore[assignment]
        conn = self.rt.connection(sync.connection)
        ledger = self.rt.store().ledger
        entry = ledger.last_succeeded(sync_run_key(conn.connection_id, ctx.partition))
        job_id = entry.job_id if entry is not None else self._last_succeeded_job(conn)
        if job_id is None:
            return [
                CheckResult(
                    name=node.name,
                    kind="counts",
                    passed=False,
                    severity="error",
                    message=f"no succeeded sync of {conn.name!r} to reconcile",
                    details={},
                )
            ]
        details = self.rt.client().get_job_details(job_id)
        if details is None:
            return [
                CheckResult(
                    name=node.name,
                    kind="counts",
                    passed=True,
                    severity="warning",
                    message="per-stream counts need Airbyte's config API; skipped",
                    details={"job_id": job_id},
                )
            ]
        live = self._live_connection(conn)
        tables = {
            s.name: (spec.tables.get(s.name) if spec else None) or f"{conn.prefix or ''}{s.name}"
            for s in conn.streams
        }
        tolerance = spec.tolerance if spec is not None and spec.tolerance is not None else 0
        return reconcile_sync_counts(
            details,
            live,
            self.rt.warehouse_url(spec.warehouse if spec else None),
            tables,
            sync_id=job_id,
            tolerance=_tolerance_value(tolerance),
            on_lost_records=spec.on_lost_records if spec is not None else "fail",
        )

    def _live_connection(self, conn: Connection) -> Connection:
        """The connection's stream modes and keys as Airbyte has them now (one GET)."""
        try:
            return self.rt.client().get_connection(conn.connection_id)
        except AirbyteError:
            return conn

    def _last_succeeded_job(self, conn: Connection) -> int | None:
        rejected = self.rt.store().ledger.rejected_job_ids(conn.connection_id)
        for job in self.rt.client().list_jobs(
            conn.connection_id, status=JobStatus.SUCCEEDED, max_items=20
        ):
            if job.job_type in DATA_JOB_TYPES and job.job_id not in rejected:
                return job.job_id
        return None

    # transforms --------------------------------------------------------------------------


def reconcile_sync_counts(
    details: JobDetails,
    connection: Connection,
    warehouse_url: str,
    tables: Mapping[str, str],
    *,
    sync_id: int,
    tolerance: int | float | str = 0,
    on_lost_records: LostMode = "fail",
) -> list[CheckResult]:
    """The ``:counts`` check of one sync: lost records on the final attempt, committed
    (Airbyte's counting rules) against the warehouse, and duplicate keys in append modes.

    ``connection`` gives each stream's sync mode and primary key, as Airbyte has them now.
    """
    modes = {s.name: s.sync_mode for s in connection.streams}
    totals = totals_from_details(details, modes)
    committed = {s.name: s.records_committed for s in totals.streams}
    # Duplicate keys matter in append modes; deduped modes keep one row per key.
    keys = {
        s.name: [k[0] for k in s.primary_key]
        for s in connection.streams
        if s.primary_key
        and all(len(k) == 1 for k in s.primary_key)  # top-level columns only
        and (s.sync_mode or "").endswith("_append")
    }
    deduped = {s.name for s in connection.streams if "deduped" in (s.sync_mode or "")}
    return reconcile_counts(
        committed,
        warehouse_url,
        tables,
        tolerance=tolerance,
        mode="sync",
        sync_id=sync_id,
        final_attempt=totals.final_streams if totals.attempts else None,
        on_lost_records=on_lost_records,
        primary_keys=keys,
        deduped=deduped,
    )


def _tolerance_value(tolerance: Any) -> int | float | str:
    if isinstance(tolerance, (int, float, str)):
        return tolerance
    percent = getattr(tolerance, "percent", None)
    if percent is not None:
        return f"{percent}%"
    return int(getattr(tolerance, "rows", 0) or 0)
