"""Typed, frozen views of Airbyte's payloads, parsed once at the client boundary.

Parsing is tolerant on purpose: Airbyte adds enum values (``queued`` arrived in 2026)
and the SDKs that used closed enums crashed. An unknown value becomes ``UNKNOWN`` with
a warning, and the raw string is kept so nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, ClassVar, Literal, TypeVar

from luigi_airbyte.airbyte._values import _int_or_none, _str_tuple, parse_datetime, parse_duration
from luigi_airbyte.airbyte.job_stats import AttemptInfo as AttemptInfo
from luigi_airbyte.airbyte.job_stats import JobStats as JobStats
from luigi_airbyte.airbyte.job_stats import StreamStats as StreamStats

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
            if bytes_ is None and totals.attempt_bytes_reported:
                bytes_ = totals.bytes_committed
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
