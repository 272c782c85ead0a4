"""What a job moved, per attempt and per stream, as Airbyte's config API reports it.

``AttemptInfo`` and ``JobStats`` are read from ``JobInfoRead`` (``jobs/get``,
``jobs/get_without_logs``) and from the ``JobWithAttemptsRead`` of a job listing. The two
differ: a listing hydrates attempt stats from persisted stats and never sets their
committed bytes, so ``AttemptInfo.bytes_reported`` says whether they were given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from luigi_airbyte.airbyte._values import _int_or_none, parse_datetime


@dataclass(frozen=True, slots=True)
class StreamStats:
    """Record and byte counts for one stream (of one attempt, or summed over a job)."""

    name: str
    namespace: str | None = None
    records_emitted: int = 0
    records_committed: int = 0
    bytes_emitted: int = 0
    bytes_committed: int = 0
    records_rejected: int = 0
    records_filtered_out: int = 0

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> StreamStats:
        """Accept both the flat ``StreamStats`` and the nested ``AttemptStreamStats`` shapes.

        Records a mapper filtered out are read from ``recordsFilteredOut`` or from
        ``additionalStats.recordsFilteredOut`` (``AttemptStats.additionalStats``).
        """
        stats = data.get("stats") if isinstance(data.get("stats"), Mapping) else data
        assert isinstance(stats, Mapping)
        extra = stats.get("additionalStats")
        filtered = _int_or_none(stats.get("recordsFilteredOut"))
        if filtered is None and isinstance(extra, Mapping):
            filtered = _int_or_none(extra.get("recordsFilteredOut"))
        return cls(
            name=str(data.get("streamName", "")),
            namespace=data.get("streamNamespace"),
            records_emitted=_int_or_none(stats.get("recordsEmitted")) or 0,
            records_committed=_int_or_none(stats.get("recordsCommitted")) or 0,
            bytes_emitted=_int_or_none(stats.get("bytesEmitted")) or 0,
            bytes_committed=_int_or_none(stats.get("bytesCommitted")) or 0,
            records_rejected=_int_or_none(stats.get("recordsRejected")) or 0,
            records_filtered_out=filtered or 0,
        )

    @property
    def key(self) -> tuple[str, str | None]:
        """Identity of the stream: (name, namespace)."""
        return (self.name, self.namespace)

    def __add__(self, other: StreamStats) -> StreamStats:
        """Sum the counts of the same stream (e.g. over attempts)."""
        if not isinstance(other, StreamStats):
            return NotImplemented
        return StreamStats(
            name=self.name,
            namespace=self.namespace,
            records_emitted=self.records_emitted + other.records_emitted,
            records_committed=self.records_committed + other.records_committed,
            bytes_emitted=self.bytes_emitted + other.bytes_emitted,
            bytes_committed=self.bytes_committed + other.bytes_committed,
            records_rejected=self.records_rejected + other.records_rejected,
            records_filtered_out=self.records_filtered_out + other.records_filtered_out,
        )


def _sum_streams(groups: Iterable[Iterable[StreamStats]]) -> tuple[StreamStats, ...]:
    """Merge per-stream counts by (name, namespace), keeping first-seen order."""
    merged: dict[tuple[str, str | None], StreamStats] = {}
    for streams in groups:
        for stream in streams:
            known = merged.get(stream.key)
            merged[stream.key] = stream if known is None else known + stream
    return tuple(merged.values())


def _stat(stats: Mapping[str, Any], key: str, streams: tuple[StreamStats, ...], attr: str) -> int:
    """A total from ``totalStats``, or the sum over streams when the server left it out."""
    value = _int_or_none(stats.get(key))
    if value is not None:
        return value
    return sum(int(getattr(s, attr)) for s in streams)


def _bytes_reported(attempt: Mapping[str, Any], totals: Mapping[str, Any], streams: Any) -> bool:
    """Whether an attempt's committed bytes were given: in ``totalStats``, in a stream's
    stats, or (very old servers) as the legacy ``bytesSynced``."""
    if "bytesCommitted" in totals or "bytesSynced" in attempt:
        return True
    for s in streams if isinstance(streams, list) else ():
        stats = s.get("stats") if isinstance(s, Mapping) else None
        if isinstance(stats, Mapping) and "bytesCommitted" in stats:
            return True
    return not totals and not streams


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    """One attempt of a job, from the config API."""

    number: int
    status: str
    records_emitted: int = 0
    records_committed: int = 0
    bytes_emitted: int = 0
    bytes_committed: int = 0
    streams: tuple[StreamStats, ...] = ()
    failure_message: str | None = None
    failure_origin: str | None = None
    failure_type: str | None = None
    created_at: datetime | None = None
    ended_at: datetime | None = None
    records_rejected: int = 0
    #: False when Airbyte gave no committed bytes for this attempt, as a job listing's
    #: hydrated stats never do: ``bytes_committed`` (and each stream's) is then 0, unknown.
    bytes_reported: bool = True

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> AttemptInfo:
        """Parse an ``AttemptRead``, or an ``AttemptInfoRead`` wrapping one.

        Totals come from ``totalStats``; a total the server left out (the hydrate path
        never sets ``bytesCommitted``) is summed from ``streamStats``.
        """
        inner = data.get("attempt")
        attempt: Mapping[str, Any] = inner if isinstance(inner, Mapping) else data
        raw_streams = attempt.get("streamStats") or []
        streams = _sum_streams(
            [[StreamStats.from_api(s) for s in raw_streams if isinstance(s, Mapping)]]
        )
        total = attempt.get("totalStats")
        totals: Mapping[str, Any] = total if isinstance(total, Mapping) else {}
        committed = _stat(totals, "recordsCommitted", streams, "records_committed")
        if not totals and not streams:  # very old servers: legacy counters only
            committed = _int_or_none(attempt.get("recordsSynced")) or 0
        failure_message = failure_origin = failure_type = None
        summary = attempt.get("failureSummary")
        failures = summary.get("failures") if isinstance(summary, Mapping) else None
        if isinstance(failures, list) and failures and isinstance(failures[0], Mapping):
            first = failures[0]
            failure_message = first.get("externalMessage") or first.get("internalMessage")
            failure_origin = first.get("failureOrigin")
            failure_type = first.get("failureType")
        return cls(
            number=_int_or_none(attempt.get("id")) or 0,
            status=str(attempt.get("status", "")),
            records_emitted=_stat(totals, "recordsEmitted", streams, "records_emitted"),
            records_committed=committed,
            bytes_emitted=_stat(totals, "bytesEmitted", streams, "bytes_emitted"),
            bytes_committed=_stat(totals, "bytesCommitted", streams, "bytes_committed"),
            streams=streams,
            failure_message=failure_message,
            failure_origin=failure_origin,
            failure_type=failure_type,
            created_at=parse_datetime(attempt.get("createdAt")),
            ended_at=parse_datetime(attempt.get("endedAt")),
            records_rejected=_stat(totals, "recordsRejected", streams, "records_rejected"),
            bytes_reported=_bytes_reported(attempt, totals, raw_streams),
        )


@dataclass(frozen=True, slots=True)
class JobStats:
    """Totals over every attempt and per stream: what a job really moved."""

    records_emitted: int = 0
    records_committed: int = 0
    bytes_emitted: int = 0
    bytes_committed: int = 0
    records_rejected: int = 0
    streams: tuple[StreamStats, ...] = ()
    attempts: tuple[AttemptInfo, ...] = ()
    #: Airbyte's own job-level committed counts (``aggregatedStats``), None when the
    #: server did not send them: the ceiling for totals computed from the attempts.
    rows_synced: int | None = None
    bytes_synced: int | None = None
    #: True when ``streams`` came from the server's ``streamAggregatedStats`` (already
    #: counted by Airbyte's rules), False when summed here from the attempts.
    streams_from_server: bool = False

    @property
    def attempt_bytes_reported(self) -> bool:
        """Whether every attempt's committed bytes were given (a job listing gives none)."""
        return all(a.bytes_reported for a in self.attempts)

    @classmethod
    def from_api(cls, job: Mapping[str, Any], attempts: Iterable[AttemptInfo]) -> JobStats:
        """Sum a job's counts over ALL attempts (a retried sync commits in several).

        Totals come from ``job.aggregatedStats`` when present, else from the attempts.
        Per-stream counts come from ``job.streamAggregatedStats`` when present, else
        from summing every attempt's ``streamStats``.
        """
        attempts = tuple(attempts)
        raw_streams = job.get("streamAggregatedStats")
        from_server = isinstance(raw_streams, list) and bool(raw_streams)
        if isinstance(raw_streams, list) and raw_streams:
            streams = _sum_streams(
                [[StreamStats.from_api(s) for s in raw_streams if isinstance(s, Mapping)]]
            )
        else:
            streams = _sum_streams(a.streams for a in attempts)
        agg = job.get("aggregatedStats")
        rows_synced = bytes_synced = None
        if isinstance(agg, Mapping):
            rows_synced = _int_or_none(agg.get("recordsCommitted"))
            bytes_synced = _int_or_none(agg.get("bytesCommitted"))
        if isinstance(agg, Mapping):

            def total(key: str, attr: str) -> int:
                value = _int_or_none(agg.get(key))
                return value if value is not None else sum(getattr(a, attr) for a in attempts)

        else:

            def total(key: str, attr: str) -> int:
                return sum(int(getattr(a, attr)) for a in attempts)

        return cls(
            records_emitted=total("recordsEmitted", "records_emitted"),
            records_committed=total("recordsCommitted", "records_committed"),
            bytes_emitted=total("bytesEmitted", "bytes_emitted"),
            bytes_committed=total("bytesCommitted", "bytes_committed"),
            records_rejected=total("recordsRejected", "records_rejected"),
            streams=streams,
            attempts=attempts,
            rows_synced=rows_synced,
            bytes_synced=bytes_synced,
            streams_from_server=from_server,
        )


__all__ = ["AttemptInfo", "JobStats", "StreamStats"]
