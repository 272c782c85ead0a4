"""``last_good_end``: the freshness that decides whether a sync is skipped never counts a
load that ``run --reload`` rejected (else the date would look fresh and never be fixed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from luigi_airbyte.airbyte.models import Connection, Job, JobStatus, JobType
from luigi_airbyte.app.reload import last_good_end

NOW = datetime.now(timezone.utc)
CONN = Connection.from_api({"connectionId": "c1", "name": "CRM", "status": "active"})


def _rt(rejected: set[int], jobs: list[Job], cached: datetime | None) -> Any:
    listed: list[dict[str, Any]] = []

    def list_jobs(connection_id: str, **kw: Any) -> list[Job]:
        listed.append({"connection_id": connection_id, **kw})
        return jobs

    ledger = SimpleNamespace(rejected_job_ids=lambda cid: rejected if cid == "c1" else set())
    return SimpleNamespace(
        store=lambda: SimpleNamespace(ledger=ledger),
        client=lambda: SimpleNamespace(list_jobs=list_jobs),
        last_success_end=lambda conn, window: cached,
        listed=listed,
    )


def _job(job_id: int, ago: timedelta, kind: JobType = JobType.SYNC) -> Job:
    return Job(job_id, JobStatus.SUCCEEDED, kind, "c1", last_updated_at=NOW - ago)


def test_without_rejections_the_runtime_answers() -> None:
    rt = _rt(set(), [], cached=NOW - timedelta(hours=1))
    assert last_good_end(rt, CONN, timedelta(hours=6)) == NOW - timedelta(hours=1)
    assert rt.listed == []  # the run's one workspace listing serves it


def test_a_rejected_load_is_not_fresh_its_refresh_is() -> None:
    bad = _job(2, timedelta(minutes=10))
    rt = _rt({2}, [bad], cached=bad.last_updated_at)
    assert last_good_end(rt, CONN, timedelta(hours=6)) is None  # the date must be reloaded
    refresh = _job(3, timedelta(minutes=1), JobType.REFRESH)
    rt = _rt({2}, [refresh, bad], cached=bad.last_updated_at)
    assert last_good_end(rt, CONN, timedelta(hours=6)) == refresh.last_updated_at
    assert rt.listed[0]["status"] is JobStatus.SUCCEEDED
