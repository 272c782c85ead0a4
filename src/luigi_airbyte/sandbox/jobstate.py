"""Jobs and attempts as the sandbox stores them, and their Airbyte JSON shapes.

Kept apart from the engine so the wire shapes (JobResponse, JobRead, AttemptRead) are plain
functions of stored state, easy to read against the spec, and the stored form round-trips
through JSON for the state file.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
ACTIVE = frozenset({"pending", "queued", "running", "incomplete"})
JOB_TYPES = ("sync", "reset", "clear", "refresh")
CONFIG_TYPES = {"sync": "sync", "reset": "reset_connection", "clear": "clear", "refresh": "refresh"}
PUBLIC_TYPES = {v: k for k, v in CONFIG_TYPES.items()}


class EngineStopped(Exception):
    """The engine is closing; leave the job as it is so a restart resumes it."""


class JobCancelled(Exception):
    """The job was cancelled while an attempt ran."""


class AttemptFailed(Exception):
    def __init__(self, failure: dict[str, Any]) -> None:
        super().__init__(failure.get("externalMessage", "attempt failed"))
        self.failure = failure


def failure_reason(
    origin: str,
    ftype: str,
    external: str,
    internal: str | None = None,
    retryable: bool = True,
    *,
    stacktrace: str | None = None,
) -> dict[str, Any]:
    """An Airbyte FailureReason (the shape of attempt.failureSummary.failures[])."""
    out: dict[str, Any] = {
        "failureOrigin": origin,
        "failureType": ftype,
        "externalMessage": external,
        "internalMessage": internal or external,
        "retryable": retryable,
        "timestamp": int(time.time() * 1000),
    }
    if stacktrace:
        out["stacktrace"] = stacktrace
    return out


_AGGREGATED_KEYS = frozenset(
    {"recordsEmitted", "bytesEmitted", "recordsCommitted", "bytesCommitted", "recordsRejected"}
)


@dataclass
class StreamCounters:
    emitted: int = 0
    bytes_emitted: int = 0
    committed: int = 0
    bytes_committed: int = 0
    rejected: int = 0
    state_messages: int = 0
    estimated_records: int = 0  # a real connector's TRACE ESTIMATE (0: none sent)
    estimated_bytes: int = 0

    def add(self, other: StreamCounters) -> None:
        self.emitted += other.emitted
        self.bytes_emitted += other.bytes_emitted
        self.committed += other.committed
        self.bytes_committed += other.bytes_committed
        self.rejected += other.rejected
        self.state_messages += other.state_messages
        self.estimated_records = max(self.estimated_records, other.estimated_records)
        self.estimated_bytes = max(self.estimated_bytes, other.estimated_bytes)

    def attempt_stats(self) -> dict[str, Any]:
        """AttemptStats."""
        return {
            "recordsEmitted": self.emitted,
            "bytesEmitted": self.bytes_emitted,
            "stateMessagesEmitted": self.state_messages,
            "recordsCommitted": self.committed,
            "bytesCommitted": self.bytes_committed,
            "recordsRejected": self.rejected,
        } | (
            {"estimatedRecords": self.estimated_records, "estimatedBytes": self.estimated_bytes}
            if self.estimated_records or self.estimated_bytes
            else {}
        )

    def aggregated(self) -> dict[str, Any]:
        """JobAggregatedStats (all fields required): AttemptStats' record and byte counts."""
        return {k: v for k, v in self.attempt_stats().items() if k in _AGGREGATED_KEYS}


@dataclass
class Attempt:
    number: int
    status: str  # running | failed | succeeded
    created_at: float
    updated_at: float
    ended_at: float | None = None
    streams: dict[str, StreamCounters] = field(default_factory=dict)
    failure: dict[str, Any] | None = None
    logs: list[str] = field(default_factory=list)

    def totals(self) -> StreamCounters:
        total = StreamCounters()
        for c in self.streams.values():
            total.add(c)
        return total

    def fail(self, now: float, failure: dict[str, Any], log: str | None = None) -> None:
        """End the attempt as failed with this FailureReason (and a line in its log)."""
        self.status = "failed"
        self.ended_at = self.updated_at = now
        self.failure = failure
        if log is not None:
            self.logs.append(log)


@dataclass
class StreamPlan:
    """What a job does to one stream, fixed when its first attempt starts."""

    name: str
    table: str
    schema: str | None
    sync_mode: str
    cursor_field: str | None  # set only for incremental reads
    primary_key: list[str]
    generation: int = 0
    epoch: int | None = None
    cursor_start: dict[str, Any] | None = None
    position: int = 0  # records of this job's read already checkpointed


@dataclass
class Job:
    id: int
    connection_id: str
    job_type: str  # public JobTypeEnum value
    status: str
    created_at: float
    updated_at: float
    started_at: float | None = None
    terminal_at: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    streams: list[StreamPlan] = field(default_factory=list)
    enabled_streams: list[str] = field(default_factory=list)
    planned: bool = False
    cancel_requested: bool = False
    replaces: int | None = None  # the queued job this scheduled job replaced
    refresh_mode: str | None = None  # a refresh's RefreshMode: Truncate or Merge

    @property
    def config_type(self) -> str:
        return CONFIG_TYPES[self.job_type]

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def full_refresh(self, stream: str) -> bool:
        """Whether Airbyte counts this stream by its final attempt (full-refresh modes)."""
        for p in self.streams:
            if p.name == stream:
                return p.sync_mode.startswith("full_refresh")
        return self.job_type != "sync"

    def stream_totals(self) -> dict[str, StreamCounters]:
        """Per stream by Airbyte's rules: a full-refresh stream counts its final attempt
        only; an incremental stream sums every attempt (StatsAggregationHelper)."""
        out: dict[str, StreamCounters] = {name: StreamCounters() for name in self.enabled_streams}
        names = list(out)
        for a in self.attempts:
            names.extend(n for n in a.streams if n not in out and n not in names)
        for name in names:
            total = StreamCounters()
            attempts = self.attempts[-1:] if self.full_refresh(name) else self.attempts
            for a in attempts:
                if name in a.streams:
                    total.add(a.streams[name])
            out[name] = total
        return out

    def totals(self) -> StreamCounters:
        """Job totals: the sum of ``stream_totals`` (what ``rowsSynced`` reports)."""
        total = StreamCounters()
        for c in self.stream_totals().values():
            total.add(c)
        return total

    # ---------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        attempts = [
            Attempt(
                **{
                    **a,
                    "streams": {k: StreamCounters(**v) for k, v in a.get("streams", {}).items()},
                }
            )
            for a in d.get("attempts", [])
        ]
        plans = [StreamPlan(**p) for p in d.get("streams", [])]
        return cls(**{**d, "attempts": attempts, "streams": plans})


# --------------------------------------------------------------------------- formatting


def iso(ts: float) -> str:
    """OffsetDateTime.toString() of a whole-second UTC instant, as the server writes it."""
    return datetime.fromtimestamp(int(ts), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def java_duration(seconds: int) -> str:
    """java.time.Duration.ofSeconds(n).toString(): PT0S, PT12S, PT1M5S, PT8H6M12S."""
    if seconds == 0:
        return "PT0S"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return "PT" + "".join(f"{sign}{n}{unit}" for n, unit in ((h, "H"), (m, "M"), (s, "S")) if n)


def job_response(job: Job) -> dict[str, Any]:
    """Public API JobResponse, filled the way JobResponseMapper does."""
    out: dict[str, Any] = {
        "jobId": job.id,
        "status": job.status,
        "jobType": job.job_type,
        "startTime": iso(job.created_at),
        "connectionId": job.connection_id,
    }
    if job.terminal:
        out["lastUpdatedAt"] = iso(job.updated_at)
    if job.status != "pending":
        out["duration"] = java_duration(int(job.updated_at) - int(job.created_at))
    if job.attempts:
        total = job.totals()
        out["bytesSynced"] = total.bytes_committed
        out["rowsSynced"] = total.committed
    return out


def job_read(job: Job) -> dict[str, Any]:
    """Config API JobRead with aggregatedStats and streamAggregatedStats hydrated."""
    out: dict[str, Any] = {
        "id": job.id,
        "configType": job.config_type,
        "configId": job.connection_id,
        "enabledStreams": [{"name": n} for n in job.enabled_streams],
        "createdAt": int(job.created_at),
        "updatedAt": int(job.updated_at),
        "status": job.status,
    }
    if job.started_at is not None:
        out["startedAt"] = int(job.started_at)
    if job.job_type in ("reset", "clear"):
        out["resetConfig"] = {"streamsToReset": [{"name": n} for n in job.enabled_streams]}
    if job.job_type == "refresh":
        out["refreshConfig"] = {"streamsToRefresh": [{"name": n} for n in job.enabled_streams]}
    if job.attempts:
        out["aggregatedStats"] = job.totals().aggregated()
        out["streamAggregatedStats"] = [
            {
                "streamName": name,
                **c.aggregated(),
                "wasBackfilled": False,
                "wasResumed": len(job.attempts) > 1,
            }
            for name, c in job.stream_totals().items()
        ]
    return out


def attempt_read(attempt: Attempt) -> dict[str, Any]:
    total = attempt.totals()
    out: dict[str, Any] = {
        "id": attempt.number,
        "status": attempt.status,
        "createdAt": int(attempt.created_at),
        "updatedAt": int(attempt.updated_at),
        "bytesSynced": total.bytes_committed,
        "recordsSynced": total.committed,
        "totalStats": total.attempt_stats(),
        "streamStats": [
            {"streamName": name, "stats": c.attempt_stats()} for name, c in attempt.streams.items()
        ],
    }
    if attempt.ended_at is not None:
        out["endedAt"] = int(attempt.ended_at)
    if attempt.failure is not None:
        out["failureSummary"] = {
            "failures": [attempt.failure],
            "partialSuccess": total.committed > 0,
        }
    return out


_LISTED_STATS = ("recordsEmitted", "bytesEmitted", "recordsCommitted", "recordsRejected")


def _listed_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """AttemptStats as a listing hydrates them from persisted stats: no
    ``bytesCommitted`` (nor ``stateMessagesEmitted``), at the attempt or per stream."""
    keys = (*_LISTED_STATS, "estimatedRecords", "estimatedBytes")
    return {k: stats[k] for k in keys if k in stats}


def list_job_read(job: Job, *, hydrate_aggregated: bool = True) -> dict[str, Any]:
    """A JobWithAttemptsRead of ``/v1/jobs/list`` and ``/v1/jobs/list_for_workspaces``.

    Airbyte lists jobs "light" (``listJobsLight``: attempts without their output, so no
    legacy ``recordsSynced``/``bytesSynced``), then hydrates every attempt's
    ``totalStats`` and ``streamStats`` from persisted stats (``StatsAggregationHelper``,
    which sets no ``bytesCommitted``), and the job's ``aggregatedStats`` and
    ``streamAggregatedStats`` only while the ``HydrateAggregatedStats`` flag is on (its
    default).
    """
    read = job_read(job)
    if not hydrate_aggregated:
        read.pop("aggregatedStats", None)
        read.pop("streamAggregatedStats", None)
    attempts = []
    for attempt in job.attempts:
        full = attempt_read(attempt)
        out = {k: full[k] for k in ("id", "status", "createdAt", "updatedAt") if k in full}
        for k in ("endedAt", "failureSummary"):
            if k in full:
                out[k] = full[k]
        out["totalStats"] = _listed_stats(full["totalStats"])
        out["streamStats"] = [
            {"streamName": s["streamName"], "stats": _listed_stats(s["stats"])}
            for s in full["streamStats"]
        ]
        attempts.append(out)
    return {"job": read, "attempts": attempts}


def attempt_info(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt_read(attempt),
        "logType": "formatted",
        "logs": {"logLines": list(attempt.logs)},
    }


def job_info(job: Job) -> dict[str, Any]:
    """JobInfoRead."""
    return {"job": job_read(job), "attempts": [attempt_info(a) for a in job.attempts]}
