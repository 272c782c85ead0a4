"""The watcher lists jobs through the config API, where Airbyte has one: an ended job's
counts come with the listing that finds its end, so its task sends no details call.

Airbyte's public ``GET /jobs`` is the config API's ``jobs/list_for_workspaces`` behind the
scenes; called directly, each job comes with its attempts and stats. A listing never
gives an attempt's committed bytes, and gives the job's ``aggregatedStats`` only while
Airbyte's ``HydrateAggregatedStats`` flag is on (its default): without those the task
fetches its details as before.
"""

from __future__ import annotations

from typing import Any

import pytest
from sync_fakes import CONN
from watch_fakes import Listing, job

from luigi_airbyte.airbyte.models import JobDetails, JobStatus
from luigi_airbyte.errors import AirbyteAPIError, NotFoundError, ServerError
from luigi_airbyte.sync.watcher import JobWatcher


def listed(job_id: int, status: str, *, hydrated: bool = True) -> dict[str, Any]:
    """A ``JobWithAttemptsRead`` as a job listing hydrates it."""
    read: dict[str, Any] = {
        "id": job_id,
        "configType": "sync",
        "configId": CONN,
        "createdAt": 1768478400,
        "updatedAt": 1768478405,
        "status": status,
    }
    if hydrated:
        counts = {"recordsEmitted": 42, "bytesEmitted": 900, "recordsCommitted": 42}
        read["aggregatedStats"] = {**counts, "bytesCommitted": 800, "recordsRejected": 0}
        read["streamAggregatedStats"] = [
            {"streamName": "users", **counts, "bytesCommitted": 800, "recordsRejected": 0}
        ]
    stats = {"recordsEmitted": 42, "bytesEmitted": 900, "recordsCommitted": 42}
    attempt = {
        "id": 0,
        "status": status,
        "createdAt": 1768478400,
        "updatedAt": 1768478405,
        "totalStats": stats,
        "streamStats": [{"streamName": "users", "stats": stats}],
    }
    return {"job": read, "attempts": [attempt]}


def answer_for(watcher: JobWatcher, job_id: int = 1) -> Any:
    return watcher.next(job(job_id), "ws:W", 0, 0.0, timeout=5)


def test_an_ended_jobs_counts_come_with_the_listing_that_finds_its_end(
    watcher: JobWatcher, listing: Listing
) -> None:
    listing.config_listing = True
    listing.jobs = {1: job(1, "succeeded", at=5)}
    listing.details = {1: JobDetails.from_api(listed(1, "succeeded"))}
    answer = answer_for(watcher)
    assert answer is not None and answer.job.status is JobStatus.SUCCEEDED
    assert answer.details is not None
    assert answer.details.stats.bytes_synced == 800 and answer.details.stats.records_committed == 42
    assert listing.lists == []  # the public listing was never needed
    assert listing.detail_lists[0]["workspace_ids"] == ["W"]
    assert listing.detail_gets == [] and listing.gets == []


def test_without_hydrated_job_counts_the_task_fetches_its_own(
    watcher: JobWatcher, listing: Listing
) -> None:
    listing.config_listing = True
    listing.jobs = {1: job(1, "succeeded", at=5)}
    listing.details = {1: JobDetails.from_api(listed(1, "succeeded", hydrated=False))}
    answer = answer_for(watcher)
    assert answer is not None and answer.job.status is JobStatus.SUCCEEDED
    assert answer.details is None  # no committed bytes in it: not passed on
    assert answer.job.bytes_synced is None  # and none made up from the attempts


def test_a_running_jobs_listed_details_are_not_passed_on(
    watcher: JobWatcher, listing: Listing
) -> None:
    listing.config_listing = True
    listing.jobs = {1: job(1, "running", at=5)}
    listing.details = {1: JobDetails.from_api(listed(1, "running"))}
    answer = answer_for(watcher)
    assert answer is not None and answer.job.status is JobStatus.RUNNING
    assert answer.details is None


def test_without_a_config_api_the_public_listing_is_used_and_the_other_not_asked_again(
    watcher: JobWatcher, listing: Listing
) -> None:
    listing.jobs = {1: job(1, "running", at=5)}
    answer_for(watcher)
    listing.jobs = {1: job(1, "succeeded", at=6)}
    answer = watcher.next(job(1), "ws:W", 1, 0.0, timeout=5)
    assert answer is not None and answer.job.status is JobStatus.SUCCEEDED
    assert len(listing.lists) >= 2 and len(listing.detail_lists) == 1


class OldAirbyte(Listing):
    """A config API whose ``jobs/list_for_workspaces`` answers ``error``."""

    def __init__(self, error: AirbyteAPIError) -> None:
        super().__init__()
        self.error = error

    def list_job_details(self, **kwargs: Any) -> list[JobDetails] | None:
        self.detail_lists.append(kwargs)
        raise self.error


def api_error(status: int) -> AirbyteAPIError:
    kind = {404: NotFoundError, 503: ServerError}.get(status, AirbyteAPIError)
    return kind(status_code=status, method="POST", path="/api/v1/jobs/list_for_workspaces")


@pytest.mark.parametrize("status", [404, 422, 200], ids=["absent", "refused", "unreadable"])
def test_an_airbyte_without_a_usable_listing_falls_back_to_the_public_one(status: int) -> None:
    listing = OldAirbyte(api_error(status))
    listing.jobs = {1: job(1, "succeeded", at=5)}
    watcher = JobWatcher(listing).start()
    try:
        answer = answer_for(watcher)
        answer_for(watcher)
    finally:
        watcher.stop()
    assert answer is not None and answer.job.status is JobStatus.SUCCEEDED
    assert len(listing.detail_lists) == 1 and len(listing.lists) >= 1


def test_a_failing_listing_is_retried_not_abandoned() -> None:
    # A 503 is this listing's failure, not the config API's absence: the tasks are told
    # (a failed poll each) and the same listing is tried again.
    listing = OldAirbyte(api_error(503))
    listing.jobs = {1: job(1, "running", at=5)}
    watcher = JobWatcher(listing).start()
    try:
        answer = answer_for(watcher)
        assert answer is not None and answer.error
        listing.error = api_error(404)  # then it turns out to be absent
        later = watcher.next(job(1), "ws:W", answer.version, 0.0, timeout=5)
    finally:
        watcher.stop()
    assert later is not None and not later.error  # served by the public listing
    assert len(listing.detail_lists) >= 2 and listing.lists
