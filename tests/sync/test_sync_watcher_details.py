"""A push's confirmation carries the ended job's details to its task (issue 10: <= 3
requests per sync with webhooks).

Without it a pushed sync cost Airbyte its ``POST``, the watcher's confirming
``GET /jobs/{id}`` and the task's own ``jobs/get_without_logs`` for its counts. Where the
config API exists, the confirmation is that details request, and its answer travels to
the task, in this process or over the watch channel.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sync_fakes import CONN
from watch_fakes import Listing, job

from luigi_airbyte.airbyte.models import JobDetails, JobStatus
from luigi_airbyte.errors import AirbyteTransportError
from luigi_airbyte.sync import watch_channel
from luigi_airbyte.sync.watch_channel import WatchFeed, WatchServer, socket_path
from luigi_airbyte.sync.watcher import Answer, JobWatcher


def job_info(job_id: int, status: str, records: int = 42, streams: int = 1) -> dict[str, Any]:
    """A config-API ``JobInfoRead`` of one attempt with ``streams`` streams."""
    per_stream = [
        {
            "streamName": f"stream_{i}",
            "stats": {"recordsEmitted": records, "recordsCommitted": records, "bytesEmitted": 10},
        }
        for i in range(streams)
    ]
    return {
        "job": {
            "id": job_id,
            "configType": "sync",
            "configId": CONN,
            "createdAt": 1768478400,
            "updatedAt": 1768478405,
            "status": status,
        },
        "attempts": [
            {
                "attempt": {
                    "id": 0,
                    "status": status,
                    "createdAt": 1768478400,
                    "updatedAt": 1768478405,
                    "totalStats": {
                        "recordsEmitted": records * streams,
                        "recordsCommitted": records * streams,
                    },
                    "streamStats": per_stream,
                }
            }
        ],
    }


def hinted_answer(watcher: JobWatcher, ask: Any) -> Answer | None:
    """Ask about job 1 (due in 30 s: only the hint can answer sooner), then hint it."""
    done: list[Answer | None] = []
    thread = threading.Thread(target=lambda: done.append(ask()))
    thread.start()
    for _ in range(100):
        if watcher.watched():
            break
        threading.Event().wait(0.02)
    watcher.hint(1)
    thread.join(5)
    assert done, "the hint did not wake the task"
    return done[0]


def hinted_over_the_channel(watcher: JobWatcher, tmp_path: Path) -> Answer | None:
    """``hinted_answer``, the task asking through the watch channel's socket."""
    server = WatchServer(watcher, socket_path(tmp_path, "details"))
    try:
        return hinted_answer(watcher, lambda: WatchFeed(server.path).next(job(1), "ws:W", 0, 30))
    finally:
        server.close()


def test_a_hint_is_confirmed_by_the_config_apis_details_which_reach_the_task(
    watcher: JobWatcher, listing: Listing
) -> None:
    listing.jobs = {1: job(1)}
    listing.details = {1: JobDetails.from_api(job_info(1, "succeeded"))}
    answer = hinted_answer(watcher, lambda: watcher.next(job(1), "ws:W", 0, 30.0))
    assert answer is not None and answer.job.status is JobStatus.SUCCEEDED
    assert listing.detail_gets == [1] and listing.gets == []  # one request confirms it
    assert answer.details is not None
    assert answer.details.stats.records_committed == 42


def test_without_a_config_api_a_hint_is_confirmed_with_one_get_and_no_details(
    watcher: JobWatcher, listing: Listing
) -> None:
    listing.jobs = {1: job(1, "succeeded", at=5)}
    answer = hinted_answer(watcher, lambda: watcher.next(job(1), "ws:W", 0, 30.0))
    assert answer is not None and answer.job.status is JobStatus.SUCCEEDED
    assert listing.gets == [1] and listing.detail_gets == []
    assert answer.details is None


def test_details_of_a_job_still_running_are_not_passed_on(
    watcher: JobWatcher, listing: Listing
) -> None:
    # An early push: Airbyte says the job still runs; the task keeps waiting, and its
    # counts must come from the job's real end, not from this look.
    listing.jobs = {1: job(1)}
    listing.details = {1: JobDetails.from_api(job_info(1, "running"))}
    watcher.next(job(1), "ws:W", 0, 0.0, timeout=5)  # watched
    watcher.hint(1)
    answer = watcher.next(job(1), "ws:W", 0, 0.0, timeout=5)
    assert answer is not None and answer.job.status is JobStatus.RUNNING
    assert answer.details is None


def test_the_details_travel_over_the_watch_channel(
    watcher: JobWatcher, listing: Listing, tmp_path: Path
) -> None:
    listing.jobs = {1: job(1)}
    sent = JobDetails.from_api(job_info(1, "succeeded", streams=3))
    listing.details = {1: sent}
    answer = hinted_over_the_channel(watcher, tmp_path)
    assert answer is not None and answer.job.status is JobStatus.SUCCEEDED
    assert answer.details == sent  # the same attempts and per-stream counts
    assert [s.name for s in answer.details.stats.streams] == ["stream_0", "stream_1", "stream_2"]


def test_details_too_large_for_the_channel_are_left_out_and_the_answer_still_comes(
    watcher: JobWatcher, listing: Listing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_channel, "MAX_DETAILS", 2_000)
    listing.jobs = {1: job(1)}
    listing.details = {1: JobDetails.from_api(job_info(1, "succeeded", streams=50))}
    answer = hinted_over_the_channel(watcher, tmp_path)
    assert answer is not None and answer.job.status is JobStatus.SUCCEEDED
    assert answer.details is None  # the task fetches them itself


def test_a_hint_for_a_job_a_listing_already_saw_end_sends_nothing(
    watcher: JobWatcher, listing: Listing
) -> None:
    # The listing told the task first (it fetches its details itself): confirming the push
    # too would read the same job twice.
    listing.jobs = {1: job(1, "succeeded", at=5)}
    listing.details = {1: JobDetails.from_api(job_info(1, "succeeded"))}
    answer = watcher.next(job(1), "ws:W", 0, 0.0, timeout=5)
    assert answer is not None and answer.job.status is JobStatus.SUCCEEDED
    watcher.hint(1)
    assert listing.detail_gets == [] and listing.gets == []


class FailingDetails(Listing):
    """A config API that fails (a 5xx, a reset) while the public API works."""

    def get_job_details(self, job_id: int) -> JobDetails | None:
        self.detail_gets.append(job_id)
        raise AirbyteTransportError("config API: connection reset")


def test_when_the_details_call_fails_a_get_confirms_the_hint() -> None:
    listing = FailingDetails()
    listing.jobs = {1: job(1, "succeeded", at=5)}
    watcher = JobWatcher(listing)  # not started: only the hint can answer
    try:
        watcher._watch(job(1), "ws:W", 0.0)
        watcher.hint(1)
        answer = watcher.next(job(1), "ws:W", 0, 0.0, timeout=1)
    finally:
        watcher.stop()
    assert answer is not None and answer.job.status is JobStatus.SUCCEEDED
    assert listing.detail_gets == [1] and listing.gets == [1]  # the push was not lost
    assert answer.details is None
