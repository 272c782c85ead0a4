"""Pushes recorded by a shared ``webhook serve`` reach the run's job watcher via the store."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from luigi_airbyte.airbyte.models import Job, JobStatus, JobType
from luigi_airbyte.app.watch_pushes import StoreHints
from luigi_airbyte.store import Store
from luigi_airbyte.sync.watcher import JobWatcher

CONN = "9f3c1c5e-1111-4a5b-9c2d-000000000001"
T0 = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def job(job_id: int, status: str) -> Job:
    return Job(job_id, JobStatus.parse(status), JobType.SYNC, CONN, T0, T0, raw_status=status)


class Airbyte:
    def __init__(self) -> None:
        self.gets: list[int] = []
        self.jobs = {7: job(7, "succeeded")}

    def get_job(self, job_id: int) -> Job:
        self.gets.append(job_id)
        return self.jobs[job_id]

    def get_job_details(self, job_id: int) -> None:
        return None  # no config API

    def list_jobs(self, *args: object, **kwargs: object) -> list[Job]:
        return []


def test_hints_recorded_after_the_start_are_confirmed_once_each(tmp_path: Path) -> None:
    airbyte = Airbyte()
    watcher = JobWatcher(airbyte)  # not started: only hints can move it
    watcher._watch(job(7, "running"), "ws:W", 0.0)
    with Store(f"sqlite:///{tmp_path / 'm.db'}").open() as store:
        store.record_hint(CONN, 6)  # before the run: not this run's business
        follower = StoreHints(store, watcher, interval=0.05).start()
        try:
            store.record_hint(CONN, 7)
            deadline = time.monotonic() + 5
            while not airbyte.gets and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)
        finally:
            follower.stop()
    assert airbyte.gets == [7]  # one confirming GET; job 6 (before the start) ignored
    answer = watcher.next(job(7, "running"), "ws:W", 0, 0.0, timeout=0.1)
    assert answer is not None and answer.job.status is JobStatus.SUCCEEDED


class Broken(Airbyte):
    def get_job_details(self, job_id: int) -> None:
        if job_id == 7:
            raise RuntimeError("a bug in one hint")
        return None


def test_a_hint_that_raises_does_not_stop_the_following(tmp_path: Path) -> None:
    airbyte = Broken()
    airbyte.jobs[8] = job(8, "succeeded")
    watcher = JobWatcher(airbyte)
    watcher._watch(job(7, "running"), "ws:W", 0.0)
    watcher._watch(job(8, "running"), "ws:W", 0.0)
    with Store(f"sqlite:///{tmp_path / 'm.db'}").open() as store:
        follower = StoreHints(store, watcher, interval=0.05).start()
        try:
            store.record_hint(CONN, 7)  # raises inside the watcher
            store.record_hint(CONN, 8)
            deadline = time.monotonic() + 5
            while not airbyte.gets and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            follower.stop()
    assert airbyte.gets == [8]  # the hint after the broken one was still confirmed
