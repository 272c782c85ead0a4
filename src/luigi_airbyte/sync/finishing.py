"""The end of a wait: the job's totals, the outcome rules, the ledger and the result."""

from __future__ import annotations

import logging

from luigi_airbyte.airbyte.models import Job, JobDetails, JobStatus, JobType
from luigi_airbyte.errors import (
    OutcomeRuleError,
    SyncCancelledError,
    SyncFailedError,
)
from luigi_airbyte.sync.outcome import Totals, Verdict, evaluate_outcome, totals_from_details
from luigi_airbyte.sync.polling import (
    job_duration,
)
from luigi_airbyte.sync.results import (
    REJECTED,
    SyncResult,
)
from luigi_airbyte.sync.wait_state import WaitState

logger = logging.getLogger(__name__)


class Finishing(WaitState):
    """Judges a finished job: failed, cancelled, rejected by a rule, or succeeded."""

    def _finish(self, job: Job) -> SyncResult:
        self.job = job
        details = self._details()
        totals = (
            totals_from_details(
                details,
                self._stream_modes(),
                rows_synced=job.rows_synced,
                bytes_synced=job.bytes_synced,
            )
            if details is not None
            else Totals(
                records_emitted=None,
                records_committed=job.rows_synced,
                bytes_emitted=None,
                bytes_committed=job.bytes_synced,
            )
        )
        run_key = self.att.run_key
        if job.status is JobStatus.FAILED:
            reason = self._failure_reason(details)
            self.journal.record_outcome(
                run_key, job.job_id, "failed", totals.records_committed, totals.bytes_committed
            )
            logger.info("connection %s job %s: failed: %s", self.cid, job.job_id, reason)
            self._emit("sync.failed", level="error", reason=reason)
            raise SyncFailedError(
                f"Airbyte job {job.job_id} on connection {self.cid} failed: {reason}. "
                f"See {self.job_url or 'the Airbyte UI'} for the logs",
                connection_id=self.cid,
                job_id=job.job_id,
            )
        if job.status is JobStatus.CANCELLED:
            self.journal.record_outcome(
                run_key, job.job_id, "cancelled", totals.records_committed, totals.bytes_committed
            )
            logger.info("connection %s job %s: cancelled", self.cid, job.job_id)
            self._emit("sync.cancelled", level="error")
            raise SyncCancelledError(
                f"Airbyte job {job.job_id} on connection {self.cid} was cancelled (in Airbyte, "
                f"by a user or a platform limit); run again to start a new sync. "
                f"See {self.job_url or 'the Airbyte UI'}",
                connection_id=self.cid,
                job_id=job.job_id,
            )
        return self._succeeded(job, totals)

    def _failure_reason(self, details: JobDetails | None) -> str:
        if details is None:
            return "Airbyte gave no failure reason (job details are unavailable here)"
        if details.failure_reason:
            return details.failure_reason
        for attempt in reversed(details.stats.attempts):
            if attempt.failure_message:
                origin = f" ({attempt.failure_origin})" if attempt.failure_origin else ""
                return f"{attempt.failure_message}{origin}"
        return "Airbyte gave no failure reason"

    def _history_rows(self) -> list[int]:
        history = (
            self._history if self._history is not None else self.journal.load_history(self.att)
        )
        self._history = history
        rows = [
            j.rows_synced
            for j in history
            if j.status is JobStatus.SUCCEEDED and j.rows_synced is not None
        ]
        return rows[: self.settings.history_size]

    def _verdict(self, totals: Totals) -> Verdict:
        """The outcome rules, for the job types that move data (syncs and refreshes)."""
        if self.att.job_type not in (JobType.SYNC, JobType.REFRESH):
            return Verdict()
        return evaluate_outcome(
            totals,
            self._history_rows(),
            zero_rows=self.settings.zero_rows,
            drop_threshold=self.settings.drop_threshold,
            on_drop=self.settings.on_drop,
        )

    def _succeeded(self, job: Job, totals: Totals) -> SyncResult:
        verdict = self._verdict(totals)
        run_key = self.att.run_key
        rows, bytes_ = totals.records_committed, totals.bytes_committed
        for warning in verdict.warnings:
            logger.warning("connection %s job %s: %s", self.cid, job.job_id, warning)
            self._emit("sync.outcome_warning", level="warning", message=warning)
        if verdict.failures:
            self.journal.record_outcome(run_key, job.job_id, REJECTED, rows, bytes_)
            message = "; ".join(verdict.failures)
            logger.info("connection %s job %s: outcome rejected: %s", self.cid, job.job_id, message)
            self._emit("sync.rejected", level="error", reasons=list(verdict.failures), rows=rows)
            raise OutcomeRuleError(
                f"Airbyte job {job.job_id} on connection {self.cid} succeeded, but {message}",
                connection_id=self.cid,
                job_id=job.job_id,
            )
        self.journal.record_outcome(run_key, job.job_id, JobStatus.SUCCEEDED.value, rows, bytes_)
        duration = job_duration(job)
        if duration is None:
            duration = self._elapsed()
        logger.info(
            "connection %s job %s: succeeded (%s rows, %s bytes, %.0fs)",
            self.cid,
            job.job_id,
            "?" if rows is None else rows,
            "?" if bytes_ is None else bytes_,
            duration,
        )
        self._emit(
            "sync.succeeded",
            rows_committed=rows,
            bytes_committed=bytes_,
            duration_s=duration,
            queued_s=self.queued_s,
            replaced_job_ids=list(self.replaced),
            attempts=totals.attempts,
            warnings=list(verdict.warnings),
            streams={s.name: s.records_committed for s in totals.streams},
        )
        self._maybe_progress(self.clock.monotonic(), force=True)
        return self._result(job, totals, verdict, duration)

    def _result(self, job: Job, totals: Totals, verdict: Verdict, duration: float) -> SyncResult:
        rows, bytes_ = totals.records_committed, totals.bytes_committed
        return SyncResult(
            job=job,
            connection_id=self.cid,
            run_key=self.att.run_key,
            status=job.status,
            rows_committed=rows,
            bytes_committed=bytes_,
            streams=totals.streams,
            attempts=totals.attempts,
            duration_s=duration,
            attached_how=self.att.how,
            warnings=verdict.warnings,
            job_url=self.job_url,
            job_type=self.att.job_type,
            records_emitted=totals.records_emitted,
            queued_s=self.queued_s,
            replaced_job_ids=tuple(self.replaced),
        )
