"""Is the data recent enough? Freshness from the end of the last succeeded sync.

A sync "ends" at ``last_updated_at`` when Airbyte reports it (that is when the job last
changed state), else at ``start_time + duration``. Resets and clears succeed too but
leave no data behind, so by default only sync and refresh jobs count.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta, timezone

from luigi_airbyte.airbyte.models import Job, JobStatus, JobType
from luigi_airbyte.checks.result import CheckResult, Severity

DATA_JOB_TYPES: frozenset[JobType] = frozenset({JobType.SYNC, JobType.REFRESH})


def _aware(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC (Airbyte's timestamps are UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def job_end(job: Job) -> datetime | None:
    """When a job ended: ``last_updated_at``, else ``start_time + duration``, else None."""
    if job.last_updated_at is not None:
        return _aware(job.last_updated_at)
    if job.start_time is not None and job.duration is not None:
        return _aware(job.start_time) + job.duration
    return None


def last_success_end(
    jobs: Iterable[Job],
    *,
    job_types: Collection[JobType] = DATA_JOB_TYPES,
    exclude: Collection[int] = (),
) -> datetime | None:
    """The latest end of a succeeded job of ``job_types``, or None when there is none.

    ``exclude`` names jobs that do not count: loads rejected by ``run --reload``."""
    ends = [
        end
        for job in jobs
        if job.status is JobStatus.SUCCEEDED
        and job.job_type in job_types
        and job.job_id not in exclude
        if (end := job_end(job)) is not None
    ]
    return max(ends, default=None)


def _human(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    text = "".join(parts)
    return text if text and not secs else f"{text}{secs}s"


def is_fresh(last_success_end: datetime | None, window: timedelta, now: datetime) -> bool:
    """`check_freshness`'s verdict alone (no message, no details): the last success ended
    within ``window`` of ``now``, the boundary included (an end in the future counts)."""
    if window <= timedelta(0):
        raise ValueError("the freshness window must be positive")
    return last_success_end is not None and _aware(now) - _aware(last_success_end) <= window


def check_freshness(
    last_success_end: datetime | None,
    window: timedelta,
    now: datetime | None = None,
    *,
    name: str = "freshness",
    severity: Severity = "error",
) -> CheckResult:
    """Pass when the last success ended within ``window`` of ``now`` (the boundary counts):
    `is_fresh`'s verdict, with the message and details a report shows."""
    now = _aware(now or datetime.now(timezone.utc))
    passed = is_fresh(last_success_end, window, now)
    details: dict[str, object] = {
        "window_s": window.total_seconds(),
        "now": now.isoformat(),
        "last_success_end": None,
    }
    if last_success_end is None:
        return CheckResult(
            name,
            "freshness",
            False,
            severity,
            f"no succeeded sync found; the data is older than the {_human(window)} window or "
            "was never synced. Run the sync, or check the connection in Airbyte.",
            details,
        )
    end = _aware(last_success_end)
    age = now - end
    details.update(last_success_end=end.isoformat(), age_s=age.total_seconds())
    if age < timedelta(0):
        return CheckResult(
            name,
            "freshness",
            True,
            severity,
            f"last success ends {_human(age)} in the future (clock skew?); treated as fresh",
            details,
        )
    if passed:
        return CheckResult(
            name,
            "freshness",
            True,
            severity,
            f"last success ended {_human(age)} ago, within the {_human(window)} window",
            details,
        )
    return CheckResult(
        name,
        "freshness",
        False,
        severity,
        f"last success ended {_human(age)} ago ({end.isoformat()}), outside the "
        f"{_human(window)} window. Run the sync, or widen 'freshness' in the pipeline file.",
        details,
    )
