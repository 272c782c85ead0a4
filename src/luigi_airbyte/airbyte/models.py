"""Typed, frozen views of Airbyte's payloads, parsed once at the client boundary.

Parsing is tolerant on purpose: Airbyte adds enum values (``queued`` arrived in 2026)
and the SDKs that used closed enums crashed. An unknown value becomes ``UNKNOWN`` with
a warning, and the raw string is kept so nothing is lost.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, ClassVar, Literal, TypeVar

logger = logging.getLogger(__name__)


_E = TypeVar("_E", bound=Enum)


def _parse_member(cls: type[_E], value: object, unknown_warning: str | None = None) -> _E:
    """The member whose value is ``value`` in lower case; ``UNKNOWN`` for anything else,
    logging ``unknown_warning`` (``%r``: the value) when one is given."""
    if isinstance(value, str):
        try:
            return cls(value.lower())
        except ValueError:
            pass
    if unknown_warning is not None:
        logger.warning(unknown_warning, value)
    return cls("unknown")


class JobStatus(str, Enum):
    """Airbyte job status. Only SUCCEEDED, FAILED and CANCELLED are terminal."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    INCOMPLETE = "incomplete"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @classmethod
    def parse(cls, value: object) -> JobStatus:
        """Map a wire value to a status; anything unrecognised is UNKNOWN (never an error)."""
        return _parse_member(
            cls, value, "unknown Airbyte job status %r; treating it as not terminal"
        )


_TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class JobType(str, Enum):
    """Job types accepted by ``POST /jobs``."""

    SYNC = "sync"
    RESET = "reset"
    REFRESH = "refresh"
    CLEAR = "clear"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> JobType:
        if isinstance(value, str) and value.lower() == "reset_connection":
            return cls.RESET
        return _parse_member(cls, value)


#: How a refresh treats the rows already in the destination (config API ``RefreshMode``):
#: ``Truncate`` removes them first, ``Merge`` keeps them and merges the re-read in.
RefreshMode = Literal["Truncate", "Merge"]


class ConnectionStatus(str, Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DEPRECATED = "deprecated"
    LOCKED = "locked"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> ConnectionStatus:
        return _parse_member(cls, value, "unknown Airbyte connection status %r")


def parse_datetime(value: object) -> datetime | None:
    """Parse ISO-8601 (``...Z``) or epoch seconds into an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if seconds > 1e11:  # epoch milliseconds
            seconds /= 1000.0
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: object) -> timedelta | None:
    """Parse an ISO-8601 duration such as ``PT8H6M12S``."""
    if not isinstance(value, str):
        return None
    m = _DURATION.match(value.strip())
    if not m:
        return None
    parts = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _str_tuple(value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return ()


@dataclass(frozen=True, slots=True)
class Job:
    """A job as the public API reports it (``JobResponse``)."""

    job_id: int
    status: JobStatus
    job_type: JobType
    connection_id: str
    start_time: datetime | None = None
    last_updated_at: datetime | None = None
    duration: timedelta | None = None
    bytes_synced: int | None = None
    rows_synced: int | None = None
    raw_status: str = ""

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Job:
        raw_status = data.get("status")
        return cls(
            job_id=int(data["jobId"]),
            status=JobStatus.parse(raw_status),
            job_type=JobType.parse(data.get("jobType")),
            connection_id=str(data.get("connectionId", "")),
            start_time=parse_datetime(data.get("startTime")),
            last_updated_at=parse_datetime(data.get("lastUpdatedAt")),
            duration=parse_duration(data.get("duration")),
            bytes_synced=_int_or_none(data.get("bytesSynced")),
            rows_synced=_int_or_none(data.get("rowsSynced")),
            raw_status=str(raw_status),
        )

    @classmethod
    def from_config_api(cls, data: Mapping[str, Any], *, totals: JobStats | None = None) -> Job:
        """Parse a config-API ``JobRead`` (epoch-second times, ``configType``, ``configId``).

        Fills what the public API would report: ``lastUpdatedAt`` only for terminal
        jobs, ``duration`` unless pending, committed counts from ``aggregatedStats``
        (or from ``totals`` when the server did not hydrate them).
        """
        raw_status = data.get("status")
        status = JobStatus.parse(raw_status)
        created = parse_datetime(data.get("createdAt"))
        updated = parse_datetime(data.get("updatedAt"))
        duration = None
        if created and updated and status is not JobStatus.PENDING:
            duration = timedelta(seconds=max(0, int((updated - created).total_seconds())))
        agg = data.get("aggregatedStats")
        rows = bytes_ = None
        if isinstance(agg, Mapping):
            rows = _int_or_none(agg.get("recordsCommitted"))
            bytes_ = _int_or_none(agg.get("bytesCommitted"))
        if totals is not None and totals.attempts:
            rows = totals.records_committed if rows is None else rows
            bytes_ = totals.bytes_committed if bytes_ is None else bytes_
        return cls(
            job_id=int(data["id"]),
            status=status,
            job_type=JobType.parse(data.get("configType")),
            connection_id=str(data.get("configId", "")),
            start_time=created,
            last_updated_at=updated if status.is_terminal else None,
            duration=duration,
            bytes_synced=bytes_,
            rows_synced=rows,
            raw_status=str(raw_status),
        )


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


@dataclass(frozen=True, slots=True)
class JobDetails:
    """A job with attempts and per-stream stats (config API ``jobs/get``); Cloud lacks it.

    ``raw`` is Airbyte's ``JobInfoRead`` as received: the host's job watcher passes it on
    to the waiting task, which reads it back with ``from_api`` (``sync/watch_channel.py``).
    """

    job: Job
    stats: JobStats
    failure_reason: str | None = None
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> JobDetails:
        """Parse a config-API ``JobInfoRead`` (or ``JobWithAttemptsRead``).

        The failure reason is the first failure of the last failed attempt: what the
        Airbyte UI shows.
        """
        raw_job = data.get("job")
        if not isinstance(raw_job, Mapping):
            raise ValueError("JobInfoRead without a job object")
        raw_attempts = data.get("attempts") or []
        attempts = tuple(AttemptInfo.from_api(a) for a in raw_attempts if isinstance(a, Mapping))
        stats = JobStats.from_api(raw_job, attempts)
        failure = None
        for attempt in reversed(attempts):
            if attempt.status.lower() == "failed" and attempt.failure_message:
                failure = attempt.failure_message
                break
        return cls(
            job=Job.from_config_api(raw_job, totals=stats),
            stats=stats,
            failure_reason=failure,
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """How one selected stream of a connection is synced."""

    name: str
    namespace: str | None = None
    sync_mode: str | None = None
    cursor_field: tuple[str, ...] = ()
    primary_key: tuple[tuple[str, ...], ...] = ()
    selected_fields: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> StreamConfig:
        pk = data.get("primaryKey") or []
        fields = data.get("selectedFields") or []
        return cls(
            name=str(data.get("name", "")),
            namespace=data.get("namespace"),
            sync_mode=data.get("syncMode"),
            cursor_field=_str_tuple(data.get("cursorField")),
            primary_key=tuple(_str_tuple(k) for k in pk if isinstance(k, list)),
            selected_fields=tuple(
                _str_tuple(f.get("fieldPath")) for f in fields if isinstance(f, Mapping)
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionSettings:
    """A connection's settings in Airbyte (schedule, namespace, schema changes).

    What ``Connection`` reads back from Airbyte and what a drift check's
    ``ExpectedConnection`` expects (``None`` there: not checked).
    """

    schedule_type: str | None = None
    cron_expression: str | None = None
    namespace_definition: str | None = None
    namespace_format: str | None = None
    prefix: str | None = None
    non_breaking_schema_updates_behavior: str | None = None


@dataclass(frozen=True, slots=True)
class Connection(ConnectionSettings):
    """A connection (``ConnectionResponse``); its settings are keyword-only."""

    connection_id: str
    name: str
    source_id: str
    destination_id: str
    workspace_id: str
    status: ConnectionStatus
    streams: tuple[StreamConfig, ...] = ()
    created_at: datetime | None = None
    status_reason: str | None = None
    tags: tuple[str, ...] = ()  # tag names

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Connection:
        schedule = data.get("schedule") or {}
        configurations = data.get("configurations") or {}
        streams = configurations.get("streams") or []
        return cls(
            connection_id=str(data["connectionId"]),
            name=str(data.get("name", "")),
            source_id=str(data.get("sourceId", "")),
            destination_id=str(data.get("destinationId", "")),
            workspace_id=str(data.get("workspaceId", "")),
            status=ConnectionStatus.parse(data.get("status")),
            streams=tuple(StreamConfig.from_api(s) for s in streams if isinstance(s, Mapping)),
            schedule_type=schedule.get("scheduleType"),
            cron_expression=schedule.get("cronExpression"),
            namespace_definition=data.get("namespaceDefinition"),
            namespace_format=data.get("namespaceFormat"),
            prefix=data.get("prefix"),
            non_breaking_schema_updates_behavior=data.get("nonBreakingSchemaUpdatesBehavior"),
            created_at=parse_datetime(data.get("createdAt")),
            status_reason=data.get("statusReason"),
            tags=tuple(
                str(t["name"])
                for t in data.get("tags") or ()
                if isinstance(t, Mapping) and t.get("name")
            ),
        )


@dataclass(frozen=True, slots=True)
class StreamProperties:
    """What the source offers for a stream (``GET /streams``)."""

    stream_name: str
    namespace: str | None = None
    sync_modes: tuple[str, ...] = ()
    default_cursor_field: tuple[str, ...] = ()
    source_defined_cursor: bool = False
    source_defined_primary_key: tuple[tuple[str, ...], ...] = ()
    property_fields: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> StreamProperties:
        return cls(
            stream_name=str(data.get("streamName", "")),
            namespace=data.get("streamnamespace", data.get("streamNamespace")),
            sync_modes=_str_tuple(data.get("syncModes")),
            default_cursor_field=_str_tuple(data.get("defaultCursorField")),
            source_defined_cursor=bool(data.get("sourceDefinedCursorField", False)),
            source_defined_primary_key=tuple(
                _str_tuple(k) for k in (data.get("sourceDefinedPrimaryKey") or [])
            ),
            property_fields=tuple(_str_tuple(k) for k in (data.get("propertyFields") or [])),
        )


_A = TypeVar("_A", bound="_Actor")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Actor:
    """What a source and a destination share (Airbyte calls both "actors").

    Each also has an id and a type named after its ``_KIND``: the API's ``sourceId`` and
    ``sourceType`` are a `Source`'s ``source_id`` and ``source_type``.
    """

    _KIND: ClassVar[str]
    name: str
    workspace_id: str
    definition_id: str = ""
    configuration: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls: type[_A], data: Mapping[str, Any]) -> _A:
        kind = cls._KIND
        own = {
            f"{kind}_id": str(data[f"{kind}Id"]),
            f"{kind}_type": str(data.get(f"{kind}Type", "")),
        }
        return cls(
            name=str(data.get("name", "")),
            workspace_id=str(data.get("workspaceId", "")),
            definition_id=str(data.get("definitionId", "")),
            configuration=dict(data.get("configuration") or {}),
            **own,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Source(_Actor):
    _KIND: ClassVar[str] = "source"
    source_id: str
    source_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Destination(_Actor):
    _KIND: ClassVar[str] = "destination"
    destination_id: str
    destination_type: str


@dataclass(frozen=True, slots=True)
class Workspace:
    workspace_id: str
    name: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Workspace:
        return cls(workspace_id=str(data["workspaceId"]), name=str(data.get("name", "")))


@dataclass(frozen=True, slots=True)
class Application:
    """An Airbyte application: a client id and secret. The secret never appears in repr."""

    application_id: str
    name: str
    client_id: str
    client_secret: str = field(repr=False)
    created_at: datetime | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Application:
        return cls(
            application_id=str(data["id"]),
            name=str(data.get("name", "")),
            client_id=str(data.get("clientId", "")),
            client_secret=str(data.get("clientSecret", "")),
            created_at=parse_datetime(data.get("createdAt")),
        )


@dataclass(frozen=True, slots=True)
class ConnectorCheck:
    """Result of a connector check (config API ``check_connection``)."""

    succeeded: bool
    message: str = ""

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ConnectorCheck:
        """Parse ``CheckConnectionRead``: a failed check is a 200 with ``status: failed``."""
        job_info = data.get("jobInfo")
        info: Mapping[str, Any] = job_info if isinstance(job_info, Mapping) else {}
        status = data.get("status")
        succeeded = (
            status == "succeeded" if isinstance(status, str) else bool(info.get("succeeded"))
        )
        message = data.get("message")
        if not message:
            reason = info.get("failureReason")
            if isinstance(reason, Mapping):
                message = reason.get("externalMessage") or reason.get("internalMessage")
        return cls(succeeded=succeeded, message=str(message or ""))


@dataclass(frozen=True, slots=True)
class DiscoveredStream:
    """A stream as the source's discover reports it: its name and top-level columns."""

    name: str
    namespace: str | None = None
    columns: tuple[str, ...] = ()
    supported_sync_modes: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> DiscoveredStream:
        """Parse one ``{stream: AirbyteStream, config}`` entry of a discovered catalog."""
        inner = data.get("stream")
        stream: Mapping[str, Any] = inner if isinstance(inner, Mapping) else data
        schema = stream.get("jsonSchema", stream.get("json_schema"))
        props = schema.get("properties") if isinstance(schema, Mapping) else None
        return cls(
            name=str(stream.get("name", "")),
            namespace=stream.get("namespace"),
            columns=tuple(str(k) for k in props) if isinstance(props, Mapping) else (),
            supported_sync_modes=_str_tuple(stream.get("supportedSyncModes")),
        )
