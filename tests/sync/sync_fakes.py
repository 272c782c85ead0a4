"""A small scripted Airbyte for SyncRunner tests: jobs, 409s, lost answers, faults, time.

Jobs follow a script on the shared ``FakeClock``: ``[("pending", 1), ("running", 20),
("succeeded", None)]`` holds each status for that many seconds; or, in poll mode, a list
of raw statuses that advances one step per ``get_job``. Payloads go through
``Job.from_api`` so the runner sees exactly what the real client would parse.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from luigi_airbyte.airbyte.models import (
    AttemptInfo,
    Connection,
    Job,
    JobDetails,
    JobStats,
    JobStatus,
    JobType,
    StreamStats,
)
from luigi_airbyte.errors import (
    AirbyteTransportError,
    JobCreateUncertainError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    StateConflictError,
    SyncAlreadyRunningError,
)
from luigi_airbyte.sync.clock import FakeClock

CONN = "11111111-2222-3333-4444-555555555555"  # the connection most tests use

TERMINAL = {"succeeded", "failed", "cancelled"}
Script = Sequence[tuple[Any, float | None]]


def quick_success(seconds: float = 10.0) -> list[tuple[Any, float | None]]:
    return [("pending", 1.0), ("running", max(0.0, seconds - 1.0)), ("succeeded", None)]


@dataclass
class FakeJob:
    job_id: int
    connection_id: str
    job_type: JobType
    created: float  # fake monotonic seconds
    script: list[tuple[Any, float | None]] = field(default_factory=list)
    per_poll: list[Any] | None = None
    poll_index: int = 0
    visible_after: float = 0.0  # seconds after creation before list_jobs shows it
    cancel_at: float | None = None
    rows: int | None = 100
    bytes: int | None = 1000
    emitted: int | None = None
    attempts: tuple[AttemptInfo, ...] = ()
    streams: tuple[StreamStats, ...] = ()
    failure_reason: str | None = None
    by_post: bool = False

    def raw_status(self, now: float) -> Any:
        if self.cancel_at is not None and now >= self.cancel_at:
            return "cancelled"
        if self.per_poll is not None:
            return self.per_poll[min(self.poll_index, len(self.per_poll) - 1)]
        t = now - self.created
        for status, hold in self.script:
            if hold is None or t < hold:
                return status
            t -= hold
        return self.script[-1][0]

    def ended_after(self) -> float | None:
        """Seconds from creation to the terminal status (time mode)."""
        total = 0.0
        for status, hold in self.script:
            if hold is None:
                return total if status in TERMINAL else None
            total += hold
        return None


class FakeAirbyte:
    """Implements ``AirbyteJobsAPI`` in memory.

    Knobs: ``list_lag`` (seconds before a new job is listed), ``create_faults`` (a queue of
    "drop_after_create" / "drop_before_create" / "5xx_after_create" for successive POSTs),
    ``get_error_rate`` / ``list_error_rate`` (seeded transient faults), ``cancel_lag`` and
    ``cancel_takes``, ``details_available``, ``server_skew`` (server wall clock offset).
    """

    def __init__(
        self,
        clock: FakeClock,
        *,
        seed: int = 0,
        script: Callable[[], list[tuple[Any, float | None]]] | None = None,
        list_lag: float = 0.0,
        get_error_rate: float = 0.0,
        list_error_rate: float = 0.0,
        cancel_lag: float = 2.0,
        cancel_takes: bool = True,
        details_available: bool = True,
        server_skew: float = 0.0,
    ) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.script = script or (lambda: quick_success(10.0))
        self.list_lag = list_lag
        self.get_error_rate = get_error_rate
        self.list_error_rate = list_error_rate
        self.cancel_lag = cancel_lag
        self.cancel_takes = cancel_takes
        self.details_available = details_available
        self.server_skew = server_skew
        self.jobs: dict[int, FakeJob] = {}
        self.next_id = 1000
        self.create_faults: list[str] = []
        self.calls: list[str] = []
        self.on_get: Callable[[int, int], None] | None = None  # (job_id, nth get) hook
        self.get_count = 0
        self.cancels: list[int] = []
        self.job_defaults: dict[str, Any] = {}

    # -------------------------------------------------------------- scripting helpers

    def _now(self) -> float:
        return self.clock.monotonic()

    def _wall(self, t: float) -> datetime:
        return self.clock.now() + timedelta(seconds=t - self._now() + self.server_skew)

    def add_job(
        self,
        connection_id: str,
        *,
        script: list[tuple[Any, float | None]] | None = None,
        per_poll: list[Any] | None = None,
        job_type: JobType = JobType.SYNC,
        created: float | None = None,
        by_post: bool = False,
        **kwargs: Any,
    ) -> FakeJob:
        self.next_id += 1
        settings = {**self.job_defaults, **kwargs}
        job = FakeJob(
            job_id=self.next_id,
            connection_id=connection_id,
            job_type=job_type,
            created=self._now() if created is None else created,
            script=list(script if script is not None else self.script()),
            per_poll=per_poll,
            visible_after=settings.pop("visible_after", self.list_lag),
            by_post=by_post,
            **settings,
        )
        self.jobs[job.job_id] = job
        return job

    def add_history(
        self,
        connection_id: str,
        durations: Sequence[float],
        rows: Sequence[int | None] | None = None,
        *,
        job_type: JobType = JobType.SYNC,
    ) -> list[FakeJob]:
        """Finished succeeded jobs in the past, oldest first."""
        out = []
        start = self._now() - 10_000.0
        for i, d in enumerate(durations):
            job = self.add_job(
                connection_id,
                script=[("running", d), ("succeeded", None)],
                job_type=job_type,
                created=start + i * 100.0,
                rows=None if rows is None else rows[i],
            )
            out.append(job)
        return out

    def status_of(self, job_id: int) -> JobStatus:
        return JobStatus.parse(self.jobs[job_id].raw_status(self._now()))

    def created_by_post(self, connection_id: str | None = None) -> list[FakeJob]:
        return [
            j
            for j in self.jobs.values()
            if j.by_post and (connection_id is None or j.connection_id == connection_id)
        ]

    def active_jobs(self, connection_id: str) -> list[FakeJob]:
        now = self._now()
        return [
            j
            for j in self.jobs.values()
            if j.connection_id == connection_id and j.raw_status(now) not in TERMINAL
        ]

    # -------------------------------------------------------------- wire format

    def _payload(self, job: FakeJob) -> dict[str, Any]:
        now = self._now()
        raw = job.raw_status(now)
        data: dict[str, Any] = {
            "jobId": job.job_id,
            "status": raw,
            "jobType": job.job_type.value,
            "connectionId": job.connection_id,
            "startTime": self._wall(job.created).isoformat().replace("+00:00", "Z"),
        }
        if raw in TERMINAL:
            ended = job.ended_after()
            if job.cancel_at is not None and now >= job.cancel_at:
                ended = job.cancel_at - job.created
            if ended is None:
                ended = now - job.created
            data["lastUpdatedAt"] = (
                self._wall(job.created + ended).isoformat().replace("+00:00", "Z")
            )
            data["duration"] = f"PT{round(ended)}S"
            if job.rows is not None:
                data["rowsSynced"] = job.rows
            if job.bytes is not None:
                data["bytesSynced"] = job.bytes
        return data

    def _job(self, job: FakeJob) -> Job:
        return Job.from_api(self._payload(job))

    def _maybe_fail(self, rate: float, method: str, path: str) -> None:
        if rate and self.rng.random() < rate:
            kind = self.rng.randrange(3)
            if kind == 0:
                raise ServerError(status_code=503, method=method, path=path)
            if kind == 1:
                raise RateLimitedError(status_code=429, method=method, path=path)
            raise AirbyteTransportError("connection reset by peer", method=method, path=path)

    # -------------------------------------------------------------- AirbyteJobsAPI

    def get_job(self, job_id: int) -> Job:
        self.calls.append("get_job")
        self.get_count += 1
        if self.on_get is not None:
            self.on_get(job_id, self.get_count)
        self._maybe_fail(self.get_error_rate, "GET", f"/jobs/{job_id}")
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFoundError(status_code=404, method="GET", path=f"/jobs/{job_id}")
        result = self._job(job)
        if job.per_poll is not None:
            job.poll_index += 1
        return result

    def create_job(self, connection_id: str, job_type: JobType = JobType.SYNC) -> Job:
        self.calls.append("create_job")
        fault = self.create_faults.pop(0) if self.create_faults else None
        if fault == "drop_before_create":
            raise JobCreateUncertainError("read timeout", method="POST", path="/jobs")
        if self.active_jobs(connection_id):
            raise SyncAlreadyRunningError(
                status_code=409,
                method="POST",
                path="/jobs",
                server_message=f"A sync is already running for: {connection_id}",
                problem_type="try-again-later",
            )
        job = self.add_job(connection_id, job_type=job_type, by_post=True)
        if fault == "drop_after_create":
            raise JobCreateUncertainError("connection reset", method="POST", path="/jobs")
        if fault == "5xx_after_create":
            raise ServerError(status_code=502, method="POST", path="/jobs")
        return self._job(job)

    def cancel_job(self, job_id: int) -> Job:
        self.calls.append("cancel_job")
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFoundError(status_code=404, method="DELETE", path=f"/jobs/{job_id}")
        if job.raw_status(self._now()) in TERMINAL:
            raise StateConflictError(
                status_code=409,
                method="DELETE",
                path=f"/jobs/{job_id}",
                server_message="Job is not currently running",
                problem_type="state-conflict",
            )
        self.cancels.append(job_id)
        if self.cancel_takes and job.cancel_at is None:
            job.cancel_at = self._now() + self.cancel_lag
        return self._job(job)

    def list_jobs(
        self,
        connection_id: str | None = None,
        *,
        job_type: JobType | None = None,
        status: JobStatus | None = None,
        created_at_start: datetime | None = None,
        created_at_end: datetime | None = None,
        order_by: str = "createdAt|DESC",
        page_size: int = 100,
        max_items: int | None = None,
    ) -> Iterator[Job]:
        self.calls.append("list_jobs")
        self._maybe_fail(self.list_error_rate, "GET", "/jobs")
        now = self._now()
        selected = []
        for job in self.jobs.values():
            if now < job.created + job.visible_after:
                continue
            if connection_id is not None and job.connection_id != connection_id:
                continue
            if job_type is not None and job.job_type is not job_type:
                continue
            if status is not None and JobStatus.parse(job.raw_status(now)) is not status:
                continue
            created_wall = self._wall(job.created)
            if created_at_start is not None and created_wall < created_at_start:
                continue
            if created_at_end is not None and created_wall > created_at_end:
                continue
            selected.append(job)
        selected.sort(key=lambda j: j.created, reverse=order_by.endswith("DESC"))
        if max_items is not None:
            selected = selected[:max_items]
        return iter([self._job(j) for j in selected])

    def get_job_details(self, job_id: int) -> JobDetails | None:
        self.calls.append("get_job_details")
        if not self.details_available:
            return None
        job = self.jobs[job_id]
        committed = job.rows or 0
        emitted = job.emitted if job.emitted is not None else committed
        stats = JobStats(
            records_emitted=emitted,
            records_committed=committed,
            bytes_emitted=job.bytes or 0,
            bytes_committed=job.bytes or 0,
            streams=job.streams,
            attempts=job.attempts,
        )
        return JobDetails(job=self._job(job), stats=stats, failure_reason=job.failure_reason)

    def job_url(self, job: Job, connection: Connection | None = None) -> str:
        return f"http://airbyte.test/connections/{job.connection_id}/job-history#{job.job_id}"
