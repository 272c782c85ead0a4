"""Fakes for the host's job watcher: a counted job listing and a job factory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from sync_fakes import CONN

from luigi_airbyte.airbyte.models import Job, JobDetails, JobStats, JobStatus, JobType

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def job(job_id: int, status: str = "running", *, conn: str = CONN, at: int = 0) -> Job:
    return Job(
        job_id=job_id,
        status=JobStatus.parse(status),
        job_type=JobType.SYNC,
        connection_id=conn,
        start_time=T0,
        last_updated_at=T0 + timedelta(seconds=at),
        raw_status=status,
    )


class Listing:
    """Airbyte's job listing, counted; ``boom`` makes it fail unexpectedly. Job details
    (the config API) only for the jobs in ``details``: none means no config API.
    ``config_listing`` adds the config API's job listing (``list_job_details``): each job
    with its entry in ``details``, or with no counts."""

    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.details: dict[int, JobDetails] = {}
        self.lists: list[dict[str, Any]] = []
        self.gets: list[int] = []
        self.detail_gets: list[int] = []
        self.detail_lists: list[dict[str, Any]] = []
        self.config_listing = False
        self.boom = False

    def get_job(self, job_id: int) -> Job:
        self.gets.append(job_id)
        return self.jobs[job_id]

    def get_job_details(self, job_id: int) -> JobDetails | None:
        if not self.details:
            return None  # no config API: no request either
        self.detail_gets.append(job_id)
        return self.details[job_id]

    def list_jobs(self, connection_id: str | None = None, **kwargs: Any) -> Iterator[Job]:
        if self.boom:
            raise RuntimeError("boom")
        self.lists.append({"connection_id": connection_id, **kwargs})
        since = kwargs.get("updated_at_start")
        return iter([j for j in self.jobs.values() if since is None or j.last_updated_at >= since])

    def list_job_details(self, **kwargs: Any) -> list[JobDetails] | None:
        self.detail_lists.append(kwargs)  # asked, whether or not there is a config API
        if not self.config_listing:
            return None
        if self.boom:
            raise RuntimeError("boom")
        since = kwargs.get("updated_at_start")
        return [
            self.details.get(j.job_id) or JobDetails(job=j, stats=JobStats())
            for j in self.jobs.values()
            if since is None or j.last_updated_at >= since
        ]


__all__ = ["T0", "Listing", "job"]
