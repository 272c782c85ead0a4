"""Freshness from the last succeeded sync's end, and its edge cases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from luigi_airbyte.airbyte.models import Job, JobStatus, JobType
from luigi_airbyte.checks import check_freshness, job_end, last_success_end
from luigi_airbyte.checks.freshness import is_fresh

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
SIX_H = timedelta(hours=6)


def job(
    job_id: int,
    status: JobStatus = JobStatus.SUCCEEDED,
    job_type: JobType = JobType.SYNC,
    **kw: object,
) -> Job:
    return Job(job_id, status, job_type, "conn-1", **kw)  # type: ignore[arg-type]


def test_fresh_within_window() -> None:
    result = check_freshness(NOW - timedelta(hours=2), SIX_H, NOW)
    assert result.passed and result.kind == "freshness"
    assert "2h ago" in result.message
    assert result.details["age_s"] == 7200


def test_boundary_is_fresh_and_one_second_more_is_stale() -> None:
    assert check_freshness(NOW - SIX_H, SIX_H, NOW).passed
    stale = check_freshness(NOW - SIX_H - timedelta(seconds=1), SIX_H, NOW)
    assert not stale.passed
    assert "6h1s ago" in stale.message and "freshness" in stale.message


def test_never_synced() -> None:
    result = check_freshness(None, SIX_H, NOW, name="freshness:crm", severity="warning")
    assert not result.passed and result.severity == "warning" and result.name == "freshness:crm"
    assert "no succeeded sync" in result.message


def test_future_end_is_treated_as_fresh_clock_skew() -> None:
    result = check_freshness(NOW + timedelta(minutes=3), SIX_H, NOW)
    assert result.passed and "clock skew" in result.message


def test_naive_datetimes_are_utc() -> None:
    assert check_freshness(datetime(2026, 5, 1, 7, 0), SIX_H, datetime(2026, 5, 1, 12, 0)).passed
    other_zone = datetime(2026, 5, 1, 13, 0, tzinfo=timezone(timedelta(hours=2)))  # 11:00 UTC
    assert check_freshness(other_zone, timedelta(hours=1), NOW).passed


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        check_freshness(NOW, timedelta(0), NOW)


def test_job_end_prefers_last_updated_at() -> None:
    start = NOW - timedelta(hours=3)
    assert (
        job_end(job(1, start_time=start, duration=timedelta(hours=1), last_updated_at=NOW)) == NOW
    )
    assert job_end(job(2, start_time=start, duration=timedelta(hours=1))) == start + timedelta(
        hours=1
    )
    assert job_end(job(3, start_time=start)) is None


def test_last_success_end_ignores_failures_resets_and_unknown_ends() -> None:
    jobs = [
        job(1, last_updated_at=NOW - timedelta(hours=10)),
        job(2, start_time=NOW - timedelta(hours=5), duration=timedelta(minutes=30)),
        job(3, JobStatus.FAILED, last_updated_at=NOW - timedelta(hours=1)),
        job(4, JobStatus.SUCCEEDED, JobType.RESET, last_updated_at=NOW - timedelta(minutes=5)),
        job(5, JobStatus.SUCCEEDED, JobType.CLEAR, last_updated_at=NOW - timedelta(minutes=4)),
        job(6, start_time=NOW),  # no end known
    ]
    assert last_success_end(jobs) == NOW - timedelta(hours=4, minutes=30)
    assert last_success_end(jobs[2:3]) is None
    assert last_success_end([]) is None
    refresh = job(7, JobStatus.SUCCEEDED, JobType.REFRESH, last_updated_at=NOW)
    assert last_success_end([*jobs, refresh]) == NOW


def test_a_rejected_load_does_not_count_as_fresh() -> None:
    """``run --reload`` rejected job 8's load: only the refresh (or an older sync) counts."""
    older = job(1, last_updated_at=NOW - timedelta(hours=10))
    rejected = job(8, last_updated_at=NOW - timedelta(minutes=10))
    assert last_success_end([older, rejected]) == NOW - timedelta(minutes=10)
    assert last_success_end([older, rejected], exclude={8}) == NOW - timedelta(hours=10)
    assert last_success_end([rejected], exclude={8}) is None


@pytest.mark.parametrize(
    ("end", "window"),
    [
        (None, timedelta(hours=6)),
        (datetime(2026, 1, 15, 6, 0, tzinfo=timezone.utc), timedelta(hours=6)),  # boundary
        (datetime(2026, 1, 15, 5, 59, 59, tzinfo=timezone.utc), timedelta(hours=6)),
        (datetime(2026, 1, 15, 11, 0, tzinfo=timezone.utc), timedelta(minutes=1)),
        (datetime(2026, 1, 15, 13, 0, tzinfo=timezone.utc), timedelta(minutes=1)),  # future
        (datetime(2026, 1, 15, 11, 59), timedelta(minutes=5)),  # naive: UTC
    ],
)
def test_is_fresh_is_the_checks_verdict(end: datetime | None, window: timedelta) -> None:
    """A run's scheduling pass asks `is_fresh` (no message built per sync): same answer."""
    now = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
    assert is_fresh(end, window, now) is check_freshness(end, window, now).passed


def test_is_fresh_refuses_a_window_that_is_not_positive() -> None:
    now = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="positive"):
        is_fresh(now, timedelta(0), now)
