"""What the runner hands back: the attached job, progress while waiting, the final result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from luigi_airbyte.airbyte.models import Job, JobStatus, JobType, StreamStats

AttachHow = Literal["ledger", "running", "conflict", "created", "reconciled", "queued"]

#: Ledger statuses besides Airbyte's own: finished, but never to be read as a success.
REJECTED = "rejected"  # Airbyte said succeeded; an outcome rule set to fail rejected the data
LOST = "lost"  # Airbyte no longer knows the ledger's job (404, or 409 "not currently running")
MISSING = LOST  # the former name


@dataclass(frozen=True)
class Attachment:
    """The one Airbyte job that carries a logical sync, and how we came to own it.

    ``how``: ``"ledger"`` (this run key already had it), ``"running"`` (found running on
    the connection), ``"conflict"`` (Airbyte answered 409 and we found the running job),
    ``"created"`` (we posted it), ``"reconciled"`` (the create's answer was lost and we
    found the job by listing), ``"queued"`` (our ``POST /jobs`` was answered with a job
    already queued on the connection: Airbyte's early-returning create since mid-2026).

    ``history`` holds recent finished jobs of the same connection and type (newest first,
    this job excluded) when they were listed on the way; ``None`` means not loaded yet.
    """

    job: Job
    how: AttachHow
    connection_id: str
    run_key: str
    job_type: JobType = JobType.SYNC
    history: tuple[Job, ...] | None = None

    @property
    def job_id(self) -> int:
        return self.job.job_id

    @property
    def finished(self) -> bool:
        """True when the job was already terminal at attach time (``wait`` returns at once)."""
        return self.job.status.is_terminal


@dataclass(frozen=True)
class Progress:
    """A snapshot while waiting, for Luigi's status message, progress bar and tracking URL."""

    connection_id: str
    job_id: int
    status: JobStatus
    elapsed_s: float
    expected_s: float | None
    percent: float | None  # estimate from elapsed vs expected; None without history
    records: int | None  # records emitted so far (config API), None when unknown
    bytes: int | None
    job_url: str
    queued_s: float = 0.0  # time spent queued for capacity, apart from elapsed_s

    @property
    def message(self) -> str:
        """One line for ``set_status_message``."""
        parts = [f"job {self.job_id} {self.status.value}", f"{self.elapsed_s:.0f}s"]
        if self.expected_s is not None:
            parts[-1] += f" of ~{self.expected_s:.0f}s"
        if self.queued_s >= 1:
            parts.append(f"queued {self.queued_s:.0f}s")
        if self.records is not None:
            parts.append(f"{self.records:,} records")
        if self.job_url:
            parts.append(self.job_url)
        return " · ".join(parts)


@dataclass(frozen=True)
class SyncResult:
    """A finished, succeeded job that passed the outcome rules (warnings included).

    ``rows_committed``/``bytes_committed`` follow Airbyte's counting rules when the
    config API gave details (a full-refresh stream's final attempt, an incremental
    stream's sum over attempts, never above ``rowsSynced``), else Airbyte's
    ``rowsSynced``/``bytesSynced``; ``None`` when Airbyte reported no counts.
    ``attempts`` is 0 when unknown.

    ``queued_s`` is the time the job waited queued for capacity (not part of
    ``duration_s``'s running time budget); ``replaced_job_ids`` are queued jobs Airbyte
    cancelled and replaced with this one (oldest first).
    """

    job: Job
    connection_id: str
    run_key: str
    status: JobStatus
    rows_committed: int | None
    bytes_committed: int | None
    streams: tuple[StreamStats, ...]
    attempts: int
    duration_s: float | None
    attached_how: AttachHow
    warnings: tuple[str, ...]
    job_url: str
    job_type: JobType = JobType.SYNC
    records_emitted: int | None = None
    queued_s: float = 0.0
    replaced_job_ids: tuple[int, ...] = ()

    @property
    def job_id(self) -> int:
        return self.job.job_id


ProgressCallback = Callable[[Progress], None]
